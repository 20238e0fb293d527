-- The recording-time check of migration 0012, with the territory test of the detection over
-- the whole history (analysis/cross_selling.py): the buyer is inside when one of the
-- territory's parts (0014: pieces of at most 128 vertices, spatially indexed) covers it, and
-- only when none does is the whole shape asked, so that both answer alike to the last point
-- on a border. A city's or a province's districts union has tens of thousands of vertices;
-- a part has at most 128. Otherwise as 0012's.
CREATE OR REPLACE FUNCTION geo_crm_sales_territory_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  seller_d bigint := geo_crm_root_distributor(NEW.seller_id);
  buyer_d bigint;
  terr geometry;
  loc geometry;
BEGIN
  NEW.flags := array_remove(array_remove(NEW.flags, 'outside_territory'), 'other_network');
  NEW.flag_detail := NEW.flag_detail - 'outside_territory' - 'other_network';
  IF seller_d IS NOT NULL THEN
    buyer_d := geo_crm_root_distributor(NEW.buyer_id);
    IF buyer_d IS NOT NULL AND buyer_d <> seller_d THEN
      NEW.flags := NEW.flags || ARRAY['other_network'];
      NEW.flag_detail := NEW.flag_detail || jsonb_build_object('other_network', jsonb_build_object(
        'seller_distributor', (SELECT code FROM outlets WHERE id = seller_d),
        'buyer_distributor', (SELECT code FROM outlets WHERE id = buyer_d)));
    END IF;
    SELECT location INTO loc FROM outlets WHERE id = NEW.buyer_id;
    IF loc IS NOT NULL AND EXISTS (SELECT 1 FROM distributor_territories
                                    WHERE distributor_id = seller_d)
       AND NOT EXISTS (SELECT 1 FROM distributor_territory_parts
                        WHERE distributor_id = seller_d AND ST_Covers(geom, loc)) THEN
      SELECT geom INTO terr FROM distributor_territories WHERE distributor_id = seller_d;
      IF NOT ST_Covers(terr, loc) THEN
        NEW.flags := NEW.flags || ARRAY['outside_territory'];
        NEW.flag_detail := NEW.flag_detail || jsonb_build_object('outside_territory',
          jsonb_build_object('distributor', (SELECT code FROM outlets WHERE id = seller_d),
                             'distance_m', round(ST_Distance(terr::geography, loc::geography))));
      END IF;
    END IF;
  END IF;
  IF cardinality(NEW.flags) = 0 THEN
    NEW.review_state := NULL;
    NEW.reviewed_by_id := NULL;
    NEW.reviewed_at := NULL;
  ELSIF NEW.review_state IS NULL OR (TG_OP = 'UPDATE' AND NEW.flags IS DISTINCT FROM OLD.flags) THEN
    NEW.review_state := 'pending';
    NEW.reviewed_by_id := NULL;
    NEW.reviewed_at := NULL;
  END IF;
  RETURN NEW;
END $$;
