SELECT count(*) AS count_1 
FROM outlets 
WHERE (outlets.location && ST_MakeEnvelope(%(bbox_x0)s, %(bbox_y0)s, %(bbox_x1)s, %(bbox_y1)s, %(ST_MakeEnvelope_1)s::INTEGER)) AND (outlets.name ILIKE %(q)s::VARCHAR ESCAPE '\' OR outlets.code ILIKE %(q)s::VARCHAR ESCAPE '\')