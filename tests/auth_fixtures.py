"""Fixtures for the auth, access-matrix and geotagging tests (a pytest plugin: test modules say
``pytest_plugins = ["auth_fixtures"]``). Helpers live in ``auth_helpers``."""

from __future__ import annotations

import pytest
from auth_helpers import add_outlet, add_region, add_user
from sqlalchemy.orm import sessionmaker

from geo_crm import auth, create_app


@pytest.fixture(scope="session")
def auth_app(engine, pg_cluster):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": pg_cluster.url,
            "SECRET_KEY": "test-auth",
            "GEO_CRM_AUTH_REQUIRED": True,
        }
    )
    auth.init_app(app)  # a no-op once create_app wires it
    app.extensions["geo_crm_db"].use_engine(engine)
    return app


@pytest.fixture
def aapp(auth_app, connection):
    db = auth_app.extensions["geo_crm_db"]
    saved = db.sessionmaker
    db.sessionmaker = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield auth_app
    db.sessionmaker = saved


@pytest.fixture
def aclient(aapp):
    return aapp.test_client()


@pytest.fixture
def world(connection):
    """Two provinces; P1 has cities C1 and C2. Reps r1/r2, manager m1 (C1) and m2 (P2), admin.

    Outlets: A1 (r1, C1, tagged), A2 (r1, untagged), B1 (r2, C1), B2 (r2, P2), N1 (r1-created, C2).
    """
    add_region(connection, "P1", "province", (120, 30, 121, 31))
    add_region(connection, "C1", "city", (120, 30, 120.5, 31), parent="P1")
    add_region(connection, "C2", "city", (120.5, 30, 121, 31), parent="P1")
    add_region(connection, "P2", "province", (122, 30, 123, 31))
    ids = {
        "admin": add_user(connection, "admin1", "admin"),
        "m1": add_user(connection, "manager1", "manager", regions=("C1",)),
        "m2": add_user(connection, "manager2", "manager", regions=("P2",)),
        "r1": add_user(connection, "rep1", "rep"),
        "r2": add_user(connection, "rep2", "rep"),
    }
    add_outlet(connection, "D1", "distributor", lon=120.1, lat=30.1, name="华东总经销")
    add_outlet(connection, "A1", lon=120.2, lat=30.2, rep=ids["r1"], name="好又多超市", parent="D1")
    add_outlet(connection, "A2", rep=ids["r1"], name="老王烟酒店", parent="D1")
    add_outlet(connection, "B1", lon=120.3, lat=30.3, rep=ids["r2"], name="SECRET-B1 秘密网点")
    add_outlet(connection, "B2", lon=122.5, lat=30.5, rep=ids["r2"], name="SECRET-B2 秘密网点")
    add_outlet(connection, "N1", lon=120.7, lat=30.7, created_by=ids["r1"], name="新发现小店")
    return ids
