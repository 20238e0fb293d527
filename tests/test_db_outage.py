"""A database outage answers 503 with the JSON error shape (or an HTML page) and Retry-After,
``/healthz`` names the dependency that is down, and the app recovers when the database is back.

Tested for real: a second throwaway cluster is stopped and started under a running app (the
shared test cluster must keep serving every other test).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from auth_helpers import PASSWORD, login

from geo_crm import create_app
from geo_crm.db.cluster import LocalCluster

pytestmark = pytest.mark.slow

API = "/api/v1"


@pytest.fixture(scope="module")
def cluster():
    base = Path(tempfile.mkdtemp(prefix="gcrm-outage-"))
    os.chmod(base, 0o755)
    cluster = LocalCluster.for_dir(base / "pg", dbname="geo_crm_outage", fast_unsafe=True)
    cluster.ensure_database()
    yield cluster
    cluster.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def running(cluster):
    cluster.start()
    yield cluster
    cluster.start()  # a failed test must not leave the next one without a server


def _app(cluster):
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": cluster.url,
            "SECRET_KEY": "outage",
            "GEO_CRM_AUTH_REQUIRED": True,
            "GEO_CRM_TOKEN_CACHE_S": 0,  # every Bearer request asks the database
        }
    )


def _dispose(app):
    cache = app.extensions.get("geo_crm_token_cache")
    if cache is not None:
        cache.stop()
    app.extensions["geo_crm_db"].dispose()


def _admin(app, username: str) -> str:
    """An admin with a password and a token, made through the services; the token."""
    from geo_crm.auth.tokens import create_token
    from geo_crm.db import get_db
    from geo_crm.domain.users import create_user

    with app.app_context(), get_db().session() as session:
        user = create_user(session, username, "admin", PASSWORD)
        token = create_token(session, user.id, "outage test").token
        session.commit()
    return token


def _assert_unavailable(response, cluster, *, html: bool = False) -> dict | None:
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert int(response.headers["Retry-After"]) > 0
    text = response.get_data(as_text=True)
    for leak in (
        str(cluster.socket_dir),
        "psycopg",
        "sqlalchemy",
        "Traceback",
        "SELECT",
        ".s.PGSQL",
    ):
        assert leak not in text, leak
    if html:
        assert response.mimetype == "text/html"
        assert "503" in text
        return None
    assert response.mimetype == "application/json"
    body = response.get_json()
    error = body["error"]
    assert set(error) <= {"code", "message", "fields", "detail"}
    assert error["code"] == "service_unavailable"
    assert isinstance(error["message"], str) and error["message"]
    return body


def test_an_outage_answers_503_everywhere_and_the_pool_recovers(running):
    cluster = running
    app = _app(cluster)
    try:
        token = _admin(app, "outage-admin")
        api = app.test_client()
        api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        browser = app.test_client()
        assert login(browser, "outage-admin").status_code == 302
        health = app.test_client().get("/healthz")
        assert health.status_code == 200
        assert health.get_json() == {"status": "ok", "checks": {"database": "ok"}}
        assert api.get(f"{API}/outlets").status_code == 200
        assert browser.get("/").status_code == 200

        cluster.stop()

        down = app.test_client().get("/healthz")
        body = _assert_unavailable(down, cluster)
        assert body["status"] == "unavailable"
        assert body["checks"]["database"].startswith("down: ")
        assert len(body["checks"]["database"]) < 80
        assert set(_assert_unavailable(api.get(f"{API}/outlets"), cluster)) == {"error"}
        assert set(_assert_unavailable(api.get(f"{API}/outlets/X1"), cluster)) == {"error"}
        _assert_unavailable(browser.get("/"), cluster, html=True)  # the cookie check fails
        _assert_unavailable(
            browser.get("/", headers={"Accept": "application/json"}), cluster
        )  # content negotiation, as for every error
        _assert_unavailable(api.get("/", headers={"Accept": "text/html"}), cluster, html=True)
        # a state change is refused the same way (the cookie check comes first)
        logout = browser.post("/logout", data={"csrf_token": "x"})
        _assert_unavailable(logout, cluster, html=True)

        cluster.start()

        again = app.test_client().get("/healthz")
        assert again.status_code == 200, again.get_data(as_text=True)
        assert api.get(f"{API}/outlets").status_code == 200
        assert browser.get("/").status_code == 200  # the session survived the outage
    finally:
        _dispose(app)


def test_an_app_started_while_the_database_is_down_answers_503_until_it_is_up(running):
    cluster = running
    warm = _app(cluster)
    try:
        token = _admin(warm, "outage-admin2")
    finally:
        _dispose(warm)
    cluster.stop()
    app = _app(cluster)  # builds its engine on first use: that first use fails
    try:
        body = _assert_unavailable(app.test_client().get("/healthz"), cluster)
        assert body["checks"]["database"].startswith("down: ")
        api = app.test_client()
        api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        _assert_unavailable(api.get(f"{API}/regions"), cluster)
        cluster.start()
        assert app.test_client().get("/healthz").status_code == 200
        assert api.get(f"{API}/regions").status_code == 200
    finally:
        _dispose(app)


def test_healthz_body_is_small_and_stable(app, anon_client):
    """On the shared cluster: what monitors read when all is well."""
    response = anon_client.get("/healthz")
    assert response.status_code == 200
    assert json.loads(response.get_data()) == {"status": "ok", "checks": {"database": "ok"}}


def test_only_an_unreachable_database_counts_as_an_outage(engine):
    """Errors of a statement stay what they were (500 or the broken rule); a server that ends
    the connection is an outage."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from geo_crm.db.translate import outage_reason

    def error_of(*statements: str) -> DBAPIError:
        with engine.connect() as conn:
            try:
                for statement in statements:
                    conn.execute(text(statement))
            except DBAPIError as exc:
                conn.rollback()
                return exc
        raise AssertionError("no error")

    assert outage_reason(error_of("SELECT 1/0")) is None
    assert outage_reason(error_of("SELECT * FROM no_such_table")) is None
    assert outage_reason(error_of("SET statement_timeout = 1", "SELECT pg_sleep(1)")) is None
    assert outage_reason(error_of("SET lock_timeout = 1", "SELECT 'x'::int")) is None
    ended = error_of("SELECT pg_terminate_backend(pg_backend_pid())")
    assert outage_reason(ended) in ("server shut down", "connection closed by the server")
    assert outage_reason(ValueError("connection refused")) is None
