"""what every geotag writes, cut to what earns its keep: three unread indexes of
geotag_events, NULLs in the reviewer index, ST_IsValid in the point checks

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-07

A geotag updates one outlet (never a HOT update: the location is GiST-indexed, so every index
of ``outlets`` gets an entry) and inserts one event. Of the event's index entries, three
served no query: the GiST indexes on ``old_location`` and ``new_location`` (nothing searches
events in space: they are read by id, by outlet, by state = 'flagged' and through the users'
foreign keys) and the btree on ``created_at`` alone (the history orders one outlet's events,
through ``(outlet_id, created_at)``; the queues order by id). They are dropped. The index on
``reviewed_by_id`` becomes partial (reviewed events only): it serves the users' ON DELETE SET
NULL (``reviewed_by_id = $1`` implies NOT NULL) and no longer takes a NULL entry per tag.

The point checks of ``outlets.location`` and of both event locations drop ``ST_IsValid`` (a
2-D POINT, all the column type admits, is valid whenever its coordinates are numbers; the call
converted every written point to GEOS) and ``ST_IsEmpty`` (``ST_X`` of an empty point is NULL,
which ``IS TRUE`` refuses), and test each coordinate once (``abs(ST_X(…)) <= 180``; BETWEEN
computed ST_X twice). They refuse exactly what they refused: NaN, infinities, out of range,
POINT EMPTY (tests/test_schema_rules.py, tests/test_geotag_lean.py). Measured in
bench/README.md ("Geotagging endpoint", 2026-12-07, w7-pgtag). sql/0022_geotag_lean*.sql.
"""

from pathlib import Path

from alembic import op

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute((SQL_DIR / "0022_geotag_lean.sql").read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute((SQL_DIR / "0022_geotag_lean_down.sql").read_text(encoding="utf-8"))
