DROP TRIGGER IF EXISTS trg_outlet_roots_insert ON outlets;
DROP TRIGGER IF EXISTS trg_outlet_roots_delete ON outlets;
DROP TRIGGER IF EXISTS trg_outlet_roots_truncate ON outlets;
DROP FUNCTION IF EXISTS geo_crm_outlet_roots_insert();
DROP FUNCTION IF EXISTS geo_crm_outlet_roots_delete();
DROP FUNCTION IF EXISTS geo_crm_outlet_roots_truncate();
DROP FUNCTION IF EXISTS geo_crm_outlet_roots_rebuild();
DROP FUNCTION IF EXISTS geo_crm_outlet_roots_move(bigint[]);
DROP FUNCTION IF EXISTS geo_crm_outlet_roots_walk(bigint[]);

-- 0012's change history trigger function, without the roots
CREATE OR REPLACE FUNCTION geo_crm_outlet_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  who integer := nullif(current_setting('geo_crm.user_id', true), '')::integer;
BEGIN
  INSERT INTO outlet_changes (outlet_id, field, old_value, new_value, user_id)
  SELECT n.id, c.field, c.old_value, c.new_value, who
    FROM new_rows n
    JOIN old_rows o ON o.id = n.id
   CROSS JOIN LATERAL (VALUES ('supplier', o.parent_id::text, n.parent_id::text),
                              ('status', o.status::text, n.status::text),
                              ('tier', o.tier::text, n.tier::text))
         AS c (field, old_value, new_value)
   WHERE c.old_value IS DISTINCT FROM c.new_value
   ORDER BY n.id, c.field;
  RETURN NULL;
END $$;

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
