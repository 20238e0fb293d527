-- Tell every geo_crm process when a token's answer may have changed: they cache
-- "this token belongs to that active user, with this role" (geo_crm/auth/token_cache.py)
-- and forget it all on this notification. Statement-level, so a bulk change sends one;
-- PostgreSQL folds identical notifications of a transaction into one, sent at commit.
CREATE FUNCTION geo_crm_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('geo_crm_auth', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

-- last_used_at is not listed: its once-a-minute touch must not empty every cache
CREATE TRIGGER trg_api_tokens_auth_changed
    AFTER UPDATE OF token_hash, user_id, revoked_at OR DELETE OR TRUNCATE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_auth_changed();

-- the columns a cached principal holds, and whether the user may act at all
CREATE TRIGGER trg_users_auth_changed
    AFTER UPDATE OF id, username, role, active, locale OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_auth_changed();
