"""Run the Alembic migrations in ``migrations/`` from code (CLI, embedded start-up, tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import Engine

from ..errors import ValidationError
from ..resources import resource_dir


@contextmanager
def _revision(revision: str) -> Iterator[None]:
    """Alembic's refusal of a revision (unknown, ambiguous, the wrong direction) as an error
    naming it; nothing has been migrated when Alembic refuses."""
    try:
        yield
    except CommandError as exc:
        raise ValidationError(
            f"cannot migrate to revision {revision!r}: {exc}", fields={"revision": str(exc)}
        ) from exc


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resource_dir("migrations")))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    with _revision(revision):
        command.upgrade(alembic_config(engine), revision)


_LOCK_KEY = 0x6765_6F63  # "geoc": one migrator at a time across workers and hosts


def upgrade_locked(engine: Engine, revision: str = "head") -> None:
    """Upgrade under a PostgreSQL advisory lock, so N workers starting together migrate once."""
    from sqlalchemy import text

    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
        try:
            cfg = alembic_config(engine)
            cfg.attributes["connection"] = conn
            with _revision(revision):
                command.upgrade(cfg, revision)
            conn.commit()
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
            conn.commit()


def downgrade(engine: Engine, revision: str = "base") -> None:
    with _revision(revision):
        command.downgrade(alembic_config(engine), revision)


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
