"""outlet hexagon bins: each statement's deltas computed once

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06

0007's ``geo_crm_outlet_bins_add`` computed the hexagons of the removed rows twice (once for
the deltas, again to find bins that fell to zero) and ran that second pass on every UPDATE,
even when the deltas netted to nothing. A geotag moves one outlet a few metres, almost always
inside the same hexagon at every zoom: its trigger did a full second pass for no change. The
function now keeps the deltas in arrays, skips the bins when they are empty and deletes only
among the decremented keys (sql/0018_outlet_bins_add.sql); the downgrade restores 0007's.
"""

from pathlib import Path

from alembic import op

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute((SQL_DIR / "0018_outlet_bins_add.sql").read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute((SQL_DIR / "0018_outlet_bins_add_down.sql").read_text(encoding="utf-8"))
