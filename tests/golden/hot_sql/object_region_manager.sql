WITH RECURSIVE managed_regions_regions(id) AS 
(SELECT user_regions.region_id AS id 
FROM user_regions 
WHERE user_regions.user_id = %(scope_uid)s::INTEGER UNION SELECT managed_regions_regions_child.id AS id 
FROM regions AS managed_regions_regions_child, managed_regions_regions 
WHERE managed_regions_regions_child.parent_id = managed_regions_regions.id)
 SELECT regions.id 
FROM regions 
WHERE regions.code = %(ref)s::VARCHAR AND regions.id IN (SELECT managed_regions_regions.id 
FROM managed_regions_regions)