WITH RECURSIVE managed_regions_event_outlet(id) AS 
(SELECT user_regions.region_id AS id 
FROM user_regions 
WHERE user_regions.user_id = %(scope_uid)s::INTEGER UNION SELECT managed_regions_event_outlet_child.id AS id 
FROM regions AS managed_regions_event_outlet_child, managed_regions_event_outlet 
WHERE managed_regions_event_outlet_child.parent_id = managed_regions_event_outlet.id), 
managed_regions_before(id) AS 
(SELECT user_regions.region_id AS id 
FROM user_regions 
WHERE user_regions.user_id = %(scope_uid)s::INTEGER UNION SELECT managed_regions_before_child.id AS id 
FROM regions AS managed_regions_before_child, managed_regions_before 
WHERE managed_regions_before_child.parent_id = managed_regions_before.id)
 SELECT geotag_events.id 
FROM geotag_events 
WHERE geotag_events.id = %(ident)s::BIGINT AND ((EXISTS (SELECT %(param_1)s::INTEGER AS anon_1 
FROM outlets AS event_outlet 
WHERE event_outlet.id = geotag_events.outlet_id AND event_outlet.region_id IN (SELECT managed_regions_event_outlet.id 
FROM managed_regions_event_outlet))) OR geotag_events.old_location IS NOT NULL AND geo_crm_region_for_point(geotag_events.old_location) IN (SELECT managed_regions_before.id 
FROM managed_regions_before))