"""The per-process token cache: used only while its listener listens, and emptied by every
committed change to a token or user (migration 0005's NOTIFY), whichever process made it.

These tests commit (a cache can only trust what is committed and announced), so each cleans
up the users it made.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo_crm import create_app
from geo_crm.auth.token_cache import TokenCache
from geo_crm.auth.tokens import _cache, create_token, hash_token
from geo_crm.domain.users import create_user

API = "/api/v1"


def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def live_app(engine, pg_cluster):
    """An app on the real, committing engine (not the tests' rolled-back connection)."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": pg_cluster.url,
            "SECRET_KEY": "cache",
            "GEO_CRM_TOKEN_CACHE_S": 30,
        }
    )
    app.extensions["geo_crm_db"].use_engine(engine)
    yield app
    if "geo_crm_token_cache" in app.extensions:
        app.extensions["geo_crm_token_cache"].stop()


@pytest.fixture
def admin_token(engine):
    """A committed admin and their token; both deleted afterwards."""
    with Session(engine) as session:
        user = create_user(session, "cache_admin", "admin", None)
        secret = create_token(session, user.id, "cache").token
        session.commit()
    yield secret
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE username LIKE 'cache_%'"))


def cache_of(app) -> TokenCache:
    return app.extensions["geo_crm_token_cache"]


def get(client, secret):
    return client.get(f"{API}/outlets?limit=1", headers={"Authorization": f"Bearer {secret}"})


def warm(app, client, secret) -> TokenCache:
    """Ask until the listener is live and the token's answer is cached."""
    assert get(client, secret).status_code == 200
    cache = cache_of(app)
    assert wait_until(cache.is_live)
    assert get(client, secret).status_code == 200
    assert cache.get(hash_token(secret)) is not None
    return cache


def test_a_cached_token_is_answered_without_a_lookup(live_app, admin_token, engine):
    client = live_app.test_client()
    cache = warm(live_app, client, admin_token)
    with engine.begin() as conn:  # change the row behind the cache's back, without the trigger
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("UPDATE users SET role = 'rep' WHERE username = 'cache_admin'"))
    assert cache.get(hash_token(admin_token)).role == "admin"  # nobody announced the change
    admins_only = client.get(
        f"{API}/tokens?all=true", headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert admins_only.status_code == 200  # answered from the cache, not the database
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET role = 'admin' WHERE username = 'cache_admin'"))
    assert wait_until(lambda: cache.get(hash_token(admin_token)) is None)
    assert get(client, admin_token).status_code == 200


def test_revoking_in_another_process_stops_the_token_at_once(live_app, admin_token, engine):
    client = live_app.test_client()
    cache = warm(live_app, client, admin_token)
    before = cache.generation()
    # another connection commits the revocation, as the CLI in another process would
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = :h"),
            {"h": hash_token(admin_token)},
        )
    assert wait_until(lambda: cache.generation() != before, timeout=2)
    refused = get(client, admin_token)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("change", "status", "role"),
    [
        ("UPDATE users SET active = false WHERE username = 'cache_admin'", 401, None),
        ("UPDATE users SET role = 'rep' WHERE username = 'cache_admin'", 200, "rep"),
        ("DELETE FROM api_tokens WHERE name = 'cache'", 401, None),
    ],
)
def test_every_change_that_decides_a_token_empties_the_cache(
    live_app, admin_token, engine, change, status, role
):
    client = live_app.test_client()
    cache = warm(live_app, client, admin_token)
    with engine.begin() as conn:
        conn.execute(text(change))
    assert wait_until(lambda: cache.get(hash_token(admin_token)) is None, timeout=2)
    assert get(client, admin_token).status_code == status
    cached = cache.get(hash_token(admin_token))
    assert (cached.role if cached else None) == role  # a rep now, as the database says


def test_touching_last_used_at_does_not_empty_the_cache(live_app, admin_token, engine):
    client = live_app.test_client()
    cache = warm(live_app, client, admin_token)
    before = cache.generation()
    with engine.begin() as conn:
        conn.execute(text("UPDATE api_tokens SET last_used_at = now() WHERE name = 'cache'"))
        conn.execute(text("UPDATE users SET display_name = 'x' WHERE username = 'cache_admin'"))
    time.sleep(0.2)
    assert cache.generation() == before
    assert cache.get(hash_token(admin_token)) is not None


def test_without_its_listener_the_cache_is_not_used(live_app, admin_token, engine):
    client = live_app.test_client()
    cache = warm(live_app, client, admin_token)
    with engine.begin() as conn:
        killed = conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query = 'LISTEN geo_crm_auth' AND pid <> pg_backend_pid()"
            )
        ).all()
    assert killed
    assert wait_until(lambda: not cache.is_live(), timeout=2)
    assert cache.get(hash_token(admin_token)) is None
    with engine.begin() as conn:  # unannounced: only a lookup can see it
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("UPDATE users SET active = false WHERE username = 'cache_admin'"))
    assert get(client, admin_token).status_code == 401
    assert wait_until(cache.is_live, timeout=5)  # it reconnects by itself


def test_an_answer_read_before_a_change_is_not_stored(engine):
    from geo_crm.domain.principal import Principal

    cache = TokenCache(engine, 30)
    generation = cache.generation()  # starts the listener
    assert wait_until(cache.is_live)
    generation = cache.generation()
    cache.forget()  # a notification arrives while the lookup is on its way
    cache.put("h", Principal(1, "x", "admin"), generation)
    assert cache.get("h") is None
    cache.put("h", Principal(1, "x", "admin"), cache.generation())
    assert cache.get("h") is not None
    cache.stop()
    assert cache.get("h") is None and not cache.is_live()


def test_sessions_bound_to_an_outer_transaction_skip_the_cache(app, session):
    with app.app_context():
        assert _cache(session) is None  # the tests' rolled-back changes are never announced


def test_a_zero_lifetime_turns_the_cache_off(engine, pg_cluster, admin_token):
    app = create_app(
        {"TESTING": True, "DATABASE_URL": pg_cluster.url, "SECRET_KEY": "x",
         "GEO_CRM_TOKEN_CACHE_S": 0}
    )  # fmt: skip
    app.extensions["geo_crm_db"].use_engine(engine)
    client = app.test_client()
    assert get(client, admin_token).status_code == 200
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("UPDATE users SET active = false WHERE username = 'cache_admin'"))
    assert get(client, admin_token).status_code == 401


def test_the_cache_holds_a_bounded_number_of_tokens(engine, monkeypatch):
    from geo_crm.auth import token_cache
    from geo_crm.domain.principal import Principal

    monkeypatch.setattr(token_cache, "MAX_ENTRIES", 3)
    cache = TokenCache(engine, 30)
    try:
        cache.generation()
        assert wait_until(cache.is_live)
        for i in range(4):
            cache.put(f"h{i}", Principal(i, "x", "admin"), cache.generation())
        assert cache.get("h3") is not None and cache.get("h0") is None
    finally:
        cache.stop()
