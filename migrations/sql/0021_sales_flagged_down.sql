-- Migration 0021 down: the side table's triggers and functions go (the table and the two
-- partial indexes are handled by the migration).
DROP TRIGGER IF EXISTS sales_flagged_truncate ON sales_records;
DROP TRIGGER IF EXISTS sales_flagged_delete ON sales_records;
DROP TRIGGER IF EXISTS sales_flagged_update ON sales_records;
DROP TRIGGER IF EXISTS sales_flagged_insert ON sales_records;
DROP FUNCTION IF EXISTS geo_crm_sales_flagged_rebuild();
DROP FUNCTION IF EXISTS geo_crm_sales_flagged_truncate();
DROP FUNCTION IF EXISTS geo_crm_sales_flagged_apply();
