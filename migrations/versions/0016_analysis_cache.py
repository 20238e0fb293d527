"""analysis cache: a change counter bumped by every write the analyses read, and their results

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

The region pages' analyses (coverage, gaps, density) are kept per region and filter
(``analysis_results``) with the value of the change counter they were computed at; gap and
density cells are rows with their hexagon (``analysis_gap_cells``, ``analysis_density_cells``,
GiST) for the vector tiles and OGC API Features.

The counter is the sequence ``analysis_changes``, advanced by a statement-level trigger on each
table the analyses read: outlets (locations, tiers, status, supply links), sales records (the
rollups follow them in the same transaction) and regions (their parts follow them). ``nextval`` takes no
lock another transaction waits for and is called once per statement, not per row, so 500
geotags a second are not serialised behind it. A sequence is not transactional: a write that
rolls back still moves it (one needless recomputation, never a missed one).
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

WATCHED = ("outlets", "sales_records", "regions")  # region_parts follow regions by trigger


def upgrade() -> None:
    op.execute("CREATE SEQUENCE analysis_changes")
    op.execute(
        """
CREATE FUNCTION geo_crm_analysis_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM nextval('analysis_changes');
  RETURN NULL;
END $$"""
    )
    for table in WATCHED:
        op.execute(
            f"CREATE TRIGGER analysis_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION geo_crm_analysis_changed()"
        )
    op.create_table(
        "analysis_results",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column(
            "region_id",
            sa.Integer,
            sa.ForeignKey("regions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("filter_key", sa.Text, nullable=False),
        sa.Column("filters", JSONB, nullable=False),
        sa.Column("result", JSONB, nullable=False),
        sa.Column("shapes", JSONB),  # coverage's outlines: read by a map, not by the figures
        sa.Column("change_count", sa.BigInteger, nullable=False),
        sa.Column(
            "computed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("compute_ms", sa.Integer, nullable=False),
        sa.CheckConstraint("kind IN ('coverage', 'gaps', 'density')", name="analysis_result_kind"),
        sa.UniqueConstraint("kind", "region_id", "filter_key", name="uq_analysis_results_key"),
    )
    op.create_index("ix_analysis_results_region", "analysis_results", ["region_id"])

    def cell_key():
        return [
            sa.Column(
                "result_id",
                sa.BigInteger,
                sa.ForeignKey("analysis_results.id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column("rank", sa.Integer, primary_key=True),
            sa.Column("row", sa.Integer, nullable=False),
            sa.Column("col", sa.Integer, nullable=False),
        ]

    op.create_table(
        "analysis_gap_cells",
        *cell_key(),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("distance_m", sa.Float),
        sa.Column("shortfall_m", sa.Float),
        sa.Column("nearest_outlet", sa.Text),
        sa.Column("nearest_tier", sa.Text),
        sa.Column(
            "geom",
            Geometry("POLYGON", spatial_index=False),
            nullable=False,
        ),
        # one number per cell, in (result, rank) order: the OGC gaps collection pages by it
        sa.Column(
            "id",
            sa.BigInteger,
            sa.Computed("result_id * 10000 + rank", persisted=True),
            nullable=False,
        ),
        sa.CheckConstraint("ST_SRID(geom) = 4326", name="analysis_gap_cell_geom_srid"),
        sa.CheckConstraint("rank BETWEEN 0 AND 9999", name="analysis_gap_cell_rank"),
    )
    op.create_index("ix_analysis_gap_cells_id", "analysis_gap_cells", ["id"], unique=True)
    op.create_table(
        "analysis_density_cells",
        *cell_key(),
        sa.Column("buyers", sa.Integer, nullable=False),
        sa.Column("records", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.Numeric(16, 2), nullable=False),
        sa.Column("quantity", sa.Numeric(17, 3), nullable=False),
        sa.Column(
            "geom",
            Geometry("POLYGON", spatial_index=False),
            nullable=False,
        ),
        sa.CheckConstraint("ST_SRID(geom) = 4326", name="analysis_density_cell_geom_srid"),
    )
    for table in ("analysis_gap_cells", "analysis_density_cells"):
        op.create_index(f"ix_{table}_geom", table, ["geom"], postgresql_using="gist")


def downgrade() -> None:
    op.drop_table("analysis_density_cells")
    op.drop_table("analysis_gap_cells")
    op.drop_table("analysis_results")
    for table in WATCHED:
        op.execute(f"DROP TRIGGER analysis_changed ON {table}")
    op.execute("DROP FUNCTION geo_crm_analysis_changed()")
    op.execute("DROP SEQUENCE analysis_changes")
