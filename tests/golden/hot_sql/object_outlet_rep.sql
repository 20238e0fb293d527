SELECT outlets.id 
FROM outlets 
WHERE outlets.code = %(ref)s::VARCHAR AND (outlets.rep_id = %(scope_uid)s::INTEGER OR outlets.created_by_id = %(scope_uid)s::INTEGER)