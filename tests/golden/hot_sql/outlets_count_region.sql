WITH RECURSIVE region_tree(id) AS 
(SELECT regions.id AS id 
FROM regions 
WHERE regions.code = %(region)s::VARCHAR UNION ALL SELECT region_tree_child.id AS id 
FROM regions AS region_tree_child, region_tree 
WHERE region_tree_child.parent_id = region_tree.id)
 SELECT count(*) AS count_1 
FROM outlets 
WHERE outlets.region_id IN (SELECT region_tree.id 
FROM region_tree)