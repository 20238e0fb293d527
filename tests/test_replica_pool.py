"""GEO_CRM_POOL_SIZE sizes the pool of the primary and of every replica alike.

A gunicorn worker with more threads than pooled connections opens and closes an overflow
connection for each request past the pool (a new PostgreSQL backend, several milliseconds of
CPU each: bench/README.md, the replica section); the setting lets the pool match the threads.
"""

from __future__ import annotations

import pytest

from geo_crm import db
from geo_crm.settings import Settings

URLS = {
    "DATABASE_URL": "postgresql://u@primary.invalid/db",
    "DATABASE_REPLICA_URLS": "postgresql://u@r1.invalid/db,postgresql://u@r2.invalid/db",
}


@pytest.fixture
def no_connect(monkeypatch):
    """The primary's engine as Database builds it, without the PostGIS check (no server)."""

    def ready_engine(url, *, migrate_schema=True, **kwargs):
        return db.make_engine(url, **kwargs)

    monkeypatch.setattr(db, "ready_engine", ready_engine)


@pytest.mark.parametrize(("value", "size"), [(None, 5), ("16", 16)])
def test_the_pool_size_applies_to_the_primary_and_every_replica(no_connect, value, size):
    env = dict(URLS) if value is None else {**URLS, "GEO_CRM_POOL_SIZE": value}
    database = db.Database(Settings.load(env))
    try:
        engine = database.raw_engine()
        assert engine.pool.size() == size
        assert [r.engine.pool.size() for r in database.router.replicas] == [size, size]
    finally:
        database.dispose()
