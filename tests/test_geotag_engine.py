"""The request path's database connections: no per-checkout ping, yet a restarted or terminated
server's connections are dropped before use (the geotag endpoint's throughput depends on it)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text

from geo_crm import create_app
from geo_crm.db import Database, connection_is_dead
from geo_crm.settings import Settings


@pytest.mark.parametrize(
    "overrides, env, expected",
    [
        ({}, None, False),  # off unless switched on: the socket check covers restarts
        ({"GEO_CRM_POOL_PRE_PING": False}, None, False),
        ({"GEO_CRM_POOL_PRE_PING": "off"}, None, False),
        ({"GEO_CRM_POOL_PRE_PING": "1"}, None, True),
        ({"GEO_CRM_POOL_PRE_PING": "true"}, "0", True),  # create_app's config beats the env
        ({}, "false", False),
        ({}, "", False),
        ({}, "1", True),
    ],
)
def test_pre_ping_setting(overrides, env, expected):
    environ = {} if env is None else {"GEO_CRM_POOL_PRE_PING": env}
    assert Settings.load(environ, overrides).pool_pre_ping is expected


@pytest.mark.parametrize("setting, expected", [(None, False), ("on", True)])
def test_database_engine_honours_the_setting(pg_cluster, setting, expected):
    overrides = {"DATABASE_URL": pg_cluster.url, "GEO_CRM_AUTO_MIGRATE": False}
    if setting is not None:
        overrides["GEO_CRM_POOL_PRE_PING"] = setting
    db = Database(Settings.load({}, overrides))
    try:
        engine = db.raw_engine()
        assert engine.pool._pre_ping is expected
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        db.dispose()


def _terminate(pg_cluster, pid: int) -> None:
    admin = create_engine(pg_cluster.admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # the backend has exited: its socket is closed
                gone = conn.execute(
                    text("SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = :p)"),
                    {"p": pid},
                ).scalar()
                if gone:
                    break
                time.sleep(0.02)
    finally:
        admin.dispose()


def test_an_idle_healthy_connection_is_alive_and_a_terminated_one_dead(pg_cluster, engine):
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        pid = dbapi.execute("SELECT pg_backend_pid()").fetchone()[0]
        dbapi.rollback()
        assert not connection_is_dead(dbapi)
        _terminate(pg_cluster, pid)
        assert connection_is_dead(dbapi)
    finally:
        raw.invalidate()


def test_requests_survive_a_server_that_closed_the_pooled_connection(pg_cluster, engine):
    """What a database restart does to a pool (the server ends every connection): the next
    request still answers, on a fresh connection, without a ping on every checkout."""
    app = create_app(
        {"TESTING": True, "DATABASE_URL": pg_cluster.url, "SECRET_KEY": "test",
         "GEO_CRM_AUTO_MIGRATE": False, "GEO_CRM_POOL_PRE_PING": False}
    )  # fmt: skip
    db = app.extensions["geo_crm_db"]
    try:
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        assert db.engine.pool._pre_ping is False
        with db.engine.connect() as conn:  # the one pooled connection the request used
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        _terminate(pg_cluster, pid)
        response = client.get("/healthz")
        assert response.status_code == 200, response.get_data(as_text=True)
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        db.dispose()


def _prepared(dbapi) -> int:
    """Statements prepared on this idle connection, as the server lists them; asked in
    autocommit, so the question opens no transaction of its own."""
    assert dbapi.pgconn.transaction_status == 0
    dbapi.autocommit = True
    try:
        return dbapi.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
    finally:
        dbapi.autocommit = False


def test_a_statement_planned_per_call_is_never_prepared(engine):
    """``prepare=False`` (tiles, feature pages: the plan depends on the values): the statement
    runs as the unnamed statement, planned for each call, and leaves no prepared statement;
    the same statement with the default is prepared at its first run."""
    from sqlalchemy.orm import Session

    from geo_crm.db.hotpath import HotStatement

    sql = "SELECT count(*) FROM regions WHERE id > %(i)s -- planned per call"
    with Session(engine) as session:
        dbapi = session.connection().connection.driver_connection

        def prepared() -> int:
            return dbapi.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]

        before = prepared()
        per_call = HotStatement(sql, prepare=False)
        for _ in range(7):  # past psycopg's and PostgreSQL's thresholds of five
            assert per_call.run(session, {"i": -1}).fetchone()[0] >= 0
        assert prepared() == before
        HotStatement(sql).run(session, {"i": -1})
        assert prepared() == before + 1


def test_read_only_hot_statements_open_no_transaction_and_keep_their_plans(engine):
    """A read-only statement run before anything else runs on its own (autocommit): a request
    that only reads ends with nothing to roll back, and its prepared statements survive; the
    first other statement opens the transaction as usual, and a write is still rolled back."""
    from sqlalchemy.orm import Session

    from geo_crm.db.hotpath import HotStatement, end_read_transaction

    lookup = HotStatement("SELECT count(*) FROM users WHERE id > %(i)s", read_only=True)
    # fresh connections: one the earlier tests of this worker used may have its statements'
    # cache full (psycopg then evicts and deallocates), which is not what this test is about
    engine.dispose()
    with Session(engine) as session:
        assert lookup.run(session, {"i": -1}).fetchone()[0] >= 0
        dbapi = session.connection().connection.driver_connection
        assert dbapi.pgconn.transaction_status == 0  # IDLE: no BEGIN was sent
        assert not dbapi.autocommit
        prepared = _prepared(dbapi)
        assert prepared >= 1  # the lookup runs as a prepared statement
        session.execute(text("CREATE TEMP TABLE hot_probe (x int)"))  # opens the transaction
        assert dbapi.pgconn.transaction_status == 2
        lookup.run(session, {"i": -1})  # inside the transaction now
        session.execute(text("INSERT INTO hot_probe VALUES (1)"))
        end_read_transaction(session)  # it wrote: left to the rollback
        assert dbapi.pgconn.transaction_status == 2
        session.rollback()
        assert session.execute(text("SELECT to_regclass('pg_temp.hot_probe') IS NULL")).scalar_one()
    with Session(engine) as session:
        lookup.run(session, {"i": -1})
        session.execute(text("SELECT 1"))  # a read through SQLAlchemy: a transaction, no write
        end_read_transaction(session)  # ends it with COMMIT: the plans stay
        dbapi = session.connection().connection.driver_connection
        assert dbapi.pgconn.transaction_status == 0
        assert _prepared(dbapi) >= 1  # still there after the COMMIT
