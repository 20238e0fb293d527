"""Alembic environment: geoalchemy2's helpers make autogenerate understand spatial columns."""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers

from geo_crm.models import Base

config = context.config
target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to):
    # tables PostGIS owns are not ours to compare
    if type_ == "table" and name in {"spatial_ref_sys"}:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = config.attributes.get("engine")
    if engine is None:
        from geo_crm.db import make_engine, resolve_url
        from geo_crm.settings import Settings

        engine = make_engine(resolve_url(Settings.load()))
    with engine.connect() as connection:
        _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("geo_crm migrations run online only (geo-crm db upgrade)")
run_migrations_online()
