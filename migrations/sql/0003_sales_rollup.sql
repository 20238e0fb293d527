-- Sales rollups: per buyer the number of records, amount (fen) and quantity (thousandths) of
-- its sales records per month and product (sales_buyer_months) and per year over every product
-- (sales_buyer_years). Derived data: only these triggers write them, in the same transaction as
-- the change to sales_records, so a reader never sees them disagree with the records.
--
-- Statement-level triggers with transition tables: a bulk COPY or INSERT … SELECT pays one
-- grouped upsert per statement, not one per row. An UPDATE subtracts the old rows and adds the
-- new ones; one that changes none of buyer, date, product, amount, quantity (a payment's
-- amount_paid, spec, reference, seller) returns at once. Rows that fall to zero records are
-- deleted. Months are computed without timestamps (no time zone can move a date). Anyone
-- writing sales_records with triggers disabled (session_replication_role = replica) must call
-- geo_crm_sales_rollup_rebuild() before committing.

CREATE FUNCTION geo_crm_sales_rollup_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cols constant text := 'buyer_id, sale_date, product_id, amount, quantity';
  changed text;
BEGIN
  -- payments, spec, reference, seller: nothing the rollups hold changed, leave before paying
  -- for the dynamic statement below (a row whose id changed counts as changed)
  IF TG_OP = 'UPDATE' THEN  -- nested: the query is planned only where old_rows exists
    IF NOT EXISTS (
        SELECT 1 FROM new_rows n LEFT JOIN old_rows o ON o.id = n.id
         WHERE o.id IS NULL
            OR (n.buyer_id, n.sale_date, n.product_id, n.amount, n.quantity)
               IS DISTINCT FROM (o.buyer_id, o.sale_date, o.product_id, o.amount, o.quantity)
    ) THEN
      RETURN NULL;
    END IF;
  END IF;
  -- a transition table exists only for the events that have it: name them per event
  changed := CASE TG_OP
    WHEN 'INSERT' THEN format('SELECT %s, 1 AS sign FROM new_rows', cols)
    WHEN 'DELETE' THEN format('SELECT %s, -1 AS sign FROM old_rows', cols)
    ELSE format('SELECT %s, 1 AS sign FROM new_rows UNION ALL SELECT %s, -1 FROM old_rows',
                cols, cols)
  END;
  -- A key with a negative part lost an old row, so its rollup row exists: UPDATE it (an
  -- upsert would first check the negative candidate row against the CHECK constraint). Keys
  -- that only gain are upserted. Netted to zero on every part: nothing to write.
  EXECUTE format($sql$
    WITH delta AS (
      SELECT buyer_id, sale_date - (extract(day FROM sale_date)::int - 1) AS month, product_id,
             sum(sign)::int8 AS records,
             sum(sign * (amount * 100)::int8)::int8 AS amount_fen,
             sum(sign * (quantity * 1000)::int8)::int8 AS quantity_milli
        FROM (%s) changed
       GROUP BY 1, 2, 3
      HAVING sum(sign) <> 0 OR sum(sign * amount) <> 0 OR sum(sign * quantity) <> 0
    ), years AS (
      SELECT buyer_id, extract(year FROM month)::int4 AS year, sum(records)::int8 AS records,
             sum(amount_fen)::int8 AS amount_fen, sum(quantity_milli)::int8 AS quantity_milli
        FROM delta GROUP BY 1, 2
      HAVING sum(records) <> 0 OR sum(amount_fen) <> 0 OR sum(quantity_milli) <> 0
    ), month_less AS (
      UPDATE sales_buyer_months t
         SET records = t.records + d.records, amount_fen = t.amount_fen + d.amount_fen,
             quantity_milli = t.quantity_milli + d.quantity_milli
        FROM delta d
       WHERE (d.records < 0 OR d.amount_fen < 0 OR d.quantity_milli < 0)
         AND t.buyer_id = d.buyer_id AND t.month = d.month AND t.product_id = d.product_id
    ), month_more AS (
      INSERT INTO sales_buyer_months AS t
             (buyer_id, month, product_id, records, amount_fen, quantity_milli)
      SELECT * FROM delta
       WHERE records >= 0 AND amount_fen >= 0 AND quantity_milli >= 0
       ORDER BY month, product_id, buyer_id
          ON CONFLICT (month, product_id, buyer_id) DO UPDATE
         SET records = t.records + excluded.records,
             amount_fen = t.amount_fen + excluded.amount_fen,
             quantity_milli = t.quantity_milli + excluded.quantity_milli
    ), year_less AS (
      UPDATE sales_buyer_years t
         SET records = t.records + d.records, amount_fen = t.amount_fen + d.amount_fen,
             quantity_milli = t.quantity_milli + d.quantity_milli
        FROM years d
       WHERE (d.records < 0 OR d.amount_fen < 0 OR d.quantity_milli < 0)
         AND t.buyer_id = d.buyer_id AND t.year = d.year
    )
    INSERT INTO sales_buyer_years AS t (buyer_id, year, records, amount_fen, quantity_milli)
    SELECT * FROM years
     WHERE records >= 0 AND amount_fen >= 0 AND quantity_milli >= 0
     ORDER BY year, buyer_id
        ON CONFLICT (year, buyer_id) DO UPDATE
       SET records = t.records + excluded.records,
           amount_fen = t.amount_fen + excluded.amount_fen,
           quantity_milli = t.quantity_milli + excluded.quantity_milli
  $sql$, changed);
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    -- only keys that lost records can hold a row that fell to zero (found by primary key)
    DELETE FROM sales_buyer_months
     WHERE records = 0
       AND (month, product_id, buyer_id) IN (
           SELECT sale_date - (extract(day FROM sale_date)::int - 1), product_id, buyer_id
             FROM old_rows);
    DELETE FROM sales_buyer_years
     WHERE records = 0
       AND (year, buyer_id) IN (SELECT extract(year FROM sale_date)::int4, buyer_id FROM old_rows);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION geo_crm_sales_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE sales_buyer_months, sales_buyer_years;
  RETURN NULL;
END $$;

-- Recompute both rollups from sales_records (the migration's backfill, and the repair after a
-- load with triggers disabled).
CREATE FUNCTION geo_crm_sales_rollup_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE sales_buyer_months, sales_buyer_years;
  INSERT INTO sales_buyer_months (buyer_id, month, product_id, records, amount_fen, quantity_milli)
  SELECT buyer_id, sale_date - (extract(day FROM sale_date)::int - 1), product_id, count(*),
         sum((amount * 100)::int8), sum((quantity * 1000)::int8)
    FROM sales_records GROUP BY 1, 2, 3 ORDER BY 2, 3, 1;
  INSERT INTO sales_buyer_years (buyer_id, year, records, amount_fen, quantity_milli)
  SELECT buyer_id, extract(year FROM month)::int4, sum(records), sum(amount_fen),
         sum(quantity_milli)
    FROM sales_buyer_months GROUP BY 1, 2 ORDER BY 2, 1;
  ANALYZE sales_buyer_months;
  ANALYZE sales_buyer_years;
END $$;

CREATE TRIGGER sales_rollup_insert AFTER INSERT ON sales_records
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_sales_rollup_apply();
CREATE TRIGGER sales_rollup_update AFTER UPDATE ON sales_records
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_sales_rollup_apply();
CREATE TRIGGER sales_rollup_delete AFTER DELETE ON sales_records
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_sales_rollup_apply();
CREATE TRIGGER sales_rollup_truncate AFTER TRUNCATE ON sales_records
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_sales_rollup_truncate();

SELECT geo_crm_sales_rollup_rebuild();
