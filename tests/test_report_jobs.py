"""Report jobs on the procrastinate queue: queued → running (with progress) → done with the file,
run by a worker in this process and by ``geo-crm worker --once`` in another. Workers need
committed data, so these tests use a database of their own on the test cluster."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from report_helpers import PERIOD, build_world
from sqlalchemy import create_engine

from geo_crm import create_app
from geo_crm.db import get_db, ready_engine
from geo_crm.domain.principal import Principal
from geo_crm.errors import NotFound, ValidationError
from geo_crm.jobs import runtime
from geo_crm.jobs.queue import QUEUE, make_app
from geo_crm.jobs.store import enqueue_report, report_file, report_job
from geo_crm.reports.data import ReportFilters
from geo_crm.settings import settings_of

ROOT = Path(__file__).resolve().parent.parent
DB = "geo_crm_jobs_test"
FILTERS = ReportFilters(date_from=PERIOD[0], date_to=PERIOD[1], cell_km=10)


@pytest.fixture(scope="module")
def jobs_db(pg_cluster):
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


@pytest.fixture
def jobs_app(jobs_db, tmp_path):
    url, ids = jobs_db
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "t", "GEO_CRM_VAR_DIR": tmp_path})
    yield app, ids
    get_db(app).dispose()


def _enqueue(app, user, fmt, region="RP", **kw) -> int:
    session = get_db(app).session()
    try:
        job = enqueue_report(session, user, region, FILTERS, fmt, **kw)
        session.commit()
        return job
    finally:
        session.close()


def _status(app, user, job):
    session = get_db(app).session()
    try:
        return report_job(session, user, job)
    finally:
        session.close()


def test_a_job_goes_queued_running_done_with_its_file(jobs_app, tmp_path):
    app, ids = jobs_app
    url = get_db(app).engine.url.render_as_string(hide_password=False)
    manager = Principal(ids["m_all"], "rmanager_p", "manager")
    job = _enqueue(app, manager, "pdf", lang="en")
    queued = _status(app, manager, job)
    assert (queued.state, queued.percent) == ("queued", 0)
    queue_jobs = make_app(url, sync=True)
    with queue_jobs.open():
        (entry,) = [j for j in queue_jobs.job_manager.list_jobs(queue=QUEUE)
                    if j.task_kwargs == {"job": job}]  # fmt: skip
        assert entry.status == "todo" and entry.task_name == "geo_crm.report"

    rt = runtime.configure(get_db(app), settings_of(app))
    paused, resume = threading.Event(), threading.Event()

    def hold(job_id, percent, stage):  # the job waits at its first progress report
        if not paused.is_set():
            paused.set()
            resume.wait(30)

    rt.on_progress.append(hold)
    worker = threading.Thread(
        target=lambda: make_app(url).run_worker(
            queues=[QUEUE], wait=False, install_signal_handlers=False
        )
    )
    worker.start()
    try:
        assert paused.wait(30)
        running = _status(app, manager, job)
        assert running.state == "running" and 0 < running.percent < 100 and running.stage
        assert running.started_at is not None and running.finished_at is None
    finally:
        resume.set()
        worker.join(120)
    done = _status(app, manager, job)
    assert (done.state, done.percent, done.error) == ("done", 100, None)
    session = get_db(app).session()
    try:
        path = report_file(session, manager, job, tmp_path / "reports")
    finally:
        session.close()
    assert path == tmp_path / "reports" / str(job) / done.file_name
    assert path.read_bytes()[:5] == b"%PDF-" and path.stat().st_size == done.file_size
    assert done.to_dict()["media_type"] == "application/pdf"
    with queue_jobs.open():
        assert queue_jobs.job_manager.list_jobs(id=entry.id)[0].status == "succeeded"


def test_jobs_are_checked_when_asked_and_seen_by_their_owner_only(jobs_app):
    app, ids = jobs_app
    m_in = Principal(ids["m_in"], "rmanager_c1", "manager")
    with pytest.raises(NotFound):  # RP lies outside this manager's scope: 404 at once
        _enqueue(app, m_in, "pdf")
    with pytest.raises(ValidationError):
        _enqueue(app, m_in, "docx", region="RC1")
    job = _enqueue(app, m_in, "xlsx", region="RC1")
    other = Principal(ids["m_all"], "rmanager_p", "manager")
    with pytest.raises(NotFound):
        _status(app, other, job)
    assert _status(app, Principal(ids["admin"], "radmin", "admin"), job).state == "queued"
    territory = _enqueue(app, m_in, "gpkg", region=None, distributor_territory="D1")
    assert _status(app, m_in, territory).region_code == "RC1"


def test_geo_crm_worker_once_runs_what_is_waiting(jobs_app, tmp_path):
    app, ids = jobs_app
    manager = Principal(ids["m_all"], "rmanager_p", "manager")
    job = _enqueue(app, manager, "xlsx", lang="zh")
    env = dict(
        os.environ,
        DATABASE_URL=get_db(app).engine.url.render_as_string(hide_password=False),
        GEO_CRM_VAR_DIR=str(tmp_path),
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "geo_crm", "worker", "--once"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "worker: stopped" in result.stdout
    done = _status(app, manager, job)
    assert done.state == "done", (done, result.stderr[-2000:], time.monotonic() - started)
    assert (tmp_path / "reports" / str(job) / done.file_name).read_bytes()[:2] == b"PK"


def test_a_failed_job_keeps_why_as_a_key_read_in_the_readers_language(jobs_app):
    from sqlalchemy import text

    from geo_crm.i18n import Translator
    from geo_crm.jobs.tasks import run_report_job

    app, ids = jobs_app
    manager = Principal(ids["m_in"], "rmanager_c1", "manager")
    job = _enqueue(app, manager, "xlsx", region="RC1")
    engine = get_db(app).engine
    with engine.begin() as conn:  # the manager leaves before a worker gets to the job
        conn.execute(text("UPDATE users SET active = false WHERE id = :id"), {"id": ids["m_in"]})
    try:
        run_report_job(runtime.configure(get_db(app), settings_of(app)), job)
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE users SET active = true WHERE id = :id"), {"id": ids["m_in"]})
    failed = _status(app, Principal(ids["admin"], "radmin", "admin"), job)
    assert (failed.state, failed.error_key) == ("failed", "owner_gone")
    assert failed.message(Translator("zh")) == "申请此报告的用户已不存在或已停用。"
    assert failed.to_dict(Translator("en"))["error"] == (
        "The user who asked for this report no longer exists or is disabled."
    )
    assert failed.error == failed.to_dict()["error"]  # English stored for the logs


def test_the_worker_runs_the_hourly_clean(jobs_app, tmp_path):
    """The periodic task, deferred as a worker's deferrer does at its hour, run by a worker:
    a file two days old is deleted and its job expired."""
    import asyncio

    from procrastinate.periodic import PeriodicDeferrer
    from sqlalchemy import text

    app, ids = jobs_app
    manager = Principal(ids["m_all"], "rmanager_p", "manager")
    job = _enqueue(app, manager, "xlsx", lang="zh")
    folder = tmp_path / "reports" / str(job)
    folder.mkdir(parents=True)
    (folder / "r.xlsx").write_bytes(b"PK")
    with get_db(app).engine.begin() as conn:  # as if a worker built it two days ago
        conn.execute(
            text(
                "UPDATE jobs.report_jobs SET state = 'done', percent = 100, stage = 'done', "
                "file_name = 'r.xlsx', finished_at = now() - interval '48 hours' WHERE id = :id"
            ),
            {"id": job},
        )
    url = get_db(app).engine.url.render_as_string(hide_password=False)
    queue = make_app(url)
    (periodic,) = [
        p for p in queue.periodic_registry.periodic_tasks.values() if p.periodic_id == "hourly"
    ]

    async def defer() -> None:
        async with queue.open_async():
            await PeriodicDeferrer(queue.periodic_registry).defer_jobs(
                [(periodic, int(time.time()))]
            )

    asyncio.run(defer())
    runtime.configure(get_db(app), settings_of(app))
    make_app(url).run_worker(queues=[QUEUE], wait=False, install_signal_handlers=False)
    expired = _status(app, manager, job)
    assert (expired.state, expired.error_key) == ("expired", "expired")
    assert expired.error_params == {"hours": 24.0} and not folder.exists()
