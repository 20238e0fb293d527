"""report jobs: files expire, failures keep a message key, jobs without an owner

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

Three changes to ``jobs.report_jobs`` (migration 0008):

- state ``expired``: a finished job whose file was deleted after the retention time
  (``GEO_CRM_REPORT_RETENTION_HOURS``); its link then answers 410 Gone.
- ``error_key`` + ``error_params``: why a job failed as a key of ``jobs.failures`` and its
  values, so the message is translated into the reader's language when read (``error``
  keeps the English sentence for logs and older readers).
- ``user_id`` may be NULL: with ``GEO_CRM_AUTH_REQUIRED`` off nobody is signed in, and a large
  report still becomes a job (built with the all-seeing system principal, which every
  request acts as while authentication is off).
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE jobs.report_jobs
            DROP CONSTRAINT report_jobs_state_check,
            ADD CONSTRAINT report_jobs_state_check
                CHECK (state IN ('queued', 'running', 'done', 'failed', 'expired')),
            ALTER COLUMN user_id DROP NOT NULL,
            ADD COLUMN error_key text,
            ADD COLUMN error_params jsonb,
            ADD CONSTRAINT report_jobs_error_params_check
                CHECK (error_params IS NULL OR jsonb_typeof(error_params) = 'object');
        CREATE INDEX ix_report_jobs_finished ON jobs.report_jobs (finished_at)
            WHERE state IN ('done', 'failed');
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX jobs.ix_report_jobs_finished;
        DELETE FROM jobs.report_jobs WHERE user_id IS NULL;
        UPDATE jobs.report_jobs SET state = 'failed' WHERE state = 'expired';
        ALTER TABLE jobs.report_jobs
            DROP CONSTRAINT report_jobs_error_params_check,
            DROP COLUMN error_params,
            DROP COLUMN error_key,
            ALTER COLUMN user_id SET NOT NULL,
            DROP CONSTRAINT report_jobs_state_check,
            ADD CONSTRAINT report_jobs_state_check
                CHECK (state IN ('queued', 'running', 'done', 'failed'));
        """
    )
