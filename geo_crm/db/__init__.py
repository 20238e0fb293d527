"""Engine, sessions and the PostGIS check; wired into Flask by ``init_app``."""

from __future__ import annotations

import logging
import select

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import DatabaseSetupError
from ..settings import Settings, settings_of
from .hotpath import end_read_transaction, hold_connection, release_connection, release_on_begin
from .translate import summary

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


def resolve_url(settings: Settings) -> str:
    """DATABASE_URL when set; otherwise start the embedded cluster and return its URL."""
    if settings.database_url:
        return normalise_url(settings.database_url)
    from .cluster import LocalCluster

    return LocalCluster.for_settings(settings).ensure_database()


def connection_is_dead(dbapi_connection) -> bool:
    """Whether a pooled, idle psycopg connection is unusable, without a round trip.

    An idle connection receives nothing unless the server is going away: a restart, shutdown
    or ``pg_terminate_backend`` sends an error and closes the socket. So a socket with anything
    to read (or a hang-up) means the connection is dead, or at least not worth keeping.
    """
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:  # not psycopg 3: nothing to look at, trust the pool
        return False
    if dbapi_connection.closed or pgconn.status != 0:  # ConnStatus.OK
        return True
    try:
        poller = select.poll()
        poller.register(pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def _check_on_checkout(dbapi_connection, connection_record, connection_proxy) -> None:
    if connection_is_dead(dbapi_connection):
        LOGGER.info("dropping a pooled database connection the server has closed")
        raise DisconnectionError("the server closed the connection")  # the pool retries


def make_engine(url: str, **kwargs) -> Engine:
    kwargs.setdefault("pool_pre_ping", False)
    engine = create_engine(normalise_url(url), **kwargs)
    event.listen(engine, "checkout", _check_on_checkout)
    return engine


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
        raise DatabaseSetupError(f"cannot connect to the database: {summary(exc)}") from exc
    except ProgrammingError as exc:
        raise DatabaseSetupError(f"cannot enable PostGIS: {summary(exc)}") from exc


class Database:
    """Holds the engine and session factory for one app; created lazily on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._engine: Engine | None = None
        self.sessionmaker: sessionmaker[Session] | None = None
        self.router = None  # routing.Router when DATABASE_REPLICA_URLS names replicas

    @property
    def engine(self) -> Engine:
        """The engine of a ready database: PostGIS present and, unless GEO_CRM_AUTO_MIGRATE is
        off, migrated."""
        if self._engine is None:
            engine = self.raw_engine()
            if self.settings.auto_migrate:
                from . import migrate

                try:
                    migrate.upgrade_locked(engine)
                except BaseException:  # e.g. the database went away: try it all again next time
                    self._engine, self.sessionmaker = None, None
                    engine.dispose()
                    raise
        assert self._engine is not None
        return self._engine

    def raw_engine(self) -> Engine:
        """The engine with PostGIS checked but the schema left as it is (for db commands).

        GEO_CRM_POOL_PRE_PING (default off) adds a ``SELECT 1`` round trip on every checkout.
        Off, the free socket check of :func:`connection_is_dead` still drops connections a
        restarted or terminated server has closed; the ping is for places where something
        between app and database drops idle connections without closing them.
        GEO_CRM_POOL_SIZE (default 5) connections stay open: a thread beyond them opens one of
        SQLAlchemy's overflow connections and closes it after its request, a new PostgreSQL
        backend every time (bench/README.md, the replica section, measured it at 16 threads)."""
        if self._engine is None:
            engine = ready_engine(
                resolve_url(self.settings),
                migrate_schema=False,
                pool_pre_ping=self.settings.pool_pre_ping,
                pool_size=self.settings.pool_size,
            )
            self.use_engine(engine)
        assert self._engine is not None
        return self._engine

    def use_engine(self, engine: Engine, **session_kwargs) -> None:
        self._engine = engine
        if self.settings.database_replica_urls and not session_kwargs:
            from .routing import Router, RoutingSession

            if self.router is not None:
                self.router.dispose()
            self.router = Router(
                engine,
                [self._replica_engine(url) for url in self.settings.database_replica_urls],
                wait_s=self.settings.replica_wait_ms / 1000,
                max_lag_s=self.settings.replica_max_lag_s,
            )
            session_kwargs = {"class_": RoutingSession}
        self.sessionmaker = sessionmaker(bind=engine, expire_on_commit=False, **session_kwargs)
        release_on_begin(self.sessionmaker)

    def _replica_engine(self, url: str) -> Engine:
        """A replica's engine: no PostGIS check or migration (a replica follows the primary's
        schema); a short connect timeout, so a replica that does not answer costs a request
        little before it reads from the primary."""
        return make_engine(
            url,
            pool_pre_ping=self.settings.pool_pre_ping,
            pool_size=self.settings.pool_size,
            connect_args={"connect_timeout": 2},
        )

    def session(self) -> Session:
        self.engine  # noqa: B018 - make sure the engine exists
        assert self.sessionmaker is not None
        return self.sessionmaker()

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        if self.router is not None:
            self.router.dispose()


def get_db(app=None) -> Database:
    from flask import current_app

    return (app or current_app).extensions["geo_crm_db"]


def get_session() -> Session:
    """The request's Session, opened on first use and closed at teardown."""
    from flask import g

    if "db_session" not in g:
        db = get_db()
        g.db_session = db.session()
        hold_connection(g.db_session)  # one pool checkout for the statements run alone
        if db.router is not None:  # reads of a GET request may go to a replica (db/routing.py)
            from .routing import route_request

            route_request(g.db_session, db.router)
    return g.db_session


def _close_session(exc: BaseException | None) -> None:
    from flask import g

    session = g.pop("db_session", None)
    if session is not None:
        release_connection(session)
        if exc is not None:
            session.rollback()
        else:
            end_read_transaction(session)
        session.close()


def init_app(app) -> None:
    app.extensions["geo_crm_db"] = Database(settings_of(app))
    app.teardown_appcontext(_close_session)
    if settings_of(app).database_replica_urls:
        from .routing import remember_write

        app.after_request(remember_write)
