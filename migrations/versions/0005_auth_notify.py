"""announce changes to tokens and users (NOTIFY geo_crm_auth) for the per-process token cache

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

Each geo_crm process remembers which user a checked API token belongs to and forgets it on
this notification (geo_crm/auth/token_cache.py): revoking a token, disabling a user or
changing their role takes effect at once in every process (sql/0005_auth_notify.sql).
"""

from pathlib import Path

from alembic import op

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute((SQL_DIR / "0005_auth_notify.sql").read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute((SQL_DIR / "0005_auth_notify_down.sql").read_text(encoding="utf-8"))
