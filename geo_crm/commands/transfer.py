"""``geo-crm import …`` and ``geo-crm export …``: the network in and out of spreadsheets."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from ..coords import CRS_NAMES
from ..db import get_db
from ..domain.outlets import OutletFilters
from ..errors import GeoCrmError, ValidationError
from ..io.exports import FORMATS, export_outlets
from ..io.imports import IMPORTERS, ImportReport
from ..io.tabular import FORMATS as IMPORT_FORMATS
from ..models import OUTLET_STATUSES, TIERS


class _Bar:
    """A tqdm bar on stderr per stage of the import (read, validate, write)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if self.bar is None or self.bar.desc != stage:
            self.close()
            self.bar = tqdm(total=total, desc=stage, unit=" rows", file=sys.stderr, leave=False)
        if total is not None and self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def echo_report(report: ImportReport, source: str) -> None:
    """The report as people read it: what was read, the counts, then row / column / problem."""
    encoding = f", {report.encoding}" if report.encoding else ""
    click.echo(f"{source}: {report.rows} {report.kind} rows ({report.fmt}{encoding})")
    if report.ignored_columns:
        click.echo(f"ignored columns: {', '.join(report.ignored_columns)}")
    click.echo(report.summary())
    if report.problems:
        width = max(len(p.column) for p in report.problems)
        click.echo(f"{'row':>6}  {'column':<{width}}  problem")
        for p in report.problems:
            click.echo(f"{p.row:>6}  {p.column:<{width}}  {p.message}")


def _import(kind: str, file: Path, *, progress: bool, **options) -> None:
    bar = _Bar(progress)
    session = get_db().session()
    try:
        report = IMPORTERS[kind](session, file, progress=bar, **options)
        bar.close()
        if report.written:
            session.commit()
        else:
            session.rollback()
    finally:
        bar.close()
        session.close()
    echo_report(report, file.name)
    if report.failed:
        raise ValidationError(
            f"{report.invalid_rows} of {report.rows} rows are invalid: nothing "
            f"was written (fix them, or use --skip-invalid)"
        )


def _common(command):
    """FILE and the options every import takes."""
    for decorator in reversed(
        (
            click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
            click.option(
                "--format",
                "fmt",
                type=click.Choice(IMPORT_FORMATS),
                help="File format (default: from the extension, else detected).",
            ),
            click.option(
                "--encoding",
                help="Text encoding of a CSV file (default: UTF-8 with or "
                "without BOM, else GB18030).",
            ),
            click.option(
                "--skip-invalid",
                is_flag=True,
                help="Write the valid rows and report the others (default: all or nothing).",
            ),
            click.option("--dry-run", is_flag=True, help="Validate and count only; write nothing."),
            click.option("--progress/--no-progress", default=True, help="Progress bar on stderr."),
            with_appcontext,
        )
    ):
        command = decorator(command)
    return command


@click.group(
    "import",
    help="Import outlets, products, sales records, plans or evaluations from CSV, XLSX or "
    "GeoJSON (columns: docs/import-export.md).",
)
def import_group() -> None:
    pass


@import_group.command("outlets")
@_common
@click.option(
    "--crs",
    type=click.Choice(CRS_NAMES),
    help="Coordinate system of rows without a crs cell (default wgs84).",
)
def import_outlets_cmd(file: Path, **options) -> None:
    """Insert or update outlets by code; an unchanged row is not rewritten."""
    _import("outlets", file, **options)


@import_group.command("products")
@_common
def import_products_cmd(file: Path, **options) -> None:
    """Insert or update products by sku."""
    _import("products", file, **options)


@import_group.command("sales")
@_common
def import_sales_cmd(file: Path, **options) -> None:
    """Insert sales records (or update them by reference)."""
    _import("sales", file, **options)


@import_group.command("plans")
@_common
@click.option("--as", "as_user", metavar="USERNAME", help="Import as this user (their scope).")
def import_plans_cmd(file: Path, as_user: str | None, **options) -> None:
    """Insert or update monthly sales plans by distributor, month and product."""
    from .report import _acting

    session = get_db().session()
    try:
        user = _acting(session, as_user)
    finally:
        session.close()
    _import("plans", file, user=user, **options)


@import_group.command("evaluations")
@_common
@click.option("--as", "as_user", metavar="USERNAME", help="Import as this user (the evaluator).")
def import_evaluations_cmd(file: Path, as_user: str | None, **options) -> None:
    """Add one evaluation of a distributor per row, each with its network's reach now."""
    from ..analysis.judging import network_reach
    from .report import _acting

    session = get_db().session()
    try:
        user = _acting(session, as_user)
    finally:
        session.close()
    _import("evaluations", file, user=user, reach_of=network_reach, **options)


