-- The (seller, buyer) pair rollup of the sell-out records (migration 0017): per pair, how many
-- records it has and how many of them carry each cross-territory flag. Kept by statement
-- triggers like the other sales rollups (0003, 0009, 0014), in the transaction that changes
-- the records; records without a seller (sell-in) are not in it.
--
-- The detection of cross-territory sales over the whole history (analysis/cross_selling.py)
-- judges these pairs instead of grouping every record, and compares its verdict with the
-- flag counts: only the pairs whose counts disagree have records to rewrite, so a re-check
-- that finds nothing new reads no record at all.

CREATE FUNCTION geo_crm_sales_pairs_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cols constant text := 'seller_id, buyer_id, flags';
  changed text;
BEGIN
  changed := CASE TG_OP
    WHEN 'INSERT' THEN format('SELECT %s, 1 AS sign FROM new_rows WHERE seller_id IS NOT NULL', cols)
    WHEN 'DELETE' THEN format('SELECT %s, -1 AS sign FROM old_rows WHERE seller_id IS NOT NULL', cols)
    ELSE format('SELECT %s, 1 AS sign FROM new_rows WHERE seller_id IS NOT NULL'
                ' UNION ALL SELECT %s, -1 FROM old_rows WHERE seller_id IS NOT NULL', cols, cols)
  END;
  -- One dynamic statement, planned for the transition tables at hand (see 0014). Old rows
  -- (-1) and new ones (+1) are netted per pair; pairs whose counts all net to zero (an UPDATE
  -- of amounts, dates, payments or review) drop out. A pair with an old row has its rollup
  -- row: it is deleted when its records fall to zero, else updated. A pair with only new rows
  -- gains records and at most as many flags, so its upsert's proposed row passes the CHECK.
  EXECUTE format($sql$
    WITH delta AS MATERIALIZED (
      SELECT seller_id, buyer_id, bool_or(sign < 0) AS had_old,
             sum(sign)::int8 AS records,
             sum(sign * (flags @> '{other_network}')::int)::int8 AS other_network,
             sum(sign * (flags @> '{outside_territory}')::int)::int8 AS outside_territory
        FROM (%s) changed
       GROUP BY 1, 2
      HAVING sum(sign) <> 0
          OR sum(sign * (flags @> '{other_network}')::int) <> 0
          OR sum(sign * (flags @> '{outside_territory}')::int) <> 0
    ), gone AS (
      DELETE FROM sales_pairs t
       USING delta d
       WHERE d.had_old AND t.records + d.records = 0
         AND t.seller_id = d.seller_id AND t.buyer_id = d.buyer_id
    ), kept AS (
      UPDATE sales_pairs t
         SET records = t.records + d.records,
             other_network = t.other_network + d.other_network,
             outside_territory = t.outside_territory + d.outside_territory
        FROM delta d
       WHERE d.had_old AND t.records + d.records <> 0
         AND t.seller_id = d.seller_id AND t.buyer_id = d.buyer_id
    )
    INSERT INTO sales_pairs AS t (seller_id, buyer_id, records, other_network, outside_territory)
    SELECT seller_id, buyer_id, records, other_network, outside_territory
      FROM delta
     WHERE NOT had_old
     ORDER BY seller_id, buyer_id
        ON CONFLICT (seller_id, buyer_id) DO UPDATE
       SET records = t.records + excluded.records,
           other_network = t.other_network + excluded.other_network,
           outside_territory = t.outside_territory + excluded.outside_territory
  $sql$, changed);
  RETURN NULL;
END $$;

CREATE FUNCTION geo_crm_sales_pairs_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE sales_pairs;
  RETURN NULL;
END $$;

-- The migration's backfill, and the repair after a load with triggers disabled.
CREATE FUNCTION geo_crm_sales_pairs_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE sales_pairs;
  INSERT INTO sales_pairs (seller_id, buyer_id, records, other_network, outside_territory)
  SELECT seller_id, buyer_id, count(*),
         count(*) FILTER (WHERE flags @> '{other_network}'),
         count(*) FILTER (WHERE flags @> '{outside_territory}')
    FROM sales_records WHERE seller_id IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2;
  ANALYZE sales_pairs;
END $$;

CREATE TRIGGER sales_pairs_insert AFTER INSERT ON sales_records
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_sales_pairs_apply();
CREATE TRIGGER sales_pairs_update AFTER UPDATE ON sales_records
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_sales_pairs_apply();
CREATE TRIGGER sales_pairs_delete AFTER DELETE ON sales_records
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_sales_pairs_apply();
CREATE TRIGGER sales_pairs_truncate AFTER TRUNCATE ON sales_records
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_sales_pairs_truncate();

SELECT geo_crm_sales_pairs_rebuild();
