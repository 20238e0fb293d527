"""Reads on a streaming replica (issue 16.4), against a real primary and hot standby.

A module-wide primary of its own (the shared test cluster's data lives in rolled-back
transactions a replica never sees) and its replica, made by ``geo-crm db replica``'s code
(pg_basebackup through a slot). Which server answered is shown by what it returns: with the
replica's replay paused, a write on the primary is invisible there, so a read that sees it came
from the primary and one that does not came from the replica. The router's counters say the
same.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from auth_helpers import add_token, add_user, login, token_client
from sqlalchemy import create_engine, text

from geo_crm import create_app
from geo_crm.db import ready_engine
from geo_crm.db.cluster import LocalCluster, find_bindir
from geo_crm.db.routing import (
    COOKIE_KEY,
    HEADER,
    format_lsn,
    parse_lsn,
    reads_only,
)
from geo_crm.errors import DatabaseSetupError

API = "/api/v1"
WAIT_MS = 300
JOIN = {HEADER: "0/0"}  # an API client taking part in read-your-writes
_r1 = {"code": "R1", "name": "复制一", "tier": "retail"}


def _has_basebackup() -> bool:
    try:
        return (find_bindir() / "pg_basebackup").is_file()
    except DatabaseSetupError:
        return False


pytestmark = pytest.mark.skipif(
    not _has_basebackup(), reason="pg_basebackup (Debian: postgresql-15) is not installed"
)


# -- without a database ---------------------------------------------------------------------


def test_lsn_round_trip_and_refusals():
    assert parse_lsn("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert format_lsn(parse_lsn("0/3000148")) == "0/3000148"
    for bad in (None, "", "16", "x/1", "1/2/3", "123456789/0", 5):
        assert parse_lsn(bad) is None


def test_only_plain_reads_may_go_to_a_replica():
    from sqlalchemy import column, delete, insert, select, table

    t = table("outlets", column("id"))
    assert reads_only(clause=select(t.c.id))
    assert reads_only(clause=text("/* why */ SELECT 1"))
    assert reads_only(clause=text("WITH x AS (SELECT 1) SELECT * FROM x"))
    assert reads_only(hinted=True)
    assert not reads_only(clause=select(t.c.id).with_for_update())
    assert not reads_only(clause=insert(t).values(id=1))
    assert not reads_only(clause=delete(t))
    assert not reads_only(mapper=object())  # a flush
    assert not reads_only()  # a bare connection: who knows
    for sql in (
        "UPDATE outlets SET name = 'x'",
        "WITH d AS (DELETE FROM outlets RETURNING id) SELECT count(*) FROM d",
        "SELECT pg_advisory_xact_lock(1)",
        "SELECT id FROM outlets FOR UPDATE",
        "CREATE TEMPORARY TABLE x AS SELECT 1",
        "SELECT nextval('outlets_id_seq')",
    ):
        assert not reads_only(clause=text(sql)), sql


def test_a_replica_url_that_is_not_postgres_is_refused_without_its_password():
    from geo_crm.settings import Settings

    with pytest.raises(ValueError, match="^DATABASE_REPLICA_URLS ") as caught:
        Settings.load({"DATABASE_REPLICA_URLS": "mysql://u:hunter2@db/x"})
    assert "hunter2" not in str(caught.value)


# -- primary and replica --------------------------------------------------------------------


@pytest.fixture(scope="module")
def replicated():
    from geo_crm.db.replica import LocalReplica

    base = Path(tempfile.mkdtemp(prefix="gcrm-repl-"))
    os.chmod(base, 0o755)
    primary = LocalCluster.for_dir(base / "pg", dbname="geo_crm_repl", fast_unsafe=True)
    replica = LocalReplica.of(primary)
    try:
        engine = ready_engine(primary.ensure_database())
        with engine.begin() as conn:
            admin = add_user(conn, "repl-admin", "admin")
            token = add_token(conn, admin, "replica test")
        engine.dispose()
        replica.start()
        yield primary, replica, token
    finally:
        replica.stop()
        primary.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def rapp(replicated):
    primary, replica, _ = replicated
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": primary.url,
            "DATABASE_REPLICA_URLS": replica.url,
            "GEO_CRM_REPLICA_WAIT_MS": WAIT_MS,
            "GEO_CRM_REPLICA_MAX_LAG_S": 600,  # paused replays below must not count as lag
            "GEO_CRM_TOKEN_CACHE_S": 0,  # every request looks its token up
            "SECRET_KEY": "test",
            "GEO_CRM_AUTH_REQUIRED": True,
        }
    )
    yield app
    app.extensions["geo_crm_db"].dispose()


@pytest.fixture
def router(rapp):
    db = rapp.extensions["geo_crm_db"]
    db.engine  # noqa: B018 - built on first use, with the router
    router = db.router
    for replica in router.replicas:  # each test starts with a replica thought healthy
        replica.down_until, replica.checked_at = 0.0, float("-inf")
    return router


@pytest.fixture
def on_replica(replicated):
    """Run SQL on the replica (autocommit): pause and resume its replay."""
    engine = create_engine(replicated[1].server.admin_url(), isolation_level="AUTOCOMMIT")

    def run(sql: str):
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()

    yield run
    run("SELECT pg_wal_replay_resume()")
    engine.dispose()


@pytest.fixture
def api(rapp, replicated):
    client = token_client(rapp, replicated[2])
    assert client.get(f"{API}/outlets").status_code == 200  # the token's last_used_at written
    return client


def _caught_up(on_replica, lsn: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not on_replica(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"):
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.05)


def _served(router) -> dict:
    return dict(router.served)


def test_a_get_request_reads_on_the_replica_and_everything_else_on_the_primary(rapp, router):
    from geo_crm.db import get_db, get_session

    recovering = text("SELECT pg_is_in_recovery()")
    with rapp.test_request_context("/", method="GET"):
        session = get_session()
        assert session.execute(recovering).scalar() is True  # the replica
        session.execute(text("SELECT set_config('geo_crm.x', '1', true)"))  # reads, still there
        assert session.execute(recovering).scalar() is True
        session.execute(text("CREATE TEMPORARY TABLE t_after (x int) ON COMMIT DROP"))  # a write
        assert session.execute(recovering).scalar() is False  # the primary from now on
    with rapp.test_request_context("/", method="POST"):
        assert get_session().execute(recovering).scalar() is False
    with rapp.app_context():  # a command or background job
        session = get_db(rapp).session()
        try:
            assert session.execute(recovering).scalar() is False
        finally:
            session.close()


def test_a_get_reads_from_the_replica_and_a_post_writes_to_the_primary(api, router, on_replica):
    before = _served(router)
    quiet = api.post(f"{API}/outlets", json={"code": "R0", "name": "复制零", "tier": "retail"})
    assert quiet.status_code == 201 and HEADER not in quiet.headers  # a client not taking part
    created = api.post(f"{API}/outlets", json=_r1, headers=JOIN)
    assert created.status_code == 201, created.get_json()
    lsn = created.headers[HEADER]
    assert parse_lsn(lsn) is not None
    assert _served(router) == before, "a POST chose no replica"
    _caught_up(on_replica, lsn)
    listed = api.get(f"{API}/outlets")
    assert listed.status_code == 200
    assert "R1" in {o["code"] for o in listed.get_json()["items"]}
    assert router.served["replica"] == before["replica"] + 1
    assert HEADER not in listed.headers  # a read writes nothing, so no new LSN


def test_a_stale_replica_answers_without_the_lsn_and_the_primary_with_it(api, router, on_replica):
    """Replay paused: the replica cannot see the new outlet. Without the LSN the read goes to
    the replica (and misses it: proof of where it read); with it, the request waits up to the
    bound, then reads from the primary and sees its own write."""
    on_replica("SELECT pg_wal_replay_pause()")
    created = api.post(
        f"{API}/outlets", json={"code": "R2", "name": "复制二", "tier": "retail"}, headers=JOIN
    )
    assert created.status_code == 201
    lsn = created.headers[HEADER]

    blind = api.get(f"{API}/outlets/R2")
    assert blind.status_code == 404  # the replica, behind
    before = _served(router)
    started = time.monotonic()
    mine = api.get(f"{API}/outlets/R2", headers={HEADER: lsn})
    waited = time.monotonic() - started
    assert mine.status_code == 200 and mine.get_json()["name"] == "复制二"
    assert router.served["primary"] == before["primary"] + 1
    assert waited >= WAIT_MS / 1000 * 0.9  # it waited for the replica first

    on_replica("SELECT pg_wal_replay_resume()")
    before = _served(router)
    again = api.get(f"{API}/outlets/R2", headers={HEADER: lsn})  # replays, then answers
    assert again.status_code == 200
    assert router.served["replica"] == before["replica"] + 1


def test_a_browser_sees_its_sign_in_and_its_write_on_the_next_page(rapp, router, on_replica):
    """Signing in writes the session row: with replay paused the replica does not know it, so
    without read-your-writes the next page would send the user back to sign in."""
    with rapp.app_context():
        engine = rapp.extensions["geo_crm_db"].engine
    with engine.begin() as conn:
        add_user(conn, "repl-manager", "admin")
    client = rapp.test_client()
    on_replica("SELECT pg_wal_replay_pause()")
    signed = login(client, "repl-manager")
    assert signed.status_code == 302
    cookie = client.get_cookie("geo_crm_session")
    serializer = rapp.session_interface.get_signing_serializer(rapp)
    assert parse_lsn(serializer.loads(cookie.value)[COOKIE_KEY]) is not None
    before = _served(router)
    page = client.get("/")
    assert page.status_code == 200, page.headers.get("Location")
    assert router.served["primary"] == before["primary"] + 1

    on_replica("SELECT pg_wal_replay_resume()")
    before = _served(router)
    assert client.get("/").status_code == 200
    assert router.served["replica"] == before["replica"] + 1


def test_every_plain_get_page_and_api_list_works_on_the_replica(rapp, api, router, on_replica):
    """No GET route without arguments sends a write to the replica (which would fail there):
    each answers below 500, read from the replica."""
    created = api.post(
        f"{API}/outlets", json={"code": "R3", "name": "复制三", "tier": "retail"}, headers=JOIN
    )
    _caught_up(on_replica, created.headers[HEADER])
    paths = sorted(
        rule.rule
        for rule in rapp.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static"
    )
    assert len(paths) > 20
    failures = []
    for path in paths:
        response = api.get(path)
        if response.status_code >= 500:
            failures.append(f"{path}: {response.status_code}")
    assert not failures
    assert router.served["replica"] > 0


def test_the_health_check_asks_the_primary(rapp, router):
    before = _served(router)
    response = rapp.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json()["checks"]["database"] == "ok"
    assert _served(router) == before  # no replica chosen


def test_a_replica_too_far_behind_serves_nothing(api, router, on_replica):
    on_replica("SELECT pg_wal_replay_pause()")
    created = api.post(f"{API}/outlets", json={"code": "R4", "name": "复制四", "tier": "retail"})
    assert created.status_code == 201
    time.sleep(0.3)
    saved = router.max_lag_s
    router.max_lag_s = 0.1
    try:
        before = _served(router)
        seen = api.get(f"{API}/outlets/R4")  # no LSN given, yet the primary answers
        assert seen.status_code == 200
        assert router.served["primary"] == before["primary"] + 1
    finally:
        router.max_lag_s = saved


def _cli(primary):
    """The CLI of an app on the embedded primary (no DATABASE_URL), as a developer runs it."""
    app = create_app(
        {
            "TESTING": True,
            "GEO_CRM_PGDATA": str(primary.datadir),
            "GEO_CRM_DB_NAME": primary.dbname,
            "SECRET_KEY": "test",
        }
    )
    runner = app.test_cli_runner()

    def run(*args: str) -> str:
        result = runner.invoke(args=["db", "replica", *args])
        assert result.exit_code == 0, result.output
        return result.output

    return run


def test_replica_status_on_the_command_line(replicated, on_replica):
    primary, replica, _ = replicated
    info = json.loads(_cli(primary)("status", "--json"))
    assert info["running"] and info["in_recovery"] and info["streaming"]
    assert info["datadir"] == str(replica.datadir)
    assert isinstance(info["lag_bytes"], int) and info["lag_seconds"] >= 0


def test_a_stopped_replica_leaves_pages_working_on_the_primary(rapp, api, router, replicated):
    primary, replica, _ = replicated
    created = api.post(f"{API}/outlets", json={"code": "R5", "name": "复制五", "tier": "retail"})
    assert created.status_code == 201  # its own outlet: xdist may run this test on its own
    cli = _cli(primary)
    assert cli("stop").strip() == "stopped"
    try:
        before = _served(router)
        for _ in range(2):  # the first finds it gone, the second does not try it again
            response = api.get(f"{API}/outlets")
            assert response.status_code == 200
            assert "R5" in {o["code"] for o in response.get_json()["items"]}
        assert router.served["primary"] == before["primary"] + 2
        assert router.replicas[0].down_until > time.monotonic()
    finally:
        started = cli("start")
    assert "started replica" in started and f"DATABASE_REPLICA_URLS={replica.url}" in started


def _primary_lsn(engine) -> str:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_current_wal_insert_lsn()::text")).scalar()


def test_the_analysis_cache_counts_on_the_primary_and_queues_there(rapp, router, replicated):
    """A cached analysis read in a GET served by the replica: a result a job kept on the
    primary is fresh there too (the replica's copy of the change counter, a sequence, runs up
    to 32 values ahead, so it never matched), and a stale one queues its recomputation on the
    primary (the job's search path went to the replica, so the job was never queued)."""
    from auth_helpers import add_outlet, add_region

    from geo_crm.analysis import cache
    from geo_crm.analysis.params import AnalysisParams
    from geo_crm.db import get_db, get_session
    from geo_crm.jobs.analyses import enqueue_analysis

    primary = create_engine(replicated[0].url)
    with primary.begin() as conn:
        add_region(conn, "RC1", "city", (100.0, 30.0, 100.5, 30.5))
        add_outlet(conn, "RCO1", lon=100.2, lat=30.2)
    with rapp.app_context():  # what the queued job does, on the primary
        session = get_db(rapp).session()
        try:
            _, filters = cache.filter_key("coverage", AnalysisParams())
            assert cache.refresh(session, "coverage", "RC1", filters) is True
            session.commit()
        finally:
            session.close()
    lsn = _primary_lsn(primary)

    def read(**kw):
        with rapp.test_request_context("/regions/RC1", method="GET"):
            session = get_session()
            started = time.monotonic()
            while not session.execute(
                text("SELECT pg_last_wal_replay_lsn() >= :lsn ::pg_lsn"), {"lsn": lsn}
            ).scalar():
                assert time.monotonic() - started < 20, "the replica did not catch up"
                time.sleep(0.05)
            assert session.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
            got = cache.cached(session, "coverage", "RC1", AnalysisParams(), **kw)
            session.commit()
            return got

    kept = read(enqueue=None)
    assert (kept.state, kept.wrote) == ("fresh", False)  # served as kept, nothing recomputed

    with primary.begin() as conn:  # a change: the kept result is stale now
        add_outlet(conn, "RCO2", lon=100.3, lat=30.3)
    lsn = _primary_lsn(primary)
    stale = read(enqueue=enqueue_analysis, inline_outlets=0)
    assert (stale.state, stale.wrote) == ("stale", True)
    with primary.connect() as conn:
        queued = conn.execute(
            text(
                "SELECT count(*) FROM jobs.procrastinate_jobs "
                "WHERE status = 'todo' AND args->>'region' = 'RC1'"
            )
        ).scalar()
    assert queued == 1
    primary.dispose()


def test_the_health_check_reports_each_replica_and_its_lag(rapp, router, on_replica):
    body = rapp.test_client().get("/healthz").get_json()
    assert body["status"] == "ok"
    (replica,) = body["replicas"]
    assert replica["replica"] == 1 and replica["state"] == "ok" and replica["serving"] is True
    assert 0 <= replica["replay_lag_s"] < 600
    assert "host" not in json.dumps(body) and "/" not in replica["state"]  # the endpoint is public


def test_the_health_check_stays_up_when_a_replica_is_down(rapp, router, replicated):
    _, replica, _ = replicated
    replica.stop()
    try:
        for replica_ in router.replicas:
            replica_.engine.dispose()
        response = rapp.test_client().get("/healthz")
        assert response.status_code == 200
        body = response.get_json()
        assert body["checks"]["database"] == "ok"
        (down,) = body["replicas"]
        assert down["state"].startswith("down") and down["serving"] is False
        assert down["replay_lag_s"] is None
    finally:
        replica.start()
