WITH RECURSIVE rep_regions(id) AS 
(SELECT DISTINCT outlets.region_id AS id 
FROM outlets 
WHERE (outlets.rep_id = %(scope_uid)s::INTEGER OR outlets.created_by_id = %(scope_uid)s::INTEGER) AND outlets.region_id IS NOT NULL UNION SELECT parent_region.id AS id 
FROM regions AS parent_region JOIN regions AS child_of ON child_of.parent_id = parent_region.id, rep_regions 
WHERE child_of.id = rep_regions.id)
 SELECT regions.id 
FROM regions 
WHERE regions.code = %(ref)s::VARCHAR AND regions.id IN (SELECT rep_regions.id 
FROM rep_regions)