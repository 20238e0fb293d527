DROP TRIGGER IF EXISTS sales_rollup_truncate ON sales_records;
DROP TRIGGER IF EXISTS sales_rollup_delete ON sales_records;
DROP TRIGGER IF EXISTS sales_rollup_update ON sales_records;
DROP TRIGGER IF EXISTS sales_rollup_insert ON sales_records;
DROP FUNCTION IF EXISTS geo_crm_sales_rollup_rebuild();
DROP FUNCTION IF EXISTS geo_crm_sales_rollup_truncate();
DROP FUNCTION IF EXISTS geo_crm_sales_rollup_apply();
