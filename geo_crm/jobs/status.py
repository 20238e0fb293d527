"""What the background jobs are doing, for ``geo-crm jobs status``: the workers and their
heartbeats, the queue's entries per queue and state, the report jobs per state, and which jobs
are lost (their worker stopped: ``jobs.lost``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from ..db.routing import ON_PRIMARY
from . import lost
from .queue import SCHEMA

_WORKERS = text(
    f"""
    SELECT w.id, w.last_heartbeat,
           EXTRACT(EPOCH FROM now() - w.last_heartbeat)::float8 AS silent_s,
           (SELECT count(*) FROM {SCHEMA}.procrastinate_jobs j
             WHERE j.worker_id = w.id AND j.status = 'doing') AS running
      FROM {SCHEMA}.procrastinate_workers w
     ORDER BY w.id
    """
)
_QUEUE = text(
    f"SELECT queue_name, status::text, count(*) FROM {SCHEMA}.procrastinate_jobs "
    "GROUP BY 1, 2 ORDER BY 1, 2"
)
_REPORTS = text(f"SELECT state, count(*) FROM {SCHEMA}.report_jobs GROUP BY 1 ORDER BY 1")


@dataclass
class WorkerInfo:
    id: int
    last_heartbeat: dt.datetime
    silent_s: float
    running: int
    lost: bool


@dataclass
class JobsStatus:
    workers: list[WorkerInfo] = field(default_factory=list)
    queue: dict[str, dict[str, int]] = field(default_factory=dict)  # queue -> status -> count
    reports: dict[str, int] = field(default_factory=dict)  # state -> count
    lost_entries: list[lost.LostEntry] = field(default_factory=list)
    orphaned_reports: list[int] = field(default_factory=list)

    @property
    def stuck(self) -> int:
        return len(self.lost_entries) + len(self.orphaned_reports)


def jobs_status(session: Session, lost_after_s: float) -> JobsStatus:
    """A read of the queue as it is now (nothing is changed)."""
    out = JobsStatus()
    for w in session.execute(_WORKERS, bind_arguments=ON_PRIMARY).all():
        silent = float(w.silent_s)
        out.workers.append(
            WorkerInfo(w.id, w.last_heartbeat, silent, int(w.running), silent > lost_after_s)
        )
    for queue, status, n in session.execute(_QUEUE, bind_arguments=ON_PRIMARY).all():
        out.queue.setdefault(queue, {})[status] = int(n)
    out.reports = {s: int(n) for s, n in session.execute(_REPORTS, bind_arguments=ON_PRIMARY)}
    out.lost_entries = lost.lost_entries(session, lost_after_s)
    out.orphaned_reports = lost.orphaned_reports(session, lost_after_s)
    return out
