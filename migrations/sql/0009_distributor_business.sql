-- The distributor business (migration 0009): sell-in, plans with schedules, support, closed
-- months and history, credit limits with review flags, the seller rollup, the distributor
-- search text. Errors use SQLSTATE 23514 (check_violation) and a CONSTRAINT name the app
-- translates to the field (db/translate.py).

-- Sales records: the seller is of a higher tier than the buyer; the manufacturer (no seller)
-- sells to distributors and only to them; no sale is dated after today.
CREATE OR REPLACE FUNCTION geo_crm_sales_records_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  seller_tier text;
  buyer_tier text;
BEGIN
  IF NEW.sale_date > current_date THEN
    RAISE EXCEPTION 'a sale may not be dated after today (% > %)', NEW.sale_date, current_date
      USING ERRCODE = 'check_violation', CONSTRAINT = 'sales_record_date_not_future';
  END IF;
  SELECT tier INTO buyer_tier FROM outlets WHERE id = NEW.buyer_id;
  IF NEW.seller_id IS NULL THEN
    IF buyer_tier IS DISTINCT FROM 'distributor' THEN
      RAISE EXCEPTION 'a % outlet buys from an outlet of a higher tier: name the seller (only distributors buy from the manufacturer)',
        buyer_tier
        USING ERRCODE = 'check_violation', CONSTRAINT = 'sales_record_seller_tier';
    END IF;
    RETURN NEW;
  END IF;
  SELECT tier INTO seller_tier FROM outlets WHERE id = NEW.seller_id;
  IF buyer_tier = 'distributor' THEN
    RAISE EXCEPTION 'a distributor buys only from the manufacturer: leave the seller empty'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'sales_record_seller_tier';
  END IF;
  IF geo_crm_tier_rank(seller_tier) >= geo_crm_tier_rank(buyer_tier) THEN
    RAISE EXCEPTION 'a % outlet may not buy from a % outlet (a tier buys only from a higher tier)',
      buyer_tier, seller_tier
      USING ERRCODE = 'check_violation', CONSTRAINT = 'sales_record_seller_tier';
  END IF;
  RETURN NEW;
END $$;

DROP TRIGGER trg_sales_records_rules ON sales_records;
CREATE TRIGGER trg_sales_records_rules
  BEFORE INSERT OR UPDATE OF seller_id, buyer_id, sale_date ON sales_records
  FOR EACH ROW EXECUTE FUNCTION geo_crm_sales_records_rules();

-- Credit limit of sell-in: a sale that takes the distributor's debt to the manufacturer over
-- its limit is refused (policy 'refuse', naming the amount) or stored flagged for review
-- (policy 'warn'). The limit's row is locked, so concurrent sales to one distributor are
-- checked one after the other.
CREATE FUNCTION geo_crm_sales_credit_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  lim numeric;
  owed numeric;
  policy text;
BEGIN
  SELECT credit_limit INTO lim FROM distributor_credit WHERE distributor_id = NEW.buyer_id
     FOR UPDATE;
  IF lim IS NULL THEN
    RETURN NEW;
  END IF;
  SELECT coalesce(sum(amount - amount_paid), 0) INTO owed
    FROM sales_records
   WHERE seller_id IS NULL AND buyer_id = NEW.buyer_id AND amount_paid < amount AND id <> NEW.id;
  owed := owed + NEW.amount - NEW.amount_paid;
  IF owed <= lim THEN
    RETURN NEW;
  END IF;
  policy := coalesce((SELECT value FROM app_settings WHERE key = 'credit_policy'), 'warn');
  IF policy = 'refuse' THEN
    RAISE EXCEPTION 'this sale takes the distributor''s debt to % over its credit limit of %', owed, lim
      USING ERRCODE = 'check_violation', CONSTRAINT = 'sales_record_credit_limit';
  END IF;
  IF NOT 'over_credit_limit' = ANY(NEW.flags) THEN
    NEW.flags := NEW.flags || ARRAY['over_credit_limit'];
  END IF;
  NEW.flag_detail := NEW.flag_detail || jsonb_build_object(
    'over_credit_limit', jsonb_build_object('credit_limit', lim::text, 'debt', owed::text));
  IF NEW.review_state IS NULL OR TG_OP = 'UPDATE' THEN
    NEW.review_state := 'pending';
    NEW.reviewed_by_id := NULL;
    NEW.reviewed_at := NULL;
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER trg_sales_records_credit
  BEFORE INSERT OR UPDATE OF amount, buyer_id, seller_id ON sales_records
  FOR EACH ROW WHEN (NEW.seller_id IS NULL) EXECUTE FUNCTION geo_crm_sales_credit_check();

CREATE TRIGGER trg_distributor_credit_distributor
  BEFORE INSERT OR UPDATE OF distributor_id ON distributor_credit
  FOR EACH ROW EXECUTE FUNCTION geo_crm_require_distributor();

