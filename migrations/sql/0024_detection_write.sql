-- What the 窜货 detection's write (a flag-only UPDATE of the records whose flags change) pays
-- for in the pair rollup (0017) and the side table of flagged records (0021), cut to what a
-- write needs (migration 0024). No switch: every UPDATE of sales_records takes the same path.
--
-- The pair rollup: a flag-only UPDATE changes no pair's record count, yet 0017's function
-- probed the primary key of sales_pairs once per changed pair to find rows to DELETE (a row
-- falls to zero records only when its pair lost records); it now probes only the pairs whose
-- record count fell. The rest is 0017's.

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
  -- row: it is deleted when its records fall to zero (which only a pair that lost records
  -- can: only those are looked up for it), else updated. A pair with only new rows gains
  -- records and at most as many flags, so its upsert's proposed row passes the CHECK.
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
       WHERE d.records < 0 AND t.records + d.records = 0
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

-- The side table of flagged records. An UPDATE joins its old and new rows by id and writes
-- the ids whose review state changed: a state set where there was none with a plain INSERT
-- (0021 upserted every one: a primary-key probe before it and a confirmation WAL record after
-- it), one set to another with the upsert, one that falls to NULL by deleting the ids listed in
-- an array, through the primary key. The table holds a row exactly for the ids whose review
-- state is set, so the old row says which; an UPDATE of an id counts as a removal of the old
-- id and an arrival of the new. 0021 deleted through a join of the changed rows with
-- sales_flagged: planned against statistics saying the table was empty (autovacuum after a
-- rolled-back write, or rows added since by the same transaction), that join was a nested loop
-- scanning the whole table once per changed record.

CREATE OR REPLACE FUNCTION geo_crm_sales_flagged_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    EXECUTE $sql$
      INSERT INTO sales_flagged (id, review_state)
      SELECT id, review_state FROM new_rows WHERE review_state IS NOT NULL ORDER BY id
    $sql$;
  ELSIF TG_OP = 'DELETE' THEN
    EXECUTE $sql$
      DELETE FROM sales_flagged
       WHERE id = ANY(ARRAY(SELECT id FROM old_rows WHERE review_state IS NOT NULL))
    $sql$;
  ELSE
    EXECUTE $sql$
      WITH changed AS MATERIALIZED (
        SELECT coalesce(n.id, o.id) AS id, n.review_state, o.review_state AS was
          FROM (SELECT id, review_state FROM new_rows) n
          FULL JOIN (SELECT id, review_state FROM old_rows) o ON o.id = n.id
         WHERE n.review_state IS DISTINCT FROM o.review_state
      ), gone AS (
        DELETE FROM sales_flagged
         WHERE id = ANY(ARRAY(SELECT id FROM changed WHERE review_state IS NULL))
      ), moved AS (
        INSERT INTO sales_flagged AS f (id, review_state)
        SELECT id, review_state FROM changed
         WHERE was IS NOT NULL AND review_state IS NOT NULL ORDER BY id
            ON CONFLICT (id) DO UPDATE SET review_state = excluded.review_state
      )
      INSERT INTO sales_flagged (id, review_state)
      SELECT id, review_state FROM changed
       WHERE was IS NULL AND review_state IS NOT NULL ORDER BY id
    $sql$;
  END IF;
  RETURN NULL;
END $$;

-- Room on each page of the pair rollup for the counts of every pair on it to be rewritten
-- once as a HOT update (no new primary-key entry): the pairs a detection rewrites sit
-- together (a seller's buyers are neighbours in the key order). The table is rewritten once
-- here, so that its pages have the room now (a copy in key order, as the rebuild writes it).
ALTER TABLE sales_pairs SET (fillfactor = 50);
CREATE TEMPORARY TABLE geo_crm_pairs_copy ON COMMIT DROP AS SELECT * FROM sales_pairs;
TRUNCATE sales_pairs;
INSERT INTO sales_pairs SELECT * FROM geo_crm_pairs_copy ORDER BY seller_id, buyer_id;
DROP TABLE geo_crm_pairs_copy;
ANALYZE sales_pairs;
