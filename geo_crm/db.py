"""Engine, sessions and the PostGIS check; wired into Flask by ``init_app``."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from .errors import DatabaseSetupError

LOGGER = logging.getLogger(__name__)


def normalise_url(url: str) -> str:
    """Accept the URL a user would type (``postgresql://…``) and pick the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with the URL inside
        raise DatabaseSetupError("DATABASE_URL is not a valid database URL") from exc
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise DatabaseSetupError(
            f"DATABASE_URL must point to PostgreSQL with PostGIS, not {parsed.get_backend_name()!r}"
        )
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def resolve_url(config: Mapping) -> str:
    """DATABASE_URL when set; otherwise start the embedded cluster and return its URL."""
    if config.get("DATABASE_URL"):
        return normalise_url(config["DATABASE_URL"])
    from .localdb import LocalCluster

    cluster = LocalCluster.for_dir(
        config["GEO_CRM_PGDATA"], dbname=config["GEO_CRM_DB_NAME"], bindir=config.get("GEO_CRM_PG_BINDIR")
    )
    return cluster.ensure_database()


_FALSE = frozenset({"0", "false", "no", "off"})


def pool_pre_ping(config: Mapping) -> bool:
    """GEO_CRM_POOL_PRE_PING (app config, else environment; default on). Pre-ping survives a
    restarted database at the cost of one round trip per checkout; turn it off for throughput
    when the database is local and stable."""
    value = config.get("GEO_CRM_POOL_PRE_PING", os.environ.get("GEO_CRM_POOL_PRE_PING"))
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE
    return bool(value)


def make_engine(url: str, **kwargs) -> Engine:
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(normalise_url(url), **kwargs)


def ready_engine(url: str, *, migrate_schema: bool = True, **kwargs) -> Engine:
    """An engine on a database with PostGIS and, unless told otherwise, the newest schema."""
    engine = make_engine(url, **kwargs)
    ensure_postgis(engine)
    if migrate_schema:
        from . import migrate

        migrate.upgrade_locked(engine)
    return engine


def ensure_postgis(engine: Engine) -> str:
    """Create the postgis extension if possible; explain clearly when the server lacks it."""
    try:
        with engine.begin() as conn:
            available = conn.execute(
                text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
            ).scalar()
            if not available:
                raise DatabaseSetupError(
                    "the PostgreSQL server has no PostGIS extension available: install PostGIS "
                    "on the database server (Debian: apt-get install postgresql-15-postgis-3)"
                )
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            return conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    except OperationalError as exc:
        raise DatabaseSetupError(f"cannot connect to the database: {_short(exc)}") from exc
    except ProgrammingError as exc:
        raise DatabaseSetupError(f"cannot enable PostGIS: {_short(exc)}") from exc


def _short(exc: Exception) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


class Database:
    """Holds the engine and session factory for one app; created lazily on first use."""

    def __init__(self, config: Mapping):
        self._config = config
        self._engine: Engine | None = None
        self.sessionmaker: sessionmaker[Session] | None = None

    @property
    def engine(self) -> Engine:
        """The engine of a ready database: PostGIS present and, unless disabled, migrated."""
        if self._engine is None:
            engine = self.raw_engine()
            if self._config.get("GEO_CRM_AUTO_MIGRATE", True):
                from . import migrate

                migrate.upgrade_locked(engine)
        assert self._engine is not None
        return self._engine

    def raw_engine(self) -> Engine:
        """The engine with PostGIS checked but the schema left as it is (for db commands)."""
        if self._engine is None:
            engine = ready_engine(
                resolve_url(self._config),
                migrate_schema=False,
                pool_pre_ping=pool_pre_ping(self._config),
            )
            self.use_engine(engine)
        assert self._engine is not None
        return self._engine

    def use_engine(self, engine: Engine, **session_kwargs) -> None:
        self._engine = engine
        self.sessionmaker = sessionmaker(bind=engine, expire_on_commit=False, **session_kwargs)

    def session(self) -> Session:
        self.engine  # noqa: B018 - make sure the engine exists
        assert self.sessionmaker is not None
        return self.sessionmaker()

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def get_db(app=None) -> Database:
    from flask import current_app

    return (app or current_app).extensions["geo_crm_db"]


def get_session() -> Session:
    """The request's Session, opened on first use and closed at teardown."""
    from flask import g

    if "db_session" not in g:
        g.db_session = get_db().session()
    return g.db_session


def _close_session(exc: BaseException | None) -> None:
    from flask import g

    session = g.pop("db_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()


def init_app(app) -> None:
    app.extensions["geo_crm_db"] = Database(app.config)
    app.teardown_appcontext(_close_session)
