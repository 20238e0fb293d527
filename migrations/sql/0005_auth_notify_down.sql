DROP TRIGGER IF EXISTS trg_users_auth_changed ON users;
DROP TRIGGER IF EXISTS trg_api_tokens_auth_changed ON api_tokens;
DROP FUNCTION IF EXISTS geo_crm_auth_changed();
