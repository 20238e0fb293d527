"""Proof that a test's own database is left with no client connection open in this process.

A psycopg connection dropped without ``close()`` is found by the garbage collector whenever it
next runs — in whatever test runs then — as ``ResourceWarning: connection … deleted while still
open`` (an error under ``filterwarnings = error``), blaming a test that did nothing wrong. A
fixture that tears down a database of its own calls :func:`close_leftovers` once everything
that used it has stopped: any connection still open is closed there and named, with where it
was opened when tracemalloc runs (``python -X tracemalloc=20 -m pytest …``)."""

from __future__ import annotations

import gc
import tracemalloc


def open_connections(dbname: str) -> list:
    """psycopg connections (sync or async) of this process to ``dbname`` still open."""
    import psycopg

    gc.collect()  # what is already garbage warns here, in the test that left it, not later
    found = []
    for obj in gc.get_objects():
        if isinstance(obj, psycopg.Connection | psycopg.AsyncConnection):
            try:
                if not obj.closed and obj.info.dbname == dbname:
                    found.append(obj)
            except Exception:  # noqa: BLE001 - a connection broken meanwhile: not open
                continue
    return found


def close_leftovers(dbname: str) -> list[str]:
    """Close every connection :func:`open_connections` finds; describe each (empty: none)."""
    described = []
    for conn in open_connections(dbname):
        where = tracemalloc.get_object_traceback(conn)
        described.append(f"{conn!r}" + ("\n" + "\n".join(where.format()) if where else ""))
        conn.pgconn.finish()  # no round trip, sync or async: the socket just closes
    return described
