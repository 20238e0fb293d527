"""``geo-crm worker``: run background jobs (report files) from the PostgreSQL queue."""

from __future__ import annotations

import logging

import click
from flask.cli import with_appcontext

from ..db import get_db
from ..jobs import runtime
from ..jobs.queue import ANALYSIS_QUEUE, QUEUE, make_app
from ..settings import current_settings


@click.command("worker")
@click.option(
    "--concurrency", type=click.IntRange(1, 16), default=1, show_default=True,
    help="Jobs run at the same time (each in a thread of this process).",
)  # fmt: skip
@click.option("--once", is_flag=True, help="Run the jobs waiting now, then stop.")
@with_appcontext
def worker_cmd(concurrency: int, once: bool) -> None:
    """Run background jobs: reports written to <GEO_CRM_VAR_DIR>/reports/<job id>/, and
    the region pages' analyses recomputed after a change (the analysis cache)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    db = get_db()
    url = db.engine.url.render_as_string(hide_password=False)  # starts and migrates the database
    runtime.configure(db, current_settings())
    click.echo(
        f"worker: queues {QUEUE!r} and {ANALYSIS_QUEUE!r}, {concurrency} at a time"
        + (", until empty" if once else "")
    )
    make_app(url).run_worker(
        queues=[QUEUE, ANALYSIS_QUEUE],
        concurrency=concurrency,
        wait=not once,
        install_signal_handlers=not once,
    )
    click.echo("worker: stopped")


COMMANDS = [worker_cmd]
