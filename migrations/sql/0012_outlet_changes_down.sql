DROP TRIGGER IF EXISTS trg_outlet_changes_append_only ON outlet_changes;
DROP TRIGGER IF EXISTS trg_outlets_changes ON outlets;
DROP FUNCTION IF EXISTS geo_crm_outlet_changes();
