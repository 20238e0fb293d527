"""outlet search text in a table of its own, written only when a code, name or tier changes

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

0009 kept ``outlets.search_text`` (code, name, pinyin initials) with a trigram GIN index over
distributors, 0013 one over every outlet. A geotag changes the GiST-indexed location, so its
UPDATE is never HOT: PostgreSQL wrote a new index entry for every index of the table, the
outlet's two dozen trigrams into both GIN indexes among them, although the text had not changed.
``outlet_search`` (sql/0019_outlet_search.sql) holds the text and a distributor flag for the
distributor list's partial index; an AFTER INSERT statement trigger fills it and a row trigger
``UPDATE OF code, name, tier … WHEN`` (changed) keeps it, so a geotag never touches it. The
upgrade copies the texts and drops the column, its trigger and indexes; the downgrade restores
them from the table.

The hexagon-bin trigger's function (0018) also skips the region totals when no (region, tier)
gains or loses an outlet, as for a geotag inside its region (sql/0019_outlet_bins_add.sql; the
downgrade runs 0018's again).
"""

from pathlib import Path

from alembic import op

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute((SQL_DIR / "0019_outlet_search.sql").read_text(encoding="utf-8"))
    op.execute((SQL_DIR / "0019_outlet_bins_add.sql").read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute((SQL_DIR / "0018_outlet_bins_add.sql").read_text(encoding="utf-8"))
    op.execute((SQL_DIR / "0019_outlet_search_down.sql").read_text(encoding="utf-8"))
