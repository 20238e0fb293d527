"""cross-territory sales: the distributors whose territory changed since the last detection,
so that the records that stay flagged ``outside_territory`` get their distance re-measured

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06

A record flagged outside its seller's distributor's territory keeps in its detail the distance
from the territory to the buyer. When the territory changes and the buyer is still outside,
the detection over the whole history (analysis/cross_selling.py) found the flags right and
left the old distance. ``territory_distances_stale`` lists the distributors whose territory
was written since (a row trigger on ``distributor_territories``, sql/0020_territory_distances.sql);
the detection re-measures the flagged records of their crossing pairs only, and empties it.
The upgrade lists every territory, so that distances kept before it are re-measured once.
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "territory_distances_stale",
        sa.Column("distributor_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("distributor_id"),
    )
    op.execute((SQL_DIR / "0020_territory_distances.sql").read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute((SQL_DIR / "0020_territory_distances_down.sql").read_text(encoding="utf-8"))
    op.drop_table("territory_distances_stale")
