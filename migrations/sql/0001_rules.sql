-- Database-enforced rules of the geo_crm domain (initial migration 0001).
-- Errors use SQLSTATE 23514 (check_violation) and a CONSTRAINT name the app translates.

CREATE FUNCTION geo_crm_tier_rank(tier text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE tier WHEN 'distributor' THEN 1 WHEN 'wholesaler_2' THEN 2
                   WHEN 'wholesaler_3' THEN 3 WHEN 'retail' THEN 4 END
$$;

CREATE FUNCTION geo_crm_level_rank(level text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE level WHEN 'country' THEN 0 WHEN 'province' THEN 1
                    WHEN 'city' THEN 2 WHEN 'district' THEN 3 END
$$;

-- The smallest (deepest, then smallest-area) region whose boundary contains a point.
CREATE FUNCTION geo_crm_region_for_point(pt geometry) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT rp.region_id
    FROM region_parts rp JOIN regions r ON r.id = rp.region_id
   WHERE pt IS NOT NULL AND ST_Intersects(rp.geom, pt)
   ORDER BY rp.depth DESC, r.area_m2 ASC, r.id
   LIMIT 1
$$;

-- Outlets: a tier buys only from a higher tier; no parent loops; version and region kept in step.
CREATE FUNCTION geo_crm_outlets_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  parent_tier text;
  looped boolean;
BEGIN
  IF NEW.parent_id IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.parent_id IS DISTINCT FROM OLD.parent_id
                                    OR NEW.tier IS DISTINCT FROM OLD.tier) THEN
    -- FOR SHARE waits for a concurrent change of the parent's tier to finish
    SELECT tier INTO parent_tier FROM outlets WHERE id = NEW.parent_id FOR SHARE;
    IF parent_tier IS NULL THEN
      -- not yet visible (e.g. later in the same multi-row statement): its tier cannot be checked
      RAISE EXCEPTION 'parent outlet % must be stored before the outlets that buy from it', NEW.parent_id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'outlet_parent_tier';
    END IF;
    IF geo_crm_tier_rank(parent_tier) >= geo_crm_tier_rank(NEW.tier) THEN
      RAISE EXCEPTION 'a % outlet may not buy from a % outlet (a tier buys only from a higher tier)',
        NEW.tier, parent_tier
        USING ERRCODE = 'check_violation', CONSTRAINT = 'outlet_parent_tier';
    END IF;
    -- unreachable while tiers strictly fall along parent links; kept so that relaxing the tier
    -- rule (e.g. wholesalers buying from peers) cannot open the door to loops
    IF TG_OP = 'UPDATE' THEN
      WITH RECURSIVE up(id, parent_id, path) AS (
        SELECT o.id, o.parent_id, ARRAY[o.id] FROM outlets o WHERE o.id = NEW.parent_id
        UNION ALL
        SELECT o.id, o.parent_id, up.path || o.id
          FROM outlets o JOIN up ON o.id = up.parent_id
         WHERE NOT o.id = ANY(up.path)
      )
      SELECT bool_or(up.id = NEW.id) INTO looped FROM up;
      IF looped THEN
        RAISE EXCEPTION 'outlet % cannot buy from its own downstream network (parent cycle)', NEW.code
          USING ERRCODE = 'check_violation', CONSTRAINT = 'outlet_parent_cycle';
      END IF;
    END IF;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.tier IS DISTINCT FROM OLD.tier THEN
    IF EXISTS (SELECT 1 FROM outlets c WHERE c.parent_id = NEW.id
                AND geo_crm_tier_rank(c.tier) <= geo_crm_tier_rank(NEW.tier)) THEN
      RAISE EXCEPTION 'outlet % cannot become %: some of its buyers are of the same or a higher tier',
        NEW.code, NEW.tier
        USING ERRCODE = 'check_violation', CONSTRAINT = 'outlet_parent_tier';
    END IF;
    IF OLD.tier = 'distributor' AND (
         EXISTS (SELECT 1 FROM sales_plans p WHERE p.distributor_id = NEW.id)
      OR EXISTS (SELECT 1 FROM evaluations e WHERE e.distributor_id = NEW.id)) THEN
      RAISE EXCEPTION 'outlet % has plans or evaluations as a distributor and must stay one', NEW.code
        USING ERRCODE = 'check_violation', CONSTRAINT = 'outlet_distributor_records';
    END IF;
  END IF;
  -- a NULL region is always looked up again: a region loaded after the outlet may contain it
  IF TG_OP = 'INSERT' OR NEW.location IS DISTINCT FROM OLD.location
     OR NEW.region_id IS DISTINCT FROM OLD.region_id
     OR (NEW.region_id IS NULL AND NEW.location IS NOT NULL) THEN
    NEW.region_id := geo_crm_region_for_point(NEW.location);
  END IF;
  IF TG_OP = 'UPDATE' THEN
    NEW.updated_at := now();
    IF NEW.version = OLD.version THEN
      NEW.version := OLD.version + 1;  -- Core/bulk updates bump it too
    END IF;
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER trg_outlets_rules BEFORE INSERT OR UPDATE ON outlets
  FOR EACH ROW EXECUTE FUNCTION geo_crm_outlets_rules();

-- Regions: a parent is of a strictly higher level (so the tree cannot loop).
CREATE FUNCTION geo_crm_regions_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  parent_level text;
BEGIN
  IF NEW.parent_id IS NOT NULL THEN
    SELECT level INTO parent_level FROM regions WHERE id = NEW.parent_id FOR SHARE;
    IF geo_crm_level_rank(parent_level) >= geo_crm_level_rank(NEW.level) THEN
      RAISE EXCEPTION 'region % (%) cannot lie inside region of level %', NEW.code, NEW.level, parent_level
        USING ERRCODE = 'check_violation', CONSTRAINT = 'region_parent_level';
    END IF;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.level IS DISTINCT FROM OLD.level AND EXISTS (
       SELECT 1 FROM regions c WHERE c.parent_id = NEW.id
          AND geo_crm_level_rank(c.level) <= geo_crm_level_rank(NEW.level)) THEN
    RAISE EXCEPTION 'region % cannot become %: it has sub-regions of that level or above', NEW.code, NEW.level
      USING ERRCODE = 'check_violation', CONSTRAINT = 'region_parent_level';
  END IF;
  NEW.area_m2 := ST_Area(NEW.boundary::geography);
  IF NEW.label_point IS NULL OR TG_OP = 'INSERT' OR NOT ST_Equals(NEW.boundary, OLD.boundary) THEN
    NEW.label_point := ST_PointOnSurface(NEW.boundary);
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END $$;

CREATE TRIGGER trg_regions_rules BEFORE INSERT OR UPDATE ON regions
  FOR EACH ROW EXECUTE FUNCTION geo_crm_regions_rules();

-- Regions: keep the subdivided lookup pieces and the outlets' region in step with boundaries.
CREATE FUNCTION geo_crm_regions_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    UPDATE outlets SET region_id = NULL WHERE location && OLD.boundary;
    RETURN OLD;
  END IF;
  IF TG_OP = 'UPDATE' AND ST_Equals(NEW.boundary, OLD.boundary) AND NEW.level = OLD.level THEN
    RETURN NEW;
  END IF;
  DELETE FROM region_parts WHERE region_id = NEW.id;
  INSERT INTO region_parts (region_id, depth, geom)
  SELECT NEW.id, geo_crm_level_rank(NEW.level), ST_Subdivide(NEW.boundary, 64);
  -- setting region_id makes the outlet trigger recompute it
  UPDATE outlets SET region_id = NULL
   WHERE location && NEW.boundary
      OR region_id = NEW.id
      OR (TG_OP = 'UPDATE' AND location && OLD.boundary);
  RETURN NEW;
END $$;

CREATE TRIGGER trg_regions_sync AFTER INSERT OR UPDATE OR DELETE ON regions
  FOR EACH ROW EXECUTE FUNCTION geo_crm_regions_sync();

-- Sales plans and evaluations belong to distributors.
CREATE FUNCTION geo_crm_require_distributor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT tier FROM outlets WHERE id = NEW.distributor_id FOR SHARE) IS DISTINCT FROM 'distributor' THEN
    RAISE EXCEPTION '% must name a distributor (outlet id %)', TG_TABLE_NAME, NEW.distributor_id
      USING ERRCODE = 'check_violation', CONSTRAINT = TG_TABLE_NAME || '_distributor_tier';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER trg_sales_plans_distributor BEFORE INSERT OR UPDATE OF distributor_id ON sales_plans
  FOR EACH ROW EXECUTE FUNCTION geo_crm_require_distributor();
