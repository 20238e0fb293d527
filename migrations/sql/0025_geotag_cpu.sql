-- A geotag moves an outlet a few metres; the hexagons that hold it at zooms 0–9 (the outlet
-- tiles' bins, 0007) almost never change. The hexagon-bin trigger nevertheless called
-- geo_crm_outlet_bins_add for it: a generic plan run through the hexagons of both points at
-- ten zooms, a sort and a grouping, to find a delta of nothing — the dearest part of a tag
-- inside PostgreSQL (bench/README.md, "Geotagging endpoint", 2026-12-07, w8-pgtag2).
--
-- geo_crm_hex_same(a, b): whether two WGS 84 points lie in the same hexagon at every zoom 0–9,
-- by the same column and row functions and the same sides as geo_crm_hex_cells (NULL: only
-- NULL is the same as NULL). PL/pgSQL on plain numbers, one zoom after the other, stopping
-- at the first difference: measured cheaper than the grouped query (2026-12-07) and than the
-- same test written as a subquery of the trigger's own statement. tests/test_geotag_cpu.py
-- compares it with geo_crm_hex_cells on pairs of points around hexagon edges.
CREATE FUNCTION geo_crm_hex_same(a geometry, b geometry) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  p geometry := ST_Transform(a, 3857);
  q geometry := ST_Transform(b, 3857);
  px float8 := ST_X(p);
  py float8 := ST_Y(p);
  qx float8 := ST_X(q);
  qy float8 := ST_Y(q);
  s float8;
  pc integer;
  qc integer;
BEGIN
  IF a IS NULL OR b IS NULL THEN
    RETURN a IS NULL AND b IS NULL;
  END IF;
  FOR z IN 0..9 LOOP
    s := 2504688.5428486555::float8 / (1 << z);
    pc := geo_crm_hex_col(px, py, s);
    qc := geo_crm_hex_col(qx, qy, s);
    IF pc <> qc OR geo_crm_hex_row(py, s, pc) <> geo_crm_hex_row(qy, s, qc) THEN
      RETURN false;
    END IF;
  END LOOP;
  RETURN true;
END $$;

-- 0007's function, but an updated row whose region, tier and status are unchanged and whose
-- location stays in the same hexagon at every zoom is left out: its -1 and +1 would land on
-- the same (zoom, hexagon, region, tier) and the same region totals, which bins_add sums to
-- nothing. When no row is left (a geotag), bins_add is not called at all. Only for statements
-- of up to 64 rows: the test costs tens of microseconds per row, which a bulk move would pay
-- for every outlet where bins_add's grouped query costs a few per row; past 64 rows every
-- moved row goes to bins_add as before (the same result either way).
CREATE OR REPLACE FUNCTION geo_crm_outlet_bins_apply() RETURNS trigger LANGUAGE plpgsql AS $$
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
      FROM new_rows n FULL JOIN old_rows o ON o.id = n.id
     CROSS JOIN LATERAL (VALUES (n.location, n.region_id, n.tier, n.status, 1),
                                (o.location, o.region_id, o.tier, o.status, -1))
           AS c (location, region_id, tier, status, sign)
     WHERE (n.id IS NULL OR o.id IS NULL
            OR (n.region_id, n.tier, n.status) IS DISTINCT FROM (o.region_id, o.tier, o.status)
            OR (n.location IS DISTINCT FROM o.location
                AND ((SELECT count(*) FROM new_rows) > 64
                     OR NOT geo_crm_hex_same(n.location, o.location))))
       AND c.status = 'active' AND c.location IS NOT NULL;
  END IF;
  IF v_loc IS NOT NULL THEN
    PERFORM geo_crm_outlet_bins_add(v_loc, v_reg, v_tier, v_sign);
  END IF;
  RETURN NULL;
END $$;
