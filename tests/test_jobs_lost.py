"""Jobs of workers that stopped (killed, machine restarted) and procrastinate's own rows: a report
job left running by a dead worker is shown failed after GEO_CRM_WORKER_LOST_SECONDS without a
heartbeat and can be asked for again; a lost analysis recomputation is queued again, a bounded
number of times; finished queue rows older than the retention are deleted, recent ones kept;
``geo-crm report clean`` and ``geo-crm jobs status`` say what they did and what is stuck.

A dead worker's state is written here the way one leaves it: registered, its entry fetched
(``doing``, pointing at it), the report job claimed (``running``), then its heartbeat left to age.
A real worker process killed with SIGKILL is in tests/test_jobs_lost_worker.py."""

from __future__ import annotations

import pytest
from auth_helpers import add_token, token_client
from sqlalchemy import text

from geo_crm.jobs import lost
from geo_crm.jobs.analyses import enqueue_analysis
from geo_crm.jobs.queue import ANALYSIS_QUEUE, QUEUE
from geo_crm.jobs.store import REPORT_JOBS

pytest_plugins = ["report_fixtures"]


@pytest.fixture
def clients(app, connection, report_world):
    ids = report_world
    return {role: token_client(app, add_token(connection, ids[role])) for role in ids}


@pytest.fixture
def bound(app, settings_override):
    settings_override(app, worker_lost_seconds=60)
    return 60


def _job(client, region="RP", fmt="xlsx") -> dict:
    r = client.post(f"/api/v1/regions/{region}/report-jobs", json={"format": fmt})
    assert r.status_code == 202, r.get_data(as_text=True)[:300]
    return r.get_json()


def _worker(connection) -> int:
    return connection.execute(
        text("SELECT worker_id FROM jobs.procrastinate_register_worker_v1()")
    ).scalar_one()


def _fetch(connection, worker: int, queue: str = QUEUE) -> int:
    """What a worker does on taking the next entry: ``doing``, pointing at the worker."""
    return connection.execute(
        text("SELECT id FROM jobs.procrastinate_fetch_job_v2(:q, :w)"), {"q": [queue], "w": worker}
    ).scalar_one()


def _claim(connection, report_id: int) -> None:
    """What ``jobs.tasks`` does first (``store.claim``)."""
    connection.execute(
        text(
            "UPDATE jobs.report_jobs SET state = 'running', percent = 1, stage = 'started', "
            "started_at = now() WHERE id = :id"
        ),
        {"id": report_id},
    )


def _silent(connection, worker: int, seconds: float) -> None:
    """The worker's last heartbeat ``seconds`` ago (killed then, or beating until then)."""
    connection.execute(
        text(
            "UPDATE jobs.procrastinate_workers "
            "SET last_heartbeat = now() - make_interval(secs => :s) WHERE id = :w"
        ),
        {"s": seconds, "w": worker},
    )


def _entry(connection, entry_id: int):
    return connection.execute(
        text("SELECT status::text, attempts FROM jobs.procrastinate_jobs WHERE id = :id"),
        {"id": entry_id},
    ).one()


def _report(connection, job_id: int):
    return connection.execute(REPORT_JOBS.select().where(REPORT_JOBS.c.id == job_id)).one()


def _running_on_a_worker(connection, job: dict) -> tuple[int, int]:
    worker = _worker(connection)
    entry = _fetch(connection, worker)
    assert entry == _report(connection, job["id"]).queue_job_id
    _claim(connection, job["id"])
    return worker, entry


# --- a report job of a killed worker ---------------------------------------------------------


