"""``geo-crm users …`` and ``geo-crm tokens …``: accounts, scopes and personal API tokens."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from ..auth import tokens as token_svc
from ..db import get_db
from ..domain import users as svc
from ..domain.principal import ROLES
from ..errors import ValidationError


def _codes(values: tuple[str, ...]) -> list[str]:
    """``--region A --region B`` and ``--region A,B`` both work."""
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


def _password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise ValidationError("no password on standard input", fields={"password": "empty"})
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _show(user: svc.UserInfo) -> str:
    scope = f" regions={','.join(user.regions)}" if user.regions else ""
    outlets = f" outlets={user.outlets}" if user.role == "rep" else ""
    state = "" if user.active else " (disabled)"
    return f"{user.username} {user.role}{scope}{outlets}{state}"


@click.group("users", help="User accounts: create, list, disable, passwords, scopes, sign-out.")
def users_group() -> None:
    pass


@users_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from one line of standard input."
)
@click.option(
    "--region",
    "regions",
    multiple=True,
    metavar="CODE",
    help="Managers: region in scope (repeatable).",
)
@click.option("--display-name", default=None)
@click.option(
    "--locale",
    type=click.Choice(svc.LOCALES),
    default=None,
    help="Page language (else the browser's).",
)
@with_appcontext
def create_cmd(username, role, password_stdin, regions, display_name, locale) -> None:
    """Create a user; the password is prompted for (twice) unless --password-stdin."""
    password = _password(password_stdin)
    with get_db().session() as session:
        user = svc.create_user(
            session,
            username,
            role,
            password,
            display_name=display_name,
            locale=locale,
            region_codes=_codes(regions),
        )
        session.commit()
    click.echo(f"created {_show(user)}")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@with_appcontext
def list_cmd(as_json: bool) -> None:
    """List users with their role, regions and number of assigned outlets."""
    with get_db().session() as session:
        users = svc.list_users(session)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "username": u.username,
                        "role": u.role,
                        "active": u.active,
                        "regions": u.regions,
                        "outlets": u.outlets,
                        "locale": u.locale,
                    }
                    for u in users
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    for user in users:
        click.echo(_show(user))


def _set_active(username: str, active: bool) -> None:
    with get_db().session() as session:
        user = svc.set_active(session, username, active)
        session.commit()
    click.echo(("enabled " if active else "disabled ") + _show(user))


@users_group.command("disable")
@click.argument("username")
@with_appcontext
def disable_cmd(username: str) -> None:
    """Disable a user: sign-in, open sessions and API tokens stop working at once."""
    _set_active(username, False)


@users_group.command("enable")
@click.argument("username")
@with_appcontext
def enable_cmd(username: str) -> None:
    """Re-enable a disabled user."""
    _set_active(username, True)


@users_group.command("set-password")
@click.argument("username")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from one line of standard input."
)
@with_appcontext
def set_password_cmd(username: str, password_stdin: bool) -> None:
    """Set a user's password; every browser session of theirs ends (API tokens stay)."""
    password = _password(password_stdin)
    with get_db().session() as session:
        user = svc.set_password(session, username, password)
        session.commit()
    click.echo(f"password set for {user.username}")


@users_group.command("sign-out")
@click.argument("username")
@with_appcontext
def sign_out_cmd(username: str) -> None:
    """Sign a user out on every device: each browser session ends at its next request."""
    with get_db().session() as session:
        ended = svc.sign_out_everywhere(session, username)
        session.commit()
    click.echo(
        f"signed out {username} everywhere: {ended} session{'' if ended == 1 else 's'} ended"
    )


@users_group.command("assign")
@click.argument("username")
@click.option(
    "--region", "regions", multiple=True, metavar="CODE", help="Managers: add region (repeatable)."
)
@click.option(
    "--outlet", "outlets", multiple=True, metavar="CODE", help="Reps: assign outlet (repeatable)."
)
@click.option("--remove", is_flag=True, help="Take the regions or outlets away instead.")
@with_appcontext
def assign_cmd(username: str, regions, outlets, remove: bool) -> None:
    """Scope a manager to regions (and all below them) or assign outlets to a rep."""
    region_codes, outlet_codes = _codes(regions), _codes(outlets)
    if bool(region_codes) == bool(outlet_codes):
        raise ValidationError(
            "give --region CODE… or --outlet CODE…, not both or neither",
            fields={"region": "or --outlet"},
        )
    with get_db().session() as session:
        if region_codes:
            user = svc.assign_regions(session, username, region_codes, remove=remove)
        else:
            user = svc.assign_outlets(session, username, outlet_codes, remove=remove)
        session.commit()
    click.echo(_show(user))


@click.group("tokens", help="Personal API tokens (sent as Authorization: Bearer <token>).")
def tokens_group() -> None:
    pass


@tokens_group.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for.")
@with_appcontext
def token_create_cmd(username: str, name: str) -> None:
    """Create a token and print it once (only its SHA-256 is stored)."""
    with get_db().session() as session:
        user = svc.get_user(session, username)
        if not user.active:
            raise ValidationError(f"{username} is disabled", fields={"username": "disabled"})
        created = token_svc.create_token(session, user.id, name)
        session.commit()
    click.echo(f"token {created.info.id} for {username} ({name}); it is shown only now:", err=True)
    click.echo(created.token)


@tokens_group.command("list")
@click.argument("username", required=False)
@with_appcontext
def token_list_cmd(username: str | None) -> None:
    """List tokens (of one user, or everybody's); secrets are never shown."""
    with get_db().session() as session:
        owner = svc.get_user(session, username).id if username else None
        rows = token_svc.list_tokens(session, owner)
    for info in rows:
        state = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "live"
        used = (
            f"last used {info.last_used_at:%Y-%m-%d %H:%M}" if info.last_used_at else "never used"
        )
        click.echo(f"{info.id}\t{info.username}\t{info.name}\t{state}\t{used}")


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def token_revoke_cmd(token_id: int) -> None:
    """Revoke a token by id; it stops working at once."""
    with get_db().session() as session:
        info = token_svc.revoke_token(session, token_id, owner_id=None)
        session.commit()
    click.echo(f"revoked token {info.id} of {info.username} ({info.name})")


COMMANDS = [users_group, tokens_group]
