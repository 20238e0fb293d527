"""The fast paths of the database layer, in one place (see docs/analyses.md and bench/README.md).

- :class:`HotStatement`: a statement of a hot request path compiled once and run straight on
  the session's psycopg connection (prepared, values bound, read-only ones in autocommit);
- :func:`end_read_transaction`: read requests end with COMMIT, so prepared plans survive;
- :func:`fetch_records` / :class:`Records`: many rows as one binary string — every row packed
  server-side into a fixed-width record of its values' binary send forms, the records joined by
  ``string_agg`` and read by numpy as a structured array, with no per-row work in Python.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Engine,
    Float,
    FromClause,
    Integer,
    LargeBinary,
    Select,
    SmallInteger,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .routing import READ_ONLY

LOGGER = logging.getLogger(__name__)


def end_read_transaction(session: Session) -> None:
    """End a finished request's open transaction with COMMIT when it wrote nothing.

    A transaction without a transaction id wrote nothing, so COMMIT and ROLLBACK have the same
    effect — but psycopg forgets every prepared statement when it sees a ROLLBACK (and sends
    ``DEALLOCATE ALL``), so a pool whose read requests end with a rollback never keeps a plan
    and plans its statements on every request (see bench/README.md, the ``near`` list).
    Anything that did write is left to the rollback of ``session.close()``. Only for a session
    that owns its connection's transaction (tests bind sessions to an outer one), in a healthy
    state.
    """
    if not isinstance(session.bind, Engine) or not session.in_transaction():
        return
    from .routing import end_read_transactions

    if end_read_transactions(session, _wrote_nothing):  # a Session routed over replicas
        return
    transaction = session.get_transaction()
    if transaction is None or transaction.nested:
        return
    dbapi = session.connection().connection.driver_connection
    pgconn = getattr(dbapi, "pgconn", None)
    if pgconn is None or pgconn.transaction_status != 2:  # INTRANS: open, no error
        return
    from psycopg import Error

    try:
        if _WROTE_NOTHING.run(session, {}).fetchone()[0]:
            dbapi.commit()  # SQLAlchemy's own rollback on close then finds nothing to do
    except (DBAPIError, Error):  # a broken connection: close() rolls back and discards it
        LOGGER.warning("could not end a request's read transaction", exc_info=True)


class HotStatement:
    """A fixed statement of a hot request path, run straight on the session's psycopg connection.

    The SQL is compiled once; each call binds values, and psycopg prepares the statement on the
    connection at its first use. SQLAlchemy's execution and result layers are skipped: on the
    hot paths they cost more than PostgreSQL takes to run the statement (bench/README.md).
    Errors are re-raised as SQLAlchemy's ``DBAPIError`` family, so the app's handlers translate
    them as usual. Rows come from ``row_factory`` (a psycopg row factory such as ``dict_row``;
    plain tuples by default).

    ``read_only=True`` (a SELECT that writes nothing): when no transaction is open yet, the
    statement runs on its own, in autocommit, instead of opening the request's transaction —
    under READ COMMITTED every statement takes a fresh snapshot anyway, so nothing changes but
    the round trips: a request that only reads (token lookup, ``near`` page) then needs no
    BEGIN, no COMMIT and no check at its end. The first other statement opens the transaction
    as usual.

    ``prepare=False``: PostgreSQL plans the statement for the values of each call instead of
    preparing it once. A prepared statement gets a generic plan after five runs, made without
    the values; where the right plan depends on them (a zoom-4 tile reads thousands of hexagon
    rows, a zoom-9 one a handful; a bbox may hold ten outlets or a million) the generic plan
    can be many times slower than planning each call (docs/gis.md). The statement then goes as
    the unnamed statement of the extended protocol, planned with its values bound.
    """

    def __init__(
        self,
        statement,
        *,
        row_factory=None,
        read_only: bool = False,
        binary: bool = False,
        prepare: bool = True,
    ):
        if isinstance(statement, str):
            self.sql, self.defaults = statement, {}
        else:
            from sqlalchemy.dialects.postgresql.psycopg import dialect

            compiled = statement.compile(dialect=dialect())
            self.sql = str(compiled)
            self.defaults = {k: v for k, v in compiled.params.items() if v is not None}
        self.row_factory = row_factory
        self.read_only = read_only
        self.binary = binary  # results in binary: no text to parse
        self.prepare = prepare  # False: planned for each call's values (never prepared)

    def run(self, session: Session, params: Mapping):
        """Execute with ``params`` on the session's connection (in its transaction); the cursor
        (or, for a read-only statement run before the session has a connection, its rows)."""
        return self._execute(session, params, alone=self.read_only)[0]

    def run_committed(self, session: Session, params: Mapping):
        """For a statement that writes all or nothing: run it on its own, in autocommit, unless
        the session has a transaction open — committed when this returns, without the BEGIN
        and COMMIT round trips. Returns (cursor or rows, whether it committed itself)."""
        return self._execute(session, params, alone=True)

    def _execute(self, session: Session, params: Mapping, *, alone: bool):
        from psycopg import Error

        if alone and session.get_transaction() is None:
            bind = session.get_bind(**READ_ONLY) if self.read_only else session.get_bind()
            if isinstance(bind, Engine):
                rows = self._run_alone(session, bind, params)
                if rows is not None:
                    return rows, True
        connection = session.connection(dict(READ_ONLY) if self.read_only else None)
        dbapi = connection.connection.driver_connection
        cursor = self._cursor(dbapi)
        values = {**self.defaults, **params} if self.defaults else params
        alone = alone and not dbapi.autocommit and _idle_read_committed(dbapi)
        try:
            if alone:
                dbapi.autocommit = True
                try:
                    cursor.execute(self.sql, values, prepare=self.prepare)
                finally:
                    dbapi.autocommit = False
            else:
                cursor.execute(self.sql, values, prepare=self.prepare)
        except Error as exc:
            if dbapi.closed or dbapi.pgconn.status != 0:
                connection.invalidate(exc)  # never hand a broken connection back to the pool
            raise DBAPIError.instance(self.sql, values, exc, Error) from exc
        return cursor, alone

    def _cursor(self, dbapi):
        if self.row_factory is None:
            return dbapi.cursor(binary=self.binary)
        return dbapi.cursor(row_factory=self.row_factory, binary=self.binary)

    def _kept_cursor(self, info: dict, dbapi):
        """This statement's cursor on this connection, made at its first run there and kept
        in the pool record's ``info`` (which lives as long as the connection): a cursor run
        again with the same query keeps psycopg's adaptation state — the dumpers of the
        values, the loaders of the result's columns — instead of building them for every call
        (bench/README.md, the geotag's Python path). Only for runs whose rows are fetched
        before the connection goes back to the pool (:meth:`_run_alone`): no caller ever holds
        a kept cursor."""
        kept = info.get(_KEPT_CURSORS)
        if kept is None:
            kept = info[_KEPT_CURSORS] = {}
        cursor = kept.get(self)
        if cursor is None or cursor.closed or cursor.connection is not dbapi:
            if len(kept) >= _MAX_KEPT_CURSORS:  # statements built per shape: stay bounded
                kept.clear()
            cursor = kept[self] = self._cursor(dbapi)
        return cursor

    def _run_alone(self, session: Session, engine: Engine, params: Mapping) -> _Rows | None:
        """Run on a connection borrowed from the pool, in autocommit, outside any Session
        transaction: a request whose session has not touched the database yet (a token
        lookup, a ``near`` page, a geotag) then builds no Session transaction and SQLAlchemy
        connection around its statements. The connection goes straight back to the pool —
        unless the session holds it for its request (:func:`hold_connection`): then the next
        statement run alone on the same engine uses it again, and it goes back when the
        session begins a transaction of its own or is released (:func:`release_connection`).
        None: the connection is not READ COMMITTED, so let the session's transaction run it."""
        from psycopg import Error

        info = session.info
        held = info.get(_HELD)
        if held is not None and held[0] is engine:
            fairy = held[1]
        else:
            if held is not None:
                release_connection(session)
            fairy = engine.raw_connection()
        dbapi = fairy.driver_connection
        values = {**self.defaults, **params} if self.defaults else params
        keep = False
        try:
            if not _idle_read_committed(dbapi):
                return None
            cursor = self._kept_cursor(fairy.info, dbapi)
            if not dbapi.autocommit:
                dbapi.autocommit = True
            cursor.execute(self.sql, values, prepare=self.prepare)
            rows = _Rows(cursor.fetchall())
            keep = _HOLD in info
            return rows
        except Error as exc:
            if dbapi.closed or dbapi.pgconn.status != 0:
                fairy.invalidate(exc)  # never hand a broken connection back to the pool
            raise DBAPIError.instance(self.sql, values, exc, Error) from exc
        finally:
            if keep:
                info[_HELD] = (engine, fairy)
            else:
                info.pop(_HELD, None)
                _give_back(fairy)


_HOLD = "geo_crm_hold"  # Session.info: keep the connection of statements run alone
_HELD = "geo_crm_held"  # Session.info: (engine, pool connection) kept for the next one


def hold_connection(session: Session) -> None:
    """Let ``session`` keep the pool connection its statements run alone borrow, for its next
    ones (a request's session: the token check and the geotag then check one connection out
    of the pool, not two). It goes back when the session begins a transaction, which checks
    out its own (never two at once: :func:`release_on_begin` is installed on the session's
    factory), and at :func:`release_connection`, which whoever calls this must call when done
    (the request's teardown)."""
    session.info[_HOLD] = True


def release_on_begin(factory) -> None:
    """Install on a ``sessionmaker``: a session that begins a transaction first hands back
    the connection it holds."""
    from sqlalchemy import event

    event.listen(factory, "after_transaction_create", _release_on_begin)


def release_connection(session: Session) -> None:
    """Hand the connection ``session`` holds (if any) back to the pool."""
    held = session.info.pop(_HELD, None)
    if held is not None:
        _give_back(held[1])


def _release_on_begin(session: Session, transaction) -> None:
    if transaction.parent is None and _HELD in session.info:
        release_connection(session)


def _give_back(fairy) -> None:
    """A connection borrowed by :meth:`HotStatement._run_alone` back to the pool, out of
    autocommit (as the pool handed it out); already idle, so nothing to roll back."""
    from psycopg import Error

    dbapi = fairy.driver_connection
    try:
        if dbapi is not None and not dbapi.closed and dbapi.autocommit:
            dbapi.autocommit = False
    except Error as exc:  # broken meanwhile: the pool must not hand it out again
        fairy.invalidate(exc)
    finally:
        fairy.close()


_KEPT_CURSORS = "geo_crm_hot_cursors"  # pool record info key: HotStatement -> its cursor
_MAX_KEPT_CURSORS = 64


def _idle_read_committed(dbapi) -> bool:
    """No transaction open on the psycopg connection, and new ones would be READ COMMITTED
    (where a statement alone sees what it would see inside one)."""
    from psycopg import IsolationLevel

    return dbapi.pgconn.transaction_status == 0 and dbapi.isolation_level in (
        None,
        IsolationLevel.READ_COMMITTED,
    )


class _Rows:
    """Rows already fetched, read like the cursor they came from."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list):
        self._rows = rows

    def fetchone(self):
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list:
        rows, self._rows = self._rows, []
        return rows


_WROTE_NOTHING = HotStatement("SELECT txid_current_if_assigned() IS NULL")


def _wrote_nothing(dbapi) -> bool:
    """:data:`_WROTE_NOTHING` on one psycopg connection of a routed Session."""
    from psycopg import Error

    try:
        return bool(dbapi.execute(_WROTE_NOTHING.sql, prepare=True).fetchone()[0])
    except Error:  # a broken connection: close() rolls back and discards it
        LOGGER.warning("could not end a request's read transaction", exc_info=True)
        return False


# -- packed rows ---------------------------------------------------------------------------

# kind -> (send function, SQL type the value is cast to, numpy type of its bytes)
_SEND = {
    "i2": ("int2send", SmallInteger, ">i2"),
    "i4": ("int4send", Integer, ">i4"),
    "i8": ("int8send", BigInteger, ">i8"),
    "f8": ("float8send", Float(precision=53), ">f8"),
}
# a geometry's EWKB as PostgreSQL writes it (host byte order: checked on every fetch)
_EWKB_POINT = (("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8"))
_EWKB_POINT_2D_SRID = 0x20000001
_EMPTY_POINT = literal_column("'SRID=4326;POINT(NaN NaN)'::geometry")


@dataclass(frozen=True)
class Field:
    """One value of a packed record: ``name`` in the result, SQL ``expr``, and its ``kind``.

    Kinds: ``i2``, ``i4``, ``i8`` (integers), ``f8`` (float), ``ewkb_point`` (a 2-D point with
    SRID, read as ``{name}_x`` and ``{name}_y``; NULL reads as NaN). A NULL value of the other
    kinds would make the whole record NULL, which ``string_agg`` drops without a word: give
    ``null`` (the value that stands for NULL) for any expression that can be NULL.
    """

    name: str
    expr: ColumnElement
    kind: str
    null: object = None

    def packed(self) -> ColumnElement:
        expr = self.expr if self.null is None else func.coalesce(self.expr, self.null)
        if self.kind == "ewkb_point":
            if self.null is None:
                expr = func.coalesce(self.expr, _EMPTY_POINT)
            return cast(expr, LargeBinary)
        if self.kind not in _SEND:
            raise ValueError(f"unknown field kind {self.kind!r}: one of i2 i4 i8 f8 ewkb_point")
        send, sql_type, _ = _SEND[self.kind]
        return getattr(func, send)(cast(expr, sql_type))

    def dtype(self) -> list[tuple[str, str]]:
        if self.kind == "ewkb_point":
            return [(f"{self.name}_{part}", code) for part, code in _EWKB_POINT]
        return [(self.name, _SEND[self.kind][2])]


class Records:
    """A packed-record query, compiled once: build it once per statement shape (module level or
    ``functools.lru_cache``) and :meth:`fetch` with values only.

    ``fields`` are read from ``from_`` (a table, join or subquery; None: what the fields name)
    where every condition of ``where`` holds. CTEs the conditions use (e.g. ``id IN (SELECT id
    FROM network)``) go to the top of the statement. The result is one structured numpy array
    with a field per :class:`Field` (big-endian integers and floats, as sent): no Python object
    per row, which costs more than the query itself once rows number in the hundreds of
    thousands; one aggregate per row, not per column, and binary, not hex text.
    """

    def __init__(
        self,
        fields: Sequence[Field],
        *,
        from_: FromClause | None = None,
        where: Sequence[ColumnElement] = (),
    ):
        from sqlalchemy.dialects.postgresql.psycopg import dialect

        if not fields:
            raise ValueError("a record needs at least one field")
        self.fields = tuple(fields)
        record = self.fields[0].packed()
        for f in self.fields[1:]:
            record = record.op("||", return_type=LargeBinary)(f.packed())
        rows = select(record.label("r"))
        if from_ is not None:
            rows = rows.select_from(from_)
        rows = rows.where(*where).subquery("packed")
        self.statement: Select = select(func.string_agg(rows.c.r, literal(b"", LargeBinary)))
        # IN lists are written out: give a compiled-once shape ``= ANY(:array)`` instead
        compiled = self.statement.compile(
            dialect=dialect(), compile_kwargs={"render_postcompile": True}
        )
        self.sql = str(compiled)
        self.defaults = {k: v for k, v in compiled.params.items() if v is not None}
        self.dtype = np.dtype([part for f in self.fields for part in f.dtype()])
        self._points = [f.name for f in self.fields if f.kind == "ewkb_point"]

    def fetch(self, session: Session, params: Mapping | None = None) -> np.ndarray:
        """The records on the session's connection (in its transaction), values ``params``."""
        from psycopg import Error

        values = {**self.defaults, **params} if params else self.defaults
        connection = session.connection(dict(READ_ONLY))  # a replica may answer (db/routing.py)
        dbapi = connection.connection.driver_connection
        try:
            with dbapi.cursor(binary=True) as cur:
                cur.execute(self.sql, values)
                (blob,) = cur.fetchone()
        except Error as exc:
            if dbapi.closed or dbapi.pgconn.status != 0:
                connection.invalidate(exc)  # never hand a broken connection back to the pool
            raise DBAPIError.instance(self.sql, values, exc, Error) from exc
        data = np.frombuffer(blob if blob is not None else b"", dtype=self.dtype)
        for name in self._points:
            if len(data) and (
                (data[f"{name}_order"] != 1).any()
                or (data[f"{name}_type"] != _EWKB_POINT_2D_SRID).any()
            ):
                raise RuntimeError(f"{name}: expected little-endian 2-D EWKB points with SRID")
        return data


def fetch_records(
    session: Session,
    fields: Sequence[Field],
    *,
    from_: FromClause | None = None,
    where: Sequence[ColumnElement] = (),
    params: Mapping | None = None,
) -> np.ndarray:
    """:class:`Records` built and fetched in one call (a statement whose values are baked in,
    e.g. ``select_outlets(filters)``); build a :class:`Records` once for a fixed shape."""
    return Records(fields, from_=from_, where=where).fetch(session, params)