def test_a_report_job_of_a_killed_worker_fails_after_the_bound_and_can_be_asked_again(
    clients, connection, bound
):
    manager = clients["m_all"]
    job = _job(manager)
    worker, entry = _running_on_a_worker(connection, job)
    assert manager.get(job["url"]).get_json()["state"] == "running"

    _silent(connection, worker, bound - 5)  # a beat missed or two: still its worker's
    assert manager.get(job["url"]).get_json()["state"] == "running"
    again = _job(manager)  # asking again meanwhile gives the same job back
    assert again["id"] == job["id"]

    _silent(connection, worker, bound + 5)  # killed a minute ago: the page learns it
    failed = manager.get(f"{job['url']}?lang=en").get_json()
    assert (failed["state"], failed["stage"], failed["error_code"]) == (
        "failed", "failed", "worker_lost",
    )  # fmt: skip
    assert failed["error"] == (
        "The background worker building this report stopped before it finished: ask for the "
        "report again."
    )
    assert failed["finished_at"] is not None and failed["file_url"] is None
    zh = manager.get(f"{job['url']}?lang=zh").get_json()
    assert zh["error"] == "生成此报告的后台任务进程在完成前已停止：请重新申请报告。"
    assert _entry(connection, entry).status == "failed"  # the queue says so too

    rerun = _job(manager)  # the user asks again: a new job, queued
    assert rerun["id"] != job["id"] and rerun["state"] == "queued"
    assert clients["m_in"].get(job["url"]).status_code == 404  # still nobody else's


def test_a_live_worker_building_a_long_report_is_not_lost(clients, connection, session, bound):
    manager = clients["m_all"]
    job = _job(manager)
    worker, _ = _running_on_a_worker(connection, job)
    connection.execute(  # running for three hours, its worker beating
        text("UPDATE jobs.report_jobs SET started_at = now() - interval '3 hours' WHERE id = :id"),
        {"id": job["id"]},
    )
    _silent(connection, worker, 5)
    assert manager.get(job["url"]).get_json()["state"] == "running"
    assert lost.lost_entries(session, bound) == [] == lost.orphaned_reports(session, bound)


def test_a_job_whose_worker_was_already_pruned_is_lost_at_once(clients, connection, bound):
    """A live worker removes a silent one after 30 s (procrastinate); its entries then point at
    no worker. Here the worker died after taking the entry, before claiming the report job."""
    manager = clients["m_all"]
    job = _job(manager)
    worker = _worker(connection)
    entry = _fetch(connection, worker)
    connection.execute(text("DELETE FROM jobs.procrastinate_workers WHERE id = :w"), {"w": worker})
    assert _report(connection, job["id"]).state == "queued"
    failed = manager.get(job["url"]).get_json()
    assert (failed["state"], failed["error_code"]) == ("failed", "worker_lost")
    assert _entry(connection, entry).status == "failed"


def test_a_report_job_whose_queue_entry_ended_without_it_fails_after_the_bound(
    clients, connection, bound
):
    """The task stopped before it could say why (e.g. no database to write to): procrastinate
    marked its entry failed, the job stayed queued."""
    manager = clients["m_all"]
    job = _job(manager)
    entry = _report(connection, job["id"]).queue_job_id
    connection.execute(
        text("SELECT jobs.procrastinate_finish_job_v1(:id, 'failed', false)"), {"id": entry}
    )
    assert manager.get(job["url"]).get_json()["state"] == "queued"  # just now: left alone
    connection.execute(
        text(
            "UPDATE jobs.report_jobs SET created_at = now() - interval '2 minutes' WHERE id = :id"
        ),
        {"id": job["id"]},
    )
    assert manager.get(job["url"]).get_json()["error_code"] == "worker_lost"


def test_a_worker_finishing_a_job_already_failed_as_lost_does_not_revive_it(
    clients, connection, bound, session
):
    """A worker judged lost (its heartbeat stalled) that finishes after all: the user was told
    to ask again, so the job stays failed (``store.mark`` only writes to running jobs)."""
    from sqlalchemy import update

    manager = clients["m_all"]
    job = _job(manager)
    worker, _ = _running_on_a_worker(connection, job)
    _silent(connection, worker, bound + 5)
    assert lost.recover(session, bound).reports == [job["id"]]
    j = REPORT_JOBS.c
    stmt = update(REPORT_JOBS).where(j.id == job["id"], j.state == "running")
    assert connection.execute(stmt.values(state="done", file_name="r.xlsx")).rowcount == 0
    assert _report(connection, job["id"]).state == "failed"


# --- analyses --------------------------------------------------------------------------------


