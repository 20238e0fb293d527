SELECT geotag_events.id 
FROM geotag_events 
WHERE geotag_events.id = %(ident)s::BIGINT AND (EXISTS (SELECT %(param_1)s::INTEGER AS anon_1 
FROM outlets AS event_outlet 
WHERE event_outlet.id = geotag_events.outlet_id AND (event_outlet.rep_id = %(scope_uid)s::INTEGER OR event_outlet.created_by_id = %(scope_uid)s::INTEGER)))