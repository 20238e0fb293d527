"""Two reps tag the same outlet at the same moment over two real connections: exactly one wins.

The data is committed (each writer needs to see it), so the test runs in a database of its own.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo_crm import migrate
from geo_crm.auth.principal import Principal
from geo_crm.services.geotagging import GeotagLimits, StaleVersion, TagInput, geotag_outlet

DB = "geo_crm_geotag_race"


@pytest.fixture(scope="module")
def race_engine(pg_cluster):
    admin = create_engine(pg_cluster.admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {DB}")
        conn.exec_driver_sql(f"CREATE DATABASE {DB}")
    engine = create_engine(pg_cluster.url.replace("/geo_crm_test?", f"/{DB}?"), pool_size=4)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO regions (code, name, level, boundary) VALUES ('R', 'R', 'province', "
                "ST_Multi(ST_MakeEnvelope(120, 30, 121, 31, 4326)))"
            )
        )
        conn.execute(
            text("INSERT INTO users (username, role) VALUES ('rep_a', 'rep'), ('rep_b', 'rep')")
        )
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {DB}")
    admin.dispose()


def _rep(engine, name):
    with engine.connect() as conn:
        uid = conn.execute(
            text("SELECT id FROM users WHERE username = :u"), {"u": name}
        ).scalar_one()
    return Principal(uid, name, "rep", via="token")


def _outlet(engine, code):
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO outlets (code, name, tier, rep_id, created_by_id) "
                "SELECT :c, :n, 'retail', (SELECT id FROM users WHERE username = 'rep_a'), "
                "(SELECT id FROM users WHERE username = 'rep_b')"
            ),
            {"c": code, "n": f"shop {code}"},
        )
        return conn.execute(
            text("SELECT version FROM outlets WHERE code = :c"), {"c": code}
        ).scalar_one()


def _tag(lon):
    return TagInput(
        lat=30.5, lon=lon, accuracy_m=5.0, source="gps", captured_at=dt.datetime.now(dt.UTC)
    )


def _state(engine, code):
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT o.version, ST_X(o.location) AS lon, (SELECT count(*) FROM geotag_events e "
                "WHERE e.outlet_id = o.id) AS events FROM outlets o WHERE o.code = :c"
            ),
            {"c": code},
        ).one()


def test_the_loser_waits_on_the_row_lock_then_gets_409(race_engine):
    """A writes and holds its transaction open; B has read the same version and blocks in its
    UPDATE; when A commits, B's ``WHERE version = …`` no longer matches and B writes nothing."""
    version = _outlet(race_engine, "RACE-LOCK")
    rep_a, rep_b = _rep(race_engine, "rep_a"), _rep(race_engine, "rep_b")
    limits = GeotagLimits()
    session_a = Session(race_engine)
    geotag_outlet(session_a, rep_a, "RACE-LOCK", _tag(120.1), version, limits)  # not committed yet
    outcome = {}

    def rep_b_tags():
        with Session(race_engine) as session_b:
            outcome["pid"] = session_b.execute(text("SELECT pg_backend_pid()")).scalar()
            try:
                geotag_outlet(session_b, rep_b, "RACE-LOCK", _tag(120.2), version, limits)
                session_b.commit()
                outcome["result"] = "won"
            except StaleVersion as exc:
                outcome["result"] = "409"
                outcome["current"] = exc.detail["current"]
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                outcome["result"] = repr(exc)

    thread = threading.Thread(target=rep_b_tags)
    thread.start()
    try:
        # wait until B is blocked on A's row lock; autocommit, because pg_stat_activity is a
        # snapshot held for the rest of a transaction: in one, the probe could never see B wait
        with race_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as probe:
            deadline = time.monotonic() + 30  # generous: the suite may run beside browser tests
            waiting = None
            while time.monotonic() < deadline and "result" not in outcome:
                waiting = probe.execute(
                    text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :p"),
                    {"p": outcome.get("pid", -1)},
                ).scalar()
                if waiting == "Lock":
                    break
                time.sleep(0.02)
            assert waiting == "Lock", f"rep B never reached A's row lock: {outcome}"
        session_a.commit()
    finally:
        session_a.close()  # releases A's lock whatever happened, so B and the teardown finish
        thread.join(30)
    assert outcome["result"] == "409"
    assert outcome["current"]["version"] == version + 1
    state = _state(race_engine, "RACE-LOCK")
    assert state.version == version + 1 and state.lon == pytest.approx(120.1) and state.events == 1


def test_simultaneous_tags_exactly_one_wins(race_engine):
    rep_a, rep_b = _rep(race_engine, "rep_a"), _rep(race_engine, "rep_b")
    limits = GeotagLimits()
    for round_ in range(15):
        code = f"RACE-{round_}"
        version = _outlet(race_engine, code)
        barrier = threading.Barrier(2)
        results = []

        def tag(user, lon, code=code, version=version, barrier=barrier, results=results):
            with Session(race_engine) as session:
                session.execute(text("SELECT 1"))  # connection ready before the start signal
                barrier.wait()
                try:
                    geotag_outlet(session, user, code, _tag(lon), version, limits)
                    session.commit()
                    results.append("won")
                except StaleVersion:
                    results.append("409")
                except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                    results.append(repr(exc))

        threads = [
            threading.Thread(target=tag, args=(rep_a, 120.3)),
            threading.Thread(target=tag, args=(rep_b, 120.4)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert sorted(results) == ["409", "won"], results
        state = _state(race_engine, code)
        assert state.version == version + 1 and state.events == 1
