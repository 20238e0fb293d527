"""outlet search: a trigram index over every outlet's search_text (the landing map's search box)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

Migration 0009 keeps ``outlets.search_text`` (code, name, pinyin initials) for every outlet but
indexes it for distributors only. The landing map searches every outlet the caller may see by
name, code or initials, so a GIN trigram index over all of them answers a word of three or more
characters from the index instead of reading every outlet.
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_outlets_search",
        "outlets",
        ["search_text"],
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_outlets_search", table_name="outlets")
