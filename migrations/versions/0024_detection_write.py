"""the 窜货 detection's write cheaper in the triggers it fires: the pair rollup looks for rows
to delete only among pairs that lost records, the side table of flagged records inserts
without an upsert and deletes by primary key, the pair rollup's pages keep room for HOT
updates

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-07

The first run of the cross-territory detection writes the flags of every record whose flags
change (89,010 of 5,000,000 in the bench) in one UPDATE, in the detection's own session after
the reading: every second of it is a second of wall time. Its statement triggers
(sql/0024_detection_write.sql):

- ``geo_crm_sales_pairs_apply`` (0017) probed the primary key of ``sales_pairs`` once per
  changed pair to find rows to delete, which only a pair whose record count fell can need;
  a flag-only write changes no count, and now probes nothing for it.
- ``sales_pairs`` gets ``fillfactor = 50`` and is rewritten once here: a detection rewrites
  the counts of the pairs it flags, which sit together in the key order (a seller's buyers),
  and at 100 % none of those updates was HOT (each added a primary-key entry).
- ``geo_crm_sales_flagged_apply`` (0021) upserted every record whose review state changed
  (``ON CONFLICT DO UPDATE``: a primary-key probe and a confirmation WAL record per row); the
  old row says whether the side table has the id, so a state set where there was none is now
  a plain INSERT. Its deletes went through a join with ``sales_flagged`` that statistics
  saying the table was empty turned into a scan of the whole table per changed record; they
  now go through the primary key with the ids in an array.

Measured in bench/README.md (窜货, 2026-12-07, w8-cwrite). The downgrade restores 0017's and
0021's functions and the default fillfactor.
"""

from pathlib import Path

from alembic import op

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute((SQL_DIR / "0024_detection_write.sql").read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute((SQL_DIR / "0024_detection_write_down.sql").read_text(encoding="utf-8"))
