"""``geo-crm demo``: a database, real boundaries and a generated network, then the app."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from ..db import get_db
from ..demo.generator import (
    DEMO_USERS,
    DemoReport,
    clear_network,
    ensure_demo_users,
    generate_network,
    outlet_count,
)
from ..domain.regions import region_count
from ..errors import GeoCrmError
from ..models import TIERS

_TIER_LABELS = {
    "distributor": "总经销 distributors",
    "wholesaler_2": "二批 wholesalers_2",
    "wholesaler_3": "三批 wholesalers_3",
    "retail": "零售 retail outlets",
}


def _echo_report(report: DemoReport) -> None:
    click.echo(
        f"  {report.total_outlets:>10,} outlets in {report.regions} regions (seed {report.seed})"
    )
    for tier in TIERS:
        click.echo(f"  {report.outlets[tier]:>10,} {_TIER_LABELS[tier]}")
    click.echo(f"  {report.untagged:>10,} not yet geotagged")
    click.echo(f"  {report.not_active:>10,} inactive or closed")
    click.echo(f"  {report.products:>10,} products")
    click.echo(f"  {report.plans:>10,} monthly plans")
    click.echo(
        f"  {report.sales_records:>10,} sales records ({report.records_with_debt:,} with debt)"
    )
    stages = ", ".join(f"{name} {sec:.1f}s" for name, sec in report.stages.items())
    click.echo(f"  {report.seconds:>10.1f} s ({stages})")


def _load_regions(session) -> int:
    """Load the shipped boundaries when the regions table is empty; return the region count."""
    count = region_count(session)
    if count:
        return count
    from ..io.boundaries import default_region_files, load_region_files

    files = default_region_files()
    click.echo(f"       loading {len(files)} boundary files: {', '.join(f.name for f in files)}")
    load_region_files(session, files)
    session.commit()
    return region_count(session)


@click.command("demo")
@click.option(
    "--outlets",
    default=30000,
    show_default=True,
    type=click.IntRange(min=10),
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
    click.echo("[1/4] database: starting and migrating …")
    db.engine  # noqa: B018 - starts the embedded cluster and migrates
    session = db.session()
    try:
        click.echo("[2/4] regions …")
        regions = _load_regions(session)
        if not regions:
            raise GeoCrmError("no regions loaded: cannot place a demo network")
        click.echo(f"       {regions:,} regions")
        existing = outlet_count(session)
        if existing and not reset:
            click.echo(
                f"[3/4] network: reusing the {existing:,} outlets already there "
                "(--reset generates a new one)"
            )
        else:
            if existing:
                click.echo(f"[3/4] network: deleting {existing:,} outlets and their records …")
                clear_network(session)
            click.echo(f"[3/4] network: generating {outlets:,} outlets with seed {seed} …")
            report = generate_network(session, outlets=outlets, seed=seed)
            session.commit()
            _echo_report(report)
        password = current_app.config.get("GEO_CRM_DEMO_PASSWORD") or "geo-crm-demo"
        created = ensure_demo_users(session, password)
        session.commit()
        if created:
            click.echo(f"       demo users {', '.join(created)} created, password {password!r}")
        else:
            click.echo(f"       demo users: {', '.join(u for u, _ in DEMO_USERS)} (already there)")
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    if no_serve:
        click.echo("[4/4] done (--no-serve)")
        return
    from werkzeug.serving import run_simple

    click.echo(f"[4/4] serving on http://{host}:{port} (Ctrl+C to stop)")
    run_simple(host, port, current_app._get_current_object(), threaded=True)


COMMANDS = [demo_cmd]
