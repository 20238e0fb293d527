"""Fixtures that run a test of the 窜货 detection twice: reading in one session, and over two
helper sessions on one snapshot (GEO_CRM_DETECT_WORKERS=2, db/snapshot_workers.py).

Helper sessions see only committed data, so the two-session run works in a database of its own
(a copy of a migrated template, dropped afterwards) and commits what the test wrote before each
detection, as the CLI's data are committed before ``analyse cross-selling --all`` runs; the
test body is the same. A module takes them with::

    from cross_parallel_fixtures import (  # noqa: F401 (fixtures)
        committed_engine, committed_template, connection, detect_workers, detections,
        one_or_two_sessions)
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from geo_crm.analysis import cross_selling
from geo_crm.db import ready_engine

TEMPLATE = "geo_crm_committed_template"


@pytest.fixture(scope="session")
def committed_template(pg_cluster):
    """A migrated database to copy; no connection is left open on it."""
    admin = create_engine(pg_cluster.admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        conn.exec_driver_sql(f"CREATE DATABASE {TEMPLATE}")
    ready_engine(pg_cluster.url.replace("/geo_crm_test?", f"/{TEMPLATE}?")).dispose()
    yield TEMPLATE
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {TEMPLATE}")
    admin.dispose()


@pytest.fixture
def committed_engine(pg_cluster, committed_template):
    """An engine on a fresh copy of the migrated template: what a test commits there is seen by
    every session, and the copy is dropped after the test."""
    name = f"geo_crm_committed_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_cluster.admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {committed_template}")
    engine = ready_engine(pg_cluster.url.replace("/geo_crm_test?", f"/{name}?"))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(params=[1, 2], ids=["one-session", "two-sessions"])
def detect_workers(request) -> int:
    return request.param


@pytest.fixture
def connection(request, engine, detect_workers):
    """One session: the test's rolled-back transaction (as conftest). Two: a connection to a
    database of the test's own whose writes are committed before each detection."""
    if detect_workers == 1:
        conn = engine.connect()
        trans = conn.begin()
        yield conn
        trans.rollback()
        conn.close()
        return
    conn = request.getfixturevalue("committed_engine").connect()
    yield conn
    conn.rollback()
    conn.close()


@pytest.fixture(name="session")
def one_or_two_sessions(connection, detect_workers) -> Session:
    if detect_workers == 1:
        sess = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
    else:
        sess = Session(bind=connection, expire_on_commit=False)
    yield sess
    sess.close()


@pytest.fixture(autouse=True)
def detections(request, monkeypatch, detect_workers, connection):
    """The module's ``detect_all`` run with ``detect_workers`` reading sessions; with two, what
    the test wrote is committed first and the detection's write after it."""
    real = cross_selling.detect_all
    if detect_workers == 1:
        return

    def detect_all(session: Session) -> cross_selling.Detection:
        session.commit()
        connection.commit()
        found = real(session, workers=detect_workers)
        session.commit()
        connection.commit()
        assert found.sessions == detect_workers  # the snapshot was shared, not read alone
        return found

    monkeypatch.setattr(request.module, "detect_all", detect_all)
