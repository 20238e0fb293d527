"""Benchmark: the queue's upkeep over a big procrastinate table — finding the jobs of stopped
workers (every minute, and on each poll of an unfinished report job) and deleting finished
entries past the retention (hourly) — beside procrastinate's own ``delete_old_jobs`` statement.

    .venv/bin/python bench/bench_jobs_clean.py [--old 200000] [--recent 50000] [--lost 100]
    .venv/bin/python bench/bench_jobs_clean.py --old 2000000 --recent 200000   # a busy year

Starts a throwaway PostgreSQL + PostGIS cluster (durable settings), migrates, and writes with
set-based SQL (procrastinate's triggers off, as a bulk load): ``--old`` finished entries (three
events each, two days old), ``--recent`` finished an hour ago, ``--running`` entries of a live
worker and ``--lost`` report jobs running on a worker silent for an hour. Then times

1. finding the lost jobs (``jobs.lost.lost_entries`` + ``orphaned_reports``: what the minutely
   task and ``geo-crm jobs status`` read), median of ``--repeat``;
2. one poll's check of one running report job (``jobs.lost.check_report_job``'s reads);
3. deleting the old finished entries and their events: ``jobs.queue_cleanup`` and, on the same
   data, procrastinate 3.10's ``delete_old_jobs`` query (its builtin ``remove_old_jobs``), each
   in a transaction rolled back, ours twice (before and after) so that caching favours neither.

The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from procrastinate import sql as procrastinate_sql
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo_crm.db import ready_engine
from geo_crm.db.cluster import LocalCluster
from geo_crm.jobs import lost, queue_cleanup

_SETUP = [
    "SET session_replication_role = replica",  # procrastinate's triggers off: a bulk load
    """INSERT INTO jobs.procrastinate_workers (last_heartbeat)
       VALUES (now()), (now() - interval '1 hour')""",
    """INSERT INTO jobs.procrastinate_jobs (queue_name, task_name, args, status, attempts)
       SELECT CASE WHEN i % 3 = 0 THEN 'analyses' ELSE 'reports' END,
              CASE WHEN i % 3 = 0 THEN 'geo_crm.analysis' ELSE 'geo_crm.report' END,
              jsonb_build_object('job', i),
              CAST(CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'succeeded' END
                   AS jobs.procrastinate_job_status),
              1
         FROM generate_series(1, :old + :recent) AS i""",
    """INSERT INTO jobs.procrastinate_events (job_id, type, at)
       SELECT j.id, t.type::jobs.procrastinate_job_event_type,
              now() - CASE WHEN j.id <= :old THEN interval '48 hours' ELSE interval '1 hour' END
                    + t.n * interval '1 second'
         FROM jobs.procrastinate_jobs j,
              (VALUES (0, 'deferred'), (1, 'started'), (2, 'succeeded')) AS t(n, type)""",
    """INSERT INTO jobs.procrastinate_jobs (queue_name, task_name, args, status, worker_id)
       SELECT 'analyses', 'geo_crm.analysis', '{}'::jsonb, 'doing',
              (SELECT min(id) FROM jobs.procrastinate_workers)
         FROM generate_series(1, :running)""",
    """INSERT INTO jobs.report_jobs (region_code, format, lang, filters, state, percent, stage,
                                     started_at)
       SELECT '330000', 'pdf', 'zh', '{}'::jsonb, 'running', 40, 'maps',
              now() - interval '1 hour'
         FROM generate_series(1, :lost)""",
    """WITH r AS (SELECT id FROM jobs.report_jobs WHERE state = 'running'),
            q AS (
              INSERT INTO jobs.procrastinate_jobs (queue_name, task_name, args, status, worker_id)
              SELECT 'reports', 'geo_crm.report', jsonb_build_object('job', r.id), 'doing',
                     (SELECT max(id) FROM jobs.procrastinate_workers)
                FROM r
              RETURNING id, (args ->> 'job')::bigint AS job)
       UPDATE jobs.report_jobs SET queue_job_id = q.id FROM q WHERE report_jobs.id = q.job""",
    "SET session_replication_role = origin",
    "ANALYZE jobs.procrastinate_jobs",
    "ANALYZE jobs.procrastinate_events",
    "ANALYZE jobs.report_jobs",
]


def _median(fn, repeat: int):
    fn()
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _rolled_back(engine, fn):
    with Session(engine) as session:
        t0 = time.perf_counter()
        out = fn(session)
        seconds = time.perf_counter() - t0
        session.rollback()
    return seconds, out


def _builtin(session: Session, hours: int) -> int:
    """procrastinate 3.10's ``delete_old_jobs`` statement (the builtin ``remove_old_jobs``),
    every final state included; the count is read from the cursor."""
    driver = session.connection().connection.driver_connection
    driver.execute("SET LOCAL search_path = jobs, public")
    cur = driver.execute(
        procrastinate_sql.queries["delete_old_jobs"],
        {
            "nb_hours": hours,
            "queue": None,
            "statuses": ["succeeded", "failed", "cancelled", "aborted"],
        },
    )
    return cur.rowcount


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=int, default=200_000, help="finished entries, 2 days old")
    parser.add_argument("--recent", type=int, default=50_000, help="finished an hour ago")
    parser.add_argument("--running", type=int, default=1_000, help="running on a live worker")
    parser.add_argument("--lost", type=int, default=100, help="report jobs of a dead worker")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}, "
          f"{os.cpu_count()} cores")  # fmt: skip
    base = Path(tempfile.mkdtemp(prefix="gcrm-bench-jobs-"))
    os.chmod(base, 0o755)
    cluster = LocalCluster.for_dir(base / "pg", dbname="geo_crm_bench", fast_unsafe=False)
    try:
        t0 = time.perf_counter()
        engine = ready_engine(cluster.ensure_database())
        with engine.begin() as conn:
            for statement in _SETUP:
                conn.execute(text(statement), vars(args))
            entries, events = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM jobs.procrastinate_jobs), "
                    "(SELECT count(*) FROM jobs.procrastinate_events)"
                )
            ).one()
        print(f"data: {time.perf_counter() - t0:.1f} s; {entries:,} queue entries, "
              f"{events:,} events ({args.old:,} finished 2 days ago, {args.recent:,} an "
              f"hour ago, {args.running:,} running, {args.lost:,} report jobs of a dead "
              "worker)")  # fmt: skip

        with Session(engine) as session:

            def find():
                found = lost.lost_entries(session, 60), lost.orphaned_reports(session, 60)
                session.rollback()
                return found

            find_s, (entries_lost, orphans) = _median(find, args.repeat)
            print(f"1. find the lost jobs (median of {args.repeat}): {find_s * 1000:8.1f} ms "
                  f"— {len(entries_lost):,} lost entries, {len(orphans):,} orphaned report "
                  "jobs")  # fmt: skip
            one = entries_lost[0].report_id

            def poll():
                e = session.execute(text(
                    "SELECT queue_job_id FROM jobs.report_jobs WHERE id = :id"), {"id": one}
                ).scalar()  # fmt: skip
                found = lost.lost_entries(session, 60, entry=e)
                session.rollback()
                return found

            poll_s, _ = _median(poll, args.repeat)
            print(f"2. one poll's check of a running job (median of {args.repeat}): "
                  f"{poll_s * 1000:8.2f} ms")  # fmt: skip

        ours_1, n_1 = _rolled_back(
            engine, lambda s: queue_cleanup.remove_old_entries(s, 24, 60).entries
        )
        builtin_s, n_b = _rolled_back(engine, lambda s: _builtin(s, 24))
        ours_2, n_2 = _rolled_back(
            engine, lambda s: queue_cleanup.remove_old_entries(s, 24, 60).entries
        )
        print(f"3. delete the finished entries older than 24 h with their events:\n"
              f"   jobs.queue_cleanup          {ours_1:7.2f} s, again {ours_2:7.2f} s — "
              f"{n_1:,} entries\n"
              f"   procrastinate delete_old_jobs {builtin_s:5.2f} s — {n_b:,} entries")  # fmt: skip
        assert n_1 == n_2 == n_b, (n_1, n_2, n_b)
        print(f"\nload average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        engine.dispose()
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
