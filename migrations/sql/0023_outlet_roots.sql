-- The distributor at the top of every outlet's supply chain (itself for a distributor; NULL
-- when the chain ends below the distributor tier), kept in outlet_roots by statement triggers
-- with transition tables on INSERT, DELETE and TRUNCATE, and on UPDATE by 0012's change
-- history trigger (below) (set-based: an import or the demo load writes 30,000–1,000,000
-- outlets in a few statements). A tier buys only from a higher one (0001's rules), so the
-- chain is at most three hops long and a change of an outlet's supplier or tier moves the
-- roots of the outlet and of at most three levels below it.

-- The roots of the outlets listed, walked over outlets as they are now (the statement's own
-- rows included: AFTER STATEMENT triggers see them), as analysis/cross_selling.py walked them.
CREATE FUNCTION geo_crm_outlet_roots_walk(ids bigint[]) RETURNS TABLE (outlet_id bigint, root_id bigint)
LANGUAGE sql STABLE AS $$
  SELECT o.id,
         CASE WHEN o.tier = 'distributor' THEN o.id
              WHEN p1.tier = 'distributor' THEN p1.id
              WHEN p2.tier = 'distributor' THEN p2.id
              WHEN p3.tier = 'distributor' THEN p3.id END
    FROM outlets o
    LEFT JOIN outlets p1 ON p1.id = o.parent_id
    LEFT JOIN outlets p2 ON p2.id = p1.parent_id
    LEFT JOIN outlets p3 ON p3.id = p2.parent_id
   WHERE o.id = ANY(ids)
$$;

CREATE FUNCTION geo_crm_outlet_roots_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- the new outlets' parents are stored already (0001's rules), some by this very statement
  INSERT INTO outlet_roots (outlet_id, root_id)
  SELECT n.id,
         CASE WHEN n.tier = 'distributor' THEN n.id
              WHEN p1.tier = 'distributor' THEN p1.id
              WHEN p2.tier = 'distributor' THEN p2.id
              WHEN p3.tier = 'distributor' THEN p3.id END
    FROM new_rows n
    LEFT JOIN outlets p1 ON p1.id = n.parent_id
    LEFT JOIN outlets p2 ON p2.id = p1.parent_id
    LEFT JOIN outlets p3 ON p3.id = p2.parent_id;
  RETURN NULL;
END $$;

-- An UPDATE that changed the supplier or the tier of the outlets listed: their roots and
-- those of everything below them (at most three levels: tiers fall strictly; the depth guard
-- only bounds a walk over links the rules would refuse) walked again.
CREATE FUNCTION geo_crm_outlet_roots_move(moved bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF cardinality(moved) > 0 THEN
    WITH RECURSIVE below(id, depth) AS (
      SELECT unnest(moved), 0
      UNION ALL
      SELECT c.id, b.depth + 1 FROM below b JOIN outlets c ON c.parent_id = b.id
       WHERE b.depth < 3
    )
    INSERT INTO outlet_roots AS r (outlet_id, root_id)
    SELECT w.outlet_id, w.root_id
      FROM geo_crm_outlet_roots_walk(ARRAY(SELECT DISTINCT id FROM below)) w
     ORDER BY w.outlet_id
    ON CONFLICT (outlet_id) DO UPDATE SET root_id = EXCLUDED.root_id
     WHERE r.root_id IS DISTINCT FROM EXCLUDED.root_id;
  END IF;
END $$;

-- The UPDATE side rides on 0012's change history trigger, which already joins the old and
-- new rows of every UPDATE of outlets to find the changed suppliers, statuses and tiers:
-- statement triggers with transition tables cannot be UPDATE OF columns, so a trigger of its
-- own would run for every geotag (measured: 0.025 ms of PostgreSQL CPU per tag) to find no
-- supplier changed. Here a geotag pays nothing more: no history row, no root walked.
CREATE OR REPLACE FUNCTION geo_crm_outlet_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  who integer := nullif(current_setting('geo_crm.user_id', true), '')::integer;
BEGIN
  INSERT INTO outlet_changes (outlet_id, field, old_value, new_value, user_id)
  SELECT n.id, c.field, c.old_value, c.new_value, who
    FROM new_rows n
    JOIN old_rows o ON o.id = n.id
   CROSS JOIN LATERAL (VALUES ('supplier', o.parent_id::text, n.parent_id::text),
                              ('status', o.status::text, n.status::text),
                              ('tier', o.tier::text, n.tier::text))
         AS c (field, old_value, new_value)
   WHERE c.old_value IS DISTINCT FROM c.new_value
   ORDER BY n.id, c.field;
  IF FOUND THEN  -- some supplier, status or tier changed: the roots of moved chains (0023)
    PERFORM geo_crm_outlet_roots_move(ARRAY(
      SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
       WHERE n.parent_id IS DISTINCT FROM o.parent_id OR n.tier IS DISTINCT FROM o.tier));
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION geo_crm_outlet_roots_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- an outlet with buyers cannot be deleted (RESTRICT) unless they go in the same statement
  DELETE FROM outlet_roots r USING old_rows o WHERE r.outlet_id = o.id;
  RETURN NULL;
END $$;

CREATE FUNCTION geo_crm_outlet_roots_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE outlet_roots;
  RETURN NULL;
END $$;

-- The backfill, and the repair after a load with triggers off (session_replication_role).
CREATE FUNCTION geo_crm_outlet_roots_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE outlet_roots;
  INSERT INTO outlet_roots (outlet_id, root_id)
  SELECT o.id,
         CASE WHEN o.tier = 'distributor' THEN o.id
              WHEN p1.tier = 'distributor' THEN p1.id
              WHEN p2.tier = 'distributor' THEN p2.id
              WHEN p3.tier = 'distributor' THEN p3.id END
    FROM outlets o
    LEFT JOIN outlets p1 ON p1.id = o.parent_id
    LEFT JOIN outlets p2 ON p2.id = p1.parent_id
    LEFT JOIN outlets p3 ON p3.id = p2.parent_id
   ORDER BY o.id;
  ANALYZE outlet_roots;
END $$;

CREATE TRIGGER trg_outlet_roots_insert AFTER INSERT ON outlets
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_outlet_roots_insert();
CREATE TRIGGER trg_outlet_roots_delete AFTER DELETE ON outlets
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_outlet_roots_delete();
CREATE TRIGGER trg_outlet_roots_truncate AFTER TRUNCATE ON outlets
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_outlet_roots_truncate();

-- The root of one outlet (the recording trigger of 0012/0017 asks it twice a record): an
-- indexed look-up instead of a walk, the same answers (NULL for an outlet not stored).
CREATE OR REPLACE FUNCTION geo_crm_root_distributor(outlet bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT root_id FROM outlet_roots WHERE outlet_id = outlet);
END $$;

SELECT geo_crm_outlet_roots_rebuild();
