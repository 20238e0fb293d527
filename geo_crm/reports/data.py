"""Everything a region report shows, gathered once: :func:`report_data` → :class:`ReportData`.

The figures come from the functions the API calls (``analysis.coverage.coverage``,
``analysis.gaps.gaps``, ``analysis.density.density``, ``analysis.distribution`` …) with the
parameters the region page builds from its filter form, so a report shows what the page and
``/api/v1/regions/<code>/coverage|gaps|density`` show for the same filters. Access is the API's:
admins and managers only, and a region outside a manager's scope is as unknown as a missing one
(:class:`~geo_crm.errors.NotFound`); a distributor filter outside it is a 422 on ``distributor``.

Renderers (``reports.pdf``, ``html``, ``xlsx``, ``gpkg``) take a ``ReportData`` and nothing
else: no session, no SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import shapely
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ..analysis import coverage as coverage_service
from ..analysis import density as density_service
from ..analysis import distribution as distribution_service
from ..analysis import gaps as gaps_service
from ..analysis.coverage import CoverageResult
from ..analysis.density import DensityResult
from ..analysis.frame import load_region
from ..analysis.gaps import GapsResult
from ..analysis.params import (
    DEFAULT_SERVICE_RADIUS_M,
    AnalysisParams,
    auto_cell_km,
    find_product_id,
    find_region,
)
from ..domain.access import outlet_scope, outlet_visible, resolve
from ..domain.outlets import OutletFilters, select_outlets
from ..domain.principal import SYSTEM, Principal
from ..errors import Forbidden, NotFound, ValidationError
from ..maps.gaps import worst_holes
from ..models import TIERS, Region
from . import ranking

Progress = Callable[[int, str], None]  # (percent 0..100, stage)

MEASURES = ("amount", "quantity")
WORST_LISTED = 15  # distinct gaps numbered on the gap map and listed beside it
# connections reading the distributors' figures beside the analyses (2 measured slower on 2 cores)
SIDE_SESSIONS = 1
# the density read on the side session while this one reads coverage, gaps and the ranking;
# False: the ranking on the side, the density after the gaps (as before; bench_reports' baseline)
DENSITY_BESIDE = True
MAX_DISTRIBUTORS = 5000  # distributors ranked in one report (a province has about 1,000)


def default_period(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The last twelve months including the current one (the page's default period)."""
    today = today or dt.date.today()
    month, year = today.month - 11, today.year
    if month <= 0:
        month, year = month + 12, year - 1
    return dt.date(year, month, 1), today


@dataclass(frozen=True)
class ReportFilters:
    """The region page's filters (``web.filters.MapFilters``), as a report takes them.

    ``tiers`` empty: every tier. ``radius_km`` overrides the service radius of every chosen
    tier (None: each tier's default); ``cell_km`` None: chosen from the region's size. A
    missing period is the last twelve months, as on the page."""

    tiers: tuple[str, ...] = ()
    distributor: str | None = None
    product: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    radius_km: float | None = None
    cell_km: float | None = None
    measure: str = "amount"

    @classmethod
    def from_map_filters(cls, f) -> ReportFilters:
        """From the page's ``MapFilters`` (any object with its attributes)."""
        return cls(
            tiers=tuple(f.tiers or ()),
            distributor=f.distributor,
            product=f.product,
            date_from=f.date_from,
            date_to=f.date_to,
            radius_km=f.radius_km,
            cell_km=f.cell_km,
            measure=getattr(f, "measure", "amount") or "amount",
        )

    def checked(self, today: dt.date | None = None) -> ReportFilters:
        """The filters with the default period filled in; problems named by field (422)."""
        problems: dict[str, str] = {}
        unknown = [t for t in self.tiers if t not in TIERS]
        if unknown:
            problems["tier"] = f"unknown tier {', '.join(unknown)}: use {', '.join(TIERS)}"
        if self.measure not in MEASURES:
            problems["measure"] = f"use one of {', '.join(MEASURES)}"
        for name in ("radius_km", "cell_km"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and value > 0):
                problems[name] = "must be a number greater than 0"
        start, end = default_period(today)
        date_from = self.date_from or (
            start if self.date_to is None else self.date_to.replace(day=1)
        )
        date_to = self.date_to or max(end, date_from)
        if date_to < date_from:
            problems["date_to"] = "must not be before the start"
        if problems:
            raise ValidationError("invalid report filters", fields=problems)
        tiers = tuple(t for t in TIERS if t in self.tiers)
        return ReportFilters(
            tiers, self.distributor, self.product, date_from, date_to,
            self.radius_km, self.cell_km, self.measure,
        )  # fmt: skip

    def params(self, area_m2: float) -> AnalysisParams:
        """The analysis parameters the region page builds from these filters."""
        chosen = self.tiers or TIERS
        radius = dict(DEFAULT_SERVICE_RADIUS_M)
        if self.radius_km:
            radius.update({t: self.radius_km * 1000.0 for t in chosen})
        return AnalysisParams(
            tiers=chosen,
            distributor=self.distributor,
            product=self.product,
            date_from=self.date_from,
            date_to=self.date_to,
            radius_m=radius,
            cell_km=self.cell_km or auto_cell_km(area_m2),
        )


