-- Back to 0009/0013: outlets.search_text kept by a BEFORE trigger, its two trigram indexes.
ALTER TABLE outlets ADD COLUMN search_text text;

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
UPDATE outlets o SET search_text = s.search_text FROM outlet_search s WHERE s.outlet_id = o.id;
ALTER TABLE outlets ENABLE TRIGGER trg_outlets_rules;

CREATE INDEX ix_outlets_distributor_search ON outlets USING gin (search_text gin_trgm_ops)
  WHERE tier = 'distributor';
CREATE INDEX ix_outlets_search ON outlets USING gin (search_text gin_trgm_ops);

DROP TRIGGER trg_outlets_search_update ON outlets;
DROP TRIGGER trg_outlets_search_insert ON outlets;
DROP FUNCTION geo_crm_outlet_search_update();
DROP FUNCTION geo_crm_outlet_search_insert();
DROP TABLE outlet_search;
