-- The distributors whose territory changed since the detection over the whole history last
-- ran: their sell-out records still flagged outside_territory keep the distance measured from
-- the territory before, which the detection's verdict (by flag counts) does not notice when
-- the flags stay. Written by a row trigger on every territory written (a territory is written
-- by hand, one at a time); the detection takes the rows, re-measures the distance of the
-- flagged records of those distributors' crossing pairs, and writes the records whose
-- distance changed.
CREATE OR REPLACE FUNCTION geo_crm_territory_distances_stale() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO territory_distances_stale (distributor_id)
  VALUES (NEW.distributor_id) ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;

CREATE TRIGGER trg_distributor_territories_stale
AFTER INSERT OR UPDATE OF geom ON distributor_territories
FOR EACH ROW EXECUTE FUNCTION geo_crm_territory_distances_stale();

-- the territories as they are now: distances measured before this migration may be stale
INSERT INTO territory_distances_stale (distributor_id)
SELECT distributor_id FROM distributor_territories;
