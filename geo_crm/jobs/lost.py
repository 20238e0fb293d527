"""Jobs whose worker stopped: found from procrastinate's worker heartbeats, then failed or queued
again, so that nothing shows "running" for ever.

A worker killed outright (SIGKILL, out of memory, the machine restarted) leaves its queue entry
``doing`` and its report job ``running``; the page polling that job would wait for ever, and the
analysis a page waits for would never come. procrastinate (3.10) records each worker in
``procrastinate_workers`` with a heartbeat every 10 s and points each ``doing`` entry at its
worker (``worker_id``; NULL once a live worker pruned the silent one). So an entry is **lost**
when it is ``doing`` and its worker is gone or has not beaten for ``GEO_CRM_WORKER_LOST_SECONDS``
(default 60: six missed beats, twice procrastinate's own 30 s after which workers prune a silent
one). The heartbeat, not the job's age, is the test: a province PDF set that takes minutes in a
live worker is never lost, and a killed one is found within a minute whatever its size.

A report job is also lost when it is still queued or running while its queue entry finished or
is gone (the task stopped before it could record why, or the entry was deleted), once it is
older than the same bound.

:func:`recover` then

- fails lost **report** jobs (``worker_lost``: "the worker stopped; ask for the report
  again", in the reader's language). They are not built again by themselves: a report that
  killed its worker (memory) would kill the next one. The user asks again (the page's button is
  enabled again; a failed job is no longer one of the caller's unfinished ones);
- queues lost **analysis** recomputations again (procrastinate's retry: they are idempotent and
  a page may be polling for their result) unless they were tried :data:`ANALYSIS_TRIES` times
  already or the same key is queued again meanwhile; those are failed, which frees the key;
- fails any other lost entry (the hourly clean: the next hour queues it again).

It runs in the worker every minute (``jobs.queue``, periodic task ``geo_crm.recover_jobs``), in
the hourly clean, in ``geo-crm report clean`` and ``geo-crm jobs status --recover``, and for one
job whenever its page polls it (:func:`check_report_job`): a job is shown failed even when no
worker runs at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..db.routing import ON_PRIMARY
from . import store
from .failures import Failure
from .queue import ANALYSIS_TASK, REPORT_TASK, SCHEMA

LOGGER = logging.getLogger(__name__)

ANALYSIS_TRIES = 3  # runs of one recomputation, the killed ones included, before it is failed

# queue entries being run by a worker that stopped beating (or was pruned)
_LOST_ENTRIES = text(
    f"""
    SELECT j.id, j.task_name, j.queueing_lock, j.attempts, j.worker_id,
           w.last_heartbeat,
           CASE WHEN j.task_name = :report_task THEN (j.args ->> 'job')::bigint END AS report_id
      FROM {SCHEMA}.procrastinate_jobs j
      LEFT JOIN {SCHEMA}.procrastinate_workers w ON w.id = j.worker_id
     WHERE j.status = 'doing'
       AND (w.id IS NULL
            OR w.last_heartbeat < now() - make_interval(secs => :lost_after))
       AND (CAST(:entry AS bigint) IS NULL OR j.id = :entry)
     ORDER BY j.id
    """
)

# report jobs still queued or running whose queue entry finished or is gone
_ORPHANS = text(
    f"""
    SELECT r.id
      FROM {SCHEMA}.report_jobs r
      LEFT JOIN {SCHEMA}.procrastinate_jobs j ON j.id = r.queue_job_id
     WHERE r.state IN ('queued', 'running')
       AND COALESCE(r.started_at, r.created_at) < now() - make_interval(secs => :lost_after)
       AND (j.id IS NULL OR j.status NOT IN ('todo', 'doing'))
       AND (CAST(:report AS bigint) IS NULL OR r.id = :report)
     ORDER BY r.id
    """
)

_FAIL_ENTRY = text(
    f"SELECT {SCHEMA}.procrastinate_finish_job_v1(CAST(:id AS bigint), 'failed', false)"
)
_RETRY_ENTRY = text(
    f"SELECT {SCHEMA}.procrastinate_retry_job_v2(CAST(:id AS bigint), now(), NULL, NULL, NULL)"
)
_KEY_QUEUED = text(
    f"SELECT EXISTS (SELECT 1 FROM {SCHEMA}.procrastinate_jobs "
    "WHERE queueing_lock = :lock AND status = 'todo')"
)
_FAIL_REPORTS = text(
    f"""
    UPDATE {SCHEMA}.report_jobs
       SET state = 'failed', stage = 'failed', finished_at = now(),
           error = :error, error_key = :key, error_params = CAST(:params AS jsonb)
     WHERE id = ANY(:ids) AND state IN ('queued', 'running')
    RETURNING id
    """
)
_REPORT_ENTRY = text(f"SELECT queue_job_id FROM {SCHEMA}.report_jobs WHERE id = :id")

WORKER_LOST = Failure("worker_lost")


@dataclass
class Recovered:
    """What one recovery did: report jobs failed, analyses queued again or failed, other queue
    entries failed (procrastinate job ids for the last three)."""

    reports: list[int] = field(default_factory=list)
    analyses_requeued: list[int] = field(default_factory=list)
    analyses_failed: list[int] = field(default_factory=list)
    entries_failed: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any(vars(self).values())

    def summary(self) -> str:
        return (
            f"{len(self.reports)} report jobs of stopped workers failed, "
            f"{len(self.analyses_requeued)} analyses queued again, "
            f"{len(self.analyses_failed) + len(self.entries_failed)} other queue entries failed"
        )


@dataclass
class LostEntry:
    """A ``doing`` queue entry whose worker stopped."""

    id: int
    task_name: str
    queueing_lock: str | None
    attempts: int
    worker_id: int | None
    last_heartbeat: object  # datetime, or None once its worker was pruned
    report_id: int | None


def lost_entries(session: Session, lost_after_s: float, *, entry: int | None = None):
    """The ``doing`` queue entries whose worker is gone or silent for ``lost_after_s``."""
    rows = session.execute(
        _LOST_ENTRIES,
        {"report_task": REPORT_TASK, "lost_after": lost_after_s, "entry": entry},
        bind_arguments=ON_PRIMARY,
    ).all()
    return [LostEntry(*r) for r in rows]


def orphaned_reports(session: Session, lost_after_s: float, *, report: int | None = None):
    """Report jobs still queued or running whose queue entry finished or is gone."""
    params = {"lost_after": lost_after_s, "report": report}
    return list(session.execute(_ORPHANS, params, bind_arguments=ON_PRIMARY).scalars())


def recover(session: Session, lost_after_s: float) -> Recovered:
    """Fail or queue again every lost job (the module docstring); the caller commits."""
    entries = lost_entries(session, lost_after_s)
    return _recover(session, entries, orphaned_reports(session, lost_after_s))


def _recover(session: Session, entries: list[LostEntry], orphans: list[int]) -> Recovered:
    out = Recovered()
    reports = list(orphans)
    for e in entries:
        if e.task_name == ANALYSIS_TASK and e.attempts + 1 < ANALYSIS_TRIES:
            if _requeue(session, e):
                out.analyses_requeued.append(e.id)
                continue
        if not _fail_entry(session, e):
            continue  # another recovery (a poll, the worker's) got there first
        if e.task_name == REPORT_TASK and e.report_id is not None:
            reports.append(e.report_id)
        elif e.task_name == ANALYSIS_TASK:
            out.analyses_failed.append(e.id)
        else:
            out.entries_failed.append(e.id)
    if reports:
        out.reports = sorted(
            session.execute(
                _FAIL_REPORTS,
                {
                    "ids": sorted(set(reports)),
                    "error": WORKER_LOST.english(),
                    "key": WORKER_LOST.key,
                    "params": "{}",
                },
            ).scalars()
        )
    if out:
        LOGGER.warning("jobs of stopped workers: %s", out.summary())
    return out


def _fail_entry(session: Session, e: LostEntry) -> bool:
    """Mark the entry failed as procrastinate does; False when it is no longer ``doing``
    (procrastinate's function raises then), e.g. failed by a concurrent recovery."""
    savepoint = session.begin_nested()
    try:
        session.execute(_FAIL_ENTRY, {"id": e.id})
    except DBAPIError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def _requeue(session: Session, e: LostEntry) -> bool:
    """Queue a lost recomputation again, unless its key is queued meanwhile (a page asked for
    it again): two queued entries may not share a queueing lock."""
    if e.queueing_lock and session.execute(_KEY_QUEUED, {"lock": e.queueing_lock}).scalar_one():
        return False
    savepoint = session.begin_nested()
    try:
        session.execute(_RETRY_ENTRY, {"id": e.id})
    except DBAPIError:  # the key was queued between the check and the retry, or it is done
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def check_report_job(
    session: Session, user, job_id: int, lost_after_s: float
) -> tuple[store.ReportJob, bool]:
    """The job as :func:`store.report_job` reads it (404 for another user's), failed first if
    its worker stopped; and whether it was failed now (the caller commits then). What a page
    polling the job calls: it learns that the job failed even when no worker runs any more."""
    job = store.report_job(session, user, job_id)
    if job.state not in ("queued", "running"):
        return job, False
    entry = session.execute(_REPORT_ENTRY, {"id": job_id}, bind_arguments=ON_PRIMARY).scalar()
    entries = [] if entry is None else lost_entries(session, lost_after_s, entry=entry)
    entries = [e for e in entries if e.report_id == job_id]
    orphans = [] if entries else orphaned_reports(session, lost_after_s, report=job_id)
    if not entries and not orphans:
        return job, False
    done = _recover(session, entries, orphans)
    if job_id not in done.reports:  # it finished meanwhile
        return store.report_job(session, user, job_id), bool(done)
    return store.report_job(session, user, job_id), True
