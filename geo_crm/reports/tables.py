"""The report's tables, built once from :class:`~geo_crm.reports.data.ReportData` for every
format: PDF and HTML show each cell formatted for the reader's language (:func:`shown`), the
workbook writes the raw number with a number format. Same rows, same figures."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal

from ..models import TIERS
from .data import ReportData

# kinds of cell: how a value is shown and which number format a workbook gives it
TEXT, INT, MONEY, RATIO, KM, KM2, DATE, MONTH, NUMBER, DEG = (
    "text", "int", "money", "ratio", "km", "km2", "date", "month", "number", "deg",
)  # fmt: skip


@dataclass
class Column:
    label: str
    kind: str = TEXT


@dataclass
class Table:
    key: str  # stable id (sheet, anchor, GeoPackage attribute table)
    title: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    note: str | None = None
    value_kinds: list[str] | None = None  # per row, the kind of the last cell (key figures)

    def kind(self, row: int, col: int) -> str:
        if self.value_kinds is not None and col == len(self.columns) - 1:
            return self.value_kinds[row]
        return self.columns[col].kind

    def formatted(self, t) -> list[list[str]]:
        return [
            [shown(t, v, self.kind(i, j)) for j, v in enumerate(row)]
            for i, row in enumerate(self.rows)
        ]


def shown(t, value, kind: str) -> str:
    """A cell as the reader sees it in PDF and HTML."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if kind == INT:
        return t.number(value)
    if kind == MONEY:
        return t.money(value)
    if kind == RATIO:
        return t.percent(value, 1)
    if kind == KM:
        return t.number(value, 1)
    if kind == KM2:
        return t.number(value, 1)
    if kind == NUMBER:
        return t.number(value, 2)
    if kind == DEG:
        return f"{value:.5f}"
    if kind == DATE:
        return t.date(value)
    if kind == MONTH:
        return t.month(value)
    if isinstance(value, bool):
        return t("yes") if value else t("no")
    return str(value)


def period_text(t, data: ReportData) -> str:
    f = data.filters
    return f"{t.date(f.date_from)} – {t.date(f.date_to)}"


def filter_items(t, data: ReportData) -> list[tuple[str, str]]:
    """What the report covers, as (label, value) pairs: the cover and the workbook's first rows."""
    f, p = data.filters, data.params
    tiers = ", ".join(t.tier(x) for x in f.tiers) if f.tiers else t("All tiers")
    radius = ", ".join(f"{t.tier(x)} {t.km(p.radius(x), 1)}" for x in p.tiers)
    items = [
        (t("Region"), data.region.name + (f" ({data.region.code})")),
        (t("Period"), period_text(t, data)),
        (t("Tiers"), tiers),
        (t("Product"), f"{data.product_name} ({f.product})" if f.product else t("All products")),
        (
            t("Distributor"),
            f"{data.distributor_name} ({f.distributor})" if f.distributor else t("Whole network"),
        ),
        (t("Service radius by tier"), radius),
        (t("Cell size"), f"{t.number(p.cell_km, 1)} {t('km')}"),
    ]
    if data.parent_name:
        items.insert(1, (t("Parent region"), data.parent_name))
    return items


def key_figures(t, data: ReportData) -> Table:
    k = data.figures
    rows: list[list] = [
        [f"{t('Region area')} ({t('km²')})", k.area_m2 / 1e6, KM2],
        [t("Outlets in the region"), k.total_outlets, INT],
    ]
    for tier in TIERS:
        if tier in data.params.tiers:
            rows.append([t("Outlets · {tier}", tier=t.tier(tier)), k.outlets.get(tier, 0), INT])
    rows.append([t("Coverage ratio (whole network)"), k.coverage.get("all"), RATIO])
    if len(data.params.tiers) > 1:
        for tier in data.params.tiers:
            rows.append(
                [t("Coverage ratio · {tier}", tier=t.tier(tier)), k.coverage.get(tier), RATIO]
            )
    rows += [
        [f"{t('Area covered')} ({t('km²')})", k.covered_m2 / 1e6, KM2],
        [t("Gap cells of {cells} cells", cells=t.number(k.cells)), k.gap_cells, INT],
        [t("Gap share"), k.gap_share, RATIO],
        [f"{t('Gap area')} ({t('km²')})", k.gap_area_km2, KM2],
        [t("White-space sub-regions"), k.white_space, INT],
        [t("Sales amount"), k.sales_amount, MONEY],
        [t("Sales records"), k.sales_records, INT],
        [t("Buyers with sales"), k.buyers, INT],
        [t("Sales per km²"), k.sales_per_km2, MONEY],
        [t("Sales without a buyer location"), k.unlocated_amount, MONEY],
        [t("Outstanding debt of the distributors listed"), k.debt, MONEY],
    ]
    if data.filters.product:
        rows.append(
            [
                t("Distribution rate of {product}", product=data.product_name),
                k.distribution_rate,
                RATIO,
            ]
        )
    table = Table("key_figures", t("Key figures"), [Column(t("Figure")), Column(t("Value"))])
    table.rows = [[label, value] for label, value, _ in rows]
    table.value_kinds = [kind for _, _, kind in rows]
    return table


