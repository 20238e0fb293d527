WITH RECURSIVE region_tree(id) AS 
(SELECT regions.id AS id 
FROM regions 
WHERE regions.code = %(region)s::VARCHAR UNION ALL SELECT region_tree_child.id AS id 
FROM regions AS region_tree_child, region_tree 
WHERE region_tree_child.parent_id = region_tree.id), 
network(id, parent_id, depth) AS 
(SELECT outlets.id AS id, outlets.parent_id AS parent_id, %(param_1)s::INTEGER AS depth 
FROM outlets 
WHERE outlets.code = %(distributor)s::VARCHAR UNION ALL SELECT network_child.id AS id, network_child.parent_id AS parent_id, network.depth + %(depth_1)s::INTEGER AS depth 
FROM outlets AS network_child, network 
WHERE network_child.parent_id = network.id AND network.depth < %(depth_2)s::INTEGER)
 SELECT page.id, page.code, page.name, page.tier, page.status, page.parent_id, parent.code AS parent_code, page.lon, page.lat, page.region_id, region.code AS region_code, page.address, page.contact, page.phone, page.rep_id, page.notes, page.version, page.created_at, page.updated_at, page.total, page.distance_m 
FROM (SELECT counted.id AS id, counted.code AS code, counted.name AS name, counted.tier AS tier, counted.status AS status, counted.parent_id AS parent_id, counted.region_id AS region_id, counted.address AS address, counted.contact AS contact, counted.phone AS phone, counted.rep_id AS rep_id, counted.notes AS notes, counted.version AS version, counted.created_at AS created_at, counted.updated_at AS updated_at, counted.lon AS lon, counted.lat AS lat, counted.distance_m AS distance_m, counted.total AS total 
FROM (SELECT measured.id AS id, measured.code AS code, measured.name AS name, measured.tier AS tier, measured.status AS status, measured.parent_id AS parent_id, measured.region_id AS region_id, measured.address AS address, measured.contact AS contact, measured.phone AS phone, measured.rep_id AS rep_id, measured.notes AS notes, measured.version AS version, measured.created_at AS created_at, measured.updated_at AS updated_at, measured.lon AS lon, measured.lat AS lat, measured.distance_m AS distance_m, count(*) OVER () AS total 
FROM (SELECT outlets.id AS id, outlets.code AS code, outlets.name AS name, outlets.tier AS tier, outlets.status AS status, outlets.parent_id AS parent_id, outlets.region_id AS region_id, outlets.address AS address, outlets.contact AS contact, outlets.phone AS phone, outlets.rep_id AS rep_id, outlets.notes AS notes, outlets.version AS version, outlets.created_at AS created_at, outlets.updated_at AS updated_at, ST_X(outlets.location) AS lon, ST_Y(outlets.location) AS lat, ST_Distance(CAST(outlets.location AS geography(GEOMETRY,4326)), CAST(ST_SetSRID(ST_MakePoint(%(near_lon)s, %(near_lat)s), %(ST_SetSRID_1)s::INTEGER) AS geography(GEOMETRY,4326))) AS distance_m 
FROM outlets 
WHERE outlets.location IS NOT NULL AND (outlets.location && ST_MakeEnvelope(%(box_x0)s, %(box_y0)s, %(box_x1)s, %(box_y1)s, %(ST_MakeEnvelope_1)s::INTEGER)) AND ST_DWithin(outlets.location, ST_SetSRID(ST_MakePoint(%(near_lon)s, %(near_lat)s), %(ST_SetSRID_1)s::INTEGER), %(radius_deg)s) AND outlets.region_id IN (SELECT region_tree.id 
FROM region_tree) AND outlets.id IN (SELECT network.id 
FROM network)
 LIMIT ALL OFFSET %(param_2)s::INTEGER) AS measured 
WHERE measured.distance_m <= %(radius_m)s) AS counted ORDER BY counted.distance_m, counted.id 
 LIMIT %(page_limit)s::INTEGER OFFSET %(page_offset)s::INTEGER) AS page LEFT OUTER JOIN outlets AS parent ON parent.id = page.parent_id LEFT OUTER JOIN regions AS region ON region.id = page.region_id ORDER BY page.distance_m, page.id