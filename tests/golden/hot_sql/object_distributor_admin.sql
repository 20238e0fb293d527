SELECT outlets.id 
FROM outlets 
WHERE outlets.code = %(ref)s::VARCHAR