def sub_regions(t, data: ReportData) -> Table:
    columns = [
        Column(t("Code")),
        Column(t("Name")),
        Column(t("Area (km²)"), KM2),
        Column(t("Outlets"), INT),
        Column(t("Coverage ratio"), RATIO),
        Column(t("White space")),
        Column(t("Number of buyers"), INT),
        Column(t("Sales amount"), MONEY),
        Column(t("Sales per km²"), MONEY),
    ]
    if data.filters.product:
        columns.append(Column(t("Distribution rate"), RATIO))
    table = Table("sub_regions", t("Sub-regions"), columns)
    for r in data.sub_region_rows:
        row = [
            r.code,
            r.name,
            r.area_m2 / 1e6,
            r.total_outlets,
            r.coverage_ratio,
            r.white_space,
            r.buyers,
            r.sales_amount,
            r.sales_per_km2,
        ]
        if data.filters.product:
            row.append(r.distribution_rate)
        table.rows.append(row)
    return table


def distributors(t, data: ReportData, limit: int | None = None) -> Table:
    """The ranking; ``limit``: only the first rows (the printed report), the rest counted."""
    table = Table(
        "distributors",
        t("Distributor ranking"),
        [
            Column(t("Rank"), INT),
            Column(t("Code")),
            Column(t("Name")),
            Column(t("Plan (year to date)"), MONEY),
            Column(t("Actual (year to date)"), MONEY),
            Column(t("Achievement"), RATIO),
            Column(t("Debt"), MONEY),
            Column(t("Oldest unpaid"), DATE),
        ],
        note=t(
            "Plan achievement is the distributor's sell-in (its sales as seller) against its "
            "plan, {year} up to the period's end; debt is what it still owes as a buyer.",
            year=data.plan_year,
        ),
    )
    shown_rows = data.distributors if limit is None else data.distributors[:limit]
    for d in shown_rows:
        table.rows.append(
            [d.rank, d.code, d.name, d.plan, d.actual, d.achievement, d.debt, d.oldest_unpaid]
        )
    if len(shown_rows) < len(data.distributors):
        first = t(
            "The first {n} of {total} distributors; the workbook and the HTML file rank them all.",
            n=len(shown_rows),
            total=t.number(len(data.distributors)),
        )
        table.note = f"{first} {table.note or ''}"
    return table


def gaps(t, data: ReportData) -> Table:
    table = Table(
        "gaps",
        t("Worst gaps"),
        [
            Column(t("Rank"), INT),
            Column(t("Distance to the nearest outlet") + f" ({t('km')})", KM),
            Column(t("Number of cells"), INT),
            Column(t("Sub-region")),
            Column(t("Longitude"), DEG),
            Column(t("Latitude"), DEG),
        ],
    )
    for h in data.holes:
        table.rows.append([h.rank, h.distance_m / 1000.0, h.cells, h.sub_region, h.lon, h.lat])
    return table


def gap_cells(t, data: ReportData) -> Table:
    """Every gap cell returned (worst first): the workbook's gap sheet."""
    table = Table(
        "gap_cells",
        t("Gap cells"),
        [
            Column(t("Rank"), INT),
            Column(t("Longitude"), DEG),
            Column(t("Latitude"), DEG),
            Column(t("Distance (km)"), KM),
            Column(t("Shortfall beyond the radius") + f" ({t('km')})", KM),
            Column(t("Nearest outlet")),
        ],
    )
    for i, c in enumerate(data.gaps.worst, 1):
        table.rows.append(
            [
                i,
                c.lon,
                c.lat,
                None if c.distance_m is None else c.distance_m / 1000.0,
                None if c.shortfall_m is None else c.shortfall_m / 1000.0,
                c.nearest_code,
            ]
        )
    return table


def plan_actual(t, data: ReportData) -> Table:
    table = Table(
        "plan_actual",
        t("Plan against actual"),
        [
            Column(t("Code")),
            Column(t("Name")),
            Column(t("Month"), MONTH),
            Column(t("Plan"), MONEY),
            Column(t("Actual"), MONEY),
            Column(t("Achievement"), RATIO),
        ],
    )
    for d in data.distributors:
        for m in d.months:
            table.rows.append([d.code, d.name, m.month, m.plan, m.actual, m.achievement])
    return table


def as_number(value):
    """A workbook cell value: Decimals as floats, dates as dates, the rest unchanged."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return value
