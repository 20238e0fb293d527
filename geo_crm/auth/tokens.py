"""Personal API tokens: random 32-byte secrets, stored only as their SHA-256, shown once.

A token is high-entropy, so a fast unsalted hash is enough (nothing to brute-force) and the
lookup is one unique-index probe per request. Revoking sets ``revoked_at``; the row stays
so audits can tell which token did what.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from ..errors import NotFound, ValidationError
from ..models import ApiToken, User
from .principal import Principal

PREFIX = "gcrm_"  # recognisable in logs and by secret scanners
MAX_NAME = 100


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    username: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


@dataclass(frozen=True)
class NewToken:
    info: TokenInfo
    token: str  # the secret itself: returned once, never stored


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise ValidationError(
            "a token needs a name", fields={"name": f"1 to {MAX_NAME} characters"}
        )
    return name


def create_token(session: Session, user_id: int, name: str) -> NewToken:
    """Create a token for the user; the caller commits."""
    name = _check_name(name)
    secret = PREFIX + secrets.token_urlsafe(32)
    row = session.execute(
        ApiToken.__table__.insert()
        .values(user_id=user_id, name=name, token_hash=hash_token(secret))
        .returning(ApiToken.id, ApiToken.created_at)
    ).one()
    username = session.scalar(select(User.username).where(User.id == user_id))
    return NewToken(TokenInfo(row.id, name, username, row.created_at, None, None), secret)


def _info_select():
    return select(
        ApiToken.id,
        ApiToken.name,
        User.username,
        ApiToken.created_at,
        ApiToken.last_used_at,
        ApiToken.revoked_at,
    ).join(User, User.id == ApiToken.user_id)


def list_tokens(session: Session, user_id: int | None) -> list[TokenInfo]:
    """The user's tokens (``None``: everybody's), newest first; secrets are never listed."""
    stmt = _info_select().order_by(ApiToken.id.desc())
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    return [TokenInfo(*row) for row in session.execute(stmt)]


def revoke_token(session: Session, token_id: int, *, owner_id: int | None) -> TokenInfo:
    """Revoke a token of ``owner_id`` (``None``: any owner, for admins); 404 when not theirs."""
    stmt = (
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .values(revoked_at=text("coalesce(revoked_at, now())"))
    )
    if owner_id is not None:
        stmt = stmt.where(ApiToken.user_id == owner_id)
    if session.execute(stmt.execution_options(synchronize_session=False)).rowcount == 0:
        raise NotFound(f"token {token_id} not found", fields={"token_id": "not found"})
    return TokenInfo(*session.execute(_info_select().where(ApiToken.id == token_id)).one())


_RESOLVE = text("""
    SELECT u.id, u.username, u.role, u.locale, t.id AS token_id,
           t.last_used_at IS NULL OR t.last_used_at < now() - interval '60 seconds' AS stale
      FROM api_tokens t JOIN users u ON u.id = t.user_id
     WHERE t.token_hash = :h AND t.revoked_at IS NULL AND u.active
""")

_TOUCH = text("UPDATE api_tokens SET last_used_at = now() WHERE id = :id")


def principal_for_token(session: Session, token: str) -> Principal | None:
    """The active user a live token belongs to, or None (unknown, revoked, or user disabled).

    ``last_used_at`` is written at most once a minute per token, and committed at once, so a
    busy integration does not turn every read into a write.
    """
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = session.execute(_RESOLVE, {"h": hash_token(token)}).first()
    if row is None:
        return None
    if row.stale:
        session.execute(_TOUCH, {"id": row.token_id})
        session.commit()
    return Principal(row.id, row.username, row.role, row.locale, via="token", token_id=row.token_id)
