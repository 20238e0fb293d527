"""Tests run against a throwaway PostGIS cluster started once per test session (per xdist worker).

Each test gets one connection with an open transaction that is rolled back afterwards; the
app, CLI and services under test all use sessions bound to that connection, so every test
starts from the same migrated, empty schema.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from geo_crm import create_app
from geo_crm.db import ready_engine
from geo_crm.db.cluster import LocalCluster
from geo_crm.settings import EXTENSION, settings_of

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def pg_cluster():
    """A private cluster in a short temporary path (Unix socket paths are limited to ~100 bytes)."""
    base = Path(tempfile.mkdtemp(prefix="gcrm-test-"))
    os.chmod(base, 0o755)
    cluster = LocalCluster.for_dir(base / "pg", dbname="geo_crm_test", fast_unsafe=True)
    cluster.ensure_database()
    yield cluster
    cluster.stop()
    shutil.rmtree(base, ignore_errors=True)  # ~150 MB of cluster files per worker and run


@pytest.fixture(scope="session")
def engine(pg_cluster):
    eng = ready_engine(pg_cluster.url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine):
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    trans.rollback()
    conn.close()


@pytest.fixture
def session(connection) -> Session:
    sess = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield sess
    sess.close()


@pytest.fixture(scope="session")
def base_app(engine, pg_cluster):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": pg_cluster.url,
            "SECRET_KEY": "test",
            "GEO_CRM_AUTH_REQUIRED": True,
        }
    )
    app.extensions["geo_crm_db"].use_engine(engine)
    return app


@pytest.fixture
def app(base_app, connection):
    """The session-wide app, its sessions bound to this test's rolled-back connection."""
    db = base_app.extensions["geo_crm_db"]
    saved = db.sessionmaker
    db.sessionmaker = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield base_app
    db.sessionmaker = saved


@pytest.fixture
def settings_override():
    """Run a test under other settings of an app built once per session, restored afterwards:
    ``settings_override(app, auth_required=False)`` or, by variable name,
    ``settings_override(aapp, GEO_CRM_MAX_JUMP_M=5000)`` (checked as at start-up). Returns the
    new settings. The Flask keys derived from them (session lifetime …) follow."""
    saved: list[tuple] = []

    def override(app, **changes):
        before = settings_of(app)
        after = before.replace(**changes)
        old, new = before.flask_config(), after.flask_config()
        keys = [key for key in new if old.get(key) != new[key]]
        saved.append((app, before, {key: app.config.get(key) for key in keys}))
        app.extensions[EXTENSION] = after
        app.config.update({key: new[key] for key in keys})
        return after

    yield override
    for app, before, config in reversed(saved):
        app.extensions[EXTENSION] = before
        app.config.update(config)


@pytest.fixture
def client(app, connection):
    """An admin's client (Bearer token, as an integration would call the API); the access
    matrix and auth tests cover every other role."""
    from auth_helpers import bearer_client

    return bearer_client(app, connection)


@pytest.fixture
def anon_client(app):
    return app.test_client()


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


@pytest.fixture
def sql(connection):
    """Run one SQL statement on the test's connection and return the result."""

    def run(statement: str, **params):
        return connection.execute(text(statement), params)

    return run
