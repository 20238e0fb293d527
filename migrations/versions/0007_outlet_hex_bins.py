"""outlet counts per hexagon of the tile pyramid (zooms 0-9) and per region subtree, kept by triggers

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

The outlets vector tiles (geo_crm/domain/tiles.py) draw counts per hexagon below zoom 10; at
zoom 4 one tile can cover every outlet, so the counts are kept here, per zoom, hexagon
(ST_Hexagon's i, j in EPSG:3857), region and tier. Statement-level triggers
(sql/0007_outlet_hex_bins.sql) keep them equal to the active, located outlets on every INSERT,
UPDATE, DELETE, COPY and TRUNCATE; the upgrade fills them from the outlets already there.
region_outlet_totals holds the same outlets per region and tier with every region below it
(the regions tiles' figures), kept by the same triggers and recomputed when the tree changes.
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outlet_hex_bins",
        sa.Column("z", sa.SmallInteger(), nullable=False),
        sa.Column("i", sa.Integer(), nullable=False),
        sa.Column("j", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("outlets", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("z", "i", "j", "region_id", "tier"),
    )
    op.create_table(
        "region_outlet_totals",
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("outlets", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("region_id", "tier"),
    )
    op.execute((SQL_DIR / "0007_outlet_hex_bins.sql").read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute((SQL_DIR / "0007_outlet_hex_bins_down.sql").read_text(encoding="utf-8"))
    op.drop_table("region_outlet_totals")
    op.drop_table("outlet_hex_bins")