@click.command("export")
@click.argument("kind", type=click.Choice(["outlets", "sales", "plans", "debt"]))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: standard output).",
)
@click.option(
    "--encoding",
    type=click.Choice(["utf-8", "gb18030"]),
    default="utf-8",
    show_default=True,
    help="CSV text encoding (UTF-8 is written with a BOM).",
)
@click.option(
    "--tier", multiple=True, type=click.Choice(TIERS), help="Only this tier (repeatable)."
)
@click.option("--region", metavar="CODE", help="Only outlets in this region or its sub-regions.")
@click.option("--distributor", metavar="CODE", help="Only this outlet and its downstream network.")
@click.option(
    "--status",
    multiple=True,
    type=click.Choice(OUTLET_STATUSES),
    help="Only this status (repeatable).",
)
@click.option(
    "--geotagged/--untagged", default=None, help="Only outlets with / without a location."
)
@click.option("--q", metavar="TEXT", help="Only outlets whose name or code contains TEXT.")
@click.option("--from", "date_from", metavar="YYYY-MM-DD", help="Sales: first day.")
@click.option("--to", "date_to", metavar="YYYY-MM-DD", help="Sales: last day.")
@click.option("--month", metavar="YYYY-MM", help="Plans: this month only.")
@click.option("--as-of", metavar="YYYY-MM-DD", help="Debt: count ages to this day.")
@with_appcontext
def export_cmd(
    kind, fmt, output, encoding, tier, region, distributor, status, geotagged, q, date_from,
    date_to, month, as_of,
) -> None:  # fmt: skip
    """Export outlets (CSV, XLSX, GeoJSON; re-importable), sales, plans or debt ageing
    (CSV, XLSX) with the list's filters."""
    session = get_db().session()
    try:
        export = _export(
            session, kind, fmt, encoding, tier, region, distributor, status, geotagged, q,
            date_from, date_to, month, as_of,
        )  # fmt: skip
        if output is None:
            for chunk in export.chunks:
                click.echo(chunk, nl=False)  # bytes go to stdout's binary buffer
        else:
            partial = output.with_name(output.name + ".part")
            try:
                with partial.open("wb") as out:
                    for chunk in export.chunks:
                        out.write(chunk)
                partial.replace(output)
            except OSError as exc:
                partial.unlink(missing_ok=True)
                raise GeoCrmError(f"cannot write {output}: {exc.strerror or exc}") from exc
    finally:
        session.close()
    click.echo(
        f"exported {export.rows} {_WHAT[kind]} ({fmt})" + (f" to {output}" if output else ""),
        err=True,
    )


_WHAT = {"outlets": "outlets", "sales": "sales records", "plans": "plans", "debt": "distributors"}


def _export(
    session, kind, fmt, encoding, tier, region, distributor, status, geotagged, q, date_from,
    date_to, month, as_of,
):  # fmt: skip
    import datetime as dt

    from ..domain.plans import PlanFilters, parse_month
    from ..domain.sales import SalesFilters
    from ..io.business_exports import export_debt, export_plans, export_sales

    def day(value, name):
        try:
            return dt.date.fromisoformat(value) if value else None
        except ValueError:
            raise ValidationError(f"bad --{name} {value!r}", fields={name: "YYYY-MM-DD"}) from None

    if kind == "outlets":
        filters = OutletFilters(
            tier=list(tier) or None, region=region, distributor=distributor,
            status=list(status) or None, geotagged=geotagged, q=q,
        )  # fmt: skip
        return export_outlets(session, fmt, filters=filters, encoding=encoding)
    if kind == "sales":
        filters = SalesFilters(
            date_from=day(date_from, "from"), date_to=day(date_to, "to"), region=region,
            distributor=distributor,
        )  # fmt: skip
        return export_sales(session, fmt, filters=filters, encoding=encoding)
    if kind == "plans":
        first = parse_month(month) if month else None
        filters = PlanFilters(distributor=distributor, region=region, month_from=first,
                              month_to=first)  # fmt: skip
        return export_plans(session, fmt, filters=filters, encoding=encoding)
    return export_debt(
        session, fmt, as_of=day(as_of, "as-of"), region=region, distributor=distributor,
        encoding=encoding,
    )  # fmt: skip


COMMANDS = [import_group, export_cmd]
