"""What ``/healthz`` reports: each dependency, ``ok`` or ``down: <short reason>``, and each
replica's state and replay lag (informative: a replica down leaves the app healthy)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..errors import DatabaseSetupError
from .routing import REPLICA_CHECK
from .translate import outage_reason, summary

LOGGER = logging.getLogger(__name__)


def database_status(open_session: Callable[[], Session]) -> str:
    """``ok`` when the database answers ``SELECT 1``; else ``down:`` and a short reason (no
    host, path or SQL: the endpoint is public; the log has the full message).

    Takes the session opener rather than a session: on an app's first request opening one
    builds the engine, and that is what fails when the database is down at start-up. Asks the
    primary (the Session's own bind), never a replica (db/routing.py): an app whose primary is
    down cannot write, whatever its replicas answer.
    """
    session = None
    try:
        session = open_session()
        session.execute(text("SELECT 1"), bind_arguments={"bind": session.bind})
    except (DBAPIError, DatabaseSetupError) as exc:
        if session is not None:
            try:
                session.rollback()
            except DBAPIError:
                pass  # the connection is gone; closing the session discards it
        reason = outage_reason(exc) or "error"
        LOGGER.warning("health check: database down (%s): %s", reason, summary(exc))
        return f"down: {reason}"
    return "ok"


def replica_status(router) -> list[dict]:
    """Each configured replica (``DATABASE_REPLICA_URLS``, in order, numbered from 1; no host:
    the endpoint is public): ``state`` ``ok`` or ``down: <short reason>``, ``replay_lag_s``
    (seconds of replay behind the primary; 0 when it has replayed all it received; None when
    down) and ``serving`` (whether requests may read from it now: reachable, a replica, and no
    further behind than ``GEO_CRM_REPLICA_MAX_LAG_S``). Asked directly, not through the pool's
    routing state; a replica that is down never fails the check (the primary serves)."""
    if router is None:
        return []
    out = []
    for number, replica in enumerate(router.replicas, start=1):
        try:
            with replica.engine.connect() as conn:
                recovering, _, lag = conn.exec_driver_sql(REPLICA_CHECK).one()
                conn.rollback()
        except Exception as exc:  # whatever a dead replica raises: the check goes on
            reason = outage_reason(exc)
            LOGGER.warning("health check: replica %s down: %s", replica.name, summary(exc))
            out.append(
                {
                    "replica": number,
                    "state": f"down: {reason or 'error'}",
                    "replay_lag_s": None,
                    "serving": False,
                }
            )
            continue
        lag_s = round(float(lag or 0), 3)
        out.append(
            {
                "replica": number,
                "state": "ok" if recovering else "down: not a replica",
                "replay_lag_s": lag_s if recovering else None,
                "serving": bool(recovering) and lag_s <= router.max_lag_s,
            }
        )
    return out
