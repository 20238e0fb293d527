"""Personal API tokens: random 32-byte secrets, stored only as their SHA-256, shown once.

A token is high-entropy, so a fast unsalted hash is enough (nothing to brute-force) and the
lookup is one unique-index probe per request. Revoking sets ``revoked_at``; the row stays
so audits can tell which token did what.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
import threading
from dataclasses import dataclass

from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from ..db.hotpath import HotStatement
from ..domain.principal import Principal
from ..domain.users import active_user_id
from ..errors import Forbidden, NotFound, ValidationError
from ..models import ApiToken, User
from ..settings import settings_of
from .token_cache import TokenCache

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


# -- as the acting user: what the API's token endpoints call (one call per request) ---------


def _own_id(user: Principal) -> int:
    if user.id is None:
        raise ValidationError(
            "sign in as a user to manage tokens", fields={"username": "sign in first"}
        )
    return user.id


def create_token_as(
    session: Session, user: Principal, name: str, *, username: str | None = None
) -> NewToken:
    """A token named ``name`` for ``username`` (None or their own name: ``user`` themselves);
    only admins create tokens for other users, who must be active (404 on ``username``
    otherwise). The caller commits."""
    if username is not None and username != user.username:
        if not user.is_admin:
            raise Forbidden("only admins create tokens for other users")
        owner = active_user_id(session, username)
    else:
        owner = _own_id(user)
    return create_token(session, owner, name)


def list_tokens_as(session: Session, user: Principal, *, everyone: bool = False) -> list[TokenInfo]:
    """``user``'s tokens, newest first; ``everyone``: every user's (admins only)."""
    if everyone and not user.is_admin:
        raise Forbidden("only admins list every user's tokens")
    return list_tokens(session, None if everyone else _own_id(user))


def revoke_token_as(session: Session, user: Principal, token_id: int) -> TokenInfo:
    """Revoke one of ``user``'s tokens (admins: anyone's); 404 when it is not theirs."""
    return revoke_token(session, token_id, owner_id=None if user.is_admin else _own_id(user))


_TOUCH = text("UPDATE api_tokens SET last_used_at = now() WHERE id = :id")


@functools.lru_cache(maxsize=16)
def _resolve(kind: str | None = None) -> HotStatement:
    """The token lookup every API request runs (one unique-index probe, prepared, straight on
    the connection), with ``kind``: plus the policy's resolution of the URL's object of that
    kind for the token's user in the same statement — ``CASE role WHEN … THEN coalesce((SELECT
    id …), 0)``: the object's id in scope, 0 when out of scope or missing, NULL for roles whose
    check cannot ride along (a manager's region tree), which the policy then runs separately."""
    from sqlalchemy import Interval, String, bindparam, case, func, literal, null, or_

    from ..domain.access import resolve_subquery
    from ..domain.principal import ROLES

    tokens, users = ApiToken.__table__, User.__table__
    recently = func.now() - literal(dt.timedelta(seconds=60), Interval)
    columns = [
        users.c.id, users.c.username, users.c.role, users.c.locale, tokens.c.id,
        or_(tokens.c.last_used_at.is_(None), tokens.c.last_used_at < recently),
    ]  # fmt: skip
    if kind is not None:
        whens = []
        for role in ROLES:
            check = resolve_subquery(kind, role, users.c.id)
            if check is not None:
                whens.append((users.c.role == role, check))
        if whens:
            columns.append(case(*whens, else_=null()))
    statement = (
        select(*columns)
        .select_from(tokens.join(users, users.c.id == tokens.c.user_id))
        .where(
            tokens.c.token_hash == bindparam("h", type_=String),
            tokens.c.revoked_at.is_(None),
            users.c.active,
        )
    )
    return HotStatement(statement, read_only=True)


def principal_for_token(
    session: Session, token: str, *, check: tuple[str, dict] | None = None
) -> tuple[Principal | None, int | None]:
    """The active user a live token belongs to, or None (unknown, revoked, or user disabled),
    and, with ``check`` = (object kind, bound values), the object's id when it is in the user's
    scope, 0 when it is not (or does not exist), None when that could not be decided in the
    same statement (ask scope.resolve).

    Without ``check`` the answer may come from this process's :mod:`token_cache` (no round
    trip). ``last_used_at`` is written at most once a minute per token, and committed at once,
    so a busy integration does not turn every read into a write; with the cache it may lag by
    the cache's lifetime more.
    """
    if not token.startswith(PREFIX) or len(token) > 200:
        return None, None
    token_hash = hash_token(token)
    cache = _cache(session)
    generation = 0
    if cache is not None:
        if check is None:
            cached = cache.get(token_hash)
            if cached is not None:
                return cached, None
        generation = cache.generation()
    params = {"h": token_hash}
    if check is None:
        statement = _resolve()
    else:
        statement = _resolve(check[0])
        params.update(check[1])
    row = statement.run(session, params).fetchone()
    if row is None:
        return None, None
    user_id, username, role, locale, token_id, stale = row[:6]
    found = row[6] if len(row) > 6 else None
    if stale:
        session.execute(_TOUCH, {"id": token_id})
        session.commit()
    principal = Principal(user_id, username, role, locale, via="token", token_id=token_id)
    if cache is not None:
        cache.put(token_hash, principal, generation)
    return principal, found


_CACHE_LOCK = threading.Lock()


def _cache(session: Session) -> TokenCache | None:
    """The app's token cache for the session's database; None when it is off or the session
    is bound to an outer transaction (tests): changes made there are never committed, so
    never announced, and a cached answer could outlive them."""
    from flask import current_app, has_app_context

    bind = session.bind
    if not has_app_context() or not isinstance(bind, Engine):
        return None
    extensions = current_app.extensions
    cache = extensions.get("geo_crm_token_cache")
    if cache is None or cache.engine is not bind:
        with _CACHE_LOCK:
            cache = extensions.get("geo_crm_token_cache")
            if cache is None or cache.engine is not bind:
                if cache is not None:  # the app was given another engine: end the old listener
                    cache.stop()
                ttl = settings_of(current_app).token_cache_s
                cache = extensions["geo_crm_token_cache"] = TokenCache(bind, ttl)
    return cache if cache.enabled else None
