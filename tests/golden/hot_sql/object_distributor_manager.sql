WITH RECURSIVE managed_regions_outlets(id) AS 
(SELECT user_regions.region_id AS id 
FROM user_regions 
WHERE user_regions.user_id = %(scope_uid)s::INTEGER UNION SELECT managed_regions_outlets_child.id AS id 
FROM regions AS managed_regions_outlets_child, managed_regions_outlets 
WHERE managed_regions_outlets_child.parent_id = managed_regions_outlets.id)
 SELECT outlets.id 
FROM outlets 
WHERE outlets.code = %(ref)s::VARCHAR AND outlets.region_id IN (SELECT managed_regions_outlets.id 
FROM managed_regions_outlets)