-- Plans: version and updated_at move on every update (Core and bulk updates too).
CREATE FUNCTION geo_crm_sales_plans_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.version = OLD.version THEN
    NEW.version := OLD.version + 1;
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END $$;

CREATE TRIGGER trg_sales_plans_version BEFORE UPDATE ON sales_plans
  FOR EACH ROW EXECUTE FUNCTION geo_crm_sales_plans_version();

-- Closed months: plans of a closed month (and their schedule and support lines) change only
-- when the transaction says its writer is an admin (SET LOCAL geo_crm.role = 'admin', which
-- the domain sets from the acting user). Checked once per statement over the changed rows;
-- so is the rule that a schedule step's day lies inside its plan's month.
CREATE FUNCTION geo_crm_plans_closed_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  closed date;
  rows_sql text;
  bad record;
BEGIN
  IF TG_TABLE_NAME = 'sales_plan_schedule' AND TG_OP <> 'DELETE' THEN
    SELECT n.by_day, p.month INTO bad FROM new_rows n JOIN sales_plans p ON p.id = n.plan_id
     WHERE n.by_day > extract(day FROM (p.month + interval '1 month' - interval '1 day'))::int
     LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'day % is not in the plan''s month %', bad.by_day, to_char(bad.month, 'YYYY-MM')
        USING ERRCODE = 'check_violation', CONSTRAINT = 'sales_plan_schedule_day_range';
    END IF;
  END IF;
  IF current_setting('geo_crm.role', true) = 'admin' THEN
    RETURN NULL;
  END IF;
  rows_sql := CASE TG_OP
    WHEN 'INSERT' THEN 'SELECT * FROM new_rows'
    WHEN 'DELETE' THEN 'SELECT * FROM old_rows'
    ELSE 'SELECT * FROM new_rows UNION ALL SELECT * FROM old_rows' END;
  IF TG_TABLE_NAME = 'sales_plans' THEN
    EXECUTE format('SELECT c.month FROM (%s) r JOIN closed_months c ON c.month = r.month LIMIT 1',
                   rows_sql) INTO closed;
  ELSE
    EXECUTE format('SELECT c.month FROM (%s) r JOIN sales_plans p ON p.id = r.plan_id'
                   ' JOIN closed_months c ON c.month = p.month LIMIT 1', rows_sql) INTO closed;
  END IF;
  IF closed IS NOT NULL THEN
    RAISE EXCEPTION 'the month % is closed: only an admin may change its plans', to_char(closed, 'YYYY-MM')
      USING ERRCODE = 'check_violation', CONSTRAINT = 'sales_plan_month_closed';
  END IF;
  RETURN NULL;
END $$;

-- History: every insert, update (that changes something) and delete of plans, schedule steps
-- and support lines, with who (SET LOCAL geo_crm.user_id) and the row before and after.
CREATE FUNCTION geo_crm_plans_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  who integer := nullif(current_setting('geo_crm.user_id', true), '')::integer;
  plan_col text := CASE WHEN TG_TABLE_NAME = 'sales_plans' THEN 'id' ELSE 'plan_id' END;
BEGIN
  IF TG_OP = 'INSERT' THEN
    EXECUTE format('INSERT INTO sales_plan_history (plan_id, table_name, row_id, action, user_id, new)'
                   ' SELECT n.%I, %L, n.id, ''insert'', $1, to_jsonb(n) FROM new_rows n ORDER BY n.id',
                   plan_col, TG_TABLE_NAME) USING who;
  ELSIF TG_OP = 'DELETE' THEN
    EXECUTE format('INSERT INTO sales_plan_history (plan_id, table_name, row_id, action, user_id, old)'
                   ' SELECT o.%I, %L, o.id, ''delete'', $1, to_jsonb(o) FROM old_rows o ORDER BY o.id',
                   plan_col, TG_TABLE_NAME) USING who;
  ELSE
    EXECUTE format('INSERT INTO sales_plan_history (plan_id, table_name, row_id, action, user_id, old, new)'
                   ' SELECT n.%I, %L, n.id, ''update'', $1, to_jsonb(o) - %L, to_jsonb(n) - %L'
                   '   FROM new_rows n JOIN old_rows o ON o.id = n.id'
                   '  WHERE to_jsonb(o) - %L IS DISTINCT FROM to_jsonb(n) - %L ORDER BY n.id',
                   plan_col, TG_TABLE_NAME, '{version,updated_at}', '{version,updated_at}',
                   '{version,updated_at}', '{version,updated_at}') USING who;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER trg_sales_plans_closed_insert AFTER INSERT ON sales_plans
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_closed_check();
CREATE TRIGGER trg_sales_plans_closed_update AFTER UPDATE ON sales_plans
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_closed_check();
CREATE TRIGGER trg_sales_plans_closed_delete AFTER DELETE ON sales_plans
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_closed_check();
CREATE TRIGGER trg_sales_plans_history_insert AFTER INSERT ON sales_plans
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_history();
CREATE TRIGGER trg_sales_plans_history_update AFTER UPDATE ON sales_plans
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_history();
CREATE TRIGGER trg_sales_plans_history_delete AFTER DELETE ON sales_plans
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_history();

