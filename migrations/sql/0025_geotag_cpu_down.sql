-- 0007's hexagon-bin trigger function again, without the same-hexagons test.
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

DROP FUNCTION geo_crm_hex_same(geometry, geometry);