def test_a_lost_analysis_is_queued_again_a_bounded_number_of_times(
    connection, session, report_world, bound
):
    lock = "analysis:coverage:1:test"
    assert enqueue_analysis(session, "coverage", "RP", {"tiers": []}, lock)
    session.flush()
    tries = []
    for _ in range(lost.ANALYSIS_TRIES):
        worker = _worker(connection)
        entry = _fetch(connection, worker, ANALYSIS_QUEUE)
        _silent(connection, worker, bound + 1)  # killed while computing
        done = lost.recover(session, bound)
        tries.append((done.analyses_requeued, done.analyses_failed, _entry(connection, entry)))
    (e1, e2, e3) = (t[2] for t in tries)
    assert tries[0][0] == [entry] and (e1.status, e1.attempts) == ("todo", 1)
    assert tries[1][0] == [entry] and (e2.status, e2.attempts) == ("todo", 2)
    assert tries[2][1] == [entry] and e3.status == "failed"  # three runs, each killed: given up
    # the key is free: a page asking for the analysis queues it again
    assert enqueue_analysis(session, "coverage", "RP", {"tiers": []}, lock)


def test_a_lost_analysis_whose_key_is_queued_again_meanwhile_is_failed(
    connection, session, report_world, bound
):
    lock = "analysis:gaps:1:test"
    assert enqueue_analysis(session, "gaps", "RP", {"tiers": []}, lock)
    worker = _worker(connection)
    entry = _fetch(connection, worker, ANALYSIS_QUEUE)
    assert enqueue_analysis(session, "gaps", "RP", {"tiers": []}, lock)  # a page asked again
    _silent(connection, worker, bound + 1)
    done = lost.recover(session, bound)
    assert done.analyses_failed == [entry] and done.analyses_requeued == []
    assert _entry(connection, entry).status == "failed"
    queued = connection.execute(
        text(
            "SELECT count(*) FROM jobs.procrastinate_jobs "
            "WHERE queueing_lock = :l AND status = 'todo'"
        ),
        {"l": lock},
    ).scalar_one()
    assert queued == 1


# --- procrastinate's own rows ----------------------------------------------------------------


def _entry_finished(connection, status: str, hours_ago: float, queue: str = QUEUE) -> int:
    """A finished queue entry whose events are ``hours_ago`` old."""
    entry = connection.execute(
        text(
            "SELECT unnest(jobs.procrastinate_defer_jobs_v1(ARRAY[ROW(:q, 'geo_crm.report', 0, "
            "NULL, NULL, '{}'::jsonb, NULL)::jobs.procrastinate_job_to_defer_v1]))"
        ),
        {"q": queue},
    ).scalar_one()
    if status != "todo":
        connection.execute(
            text(
                "UPDATE jobs.procrastinate_jobs "
                "SET status = CAST(:s AS jobs.procrastinate_job_status) WHERE id = :id"
            ),
            {"s": status, "id": entry},
        )
    connection.execute(
        text(
            "UPDATE jobs.procrastinate_events SET at = now() - make_interval(secs => :h * 3600) "
            "WHERE job_id = :id"
        ),
        {"h": hours_ago, "id": entry},
    )
    return entry


def _exists(connection, entry: int) -> bool:
    return connection.execute(
        text("SELECT EXISTS (SELECT 1 FROM jobs.procrastinate_jobs WHERE id = :id)"), {"id": entry}
    ).scalar_one()


