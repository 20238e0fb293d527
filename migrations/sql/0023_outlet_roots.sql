-- The distributor at the top of every outlet's supply chain (itself for a distributor; NULL
-- when the chain ends below the distributor tier), kept in outlet_roots by statement triggers
-- with transition tables (set-based: an import or the demo load writes 30,000–1,000,000
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

-- An UPDATE: statement triggers with transition tables cannot be UPDATE OF columns, so this
-- runs for every UPDATE of outlets (a geotag too) and first asks whether any supplier or tier
-- changed: one join of the two transition tables, nothing else when none did.
CREATE FUNCTION geo_crm_outlet_roots_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  moved bigint[];
  gone bigint[];
BEGIN
  SELECT array_agg(n.id) FILTER (WHERE n.id IS NOT NULL),
         array_agg(o.id) FILTER (WHERE n.id IS NULL)
    INTO moved, gone
    FROM new_rows n
    FULL JOIN old_rows o ON o.id = n.id
   WHERE n.id IS NULL OR o.id IS NULL
      OR n.parent_id IS DISTINCT FROM o.parent_id OR n.tier IS DISTINCT FROM o.tier;
  IF gone IS NOT NULL THEN  -- an id changed (nothing in the app does it)
    DELETE FROM outlet_roots r WHERE r.outlet_id = ANY(gone);
  END IF;
  IF moved IS NULL THEN
    RETURN NULL;
  END IF;
  -- the moved outlets and everything below them (at most three levels: tiers fall strictly;
  -- the depth guard only bounds a walk over links the rules would refuse)
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
CREATE TRIGGER trg_outlet_roots_update AFTER UPDATE ON outlets
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_outlet_roots_update();
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
