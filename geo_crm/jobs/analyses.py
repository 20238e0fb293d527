"""Recomputing a cached analysis in the background (:mod:`geo_crm.analysis.cache`).

``enqueue_analysis`` queues one recomputation in the caller's transaction, at most one queued
per key: procrastinate's queueing lock refuses a second job with the same lock while the first
is still waiting, so a page viewed a hundred times while its figures are stale queues one job.
``run_analysis`` is the task a worker runs: it computes and keeps the entry unless it is fresh
by then (another job, or a request over a small region, got there first).
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.orm import Session

from ..analysis import cache
from ..errors import GeoCrmError
from . import runtime
from .queue import ANALYSIS_QUEUE, ANALYSIS_TASK, SCHEMA
from .store import defer_on_session

LOGGER = logging.getLogger(__name__)

_QUEUED = text(
    f"SELECT EXISTS (SELECT 1 FROM {SCHEMA}.procrastinate_jobs "
    "WHERE queueing_lock = :lock AND status = 'todo')"
)


def enqueue_analysis(session: Session, kind: str, region_code: str, filters: dict, lock: str):
    """Queue the recomputation of one entry unless one is queued already; True when the
    session now holds a queued job to commit (new or not), False when nothing was written."""
    if session.execute(_QUEUED, {"lock": lock}).scalar_one():
        return False
    savepoint = session.begin_nested()
    try:
        defer_on_session(
            session,
            ANALYSIS_TASK,
            queue=ANALYSIS_QUEUE,
            queueing_lock=lock,
            kind=kind,
            region=region_code,
            filters=filters,
        )
    except Exception:  # queued by a concurrent request in between: its job is ours too
        savepoint.rollback()
        LOGGER.debug("analysis %s already queued", lock)
        return False
    savepoint.commit()
    return True


def run_analysis(kind: str, region: str, filters: dict) -> None:
    """The procrastinate task ``geo_crm.analysis``."""
    session = runtime.current().db.session()
    try:
        computed = cache.refresh(session, kind, region, filters)
        session.commit()
        LOGGER.info("analysis %s of %s: %s", kind, region, "computed" if computed else "fresh")
    except GeoCrmError as exc:  # the region or a filter went away since: nothing to keep
        session.rollback()
        LOGGER.info("analysis %s of %s dropped: %s", kind, region, exc.message)
    finally:
        session.close()
