"""outlet change history (客户变动): every change of an outlet's supplier, status or tier;
distributor territories (经销区域) and cross-territory sales flags (窜货)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

``outlet_changes`` holds one row per changed field of every UPDATE of ``outlets`` (supplier =
parent, status, tier): who (the transaction's ``geo_crm.user_id``, set by the domain as for the
plan history of 0009), when, from and to. A statement-level trigger with transition tables
writes it (sql/0012_outlet_changes.sql), so bulk updates and imports are recorded too; the rows
are append-only. History starts with this migration: earlier changes were never kept.

``distributor_territories``: a distributor's territory, a set of regions (their boundaries'
union, fixed when set) or a drawn polygon; valid shapes only (CHECK). A sell-out record whose
seller's distributor has a territory not covering the buyer, or whose buyer is in another
distributor's network, is stored flagged (``outside_territory``, ``other_network``) and pending
review, by a row trigger on sales_records (the review list of 0009).
"""

from pathlib import Path

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outlet_changes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("outlet_id", sa.BigInteger(), nullable=False),
        sa.Column("field", sa.String(length=8), nullable=False),
        sa.Column("old_value", sa.Text()),
        sa.Column("new_value", sa.Text()),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "field IN ('supplier', 'status', 'tier')", name="outlet_change_field_known"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outlet_changes_outlet_id", "outlet_changes", ["outlet_id", "id"])
    op.create_index("ix_outlet_changes_changed_at", "outlet_changes", ["changed_at"])
    op.create_index("ix_outlet_changes_user_id", "outlet_changes", ["user_id"])
    op.create_table(
        "distributor_territories",
        sa.Column(
            "distributor_id",
            sa.BigInteger(),
            sa.ForeignKey("outlets.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "region_ids", postgresql.ARRAY(sa.Integer()), server_default="{}", nullable=False
        ),
        sa.Column(
            "geom",
            geoalchemy2.Geometry("MULTIPOLYGON", srid=4326, spatial_index=False),
            nullable=False,
        ),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")
        ),
        sa.CheckConstraint(
            "ST_IsValid(geom) AND NOT ST_IsEmpty(geom) AND ST_XMin(geom) >= -180 "
            "AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90",
            name="territory_geom_valid",
        ),
        sa.PrimaryKeyConstraint("distributor_id"),
    )
    op.create_index(
        "ix_distributor_territories_geom",
        "distributor_territories",
        ["geom"],
        postgresql_using="gist",
    )
    op.create_index(
        "ix_distributor_territories_updated_by_id", "distributor_territories", ["updated_by_id"]
    )
    op.execute((SQL_DIR / "0012_outlet_changes.sql").read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute((SQL_DIR / "0012_outlet_changes_down.sql").read_text(encoding="utf-8"))
    op.drop_table("distributor_territories")
    op.drop_table("outlet_changes")
