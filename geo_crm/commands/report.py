"""``geo-crm report``: region reports as PDF, self-contained HTML, XLSX, GeoPackage or GeoJSON.

One region (``geo-crm report 330000 --format pdf,xlsx``), a distributor's territory
(``--territory-of D00042``) or every region of a level (``--level province``, with a
progress bar and a summary of what was written). Filters are the region page's.
``geo-crm report clean`` deletes background jobs' files and finished queue rows past their
retention time and fails the jobs of stopped workers (``jobs.cleanup``; the worker does it
hourly), saying what it did; ``clean`` is never read as a region code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
from pathlib import Path

import click
from flask.cli import with_appcontext

from ..db import get_db
from ..domain.plans import next_month
from ..domain.principal import SYSTEM, Principal
from ..domain.users import get_user
from ..errors import ValidationError
from ..i18n import LANGS
from ..jobs.cleanup import clean
from ..models import REGION_LEVELS
from ..reports import FORMATS, build_report, company_name, parse_formats, reports_dir
from ..reports.batch import run_batch
from ..reports.data import MEASURES, ReportFilters, regions_of_level
from ..reports.data import territory_of as distributor_territory
from ..settings import current_settings

CLEAN = "clean"  # `geo-crm report clean`: not a region code
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.I)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_YEAR = re.compile(r"^(\d{4})$")


def parse_period(value: str) -> tuple[dt.date, dt.date]:
    """``2025``, ``2025-03``, ``2025-Q2`` or ``2025-01-01..2025-06-30`` → (first, last day)."""
    v = value.strip()
    try:
        if ".." in v:
            a, b = v.split("..", 1)
            return dt.date.fromisoformat(a.strip()), dt.date.fromisoformat(b.strip())
        if m := _YEAR.match(v):
            y = int(m.group(1))
            return dt.date(y, 1, 1), dt.date(y, 12, 31)
        if m := _QUARTER.match(v):
            y, q = int(m.group(1)), int(m.group(2))
            start = dt.date(y, 3 * q - 2, 1)
            return start, _month_end(dt.date(y, 3 * q, 1))
        if m := _MONTH.match(v):
            start = dt.date(int(m.group(1)), int(m.group(2)), 1)
            return start, _month_end(start)
    except ValueError:
        pass
    raise ValidationError(
        f"bad period {value!r}",
        fields={"period": "use 2025, 2025-03, 2025-Q2 or 2025-01-01..2025-06-30"},
    )


def _month_end(first: dt.date) -> dt.date:
    return next_month(first) - dt.timedelta(days=1)


def _acting(session, username: str | None) -> Principal:
    if not username:
        return SYSTEM
    info = get_user(session, username)
    if not info.active:
        raise ValidationError(f"user {username} is disabled", fields={"as": "disabled"})
    return Principal(info.id, info.username, info.role, info.locale, via="cli")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


@click.command("report")
@click.argument("region", required=False)
@click.option(
    "--format",
    "formats",
    default="pdf",
    show_default=True,
    help=f"Comma-separated: {', '.join(FORMATS)}.",
)
@click.option("--period", help="2025, 2025-03, 2025-Q2 or FROM..TO (default: last 12 months).")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="Period start.")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Period end.")
@click.option("--tier", multiple=True, help="Tier(s); repeat or comma-separate (default all).")
@click.option("--product", metavar="SKU", help="Only this product's sales.")
@click.option("--distributor", metavar="CODE", help="Only this distributor's network.")
@click.option("--territory-of", metavar="CODE", help="Report on this distributor's territory.")
@click.option("--radius-km", type=float, help="Service radius of every chosen tier, km.")
@click.option("--cell-km", type=float, help="Hexagon size, km (default: from the region's size).")
@click.option("--measure", type=click.Choice(MEASURES), default="amount", show_default=True)
@click.option("--level", type=click.Choice(REGION_LEVELS), help="Every region of this level.")
@click.option("--lang", type=click.Choice(LANGS), help="Language (default: the user's, else zh).")
@click.option("--as", "as_user", metavar="USERNAME", help="Build as this user (their scope).")
@click.option("--jobs", type=click.IntRange(1, 32), default=1, show_default=True,
              help="Regions built in parallel processes (--level).")  # fmt: skip
@click.option(
    "-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path),
    default=Path("."), show_default=True, help="Folder the files are written to.",
)  # fmt: skip
@with_appcontext
def report_cmd(
    region, formats, period, date_from, date_to, tier, product, distributor, territory_of,
    radius_km, cell_km, measure, level, lang, as_user, jobs, out_dir,
) -> None:  # fmt: skip
    """Write region reports (PDF, HTML, XLSX, GeoPackage, GeoJSON) from the same figures.

    `geo-crm report clean` deletes report job files and finished queue rows older than
    GEO_CRM_REPORT_RETENTION_HOURS, finished report jobs older than
    GEO_CRM_REPORT_JOB_RETENTION_DAYS, and fails the report jobs of stopped workers.
    """
    if region == CLEAN:
        _clean()
        return
    fmts = parse_formats(formats)
    start = end = None
    if period:
        start, end = parse_period(period)
    start = date_from.date() if date_from else start
    end = date_to.date() if date_to else end
    tiers = tuple(t.strip() for v in tier for t in v.split(",") if t.strip())
    filters = ReportFilters(
        tiers=tiers, distributor=distributor, product=product, date_from=start, date_to=end,
        radius_km=radius_km, cell_km=cell_km, measure=measure,
    ).checked()  # fmt: skip
    if sum(bool(x) for x in (region, level, territory_of)) != 1:
        raise ValidationError(
            "name one region, --level or --territory-of",
            fields={"region": "give exactly one of REGION, --level, --territory-of"},
        )
    db = get_db()
    session = db.session()
    company = company_name(current_settings())
    try:
        user = _acting(session, as_user)
        language = lang or user.locale or "zh"
        if level:
            codes = [c for c, _ in regions_of_level(session, user, level)]
            session.rollback()
        else:
            territory = territory_of
            code = region
            if territory:
                code = _territory(session, user, territory)
                filters = dataclasses.replace(filters, distributor=territory)
            started = time.perf_counter()
            outcome = build_report(
                session, user, code, filters, fmts, out_dir, lang=language, company=company,
                territory_of=territory, zone=current_settings().timezone,
            )  # fmt: skip
            for w in outcome.files:
                click.echo(f"{w.path}  {_size(w.bytes)}  {w.seconds:.1f} s")
            took = time.perf_counter() - started
            click.echo(f"1 region, {len(outcome.files)} files in {took:.1f} s")
            return
    finally:
        session.close()
    _batch(db, user, codes, filters, fmts, out_dir, language, company, jobs, level)


def _clean() -> None:
    """``geo-crm report clean``: what the worker does every hour, now. Options are refused
    (they would mean nothing here)."""
    ctx = click.get_current_context()
    given = [
        p.opts[0] for p in ctx.command.params
        if p.name != "region"
        and ctx.get_parameter_source(p.name) is not click.core.ParameterSource.DEFAULT
    ]  # fmt: skip
    if given:
        raise ValidationError(
            f"report clean takes no options ({', '.join(given)})",
            fields={"clean": "no options: the retention is GEO_CRM_REPORT_RETENTION_HOURS"},
        )
    settings = current_settings()
    session = get_db().session()
    try:
        cleaned = clean(
            session,
            reports_dir(settings),
            settings.report_retention_hours,
            settings.worker_lost_seconds,
            settings.report_job_retention_days,
        )
    finally:
        session.rollback()
        session.close()
    hours = f"{settings.report_retention_hours:g}"
    days = f"{settings.report_job_retention_days:g}"
    click.echo(
        f"{cleaned.files()} (kept: files of the last {hours} hours, "
        f"finished jobs of the last {days} days)"
    )
    click.echo(f"jobs of stopped workers: {cleaned.recovered.summary()}")
    click.echo(f"queue: {cleaned.queue.summary()} (kept: the last {hours} hours)")


def _territory(session, user, distributor: str) -> str:
    return distributor_territory(session, user, distributor)


def _batch(db, user, codes, filters, fmts, out_dir, lang, company, jobs, level) -> None:
    from tqdm import tqdm

    if not codes:
        click.echo(f"no {level} region in your scope")
        return
    settings = current_settings().replace(
        database_url=db.engine.url.render_as_string(hide_password=False)
    )
    started = time.perf_counter()
    with tqdm(total=len(codes), unit="region", desc=f"{level} reports") as bar:

        def done(r) -> None:
            bar.set_postfix_str(r.code)
            bar.update(1)

        results = run_batch(
            settings, user, codes, filters, fmts, out_dir, lang=lang, company=company,
            jobs=jobs, db=db, on_done=done,
        )  # fmt: skip
    files = [f for r in results for f in r.files]
    failed = [r for r in results if r.error]
    total = sum(f[2] for f in files)
    by_fmt = {fmt: [f for f in files if f[0] == fmt] for fmt in fmts}
    click.echo(
        f"{len(results) - len(failed)} of {len(results)} regions, {len(files)} files, "
        f"{_size(total)} in {time.perf_counter() - started:.1f} s → {out_dir}"
    )
    for fmt, fs in by_fmt.items():
        if fs:
            biggest = max(fs, key=lambda f: f[2])
            click.echo(
                f"  {fmt:8} {len(fs):4} files  {_size(sum(f[2] for f in fs)):>10}  "
                f"largest {_size(biggest[2])} ({Path(biggest[1]).name})"
            )
    for r in failed:
        click.echo(f"  failed {r.code}: {r.error}", err=True)
    if failed:
        raise click.exceptions.Exit(1)


COMMANDS = [report_cmd]
