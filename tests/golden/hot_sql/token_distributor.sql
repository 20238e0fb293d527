SELECT users.id, users.username, users.role, users.locale, api_tokens.id AS id_1, api_tokens.last_used_at IS NULL OR api_tokens.last_used_at < now() - %(param_1)s AS anon_1 
FROM api_tokens JOIN users ON users.id = api_tokens.user_id 
WHERE api_tokens.token_hash = %(h)s::VARCHAR AND api_tokens.revoked_at IS NULL AND users.active