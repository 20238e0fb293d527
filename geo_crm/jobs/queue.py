"""The procrastinate app: its tasks, and connections that find the queue in schema ``jobs``."""

from __future__ import annotations

import functools

import procrastinate
from sqlalchemy.engine import make_url

SCHEMA = "jobs"
QUEUE = "reports"
REPORT_TASK = "geo_crm.report"
CLEAN_TASK = "geo_crm.clean_reports"
RECOVER_TASK = "geo_crm.recover_jobs"
RECOVER_CRON = "* * * * *"  # every minute: a killed worker's jobs fail within a minute or two
ANALYSIS_QUEUE = "analyses"
ANALYSIS_TASK = "geo_crm.analysis"
SEARCH_PATH_OPTION = f"-c search_path={SCHEMA},public"


def conninfo(database_url: str) -> str:
    """A libpq URI from geo_crm's SQLAlchemy URL (``postgresql+psycopg://…?host=/socket``)."""
    url = make_url(database_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _with_tasks(app: procrastinate.App) -> procrastinate.App:
    from .analyses import run_analysis
    from .cleanup import CLEAN_CRON
    from .tasks import clean_reports, recover_jobs, run_report

    app.task(name=REPORT_TASK, queue=QUEUE)(run_report)
    app.task(name=ANALYSIS_TASK, queue=ANALYSIS_QUEUE)(run_analysis)
    # hourly: a worker's periodic deferrer queues it (once, whichever worker is first)
    app.periodic(cron=CLEAN_CRON, periodic_id="hourly", queue=QUEUE)(
        app.task(name=CLEAN_TASK, queue=QUEUE)(clean_reports)
    )
    app.periodic(cron=RECOVER_CRON, periodic_id="minutely", queue=QUEUE)(
        app.task(name=RECOVER_TASK, queue=QUEUE, queueing_lock=RECOVER_TASK)(recover_jobs)
    )
    return app


def make_app(database_url: str, *, sync: bool = False) -> procrastinate.App:
    """A procrastinate app on ``database_url``: asyncio connector for a worker, or the
    synchronous one (``sync``) for callers that read or cancel jobs."""
    pool = {"conninfo": conninfo(database_url), "kwargs": {"options": SEARCH_PATH_OPTION}}
    if sync:
        connector = procrastinate.SyncPsycopgConnector(**pool, min_size=1, max_size=2)
    else:
        connector = procrastinate.PsycopgConnector(**pool)
    return _with_tasks(procrastinate.App(connector=connector))


@functools.cache
def deferring_app() -> procrastinate.App:
    """An app that only defers on connections its callers pass (it never opens a pool)."""
    return _with_tasks(procrastinate.App(connector=procrastinate.SyncPsycopgConnector()))
