-- Back to the rollup functions of 0003 and 0009 (their text as those migrations created it).

CREATE OR REPLACE FUNCTION geo_crm_sales_rollup_apply() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION geo_crm_sales_seller_rollup_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cols constant text := 'seller_id, sale_date, product_id, amount, quantity';
  changed text;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF NOT EXISTS (
        SELECT 1 FROM new_rows n LEFT JOIN old_rows o ON o.id = n.id
         WHERE o.id IS NULL
            OR (n.seller_id, n.sale_date, n.product_id, n.amount, n.quantity)
               IS DISTINCT FROM (o.seller_id, o.sale_date, o.product_id, o.amount, o.quantity)
    ) THEN
      RETURN NULL;
    END IF;
  END IF;
  changed := CASE TG_OP
    WHEN 'INSERT' THEN format('SELECT %s, 1 AS sign FROM new_rows WHERE seller_id IS NOT NULL', cols)
    WHEN 'DELETE' THEN format('SELECT %s, -1 AS sign FROM old_rows WHERE seller_id IS NOT NULL', cols)
    ELSE format('SELECT %s, 1 AS sign FROM new_rows WHERE seller_id IS NOT NULL'
                ' UNION ALL SELECT %s, -1 FROM old_rows WHERE seller_id IS NOT NULL', cols, cols)
  END;
  EXECUTE format($sql$
    WITH delta AS (
      SELECT seller_id, sale_date - (extract(day FROM sale_date)::int - 1) AS month, product_id,
             sum(sign)::int8 AS records,
             sum(sign * (amount * 100)::int8)::int8 AS amount_fen,
             sum(sign * (quantity * 1000)::int8)::int8 AS quantity_milli
        FROM (%s) changed
       GROUP BY 1, 2, 3
      HAVING sum(sign) <> 0 OR sum(sign * amount) <> 0 OR sum(sign * quantity) <> 0
    ), less AS (
      UPDATE sales_seller_months t
         SET records = t.records + d.records, amount_fen = t.amount_fen + d.amount_fen,
             quantity_milli = t.quantity_milli + d.quantity_milli
        FROM delta d
       WHERE (d.records < 0 OR d.amount_fen < 0 OR d.quantity_milli < 0)
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
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    DELETE FROM sales_seller_months
     WHERE records = 0
       AND (seller_id, month, product_id) IN (
           SELECT seller_id, sale_date - (extract(day FROM sale_date)::int - 1), product_id
             FROM old_rows WHERE seller_id IS NOT NULL);
  END IF;
  RETURN NULL;
END $$;