CREATE TRIGGER trg_evaluations_distributor BEFORE INSERT ON evaluations
  FOR EACH ROW EXECUTE FUNCTION geo_crm_require_distributor();

-- Evaluations are a history: never overwritten or removed.
CREATE FUNCTION geo_crm_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% are kept as history: add a new row instead of changing or deleting one', TG_TABLE_NAME
    USING ERRCODE = 'check_violation', CONSTRAINT = TG_TABLE_NAME || '_append_only';
END $$;

CREATE TRIGGER trg_evaluations_append_only BEFORE UPDATE OR DELETE ON evaluations
  FOR EACH ROW EXECUTE FUNCTION geo_crm_append_only();
CREATE TRIGGER trg_geotag_events_no_delete BEFORE DELETE ON geotag_events
  FOR EACH ROW EXECUTE FUNCTION geo_crm_append_only();

-- Geotag events: only the review decision may change after the fact.
CREATE FUNCTION geo_crm_geotag_events_review_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.outlet_id, NEW.old_location, NEW.new_location, NEW.accuracy_m, NEW.source, NEW.crs,
      NEW.user_id, NEW.captured_at, NEW.created_at)
     IS DISTINCT FROM
     (OLD.outlet_id, OLD.old_location, OLD.new_location, OLD.accuracy_m, OLD.source, OLD.crs,
      OLD.user_id, OLD.captured_at, OLD.created_at) THEN
    RAISE EXCEPTION 'geotag events are kept as history: only their review state may change'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'geotag_events_append_only';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER trg_geotag_events_review_only BEFORE UPDATE ON geotag_events
  FOR EACH ROW EXECUTE FUNCTION geo_crm_geotag_events_review_only();

