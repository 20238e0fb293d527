SELECT outlets.id, outlets.code, outlets.name, outlets.tier, outlets.status, outlets.parent_id, parent.code AS parent_code, ST_X(outlets.location) AS lon, ST_Y(outlets.location) AS lat, outlets.region_id, region.code AS region_code, outlets.address, outlets.contact, outlets.phone, outlets.rep_id, outlets.notes, outlets.version, outlets.created_at, outlets.updated_at, (SELECT count(*) AS count_1 
FROM outlets AS counted 
WHERE counted.location IS NOT NULL) AS total, NULL AS distance_m 
FROM outlets LEFT OUTER JOIN outlets AS parent ON parent.id = outlets.parent_id LEFT OUTER JOIN regions AS region ON region.id = outlets.region_id 
WHERE outlets.location IS NOT NULL ORDER BY outlets.id 
 LIMIT %(page_limit)s::INTEGER OFFSET %(page_offset)s::INTEGER