"""bulk writes of sales: the rollups in one set-based statement per write; territory parts and
the indexes the detection of cross-territory sales over the whole history reads

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

- The rollup functions of 0003 (per buyer) and 0009 (per seller) joined an UPDATE's transition
  tables by id and deleted emptied rows in a second static statement; PL/pgSQL kept the plan of
  their first (small) call, a nested loop, so a bulk UPDATE of sales_records was quadratic in
  its rows. sql/0014_rollup_bulk.sql replaces both functions (the triggers stay) with one
  dynamic statement per write that nets old and new rows per rollup key; an UPDATE of columns
  they do not read writes no rollup row. The downgrade restores the functions of 0003 and 0009.
- ``distributor_territory_parts``: each territory cut into pieces of at most 128 vertices
  (ST_Subdivide) with a spatial index, kept by trigger (sql/0014_territory_parts.sql).
- ``ix_sales_records_seller_buyer`` (seller, buyer) replaces ``ix_sales_records_seller_id``:
  the detection reads the distinct pairs from it and finds a crossing pair's records by it;
  ``ix_sales_records_cross_flagged`` holds only the records carrying a cross-territory flag.
"""

from pathlib import Path

import geoalchemy2
import sqlalchemy as sa
from alembic import op

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
CROSS_FLAGGED = "flags && '{outside_territory,other_network}'::text[]"

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute((SQL_DIR / "0014_rollup_bulk.sql").read_text(encoding="utf-8"))
    op.create_table(
        "distributor_territory_parts",
        sa.Column(
            "distributor_id",
            sa.BigInteger(),
            sa.ForeignKey(
                "distributor_territories.distributor_id", ondelete="CASCADE", onupdate="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.Geometry("POLYGON", srid=4326, spatial_index=False),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("distributor_id", "part"),
    )
    op.create_index(
        "ix_distributor_territory_parts_geom",
        "distributor_territory_parts",
        ["geom"],
        postgresql_using="gist",
    )
    op.execute((SQL_DIR / "0014_territory_parts.sql").read_text(encoding="utf-8"))
    op.create_index("ix_sales_records_seller_buyer", "sales_records", ["seller_id", "buyer_id"])
    op.drop_index("ix_sales_records_seller_id", table_name="sales_records")
    op.create_index(
        "ix_sales_records_cross_flagged",
        "sales_records",
        ["seller_id", "buyer_id"],
        postgresql_where=sa.text(CROSS_FLAGGED),
    )


def downgrade() -> None:
    op.drop_index("ix_sales_records_cross_flagged", table_name="sales_records")
    op.create_index("ix_sales_records_seller_id", "sales_records", ["seller_id"])
    op.drop_index("ix_sales_records_seller_buyer", table_name="sales_records")
    op.execute((SQL_DIR / "0014_territory_parts_down.sql").read_text(encoding="utf-8"))
    op.drop_table("distributor_territory_parts")
    op.execute((SQL_DIR / "0014_rollup_bulk_down.sql").read_text(encoding="utf-8"))
