-- Outlet change history (客户变动): one row per changed field (supplier = parent_id, status,
-- tier) of every updated outlet, with who (SET LOCAL geo_crm.user_id) and when. One
-- statement-level trigger over the transition tables, so a bulk update costs one INSERT.
CREATE FUNCTION geo_crm_outlet_changes() RETURNS trigger LANGUAGE plpgsql AS $$
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
  RETURN NULL;
END $$;

CREATE TRIGGER trg_outlets_changes AFTER UPDATE ON outlets
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_outlet_changes();

CREATE TRIGGER trg_outlet_changes_append_only BEFORE UPDATE OR DELETE ON outlet_changes
  FOR EACH ROW EXECUTE FUNCTION geo_crm_append_only();

-- Territories (经销区域) of distributors, and cross-territory sales (窜货).
CREATE TRIGGER trg_distributor_territories_distributor
  BEFORE INSERT OR UPDATE OF distributor_id ON distributor_territories
  FOR EACH ROW EXECUTE FUNCTION geo_crm_require_distributor();

-- The distributor at the top of an outlet's supply chain (itself for a distributor; NULL
-- when the chain ends below the distributor tier).
CREATE FUNCTION geo_crm_root_distributor(outlet bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
  cur bigint := outlet;
  cur_tier text;
  up bigint;
BEGIN
  FOR hop IN 0..8 LOOP
    SELECT tier, parent_id INTO cur_tier, up FROM outlets WHERE id = cur;
    IF NOT FOUND THEN
      RETURN NULL;
    END IF;
    IF cur_tier = 'distributor' THEN
      RETURN cur;
    END IF;
    IF up IS NULL THEN
      RETURN NULL;
    END IF;
    cur := up;
  END LOOP;
  RETURN NULL;
END $$;

-- A sell-out record is flagged (stored, pending review) when its buyer lies outside the
-- territory of the seller's distributor (``outside_territory``, with the distance in metres)
-- or belongs to another distributor's network (``other_network``). Recomputed when the seller
-- or buyer changes; other flags (over_credit_limit) are left alone.
CREATE FUNCTION geo_crm_sales_territory_check() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER trg_sales_records_territory
  BEFORE INSERT OR UPDATE OF seller_id, buyer_id ON sales_records
  FOR EACH ROW WHEN (NEW.seller_id IS NOT NULL) EXECUTE FUNCTION geo_crm_sales_territory_check();