def test_report_clean_deletes_old_finished_queue_rows_and_keeps_the_rest(
    app, connection, cli, settings_override, tmp_path, bound
):
    settings_override(app, var_dir=tmp_path, report_retention_hours=24)
    old = {s: _entry_finished(connection, s, 30) for s in ("succeeded", "failed", "cancelled")}
    old_analysis = _entry_finished(connection, "succeeded", 48, ANALYSIS_QUEUE)
    recent = _entry_finished(connection, "succeeded", 2)
    waiting = _entry_finished(connection, "todo", 30)  # queued long ago: never touched
    periodic = _entry_finished(connection, "succeeded", 30)  # a periodic task's last run
    connection.execute(
        text(
            "INSERT INTO jobs.procrastinate_periodic_defers (task_name, defer_timestamp, job_id, "
            "periodic_id) VALUES ('geo_crm.clean_reports', 1, :id, 'hourly')"
        ),
        {"id": periodic},
    )
    stopped, alive = _worker(connection), _worker(connection)
    _silent(connection, stopped, 3600)
    events = connection.execute(
        text("SELECT count(*) FROM jobs.procrastinate_events WHERE job_id = ANY(:ids)"),
        {"ids": [*old.values(), old_analysis]},
    ).scalar_one()
    assert events >= 4

    result = cli.invoke(args=["report", "clean"])
    assert result.exit_code == 0, result.output
    assert (
        "queue: 4 finished queue entries deleted with their events, 1 stopped workers removed "
        "(kept: the last 24 hours)"
    ) in result.output
    assert "jobs of stopped workers: 0 report jobs of stopped workers failed" in result.output
    for entry in [*old.values(), old_analysis]:
        assert not _exists(connection, entry)
    for entry in (recent, waiting, periodic):
        assert _exists(connection, entry)
    orphan_events = connection.execute(
        text("SELECT count(*) FROM jobs.procrastinate_events WHERE job_id = ANY(:ids)"),
        {"ids": list(old.values())},
    ).scalar_one()
    assert orphan_events == 0
    workers = connection.execute(text("SELECT id FROM jobs.procrastinate_workers")).scalars()
    assert set(workers) == {alive}


def test_report_clean_fails_the_jobs_of_stopped_workers(
    app, clients, connection, cli, settings_override, tmp_path, bound
):
    settings_override(app, var_dir=tmp_path)
    job = _job(clients["m_all"])
    worker, _ = _running_on_a_worker(connection, job)
    _silent(connection, worker, 3600)
    result = cli.invoke(args=["report", "clean"])
    assert result.exit_code == 0, result.output
    assert "jobs of stopped workers: 1 report jobs of stopped workers failed" in result.output
    assert _report(connection, job["id"]).error_key == "worker_lost"


# --- geo-crm jobs status -----------------------------------------------------------------------


def test_jobs_status_shows_workers_queue_and_what_is_stuck_then_recovers(
    clients, connection, cli, bound
):
    job = _job(clients["m_all"])
    _job(clients["m_all"], fmt="pdf")  # waiting
    worker, entry = _running_on_a_worker(connection, job)
    alive = _worker(connection)
    _silent(connection, worker, 600)

    result = cli.invoke(args=["jobs", "status"])
    assert result.exit_code == 1, result.output  # something is stuck: a check can alert
    out = result.output
    assert "workers: 2 (lost after 60 s without a heartbeat)" in out
    assert f"worker {worker}: LOST, last heartbeat 600 s ago, 1 running" in out
    assert f"worker {alive}: alive, last heartbeat 0 s ago, 0 running" in out
    assert "reports: doing 1, todo 1" in out
    assert "report jobs: queued 1, running 1" in out
    assert "stuck: 1" in out
    assert f"queue entry {entry} (report job {job['id']}, try 1): worker {worker} stopped" in out
    assert "geo-crm jobs status --recover" in out
    assert _report(connection, job["id"]).state == "running"  # status alone changes nothing

    result = cli.invoke(args=["jobs", "status", "--recover"])
    assert result.exit_code == 0, result.output
    assert "recovered: 1 report jobs of stopped workers failed" in result.output
    assert _report(connection, job["id"]).state == "failed"
    result = cli.invoke(args=["jobs", "status"])
    assert result.exit_code == 0 and "stuck: none" in result.output
    assert "report jobs: failed 1, queued 1" in result.output


def test_two_recoveries_of_the_same_job_at_once_do_no_harm(clients, connection, session, bound):
    """A poll and the worker's minutely task may both find the job lost: the second finds the
    entry no longer ``doing`` (procrastinate's function raises then) and leaves it."""
    job = _job(clients["m_all"])
    worker, entry = _running_on_a_worker(connection, job)
    _silent(connection, worker, bound + 5)
    seen_by_both = lost.lost_entries(session, bound)
    assert [e.id for e in seen_by_both] == [entry]
    assert lost.recover(session, bound).reports == [job["id"]]
    late = lost._recover(session, seen_by_both, [])
    assert not late and late.reports == []
    assert (_report(connection, job["id"]).state, _entry(connection, entry).status) == (
        "failed", "failed",
    )  # fmt: skip
