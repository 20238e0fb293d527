"""Fixtures and helpers for the auth, access-matrix and geotagging tests.

The fixtures live in ``auth_fixtures`` (``pytest_plugins = ["auth_fixtures"]``):
``auth_app`` is an app of its own with authentication enforced (``GEO_CRM_AUTH_REQUIRED``),
built once per test session; ``aapp``/``aclient`` bind it to the test's rolled-back connection
like conftest's ``app``/``client``. Users are inserted with one precomputed Argon2 hash so
tests do not pay the KDF per user.

For the shared ``client`` fixture once auth is enforced everywhere, see :func:`bearer_client`.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

from sqlalchemy import text

from geo_crm.auth.tokens import create_token
from geo_crm.domain import passwords

PASSWORD = "correct horse battery"
API = "/api/v1"


@functools.lru_cache(maxsize=1)
def password_hash() -> str:
    return passwords.hash_password(PASSWORD)


# -- data --------------------------------------------------------------------------------------


def add_user(
    connection,
    username: str,
    role: str,
    *,
    active: bool = True,
    locale: str | None = None,
    regions: tuple[str, ...] = (),
) -> int:
    user_id = connection.execute(
        text(
            "INSERT INTO users (username, role, password_hash, active, locale) "
            "VALUES (:u, :r, :h, :a, :l) RETURNING id"
        ),
        {"u": username, "r": role, "h": password_hash(), "a": active, "l": locale},
    ).scalar_one()
    for code in regions:
        connection.execute(
            text(
                "INSERT INTO user_regions (user_id, region_id) "
                "SELECT :u, id FROM regions WHERE code = :c"
            ),
            {"u": user_id, "c": code},
        )
    return user_id


def add_token(connection, user_id: int, name: str = "test") -> str:
    from sqlalchemy.orm import Session

    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    token = create_token(session, user_id, name).token
    session.commit()
    return token


def add_region(connection, code: str, level: str, box, parent: str | None = None) -> int:
    return connection.execute(
        text(
            "INSERT INTO regions (code, name, level, parent_id, boundary) VALUES (:code, :name, "
            ":level, "
            "(SELECT id FROM regions WHERE code = :parent), ST_Multi(ST_MakeEnvelope(:x0, :y0, "
            ":x1, :y1, 4326))) "
            "RETURNING id"
        ),
        {
            "code": code,
            "name": f"区域 {code}",
            "level": level,
            "parent": parent,
            "x0": box[0],
            "y0": box[1],
            "x1": box[2],
            "y1": box[3],
        },
    ).scalar_one()


def add_outlet(
    connection,
    code: str,
    tier: str = "retail",
    *,
    lon=None,
    lat=None,
    rep: int | None = None,
    name: str | None = None,
    parent: str | None = None,
    status: str = "active",
    created_by: int | None = None,
) -> int:
    location = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)" if lon is not None else "NULL"
    return connection.execute(
        text(
            "INSERT INTO outlets (code, name, tier, parent_id, location, rep_id, created_by_id, "
            "status) "
            "VALUES (:code, :name, :tier, (SELECT id FROM outlets WHERE code = :parent), "
            f"{location}, :rep, "
            f":created_by, :status) RETURNING id"
        ),
        {
            "code": code,
            "name": name or f"网点 {code}",
            "tier": tier,
            "parent": parent,
            "lon": lon,
            "lat": lat,
            "rep": rep,
            "created_by": created_by,
            "status": status,
        },
    ).scalar_one()


def outlet_row(connection, code: str):
    return connection.execute(
        text(
            "SELECT id, version, ST_X(location) AS lon, ST_Y(location) AS lat, region_id FROM "
            "outlets WHERE code = :c"
        ),
        {"c": code},
    ).one()


def events(connection, code: str) -> list:
    return connection.execute(
        text(
            "SELECT e.* , ST_X(e.new_location) AS new_lon, ST_Y(e.new_location) AS new_lat, "
            "ST_X(e.old_location) AS old_lon FROM geotag_events e JOIN outlets o ON o.id = "
            "e.outlet_id "
            "WHERE o.code = :c ORDER BY e.id"
        ),
        {"c": code},
    ).all()


# -- clients -----------------------------------------------------------------------------------

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"|name="csrf-token" content="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


def login(client, username: str, password: str = PASSWORD, *, next_: str = ""):
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next_},
    )


def signed_in_client(app, username: str):
    """A browser-like client with a session cookie and the page's CSRF token at hand."""
    client = app.test_client()
    response = login(client, username)
    assert response.status_code == 302, response.get_data(as_text=True)
    client.csrf = csrf_from(client.get("/login").get_data(as_text=True))
    return client


def bearer_client(app, connection, *, username: str = "test-admin", role: str = "admin"):
    """What the shared ``client`` fixture should become once auth is enforced: an admin's
    Bearer token on every request (exempt from CSRF, like any API integration)."""
    user_id = add_user(connection, username, role)
    return token_client(app, add_token(connection, user_id, "test client"))


def token_client(app, token: str):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def tag_body(lat, lon, version, **extra):
    body = {
        "lat": lat,
        "lon": lon,
        "accuracy_m": 12.0,
        "crs": "wgs84",
        "source": "gps",
        "captured_at": dt.datetime.now(dt.UTC).isoformat(),
        "version": version,
    }
    body.update(extra)
    return body
