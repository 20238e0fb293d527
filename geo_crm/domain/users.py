"""Users: create, list, disable, set passwords, and assign managers' regions and reps' outlets."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from ..errors import NotFound, ValidationError
from ..i18n import LANGS
from ..models import Outlet, Region, User, UserRegion
from . import passwords
from . import sessions as user_sessions
from .principal import ROLES, Principal

LOGGER = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
LOCALES = LANGS  # the languages every page speaks


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    role: str
    active: bool
    display_name: str | None
    locale: str | None
    created_at: dt.datetime
    regions: list[str] = field(default_factory=list)
    outlets: int = 0


def _check_username(username: str) -> str:
    if not USERNAME_RE.match(username or ""):
        raise ValidationError(
            "usernames are 2-64 letters, digits or . _ @ -",
            fields={"username": "2-64 characters from A-Z a-z 0-9 . _ @ -"},
        )
    return username


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError(
            f"unknown role {role!r}", fields={"role": f"one of {', '.join(ROLES)}"}
        )
    return role


def _check_locale(locale: str | None) -> str | None:
    if locale is not None and locale not in LOCALES:
        raise ValidationError(
            f"unknown locale {locale!r}", fields={"locale": f"one of {', '.join(LOCALES)}"}
        )
    return locale


def _user_id(session: Session, username: str, *, active: bool = False) -> int:
    stmt = select(User.id).where(User.username == username)
    if active:
        stmt = stmt.where(User.active)
    user_id = session.scalar(stmt)
    if user_id is None:
        who = "active user" if active else "user"
        raise NotFound(f"no {who} named {username!r}", fields={"username": "not found"})
    return user_id


def active_user_id(session: Session, username: str) -> int:
    """The id of the active user with this name; 404 on field ``username`` otherwise (an
    inactive user is as unknown as a missing one: nothing may be made for them)."""
    return _user_id(session, username, active=True)


def create_user(
    session: Session,
    username: str,
    role: str,
    password: str | None,
    *,
    display_name: str | None = None,
    locale: str | None = None,
    region_codes: Sequence[str] = (),
) -> UserInfo:
    """Create a user (the caller commits). Without a password the user cannot sign in until one
    is set."""
    _check_username(username)
    _check_role(role)
    _check_locale(locale)
    if region_codes and role != "manager":
        raise ValidationError(
            "only managers are scoped to regions", fields={"region": "managers only"}
        )
    if password is not None:
        passwords.check_policy(password, username=username)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ValidationError("this username is taken", fields={"username": "taken"})
    session.execute(
        User.__table__.insert()
        .values(
            username=username,
            role=role,
            display_name=display_name,
            locale=locale,
            password_hash=passwords.hash_password(password) if password is not None else None,
        )
        .returning(User.id)
    ).scalar_one()
    if region_codes:
        assign_regions(session, username, region_codes)
    LOGGER.info("created user %s (%s)", username, role)
    return get_user(session, username)


def get_user(session: Session, username: str) -> UserInfo:
    users = list_users(session, usernames=[username])
    if not users:
        raise NotFound(f"no user named {username!r}", fields={"username": "not found"})
    return users[0]


def list_users(session: Session, *, usernames: Sequence[str] | None = None) -> list[UserInfo]:
    """Every user with their region codes and the number of outlets assigned to them."""
    regions = (
        select(func.coalesce(func.array_agg(Region.code), []))
        .select_from(UserRegion)
        .join(Region, Region.id == UserRegion.region_id)
        .where(UserRegion.user_id == User.id)
        .scalar_subquery()
    )
    outlets = (
        select(func.count()).select_from(Outlet).where(Outlet.rep_id == User.id).scalar_subquery()
    )
    stmt = select(
        User.id,
        User.username,
        User.role,
        User.active,
        User.display_name,
        User.locale,
        User.created_at,
        regions,
        outlets,
    ).order_by(User.username)
    if usernames is not None:
        stmt = stmt.where(User.username.in_(usernames))
    return [
        UserInfo(*row[:7], regions=sorted(row[7] or []), outlets=row[8])
        for row in session.execute(stmt)
    ]


def set_active(session: Session, username: str, active: bool) -> UserInfo:
    """Disable (or re-enable) a user: their sessions and tokens stop working at the next request.

    Disabling also ends their browser sessions, so re-enabling the user revives none of them.
    """
    user_id = _user_id(session, username)
    session.execute(update(User).where(User.id == user_id).values(active=active))
    if not active:
        user_sessions.end_user_sessions(session, user_id)
    return get_user(session, username)


def set_password(session: Session, username: str, password: str) -> UserInfo:
    """Set a new password; every browser session of the user ends (API tokens stay)."""
    user_id = _user_id(session, username)
    passwords.check_policy(password, username=username)
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(password_hash=passwords.hash_password(password))
    )
    ended = user_sessions.end_user_sessions(session, user_id)
    LOGGER.info("password set for %s; %d session(s) ended", username, ended)
    return get_user(session, username)


def sign_out_everywhere(session: Session, username: str) -> int:
    """End every browser session of the user (every device, every copy of a cookie); how many
    there were. The caller commits."""
    ended = user_sessions.end_user_sessions(session, _user_id(session, username))
    LOGGER.info("signed %s out everywhere; %d session(s) ended", username, ended)
    return ended


def _require_role(session: Session, username: str, role: str, *, field: str, what: str) -> int:
    """The id of ``username``, who must be a ``role`` (a 422 on ``field`` otherwise)."""
    user_id = _user_id(session, username)
    actual = session.scalar(select(User.role).where(User.id == user_id))
    if actual != role:
        raise ValidationError(
            f"{username} is a {actual}: only {role}s are {what}", fields={field: f"{role}s only"}
        )
    return user_id


def _unknown_codes(codes: Sequence[str], found, *, what: str, field: str, shown: int = 20) -> None:
    """A 422 on ``field`` listing the ``codes`` not among ``found`` (the whole call fails)."""
    missing = sorted(set(codes) - set(found))
    if missing:
        raise ValidationError(
            f"unknown {what} code(s): {', '.join(missing[:shown])}", fields={field: "not found"}
        )


def assign_regions(
    session: Session, username: str, codes: Sequence[str], *, remove: bool = False
) -> UserInfo:
    """Add (or remove) regions to a manager's scope; unknown codes fail the whole call."""
    user_id = _require_role(session, username, "manager", field="region", what="scoped to regions")
    ids = dict(
        session.execute(select(Region.code, Region.id).where(Region.code.in_(list(codes)))).all()
    )
    _unknown_codes(codes, ids, what="region", field="region", shown=len(codes))
    if remove:
        session.execute(
            delete(UserRegion).where(
                UserRegion.user_id == user_id, UserRegion.region_id.in_(list(ids.values()))
            )
        )
    elif ids:
        session.execute(
            pg_insert(UserRegion)
            .values([{"user_id": user_id, "region_id": i} for i in ids.values()])
            .on_conflict_do_nothing()
        )
    return get_user(session, username)


