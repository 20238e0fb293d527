"""Server-side browser sessions: a random secret in the cookie, its SHA-256 in ``user_sessions``.

The signed cookie alone cannot be taken back, so it only names a session; the row decides.
Deleting the row ends the session for every copy of the cookie at the next request: signing
out (this session, or every session of the user), a password change and disabling the user
all do. A session lasts ``GEO_CRM_SESSION_HOURS`` from sign-in; expired rows are refused at
once and deleted at the user's next sign-in (no background job).

Checking a cookie is one prepared statement, a unique-index probe joined to the user, on the
hot path of every browser request (like the API token lookup in :mod:`.tokens`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..db.hotpath import HotStatement
from ..models import User, UserSession
from .principal import Principal


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def start_session(
    session: Session, user_id: int, lifetime: dt.timedelta, *, replacing: str | None = None
) -> str:
    """Open a session for the user and return its secret (for the cookie; never stored).

    ``replacing``: the secret this browser held before, whose session ends now. The user's
    expired sessions are deleted on the way. The caller commits.
    """
    stale = (UserSession.user_id == user_id) & (UserSession.expires_at <= func.now())
    if replacing:
        stale = stale | (UserSession.secret_hash == hash_secret(replacing))
    session.execute(delete(UserSession).where(stale).execution_options(synchronize_session=False))
    secret = secrets.token_urlsafe(32)
    session.execute(
        UserSession.__table__.insert().values(
            secret_hash=hash_secret(secret), user_id=user_id, expires_at=func.now() + lifetime
        )
    )
    return secret


def end_session(session: Session, secret: str | None) -> bool:
    """End the session this secret names (sign-out); False when there was none. The caller
    commits."""
    if not secret:
        return False
    result = session.execute(
        delete(UserSession)
        .where(UserSession.secret_hash == hash_secret(secret))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount > 0


def end_user_sessions(session: Session, user_id: int) -> int:
    """End every session of the user (sign out everywhere); how many there were. The caller
    commits."""
    result = session.execute(
        delete(UserSession)
        .where(UserSession.user_id == user_id)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


@functools.cache
def _resolve() -> HotStatement:
    """The check every cookie-authenticated request runs: the live session this secret names,
    joined to its active user (one unique-index probe, prepared, straight on the connection)."""
    from sqlalchemy import Integer, String, bindparam

    sessions, users = UserSession.__table__, User.__table__
    statement = (
        select(users.c.id, users.c.username, users.c.role, users.c.locale)
        .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
        .where(
            sessions.c.secret_hash == bindparam("h", type_=String),
            sessions.c.user_id == bindparam("uid", type_=Integer),
            sessions.c.expires_at > func.now(),
            users.c.active,
        )
    )
    return HotStatement(statement, read_only=True)


def principal_for_session(session: Session, user_id: int, secret: str | None) -> Principal | None:
    """The active user of a live session, or None (signed out, expired, ended by a password
    change or an admin, user disabled or deleted, or no such session at all)."""
    if not isinstance(secret, str) or not secret or len(secret) > 200:
        return None
    row = _resolve().run(session, {"h": hash_secret(secret), "uid": user_id}).fetchone()
    if row is None:
        return None
    return Principal(row[0], row[1], row[2], row[3], via="session")
