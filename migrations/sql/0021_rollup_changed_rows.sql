-- The buyer (0003) and seller (0009) rollups of an UPDATE net only the records whose rolled-up
-- columns changed (migration 0021).
--
-- 0014's functions grouped every old and new row of an UPDATE per rollup key to net them: an
-- UPDATE of flags, review, payments or references (most UPDATEs of sales_records) grouped all
-- its rows twice to find that nothing changed. PostgreSQL refuses a column list (UPDATE OF)
-- on a trigger with transition tables, so the trigger still fires; now the UPDATE's old and
-- new rows are first joined by id (a hashed full join: an id that appears on one side only,
-- an UPDATE of the id, counts as a removal and an arrival) and only the records whose buyer or
-- seller, date, product, amount or quantity differ are grouped. The rest of each function is
-- 0014's. INSERT and DELETE are as before. No switch: every UPDATE takes the same path.

CREATE OR REPLACE FUNCTION geo_crm_sales_rollup_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cols constant text := 'buyer_id, sale_date, product_id, amount, quantity';
  changed text;
BEGIN
  -- a transition table exists only for the events that have it: name them per event
  changed := CASE TG_OP
    WHEN 'INSERT' THEN format('SELECT %s, 1 AS sign FROM new_rows', cols)
    WHEN 'DELETE' THEN format('SELECT %s, -1 AS sign FROM old_rows', cols)
    ELSE '
      WITH moved AS MATERIALIZED (  -- the records whose rolled-up columns changed
        SELECT o.id AS o_id, o.buyer_id AS o_buyer_id, o.sale_date AS o_sale_date,
               o.product_id AS o_product_id, o.amount AS o_amount, o.quantity AS o_quantity,
               n.id AS n_id, n.buyer_id AS n_buyer_id, n.sale_date AS n_sale_date,
               n.product_id AS n_product_id, n.amount AS n_amount, n.quantity AS n_quantity
          FROM old_rows o FULL JOIN new_rows n ON n.id = o.id
         WHERE o.id IS NULL OR n.id IS NULL
            OR (o.buyer_id, o.sale_date, o.product_id, o.amount, o.quantity)
               IS DISTINCT FROM (n.buyer_id, n.sale_date, n.product_id, n.amount, n.quantity)
      )
      SELECT n_buyer_id AS buyer_id, n_sale_date AS sale_date, n_product_id AS product_id,
             n_amount AS amount, n_quantity AS quantity, 1 AS sign
        FROM moved WHERE n_id IS NOT NULL
      UNION ALL
      SELECT o_buyer_id, o_sale_date, o_product_id, o_amount, o_quantity, -1
        FROM moved WHERE o_id IS NOT NULL
    '
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
    ELSE '
      WITH moved AS MATERIALIZED (  -- the sell-out records whose rolled-up columns changed
        SELECT o.seller_id AS o_seller_id, o.sale_date AS o_sale_date,
               o.product_id AS o_product_id, o.amount AS o_amount, o.quantity AS o_quantity,
               n.seller_id AS n_seller_id, n.sale_date AS n_sale_date,
               n.product_id AS n_product_id, n.amount AS n_amount, n.quantity AS n_quantity
          FROM (SELECT * FROM old_rows WHERE seller_id IS NOT NULL) o
          FULL JOIN (SELECT * FROM new_rows WHERE seller_id IS NOT NULL) n ON n.id = o.id
         WHERE o.id IS NULL OR n.id IS NULL
            OR (o.seller_id, o.sale_date, o.product_id, o.amount, o.quantity)
               IS DISTINCT FROM (n.seller_id, n.sale_date, n.product_id, n.amount, n.quantity)
      )
      SELECT n_seller_id AS seller_id, n_sale_date AS sale_date, n_product_id AS product_id,
             n_amount AS amount, n_quantity AS quantity, 1 AS sign
        FROM moved WHERE n_seller_id IS NOT NULL
      UNION ALL
      SELECT o_seller_id, o_sale_date, o_product_id, o_amount, o_quantity, -1
        FROM moved WHERE o_seller_id IS NOT NULL
    '
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
