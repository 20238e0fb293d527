"""``geo-crm regions …``: load administrative boundaries and list them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import click
from flask.cli import with_appcontext

from ..db import get_db
from ..domain.regions import list_regions
from ..io.boundaries import default_region_files, load_region_files
from ..models import REGION_LEVELS


@click.group("regions", help="Administrative regions: boundaries, levels and parents.")
def regions_group() -> None:
    pass


def _codes(label: str, codes: list[str]) -> None:
    click.echo(f"{label}: {len(codes)}")
    if codes:
        click.echo(textwrap.fill(" ".join(codes), 100, initial_indent="  ", subsequent_indent="  "))


@regions_group.command("load")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--level",
    type=click.Choice(REGION_LEVELS),
    help="Level of every feature (overrides the files' 'level' property).",
)
@click.option(
    "--parent",
    "parent_code",
    metavar="CODE",
    help="Parent region code of every feature (otherwise the files' parent_code, "
    "else the smallest higher-level region that contains it).",
)
@with_appcontext
def load_cmd(paths: tuple[Path, ...], level: str | None, parent_code: str | None) -> None:
    """Insert or update regions from GeoJSON or any OGR-readable PATHs (by code); reloading
    the same files changes nothing. Without PATHs, load the boundaries shipped with geo_crm."""
    files = list(paths) or default_region_files()
    with get_db().session() as session:
        report = load_region_files(session, files, level=level, parent_code=parent_code)
        session.commit()
    for name in report.reprojected:
        click.echo(f"reprojected to EPSG:4326: {name}")
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    _codes("inserted", report.inserted)
    _codes("updated", report.updated)
    click.echo(f"unchanged: {len(report.unchanged)}")
    click.echo(f"repaired: {len(report.repaired)}")
    for code, reason in report.repaired:
        click.echo(f"  {code}: {reason}")


@regions_group.command("list")
@click.option("--level", type=click.Choice(REGION_LEVELS), help="Only regions of this level.")
@with_appcontext
def list_cmd(level: str | None) -> None:
    """Print code, level, name, parent code and area (km²) of every region."""
    with get_db().session() as session:
        rows = list_regions(session, level=level)
    click.echo(f"{'code':<10} {'level':<9} {'parent':<10} {'area km²':>12}  name")
    for r in rows:
        parent = r.parent_code or "-"
        click.echo(f"{r.code:<10} {r.level:<9} {parent:<10} {r.area_km2:>12,.1f}  {r.name}")
    click.echo(f"{len(rows)} regions")


COMMANDS = [regions_group]