@dataclass
class Shape:
    """A region as drawn: code, name (in the report's language), WGS-84 boundary, label point."""

    code: str
    name: str
    level: str
    area_m2: float
    boundary: shapely.Geometry
    label: tuple[float, float] | None = None


@dataclass
class Outlets:
    """The region's outlets passing the filters (geotagged): what maps draw and layers hold.
    ``code``/``name``/``parent``/``region`` are None unless the report asked for detail."""

    lon: np.ndarray
    lat: np.ndarray
    tier: np.ndarray  # index into TIERS
    code: list[str] | None = None
    name: list[str] | None = None
    parent: list[str | None] | None = None
    region: list[str | None] | None = None

    def __len__(self) -> int:
        return len(self.lon)


@dataclass
class Gap:
    """One distinct gap (a hole in the network), worst first: numbered on the gap map."""

    rank: int
    lon: float
    lat: float
    distance_m: float
    cells: int
    sub_region: str | None


@dataclass
class SubRegionRow:
    code: str
    name: str
    area_m2: float
    outlets: dict[str, int]
    coverage_ratio: float | None
    white_space: bool
    buyers: int
    sales_amount: Decimal
    sales_quantity: Decimal
    distribution_rate: float | None = None

    @property
    def total_outlets(self) -> int:
        return sum(self.outlets.values())

    @property
    def sales_per_km2(self) -> float | None:
        return float(self.sales_amount) / (self.area_m2 / 1e6) if self.area_m2 else None


@dataclass
class PlanMonth:
    month: dt.date
    plan: Decimal
    actual: Decimal

    @property
    def achievement(self) -> float | None:
        return float(self.actual / self.plan) if self.plan else None


@dataclass
class DistributorRow:
    """A distributor of the region with its plan achievement (year to the period's end, from
    ``analysis.distribution.plan_achievement``) and what it owes (``domain.sales.buyer_debt``)."""

    code: str
    name: str
    plan: Decimal
    actual: Decimal
    debt: Decimal
    oldest_unpaid: dt.date | None
    months: list[PlanMonth] = field(default_factory=list)
    rank: int = 0

    @property
    def achievement(self) -> float | None:
        return float(self.actual / self.plan) if self.plan else None


@dataclass
class KeyFigures:
    outlets: dict[str, int]
    coverage: dict[str, float]  # tier or "all" -> ratio
    area_m2: float
    covered_m2: float
    gap_cells: int
    cells: int
    gap_area_km2: float
    white_space: int
    sub_regions: int
    sales_records: int
    sales_amount: Decimal
    sales_quantity: Decimal
    sales_per_km2: float | None
    buyers: int
    unlocated_amount: Decimal
    debt: Decimal
    distribution_rate: float | None
    cell_km: float
    radius_m: dict[str, float]

    @property
    def total_outlets(self) -> int:
        return sum(self.outlets.values())

    @property
    def gap_share(self) -> float:
        return self.gap_cells / self.cells if self.cells else 0.0


