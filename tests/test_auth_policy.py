"""The policy's edges: security headers, switching enforcement off, and the shared test client."""

from __future__ import annotations

import re

from auth_helpers import API, bearer_client, signed_in_client

from geo_crm import auth, create_app
from geo_crm.auth.headers import content_security_policy

pytest_plugins = ["auth_fixtures"]  # auth_app, aapp, aclient, world


def test_security_headers_on_pages_api_errors_and_redirects(aclient, world):
    for response in (
        aclient.get("/login"),
        aclient.get(f"{API}/tag/outlets"),
        aclient.get("/tag"),
        aclient.get("/nope"),
    ):
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'self'" in csp and "object-src 'none'" in csp
        assert (
            "default-src 'self'" in csp
            and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        )


def test_csp_nonce_is_fresh_per_response_and_matches_the_page(aapp, world):
    client = signed_in_client(aapp, "rep1")
    first, second = client.get("/tag"), client.get("/tag")
    nonces = [
        re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"]).group(1)
        for r in (first, second)
    ]
    assert nonces[0] != nonces[1]
    page = first.get_data(as_text=True)
    # the tag page has no inline script at all: only JSON data and files from 'self'
    assert re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", page) == []


def test_swagger_ui_alone_gets_inline_scripts(aapp, connection, world):
    client = bearer_client(aapp, connection)
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert "script-src 'self' 'unsafe-inline'" in docs.headers["Content-Security-Policy"]


def test_csp_text():
    policy = content_security_policy(inline_scripts=True, img_src="https://tiles.example")
    assert "img-src 'self' data: blob: https://tiles.example" in policy


def test_enforcement_can_be_switched_off_for_the_transition(pg_cluster, engine, connection):
    from sqlalchemy.orm import sessionmaker

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": pg_cluster.url,
            "SECRET_KEY": "x",
            "GEO_CRM_AUTH_REQUIRED": False,
        }
    )
    auth.init_app(app)
    app.extensions["geo_crm_db"].use_engine(engine)
    app.extensions["geo_crm_db"].sessionmaker = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint"
    )
    client = app.test_client()
    assert client.get(f"{API}/tag/outlets").status_code == 200  # acts as the system principal
    assert client.post(f"{API}/tokens", json={"name": "x"}).status_code == 422  # no user to own it
    assert client.get("/tag").status_code == 200
    assert "X-Content-Type-Options" in client.get("/login").headers


def test_bearer_client_is_what_the_shared_client_fixture_should_become(aapp, connection):
    client = bearer_client(aapp, connection)
    assert client.get(f"{API}/geotag-reviews").status_code == 200
    assert client.post(f"{API}/tokens", json={"name": "no csrf needed"}).status_code == 201


def test_ogc_and_tiles_answer_401_json_to_a_client_without_a_session(aapp, world):
    """A GIS client or a map's tile fetch without credentials gets 401 JSON with the Bearer
    challenge (as the API does), not the sign-in page; a browser whose session has ended is
    still sent to sign in, and pages keep their redirect."""
    client = aapp.test_client()
    for path in ("/ogc", "/ogc/collections", "/tiles/outlets.json", "/tiles/outlets/4/13/6.mvt"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.get_json()["error"]["code"] == "unauthorized", path
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), path
    bad = client.get("/ogc/collections", headers={"Authorization": "Bearer gcrm_nope"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    assert client.get("/regions/C1").status_code == 302
    ended = aapp.test_client()
    ended.set_cookie(aapp.config["SESSION_COOKIE_NAME"], "expired")
    response = ended.get("/ogc/collections")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