-- Sales records: the seller is of a higher tier than the buyer.
CREATE FUNCTION geo_crm_sales_records_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  seller_tier text;
  buyer_tier text;
BEGIN
  SELECT tier INTO seller_tier FROM outlets WHERE id = NEW.seller_id;
  SELECT tier INTO buyer_tier FROM outlets WHERE id = NEW.buyer_id;
  IF geo_crm_tier_rank(seller_tier) >= geo_crm_tier_rank(buyer_tier) THEN
    RAISE EXCEPTION 'a % outlet may not buy from a % outlet (a tier buys only from a higher tier)',
      buyer_tier, seller_tier
      USING ERRCODE = 'check_violation', CONSTRAINT = 'sales_record_seller_tier';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER trg_sales_records_rules BEFORE INSERT OR UPDATE OF seller_id, buyer_id ON sales_records
  FOR EACH ROW EXECUTE FUNCTION geo_crm_sales_records_rules();

-- Payments add to (or, when changed or removed, take back from) the record's amount_paid;
-- the record's CHECK (amount_paid <= amount) then refuses an overpayment.
CREATE FUNCTION geo_crm_payments_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE sales_records SET amount_paid = amount_paid - OLD.amount WHERE id = OLD.sales_record_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    UPDATE sales_records SET amount_paid = amount_paid + NEW.amount WHERE id = NEW.sales_record_id;
    RETURN NEW;
  END IF;
  RETURN OLD;
END $$;

CREATE TRIGGER trg_payments_apply AFTER INSERT OR UPDATE OR DELETE ON payments
  FOR EACH ROW EXECUTE FUNCTION geo_crm_payments_apply();
