-- Outlet counts per hexagon, per zoom 0–9 of the Web Mercator tile pyramid, region and tier:
-- what the outlets vector tiles draw below zoom 10 (geo_crm/domain/tiles.py). A tile at zoom 4
-- can cover a million outlets; summing a few thousand of these rows is what makes it cheap.
--
-- The hexagons are PostGIS's own (ST_Hexagon / ST_HexagonGrid, origin 0,0 in EPSG:3857): at
-- zoom z their side is the tile width / 16 (2π·6378137 / 2^z / 16 metres), so a 256-pixel tile
-- shows about ten columns of 32-pixel hexagons. Hexagon (i, j) has its centre at
-- (1.5·s·i, √3·s·j), odd columns shifted up by √3·s/2; a point belongs to the nearest centre
-- (a hexagonal tiling is the Voronoi diagram of its centres), which lies in one of the two
-- columns around x / (1.5·s).
--
-- Only active outlets with a location count. region_id 0: outside every region (admins see
-- those; nobody else does). region_outlet_totals holds the same outlets per region and tier
-- counted with every region below it (what the regions tiles show, without walking the tree
-- per tile); a change of the region tree (a region added, removed or moved) recomputes it. Derived data, written only by these triggers in the transaction
-- that changes outlets, like the sales rollups of 0003: statement-level triggers with
-- transition tables, one grouped write per statement. Anyone writing outlets with triggers
-- disabled (session_replication_role = replica) must call geo_crm_outlet_bins_rebuild()
-- before committing.

