DROP TRIGGER IF EXISTS trg_sales_records_territory ON sales_records;
DROP FUNCTION IF EXISTS geo_crm_sales_territory_check();
DROP FUNCTION IF EXISTS geo_crm_root_distributor(bigint);
DROP TRIGGER IF EXISTS trg_distributor_territories_distributor ON distributor_territories;
DROP TRIGGER IF EXISTS trg_outlet_changes_append_only ON outlet_changes;
DROP TRIGGER IF EXISTS trg_outlets_changes ON outlets;
DROP FUNCTION IF EXISTS geo_crm_outlet_changes();
