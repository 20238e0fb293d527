SELECT users.id, users.username, users.role, users.locale, api_tokens.id AS id_1, api_tokens.last_used_at IS NULL OR api_tokens.last_used_at < now() - %(param_1)s AS anon_1, CASE WHEN (users.role = %(role_1)s::VARCHAR) THEN coalesce((SELECT outlets.id 
FROM outlets 
WHERE outlets.code = %(ref)s::VARCHAR), %(param_2)s::BIGINT) WHEN (users.role = %(role_2)s::VARCHAR) THEN coalesce((SELECT outlets.id 
FROM outlets 
WHERE outlets.code = %(ref)s::VARCHAR AND (outlets.rep_id = users.id OR outlets.created_by_id = users.id)), %(param_3)s::BIGINT) ELSE NULL END AS anon_2 
FROM api_tokens JOIN users ON users.id = api_tokens.user_id 
WHERE api_tokens.token_hash = %(h)s::VARCHAR AND api_tokens.revoked_at IS NULL AND users.active