CREATE TRIGGER trg_sales_plan_schedule_closed_insert AFTER INSERT ON sales_plan_schedule
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_closed_check();
CREATE TRIGGER trg_sales_plan_schedule_closed_update AFTER UPDATE ON sales_plan_schedule
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_closed_check();
CREATE TRIGGER trg_sales_plan_schedule_closed_delete AFTER DELETE ON sales_plan_schedule
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_closed_check();
CREATE TRIGGER trg_sales_plan_schedule_history_insert AFTER INSERT ON sales_plan_schedule
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_history();
CREATE TRIGGER trg_sales_plan_schedule_history_update AFTER UPDATE ON sales_plan_schedule
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_history();
CREATE TRIGGER trg_sales_plan_schedule_history_delete AFTER DELETE ON sales_plan_schedule
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_history();

CREATE TRIGGER trg_sales_plan_support_closed_insert AFTER INSERT ON sales_plan_support
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_closed_check();
CREATE TRIGGER trg_sales_plan_support_closed_update AFTER UPDATE ON sales_plan_support
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_closed_check();
CREATE TRIGGER trg_sales_plan_support_closed_delete AFTER DELETE ON sales_plan_support
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_closed_check();
CREATE TRIGGER trg_sales_plan_support_history_insert AFTER INSERT ON sales_plan_support
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_history();
CREATE TRIGGER trg_sales_plan_support_history_update AFTER UPDATE ON sales_plan_support
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_history();
CREATE TRIGGER trg_sales_plan_support_history_delete AFTER DELETE ON sales_plan_support
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_plans_history();

CREATE TRIGGER trg_sales_plan_history_append_only BEFORE UPDATE OR DELETE ON sales_plan_history
  FOR EACH ROW EXECUTE FUNCTION geo_crm_append_only();

-- Seller rollup (sell-out): like the buyer rollup of 0003, per seller outlet, month and
-- product; records without a seller (sell-in) are the buyer rollup's alone.
CREATE FUNCTION geo_crm_sales_seller_rollup_apply() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE FUNCTION geo_crm_sales_seller_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE sales_seller_months;
  RETURN NULL;
END $$;

-- The repair after a load with triggers disabled rebuilds both rollups (0003's and this one).
CREATE FUNCTION geo_crm_sales_seller_rollup_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE sales_seller_months;
  INSERT INTO sales_seller_months (seller_id, month, product_id, records, amount_fen, quantity_milli)
  SELECT seller_id, sale_date - (extract(day FROM sale_date)::int - 1), product_id, count(*),
         sum((amount * 100)::int8), sum((quantity * 1000)::int8)
    FROM sales_records WHERE seller_id IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
  ANALYZE sales_seller_months;
END $$;

CREATE TRIGGER sales_seller_rollup_insert AFTER INSERT ON sales_records
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_sales_seller_rollup_apply();
CREATE TRIGGER sales_seller_rollup_update AFTER UPDATE ON sales_records
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_sales_seller_rollup_apply();
CREATE TRIGGER sales_seller_rollup_delete AFTER DELETE ON sales_records
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_sales_seller_rollup_apply();
CREATE TRIGGER sales_seller_rollup_truncate AFTER TRUNCATE ON sales_records
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_sales_seller_rollup_truncate();

SELECT geo_crm_sales_seller_rollup_rebuild();

-- Outlets: search_text = code, name and the name's pinyin initials (both readings), lower
-- case, for the distributor search (a trigram index over distributors).
CREATE FUNCTION geo_crm_outlet_search_text(code text, name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  main text := geo_crm_pinyin_initials(coalesce(name, ''));
  other text := geo_crm_pinyin_initials(coalesce(name, ''), true);
BEGIN
  RETURN lower(coalesce(code, '')) || ' ' || lower(coalesce(name, '')) || ' ' || main
         || CASE WHEN other = main THEN '' ELSE ' ' || other END;
END $$;

CREATE FUNCTION geo_crm_outlets_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.code IS DISTINCT FROM OLD.code OR NEW.name IS DISTINCT FROM OLD.name
     OR NEW.search_text IS NULL THEN
    NEW.search_text := geo_crm_outlet_search_text(NEW.code, NEW.name);
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER trg_outlets_search_text BEFORE INSERT OR UPDATE OF code, name, search_text ON outlets
  FOR EACH ROW EXECUTE FUNCTION geo_crm_outlets_search_text();

-- filling the column is no change of the outlets: their version and updated_at stay
ALTER TABLE outlets DISABLE TRIGGER trg_outlets_rules;
UPDATE outlets SET search_text = geo_crm_outlet_search_text(code, name);
ALTER TABLE outlets ENABLE TRIGGER trg_outlets_rules;

INSERT INTO app_settings (key, value) VALUES ('credit_policy', 'warn');