-- the row of the hexagon of column i nearest to height y
CREATE FUNCTION geo_crm_hex_row(y float8, s float8, i integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT round((y - (i & 1)::float8 * 0.8660254037844386 * s) / (1.7320508075688772 * s))::integer
$$;

-- squared distance from (x, y) to the nearest hexagon centre in column i
CREATE FUNCTION geo_crm_hex_d2(x float8, y float8, s float8, i integer) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (x - 1.5 * s * i) ^ 2
       + (y - 1.7320508075688772 * s * geo_crm_hex_row(y, s, i)
            - (i & 1)::float8 * 0.8660254037844386 * s) ^ 2
$$;

-- the column of the hexagon of side s holding (x, y)
CREATE FUNCTION geo_crm_hex_col(x float8, y float8, s float8) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN geo_crm_hex_d2(x, y, s, floor(x / (1.5 * s))::integer)
                <= geo_crm_hex_d2(x, y, s, floor(x / (1.5 * s))::integer + 1)
              THEN floor(x / (1.5 * s))::integer ELSE floor(x / (1.5 * s))::integer + 1 END
$$;

-- (z, i, j) of the hexagons holding the Web Mercator point (x, y) at zooms 0–9; the side at
-- zoom z is 2π·6378137 / 2^z / 16 = 2504688.5428486555 / 2^z metres. (Fences: the column is
-- computed once, not again inside the row's expression.)
CREATE FUNCTION geo_crm_hex_cells(x float8, y float8)
RETURNS TABLE (z smallint, i integer, j integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT zs.z::smallint, c.i, geo_crm_hex_row(y, zs.s, c.i)
    FROM (VALUES
                 (0, 2504688.5428486555::float8 / 1),
                 (1, 2504688.5428486555::float8 / 2),
                 (2, 2504688.5428486555::float8 / 4),
                 (3, 2504688.5428486555::float8 / 8),
                 (4, 2504688.5428486555::float8 / 16),
                 (5, 2504688.5428486555::float8 / 32),
                 (6, 2504688.5428486555::float8 / 64),
                 (7, 2504688.5428486555::float8 / 128),
                 (8, 2504688.5428486555::float8 / 256),
                 (9, 2504688.5428486555::float8 / 512)) AS zs(z, s)
   CROSS JOIN LATERAL (SELECT geo_crm_hex_col(x, y, zs.s) AS i OFFSET 0) c
$$;

-- Add the outlets (a_loc[k], a_reg[k], a_tier[k]) counted a_sign[k] times (+1 or -1) to the
-- bins and the totals. Static SQL over the arrays, planned once per session (generic plans:
-- custom ones, made again for every geotag that moves an outlet, cost 1.5 ms in planning the
-- inlined hexagon arithmetic for 0.25 ms of work).
-- Keys that lose outlets exist: UPDATE them; keys that gain are upserted (a concurrent
-- statement may insert the same new key: ON CONFLICT adds to it). Bins that fall to zero are
-- deleted (found by primary key); totals keep their zero rows (at most four per region).
-- OFFSET 0 keeps x and y computed once per outlet (flattened into the hexagon functions,
-- ST_Transform would run once per use, and those functions would not be inlined).
CREATE FUNCTION geo_crm_outlet_bins_add(a_loc geometry[], a_reg integer[],
                                        a_tier text[], a_sign integer[]) RETURNS void LANGUAGE plpgsql
SET work_mem = '64MB' SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  WITH p AS (
    SELECT ST_X(m) AS x, ST_Y(m) AS y, r, t, s
      FROM (SELECT ST_Transform(u.l, 3857) AS m, coalesce(u.r, 0) AS r, u.t, u.s
              FROM unnest(a_loc, a_reg, a_tier, a_sign) AS u(l, r, t, s)) q
    OFFSET 0
  ), delta AS (
    SELECT c.z, c.i, c.j, p.r AS region_id, p.t AS tier, sum(p.s)::integer AS outlets
      FROM p CROSS JOIN LATERAL geo_crm_hex_cells(p.x, p.y) c
     GROUP BY 1, 2, 3, 4, 5
    HAVING sum(p.s) <> 0
  ), fewer AS (
    UPDATE outlet_hex_bins b SET outlets = b.outlets + d.outlets
      FROM delta d
     WHERE d.outlets < 0 AND b.z = d.z AND b.i = d.i AND b.j = d.j
       AND b.region_id = d.region_id AND b.tier = d.tier
  )
  INSERT INTO outlet_hex_bins AS b (z, i, j, region_id, tier, outlets)
  SELECT * FROM delta WHERE outlets > 0 ORDER BY 1, 2, 3, 4, 5
      ON CONFLICT (z, i, j, region_id, tier) DO UPDATE SET outlets = b.outlets + excluded.outlets;

  WITH RECURSIVE d AS (
    SELECT u.r AS region_id, u.t AS tier, sum(u.s)::integer AS outlets
      FROM unnest(a_reg, a_tier, a_sign) AS u(r, t, s)
     WHERE u.r IS NOT NULL GROUP BY 1, 2 HAVING sum(u.s) <> 0
  ), up(start, id) AS (
    SELECT DISTINCT region_id, region_id FROM d
    UNION
    SELECT up.start, p.parent_id FROM up CROSS JOIN LATERAL (
           SELECT r.parent_id FROM regions r WHERE r.id = up.id OFFSET 0) p
     WHERE p.parent_id IS NOT NULL
  ), delta AS (
    SELECT up.id AS region_id, d.tier, sum(d.outlets)::integer AS outlets
      FROM d JOIN up ON up.start = d.region_id GROUP BY 1, 2 HAVING sum(d.outlets) <> 0
  ), fewer AS (
    UPDATE region_outlet_totals t SET outlets = t.outlets + d.outlets
      FROM delta d
     WHERE d.outlets < 0 AND t.region_id = d.region_id AND t.tier = d.tier
  )
  INSERT INTO region_outlet_totals AS t (region_id, tier, outlets)
  SELECT * FROM delta WHERE outlets > 0 ORDER BY 1, 2
      ON CONFLICT (region_id, tier) DO UPDATE SET outlets = t.outlets + excluded.outlets;

  IF -1 = ANY (a_sign) THEN
    DELETE FROM outlet_hex_bins b
     USING (SELECT DISTINCT c.z, c.i, c.j, p.r, p.t
              FROM (SELECT ST_X(m) AS x, ST_Y(m) AS y, r, t
                      FROM (SELECT ST_Transform(u.l, 3857) AS m, coalesce(u.r, 0) AS r, u.t
                              FROM unnest(a_loc, a_reg, a_tier, a_sign) AS u(l, r, t, s)
                             WHERE u.s < 0) q
                    OFFSET 0) p
             CROSS JOIN LATERAL geo_crm_hex_cells(p.x, p.y) c) k
     WHERE b.outlets <= 0 AND b.z = k.z AND b.i = k.i AND b.j = k.j
       AND b.region_id = k.r AND b.tier = k.t;
  END IF;
END $$;

-- The statement's outlets that count (active, located) as arrays, +1 for the new rows and -1
-- for the old; an UPDATE passes only the rows whose location, region, tier or status changed
-- (names, versions, parents, reps: nothing to do, and nothing is done).
CREATE FUNCTION geo_crm_outlet_bins_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_loc geometry[];
  v_reg integer[];
  v_tier text[];
  v_sign integer[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(n.location), array_agg(n.region_id), array_agg(n.tier::text),
           array_agg(1)
      INTO v_loc, v_reg, v_tier, v_sign
      FROM new_rows n WHERE n.status = 'active' AND n.location IS NOT NULL;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(o.location), array_agg(o.region_id), array_agg(o.tier::text),
           array_agg(-1)
      INTO v_loc, v_reg, v_tier, v_sign
      FROM old_rows o WHERE o.status = 'active' AND o.location IS NOT NULL;
  ELSE  -- nested in its branch: planned only where both transition tables exist
    SELECT array_agg(c.location), array_agg(c.region_id), array_agg(c.tier::text),
           array_agg(c.sign)
      INTO v_loc, v_reg, v_tier, v_sign
      FROM (SELECT n.location, n.region_id, n.tier, 1 AS sign, n.status
              FROM new_rows n LEFT JOIN old_rows o ON o.id = n.id
             WHERE o.id IS NULL
                OR (n.location, n.region_id, n.tier, n.status)
                   IS DISTINCT FROM (o.location, o.region_id, o.tier, o.status)
            UNION ALL
            SELECT o.location, o.region_id, o.tier, -1, o.status
              FROM old_rows o LEFT JOIN new_rows n ON n.id = o.id
             WHERE n.id IS NULL
                OR (n.location, n.region_id, n.tier, n.status)
                   IS DISTINCT FROM (o.location, o.region_id, o.tier, o.status)) c
     WHERE c.status = 'active' AND c.location IS NOT NULL;
  END IF;
  IF v_loc IS NOT NULL THEN
    PERFORM geo_crm_outlet_bins_add(v_loc, v_reg, v_tier, v_sign);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION geo_crm_outlet_bins_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE outlet_hex_bins, region_outlet_totals;
  RETURN NULL;
END $$;

-- The totals per region from the zoom-0 bins (one row per region and tier there) and the
-- region tree: after a change of the tree, and by the rebuild below.
CREATE FUNCTION geo_crm_region_totals_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE region_outlet_totals;
  INSERT INTO region_outlet_totals (region_id, tier, outlets)
  WITH RECURSIVE up(start, id) AS (
    SELECT id, id FROM regions
    UNION
    SELECT up.start, r.parent_id FROM up JOIN regions r ON r.id = up.id
     WHERE r.parent_id IS NOT NULL
  )
  SELECT up.id, b.tier, sum(b.outlets)
    FROM (SELECT region_id, tier, sum(outlets) AS outlets FROM outlet_hex_bins
           WHERE z = 0 AND region_id <> 0 GROUP BY 1, 2) b
    JOIN up ON up.start = b.region_id
   GROUP BY 1, 2 ORDER BY 1, 2;
END $$;

CREATE FUNCTION geo_crm_region_totals_tree() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM geo_crm_region_totals_rebuild();
  RETURN NULL;
END $$;

-- Recompute the bins from outlets (the migration's backfill, and the repair after a load
-- with triggers disabled).
CREATE FUNCTION geo_crm_outlet_bins_rebuild() RETURNS void LANGUAGE plpgsql
SET work_mem = '256MB' AS $$
BEGIN
  TRUNCATE outlet_hex_bins;
  INSERT INTO outlet_hex_bins (z, i, j, region_id, tier, outlets)
  SELECT c.z, c.i, c.j, p.region_id, p.tier, count(*)
    FROM (SELECT ST_X(m) AS x, ST_Y(m) AS y, region_id, tier
            FROM (SELECT ST_Transform(location, 3857) AS m, coalesce(region_id, 0) AS region_id,
                         tier
                    FROM outlets WHERE status = 'active' AND location IS NOT NULL) t OFFSET 0) p
   CROSS JOIN LATERAL geo_crm_hex_cells(p.x, p.y) c
   GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5;
  PERFORM geo_crm_region_totals_rebuild();
  ANALYZE outlet_hex_bins;
  ANALYZE region_outlet_totals;
END $$;

CREATE TRIGGER outlet_bins_insert AFTER INSERT ON outlets
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_outlet_bins_apply();
CREATE TRIGGER outlet_bins_update AFTER UPDATE ON outlets
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_outlet_bins_apply();
CREATE TRIGGER outlet_bins_delete AFTER DELETE ON outlets
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_outlet_bins_apply();
CREATE TRIGGER outlet_bins_truncate AFTER TRUNCATE ON outlets
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_outlet_bins_truncate();
-- after the row triggers and the foreign-key actions of the statement (outlets losing a deleted
-- region): the last word on the totals
CREATE TRIGGER region_totals_tree AFTER INSERT OR DELETE OR UPDATE OF parent_id ON regions
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_region_totals_tree();

SELECT geo_crm_outlet_bins_rebuild();
