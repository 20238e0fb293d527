"""The statements a request runs alone (db/hotpath.py) share one pool connection and keep their
cursors: the token check and the geotag check one connection out of the pool, not two; a
session that begins a transaction first hands back the connection it holds (never two at
once); the request's teardown hands it back; a kept cursor serves its statement again with
other values and never another statement."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session, sessionmaker

from geo_crm import create_app
from geo_crm.auth.tokens import create_token
from geo_crm.db import make_engine
from geo_crm.db.hotpath import (
    _KEPT_CURSORS,
    HotStatement,
    hold_connection,
    release_connection,
    release_on_begin,
)
from geo_crm.domain.users import create_user

DOUBLE = HotStatement("SELECT %(x)s::int * 2", read_only=True)
TRIPLE = HotStatement("SELECT %(x)s::int * 3", read_only=True)


class PoolWatch:
    """Checkouts of an engine's pool, and the most connections out at once."""

    def __init__(self, engine):
        self.engine = engine
        self.checkouts = 0
        self.most_out = 0
        event.listen(engine, "checkout", self._checkout)

    def _checkout(self, *_):
        self.checkouts += 1
        self.most_out = max(self.most_out, self.engine.pool.checkedout())

    def out(self) -> int:
        return self.engine.pool.checkedout()


@pytest.fixture
def hot_engine(engine, pg_cluster):
    """An engine of its own (pool events counted for these tests only) on the tests' migrated
    database."""
    engine = make_engine(pg_cluster.url, pool_size=3)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(hot_engine):
    made = sessionmaker(bind=hot_engine, expire_on_commit=False)
    release_on_begin(made)
    return made


def test_statements_alone_share_the_held_connection(hot_engine, factory):
    watch = PoolWatch(hot_engine)
    with factory() as session:
        hold_connection(session)
        assert DOUBLE.run(session, {"x": 2}).fetchone() == (4,)
        assert TRIPLE.run(session, {"x": 2}).fetchone() == (6,)
        rows, committed = DOUBLE.run_committed(session, {"x": 5})
        assert rows.fetchone() == (10,) and committed
        assert watch.checkouts == 1 and watch.out() == 1
        release_connection(session)
        assert watch.out() == 0
    # the connection went back as the pool handed it out: not in autocommit, idle
    with hot_engine.connect() as conn:
        dbapi = conn.connection.driver_connection
        assert dbapi.autocommit is False
        assert dbapi.pgconn.transaction_status == 0


def test_without_hold_each_statement_gives_its_connection_back(hot_engine, factory):
    watch = PoolWatch(hot_engine)
    with factory() as session:
        DOUBLE.run(session, {"x": 1})
        assert watch.out() == 0
        TRIPLE.run(session, {"x": 1})
        assert watch.out() == 0 and watch.checkouts == 2


def test_a_transaction_first_hands_the_held_connection_back(hot_engine, factory):
    watch = PoolWatch(hot_engine)
    with factory() as session:
        hold_connection(session)
        DOUBLE.run(session, {"x": 1})
        assert watch.out() == 1
        assert session.execute(text("SELECT 1")).scalar() == 1  # begins a transaction
        assert watch.most_out == 1  # never two connections for one session
        # inside the transaction a hot statement runs on the session's connection
        assert TRIPLE.run(session, {"x": 3}).fetchone() == (9,)
        session.rollback()
        # after it, alone again: the held connection is borrowed anew
        assert DOUBLE.run(session, {"x": 4}).fetchone() == (8,)
        assert watch.most_out == 1
        release_connection(session)
        assert watch.out() == 0


def test_a_failed_statement_leaves_nothing_checked_out(hot_engine, factory):
    from sqlalchemy.exc import DBAPIError

    bad = HotStatement("SELECT 1 / %(x)s::int", read_only=True)
    watch = PoolWatch(hot_engine)
    with factory() as session:
        hold_connection(session)
        DOUBLE.run(session, {"x": 1})
        with pytest.raises(DBAPIError):
            bad.run(session, {"x": 0})
        assert watch.out() == 0  # given back after the error (idle again in autocommit)
        assert DOUBLE.run(session, {"x": 2}).fetchone() == (4,)
        release_connection(session)
    assert watch.out() == 0


def test_a_kept_cursor_serves_its_own_statement_with_other_values(hot_engine, factory):
    with factory() as session:
        hold_connection(session)
        assert [DOUBLE.run(session, {"x": x}).fetchone()[0] for x in range(5)] == [0, 2, 4, 6, 8]
        assert TRIPLE.run(session, {"x": 7}).fetchone() == (21,)
        fairy = session.info["geo_crm_held"][1]
        kept = fairy.info[_KEPT_CURSORS]
        assert set(kept) == {DOUBLE, TRIPLE} and kept[DOUBLE] is not kept[TRIPLE]
        release_connection(session)


@pytest.fixture
def live_app(hot_engine, pg_cluster):
    """An app on a committing engine of its own; the token cache off (every request looks its
    token up: two statements alone)."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": pg_cluster.url,
            "SECRET_KEY": "hot",
            "GEO_CRM_TOKEN_CACHE_S": 0,
        }
    )
    app.extensions["geo_crm_db"].use_engine(hot_engine)
    yield app


@pytest.fixture
def hot_token(hot_engine):
    with Session(hot_engine) as session:
        user = create_user(session, "hot_admin", "admin", None)
        secret = create_token(session, user.id, "hot").token
        session.commit()
    yield secret
    with hot_engine.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE username = 'hot_admin'"))


def test_a_request_checks_out_one_connection_and_gives_it_back(live_app, hot_token, hot_engine):
    client = live_app.test_client()
    headers = {"Authorization": f"Bearer {hot_token}"}
    client.get("/api/v1/outlets?limit=1&count=false", headers=headers)  # plans, listener
    watch = PoolWatch(hot_engine)
    response = client.get("/api/v1/outlets?limit=1&count=false", headers=headers)
    assert response.status_code == 200
    assert watch.checkouts == 1  # the token check and the page on one connection
    assert watch.out() == 0  # handed back by the teardown
    response = client.get("/api/v1/outlets?limit=1&count=false", headers={"Authorization": "x"})
    assert response.status_code == 401
    assert watch.out() == 0
