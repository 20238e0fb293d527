"""the distributor business: sell-in, plans with schedules, support, closed months and history,
credit limits and review flags, the seller rollup, the distributor search

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08

- Sell-in: ``sales_records.seller_id`` may be NULL, meaning the manufacturer; the tier trigger
  allows that only for a distributor buyer, and a distributor buys only from the manufacturer.
  No sale is dated after today. ``unit_price`` is kept beside ``amount`` when given (a CHECK
  keeps amount = round(quantity × unit_price, 2)).
- Review flags on sales (``flags``, ``flag_detail``, ``review_state`` …); the first flag is
  ``over_credit_limit``, set by the credit trigger under the ``warn`` policy.
- Plans: ``version`` (optimistic locking), ``sales_plan_schedule`` (cumulative targets by day
  of month), ``sales_plan_support`` (销售支援), ``closed_months`` (only an admin changes a closed
  month's plans) and ``sales_plan_history`` (every change, who and when), all by triggers.
- ``distributor_credit`` (credit limits) and ``app_settings`` (``credit_policy``: warn | refuse).
- ``sales_seller_months``: the seller rollup (sell-out), kept like 0003's buyer rollup.
- ``outlets.search_text`` (code, name, pinyin initials) by trigger, with a trigram index over
  distributors; the initials table is sql/0009_pinyin.sql (scripts/build_pinyin.py).

The downgrade refuses while sell-in records exist (the old schema cannot hold them).
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _money(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Numeric(precision=14, scale=2), nullable=nullable)


def _nonneg(column: str) -> str:
    return f"{column} >= 0 AND {column} <> 'NaN'"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # -- sales records: sell-in, unit price, review flags
    op.alter_column("sales_records", "seller_id", existing_type=sa.BigInteger(), nullable=True)
    op.add_column("sales_records", _money("unit_price"))
    op.add_column(
        "sales_records",
        sa.Column(
            "flags", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
    )
    op.add_column(
        "sales_records",
        sa.Column(
            "flag_detail",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
    )
    op.add_column("sales_records", sa.Column("review_state", sa.String(length=16)))
    op.add_column(
        "sales_records",
        sa.Column(
            "reviewed_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")
        ),
    )
    op.add_column("sales_records", sa.Column("reviewed_at", sa.DateTime(timezone=True)))
    op.add_column("sales_records", sa.Column("review_note", sa.Text()))
    op.create_check_constraint(
        "sales_record_unit_price_amount",
        "sales_records",
        f"unit_price IS NULL OR ({_nonneg('unit_price')} AND amount = "
        "round(quantity * unit_price, 2))",
    )
    op.create_check_constraint(
        "sales_record_review_state_known",
        "sales_records",
        "review_state IN ('pending', 'accepted', 'rejected') OR review_state IS NULL",
    )
    op.create_check_constraint(
        "sales_record_flags_reviewed",
        "sales_records",
        "(cardinality(flags) = 0) = (review_state IS NULL)",
    )
    op.create_index(
        "ix_sales_records_sell_in_unpaid",
        "sales_records",
        ["buyer_id", "sale_date"],
        postgresql_include=["amount", "amount_paid"],
        postgresql_where=sa.text("seller_id IS NULL AND amount_paid < amount"),
    )
    op.create_index(
        "ix_sales_records_seller_unpaid",
        "sales_records",
        ["seller_id", "sale_date"],
        postgresql_include=["amount", "amount_paid"],
        postgresql_where=sa.text("seller_id IS NOT NULL AND amount_paid < amount"),
    )
    op.create_index(
        "ix_sales_records_review_pending",
        "sales_records",
        ["id"],
        postgresql_where=sa.text("review_state = 'pending'"),
    )
    op.create_index("ix_sales_records_reviewed_by_id", "sales_records", ["reviewed_by_id"])
    op.create_index("ix_sales_buyer_months_buyer", "sales_buyer_months", ["buyer_id", "month"])

    # -- seller rollup
    op.create_table(
        "sales_seller_months",
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("quantity_milli", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "records >= 0 AND amount_fen >= 0 AND quantity_milli >= 0",
            name="sales_seller_month_nonneg",
        ),
        sa.PrimaryKeyConstraint("seller_id", "month", "product_id"),
    )
    op.create_index(
        "ix_sales_seller_months_month", "sales_seller_months", ["month", "seller_id"]
    )

    # -- plans
    op.add_column(
        "sales_plans", sa.Column("version", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column(
        "sales_plans",
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_check_constraint("sales_plan_version_positive", "sales_plans", "version >= 1")
    op.create_table(
        "sales_plan_schedule",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "plan_id",
            sa.Integer(),
            sa.ForeignKey("sales_plans.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("by_day", sa.SmallInteger(), nullable=False),
        sa.Column("target_quantity", sa.Numeric(precision=14, scale=3)),
        _money("target_amount"),
        sa.CheckConstraint("by_day BETWEEN 1 AND 31", name="sales_plan_schedule_day_range"),
        sa.CheckConstraint(
            "target_quantity IS NOT NULL OR target_amount IS NOT NULL",
            name="sales_plan_schedule_target_present",
        ),
        sa.CheckConstraint(
            f"target_quantity IS NULL OR ({_nonneg('target_quantity')})",
            name="sales_plan_schedule_quantity_nonneg",
        ),
        sa.CheckConstraint(
            f"target_amount IS NULL OR ({_nonneg('target_amount')})",
            name="sales_plan_schedule_amount_nonneg",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id", "by_day", name="uq_sales_plan_schedule_plan_day"),
    )
    op.create_table(
        "sales_plan_support",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "plan_id",
            sa.Integer(),
            sa.ForeignKey("sales_plans.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _money("amount"),
        sa.CheckConstraint(
            "kind IN ('promotion', 'materials', 'staff', 'other')",
            name="sales_plan_support_kind_known",
        ),
        sa.CheckConstraint(
            "length(btrim(description)) > 0", name="sales_plan_support_description_present"
        ),
        sa.CheckConstraint(
            f"amount IS NULL OR ({_nonneg('amount')})", name="sales_plan_support_amount_nonneg"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sales_plan_support_plan_id", "sales_plan_support", ["plan_id"])
    op.create_table(
        "closed_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column(
            "closed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "closed_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")
        ),
        sa.CheckConstraint("extract(day from month) = 1", name="closed_month_first_day"),
        sa.PrimaryKeyConstraint("month"),
    )
    op.create_table(
        "sales_plan_history",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("row_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("old", postgresql.JSONB(astext_type=sa.Text())),
        sa.Column("new", postgresql.JSONB(astext_type=sa.Text())),
        sa.CheckConstraint(
            "action IN ('insert', 'update', 'delete')", name="sales_plan_history_action_known"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sales_plan_history_plan_id", "sales_plan_history", ["plan_id", "id"])
    op.create_index("ix_sales_plan_history_user_id", "sales_plan_history", ["user_id"])

    # -- credit
    op.create_table(
        "distributor_credit",
        sa.Column(
            "distributor_id",
            sa.BigInteger(),
            sa.ForeignKey("outlets.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        _money("credit_limit", nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")
        ),
        sa.CheckConstraint(_nonneg("credit_limit"), name="credit_limit_nonneg"),
        sa.PrimaryKeyConstraint("distributor_id"),
    )
    op.create_table(
        "app_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")
        ),
        sa.CheckConstraint(
            "key <> 'credit_policy' OR value IN ('warn', 'refuse')",
            name="app_setting_credit_policy_known",
        ),
        sa.PrimaryKeyConstraint("key"),
    )

    # -- distributor search
    op.add_column("outlets", sa.Column("search_text", sa.Text()))

    op.execute((SQL_DIR / "0009_pinyin.sql").read_text(encoding="utf-8"))
    op.execute((SQL_DIR / "0009_distributor_business.sql").read_text(encoding="utf-8"))
    op.create_index(
        "ix_outlets_distributor_search",
        "outlets",
        ["search_text"],
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
        postgresql_where=sa.text("tier = 'distributor'"),
    )


def downgrade() -> None:
    op.execute((SQL_DIR / "0009_distributor_business_down.sql").read_text(encoding="utf-8"))
    op.drop_index("ix_outlets_distributor_search", table_name="outlets")
    op.drop_column("outlets", "search_text")
    op.drop_table("app_settings")
    op.drop_table("distributor_credit")
    op.drop_table("sales_plan_history")
    op.drop_table("closed_months")
    op.drop_table("sales_plan_support")
    op.drop_table("sales_plan_schedule")
    op.drop_constraint("sales_plan_version_positive", "sales_plans")
    op.drop_column("sales_plans", "updated_at")
    op.drop_column("sales_plans", "version")
    op.drop_table("sales_seller_months")
    op.drop_index("ix_sales_buyer_months_buyer", table_name="sales_buyer_months")
    op.drop_index("ix_sales_records_reviewed_by_id", table_name="sales_records")
    op.drop_index("ix_sales_records_review_pending", table_name="sales_records")
    op.drop_index("ix_sales_records_seller_unpaid", table_name="sales_records")
    op.drop_index("ix_sales_records_sell_in_unpaid", table_name="sales_records")
    op.drop_constraint("sales_record_flags_reviewed", "sales_records")
    op.drop_constraint("sales_record_review_state_known", "sales_records")
    op.drop_constraint("sales_record_unit_price_amount", "sales_records")
    for column in (
        "review_note",
        "reviewed_at",
        "reviewed_by_id",
        "review_state",
        "flag_detail",
        "flags",
        "unit_price",
    ):
        op.drop_column("sales_records", column)
    op.alter_column("sales_records", "seller_id", existing_type=sa.BigInteger(), nullable=False)
