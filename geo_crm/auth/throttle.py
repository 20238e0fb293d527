"""Sign-in throttling kept in PostgreSQL, so every gunicorn worker and host shares the count.

Each failed sign-in is one row of ``login_failures`` (migration 0002). A username+address pair
gets ``max_failures`` tries per window; one address gets ``max_per_ip`` across all usernames
(password spraying). A transaction-level advisory lock per pair makes the check-and-record
exact under concurrent attempts. Rows older than the window are deleted as new ones arrive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from ..settings import ThrottleLimits as ThrottleLimits  # settings: GEO_CRM_LOGIN_MAX_FAILURES …


@dataclass(frozen=True)
class ThrottleState:
    blocked: bool
    retry_after_s: int = 0


def _key(username: str) -> str:
    return (username or "").strip().casefold()[:64]


_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('geo_crm.login:' || :u || '|' || :ip))")
_STATE = text("""
    SELECT count(*) FILTER (WHERE username = :u) AS pair_failures,
           count(*) AS ip_failures,
           min(failed_at) FILTER (WHERE username = :u) AS pair_oldest,
           min(failed_at) AS ip_oldest,
           now() AS now
      FROM login_failures
     WHERE ip = :ip AND failed_at > now() - make_interval(secs => :window)
""")


def check(session: Session, username: str, ip: str, limits: ThrottleLimits) -> ThrottleState:
    """Whether this pair (or this address) is blocked now; takes the pair's lock for the
    transaction."""
    params = {"u": _key(username), "ip": ip[:45], "window": limits.window_s}
    session.execute(_LOCK, params)
    row = session.execute(_STATE, params).one()
    oldest = None
    if row.pair_failures >= limits.max_failures:
        oldest = row.pair_oldest
    elif row.ip_failures >= limits.max_per_ip:
        oldest = row.ip_oldest
    if oldest is None:
        return ThrottleState(False)
    remaining = limits.window_s - (row.now - oldest).total_seconds()
    return ThrottleState(True, max(1, math.ceil(remaining)))


def record_failure(session: Session, username: str, ip: str, limits: ThrottleLimits) -> None:
    params = {"u": _key(username), "ip": ip[:45], "window": limits.window_s}
    session.execute(text("INSERT INTO login_failures (username, ip) VALUES (:u, :ip)"), params)
    session.execute(
        text(
            "DELETE FROM login_failures WHERE ip = :ip "
            "AND failed_at <= now() - make_interval(secs => :window)"
        ),
        params,
    )


def clear(session: Session, username: str, ip: str) -> None:
    """A successful sign-in forgets this pair's failures."""
    session.execute(
        text("DELETE FROM login_failures WHERE username = :u AND ip = :ip"),
        {"u": _key(username), "ip": ip[:45]},
    )
