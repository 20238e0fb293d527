"""evaluations: reach stored with each assessment, scoring weights with versions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

- ``evaluations`` gains the reach computed from the network when the evaluation is recorded:
  active downstream outlets per tier (``reach_by_tier``) and in all (``reach_outlets``), the
  covered area (``reach_km2``), the territory and the sub-regions reached. No evaluation is
  dated after today (a trigger, like the sales').
- ``evaluation_weights``: the weights of the score's criteria and the values that earn full
  marks, one row per version, never changed or deleted (the latest version scores every
  evaluation on read). Version 1 holds the defaults of docs/business.md.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _nonneg(column: str) -> str:
    return f"{column} >= 0 AND {column} <> 'NaN'"


def upgrade() -> None:
    op.add_column(
        "evaluations",
        sa.Column(
            "reach_by_tier",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
    )
    op.add_column(
        "evaluations", sa.Column("reach_outlets", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("evaluations", sa.Column("reach_km2", sa.Float(), nullable=True))
    op.add_column("evaluations", sa.Column("reach_territory", sa.String(length=32), nullable=True))
    op.add_column(
        "evaluations",
        sa.Column(
            "reach_regions", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
    )
    op.add_column(
        "evaluations", sa.Column("reach_units", sa.Integer(), server_default="0", nullable=False)
    )
    op.create_check_constraint(
        "evaluation_reach_nonneg",
        "evaluations",
        "reach_outlets >= 0 AND reach_units >= 0 AND (reach_km2 IS NULL OR "
        "(reach_km2 >= 0 AND reach_km2 < 'Infinity'))",
    )
    op.create_table(
        "evaluation_weights",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("initiative", sa.Numeric(precision=8, scale=3), nullable=False),
        sa.Column("capability", sa.Numeric(precision=8, scale=3), nullable=False),
        sa.Column("credit", sa.Numeric(precision=8, scale=3), nullable=False),
        sa.Column("reach", sa.Numeric(precision=8, scale=3), nullable=False),
        sa.Column("full_capital", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("full_warehouse_m2", sa.Float(), nullable=False),
        sa.Column("full_vehicles", sa.Integer(), nullable=False),
        sa.Column("full_staff", sa.Integer(), nullable=False),
        sa.Column("full_brands", sa.Integer(), nullable=False),
        sa.Column("full_outlets", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("version >= 1", name="evaluation_weights_version_positive"),
        sa.CheckConstraint(
            " AND ".join(_nonneg(c) for c in ("initiative", "capability", "credit", "reach")),
            name="evaluation_weights_nonneg",
        ),
        sa.CheckConstraint(
            "initiative + capability + credit + reach > 0", name="evaluation_weights_sum_positive"
        ),
        sa.CheckConstraint(
            "full_capital > 0 AND full_capital <> 'NaN' AND full_warehouse_m2 > 0 "
            "AND full_warehouse_m2 < 'Infinity' AND full_vehicles > 0 AND full_staff > 0 "
            "AND full_brands > 0 AND full_outlets > 0",
            name="evaluation_weights_full_positive",
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_index(
        "ix_evaluation_weights_created_by_id", "evaluation_weights", ["created_by_id"]
    )
    op.execute(
        "INSERT INTO evaluation_weights (version, initiative, capability, credit, reach,"
        " full_capital, full_warehouse_m2, full_vehicles, full_staff, full_brands, full_outlets,"
        " note) VALUES (1, 0.25, 0.25, 0.30, 0.20, 5000000, 2000, 10, 30, 5, 300, 'defaults')"
    )
    op.execute(
        "CREATE TRIGGER trg_evaluation_weights_append_only BEFORE UPDATE OR DELETE"
        " ON evaluation_weights FOR EACH ROW EXECUTE FUNCTION geo_crm_append_only()"
    )
    op.execute(
        """
CREATE FUNCTION geo_crm_evaluation_not_future() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.evaluated_on > current_date THEN
    RAISE EXCEPTION 'an evaluation may not be dated after today (% > %)',
      NEW.evaluated_on, current_date
      USING ERRCODE = 'check_violation', CONSTRAINT = 'evaluation_date_not_future';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER trg_evaluations_not_future BEFORE INSERT ON evaluations
  FOR EACH ROW EXECUTE FUNCTION geo_crm_evaluation_not_future();
"""
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS trg_evaluations_not_future ON evaluations")
    op.execute("DROP FUNCTION IF EXISTS geo_crm_evaluation_not_future()")
    op.execute("DROP TRIGGER IF EXISTS trg_evaluation_weights_append_only ON evaluation_weights")
    op.drop_index("ix_evaluation_weights_created_by_id", table_name="evaluation_weights")
    op.drop_table("evaluation_weights")
    op.drop_constraint("evaluation_reach_nonneg", "evaluations", type_="check")
    for column in (
        "reach_units",
        "reach_regions",
        "reach_territory",
        "reach_km2",
        "reach_outlets",
        "reach_by_tier",
    ):
        op.drop_column("evaluations", column)
