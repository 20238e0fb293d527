"""background jobs: the procrastinate queue and report jobs with their progress, in schema "jobs"

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-06

The queue is procrastinate's (geo_crm/jobs/): its tables, functions and triggers are its own
SQL (sql/0008_procrastinate_3_10_schema.sql, vendored from procrastinate 3.10.0), run here in
a schema of their own so they stay apart from the application's tables and models. Every
function in the schema gets ``search_path = jobs, pg_catalog``, so its triggers work from any
connection. ``jobs.report_jobs`` holds what a user asked for and how far it got (state,
percent, stage, the file written), which the queue itself does not record.
"""

from pathlib import Path

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

REPORT_JOBS = """
CREATE TABLE jobs.report_jobs (
    id bigserial PRIMARY KEY,
    queue_job_id bigint,
    user_id integer NOT NULL REFERENCES public.users(id) ON DELETE CASCADE,
    region_code text NOT NULL,
    format text NOT NULL CHECK (format IN ('pdf', 'html', 'xlsx', 'gpkg', 'geojson')),
    lang text NOT NULL CHECK (lang IN ('zh', 'en')),
    filters jsonb NOT NULL DEFAULT '{}'::jsonb,
    territory_of text,
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'done', 'failed')),
    percent smallint NOT NULL DEFAULT 0 CHECK (percent BETWEEN 0 AND 100),
    stage text,
    file_name text,
    file_size bigint,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    CHECK (state <> 'done' OR file_name IS NOT NULL)
);
CREATE INDEX ix_report_jobs_user_created ON jobs.report_jobs (user_id, created_at DESC);
"""


def upgrade() -> None:
    driver = op.get_bind().connection.driver_connection  # psycopg: no placeholder parsing
    driver.execute("CREATE SCHEMA jobs")
    previous = driver.execute("SELECT current_setting('search_path')").fetchone()[0]
    driver.execute("SELECT set_config('search_path', 'jobs', true)")
    driver.execute((SQL_DIR / "0008_procrastinate_3_10_schema.sql").read_text(encoding="utf-8"))
    driver.execute(
        """
        DO $$
        DECLARE f regprocedure;
        BEGIN
            FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
                      WHERE p.pronamespace = 'jobs'::regnamespace LOOP
                EXECUTE format('ALTER FUNCTION %s SET search_path = jobs, pg_catalog', f);
            END LOOP;
        END $$
        """
    )
    driver.execute("SELECT set_config('search_path', %s, true)", (previous,))
    driver.execute(REPORT_JOBS)


def downgrade() -> None:
    op.execute("DROP SCHEMA jobs CASCADE")
