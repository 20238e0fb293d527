"""``geo-crm analyse …``: coverage, gaps, density, depth, distribution rate and plans as tables.

Every command prints a readable table, or the service's full answer with ``--json``.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import click
from flask.cli import with_appcontext

from ..analysis import coverage as coverage_service
from ..analysis import density as density_service
from ..analysis import distribution as distribution_service
from ..analysis import gaps as gaps_service
from ..analysis.params import DEFAULT_CELL_KM, LIMITS, AnalysisParams
from ..db import get_db
from ..errors import ValidationError
from ..models import OUTLET_STATUSES, TIERS
from . import FloatRange


def _tiers(values: tuple[str, ...], default: tuple[str, ...]) -> tuple[str, ...]:
    tiers = tuple(t.strip() for v in values for t in v.split(",") if t.strip())
    for t in tiers:
        if t not in TIERS:
            raise ValidationError(
                f"unknown tier {t!r}", fields={"tier": f"use one of {', '.join(TIERS)}"}
            )
    return tiers or default


def _radii(values: tuple[str, ...]) -> dict[str, float]:
    """``retail=1500`` or ``retail:1500`` (repeat or comma-separate) -> {tier: metres}."""
    out: dict[str, float] = {}
    for item in (p.strip() for v in values for p in v.split(",") if p.strip()):
        tier, sep, metres = item.replace(":", "=").partition("=")
        tier = tier.strip()
        if not sep or tier not in TIERS:
            raise ValidationError(
                f"bad radius {item!r}",
                fields={"radius": f"write TIER=METRES with TIER one of {', '.join(TIERS)}"},
            )
        try:
            out[tier] = float(metres)
        except ValueError:
            raise ValidationError(
                f"bad radius {item!r}", fields={f"radius_{tier}": "must be a number of metres"}
            ) from None
    return out


def _params(
    tier,
    radius,
    distributor,
    status,
    product,
    date_from,
    date_to,
    cell_km=DEFAULT_CELL_KM,
    default_tiers=TIERS,
) -> AnalysisParams:
    base = AnalysisParams(
        tiers=_tiers(tier, default_tiers),
        distributor=distributor,
        status=None if status == "any" else status,
        product=product,
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None,
        cell_km=cell_km,
    )
    radii = _radii(radius)
    return base.with_(radius_m={**base.radius_m, **radii}) if radii else base


def _table(headers: list[str], rows: list[list]) -> None:
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max([len(h)] + [_width(r[i]) for r in cells]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        click.echo(
            "  ".join(
                _pad(v, w, i > 0 and _numeric(v))
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - _width(text))
    return gap + text if right else text + gap


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("%", "").replace("-", "").isdigit()


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        return f"{value:,.2f}" if abs(value) >= 1 or value == 0 else f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _emit(result, as_json: bool) -> bool:
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2, default=str))
    return as_json


def filter_options(fn):
    for option in reversed(
        [
            click.option(
                "--tier", multiple=True, help="Tier(s) analysed; repeat or comma-separate."
            ),
            click.option("--distributor", metavar="CODE", help="Only this distributor's network."),
            click.option(
                "--status",
                type=click.Choice([*OUTLET_STATUSES, "any"]),
                default="active",
                show_default=True,
                help="Outlet status.",
            ),
            click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON."),
        ]
    ):
        fn = option(fn)
    return fn


def period_options(fn):
    for option in reversed(
        [
            click.option("--product", metavar="SKU", help="Only this product."),
            click.option(
                "--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="Period start."
            ),
            click.option(
                "--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Period end (inclusive)."
            ),
        ]
    ):
        fn = option(fn)
    return fn


radius_option = click.option(
    "--radius",
    multiple=True,
    metavar="TIER=METRES",
    help="Service radius of a tier, e.g. retail=1500 (defaults in docs/analyses.md).",
)
cell_option = click.option(
    "--cell-km",
    type=FloatRange(LIMITS.min_cell_km, LIMITS.max_cell_km),
    default=DEFAULT_CELL_KM,
    show_default=True,
    help="Hexagon width across flats, km.",
)


@click.group("analyse", help="Coverage, gaps, sales density and distribution metrics.")
def analyse_group() -> None:
    pass


@analyse_group.command("coverage")
@click.argument("region")
@filter_options
@radius_option
@with_appcontext
def coverage_cmd(region, tier, distributor, status, as_json, radius) -> None:
    """Covered area and coverage ratio of REGION per tier and sub-region."""
    params = _params(tier, radius, distributor, status, None, None, None)
    with get_db().session() as session:
        result = coverage_service.coverage(session, region, params, geometry=as_json)
    if _emit(result, as_json):
        return
    r = result.region
    click.echo(
        f"{r.code} {r.name}: {r.covered_m2 / 1e6:,.2f} of {r.area_m2 / 1e6:,.2f} km² covered "
        f"({_pct(r.ratio)}) by {result.outlets:,} outlets"
    )
    _table(
        ["tier", "radius m", "outlets", "covered km²", "ratio"],
        [
            [t.tier, f"{t.radius_m:,.0f}", t.outlets, t.covered_m2 / 1e6, _pct(t.ratio)]
            for t in result.by_tier
        ],
    )
    if result.sub_regions:
        click.echo()
        _table(
            ["sub-region", "name", "area km²", "covered km²", "ratio"],
            [
                [s.code, s.name, s.area_m2 / 1e6, s.covered_m2 / 1e6, _pct(s.ratio)]
                for s in result.sub_regions
            ],
        )


@analyse_group.command("gaps")
@click.argument("region")
@filter_options
@radius_option
@cell_option
@click.option(
    "--limit",
    type=click.IntRange(0, gaps_service.MAX_LIMIT),
    default=20,
    show_default=True,
    help="Gap cells listed, worst first.",
)
@with_appcontext
def gaps_cmd(region, tier, distributor, status, as_json, radius, cell_km, limit) -> None:
    """Gap cells of a hexagon grid over REGION, worst first, and white-space sub-regions."""
    params = _params(tier, radius, distributor, status, None, None, None, cell_km)
    with get_db().session() as session:
        result = gaps_service.gaps(session, region, params, limit=limit, geometry=as_json)
    if _emit(result, as_json):
        return
    click.echo(
        f"{result.region_code} {result.region_name}: {result.gap_cells:,} of {result.cells:,} "
        f"{result.cell_km:g} km cells are gaps ({_pct(result.gap_share)}), "
        f"{result.gap_cells * result.cell_area_km2:,.1f} km²"
    )
    _table(
        ["cell", "lon", "lat", "nearest m", "beyond reach m", "nearest outlet"],
        [
            [
                f"{c.row}:{c.col}",
                f"{c.lon:.5f}",
                f"{c.lat:.5f}",
                c.distance_m,
                c.shortfall_m,
                c.nearest_code,
            ]
            for c in result.worst
        ],
    )
    if result.white_space:
        click.echo(
            f"\nwhite space ({len(result.white_space)} of {result.sub_regions} sub-regions "
            "without an outlet):"
        )
        _table(
            ["sub-region", "name", "area km²"],
            [[w.code, w.name, w.area_m2 / 1e6] for w in result.white_space],
        )


@analyse_group.command("density")
@click.argument("region")
@filter_options
@period_options
@cell_option
@click.option(
    "--limit",
    type=click.IntRange(0, density_service.MAX_LIMIT),
    default=20,
    show_default=True,
    help="Cells listed, largest amount first.",
)
@with_appcontext
def density_cmd(
    region, tier, distributor, status, as_json, product, date_from, date_to, cell_km, limit
) -> None:
    """Sales amount and quantity per hexagon cell and sub-region of REGION (by buyer location)."""
    params = _params(tier, (), distributor, status, product, date_from, date_to, cell_km)
    with get_db().session() as session:
        result = density_service.density(session, region, params, limit=limit, geometry=as_json)
    if _emit(result, as_json):
        return
    t = result.total
    click.echo(
        f"{result.region_code} {result.region_name}: {t.records:,} records, amount {t.amount:,}, "
        f"quantity {t.quantity:,}, {result.buyers:,} buyers in {result.cell_count:,} cells"
    )
    u = result.unlocated
    click.echo(
        f"not located (buyer without a location, anywhere): {u.records:,} records, "
        f"amount {u.amount:,}"
    )
    area = result.cell_area_km2
    _table(
        ["cell", "buyers", "records", "amount", "quantity", "amount/km²"],
        [
            [
                f"{c.row}:{c.col}",
                c.buyers,
                c.totals.records,
                float(c.totals.amount),
                float(c.totals.quantity),
                float(c.totals.amount) / area,
            ]
            for c in result.cells
        ],
    )
    if result.sub_regions:
        click.echo()
        _table(
            ["sub-region", "name", "records", "amount", "amount/km²"],
            [
                [
                    s.code or "(none)",
                    s.name,
                    s.totals.records,
                    float(s.totals.amount),
                    float(s.totals.amount) / (s.area_m2 / 1e6) if s.area_m2 else None,
                ]
                for s in result.sub_regions
            ],
        )


@analyse_group.command("depth")
@click.argument("distributor")
@click.option(
    "--status", type=click.Choice([*OUTLET_STATUSES, "any"]), default="active", show_default=True
)
@click.option(
    "--territory", metavar="REGION", help="Measure breadth over this region's sub-regions."
)
@click.option(
    "--cell-km",
    type=float,
    default=None,
    help="Hexagon width of the territory breadth, km (default: from the territory's area).",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@with_appcontext
def depth_cmd(distributor, status, territory, cell_km, as_json) -> None:
    """Depth and breadth of DISTRIBUTOR's network: outlets per tier, territory, catchment."""
    params = AnalysisParams(status=None if status == "any" else status)
    with get_db().session() as session:
        result = distribution_service.distributor_depth(
            session, distributor, params, territory=territory, cell_km=cell_km
        )
    if _emit(result, as_json):
        return
    click.echo(
        f"{result.distributor_code} {result.distributor_name}: "
        f"deepest tier {result.deepest_tier or '-'}, "
        f"catchment {result.catchment_m2 / 1e6:,.1f} km²"
    )
    _table(["tier", "outlets"], [[t, n] for t, n in result.by_tier.items()])
    click.echo(
        f"\nterritory {result.territory_code or '-'} {result.territory_name or ''}: "
        f"{result.reached_units} of {len(result.units)} sub-regions reached at retail "
        f"({_pct(result.breadth)})"
    )
    _table(
        ["sub-region", "name", "retail outlets"],
        [[u.code, u.name, u.retail_outlets] for u in result.units],
    )
    wide = result.territory_breadth
    if wide is None:
        click.echo("\nterritory breadth: no territory")
        return
    click.echo(
        f"\nterritory breadth ({wide.basis} territory, {wide.area_m2 / 1e6:,.1f} km²): "
        f"{wide.reached_units} of {len(wide.units)} sub-regions ({wide.level or '-'}) reached "
        f"({_pct(wide.unit_share)}); {wide.reached_cells} of {wide.cells} hexagons of "
        f"{wide.cell_km:g} km ({_pct(wide.cell_share)})"
    )


