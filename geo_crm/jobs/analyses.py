"""Recomputing a cached analysis in the background (:mod:`geo_crm.analysis.cache`).

``enqueue_analysis`` queues one recomputation in the caller's transaction, at most one queued
per key: procrastinate's queueing lock refuses a second job with the same lock while the first
is still waiting, so a page viewed a hundred times while its figures are stale queues one job.
``run_analysis`` is the task a worker runs: it computes and keeps the entry unless it is fresh
by then (another job, or a request over a small region, got there first).
"""

from __future__ import annotations

import logging

from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import text
from sqlalchemy.orm import Session

from ..analysis import cache
from ..errors import GeoCrmError
from . import runtime
from .queue import ANALYSIS_QUEUE, ANALYSIS_TASK, SCHEMA, deferring_app

LOGGER = logging.getLogger(__name__)

_JOBS_PATH = text(
    f"SELECT set_config('search_path', '{SCHEMA}, ' || current_setting('search_path'), true)"
)
_PUBLIC_PATH = text(
    f"SELECT set_config('search_path', "
    f"regexp_replace(current_setting('search_path'), '^{SCHEMA}, ', ''), true)"
)
_QUEUED = text(
    f"SELECT EXISTS (SELECT 1 FROM {SCHEMA}.procrastinate_jobs "
    "WHERE queueing_lock = :lock AND status = 'todo')"
)


def enqueue_analysis(session: Session, kind: str, region_code: str, filters: dict, lock: str):
    """Queue the recomputation of one entry unless one is queued already; True when the
    session now holds a new queued job to commit, False when nothing was written. Deferred on
    the session's own connection, in a savepoint: a concurrent request that queued the same
    key first (procrastinate's ``AlreadyEnqueued``) leaves the request's transaction usable."""
    if session.execute(_QUEUED, {"lock": lock}).scalar_one():
        return False
    session.connection()  # the job is written on the primary, and so is the path set for it
    savepoint = session.begin_nested()
    try:
        # the queue's functions live in schema ``jobs``: on its path for the deferral (undone
        # by the savepoint's rollback, else put back below)
        session.execute(_JOBS_PATH)
        driver = session.connection().connection.driver_connection
        task = deferring_app().tasks[ANALYSIS_TASK]
        task.configure(connection=driver, queue=ANALYSIS_QUEUE, queueing_lock=lock).defer(
            kind=kind, region=region_code, filters=filters
        )
    except AlreadyEnqueued:
        savepoint.rollback()
        LOGGER.debug("analysis %s already queued", lock)
        return False
    except Exception:  # the page still shows what is kept; the next view tries again
        savepoint.rollback()
        LOGGER.warning("could not queue analysis %s", lock, exc_info=True)
        return False
    session.execute(_PUBLIC_PATH)
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
