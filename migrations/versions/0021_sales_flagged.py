"""flagged sales records in a side table (a flag or review write can be a HOT update); the
buyer and seller rollups group only the records whose rolled-up columns an UPDATE changed

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07

``flags`` and ``review_state`` sat in the predicates of two partial indexes of sales_records
(``ix_sales_records_review_pending``, 0009: the review queue; ``ix_sales_records_cross_flagged``,
0014: the cross-flagged records), so no UPDATE writing them could be HOT: each record the
detection of cross-territory sales flags got a new entry in every one of the table's twelve
indexes. ``sales_flagged`` (id, review_state) holds the flagged records (those with a review
state) instead, kept by statement triggers (sql/0021_sales_flagged.sql) and backfilled here;
the review queue and the lists of flagged records start from it; the two indexes are dropped.
The downgrade restores them.

The buyer and seller rollups' UPDATE functions (0014) grouped every old and new row of an
UPDATE to find that a flag-only write changes nothing they hold; they now join old and new
rows by id first and group only the records whose rolled-up columns changed
(sql/0021_rollup_changed_rows.sql). The downgrade restores 0014's.
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
CROSS_FLAGGED = "flags && '{outside_territory,other_network}'::text[]"

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sales_flagged",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("review_state", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sales_flagged_state", "sales_flagged", ["review_state", "id"])
    op.execute((SQL_DIR / "0021_sales_flagged.sql").read_text(encoding="utf-8"))
    op.execute((SQL_DIR / "0021_rollup_changed_rows.sql").read_text(encoding="utf-8"))
    op.drop_index("ix_sales_records_review_pending", table_name="sales_records")
    op.drop_index("ix_sales_records_cross_flagged", table_name="sales_records")
    # room on each new page for a flag or review write to stay on it (HOT); pages written
    # before keep theirs until the table is rewritten (docs/deployment.md)
    op.execute("ALTER TABLE sales_records SET (fillfactor = 90)")


def downgrade() -> None:
    op.execute("ALTER TABLE sales_records RESET (fillfactor)")
    op.create_index(
        "ix_sales_records_cross_flagged",
        "sales_records",
        ["seller_id", "buyer_id"],
        postgresql_where=sa.text(CROSS_FLAGGED),
    )
    op.create_index(
        "ix_sales_records_review_pending",
        "sales_records",
        ["id"],
        postgresql_where=sa.text("review_state = 'pending'"),
    )
    op.execute((SQL_DIR / "0014_rollup_bulk.sql").read_text(encoding="utf-8"))  # 0014's functions
    op.execute((SQL_DIR / "0021_sales_flagged_down.sql").read_text(encoding="utf-8"))
    op.drop_table("sales_flagged")
