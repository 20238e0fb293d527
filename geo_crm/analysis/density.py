"""Sales density: amount and quantity of sales records, by the buyer's location, per hexagon
cell and per sub-region, absolute and per km².

Sums are exact integers (amounts in fen, quantities in thousandths). They come from the rollups
of migration 0003 (per buyer × month × product and per buyer × year, kept by triggers in the
transaction that changes the records) for the whole months and years of the period, and from
``sales_records`` only for the days at its ends (:func:`split_period`). PostgreSQL returns the
buyers and those rows packed in two byte strings; numpy sums them per buyer, cell and
sub-region. A record counts for the region when its buyer's smallest region lies in the
region's subtree. Records whose buyer has no location cannot be placed: they are reported as
``unlocated`` (for the whole network passing the filters), never dropped silently.

Cells are those holding at least one buyer of the region; a border cell counts its whole
hexagon area in "per km²". Sub-region density divides by the sub-region's geodesic area.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from sqlalchemy import (
    BigInteger,
    BindParameter,
    Integer,
    Select,
    any_,
    bindparam,
    cast,
    column,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from ..db.hotpath import Field, Records
from ..domain.network import OUTLETS
from ..domain.principal import Principal
from ..models import TIERS, SalesBuyerMonth, SalesBuyerYear, SalesRecord
from .frame import cell_feature, filter_values, load_region, outlet_filter
from .geometry.hexgrid import HexGrid
from .params import AnalysisParams, Resolved, resolve

LOGGER = logging.getLogger(__name__)

DEFAULT_LIMIT = 2000
MAX_LIMIT = 5000
CENT = Decimal("0.01")
MILLI = Decimal("0.001")
SALES = SalesRecord.__table__


@dataclass
class Totals:
    records: int = 0
    amount_fen: int = 0  # 1/100 of the currency unit
    quantity_milli: int = 0

    @property
    def amount(self) -> Decimal:
        return Decimal(self.amount_fen) * CENT

    @property
    def quantity(self) -> Decimal:
        return Decimal(self.quantity_milli) * MILLI

    def to_dict(self, area_km2: float | None = None) -> dict:
        out = {
            "records": self.records,
            "amount": float(self.amount),
            "quantity": float(self.quantity),
        }
        if area_km2 is not None:
            out["area_km2"] = area_km2
            out["amount_per_km2"] = float(self.amount) / area_km2 if area_km2 > 0 else None
            out["quantity_per_km2"] = float(self.quantity) / area_km2 if area_km2 > 0 else None
        return out


@dataclass
class DensityCell:
    row: int
    col: int
    buyers: int
    totals: Totals
    outline: list | None = None

    def feature(self, area_km2: float) -> dict:
        return cell_feature(
            self.row,
            self.col,
            self.outline,
            {"buyers": self.buyers, **self.totals.to_dict(area_km2)},
        )


@dataclass
class SubRegionDensity:
    code: str | None
    name: str | None
    area_m2: float
    buyers: int
    totals: Totals

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "buyers": self.buyers,
            **self.totals.to_dict(self.area_m2 / 1e6 if self.area_m2 else None),
        }


@dataclass
class DensityResult:
    region_code: str
    region_name: str
    area_m2: float
    tiers: list[str]
    cell_km: float
    cell_area_km2: float
    total: Totals
    buyers: int
    cell_count: int
    cells: list[DensityCell]  # the first ``limit`` cells by amount
    sub_regions: list[SubRegionDensity]  # last entry: the region outside every child, when any
    unlocated: Totals
    unlocated_buyers: int
    filters: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "region": {"code": self.region_code, "name": self.region_name},
            "filters": self.filters,
            "tiers": self.tiers,
            "cell_km": self.cell_km,
            "cell_area_km2": self.cell_area_km2,
            "buyers": self.buyers,
            "total": self.total.to_dict(self.area_m2 / 1e6),
            "cell_count": self.cell_count,
            "returned": len(self.cells),
            "cells": {
                "type": "FeatureCollection",
                "features": [c.feature(self.cell_area_km2) for c in self.cells],
            },
            "sub_regions": [s.to_dict() for s in self.sub_regions],
            "unlocated": {"buyers": self.unlocated_buyers, **self.unlocated.to_dict()},
        }


@dataclass(frozen=True)
class PeriodParts:
    """A period cut along the rollups' grain: the sums of ``years`` + ``months`` + ``days``
    − ``minus_months`` − ``minus_days`` are those of the period. Ranges are half-open
    ``[start, end)``; ``None`` leaves that side open. ``years``: whole calendar years read from
    ``sales_buyer_years`` (``None``: none); ``months`` and ``minus_months``: whole months read
    from ``sales_buyer_months``, added or taken away (from a year); ``days`` and
    ``minus_days``: records read from ``sales_records``, added or taken away (from a month)."""

    years: tuple[int | None, int | None] | None
    months: tuple[tuple[dt.date | None, dt.date | None], ...]
    days: tuple[tuple[dt.date, dt.date], ...]
    minus_days: tuple[tuple[dt.date, dt.date], ...] = ()
    minus_months: tuple[tuple[dt.date, dt.date], ...] = ()


def _next_month(day: dt.date) -> dt.date | None:
    if day.year == dt.MAXYEAR and day.month == 12:
        return None
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def split_period(
    date_from: dt.date | None, date_to: dt.date | None, *, whole_years: bool = True
) -> PeriodParts:
    """Cut the inclusive period ``[date_from, date_to]`` into whole years (when
    ``whole_years``), whole months and records of the days left over at either end.

    A part month is read as its days, or as the whole month minus the days outside the
    period, whichever is fewer days: a period ending today reads the current month from the
    rollup and takes away the days after today (none yet), not the month's records so far.
    """
    lo = date_from
    hi = date_to + dt.timedelta(days=1) if date_to is not None and date_to < dt.date.max else None
    days: list[tuple[dt.date, dt.date]] = []
    minus: list[tuple[dt.date, dt.date]] = []
    months: list[tuple[dt.date | None, dt.date | None]] = []
    if lo is not None and hi is not None and lo >= hi:
        return PeriodParts(None, (), ())

    def part(a: dt.date, b: dt.date) -> tuple[dt.date, dt.date] | None:
        """Read the days [a, b) of one month; return the month when taken whole instead."""
        start, end = a.replace(day=1), _next_month(a)
        if end is None or 2 * (b - a).days <= (end - start).days:
            days.append((a, b))
            return None
        minus.extend(r for r in ((start, a), (b, end)) if r[0] < r[1])
        return start, end

    if (
        lo is not None
        and hi is not None
        and lo.replace(day=1) == (hi - dt.timedelta(1)).replace(day=1)
    ):  # inside one month
        if lo.day == 1 and (hi.day == 1 or hi == _next_month(lo)):
            return PeriodParts(None, ((lo, hi),), ())
        whole = part(lo, hi)
        return PeriodParts(None, (whole,) if whole else (), tuple(days), tuple(minus))
    m0 = lo if lo is None or lo.day == 1 else _next_month(lo)  # first whole month
    if lo is not None and m0 is None:  # December 9999: no month after it
        return PeriodParts(None, (), ((lo, hi),))
    m1 = hi if hi is None or hi.day == 1 else hi.replace(day=1)  # end of the last whole month
    if lo is not None and lo.day != 1:
        whole = part(lo, m0)
        m0 = whole[0] if whole else m0
    if hi is not None and hi.day != 1:
        whole = part(m1, hi)
        m1 = whole[1] if whole else m1
    if m0 is not None and m1 is not None and m0 >= m1:
        return PeriodParts(None, (), tuple(days), tuple(minus))
    if not whole_years:
        return PeriodParts(None, ((m0, m1),), tuple(days), tuple(minus))
    # whole years in [m0, m1); a part year is read as its months, or as the year minus the
    # months outside the period, whichever is fewer months
    minus_months: list[tuple[dt.date, dt.date]] = []
    y0 = None if m0 is None else m0.year  # first year touched
    y1 = None if m1 is None else (m1.year if m1.month == 1 else m1.year + 1)  # exclusive
    if y1 is not None and y1 > dt.MAXYEAR:
        return PeriodParts(None, ((m0, m1),), tuple(days), tuple(minus))
    first = None if y0 is None else dt.date(y0, 1, 1)
    last = None if y1 is None else dt.date(y1 - 1, 1, 1)  # January of the last year touched
    if first is not None and first == last:  # inside one year
        outside = (m0.month - 1) + (13 - m1.month if m1.month != 1 else 0)
        if outside >= 6:
            return PeriodParts(None, ((m0, m1),), tuple(days), tuple(minus))
        minus_months = [r for r in ((first, m0), (m1, dt.date(y1, 1, 1))) if r[0] < r[1]]
        return PeriodParts((y0, y1), (), tuple(days), tuple(minus), tuple(minus_months))
    if m0 is not None and m0.month != 1:
        if m0.month - 1 < 6:  # most of its year inside: the year minus its first months
            minus_months.append((first, m0))
        else:
            months.append((m0, dt.date(y0 + 1, 1, 1)))
            y0 += 1
    if m1 is not None and m1.month != 1:
        if 13 - m1.month < 6:
            minus_months.append((m1, dt.date(y1, 1, 1)))
        else:
            months.append((last, m1))
            y1 -= 1
    years = None if y0 is not None and y1 is not None and y0 >= y1 else (y0, y1)
    return PeriodParts(years, tuple(months), tuple(days), tuple(minus), tuple(minus_months))


# one branch of the sales rows: (source, sign, whether its range has a start, an end)
Branch = tuple[str, int, bool, bool]
_SALES_SOURCES = {  # source -> (table, its period column)
    "years": (SalesBuyerYear.__table__, "year"),
    "months": (SalesBuyerMonth.__table__, "month"),
    "days": (SALES, "sale_date"),
}


def sales_branches(resolved: Resolved) -> tuple[tuple[Branch, ...], dict]:
    """The branches of :func:`sales_rows` for the period and product filters, and the values
    they are bound to (``b{i}_0``/``b{i}_1``: the start and end of branch i, ``product_id``):
    rollup rows for the whole years and months of the period, records for the days at its ends
    (signed: a part month is read as the whole month minus the days outside the period)."""
    p = resolved.params
    parts = split_period(p.date_from, p.date_to, whole_years=resolved.product_id is None)
    ranges = (
        ([("years", 1, parts.years)] if parts.years is not None else [])
        + [("months", 1, r) for r in parts.months]
        + [("months", -1, r) for r in parts.minus_months]
        + [("days", 1, r) for r in parts.days]
        + [("days", -1, r) for r in parts.minus_days]
    )
    values: dict = {}
    if resolved.product_id is not None:
        values["product_id"] = resolved.product_id
    branches = []
    for i, (source, sign, (lo, hi)) in enumerate(ranges):
        branches.append((source, sign, lo is not None, hi is not None))
        values.update({f"b{i}_0": lo, f"b{i}_1": hi})
    return tuple(branches), values


def sales_rows(branches: tuple[Branch, ...], product: bool) -> Select:
    """(buyer_id, records, fen, milli) rows whose sums per buyer are the sums of the buyer's
    records passing the period (``branches``, :func:`sales_branches`) and product filters."""
    selects = []
    for i, (source, sign, has_lo, has_hi) in enumerate(branches):
        t, period = _SALES_SOURCES[source]
        when = t.c[period]
        where = []
        if has_lo:
            where.append(when >= bindparam(f"b{i}_0", type_=when.type))
        if has_hi:
            where.append(when < bindparam(f"b{i}_1", type_=when.type))
        if product and source != "years":  # the yearly rollup sums every product
            where.append(t.c.product_id == bindparam("product_id", type_=Integer))
        if source == "days":
            sums = [
                cast(literal(sign), BigInteger),
                sign * cast(t.c.amount * 100, BigInteger),
                sign * cast(t.c.quantity * 1000, BigInteger),
            ]
        else:
            sums = [t.c.records, t.c.amount_fen, t.c.quantity_milli]
            sums = sums if sign == 1 else [sign * v for v in sums]
        labelled = [v.label(n) for v, n in zip(sums, ("records", "fen", "milli"), strict=True)]
        selects.append(select(t.c.buyer_id, *labelled).where(*where))
    if not selects:  # an empty period
        y = SalesBuyerYear.__table__.c
        none = [y.records, y.amount_fen.label("fen"), y.quantity_milli.label("milli")]
        selects.append(select(y.buyer_id, *none).where(false()))
    return selects[0] if len(selects) == 1 else union_all(*selects)


@functools.lru_cache(maxsize=64)
def _sales_records(branches: tuple[Branch, ...], product: bool, restrict: bool) -> Records:
    """The packed sales rows of one shape of period and filters, built once."""
    sales = sales_rows(branches, product).subquery("s")
    where = []
    if restrict:
        listed = cast(_array_text("buyer_ids"), ARRAY(BigInteger))
        where.append(sales.c.buyer_id == any_(listed))
    fields = [Field(name, sales.c[name], "i8") for name in ("buyer_id", "records", "fen", "milli")]
    return Records(fields, from_=sales, where=where)


@dataclass
class BuyerSums:
    """Buyers passing the outlet filters with the exact sums of their records passing the
    sales filters (buyers without any such record left out). ``lon``/``lat`` are NaN for a
    buyer without a location."""

    ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    region_id: np.ndarray
    records: np.ndarray
    fen: np.ndarray
    milli: np.ndarray

    def take(self, mask) -> BuyerSums:
        return BuyerSums(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))


# share of all outlets above which the sales rows are fetched for every buyer and filtered in
# numpy: a semi-join against most of the table costs more than the rows it saves
_RESTRICT_BELOW = 0.4


def buyer_sums(
    session: Session, resolved: Resolved, tiers: tuple[str, ...], region_ids: list[int]
) -> tuple[BuyerSums, BuyerSums]:
    """Buyers located in ``region_ids``, and buyers without a location anywhere, that pass the
    filters and have records passing them, with their sums: (located, unlocated).

    Two packed fetches joined in numpy: the buyers, and the sales rows of :func:`sales_rows`
    (rollup rows and edge-day records, several per buyer). PostgreSQL neither joins nor groups
    them: a hash join and a GROUP BY over a million buyers cost more than both fetches.
    """
    values = filter_values(resolved, tiers)
    # one text literal: psycopg adapts a list of hundreds of ints element by element
    values["region_ids"] = "{" + ",".join(str(int(r)) for r in region_ids) + "}"
    buyers = _buyer_records(
        tiers, resolved.params.status is not None, resolved.distributor_id is not None
    ).fetch(session, values)
    ids = buyers["id"].astype(np.int64)
    branches, sales_values = sales_branches(resolved)
    restrict = bool(len(ids) < _RESTRICT_BELOW * _outlet_estimate(session))
    if restrict:
        # the buyers just fetched, as one array literal: PostgreSQL hashes a constant array
        # for = ANY, which is cheaper than running the outlet filter again for a semi-join
        sales_values["buyer_ids"] = "{" + ",".join(map(str, ids.tolist())) + "}"
    # rows of buyers the first statement did not return (another share of the outlets, or
    # committed in between) are dropped below
    rows = _sales_records(branches, resolved.product_id is not None, restrict).fetch(
        session, sales_values
    )
    pos = _positions(ids, rows["buyer_id"].astype(np.int64))
    keep = pos >= 0
    pos = pos[keep]
    sums = []
    for name in ("records", "fen", "milli"):
        total = np.zeros(len(ids), np.int64)
        np.add.at(total, pos, rows[name][keep].astype(np.int64))
        sums.append(total)
    out = BuyerSums(
        ids,
        buyers["location_x"].astype(float),
        buyers["location_y"].astype(float),
        buyers["region_id"].astype(np.int64),
        *sums,
    )
    has = out.records > 0
    located = np.isfinite(out.lon)
    return out.take(has & located), out.take(has & ~located)


@functools.lru_cache(maxsize=32)
def _buyer_records(tiers: tuple[str, ...], status: bool, distributor: bool) -> Records:
    """One packed record per buyer passing the filters: id, location (EWKB; NaN when none)
    and smallest region (0: none), located in ``region_ids`` or without a location."""
    o = OUTLETS
    in_regions = o.c.region_id == any_(cast(_array_text("region_ids"), ARRAY(Integer)))
    return Records(
        [
            Field("id", o.c.id, "i8"),
            Field("location", o.c.location, "ewkb_point"),
            Field("region_id", o.c.region_id, "i4", null=0),
        ],
        from_=o,
        where=[
            *outlet_filter(tiers, status=status, distributor=distributor),
            or_(o.c.location.is_(None), in_regions),
        ],
    )


def _array_text(name: str, value: str | None = None) -> BindParameter:
    """An array sent as one text literal (``{1,2,3}``) of no declared type, so that
    ``CAST(… AS int8[])`` types the parameter itself: the planner then sees the array's
    values, as it would a literal's, and psycopg does not adapt a list element by element."""
    return bindparam(name, value, type_=NullType())


