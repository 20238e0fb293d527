"""login throttle: failed sign-ins shared by every worker

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

One row per failed sign-in (username lower-cased, client address), deleted once older than the
throttling window; see geo_crm/auth/throttle.py.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column(
            "failed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_login_failures_ip_failed_at", "login_failures", ["ip", "failed_at"], unique=False
    )
    op.create_index(
        "ix_login_failures_username_ip", "login_failures", ["username", "ip"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_login_failures_username_ip", table_name="login_failures")
    op.drop_index("ix_login_failures_ip_failed_at", table_name="login_failures")
    op.drop_table("login_failures")