@dataclass
class ReportData:
    """One report's figures and shapes, in the requesting user's language."""

    lang: str
    company: str
    generated_at: dt.datetime
    requested_by: str
    region: Shape
    parent_name: str | None
    sub_regions: list[Shape]
    filters: ReportFilters
    params: AnalysisParams
    product_name: str | None
    distributor_name: str | None
    figures: KeyFigures
    coverage: CoverageResult
    gaps: GapsResult
    density: DensityResult
    holes: list[Gap]
    sub_region_rows: list[SubRegionRow]
    distributors: list[DistributorRow]
    plan_year: int
    outlets: Outlets
    territory_of: str | None = None  # the distributor whose territory this report is
    zone: str | None = None  # GEO_CRM_TIMEZONE: the zone its times are shown in


def check_access(session: Session, user: Principal, region_code: str) -> None:
    """The API's rule for region analyses: admins and managers; out of scope == missing."""
    if user.role not in ("admin", "manager"):
        raise Forbidden(f"{user.role}s may not build region reports")
    if resolve(session, "region", user, region_code) is None:
        raise NotFound(f"region {region_code} not found", fields={"region": "not found"})


def territory_of(session: Session, user: Principal, distributor_code: str) -> str:
    """The region holding a distributor's network (``analysis.distribution.distributor_depth``):
    the smallest region containing every geotagged outlet of the network."""
    if user.role not in ("admin", "manager"):
        raise Forbidden(f"{user.role}s may not build region reports")
    if not outlet_visible(session, user, distributor_code):
        raise NotFound(
            f"distributor {distributor_code} not found", fields={"distributor": "not found"}
        )
    depth = distribution_service.distributor_depth(session, distributor_code)
    if depth.territory_code is None:
        raise ValidationError(
            f"distributor {distributor_code} has no geotagged outlet: no territory to report on",
            fields={"distributor": "no geotagged outlet in its network"},
        )
    return depth.territory_code


def report_data(
    session: Session,
    user: Principal,
    region_code: str,
    filters: ReportFilters | None = None,
    *,
    lang: str = "zh",
    company: str = "",
    outlet_detail: bool = False,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
    territory_of: str | None = None,
    zone: str | None = None,
) -> ReportData:
    """Gather a region's report: key figures, coverage, gaps, density, sub-regions and the
    distributors' plan achievement and debt, for ``filters`` (the page's), as ``user`` sees it.

    ``outlet_detail``: also read each outlet's code, name, parent and region (the GeoPackage
    and the HTML's popups need them; the PDF draws points only). ``zone``: the time zone the
    report shows its time in (GEO_CRM_TIMEZONE; None: i18n's default)."""
    step = progress or (lambda percent, stage: None)
    user = user or SYSTEM
    check_access(session, user, region_code)
    f = (filters or ReportFilters()).checked()
    if f.distributor and not outlet_visible(session, user, f.distributor):
        raise ValidationError(
            f"no outlet with code {f.distributor!r}", fields={"distributor": "not found"}
        )
    generated_at = now or dt.datetime.now().astimezone()
    region_row = find_region(session, region_code)
    params = f.params(float(region_row.area_m2))
    params.check()
    kw = dict(
        step=step, lang=lang, company=company, outlet_detail=outlet_detail,
        generated_at=generated_at, territory_of=territory_of,
    )  # fmt: skip

    plan_year = f.date_to.year
    sides = [s for s in (_side_session(session) for _ in range(SIDE_SESSIONS)) if s is not None]
    pool = ThreadPoolExecutor(max_workers=len(sides)) if sides else None
    try:
        data = _gather(session, sides, pool, user, region_row, f, params, plan_year, **kw)
        data.zone = zone
        return data
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
        for side in sides:
            side.close()


