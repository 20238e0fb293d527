"""Finished report files are kept for ``GEO_CRM_REPORT_RETENTION_HOURS``, then deleted.

``clean_reports`` marks every job that finished (done) longer ago than the retention time
``expired`` — its link then answers 410 Gone, saying the file was deleted and to ask again
(``jobs.failures``, in the reader's language) — commits, and only then deletes the jobs'
folders under ``<GEO_CRM_VAR_DIR>/reports``: a reader never finds a job "done" whose file is
gone. It also deletes folders left behind that no finished job owns any more (a job whose
user was deleted, one that failed or expired before a previous clean could delete its files,
a partial file of a killed worker), once they are older than the retention time. Other
entries of the folder, and folders of queued or running jobs, are never touched. Two cleans
at once (the worker's and the command's) do no harm: each job is marked once, and a folder
already deleted is skipped.

Finished jobs' rows (done, failed, expired) are themselves deleted once they finished more than
``GEO_CRM_REPORT_JOB_RETENTION_DAYS`` ago (:func:`delete_old_jobs`; never sooner than the files'
retention, so an expired job's link answers 410 Gone for that long, then 404 Not found); a
queued or running job is never deleted, however old. A deleted job's folder, if any is left,
is then a leftover the next clean deletes.

It runs in the worker every hour (``jobs.queue``: procrastinate periodic task
``geo_crm.clean_reports``) and on demand as ``geo-crm report clean``, both through
:func:`clean`, which first fails or re-queues the jobs of stopped workers (``jobs.lost``) and
last deletes procrastinate's own finished rows past the same retention
(``jobs.queue_cleanup``).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from . import lost, queue_cleanup
from .failures import Failure
from .store import REPORT_JOBS

CLEAN_CRON = "17 * * * *"  # hourly, off the top of the hour


@dataclass
class Cleaned:
    """What one clean did: jobs marked expired, folders deleted, bytes freed, finished jobs'
    rows deleted."""

    expired: list[int] = field(default_factory=list)
    folders: int = 0
    bytes: int = 0
    deleted: int = 0  # finished report jobs' rows deleted (by :func:`clean`)
    recovered: lost.Recovered | None = None  # by :func:`clean`
    queue: queue_cleanup.QueueCleaned | None = None  # by :func:`clean`

    def files(self) -> str:
        """What was done to the report jobs' files."""
        return (
            f"{len(self.expired)} report jobs expired, {self.folders} folders deleted, "
            f"{self.bytes:,} bytes freed, {self.deleted} finished report jobs deleted"
        )

    def summary(self) -> str:
        out = self.files()
        if self.recovered is not None:
            out += f"; {self.recovered.summary()}"
        if self.queue is not None:
            out += f"; {self.queue.summary()}"
        return out


def clean(
    session: Session,
    base: Path,
    retention_hours: float,
    lost_after_s: float,
    job_retention_days: float,
) -> Cleaned:
    """Everything the hourly clean does, each step committed: jobs of stopped workers failed
    (or queued again), finished jobs' rows past ``job_retention_days`` deleted, report files
    past the retention deleted (with the folders of the rows just deleted), then
    procrastinate's finished rows past the same retention."""
    recovered = lost.recover(session, lost_after_s)
    session.commit()
    deleted = delete_old_jobs(session, max(job_retention_days * 24.0, retention_hours))
    session.commit()
    out = clean_reports(session, base, retention_hours, deleted=deleted)
    out.deleted = len(deleted)
    out.recovered = recovered
    out.queue = queue_cleanup.remove_old_entries(session, retention_hours, lost_after_s)
    session.commit()
    return out


def delete_old_jobs(session: Session, hours: float) -> list[int]:
    """Delete the rows of report jobs that finished (done, failed or expired) more than
    ``hours`` ago; their ids. Queued and running jobs are never deleted. The caller commits
    (and then deletes their folders)."""
    j = REPORT_JOBS.c
    cutoff = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, hours * 3600.0)
    rows = session.execute(
        delete(REPORT_JOBS)
        .where(j.state.in_(("done", "failed", "expired")), j.finished_at < cutoff)
        .returning(j.id)
    ).scalars()
    return sorted(rows)


def expire_jobs(session: Session, retention_hours: float) -> list[int]:
    """Mark done jobs finished more than ``retention_hours`` ago expired; their ids. The
    caller commits (and then deletes their folders)."""
    failure = Failure("expired", {"hours": retention_hours})
    j = REPORT_JOBS.c
    cutoff = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, retention_hours * 3600.0)
    rows = session.execute(
        update(REPORT_JOBS)
        .where(j.state == "done", j.finished_at < cutoff)
        .values(
            state="expired",
            stage="expired",
            error=failure.english(),
            error_key=failure.key,
            error_params=failure.params,
        )  # fmt: skip
        .returning(j.id)
    ).scalars()
    return sorted(rows)


def clean_reports(
    session: Session,
    base: Path,
    retention_hours: float,
    *,
    now: float | None = None,
    deleted: Sequence[int] = (),
) -> Cleaned:
    """Expire old jobs (committed here), then delete their folders and stale leftovers under
    ``base`` (``<GEO_CRM_VAR_DIR>/reports``), and the folders of the jobs ``deleted`` (their
    rows just deleted: finished long ago, whatever the folder's time)."""
    out = Cleaned(expired=expire_jobs(session, retention_hours))
    session.commit()
    if not base.is_dir():
        return out
    folders = {int(p.name): p for p in base.iterdir() if p.name.isdigit() and p.is_dir()}
    if not folders:
        return out
    j = REPORT_JOBS.c
    states = dict(session.execute(select(j.id, j.state).where(j.id.in_(list(folders)))).all())
    session.rollback()
    oldest = (time.time() if now is None else now) - retention_hours * 3600.0
    for job_id, path in sorted(folders.items()):
        state = states.get(job_id)
        if state in ("queued", "running", "done"):
            continue  # its own job's (done: still within the retention time)
        gone = job_id in out.expired or job_id in deleted
        if not gone and _newest_mtime(path) > oldest:
            continue  # a leftover, but recent: a job may be just starting or failing
        out.bytes += _size(path)
        shutil.rmtree(path, ignore_errors=True)
        out.folders += 1
    return out


def _newest_mtime(path: Path) -> float:
    times = [path.stat().st_mtime]
    times += [p.stat().st_mtime for p in path.rglob("*")]
    return max(times)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
