"""A real ``geo-crm worker`` process killed (SIGKILL) while it builds a report: its heartbeat stops,
and once GEO_CRM_WORKER_LOST_SECONDS have passed the page polling the job is answered "failed:
the worker stopped"; asked again, the report is built by the next worker. Workers need committed
data, so this test has a database of its own on the test cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from auth_helpers import add_token, token_client
from report_helpers import PERIOD, build_world
from sqlalchemy import create_engine, text

from geo_crm import create_app
from geo_crm.db import get_db, ready_engine

ROOT = Path(__file__).resolve().parent.parent
DB = "geo_crm_lost_worker_test"
BOUND_S = 20  # the smallest GEO_CRM_WORKER_LOST_SECONDS: two missed heartbeats


@pytest.fixture(scope="module")
def lost_db(pg_cluster):
    admin = create_engine(pg_cluster.admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {DB}")
        conn.exec_driver_sql(f"CREATE DATABASE {DB}")
    url = pg_cluster.url.replace("/geo_crm_test?", f"/{DB}?")
    engine = ready_engine(url)
    with engine.begin() as conn:
        ids = build_world(conn)
    engine.dispose()
    yield url, ids
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    admin.dispose()


def _state(engine, job_id: int):
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT r.state, j.status::text, j.worker_id FROM jobs.report_jobs r "
                "LEFT JOIN jobs.procrastinate_jobs j ON j.id = r.queue_job_id WHERE r.id = :id"
            ),
            {"id": job_id},
        ).one()


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_killed_worker_s_report_job_fails_and_can_be_built_again(lost_db, tmp_path):
    url, ids = lost_db
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "t",
            "GEO_CRM_VAR_DIR": tmp_path,
            "GEO_CRM_WORKER_LOST_SECONDS": BOUND_S,
        }
    )
    engine = get_db(app).engine
    with engine.begin() as conn:
        manager = token_client(app, add_token(conn, ids["m_all"]))
    body = {"format": "xlsx", "date_from": str(PERIOD[0]), "date_to": str(PERIOD[1])}
    r = manager.post("/api/v1/regions/RP/report-jobs", json=body)
    assert r.status_code == 202, r.get_data(as_text=True)[:300]
    job = r.get_json()
    env = dict(os.environ, DATABASE_URL=url, GEO_CRM_VAR_DIR=str(tmp_path))

    # the job is held once running: its first read (the user who asked) waits on this lock
    blocker = engine.connect()
    blocker.begin()
    blocker.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "geo_crm", "worker"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        running = _wait(
            lambda: _state(engine, job["id"]).state == "running", 90, "the worker to start the job"
        )
        assert running
        state = _state(engine, job["id"])
        assert state.status == "doing" and state.worker_id is not None
        worker.send_signal(signal.SIGKILL)  # no clean-up of any kind
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(30)
        blocker.rollback()
        blocker.close()
        log.close()
    killed_at = time.monotonic()
    assert manager.get(job["url"]).get_json()["state"] == "running"  # its heartbeat is recent

    def failed():
        polled = manager.get(f"{job['url']}?lang=en").get_json()
        return polled if polled["state"] != "running" else None

    polled = _wait(failed, BOUND_S + 30, "the job to be seen lost")
    assert time.monotonic() - killed_at >= BOUND_S - 10  # its last beat was at most 10 s earlier
    assert (polled["state"], polled["error_code"]) == ("failed", "worker_lost")
    assert polled["error"].startswith("The background worker building this report stopped")
    assert _state(engine, job["id"]).status == "failed"

    r = manager.post("/api/v1/regions/RP/report-jobs", json=body)  # asked again
    assert r.status_code == 202
    again = r.get_json()
    assert again["id"] != job["id"]
    result = subprocess.run(
        [sys.executable, "-m", "geo_crm", "worker", "--once"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    done = manager.get(again["url"]).get_json()
    assert done["state"] == "done", (done, result.stderr[-2000:])
    r = manager.get(done["file_url"])
    assert r.status_code == 200 and r.data[:2] == b"PK"
    r.close()

    status = subprocess.run(
        [sys.executable, "-m", "geo_crm", "jobs", "status"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert status.returncode == 0, status.stdout + status.stderr[-2000:]
    assert "stuck: none" in status.stdout
    assert "report jobs: done 1, failed 1" in status.stdout
    get_db(app).dispose()
