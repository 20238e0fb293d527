"""``geo-crm db …``: the embedded cluster and migrations."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from ..db import ensure_postgis, get_db, migrate
from ..errors import GeoCrmError
from ..settings import current_settings


def _cluster():
    from ..db.cluster import LocalCluster

    settings = current_settings()
    if settings.database_url:
        raise GeoCrmError(
            "DATABASE_URL is set: geo_crm uses that server and runs no cluster of its own"
        )
    return LocalCluster.for_settings(settings)


@click.group("db", help="The database: embedded cluster and schema migrations.")
def db_group() -> None:
    pass


@db_group.command("start")
@with_appcontext
def start_cmd() -> None:
    """Start (or reuse) the embedded PostgreSQL cluster and create the database."""
    cluster = _cluster()
    was_running = cluster.is_running()
    url = cluster.ensure_database()
    click.echo(
        ("reusing" if was_running else "started") + f" embedded PostgreSQL in {cluster.datadir}"
    )
    click.echo(f"database: {url}")


@db_group.command("stop")
@with_appcontext
def stop_cmd() -> None:
    """Stop the embedded PostgreSQL cluster."""
    cluster = _cluster()
    click.echo("stopped" if cluster.stop() else "not running")


@db_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@with_appcontext
def status_cmd(as_json: bool) -> None:
    """Say whether the database is reachable and at which schema revision."""
    info: dict = {"mode": "external" if current_settings().database_url else "embedded"}
    if info["mode"] == "embedded":
        info.update(_cluster().status())
    if info["mode"] == "external" or info.get("running"):
        engine = get_db().raw_engine()
        info["postgis"] = ensure_postgis(engine)
        info["revision"] = migrate.current(engine)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        click.echo(f"{key:12} {value}")


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def upgrade_cmd(revision: str) -> None:
    """Migrate the schema up to REVISION (default: head)."""
    engine = get_db().raw_engine()
    migrate.upgrade_locked(engine, revision)
    click.echo(f"schema at revision {migrate.current(engine)}")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def downgrade_cmd(revision: str) -> None:
    """Migrate the schema down to REVISION ('base' removes every table)."""
    engine = get_db().raw_engine()
    migrate.downgrade(engine, revision)
    click.echo(f"schema at revision {migrate.current(engine) or 'base'}")


@db_group.group("replica")
def replica_group() -> None:
    """A hot-standby replica of the embedded cluster (development and tests): set
    DATABASE_REPLICA_URLS to its URL for reads to go to it."""


def _replica():
    from ..db.replica import LocalReplica

    return LocalReplica.of(_cluster())


@replica_group.command("start")
@with_appcontext
def replica_start_cmd() -> None:
    """Copy the embedded cluster (pg_basebackup) and start streaming to the copy."""
    replica = _replica()
    was_running = replica.is_running()
    replica.start()
    click.echo(("reusing" if was_running else "started") + f" replica in {replica.datadir}")
    click.echo(f"DATABASE_REPLICA_URLS={replica.url}")


@replica_group.command("stop")
@click.option("--drop", is_flag=True, help="Also remove its folder and replication slot.")
@with_appcontext
def replica_stop_cmd(drop: bool) -> None:
    """Stop the replica (``--drop``: and remove it, so the primary keeps no WAL for it)."""
    replica = _replica()
    if drop:
        click.echo("removed" if replica.drop() else "no replica")
        return
    click.echo("stopped" if replica.stop() else "not running")


@replica_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@with_appcontext
def replica_status_cmd(as_json: bool) -> None:
    """Say whether the replica runs and how far it lags (bytes of WAL, seconds)."""
    info = _replica().status()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        click.echo(f"{key:14} {value}")


COMMANDS = [db_group]
