DROP FUNCTION IF EXISTS geo_crm_require_region(integer);
DROP FUNCTION IF EXISTS geo_crm_active_outlets_near(geometry, double precision, double precision, bigint);

-- back to the 0001 definition
CREATE OR REPLACE FUNCTION geo_crm_region_for_point(pt geometry) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT rp.region_id
    FROM region_parts rp JOIN regions r ON r.id = rp.region_id
   WHERE pt IS NOT NULL AND ST_Intersects(rp.geom, pt)
   ORDER BY rp.depth DESC, r.area_m2 ASC, r.id
   LIMIT 1
$$;