@analyse_group.command("distribution-rate")
@click.argument("region")
@filter_options
@period_options
@with_appcontext
def rate_cmd(region, tier, distributor, status, as_json, product, date_from, date_to) -> None:
    """Distribution rate (铺货率) of --product in REGION: retail outlets that bought it / all."""
    params = _params(
        tier, (), distributor, status, product, date_from, date_to, default_tiers=("retail",)
    )
    with get_db().session() as session:
        result = distribution_service.distribution_rate(session, region, params)
    if _emit(result, as_json):
        return
    o = result.overall
    click.echo(
        f"{result.region_code} {result.region_name}, product {result.product}: {o.bought:,} of "
        f"{o.outlets:,} outlets bought it ({_pct(o.rate)})"
    )
    _table(
        ["sub-region", "name", "outlets", "bought", "rate"],
        [
            [s.code or "(none)", s.name, s.outlets, s.bought, _pct(s.rate)]
            for s in result.sub_regions
        ],
    )


@analyse_group.command("plans")
@click.argument("distributor")
@click.option("--year", type=int, default=lambda: dt.date.today().year, show_default="this year")
@click.option("--month-to", type=click.IntRange(1, 12), help="Last month included.")
@click.option("--product", metavar="SKU", help="Only this product.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@with_appcontext
def plans_cmd(distributor, year, month_to, product, as_json) -> None:
    """Plan achievement of DISTRIBUTOR per month and product, with year-to-date figures."""
    with get_db().session() as session:
        result = distribution_service.plan_achievement(
            session, distributor, year, product=product, month_to=month_to
        )
    if _emit(result, as_json):
        return
    click.echo(f"{result.distributor_code} {result.distributor_name}, {result.year}")
    rows = []
    for r in result.rows:
        d = r.to_dict()
        rows.append(
            [
                d["month"],
                r.sku,
                d["target_amount"],
                d["actual_amount"],
                _pct(d["achievement_amount"]),
                d["ytd_target_amount"],
                d["ytd_actual_amount"],
                _pct(d["ytd_achievement_amount"]),
            ]
        )
    _table(
        [
            "month",
            "product",
            "target",
            "actual",
            "achieved",
            "ytd target",
            "ytd actual",
            "ytd achieved",
        ],
        rows,
    )
    total = result.totals()
    click.echo(
        f"year: target {total['target_amount']:,.2f}, actual {total['actual_amount']:,.2f} "
        f"({_pct(total['achievement_amount'])})"
    )


@analyse_group.command("plan-actual")
@click.option("--distributor", metavar="CODE")
@click.option("--region", metavar="CODE")
@click.option("--product", metavar="SKU")
@click.option("--period", metavar="YYYY-MM|YYYY", help="A month or a year (default: this month).")
@click.option("--by", "by", metavar="DIMS", help="Line dimensions, e.g. month,product.")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), help="Count time gone to this day.")
@click.option("--as", "as_user", metavar="USERNAME", help="Act as this user (their scope).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@with_appcontext
def plan_actual_cmd(distributor, region, product, period, by, as_of, as_user, as_json) -> None:
    """Plan against sell-in and sell-out: detail lines, totals, cumulative, time gone."""
    from ..analysis.plans import plan_against_actual
    from .report import _acting

    dims = tuple(d.strip() for d in by.split(",") if d.strip()) if by else None
    with get_db().session() as session:
        result = plan_against_actual(
            session,
            user=_acting(session, as_user),
            period=period,
            distributor=distributor,
            region=region,
            product=product,
            by=dims,
            as_of=as_of.date() if as_of else None,
        )
    if _emit(result, as_json):
        return
    click.echo(f"{result.scope['kind']} {result.scope['code'] or ''} {result.period.label()}: "
               f"{result.summary()}")  # fmt: skip
    keys = [k for k in (result.lines[0].keys if result.lines else {}) if not k.endswith("_name")]
    rows = []
    for line in result.lines:
        f, c = line.figures.to_dict(), line.cumulative.to_dict()
        rows.append(
            [*(line.keys[k] for k in keys), float(f["plan_amount"]), float(f["sell_in_amount"]),
             _pct(f["achievement_in"]), float(f["sell_out_amount"]), _pct(f["achievement_out"]),
             float(c["plan_amount"]), float(c["sell_in_amount"]), _pct(c["achievement_in"])]
        )  # fmt: skip
    _table(
        [*keys, "plan", "sell-in", "in %", "sell-out", "out %", "cum plan", "cum in", "cum %"],
        rows,
    )
    t = result.total.to_dict()
    click.echo(
        f"total: plan {t['plan_amount']:,.2f}, sell-in {t['sell_in_amount']:,.2f} "
        f"({_pct(t['achievement_in'])}), sell-out {t['sell_out_amount']:,.2f} "
        f"({_pct(t['achievement_out'])}), expected to date {t['expected_amount']:,.2f}"
    )


COMMANDS = [analyse_group]


def _with_cache_commands() -> None:
    from .analysis_cache import cache_group

    analyse_group.add_command(cache_group)


_with_cache_commands()