def _gather(session, sides, pool, user, region_row, f, params, plan_year, *, step, lang,
            company, outlet_detail, generated_at, territory_of) -> ReportData:  # fmt: skip
    region, parent_name, subs = _shapes(session, region_row, lang)
    rows = _distributor_rows(session, user, region_row.code, f)
    # sales of outlets closed since still count (the density service's and the page's default)
    den_params = params.with_(status=None)
    den_limit = density_service.MAX_LIMIT
    chunks, den_future = [], None
    if pool is not None and DENSITY_BESIDE:
        # the density's sums (mostly PostgreSQL's work) beside coverage, gaps and the ranking
        # (mostly this process's): on two cores each keeps one busy
        den_future = pool.submit(
            density_service.density, sides[0], region_row.code, den_params, limit=den_limit
        )
    elif pool is not None:  # the distributors' queries overlap the analyses' numpy work
        chunks = [
            pool.submit(_distributor_figures, side, rows[i :: len(sides)], f, plan_year)
            for i, side in enumerate(sides)
        ]
    step(5, "coverage")
    cov = coverage_service.coverage(session, region_row.code, params, keep_outlets=True)
    step(25, "gaps")
    gap = gaps_service.gaps(session, region_row.code, params, limit=gaps_service.MAX_LIMIT)
    if den_future is not None:
        step(45, "distributors")
        distributors = _ranked(_distributor_figures(session, rows, f, plan_year))
        step(60, "density")
        den = den_future.result()
    else:
        step(45, "density")
        den = density_service.density(session, region_row.code, den_params, limit=den_limit)
        step(60, "distributors")
        if chunks:
            distributors = _ranked([d for c in chunks for d in c.result()])
        else:
            distributors = _ranked(_distributor_figures(session, rows, f, plan_year))
    rate = None
    if f.product:
        rate = distribution_service.distribution_rate(
            session, region_row.code, params.with_(tiers=("retail",))
        )
    step(75, "outlets")
    frame = load_region(session, region_row.code)
    points = cov.region_outlets
    outlets = Outlets(points.lon, points.lat, points.tier)
    if outlet_detail:
        outlets = _outlet_detail(session, user, region_row.code, f)
    child = frame.child_index(points.region_id)
    per_child, totals = _tier_counts(
        np.asarray(child), np.asarray(points.tier), len(frame.children)
    )
    figures = KeyFigures(
        outlets=totals,
        coverage={t.tier: t.ratio for t in cov.by_tier} | {"all": cov.region.ratio},
        area_m2=cov.region.area_m2,
        covered_m2=cov.region.covered_m2,
        gap_cells=gap.gap_cells,
        cells=gap.cells,
        gap_area_km2=gap.gap_cells * gap.cell_area_km2,
        white_space=len(gap.white_space),
        sub_regions=len(frame.children),
        sales_records=den.total.records,
        sales_amount=den.total.amount,
        sales_quantity=den.total.quantity,
        sales_per_km2=float(den.total.amount) / (den.area_m2 / 1e6) if den.area_m2 else None,
        buyers=den.buyers,
        unlocated_amount=den.unlocated.amount,
        debt=sum((d.debt for d in distributors), Decimal(0)),
        distribution_rate=rate.overall.rate if rate is not None else None,
        cell_km=params.cell_km,
        radius_m={t: params.radius(t) for t in params.tiers},
    )
    names = {s.code: s.name for s in subs}
    ratio = {s.code: s.ratio for s in cov.sub_regions}
    white = {w.code for w in gap.white_space}
    sales = {s.code: s for s in den.sub_regions if s.code}
    rates = {r.code: r.rate for r in rate.sub_regions if r.code} if rate is not None else {}
    rows = []
    for i, c in enumerate(frame.children):
        s = sales.get(c.code)
        rows.append(
            SubRegionRow(
                code=c.code,
                name=names.get(c.code, c.name),
                area_m2=c.area_m2,
                outlets=per_child[i],
                coverage_ratio=ratio.get(c.code),
                white_space=c.code in white,
                buyers=s.buyers if s else 0,
                sales_amount=s.totals.amount if s else Decimal(0),
                sales_quantity=s.totals.quantity if s else Decimal(0),
                distribution_rate=rates.get(c.code),
            )
        )
    step(85, "gaps listed")
    holes = _holes(gap, subs)
    return ReportData(
        lang=lang,
        company=company,
        generated_at=generated_at,
        requested_by=user.username,
        region=region,
        parent_name=parent_name,
        sub_regions=subs,
        filters=f,
        params=params,
        product_name=_product_name(session, f.product),
        distributor_name=next(
            (d.name for d in distributors if d.code == f.distributor), f.distributor
        ),
        figures=figures,
        coverage=cov,
        gaps=gap,
        density=den,
        holes=holes,
        sub_region_rows=rows,
        distributors=distributors,
        plan_year=plan_year,
        outlets=outlets,
        territory_of=territory_of,
    )


