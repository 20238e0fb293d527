"""Personal API tokens: create (the secret is shown once), list, revoke."""

from __future__ import annotations

from flask import jsonify
from pydantic import Field

from ..auth import tokens as svc
from ..auth.policy import current_user
from ..db import get_session
from ..domain.users import USERNAME_RE
from .framework import Body, Out, Query, operation
from .schemas import field_names

USERNAME_PATTERN = USERNAME_RE.pattern


class TokenIn(Body):
    name: str = Field(min_length=1, max_length=svc.MAX_NAME, description="what the token is for")
    username: str | None = Field(
        default=None,
        pattern=USERNAME_PATTERN,
        description="admins only: create it for this user",
    )


class TokensQuery(Query):
    all: bool = Field(default=False, description="admins only: every user's tokens")


class TokenOut(Out):
    id: int
    name: str
    username: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class NewTokenOut(TokenOut):
    token: str = Field(
        description="the secret: shown once, send it as Authorization: Bearer <token>"
    )


def _info(info: svc.TokenInfo) -> dict:
    def iso(value):
        return value.isoformat() if value is not None else None

    return {
        "id": info.id,
        "name": info.name,
        "username": info.username,
        "created_at": iso(info.created_at),
        "last_used_at": iso(info.last_used_at),
        "revoked_at": iso(info.revoked_at),
    }


@operation(
    "/tokens",
    "POST",
    summary="Create a personal API token",
    tags=["tokens"],
    body=TokenIn,
    responses={201: NewTokenOut, 401: None, 403: None, 404: None, 422: None},
)
def create_token(body: TokenIn):
    """Create a token for yourself (admins: for any user); the response is the only time the
    secret is shown — only its SHA-256 is stored."""
    session = get_session()
    with field_names(session):
        created = svc.create_token_as(session, current_user(), body.name, username=body.username)
    session.commit()
    return {**_info(created.info), "token": created.token}, 201


@operation(
    "/tokens",
    "GET",
    summary="List API tokens",
    tags=["tokens"],
    query=TokensQuery,
    responses={200: list[TokenOut], 401: None, 403: None},
)
def list_tokens(query: TokensQuery):
    """Your tokens, newest first, revoked ones included (admins: `all=true` for everybody's)."""
    tokens = svc.list_tokens_as(get_session(), current_user(), everyone=query.all)
    return jsonify([_info(t) for t in tokens])


@operation(
    "/tokens/<int:token_id>",
    "DELETE",
    summary="Revoke an API token",
    tags=["tokens"],
    responses={200: TokenOut, 401: None, 404: None},
)
def revoke_token(token_id: int):
    """Revoke one of your tokens (admins: anyone's); it stops working at once."""
    session = get_session()
    info = svc.revoke_token_as(session, current_user(), token_id)
    session.commit()
    return _info(info)
