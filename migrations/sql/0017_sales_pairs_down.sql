-- Migration 0017 down: the pair rollup goes; the recording-time check of 0012 comes back.
DROP TRIGGER IF EXISTS sales_pairs_truncate ON sales_records;
DROP TRIGGER IF EXISTS sales_pairs_delete ON sales_records;
DROP TRIGGER IF EXISTS sales_pairs_update ON sales_records;
DROP TRIGGER IF EXISTS sales_pairs_insert ON sales_records;
DROP FUNCTION IF EXISTS geo_crm_sales_pairs_rebuild();
DROP FUNCTION IF EXISTS geo_crm_sales_pairs_truncate();
DROP FUNCTION IF EXISTS geo_crm_sales_pairs_apply();

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
    SELECT geom INTO terr FROM distributor_territories WHERE distributor_id = seller_d;
    IF terr IS NOT NULL THEN
      SELECT location INTO loc FROM outlets WHERE id = NEW.buyer_id;
      IF loc IS NOT NULL AND NOT ST_Covers(terr, loc) THEN
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
