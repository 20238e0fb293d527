"""``geo-crm jobs status [--recover]``: the background workers, the queue and what is stuck.

Lists the workers with the age of their last heartbeat, the queue's entries per queue and state,
the report jobs per state, and the jobs whose worker stopped (``jobs.lost``: no heartbeat for
``GEO_CRM_WORKER_LOST_SECONDS``). ``--recover`` then fails those report jobs (their users ask
again) and queues their analyses again, as the worker does every minute; exit status 1 when
stuck jobs are left (for a monitoring check).
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..db import get_db
from ..jobs import lost
from ..jobs.status import jobs_status
from ..settings import current_settings


@click.group("jobs", help="Background jobs: workers, the queue, jobs of stopped workers.")
def jobs_group() -> None:
    pass


@jobs_group.command("status")
@click.option(
    "--recover", is_flag=True,
    help="Fail the report jobs of stopped workers and queue their analyses again.",
)  # fmt: skip
@with_appcontext
def status_cmd(recover: bool) -> None:
    """Show workers, queue entries, report jobs and the jobs of stopped workers."""
    bound = current_settings().worker_lost_seconds
    with get_db().session() as session:
        status = jobs_status(session, bound)
        recovered = None
        if recover and status.stuck:
            recovered = lost.recover(session, bound)
            session.commit()
    click.echo(f"workers: {len(status.workers)} (lost after {bound:g} s without a heartbeat)")
    for w in status.workers:
        state = "LOST" if w.lost else "alive"
        click.echo(
            f"  worker {w.id}: {state}, last heartbeat {w.silent_s:,.0f} s ago, {w.running} running"
        )
    click.echo("queue:" + ("" if status.queue else " empty"))
    for queue, counts in status.queue.items():
        click.echo(f"  {queue}: " + ", ".join(f"{s} {n}" for s, n in counts.items()))
    reports = ", ".join(f"{s} {n}" for s, n in status.reports.items())
    click.echo(f"report jobs: {reports or 'none'}")
    if not status.stuck:
        click.echo("stuck: none")
        return
    click.echo(f"stuck: {status.stuck}")
    for e in status.lost_entries:
        what = f"report job {e.report_id}" if e.report_id is not None else e.task_name
        worker = f"worker {e.worker_id}" if e.worker_id is not None else "a worker no longer listed"
        click.echo(f"  queue entry {e.id} ({what}, try {e.attempts + 1}): {worker} stopped")
    for report_id in status.orphaned_reports:
        click.echo(f"  report job {report_id}: its queue entry finished or is gone")
    if recovered is not None:
        click.echo(f"recovered: {recovered.summary()}")
        return
    click.echo("run `geo-crm jobs status --recover` (or wait for a worker) to recover them")
    raise click.exceptions.Exit(1)


COMMANDS = [jobs_group]
