"""the distributor at the top of every outlet's supply chain, kept in ``outlet_roots``

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07

The detection of cross-territory sales (窜货, analysis/cross_selling.py) worked out the root of
every outlet's chain (three self-joins of ``outlets``) on every run, in every reading session,
and once more to share the pairs out; the recording trigger (0012, 0017) walked the chain
with a PL/pgSQL loop twice per record. ``outlet_roots`` (outlet_id, root_id: the distributor
at the top, itself for a distributor, NULL when the chain ends below that tier) keeps it, one
row per outlet, written by statement triggers with transition tables on outlets (INSERT,
DELETE, TRUNCATE) and, for an UPDATE, by 0012's change history trigger, which already finds
the outlets whose supplier or tier changed: their roots and those of the at most three levels
below them are walked again (a trigger of its own would cost every geotag a call, as
statement triggers with transition tables cannot be ``UPDATE OF`` columns). Backfilled here;
``geo_crm_outlet_roots_rebuild()`` repairs it after a load with triggers off. ``geo_crm_root_distributor`` becomes a look-up in it, same
name, same answers. A side table, not a column of ``outlets``: a geotag is never a HOT update
and writes every index of ``outlets``, so an index there would be paid by every tag. No
foreign key to ``outlets``: its check would lock every new outlet's row (FOR KEY SHARE) on a
bulk load; the DELETE and TRUNCATE triggers remove the rows instead.
sql/0023_outlet_roots*.sql.
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outlet_roots",
        sa.Column("outlet_id", sa.BigInteger(), nullable=False),
        sa.Column("root_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("outlet_id"),
    )
    op.execute((SQL_DIR / "0023_outlet_roots.sql").read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute((SQL_DIR / "0023_outlet_roots_down.sql").read_text(encoding="utf-8"))
    op.drop_table("outlet_roots")
