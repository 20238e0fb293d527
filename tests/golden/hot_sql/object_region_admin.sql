SELECT regions.id 
FROM regions 
WHERE regions.code = %(ref)s::VARCHAR