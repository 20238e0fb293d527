"""Migrations build the schema the models describe, and come down again."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from geo_crm.db import migrate
from geo_crm.models import Base


def head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(migrate.alembic_config(None)).get_current_head()


@pytest.fixture
def scratch_engine(pg_cluster):
    """A database of its own, so up/down does not disturb the other tests' schema."""
    admin = create_engine(pg_cluster.admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS geo_crm_migrations")
        conn.exec_driver_sql("CREATE DATABASE geo_crm_migrations")
    engine = create_engine(pg_cluster.url.replace("/geo_crm_test?", "/geo_crm_migrations?"))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS geo_crm_migrations")
    admin.dispose()


def _include(obj, name, type_, reflected, compare_to):
    from geoalchemy2 import alembic_helpers

    if type_ == "table" and name == "spatial_ref_sys":
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def test_upgrade_matches_models_and_downgrade_removes_everything(scratch_engine):
    migrate.upgrade(scratch_engine)
    assert migrate.current(scratch_engine) == head()
    with scratch_engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": _include, "compare_type": True}
        )
        assert compare_metadata(context, Base.metadata) == []
        triggers = conn.execute(
            text("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'trg_%'")
        ).scalar()
        # 10 rules and rollups, 2 announcing auth changes (0005), 23 of the distributor
        # business (0009: credit, plan version, 18 closed-month/day-range and history,
        # history append-only, search text), 2 of evaluations (0011: weights append-only,
        # no evaluation dated after today), 4 of 0012 (outlet change history and its
        # append-only rule, territory distributor, cross-territory sales flags), 1 of 0014
        # (territory parts), 1 more of 0019 (the search text: one on insert, one on a rename,
        # in place of 0009's), 1 of 0020 (territories whose distances are stale), 3 of 0023
        # (each outlet's root distributor kept: insert, delete, truncate; updates: 0012's)
        assert triggers == 47

    migrate.downgrade(scratch_engine, "base")
    tables = set(inspect(scratch_engine).get_table_names()) - {"spatial_ref_sys", "alembic_version"}
    assert tables == set()
    with scratch_engine.connect() as conn:
        functions = conn.execute(
            text("SELECT count(*) FROM pg_proc WHERE proname LIKE 'geo_crm_%'")
        ).scalar()
    assert functions == 0

    migrate.upgrade(scratch_engine)  # and up again from empty
    assert set(Base.metadata.tables) <= set(inspect(scratch_engine).get_table_names())


def test_db_upgrade_command_builds_the_schema_from_empty(scratch_engine, pg_cluster):
    from geo_crm import create_app

    url = pg_cluster.url.replace("/geo_crm_test?", "/geo_crm_migrations?")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "t"})
    try:
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert f"schema at revision {head()}" in result.output
        down = app.test_cli_runner().invoke(args=["db", "downgrade", "base"])
        assert "schema at revision base" in down.output
    finally:
        app.extensions["geo_crm_db"].dispose()
