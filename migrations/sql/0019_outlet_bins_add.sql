-- geo_crm_outlet_bins_add of 0018, with the region totals skipped when no (region, tier) nets
-- a change: a geotag that stays in its region (the common case) wrote nothing there either, but
-- paid for a recursive statement with an UPDATE and an upsert over nothing (about 0.02 ms of
-- PostgreSQL CPU per tag, measured with bench_geotag.py --triggers). The downgrade runs
-- 0018_outlet_bins_add.sql again.
CREATE OR REPLACE FUNCTION geo_crm_outlet_bins_add(a_loc geometry[], a_reg integer[],
                                        a_tier text[], a_sign integer[]) RETURNS void LANGUAGE plpgsql
SET work_mem = '64MB' SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  d_z smallint[]; d_i integer[]; d_j integer[]; d_r integer[]; d_t text[]; d_n integer[];
BEGIN
  SELECT array_agg(z), array_agg(i), array_agg(j), array_agg(region_id), array_agg(tier),
         array_agg(outlets)
    INTO d_z, d_i, d_j, d_r, d_t, d_n
    FROM (SELECT c.z, c.i, c.j, p.r AS region_id, p.t AS tier, sum(p.s)::integer AS outlets
            FROM (SELECT ST_X(m) AS x, ST_Y(m) AS y, r, t, s
                    FROM (SELECT ST_Transform(u.l, 3857) AS m, coalesce(u.r, 0) AS r, u.t, u.s
                            FROM unnest(a_loc, a_reg, a_tier, a_sign) AS u(l, r, t, s)) q
                  OFFSET 0) p
           CROSS JOIN LATERAL geo_crm_hex_cells(p.x, p.y) c
           GROUP BY 1, 2, 3, 4, 5
          HAVING sum(p.s) <> 0) delta;
  IF d_z IS NOT NULL THEN
    WITH delta AS (
      SELECT * FROM unnest(d_z, d_i, d_j, d_r, d_t, d_n) AS u(z, i, j, region_id, tier, outlets)
    ), fewer AS (
      UPDATE outlet_hex_bins b SET outlets = b.outlets + d.outlets
        FROM delta d
       WHERE d.outlets < 0 AND b.z = d.z AND b.i = d.i AND b.j = d.j
         AND b.region_id = d.region_id AND b.tier = d.tier
    )
    INSERT INTO outlet_hex_bins AS b (z, i, j, region_id, tier, outlets)
    SELECT * FROM delta WHERE outlets > 0 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (z, i, j, region_id, tier) DO UPDATE SET outlets = b.outlets + excluded.outlets;
    IF EXISTS (SELECT FROM unnest(d_n) n WHERE n < 0) THEN
      DELETE FROM outlet_hex_bins b
       USING unnest(d_z, d_i, d_j, d_r, d_t, d_n) AS k(z, i, j, r, t, n)
       WHERE k.n < 0 AND b.outlets <= 0 AND b.z = k.z AND b.i = k.i AND b.j = k.j
         AND b.region_id = k.r AND b.tier = k.t;
    END IF;
  END IF;
  -- the region totals: nothing to do when no (region, tier) gains or loses an outlet (a
  -- geotag inside its region); the statement below would plan and open its tables for nothing
  IF NOT EXISTS (SELECT FROM unnest(a_reg, a_tier, a_sign) AS u(r, t, s)
                  WHERE u.r IS NOT NULL GROUP BY u.r, u.t HAVING sum(u.s) <> 0) THEN
    RETURN;
  END IF;
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
END $$;
