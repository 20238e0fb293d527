"""Reads on PostgreSQL streaming replicas (``DATABASE_REPLICA_URLS``), in one place.

A request's Session is a :class:`RoutingSession`. For a GET or HEAD request each statement that
only reads (a SELECT without ``FOR UPDATE``, a read-only :class:`~.hotpath.HotStatement`, packed
records) goes to a replica chosen once for the request; the first statement that writes — or
that cannot be told apart from a write: a flush, DML, DDL, an advisory lock, a raw connection
taken without saying it only reads — goes to the primary, and so does every statement after
it. Every other request (POST, PUT, PATCH, DELETE), background jobs and CLI commands use the
primary only. Faces know nothing of this: they call :func:`geo_crm.db.get_session` as before.

Read-your-writes: after a request that wrote, the primary's WAL insert position (an LSN, taken
after the write committed) goes into the signed session cookie and, when the request sent a
``Geo-CRM-LSN`` header (an API client taking part), into the same response header; the next
request brings it back (cookie, or the header) and reads from a replica only once that
replica has replayed it, waiting at most ``GEO_CRM_REPLICA_WAIT_MS``; past the bound the
request reads from the primary. Each process remembers the highest replay position it has seen
per replica, so only the first read after a write may wait.

Health: a replica that refuses connections is left alone for :data:`RETRY_AFTER_S`; one found
more than ``GEO_CRM_REPLICA_MAX_LAG_S`` behind (or promoted, so no longer a replica) serves
nothing until its next check. Nothing of this reaches the user: the request reads from the
primary instead.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, Select, TextClause
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import CompoundSelect

LOGGER = logging.getLogger(__name__)

READ = "geo_crm_read"  # bind argument: the statement (or raw connection) only reads
READ_ONLY = {READ: True}
PRIMARY = "geo_crm_primary"  # bind argument: this read must see the primary (a replica's copy
# differs: a sequence is WAL-logged up to 32 values ahead), yet the request has not written
ON_PRIMARY = {PRIMARY: True}
HEADER = "Geo-CRM-LSN"  # response: the primary's LSN after this request's write; request: wait
COOKIE_KEY = "lsn"  # the same LSN in the signed session cookie
ROUTE = "geo_crm_route"  # Session.info key of the request's route
RETRY_AFTER_S = 5.0  # a replica that refused a connection is tried again after this long
CHECK_EVERY_S = 1.0  # how often a process re-reads a replica's lag
POLL_S = 0.002  # first pause while waiting for a replay; doubles up to 20 ms

_LSN = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")
# text() statements are sent to a replica only when they plainly read
_READ_TEXT = re.compile(
    r"\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*(select|with|values|show)\b", re.I | re.S
)
_WRITE_WORDS = re.compile(
    r"\b(insert|update|delete|merge|truncate|copy|create|alter|drop|lock|grant|nextval|setval"
    r"|pg_advisory\w*|pg_notify|listen|for\s+(?:no\s+key\s+)?update|for\s+(?:key\s+)?share)\b",
    re.I,
)


def parse_lsn(value: object) -> int | None:
    """``'16/B374D848'`` → an integer; None for anything else (a value is never trusted)."""
    if not isinstance(value, str):
        return None
    match = _LSN.fullmatch(value.strip())
    if match is None:
        return None
    return (int(match.group(1), 16) << 32) | int(match.group(2), 16)


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def reads_only(mapper=None, clause=None, hinted: bool = False) -> bool:
    """Whether a statement given to ``Session.get_bind`` surely writes nothing."""
    if hinted:
        return True
    if isinstance(clause, Select):
        return clause._for_update_arg is None
    if isinstance(clause, CompoundSelect):
        return True
    if isinstance(clause, TextClause):
        sql = clause.text
        return bool(_READ_TEXT.match(sql)) and not _WRITE_WORDS.search(sql)
    return False  # a flush (mapper, no clause), DML, DDL, a bare connection: the primary


@dataclass
class Replica:
    """One replica's engine and what this process knows of it."""

    engine: Engine
    name: str  # host/port/database, no password: for the log
    replayed: int = 0  # the highest replay LSN seen
    down_until: float = 0.0  # monotonic time before which it is not tried
    checked_at: float = float("-inf")
    usable: bool = True  # at its last check: in recovery and not lagging past the bound
    lock: threading.Lock = field(default_factory=threading.Lock)


