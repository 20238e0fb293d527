-- Cached plans for the geotag path (migration 0004).
--
-- A SQL function that cannot be inlined is planned again in every statement (every
-- transaction, when a trigger calls it), and a prepared statement with a spatial condition on
-- a bound point is re-planned on every execution: its generic plan, costed with PostGIS's
-- default selectivity for `&&` on an unknown geometry, always looks dearer than a custom one,
-- so PostgreSQL never switches to it. PL/pgSQL keeps its statements' plans for the session;
-- `plan_cache_mode = force_generic_plan` on the function makes that one plan the generic one
-- (an index probe either way: what a custom plan would do).

-- The smallest (deepest, then smallest-area) region whose boundary contains a point. Same
-- answer as the 0001 version; PL/pgSQL so the look-up is planned once per session.
CREATE OR REPLACE FUNCTION geo_crm_region_for_point(pt geometry) RETURNS integer
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  IF pt IS NULL THEN
    RETURN NULL;
  END IF;
  RETURN (SELECT rp.region_id
            FROM region_parts rp JOIN regions r ON r.id = rp.region_id
           WHERE ST_Intersects(rp.geom, pt)
           ORDER BY rp.depth DESC, r.area_m2 ASC, r.id
           LIMIT 1);
END $$;

-- Active outlets within radius_m metres of pt, other than exclude_id (NULL: none excluded), as
-- code || chr(31) || name in code order; NULL when there are none. radius_deg is a radius in
-- degrees that surely covers radius_m (the GiST prefilter); the geography test is the exact one.
CREATE FUNCTION geo_crm_active_outlets_near(
  pt geometry, radius_deg double precision, radius_m double precision, exclude_id bigint
) RETURNS text[]
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  RETURN (SELECT array_agg(o.code || chr(31) || o.name ORDER BY o.code)
            FROM outlets o
           WHERE o.status = 'active'
             AND o.id IS DISTINCT FROM exclude_id
             AND ST_DWithin(o.location, pt, radius_deg)
             AND ST_DWithin(o.location::geography, pt::geography, radius_m));
END $$;

-- TRUE for a region id; for NULL (a point outside every loaded region) an error, which undoes
-- the statement that asked: a geotag written in one autocommitted statement refuses such a
-- point this way, after the outlet trigger has looked its region up.
CREATE FUNCTION geo_crm_require_region(region_id integer) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF region_id IS NULL THEN
    RAISE EXCEPTION 'the point lies outside every loaded region'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'geotag_point_in_a_region';
  END IF;
  RETURN true;
END $$;
