"""procrastinate's own rows — finished queue entries, their events, workers that stopped — are
deleted once they are older than the report retention (``GEO_CRM_REPORT_RETENTION_HOURS``).

Every report and every analysis recomputation leaves a ``procrastinate_jobs`` row and three or
four ``procrastinate_events``; nothing deleted them, so the queue's tables grew by the page view.
:func:`remove_old_entries` deletes entries that finished (succeeded, failed, cancelled,
aborted) whose last event is older than the retention, and their events with them (the
events' foreign key cascades). That is the rule of procrastinate's builtin task
``remove_old_jobs`` (3.10; ``delete_old_jobs`` in its ``queries.sql``) with every final state
included, written here rather than called because that task

- is asynchronous and needs a worker's job context, while the clean also runs from
  ``geo-crm report clean`` on a plain session;
- takes whole hours, where the retention may be 0.5;
- returns no count to report, and
- would fail on the one entry a periodic task's bookkeeping still points at
  (``procrastinate_periodic_defers.job_id`` has no ``ON DELETE`` in 3.10: the last hourly clean,
  for instance): those entries are kept here; procrastinate drops the bookkeeping row, and so
  frees the entry, the next time it queues that task.

Entries still waiting or running are never touched. Workers that stopped beating for the lost
bound are removed with procrastinate's own ``procrastinate_prune_stalled_workers_v1``, as a live
worker does on start (their running entries were recovered first: ``jobs.lost``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from .queue import SCHEMA

FINAL = ("succeeded", "failed", "cancelled", "aborted")

_DELETE_OLD = text(
    f"""
    WITH gone AS (
        DELETE FROM {SCHEMA}.procrastinate_jobs j
         WHERE j.status IN ('succeeded', 'failed', 'cancelled', 'aborted')
           AND NOT EXISTS (
                 SELECT 1 FROM {SCHEMA}.procrastinate_events e
                  WHERE e.job_id = j.id
                    AND e.at >= now() - make_interval(secs => :hours * 3600.0))
           AND NOT EXISTS (
                 SELECT 1 FROM {SCHEMA}.procrastinate_periodic_defers d WHERE d.job_id = j.id)
        RETURNING j.id
    )
    SELECT count(*) FROM gone
    """
)
_PRUNE_WORKERS = text(
    f"SELECT count(*) FROM {SCHEMA}.procrastinate_prune_stalled_workers_v1(:seconds)"
)


@dataclass
class QueueCleaned:
    entries: int = 0  # their events went with them
    workers: int = 0

    def summary(self) -> str:
        return (
            f"{self.entries} finished queue entries deleted with their events, "
            f"{self.workers} stopped workers removed"
        )


def remove_old_entries(session: Session, retention_hours: float, lost_after_s: float):
    """Delete finished queue entries older than ``retention_hours`` with their events, and the
    rows of workers silent for ``lost_after_s``; the caller commits."""
    entries = session.execute(_DELETE_OLD, {"hours": retention_hours}).scalar_one()
    workers = session.execute(_PRUNE_WORKERS, {"seconds": lost_after_s}).scalar_one()
    return QueueCleaned(int(entries), int(workers))
