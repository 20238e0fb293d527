-- Sales rollups (0003's per buyer, 0009's per seller) in one set-based statement per write.
--
-- The functions of 0003/0009 began an UPDATE by joining new_rows to old_rows by id (to leave
-- early when no rolled-up column changed) and ended an UPDATE or DELETE by deleting the rows
-- that fell to zero with an IN (SELECT … FROM old_rows). Both were static statements, so
-- PL/pgSQL planned them once per connection and kept the plan: planned on a one-row write as a
-- nested loop, they stayed nested loops for the next bulk UPDATE, quadratic in its rows
-- (16,000 flag updates took 140 s).
--
-- Now each write runs ONE dynamic statement, planned for the transition tables at hand (their
-- row counts are known to the planner): the old rows (sign -1) and the new ones (+1) are
-- grouped per rollup key and netted, keys whose records, amount and quantity all net to zero
-- drop out, and only the keys left are written: deleted when their records fall to zero,
-- updated when they lose something, upserted when they only gain. No join by id, no second
-- statement. An UPDATE that changes none of the rolled-up columns (flags, review, payments,
-- spec, reference) nets every key to zero and writes no rollup row.
--
-- PostgreSQL refuses transition tables on a trigger with a column list (UPDATE OF …), so the
-- UPDATE trigger still fires for every UPDATE; what it costs then is one hashed grouping of
-- the changed rows, linear in them.

CREATE OR REPLACE FUNCTION geo_crm_sales_rollup_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cols constant text := 'buyer_id, sale_date, product_id, amount, quantity';
  changed text;
BEGIN
  -- a transition table exists only for the events that have it: name them per event
  changed := CASE TG_OP
    WHEN 'INSERT' THEN format('SELECT %s, 1 AS sign FROM new_rows', cols)
    WHEN 'DELETE' THEN format('SELECT %s, -1 AS sign FROM old_rows', cols)
    ELSE format('SELECT %s, 1 AS sign FROM new_rows UNION ALL SELECT %s, -1 FROM old_rows',
                cols, cols)
  END;
  -- A key with a negative part lost an old row, so its rollup row exists: delete it when its
  -- records fall to zero, else UPDATE it (an upsert would first check the negative candidate
  -- row against the CHECK constraint). Keys that only gain are upserted. The three sets of
  -- keys are disjoint, so one statement writes them all.
  EXECUTE format($sql$
    WITH delta AS MATERIALIZED (
      SELECT buyer_id, sale_date - (extract(day FROM sale_date)::int - 1) AS month, product_id,
             sum(sign)::int8 AS records,
             sum(sign * (amount * 100)::int8)::int8 AS amount_fen,
             sum(sign * (quantity * 1000)::int8)::int8 AS quantity_milli
        FROM (%s) changed
       GROUP BY 1, 2, 3
      HAVING sum(sign) <> 0 OR sum(sign * amount) <> 0 OR sum(sign * quantity) <> 0
    ), years AS MATERIALIZED (
      SELECT buyer_id, extract(year FROM month)::int4 AS year, sum(records)::int8 AS records,
             sum(amount_fen)::int8 AS amount_fen, sum(quantity_milli)::int8 AS quantity_milli
        FROM delta GROUP BY 1, 2
      HAVING sum(records) <> 0 OR sum(amount_fen) <> 0 OR sum(quantity_milli) <> 0
    ), month_gone AS (
      DELETE FROM sales_buyer_months t
       USING delta d
       WHERE d.records < 0 AND t.records + d.records = 0
         AND t.buyer_id = d.buyer_id AND t.month = d.month AND t.product_id = d.product_id
    ), month_less AS (
      UPDATE sales_buyer_months t
         SET records = t.records + d.records, amount_fen = t.amount_fen + d.amount_fen,
             quantity_milli = t.quantity_milli + d.quantity_milli
        FROM delta d
       WHERE (d.records < 0 OR d.amount_fen < 0 OR d.quantity_milli < 0)
         AND t.records + d.records <> 0
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
    ), year_gone AS (
      DELETE FROM sales_buyer_years t
       USING years d
       WHERE d.records < 0 AND t.records + d.records = 0
         AND t.buyer_id = d.buyer_id AND t.year = d.year
    ), year_less AS (
      UPDATE sales_buyer_years t
         SET records = t.records + d.records, amount_fen = t.amount_fen + d.amount_fen,
             quantity_milli = t.quantity_milli + d.quantity_milli
        FROM years d
       WHERE (d.records < 0 OR d.amount_fen < 0 OR d.quantity_milli < 0)
         AND t.records + d.records <> 0
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
  RETURN NULL;
END $$;

-- The seller rollup (sell-out), the same way; records without a seller (sell-in) are the buyer
-- rollup's alone.
CREATE OR REPLACE FUNCTION geo_crm_sales_seller_rollup_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  cols constant text := 'seller_id, sale_date, product_id, amount, quantity';
  changed text;
BEGIN
  changed := CASE TG_OP
    WHEN 'INSERT' THEN format('SELECT %s, 1 AS sign FROM new_rows WHERE seller_id IS NOT NULL', cols)
    WHEN 'DELETE' THEN format('SELECT %s, -1 AS sign FROM old_rows WHERE seller_id IS NOT NULL', cols)
    ELSE format('SELECT %s, 1 AS sign FROM new_rows WHERE seller_id IS NOT NULL'
                ' UNION ALL SELECT %s, -1 FROM old_rows WHERE seller_id IS NOT NULL', cols, cols)
  END;
  EXECUTE format($sql$
    WITH delta AS MATERIALIZED (
      SELECT seller_id, sale_date - (extract(day FROM sale_date)::int - 1) AS month, product_id,
             sum(sign)::int8 AS records,
             sum(sign * (amount * 100)::int8)::int8 AS amount_fen,
             sum(sign * (quantity * 1000)::int8)::int8 AS quantity_milli
        FROM (%s) changed
       GROUP BY 1, 2, 3
      HAVING sum(sign) <> 0 OR sum(sign * amount) <> 0 OR sum(sign * quantity) <> 0
    ), gone AS (
      DELETE FROM sales_seller_months t
       USING delta d
       WHERE d.records < 0 AND t.records + d.records = 0
         AND t.seller_id = d.seller_id AND t.month = d.month AND t.product_id = d.product_id
    ), less AS (
      UPDATE sales_seller_months t
         SET records = t.records + d.records, amount_fen = t.amount_fen + d.amount_fen,
             quantity_milli = t.quantity_milli + d.quantity_milli
        FROM delta d
       WHERE (d.records < 0 OR d.amount_fen < 0 OR d.quantity_milli < 0)
         AND t.records + d.records <> 0
         AND t.seller_id = d.seller_id AND t.month = d.month AND t.product_id = d.product_id
    )
    INSERT INTO sales_seller_months AS t
           (seller_id, month, product_id, records, amount_fen, quantity_milli)
    SELECT * FROM delta
     WHERE records >= 0 AND amount_fen >= 0 AND quantity_milli >= 0
     ORDER BY seller_id, month, product_id
        ON CONFLICT (seller_id, month, product_id) DO UPDATE
       SET records = t.records + excluded.records,
           amount_fen = t.amount_fen + excluded.amount_fen,
           quantity_milli = t.quantity_milli + excluded.quantity_milli
  $sql$, changed);
  RETURN NULL;
END $$;
