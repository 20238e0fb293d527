WITH RECURSIVE managed_regions_outlets(id) AS 
(SELECT user_regions.region_id AS id 
FROM user_regions 
WHERE user_regions.user_id = %(scope_uid)s::INTEGER UNION SELECT managed_regions_outlets_child.id AS id 
FROM regions AS managed_regions_outlets_child, managed_regions_outlets 
WHERE managed_regions_outlets_child.parent_id = managed_regions_outlets.id), 
cur AS 
(SELECT outlets.id AS id, outlets.name AS name, outlets.version AS version, outlets.location AS location, outlets.region_id AS region_id 
FROM outlets 
WHERE outlets.code = %(code)s::VARCHAR AND outlets.region_id IN (SELECT managed_regions_outlets.id 
FROM managed_regions_outlets)), 
near AS 
(SELECT cur.id AS id, ST_DistanceSpheroid(cur.location, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), %(ST_SetSRID_1)s::INTEGER), 'SPHEROID["WGS 84",6378137,298.257223563]'::spheroid) AS jump_m, geo_crm_active_outlets_near(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), %(ST_SetSRID_1)s::INTEGER), %(radius_deg)s, %(radius_m)s, cur.id) AS nearby 
FROM cur), 
moved AS 
(UPDATE outlets SET location=ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), %(ST_SetSRID_1)s::INTEGER), version=(outlets.version + %(version_1)s::INTEGER) FROM near WHERE outlets.id = near.id AND outlets.version = %(version)s::INTEGER AND near.nearby IS NOT DISTINCT FROM %(checked)s::TEXT[] RETURNING outlets.id, outlets.version, outlets.region_id), 
verdict AS 
(SELECT v.id AS id, v.version AS version, v.region_id AS region_id, v.outside AS outside, v.old_region AS old_region, v.jump_m AS jump_m, v.jump_rounded AS jump_rounded, array_remove(ARRAY[CASE WHEN v.outside THEN %(coalesce_1)s::VARCHAR || coalesce(v.old_region, %(coalesce_2)s::VARCHAR) ELSE NULL END, CASE WHEN (v.jump_m > %(max_jump_m)s) THEN %(param_1)s::VARCHAR || CAST(v.jump_rounded AS TEXT) ELSE NULL END], NULL) || %(dup_flags)s::TEXT[] AS flags 
FROM (SELECT moved.id AS id, moved.version AS version, moved.region_id AS region_id, CASE WHEN (cur.region_id IS NULL) THEN false WHEN (moved.region_id = cur.region_id) THEN false ELSE NOT (EXISTS (SELECT %(param_2)s::INTEGER AS anon_1 
FROM region_parts 
WHERE region_parts.region_id = cur.region_id AND ST_Intersects(region_parts.geom, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), %(ST_SetSRID_1)s::INTEGER)))) END AS outside, (SELECT regions.code 
FROM regions 
WHERE regions.id = cur.region_id) AS old_region, near.jump_m AS jump_m, CAST(round(near.jump_m) AS INTEGER) AS jump_rounded 
FROM moved JOIN cur ON cur.id = moved.id JOIN near ON near.id = moved.id
 LIMIT ALL OFFSET 0) AS v), 
ins AS 
(INSERT INTO geotag_events (outlet_id, old_location, new_location, accuracy_m, source, crs, state, flags, user_id, captured_at) SELECT verdict.id AS id, cur.location AS location, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), %(ST_SetSRID_1)s::INTEGER) AS "ST_SetSRID_2", %(accuracy_m)s AS anon_2, %(source)s::VARCHAR AS anon_3, %(crs)s::VARCHAR AS anon_4, CASE WHEN (cardinality(verdict.flags) > %(cardinality_1)s::INTEGER) THEN %(param_3)s::VARCHAR ELSE %(param_4)s::VARCHAR END AS anon_5, verdict.flags AS flags, %(user_id)s::INTEGER AS anon_6, %(captured_at)s::TIMESTAMP WITH TIME ZONE AS anon_7 
FROM verdict JOIN cur ON cur.id = verdict.id 
WHERE geo_crm_require_region(verdict.region_id) RETURNING geotag_events.id, geotag_events.state, geotag_events.flags, geotag_events.created_at)
 SELECT cur.id, cur.name, cur.version AS read_version, near.nearby, verdict.version, (SELECT regions.code 
FROM regions 
WHERE regions.id = verdict.region_id) AS region, verdict.old_region, verdict.jump_m, verdict.jump_rounded, ins.id AS event_id, ins.state, ins.flags, ins.created_at 
FROM cur JOIN near ON near.id = cur.id LEFT OUTER JOIN verdict ON verdict.id = cur.id LEFT OUTER JOIN ins ON true