# --- reads (to come from domain.regions / domain.network once issue 12's step 2 lands) -----


def _shapes(session: Session, region: Region, lang: str) -> tuple[Shape, str | None, list[Shape]]:
    """The region and its direct sub-regions with boundaries, named in the report's language."""
    cols = (
        Region.code,
        Region.name,
        Region.name_en,
        Region.level,
        Region.area_m2,
        Region.boundary.ST_AsBinary().label("wkb"),
        Region.label_point.ST_X().label("lx"),
        Region.label_point.ST_Y().label("ly"),
    )
    own = session.execute(select(*cols).where(Region.id == region.id)).one()
    kids = session.execute(
        select(*cols).where(Region.parent_id == region.id).order_by(Region.code)
    ).all()
    parent = None
    if region.parent_id is not None:
        parent = session.execute(
            select(Region.name, Region.name_en).where(Region.id == region.parent_id)
        ).one()

    def named(name: str, name_en: str | None) -> str:
        return name_en if lang == "en" and name_en else name

    def shape(r) -> Shape:
        label = (r.lx, r.ly) if r.lx is not None else None
        return Shape(
            r.code,
            named(r.name, r.name_en),
            r.level,
            float(r.area_m2 or 0.0),
            shapely.from_wkb(bytes(r.wkb)),
            label,
        )

    return shape(own), (named(*parent) if parent else None), [shape(r) for r in kids]


def _tier_counts(child: np.ndarray, tier: np.ndarray, n_children: int):
    """Outlets per tier in each sub-region (``child``: its index, -1 outside them all) and in
    the whole region: one ``bincount`` rather than a Python loop over 100,000 outlets."""
    k = len(TIERS)
    tier = tier.astype(np.int64)
    totals = np.bincount(tier, minlength=k)
    inside = child >= 0
    grid = np.bincount(child[inside].astype(np.int64) * k + tier[inside], minlength=n_children * k)
    grid = grid.reshape(n_children, k).tolist()
    per_child = [dict(zip(TIERS, row, strict=True)) for row in grid]
    return per_child, dict(zip(TIERS, totals.tolist(), strict=True))


def _side_session(session: Session) -> Session | None:
    """A second session on the same engine, for reads that can run beside the analyses; None
    when the session is bound to one connection (a test's transaction, which nothing else
    may see)."""
    bind = session.get_bind()
    if not isinstance(bind, Engine):
        return None
    return Session(bind=bind)


def _product_name(session: Session, sku: str | None) -> str | None:
    if not sku:
        return None
    from ..models import Product

    return session.scalar(select(Product.name).where(Product.sku == sku)) or sku


def _distributor_rows(session: Session, user: Principal, region_code: str, f: ReportFilters):
    """The region's active distributors the user may see (only the filter's one when set)."""
    filters = OutletFilters(tier=["distributor"], region=region_code, status=["active"])
    stmt = select_outlets(filters).where(outlet_scope(user))
    rows = [dict(r) for r in session.execute(stmt.limit(MAX_DISTRIBUTORS)).mappings()]
    if f.distributor:
        rows = [r for r in rows if r["code"] == f.distributor]
    return rows


