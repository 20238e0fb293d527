WITH RECURSIVE network(id, parent_id, depth) AS 
(SELECT outlets.id AS id, outlets.parent_id AS parent_id, %(param_1)s::INTEGER AS depth 
FROM outlets 
WHERE outlets.code = %(distributor)s::VARCHAR UNION ALL SELECT network_child.id AS id, network_child.parent_id AS parent_id, network.depth + %(depth_1)s::INTEGER AS depth 
FROM outlets AS network_child, network 
WHERE network_child.parent_id = network.id AND network.depth < %(depth_2)s::INTEGER)
 SELECT count(*) AS count_1 
FROM outlets 
WHERE outlets.id IN (SELECT network.id 
FROM network)