@functools.cache
def _outlet_estimate_stmt() -> Select:
    c = table("pg_class", column("oid"), column("reltuples")).c
    return select(func.greatest(c.reltuples, 1)).where(
        c.oid == literal_column("'outlets'::regclass")
    )


def _outlet_estimate(session: Session) -> float:
    """The planner's count of outlets."""
    return float(session.execute(_outlet_estimate_stmt()).scalar_one())


def _positions(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Index into ``ids`` (unique) of each of ``wanted``, -1 where absent."""
    if not len(ids):
        return np.full(len(wanted), -1, np.int64)
    lo, hi = int(ids.min()), int(ids.max())
    if hi - lo < 8 * len(ids) + 1_000_000:  # dense ids (a sequence): a direct lookup table
        table = np.full(hi - lo + 1, -1, np.int64)
        table[ids - lo] = np.arange(len(ids))
        inside = (wanted >= lo) & (wanted <= hi)
        out = np.full(len(wanted), -1, np.int64)
        out[inside] = table[wanted[inside] - lo]
        return out
    order = np.argsort(ids)
    at = np.clip(np.searchsorted(ids, wanted, sorter=order), 0, len(ids) - 1)
    found = order[at]
    return np.where(ids[found] == wanted, found, -1)


def _group_sums(keys: np.ndarray, *values: np.ndarray):
    """Unique keys and exact int64 sums of each value array per key."""
    if not len(keys):
        return keys, [np.empty(0, np.int64) for _ in values]
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    return k[starts], [np.add.reduceat(v[order], starts) for v in values]


def cell_sums(row: np.ndarray, col: np.ndarray, *values: np.ndarray):
    """Unique (row, col) cells, in row-major order, with exact int64 sums of each value array.

    Cells are numbered within the bounding box of the rows and columns present (offsets and
    width from the data, so any range that fits the box counts); when the box holds no more
    than a few cells per point, sums accumulate in a dense array (no sort), otherwise the
    (row, col) pairs are sorted.
    """
    if not len(row):
        empty = np.empty(0, np.int64)
        return empty, empty, [empty for _ in values]
    r0, c0 = int(row.min()), int(col.min())
    height, width = int(row.max()) - r0 + 1, int(col.max()) - c0 + 1
    if height * width <= max(4 * len(row), 1 << 20):
        key = (row - r0) * width + (col - c0)  # < height * width, far inside int64
        counts = np.bincount(key, minlength=height * width)
        cells = np.flatnonzero(counts)
        sums = []
        for v in values:
            total = np.zeros(height * width, np.int64)
            np.add.at(total, key, v)
            sums.append(total[cells])
        return cells // width + r0, cells % width + c0, sums
    order = np.lexsort((col, row))
    r, c = row[order], col[order]
    starts = np.flatnonzero(np.r_[True, (r[1:] != r[:-1]) | (c[1:] != c[:-1])])
    return r[starts], c[starts], [np.add.reduceat(v[order], starts) for v in values]


def density(
    session: Session,
    region_code: str,
    params: AnalysisParams | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    geometry: bool = True,
    user: Principal | None = None,
) -> DensityResult:
    """Sales per hexagon cell and per sub-region of ``region_code`` for the filtered records;
    ``user``: whose scope a distributor filter is looked up in (None: the system)."""
    params = params or AnalysisParams(status=None)
    resolved = resolve(session, params, region_code=region_code, user=user)
    region = load_region(session, region_code)
    params.check_cells(region.area_m2, region.code)
    tiers = tuple(t for t in TIERS if t in params.tiers)
    grid = HexGrid(params.cell_km * 1000.0)
    b, u = buyer_sums(session, resolved, tiers, region.subtree_ids)
    x, y = region.frame.to_m(b.lon, b.lat)
    row, col = grid.cell_of(x, y)
    ones = np.ones(len(row), np.int64)
    u_row, u_col, (n_buyers, n_rec, fen, milli) = cell_sums(
        row, col, ones, b.records, b.fen, b.milli
    )
    order = np.lexsort((u_col, u_row, -fen))[: max(0, min(limit, MAX_LIMIT))]
    cells = []
    c_row, c_col = u_row[order], u_col[order]
    outlines = region.cell_outlines(grid, c_row, c_col) if geometry else [None] * len(order)
    for n, i in enumerate(order.tolist()):
        cells.append(
            DensityCell(
                int(c_row[n]),
                int(c_col[n]),
                int(n_buyers[i]),
                Totals(int(n_rec[i]), int(fen[i]), int(milli[i])),
                outlines[n],
            )
        )
    child = region.child_index(b.region_id)
    subs = []
    if region.children:
        ckey, (cb, cr, cf, cm) = _group_sums(child, ones, b.records, b.fen, b.milli)
        found = dict(
            zip(
                ckey.tolist(),
                zip(cb.tolist(), cr.tolist(), cf.tolist(), cm.tolist(), strict=True),
                strict=True,
            )
        )
        for i, c in enumerate(region.children):
            nb, nr, nf, nm = found.get(i, (0, 0, 0, 0))
            subs.append(SubRegionDensity(c.code, c.name, c.area_m2, nb, Totals(nr, nf, nm)))
        if -1 in found:
            nb, nr, nf, nm = found[-1]
            own = region.area_m2 - sum(c.area_m2 for c in region.children)
            subs.append(SubRegionDensity(None, None, max(own, 0.0), nb, Totals(nr, nf, nm)))
    p = params
    return DensityResult(
        region_code=region.code,
        region_name=region.name,
        area_m2=region.area_m2,
        tiers=list(tiers),
        cell_km=params.cell_km,
        cell_area_km2=grid.cell_area_m2 / 1e6,
        total=Totals(int(b.records.sum()), int(b.fen.sum()), int(b.milli.sum())),
        buyers=len(b.ids),
        cell_count=len(u_row),
        cells=cells,
        sub_regions=subs,
        unlocated=Totals(int(u.records.sum()), int(u.fen.sum()), int(u.milli.sum())),
        unlocated_buyers=len(u.ids),
        filters={
            "product": p.product,
            "date_from": p.date_from and p.date_from.isoformat(),
            "date_to": p.date_to and p.date_to.isoformat(),
            "status": p.status,
            "distributor": p.distributor,
        },
    )
