-- Migration 0024's downgrade: the pair rollup's function of 0017 and the side table's of 0021,
-- verbatim; the pair rollup's fillfactor back to the default.

CREATE OR REPLACE FUNCTION geo_crm_sales_pairs_apply() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION geo_crm_sales_flagged_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    EXECUTE $sql$
      INSERT INTO sales_flagged (id, review_state)
      SELECT id, review_state FROM new_rows WHERE review_state IS NOT NULL ORDER BY id
    $sql$;
  ELSIF TG_OP = 'DELETE' THEN
    EXECUTE $sql$
      DELETE FROM sales_flagged f USING old_rows o
       WHERE o.review_state IS NOT NULL AND f.id = o.id
    $sql$;
  ELSE
    -- The records whose review state changed (ids are kept; an UPDATE of an id is a removal
    -- of the old one and an arrival of the new one): rows gone where the state fell to NULL,
    -- written where it is set. The two sets of ids are disjoint.
    EXECUTE $sql$
      WITH changed AS MATERIALIZED (
        SELECT coalesce(n.id, o.id) AS id, n.review_state
          FROM (SELECT id, review_state FROM new_rows) n
          FULL JOIN (SELECT id, review_state FROM old_rows) o ON o.id = n.id
         WHERE n.review_state IS DISTINCT FROM o.review_state
      ), gone AS (
        DELETE FROM sales_flagged f USING changed c
         WHERE c.review_state IS NULL AND f.id = c.id
      )
      INSERT INTO sales_flagged AS f (id, review_state)
      SELECT id, review_state FROM changed WHERE review_state IS NOT NULL ORDER BY id
          ON CONFLICT (id) DO UPDATE SET review_state = excluded.review_state
    $sql$;
  END IF;
  RETURN NULL;
END $$;

ALTER TABLE sales_pairs RESET (fillfactor);
