"""What ``/healthz`` reports: each dependency, ``ok`` or ``down: <short reason>``."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..errors import DatabaseSetupError
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
