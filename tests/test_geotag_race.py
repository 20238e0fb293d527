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

from geo_crm.db import migrate
from geo_crm.domain.geotagging import StaleVersion, TagInput, geotag_outlet
from geo_crm.domain.principal import Principal
from geo_crm.errors import ValidationError
from geo_crm.settings import GeotagLimits

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


def _tag(lon, lat=30.5):
    return TagInput(
        lat=lat, lon=lon, accuracy_m=5.0, source="gps", captured_at=dt.datetime.now(dt.UTC)
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


@pytest.mark.parametrize(
    "alone", [False, True], ids=["in a transaction", "on its own (commit=True, as the API)"]
)
def test_simultaneous_tags_exactly_one_wins(race_engine, alone):
    """Two reps tag one outlet at the same moment on two connections: one wins, one gets 409.
    ``alone``: each tag is its own autocommitted statement, committed when it returns."""
    rep_a, rep_b = _rep(race_engine, "rep_a"), _rep(race_engine, "rep_b")
    for round_ in range(12):
        code = f"RACE-{'ALONE-' if alone else ''}{round_}"
        version = _outlet(race_engine, code)
        barrier = threading.Barrier(2)
        results = []

        def tag(user, lon, code=code, version=version, barrier=barrier, results=results):
            with Session(race_engine) as session:
                session.connection()  # checked out before the start signal; no transaction yet
                barrier.wait()
                try:
                    result = geotag_outlet(
                        session, user, code, _tag(lon), version, GeotagLimits(), commit=alone
                    )
                    if not alone:
                        session.commit()
                    results.append("won" if result.committed == alone else "wrong commit")
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


# -- the tag statement on its own (commit=True, as the API calls it): written and committed in
# one autocommitted statement, all or nothing


def _event_rows(engine, code):
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT e.state, e.flags FROM geotag_events e JOIN outlets o ON o.id = e.outlet_id "
                "WHERE o.code = :c ORDER BY e.id"
            ),
            {"c": code},
        ).all()


def _tag_alone(engine, user, code, lon, version, lat=30.5, limits=None):
    """geotag_outlet with commit=True on an engine-bound session that has no transaction open;
    nothing is committed by the caller: what the other connections see, the tag committed."""
    with Session(engine) as session:
        result = geotag_outlet(
            session,
            user,
            code,
            _tag(lon, lat=lat),
            version,
            limits or GeotagLimits(),
            commit=True,
        )
        assert result.committed
        return result


def test_a_tag_on_its_own_commits_itself(race_engine):
    version = _outlet(race_engine, "ALONE-1")
    rep_a = _rep(race_engine, "rep_a")
    result = _tag_alone(race_engine, rep_a, "ALONE-1", 120.1, version)
    assert result.event["state"] == "accepted" and result.flags == []
    assert result.outlet["version"] == version + 1 and result.outlet["region"] == "R"
    state = _state(race_engine, "ALONE-1")
    assert state.version == version + 1 and state.lon == pytest.approx(120.1) and state.events == 1
    assert _event_rows(race_engine, "ALONE-1") == [("accepted", [])]


def test_a_flagged_tag_on_its_own_stores_its_flags(race_engine):
    version = _outlet(race_engine, "ALONE-2")
    rep_a = _rep(race_engine, "rep_a")
    _tag_alone(race_engine, rep_a, "ALONE-2", 120.1, version)
    result = _tag_alone(race_engine, rep_a, "ALONE-2", 120.15, version + 1)  # ~4.8 km east
    assert [f.code for f in result.flags] == ["jump"]
    distance = result.flags[0].detail["distance_m"]
    assert isinstance(distance, int) and 4_700 < distance < 4_900
    assert result.event["flags"] == [f"jump:{distance}"] and result.event["state"] == "flagged"
    assert _event_rows(race_engine, "ALONE-2")[-1] == ("flagged", [f"jump:{distance}"])


def test_names_nearby_are_compared_before_the_write(race_engine):
    """Active outlets within the duplicate radius: the first run writes nothing and returns
    their names, the second writes with the possible duplicates found among them."""
    rep_a = _rep(race_engine, "rep_a")
    with race_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO outlets (code, name, tier, location) VALUES "
                "('NEAR-SAME', 'shop ALONE-3 二店', 'retail', "
                "ST_SetSRID(ST_MakePoint(120.7003, 30.7003), 4326)), "
                "('NEAR-OTHER', '联华便利', 'retail', "
                "ST_SetSRID(ST_MakePoint(120.7002, 30.7001), 4326))"
            )
        )
    version = _outlet(race_engine, "ALONE-3")
    result = _tag_alone(race_engine, rep_a, "ALONE-3", 120.7, version, lat=30.7)
    # NEAR-SAME is not the rep's: stored for the reviewer, not named to the rep
    assert [(f.code, f.detail.get("outlet")) for f in result.flags] == [
        ("possible_duplicate", None)
    ]
    assert result.event["flags"] == ["possible_duplicate:"]
    assert _event_rows(race_engine, "ALONE-3") == [("flagged", ["possible_duplicate:NEAR-SAME"])]
    # a dissimilar name nearby only: accepted, after the same comparison
    version = _outlet(race_engine, "ALONE-4")
    with race_engine.begin() as conn:
        conn.execute(text("UPDATE outlets SET name = '好又多' WHERE code = 'ALONE-4'"))
    result = _tag_alone(race_engine, rep_a, "ALONE-4", 120.7001, version + 1, lat=30.7)
    assert result.flags == [] and _event_rows(race_engine, "ALONE-4") == [("accepted", [])]


def test_a_point_outside_every_region_on_its_own_writes_nothing(race_engine):
    version = _outlet(race_engine, "ALONE-5")
    rep_a = _rep(race_engine, "rep_a")
    with pytest.raises(ValidationError) as refused, Session(race_engine) as session:
        geotag_outlet(session, rep_a, "ALONE-5", _tag(125.0), version, GeotagLimits(), commit=True)
    assert "outside every loaded region" in str(refused.value)
    state = _state(race_engine, "ALONE-5")
    assert state.version == version and state.lon is None and state.events == 0


def test_a_stale_tag_on_its_own_writes_nothing(race_engine):
    version = _outlet(race_engine, "ALONE-6")
    rep_a = _rep(race_engine, "rep_a")
    _tag_alone(race_engine, rep_a, "ALONE-6", 120.1, version)
    with pytest.raises(StaleVersion) as stale, Session(race_engine) as session:
        geotag_outlet(session, rep_a, "ALONE-6", _tag(120.2), version, GeotagLimits(), commit=True)
    assert stale.value.detail["current"]["version"] == version + 1
    state = _state(race_engine, "ALONE-6")
    assert state.version == version + 1 and state.lon == pytest.approx(120.1) and state.events == 1
