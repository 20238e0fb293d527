"""Recomputing a cached analysis in the background (:mod:`geo_crm.analysis.cache`).

``enqueue_analysis`` queues one recomputation in the caller's transaction, at most one queued
per key: procrastinate's queueing lock refuses a second job with the same lock while the first
is still waiting, so a page viewed a hundred times while its figures are stale queues one job.
``run_analysis`` is the task a worker runs: it computes and keeps the entry unless it is fresh
by then (another job, or a request over a small region, got there first).

Page views queue with :func:`enqueue_for`: a job records the user whose view queued it
(``by``), and one user may have at most ``cap`` analysis jobs waiting; beyond that nothing is
queued and :class:`~geo_crm.analysis.cache.QueueFull` tells the cache (the page then shows
what is kept, "as of" its time, and says the analyses are busy). Each distinct filter is a
key of its own, so without the cap a user stepping through filter combinations over large
regions could queue work without end.
"""

from __future__ import annotations

import logging

from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import text
from sqlalchemy.orm import Session

from ..analysis import cache
from ..db.routing import ON_PRIMARY
from ..domain.principal import Principal
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
_QUEUED_BY = text(
    f"SELECT count(*) FROM {SCHEMA}.procrastinate_jobs WHERE queue_name = :queue "
    "AND status = 'todo' AND (args ->> 'by') IS NOT DISTINCT FROM :by"
)


def enqueue_for(user: Principal | None, cap: int) -> cache.Enqueue:
    """How a page view of ``user`` queues recomputations: :func:`enqueue_analysis` recording
    the user, refused (:class:`~geo_crm.analysis.cache.QueueFull`) while ``cap`` jobs of
    theirs are waiting."""
    by = user.id if user is not None else None

    def enqueue(session: Session, kind: str, region_code: str, filters: dict, lock: str):
        return enqueue_analysis(session, kind, region_code, filters, lock, by=by, cap=cap)

    return enqueue


def queued_by(session: Session, user_id: int | None) -> int:
    """Analysis jobs waiting that a view of this user queued (None: views without a user)."""
    by = None if user_id is None else str(user_id)
    return session.execute(
        _QUEUED_BY, {"queue": ANALYSIS_QUEUE, "by": by}, bind_arguments=ON_PRIMARY
    ).scalar_one()


def enqueue_analysis(
    session: Session,
    kind: str,
    region_code: str,
    filters: dict,
    lock: str,
    *,
    by: int | None = None,
    cap: int | None = None,
):
    """Queue the recomputation of one entry unless one is queued already; True when the
    session now holds a new queued job to commit, False when nothing was written. Deferred on
    the session's own connection, in a savepoint: a concurrent request that queued the same
    key first (procrastinate's ``AlreadyEnqueued``) leaves the request's transaction usable.
    ``by``: the user whose view queues it; ``cap``: raise :class:`cache.QueueFull` instead
    when that many of their jobs are waiting already."""
    if session.execute(_QUEUED, {"lock": lock}).scalar_one():
        return False
    if cap is not None and queued_by(session, by) >= cap:
        raise cache.QueueFull(cap)
    session.connection()  # the job is written on the primary, and so is the path set for it
    savepoint = session.begin_nested()
    try:
        # the queue's functions live in schema ``jobs``: on its path for the deferral (undone
        # by the savepoint's rollback, else put back below)
        session.execute(_JOBS_PATH)
        driver = session.connection().connection.driver_connection
        task = deferring_app().tasks[ANALYSIS_TASK]
        task.configure(connection=driver, queue=ANALYSIS_QUEUE, queueing_lock=lock).defer(
            kind=kind, region=region_code, filters=filters, by=by
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


def run_analysis(kind: str, region: str, filters: dict, by: int | None = None) -> None:
    """The procrastinate task ``geo_crm.analysis`` (``by``: whose view queued it, for the
    cap only)."""
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
