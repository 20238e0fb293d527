"""sales rollups per buyer and month/product and per buyer and year, kept by triggers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

Sales density sums every record of a period per buyer; these tables hold those sums for whole
months (per product) and whole years, so a query reads only the partial months at the ends of
its period from sales_records. Statement-level triggers (sql/0003_sales_rollup.sql) keep them
equal to the records on every INSERT, UPDATE, DELETE, COPY and TRUNCATE; the upgrade fills
them from the records already there.
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sales_buyer_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("quantity_milli", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "records >= 0 AND amount_fen >= 0 AND quantity_milli >= 0",
            name="sales_buyer_month_nonneg",
        ),
        sa.PrimaryKeyConstraint("month", "product_id", "buyer_id"),
    )
    op.create_table(
        "sales_buyer_years",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("quantity_milli", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "records >= 0 AND amount_fen >= 0 AND quantity_milli >= 0",
            name="sales_buyer_year_nonneg",
        ),
        sa.PrimaryKeyConstraint("year", "buyer_id"),
    )
    op.execute((SQL_DIR / "0003_sales_rollup.sql").read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute((SQL_DIR / "0003_sales_rollup_down.sql").read_text(encoding="utf-8"))
    op.drop_table("sales_buyer_years")
    op.drop_table("sales_buyer_months")
