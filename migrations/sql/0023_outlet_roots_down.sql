DROP TRIGGER IF EXISTS trg_outlet_roots_insert ON outlets;
DROP TRIGGER IF EXISTS trg_outlet_roots_update ON outlets;
DROP TRIGGER IF EXISTS trg_outlet_roots_delete ON outlets;
DROP TRIGGER IF EXISTS trg_outlet_roots_truncate ON outlets;
DROP FUNCTION IF EXISTS geo_crm_outlet_roots_insert();
DROP FUNCTION IF EXISTS geo_crm_outlet_roots_update();
DROP FUNCTION IF EXISTS geo_crm_outlet_roots_delete();
DROP FUNCTION IF EXISTS geo_crm_outlet_roots_truncate();
DROP FUNCTION IF EXISTS geo_crm_outlet_roots_rebuild();
DROP FUNCTION IF EXISTS geo_crm_outlet_roots_walk(bigint[]);

-- 0012's walk up the chain, one outlet at a time
CREATE OR REPLACE FUNCTION geo_crm_root_distributor(outlet bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
  cur bigint := outlet;
  cur_tier text;
  up bigint;
BEGIN
  FOR hop IN 0..8 LOOP
    SELECT tier, parent_id INTO cur_tier, up FROM outlets WHERE id = cur;
    IF NOT FOUND THEN
      RETURN NULL;
    END IF;
    IF cur_tier = 'distributor' THEN
      RETURN cur;
    END IF;
    IF up IS NULL THEN
      RETURN NULL;
    END IF;
    cur := up;
  END LOOP;
  RETURN NULL;
END $$;
