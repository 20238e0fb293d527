-- Outlets' search text in a table of its own (outlet_search), written only when an outlet's
-- code, name or tier changes. On outlets it sat under two trigram GIN indexes (0009, 0013):
-- every UPDATE that is not HOT (a geotag changes the GiST-indexed location, so it never is)
-- inserted the outlet's trigrams into them again, although the text had not changed.
CREATE TABLE outlet_search (
  outlet_id bigint PRIMARY KEY REFERENCES outlets (id) ON DELETE CASCADE,
  search_text text NOT NULL,
  is_distributor boolean NOT NULL
);

-- One statement's new outlets in one INSERT (imports, the demo generator).
CREATE FUNCTION geo_crm_outlet_search_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO outlet_search (outlet_id, search_text, is_distributor)
  SELECT id, geo_crm_outlet_search_text(code, name), tier = 'distributor' FROM new_rows;
  RETURN NULL;
END $$;

-- A row trigger, not a statement one: its column list and WHEN clause mean an UPDATE that
-- does not name code, name or tier (a geotag) never reaches it, and one that names them
-- unchanged (the ORM, an import's ON CONFLICT) is filtered before any call.
CREATE FUNCTION geo_crm_outlet_search_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE outlet_search
     SET search_text = geo_crm_outlet_search_text(NEW.code, NEW.name),
         is_distributor = NEW.tier = 'distributor'
   WHERE outlet_id = NEW.id;
  RETURN NULL;
END $$;

CREATE TRIGGER trg_outlets_search_insert AFTER INSERT ON outlets
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_outlet_search_insert();
CREATE TRIGGER trg_outlets_search_update AFTER UPDATE OF code, name, tier ON outlets
  FOR EACH ROW
  WHEN (OLD.code IS DISTINCT FROM NEW.code OR OLD.name IS DISTINCT FROM NEW.name
        OR OLD.tier IS DISTINCT FROM NEW.tier)
  EXECUTE FUNCTION geo_crm_outlet_search_update();

INSERT INTO outlet_search (outlet_id, search_text, is_distributor)
SELECT id, coalesce(search_text, geo_crm_outlet_search_text(code, name)), tier = 'distributor'
  FROM outlets ORDER BY id;

CREATE INDEX ix_outlet_search_text ON outlet_search USING gin (search_text gin_trgm_ops);
CREATE INDEX ix_outlet_search_distributor ON outlet_search USING gin (search_text gin_trgm_ops)
  WHERE is_distributor;

DROP TRIGGER trg_outlets_search_text ON outlets;
DROP FUNCTION geo_crm_outlets_search_text();
DROP INDEX ix_outlets_search;
DROP INDEX ix_outlets_distributor_search;
ALTER TABLE outlets DROP COLUMN search_text;
ANALYZE outlet_search;
