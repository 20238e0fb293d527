WITH RECURSIVE rep_regions(id) AS 
(SELECT DISTINCT outlets.region_id AS id 
FROM outlets 
WHERE (outlets.rep_id = %(scope_uid)s::INTEGER OR outlets.created_by_id = %(scope_uid)s::INTEGER) AND outlets.region_id IS NOT NULL UNION SELECT rep_regions_parent.id AS id 
FROM regions AS rep_regions_parent JOIN regions AS rep_regions_of ON rep_regions_of.parent_id = rep_regions_parent.id, rep_regions 
WHERE rep_regions_of.id = rep_regions.id)
 SELECT regions.id 
FROM regions 
WHERE regions.code = %(ref)s::VARCHAR AND regions.id IN (SELECT rep_regions.id 
FROM rep_regions)