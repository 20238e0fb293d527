"""sales rollups in one set-based statement per write; an UPDATE that changes no rolled-up
column writes no rollup row

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

The rollup functions of 0003 (per buyer) and 0009 (per seller) joined the UPDATE's transition
tables by id and deleted emptied rows with a second static statement; PL/pgSQL kept the plan of
their first (small) call, a nested loop, so a bulk UPDATE of sales_records was quadratic in its
rows. sql/0014_rollup_bulk.sql replaces both functions (the triggers stay) with one dynamic
statement per write that nets old and new rows per rollup key; the downgrade restores the
functions of 0003 and 0009.
"""

from pathlib import Path

from alembic import op

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute((SQL_DIR / "0014_rollup_bulk.sql").read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute((SQL_DIR / "0014_rollup_bulk_down.sql").read_text(encoding="utf-8"))
