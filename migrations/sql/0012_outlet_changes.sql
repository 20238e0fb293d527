-- Outlet change history (客户变动): one row per changed field (supplier = parent_id, status,
-- tier) of every updated outlet, with who (SET LOCAL geo_crm.user_id) and when. One
-- statement-level trigger over the transition tables, so a bulk update costs one INSERT.
CREATE FUNCTION geo_crm_outlet_changes() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER trg_outlets_changes AFTER UPDATE ON outlets
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_outlet_changes();

CREATE TRIGGER trg_outlet_changes_append_only BEFORE UPDATE OR DELETE ON outlet_changes
  FOR EACH ROW EXECUTE FUNCTION geo_crm_append_only();
