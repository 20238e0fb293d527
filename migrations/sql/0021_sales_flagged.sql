-- The flagged sales records and their review state in a side table (migration 0021), so that
-- no index of sales_records has `flags` or `review_state` in its key or predicate.
--
-- Until 0020 the review queue found the pending records through a partial index
-- (`ix_sales_records_review_pending`, WHERE review_state = 'pending') and the detection's
-- re-check, later the region's list, the cross-flagged ones through another
-- (`ix_sales_records_cross_flagged`, WHERE flags && ...). Every UPDATE that changes a flag or
-- a review state therefore changed an indexed column: it could never be a HOT update, and
-- each of the table's twelve indexes got a new entry for every record written (the first
-- run of the cross-territory detection writes ~1.8 % of the history at once). Now those
-- readers start from `sales_flagged` (one row per record whose review_state is set, that is
-- per flagged record, CHECK sales_record_flags_reviewed) and a flag or review write leaves
-- every index of sales_records alone when the record's page has room (fillfactor below).
--
-- Kept by statement triggers with transition tables in the transaction that writes the
-- records, like the rollups (0014, 0017): one dynamic statement per write, planned for the
-- transition tables at hand. An UPDATE that changes no review state (payments, amounts,
-- dates: nearly every UPDATE) finds no row to write after one hashed join of its rows.

CREATE FUNCTION geo_crm_sales_flagged_apply() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE FUNCTION geo_crm_sales_flagged_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE sales_flagged;
  RETURN NULL;
END $$;

-- The backfill, and the repair after a load with triggers disabled.
CREATE FUNCTION geo_crm_sales_flagged_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE sales_flagged;
  INSERT INTO sales_flagged (id, review_state)
  SELECT id, review_state FROM sales_records WHERE review_state IS NOT NULL ORDER BY id;
  ANALYZE sales_flagged;
END $$;

CREATE TRIGGER sales_flagged_insert AFTER INSERT ON sales_records
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_sales_flagged_apply();
CREATE TRIGGER sales_flagged_update AFTER UPDATE ON sales_records
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_sales_flagged_apply();
CREATE TRIGGER sales_flagged_delete AFTER DELETE ON sales_records
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_sales_flagged_apply();
CREATE TRIGGER sales_flagged_truncate AFTER TRUNCATE ON sales_records
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_sales_flagged_truncate();

SELECT geo_crm_sales_flagged_rebuild();