def _distributor_figures(
    session: Session, rows: list[dict], f: ReportFilters, year: int
) -> list[DistributorRow]:
    """Plan achievement and debt of every distributor: two statements for them all
    (:mod:`.ranking`), the figures of ``plan_achievement`` and ``buyer_debt``."""
    if not rows:
        return []
    month_to = f.date_to.month if f.date_to and f.date_to.year == year else None
    product_id = find_product_id(session, f.product) if f.product else None
    ids = [r["id"] for r in rows]
    months = ranking.plan_months(session, ids, year, month_to=month_to, product_id=product_id)
    owed = ranking.debts(session, ids)
    out = []
    for r in rows:
        mine = [PlanMonth(m, plan, actual) for m, plan, actual in months.get(r["id"], ())]
        debt, oldest = owed.get(r["id"], (Decimal("0.00"), None))
        out.append(
            DistributorRow(
                code=r["code"],
                name=r["name"],
                plan=sum((m.plan for m in mine), Decimal(0)),
                actual=sum((m.actual for m in mine), Decimal(0)),
                debt=debt,
                oldest_unpaid=oldest,
                months=mine,
            )
        )
    return out


def _ranked(out: list[DistributorRow]) -> list[DistributorRow]:
    """By plan achievement, then by actual sales."""
    out.sort(key=lambda d: (d.achievement is None, -(d.achievement or 0.0), -d.actual, d.code))
    for i, d in enumerate(out, 1):
        d.rank = i
    return out


def _outlet_detail(session: Session, user: Principal, region_code: str, f: ReportFilters):
    filters = OutletFilters(
        tier=list(f.tiers) or None,
        region=region_code,
        distributor=f.distributor,
        status=["active"],
        geotagged=True,
    )
    stmt = select_outlets(filters).where(outlet_scope(user))
    rows = session.execute(stmt).mappings().all()
    index = {t: i for i, t in enumerate(TIERS)}
    return Outlets(
        lon=np.array([float(r["lon"]) for r in rows], dtype=np.float64),
        lat=np.array([float(r["lat"]) for r in rows], dtype=np.float64),
        tier=np.array([index[r["tier"]] for r in rows], dtype=np.int64),
        code=[r["code"] for r in rows],
        name=[r["name"] for r in rows],
        parent=[r["parent_code"] for r in rows],
        region=[r["region_code"] for r in rows],
    )


def _holes(gap: GapsResult, subs: list[Shape]) -> list[Gap]:
    """Distinct gaps, worst first, from the worst gap cells (the gap map's list)."""
    cells = [c for c in gap.worst if c.distance_m is not None]
    if not cells:
        return []
    lon = np.array([c.lon for c in cells])
    lat = np.array([c.lat for c in cells])
    distance = np.array([c.distance_m for c in cells])
    found = worst_holes(lon, lat, distance, WORST_LISTED, gap.cell_km * 1000.0)
    out = []
    tree = shapely.STRtree([s.boundary for s in subs]) if subs else None
    for h in found:
        where = None
        if tree is not None:
            hits = tree.query(shapely.Point(h.lon, h.lat), predicate="intersects")
            where = subs[int(hits[0])].name if len(hits) else None
        out.append(Gap(h.rank, h.lon, h.lat, h.distance_m, h.cells, where))
    return out


def regions_of_level(session: Session, user: Principal, level: str) -> list[tuple[str, str]]:
    """(code, name) of every region of ``level`` the user may report on, by code."""
    from ..domain.access import region_scope

    if user.role not in ("admin", "manager"):
        raise Forbidden(f"{user.role}s may not build region reports")
    rows = session.execute(
        select(Region.code, Region.name)
        .where(Region.level == level, region_scope(user))
        .order_by(Region.code)
    ).all()
    return [(r.code, r.name) for r in rows]