def assign_outlets(
    session: Session, username: str, codes: Sequence[str], *, remove: bool = False
) -> UserInfo:
    """Make a rep the owner of these outlets (or release them); one set-based UPDATE."""
    user_id = _require_role(session, username, "rep", field="outlet", what="assigned outlets")
    found = session.scalars(select(Outlet.code).where(Outlet.code.in_(list(codes))))
    _unknown_codes(codes, found, what="outlet", field="outlet")
    stmt = update(Outlet).where(Outlet.code.in_(list(codes)))
    if remove:
        stmt = stmt.where(Outlet.rep_id == user_id).values(rep_id=None)
    else:
        stmt = stmt.values(rep_id=user_id)
    session.execute(stmt.execution_options(synchronize_session=False))
    return get_user(session, username)


_PRINCIPAL = select(User.id, User.username, User.role, User.locale, User.password_hash, User.active)


def authenticate(session: Session, username: str, password: str) -> Principal | None:
    """Check a username and password; None for a wrong pair, an unknown or disabled user.

    Unknown users still pay one hash verification, so timing does not reveal who exists.
    """
    row = session.execute(_PRINCIPAL.where(User.username == username)).first()
    if row is None or not row.active or not row.password_hash:
        passwords.verify_password(passwords.dummy_hash(), password)
        return None
    if not passwords.verify_password(row.password_hash, password):
        return None
    if passwords.needs_rehash(row.password_hash):
        session.execute(
            update(User)
            .where(User.id == row.id)
            .values(password_hash=passwords.hash_password(password))
        )
    return Principal(row.id, row.username, row.role, row.locale, via="session")
