"""a geotag's hexagon bins: a move that stays in the same hexagon at every zoom skips the grouped
delta

Revision ID: 0025
Revises: 0022
Create Date: 2026-12-07

The hexagon-bin trigger of ``outlets`` (0007) ran ``geo_crm_outlet_bins_add`` for every moved
outlet: the hexagons of the old and the new point at zooms 0–9 through a generic plan, a sort
and a grouping, to learn — for a geotag a few metres from where the outlet was — that nothing
changes. It was the dearest single part of a tag inside PostgreSQL (bench/README.md,
"Geotagging endpoint", 2026-12-07, w8-pgtag2).

``geo_crm_hex_same(a, b)`` tests, with the same column and row functions, whether both points
lie in the same hexagon at every zoom; the trigger leaves such a row out (its -1 and +1 would
cancel on the same keys), so a geotag inside its hexagons calls bins_add not at all. Statements
of more than 64 rows keep the grouped path for every moved row (the per-row test would cost a
bulk move more than it saves). Bins and totals stay equal to a rebuild (tests/test_geotag_cpu.py).
sql/0025_geotag_cpu*.sql.
"""

from pathlib import Path

from alembic import op

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute((SQL_DIR / "0025_geotag_cpu.sql").read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute((SQL_DIR / "0025_geotag_cpu_down.sql").read_text(encoding="utf-8"))
