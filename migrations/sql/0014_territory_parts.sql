-- Territory parts: every distributor territory cut by ST_Subdivide into pieces of at most 128
-- vertices, with a spatial index, kept by trigger. Whether a point lies in a territory is then
-- a bounding-box probe and one small polygon, whatever the size of the territory (a city's or
-- a province's districts union has tens of thousands of vertices), which the detection of
-- cross-territory sales over the whole history asks once per (seller, buyer) pair.

CREATE FUNCTION geo_crm_territory_parts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM distributor_territory_parts WHERE distributor_id = NEW.distributor_id;
  INSERT INTO distributor_territory_parts (distributor_id, part, geom)
  SELECT NEW.distributor_id, row_number() OVER (), d.geom
    FROM ST_Subdivide(NEW.geom, 128) AS s(geom), ST_Dump(s.geom) AS d
   WHERE ST_Dimension(d.geom) = 2;
  RETURN NULL;
END $$;

CREATE TRIGGER trg_distributor_territory_parts
  AFTER INSERT OR UPDATE OF distributor_id, geom ON distributor_territories
  FOR EACH ROW EXECUTE FUNCTION geo_crm_territory_parts();

INSERT INTO distributor_territory_parts (distributor_id, part, geom)
SELECT t.distributor_id, row_number() OVER (PARTITION BY t.distributor_id), d.geom
  FROM distributor_territories t, ST_Subdivide(t.geom, 128) AS s(geom), ST_Dump(s.geom) AS d
 WHERE ST_Dimension(d.geom) = 2;