# a replica's state as the router and /healthz read it: in recovery, replayed LSN, lag in s
REPLICA_CHECK = (
    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,"
    " CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END"
)
_REPLAYED = "SELECT pg_last_wal_replay_lsn()::text"


class Router:
    """The primary, the replicas, and the choice of one of them for a request."""

    def __init__(self, primary: Engine, replicas: list[Engine], *, wait_s: float, max_lag_s: float):
        self.primary = primary
        self.replicas = [Replica(engine, _describe(engine)) for engine in replicas]
        self.wait_s = wait_s
        self.max_lag_s = max_lag_s
        self._turn = itertools.count()
        self.served = {"replica": 0, "primary": 0}  # requests that read from each (a counter)

    def choose(self, target_lsn: int | None) -> Engine | None:
        """A replica to read from — healthy, and having replayed ``target_lsn`` (waiting for
        it up to the bound) — or None: read from the primary."""
        if not self.replicas:
            return None
        start = next(self._turn) % len(self.replicas)
        deadline = time.monotonic() + self.wait_s
        for replica in self.replicas[start:] + self.replicas[:start]:
            if self._ready(replica, target_lsn, deadline):
                self.served["replica"] += 1
                return replica.engine
        self.served["primary"] += 1
        return None

    def _ready(self, replica: Replica, target: int | None, deadline: float) -> bool:
        now = time.monotonic()
        if now < replica.down_until:
            return False
        fresh = now - replica.checked_at < CHECK_EVERY_S
        if fresh and not replica.usable:
            return False
        from psycopg import Error

        try:  # even with nothing to ask, a checkout finds a replica gone (db.connection_is_dead)
            return self._check(replica, target, deadline, fresh)
        except (DBAPIError, Error, OSError) as exc:  # refused, gone, or broken (a raw pool
            # checkout raises the driver's own error)
            replica.down_until = time.monotonic() + RETRY_AFTER_S
            LOGGER.warning(
                "replica %s unavailable, reading from the primary for %.0f s: %s",
                replica.name,
                RETRY_AFTER_S,
                str(exc).splitlines()[0][:200],
            )
            return False

    def _check(self, replica: Replica, target: int | None, deadline: float, fresh: bool) -> bool:
        """Read the replica's state (when due) and wait for its replay of ``target``, on a
        pooled connection handed straight back: the request's Session checks the same one out
        next (the pool's checkout has just found it alive, or reconnected, or raised)."""
        from psycopg import Error

        fairy = replica.engine.raw_connection()
        try:
            dbapi = fairy.driver_connection
            dbapi.autocommit = True
            try:
                if not fresh:
                    recovering, replayed, lag = dbapi.execute(REPLICA_CHECK).fetchone()
                    usable = bool(recovering) and float(lag or 0) <= self.max_lag_s
                    with replica.lock:
                        replica.checked_at = time.monotonic()
                        replica.usable = usable
                        replica.replayed = max(replica.replayed, parse_lsn(replayed) or 0)
                    if not usable:
                        LOGGER.warning(
                            "replica %s not used: %s",
                            replica.name,
                            f"{float(lag or 0):.1f} s behind" if recovering else "not a replica",
                        )
                        return False
                pause = POLL_S
                while target is not None and target > replica.replayed:
                    replayed = parse_lsn(dbapi.execute(_REPLAYED).fetchone()[0]) or 0
                    with replica.lock:
                        replica.replayed = max(replica.replayed, replayed)
                    if target <= replica.replayed:
                        break
                    if time.monotonic() + pause > deadline:
                        return False
                    time.sleep(pause)
                    pause = min(pause * 2, 0.02)
                return True
            finally:
                dbapi.autocommit = False
        except Error as exc:
            fairy.invalidate(exc)
            raise DBAPIError.instance(REPLICA_CHECK, {}, exc, Error) from exc
        finally:
            fairy.close()

    def primary_lsn(self) -> int:
        """The primary's WAL insert position now: past every commit made before this call
        (the insert position, not the flushed one: with asynchronous commit the commit record
        may not be written yet, and a replica will replay it once it is)."""
        fairy = self.primary.raw_connection()
        try:
            dbapi = fairy.driver_connection
            dbapi.autocommit = True
            try:
                value = dbapi.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]
            finally:
                dbapi.autocommit = False
        finally:
            fairy.close()
        return parse_lsn(value) or 0

    def is_replica(self, engine) -> bool:
        return any(engine is r.engine for r in self.replicas)

    def dispose(self) -> None:
        for replica in self.replicas:
            replica.engine.dispose()


