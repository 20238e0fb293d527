"""Reads split over several database sessions that all see ONE snapshot of the data.

A long read-only step (e.g. the 窜货 detection's judging and measuring, analysis/cross_selling.py)
can use more than one core of the database server only through more than one backend. The
caller's transaction exports its snapshot (``pg_export_snapshot()``), each helper connection
opens a REPEATABLE READ transaction and imports it (``SET TRANSACTION SNAPSHOT``), as
``pg_dump -j`` does: every helper reads exactly what the caller's transaction would have read
at that moment, however long the others take and whatever is committed meanwhile. The helpers
only read (their temporary tables die with their transaction, rolled back when they end); what
they find goes back to the caller, which writes it once, in its own transaction.

What a snapshot cannot show a helper: the caller's own uncommitted writes. :func:`can_export`
therefore refuses a transaction that has written anything (it holds a transaction id) and a
savepoint (PostgreSQL exports no snapshot from a subtransaction); the caller then reads alone.

Connections come from the caller's engine (its pool: a step over ``n`` helpers needs ``n``
connections besides the caller's, see docs/deployment.md) and go back to it whatever happens.
The first helper that fails cancels the others' running statements and its error is raised in
the caller, before anything is written.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

LOGGER = logging.getLogger(__name__)

S = TypeVar("S")
R = TypeVar("R")

# what pg_export_snapshot() returns (e.g. 00000003-0000001B-1): checked before it is spelled
# into SET TRANSACTION SNAPSHOT, which takes no bound parameter
_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")

_WRITTEN = text("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")


def can_export(session: Session) -> str | None:
    """Why the session's transaction cannot share its snapshot with helper sessions (None: it
    can): it runs inside a savepoint, or it has written something the helpers would not see."""
    conn = session.connection()
    if conn.in_nested_transaction():
        return "the transaction is inside a savepoint"
    if conn.execute(_WRITTEN).scalar_one():
        return "the transaction has written data other sessions cannot see yet"
    return None


def as_done(
    session: Session, shares: Sequence[S], work: Callable[[Connection, S], R]
) -> Iterator[tuple[int, R]]:
    """``work(connection, share)`` for every share, each on a helper connection of its own,
    side by side (one thread each), all reading the snapshot of ``session``'s transaction (the
    caller checks :func:`can_export` first). Yields ``(index of the share, result)`` as each
    helper finishes, so that the caller can use one share's result (in ``session``, e.g. write
    it) while the others still read. The helpers read the snapshot exported when the iteration
    starts, whatever the caller writes meanwhile. A failure of any helper cancels the others
    and is raised (once all have stopped) instead of the next result; if the caller stops
    iterating early (an error of its own), the helpers still running are cancelled and waited
    for before the iterator closes."""
    main = session.connection()
    snapshot = main.execute(text("SELECT pg_export_snapshot()")).scalar_one()
    if not _SNAPSHOT_ID.fullmatch(snapshot):
        raise RuntimeError(f"unexpected snapshot id {snapshot!r}")
    engine = main.engine
    running: dict[int, object] = {}  # share index -> its psycopg connection, to cancel
    lock = threading.Lock()
    failed = threading.Event()

    def helper(index: int, share: S) -> R:
        if failed.is_set():
            raise _Skipped()
        # back to the pool rolled back (its temporary tables gone), whatever happens
        with engine.connect() as conn:
            conn.execution_options(isolation_level="REPEATABLE READ")  # this checkout only
            conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # first statement
            with lock:
                running[index] = conn.connection.dbapi_connection
            try:
                if failed.is_set():
                    raise _Skipped()
                return work(conn, share)
            finally:
                with lock:
                    running.pop(index, None)

    def cancel_running() -> None:
        with lock:
            others = list(running.values())
        for dbapi in others:
            try:
                dbapi.cancel()
            except Exception:  # noqa: BLE001 - a connection that ended meanwhile
                LOGGER.debug("cancelling a helper session failed", exc_info=True)

    pool = ThreadPoolExecutor(max_workers=max(1, len(shares)), thread_name_prefix="snapshot")
    futures = {pool.submit(helper, i, share): i for i, share in enumerate(shares)}
    pending = set(futures)
    first: BaseException | None = None
    try:
        while pending:
            done, pending = wait(
                pending, timeout=None if first is None else 0.5, return_when=FIRST_COMPLETED
            )
            for future in done:
                error = future.exception()
                if first is None and error is not None and not isinstance(error, _Skipped):
                    first = error
                    failed.set()
            if first is not None:  # stop the others' statements: their work is lost anyway
                cancel_running()  # (again while any runs: a cancel that came between two
                continue  # statements found nothing to stop)
            for future in sorted(done, key=futures.get):
                yield futures[future], future.result()
        if first is not None:
            raise first
    finally:
        if pending:  # the caller stopped early, or a failure: stop what still runs
            failed.set()
            while pending:
                cancel_running()
                _, pending = wait(pending, timeout=0.5)
        pool.shutdown(wait=True)


class _Skipped(Exception):
    """A helper that did not start because another had already failed."""
