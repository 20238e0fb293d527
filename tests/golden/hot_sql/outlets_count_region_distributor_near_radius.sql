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
 SELECT count(*) AS count_1 
FROM outlets 
WHERE outlets.region_id IN (SELECT region_tree.id 
FROM region_tree) AND outlets.id IN (SELECT network.id 
FROM network) AND outlets.location IS NOT NULL AND ST_DWithin(outlets.location, ST_SetSRID(ST_MakePoint(%(near_lon)s, %(near_lat)s), %(ST_SetSRID_1)s::INTEGER), %(radius_deg)s) AND ST_DWithin(CAST(outlets.location AS geography(GEOMETRY,4326)), CAST(ST_SetSRID(ST_MakePoint(%(near_lon)s, %(near_lat)s), %(ST_SetSRID_1)s::INTEGER) AS geography(GEOMETRY,4326)), %(radius_m)s)