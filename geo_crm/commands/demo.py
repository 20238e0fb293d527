"""``geo-crm demo``: a database, real boundaries and a generated network, then the app."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from ..db import get_db
from ..demo.generator import DEMO_USERS, MIN_OUTLETS, DemoReport
from ..demo.setup import STEPS, prepare_demo
from ..i18n import TIER_NAMES
from ..models import TIERS
from ..settings import current_settings


def _say(step: int, line: str) -> None:
    click.echo(f"[{step}/{STEPS}] {line}" if step else f"       {line}")


def _echo_report(report: DemoReport) -> None:
    click.echo(
        f"  {report.total_outlets:>10,} outlets in {report.regions} regions (seed {report.seed})"
    )
    for tier in TIERS:
        click.echo(f"  {report.outlets[tier]:>10,} {' '.join(TIER_NAMES[tier])}")
    click.echo(f"  {report.untagged:>10,} not yet geotagged")
    click.echo(f"  {report.not_active:>10,} inactive or closed")
    click.echo(f"  {report.products:>10,} products")
    click.echo(f"  {report.plans:>10,} monthly plans")
    click.echo(
        f"  {report.sales_records:>10,} sales records ({report.records_with_debt:,} with debt)"
    )
    stages = ", ".join(f"{name} {sec:.1f}s" for name, sec in report.stages.items())
    click.echo(f"  {report.seconds:>10.1f} s ({stages})")


@click.command("demo")
@click.option(
    "--outlets",
    default=30000,
    show_default=True,
    type=click.IntRange(min=MIN_OUTLETS),
    help="Total outlets to generate, across all tiers.",
)
@click.option("--seed", default=42, show_default=True, type=int, help="Random seed.")
@click.option("--reset", is_flag=True, help="Delete the existing network and generate a new one.")
@click.option("--no-serve", is_flag=True, help="Prepare the data but do not start the web app.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def demo_cmd(outlets: int, seed: int, reset: bool, no_serve: bool, host: str, port: int) -> None:
    """Run geo_crm with a generated demo network inside the real Chinese boundaries."""
    db = get_db()
    _say(1, "database: starting and migrating …")
    db.engine  # noqa: B018 - starts the embedded cluster and migrates
    session = db.session()
    try:
        setup = prepare_demo(
            session,
            outlets=outlets,
            seed=seed,
            reset=reset,
            password=current_settings().demo_password,
            say=_say,
        )
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    if setup.report is not None:
        _echo_report(setup.report)
    if setup.created_users:
        _say(0, f"demo users {', '.join(setup.created_users)} created, password {setup.password!r}")
    else:
        _say(0, f"demo users: {', '.join(u for u, _ in DEMO_USERS)} (already there)")
    if no_serve:
        _say(4, "done (--no-serve)")
        return
    _serve(host, port)


def _serve(host: str, port: int) -> None:
    """The app on the production server of the README (granian), not Flask's development
    server: the same start-up output, without its warning."""
    from ..wsgi import check_address, serve

    check_address(host, port)
    _start_report_worker()
    _say(4, f"serving on http://{host}:{port} (Ctrl+C to stop)")
    serve(current_app._get_current_object(), host, port)


def _start_report_worker() -> None:
    """Run background report jobs (the pages' "Download report") in a ``geo-crm worker``
    process beside the demo, as production would; it stops with the demo. A process, not a
    thread: granian forks its workers from this one, which must hold no open connection."""
    import atexit
    import os
    import subprocess
    import sys

    from ..settings import current_settings

    log = current_settings().var_dir / "worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "geo_crm", "worker"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    demo = os.getpid()  # granian's workers, forked from here, inherit the handler
    atexit.register(lambda: os.getpid() == demo and worker.terminate())
    _say(0, f"report worker: running beside the demo (log {log})")


COMMANDS = [demo_cmd]
