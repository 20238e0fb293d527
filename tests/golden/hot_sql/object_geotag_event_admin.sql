SELECT geotag_events.id 
FROM geotag_events 
WHERE geotag_events.id = %(ident)s::BIGINT