def _describe(engine: Engine) -> str:
    url = make_url(engine.url)
    where = url.host or url.query.get("host") or "local"
    return f"{where}:{url.port or 5432}/{url.database}"


@dataclass
class Route:
    """One request's routing: may it read from a replica, what must that replica have
    replayed, which one was chosen, and has the request written."""

    router: Router
    replica_reads: bool
    target_lsn: int | None = None
    wrote: bool = False
    decided: bool = False
    replica: Engine | None = None

    def read_engine(self) -> Engine | None:
        if not self.decided:
            self.decided = True
            self.replica = self.router.choose(self.target_lsn)
        return self.replica


class RoutingSession(Session):
    """A Session over the primary (its ``bind``) that sends a GET request's reads to a replica
    (see the module's docstring). Without a route in ``info`` it is a plain primary Session."""

    def get_bind(self, mapper=None, *, clause=None, bind=None, **kw):
        route: Route | None = self.info.get(ROUTE)
        if bind is not None or route is None:
            return super().get_bind(mapper, clause=clause, bind=bind, **kw)
        if kw.pop(PRIMARY, False):
            return super().get_bind(mapper, clause=clause, **kw)
        if not reads_only(mapper, clause, bool(kw.pop(READ, False))):
            route.wrote = True
        elif route.replica_reads and not route.wrote:
            replica = route.read_engine()
            if replica is not None:
                return replica
        return super().get_bind(mapper, clause=clause, **kw)


def route_request(session: Session, router: Router | None) -> None:
    """Give a request's new Session its route (the request's method, its LSN to wait for)."""
    if router is None or not isinstance(session, RoutingSession):
        return
    from flask import request
    from flask import session as cookie

    replica_reads = request.method in ("GET", "HEAD")
    target = None
    if replica_reads:
        known = [parse_lsn(request.headers.get(HEADER)), parse_lsn(cookie.get(COOKIE_KEY))]
        target = max((v for v in known if v is not None), default=None)
    session.info[ROUTE] = Route(router, replica_reads, target)


def remember_write(response):
    """``after_request``: after a request that wrote, hand the primary's LSN to the client
    for its next read to wait for: in the session cookie of a browser, and in the response
    header when the request carried one (an API client taking part sends ``Geo-CRM-LSN``,
    ``0/0`` at first). Other clients are spared the extra round trip."""
    from flask import g, request
    from flask import session as cookie

    session = g.get("db_session")
    route = session.info.get(ROUTE) if session is not None else None
    if route is None or not route.wrote or not (cookie or HEADER in request.headers):
        return response
    from psycopg import Error

    try:
        lsn = format_lsn(route.router.primary_lsn())
    except (DBAPIError, Error):
        LOGGER.warning("could not read the primary's LSN after a write", exc_info=True)
        return response
    response.headers[HEADER] = lsn
    if cookie:  # a browser (an API client without a cookie gets the header only)
        cookie[COOKIE_KEY] = lsn
    return response


def end_read_transactions(session: Session, wrote_nothing) -> bool:
    """For a routed Session: end each connection's open transaction with COMMIT when it wrote
    nothing (``hotpath.end_read_transaction``'s reason: a ROLLBACK drops prepared plans).
    Returns False for any other Session (the caller handles it)."""
    route: Route | None = session.info.get(ROUTE)
    transaction = session.get_transaction()
    if route is None or transaction is None or transaction.nested:
        return route is not None
    for connection in list(transaction._connections):  # the engines it holds connections on
        conn = transaction._connections[connection][0]
        dbapi = conn.connection.driver_connection
        pgconn = getattr(dbapi, "pgconn", None)
        if pgconn is None or pgconn.transaction_status != 2:  # INTRANS: open, no error
            continue
        if route.router.is_replica(connection) or wrote_nothing(dbapi):
            dbapi.commit()  # the rollback of close() then finds nothing to do
    return True
