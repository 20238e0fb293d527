"""geotag path: region look-up and nearby-outlet names planned once per session

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

geo_crm_region_for_point (called by the outlet trigger on every location change) becomes
PL/pgSQL: as a SQL function that cannot be inlined it was planned again in every transaction
(~0.15 ms of a geotag's ~0.8 ms write). geo_crm_active_outlets_near gives the names of active
outlets near a point (the possible-duplicate check) from a plan kept for the session: as part of
a prepared statement, its spatial condition on a bound point made PostgreSQL re-plan the whole
statement on every execution. Both pin plan_cache_mode = force_generic_plan (sql/0004_*.sql).
"""

from pathlib import Path

from alembic import op

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute((SQL_DIR / "0004_geotag_plans.sql").read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute((SQL_DIR / "0004_geotag_plans_down.sql").read_text(encoding="utf-8"))
