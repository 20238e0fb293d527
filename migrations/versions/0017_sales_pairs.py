"""sales pair rollup: the (seller, buyer) pairs of the sell-out records with their record and
cross-territory flag counts, kept by triggers; the recording-time territory test on the parts

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

- ``sales_pairs``: per (seller, buyer) pair of the sell-out records, how many records it has
  and how many carry ``other_network`` / ``outside_territory``. Statement-level triggers
  (sql/0017_sales_pairs.sql) keep it equal to the records on every INSERT, UPDATE, DELETE,
  COPY and TRUNCATE, like the rollups of 0003/0009/0014; the upgrade fills it. The detection
  of cross-territory sales over the whole history judges these pairs instead of grouping
  every record, and rewrites only the records of the pairs whose flag counts disagree with
  its verdict.
- ``geo_crm_sales_territory_check`` (0012's recording-time check) tests the buyer against the
  territory's parts first and the whole shape only when no part covers it, as the detection
  does (sql/0017_territory_check.sql); the downgrade restores 0012's.
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sales_pairs",
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("buyer_id", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("other_network", sa.BigInteger(), nullable=False),
        sa.Column("outside_territory", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "records > 0 AND other_network BETWEEN 0 AND records "
            "AND outside_territory BETWEEN 0 AND records",
            name="sales_pair_counts",
        ),
        sa.PrimaryKeyConstraint("seller_id", "buyer_id"),
    )
    op.execute((SQL_DIR / "0017_sales_pairs.sql").read_text(encoding="utf-8"))
    op.execute((SQL_DIR / "0017_territory_check.sql").read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute((SQL_DIR / "0017_sales_pairs_down.sql").read_text(encoding="utf-8"))
    op.drop_table("sales_pairs")
