"""Distribution metrics: depth and breadth of a distributor's network, distribution rate (铺货率)
of a product in a region, and plan achievement of a distributor.

Definitions (docs/analyses.md):
- *network*: the distributor and every outlet below it through ``parent`` links
  (``domain.network.outlet_tree``);
- *territory*: the direct sub-regions of the smallest region that contains every geotagged
  outlet of the network (or of a region the caller names); a leaf region is its own single unit;
- *breadth*: territory units holding at least one retail outlet of the network / all units;
- *territory breadth*: the share of the distributor's territory (assigned, named, or the
  region above) its network reaches, over sub-regions and over hexagons (``analysis.breadth``);
- *catchment*: the convex hull of the network's geotagged outlets, area on the ellipsoid;
- *distribution rate*: retail outlets (status filter, default active) of the region that bought
  the product in the period (as buyer of a sales record) / those retail outlets;
- *actual* of a plan: sales records whose seller is the distributor (its sell-in to its buyers).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from geoalchemy2 import Geography
from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    Select,
    String,
    any_,
    bindparam,
    case,
    cast,
    distinct,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..domain.network import OUTLETS, outlet_tree
from ..domain.outlets import region_known
from ..domain.principal import Principal
from ..domain.regions import REGIONS, region_tree
from ..errors import ValidationError
from ..models import TIERS, SalesRecord
from .breadth import TerritoryBreadth, assigned_territory, region_territory, territory_breadth
from .frame import filter_values, load_region, outlet_filter
from .geometry.sphere import spherical_hull
from .params import AnalysisParams, find_distributor, find_product_id, find_region, resolve

LOGGER = logging.getLogger(__name__)

SALES = SalesRecord.__table__


@dataclass
class Unit:
    code: str
    name: str
    retail_outlets: int

    @property
    def reached(self) -> bool:
        return self.retail_outlets > 0


@dataclass
class DepthResult:
    distributor_code: str
    distributor_name: str
    status: str | None
    by_tier: dict[str, int]
    by_hops: dict[int, int]
    untagged: int
    deepest_tier: str | None
    territory_code: str | None
    territory_name: str | None
    units: list[Unit]
    catchment: dict | None  # GeoJSON (WGS-84) of the convex hull
    catchment_m2: float
    territory_breadth: TerritoryBreadth | None = None  # None: no territory at all

    @property
    def reached_units(self) -> int:
        return sum(u.reached for u in self.units)

    @property
    def breadth(self) -> float:
        return self.reached_units / len(self.units) if self.units else 0.0

    def to_dict(self) -> dict:
        return {
            "distributor": {"code": self.distributor_code, "name": self.distributor_name},
            "status": self.status,
            "outlets_by_tier": self.by_tier,
            "outlets": sum(self.by_tier.values()),
            "by_hops": {str(k): v for k, v in self.by_hops.items()},
            "untagged": self.untagged,
            "deepest_tier": self.deepest_tier,
            "territory": {"code": self.territory_code, "name": self.territory_name},
            "units": len(self.units),
            "reached_units": self.reached_units,
            "breadth": self.breadth,
            "unit_detail": [
                {
                    "code": u.code,
                    "name": u.name,
                    "retail_outlets": u.retail_outlets,
                    "reached": u.reached,
                }
                for u in self.units
            ],
            "catchment": self.catchment,
            "catchment_m2": self.catchment_m2,
            "catchment_km2": self.catchment_m2 / 1e6,
            "territory_breadth": (
                self.territory_breadth.to_dict() if self.territory_breadth else None
            ),
        }


def distributor_depth(
    session: Session,
    distributor_code: str,
    params: AnalysisParams | None = None,
    *,
    territory: str | None = None,
    cell_km: float | None = None,
    user: Principal | None = None,
) -> DepthResult:
    """Outlets reached per tier and hop, deepest tier, territory breadth and catchment.
    ``territory``: a region whose sub-regions breadth is measured over (instead of the
    assigned territory or the network's region); ``cell_km``: the hexagon size of the
    territory breadth (None: chosen from the territory's area). ``user``: a distributor
    or ``territory`` outside their scope is as unknown as a missing one (None: the system)."""
    params = (params or AnalysisParams()).check()
    if cell_km is not None:
        params.with_(cell_km=cell_km).check()
    distributor = find_distributor(session, distributor_code, as_filter=False, user=user)
    per_tier, smallest_region, retail_per_region = _depth_statements(params.status is not None)
    values = {"distributor_id": distributor.id, "status": params.status}
    rows = session.execute(per_tier, values).all()
    by_tier = dict.fromkeys(TIERS[1:], 0)
    by_hops: dict[int, int] = {}
    untagged = 0
    for tier, hops, n, unt in rows:
        by_tier[tier] = by_tier.get(tier, 0) + n
        by_hops[hops] = by_hops.get(hops, 0) + n
        untagged += unt
    present = [t for t in TIERS[1:] if by_tier[t]]
    deepest = present[-1] if present else None
    if territory is not None:
        if user is not None and not region_known(session, territory, user):
            raise ValidationError(  # outside their scope: as unknown as a missing one
                f"no region with code {territory!r}", fields={"territory": "not found"}
            )
        home = find_region(session, territory)
        home_id, home_code, home_name = home.id, home.code, home.name
    else:
        home = session.execute(smallest_region, values).first()
        home_id, home_code, home_name = home if home is not None else (None, None, None)
    units: list[Unit] = []
    if home_id is not None:
        frame = load_region(session, home_code)
        counts = dict(session.execute(retail_per_region, values).all())
        if frame.children:
            per_child = [0] * len(frame.children)
            for rid, n in counts.items():
                idx = frame.subtree_child.get(rid)
                if idx is not None and idx >= 0:
                    per_child[idx] += n
            units = [
                Unit(c.code, c.name, n) for c, n in zip(frame.children, per_child, strict=True)
            ]
        else:
            units = [
                Unit(
                    frame.code,
                    frame.name,
                    sum(n for rid, n in counts.items() if rid in frame.subtree_child),
                )
            ]
    if territory is not None:
        shape = region_territory(session, home_id, "named")
    else:
        shape = assigned_territory(session, distributor.id)
        if shape is None and home_id is not None:
            shape = region_territory(session, home_id, "network")
    wide = (
        territory_breadth(session, distributor.id, shape, params, cell_km=cell_km)
        if shape is not None
        else None
    )
    hull, hull_m2 = catchment(session, distributor.id, status=params.status)
    return DepthResult(
        distributor_code=distributor_code,
        distributor_name=distributor.name,
        status=params.status,
        by_tier=by_tier,
        by_hops=dict(sorted(by_hops.items())),
        untagged=untagged,
        deepest_tier=deepest,
        territory_code=home_code,
        territory_name=home_name,
        units=units,
        catchment=hull,
        catchment_m2=hull_m2,
        territory_breadth=wide,
    )


@functools.lru_cache(maxsize=2)
def _depth_statements(status: bool) -> tuple[Select, Select, Select]:
    """The network of outlet ``distributor_id`` (of ``status``, when given): outlets per tier
    and depth (with those never geotagged); the smallest region holding every region of its
    outlets (the deepest level, then the smallest area, among the regions above all of them);
    retail outlets per region. Built once per shape."""
    o, r = OUTLETS, REGIONS
    network = outlet_tree(o.c.id == bindparam("distributor_id", type_=BigInteger))
    members = network.join(o, o.c.id == network.c.id)
    of_status = [o.c.status == bindparam("status", type_=String)] if status else []
    per_tier = (
        select(
            o.c.tier,
            network.c.depth,
            func.count().label("n"),
            func.count().filter(o.c.location.is_(None)).label("untagged"),
        )
        .select_from(members)
        .where(network.c.depth > 0, *of_status)
        .group_by(o.c.tier, network.c.depth)
    )
    regs = (
        select(o.c.region_id)
        .distinct()
        .select_from(members)
        .where(o.c.region_id.is_not(None), *of_status)
        .cte("regs")
    )
    start = select(regs.c.region_id.label("id"), regs.c.region_id.label("start_id"))
    up = region_tree(start, up=True, distinct=True, name="up")
    every = select(func.count()).select_from(regs).scalar_subquery()
    smallest_region = (
        select(r.c.id, r.c.code, r.c.name)
        .select_from(up.join(r, r.c.id == up.c.id))
        .group_by(r.c.id, r.c.code, r.c.name, r.c.level, r.c.area_m2)
        .having(func.count(distinct(up.c.start_id)) == every)
        .order_by(func.geo_crm_level_rank(r.c.level).desc(), r.c.area_m2)
        .limit(1)
    )
    retail_per_region = (
        select(o.c.region_id, func.count())
        .select_from(members)
        .where(o.c.tier == "retail", o.c.region_id.is_not(None), *of_status)
        .group_by(o.c.region_id)
    )
    return per_tier, smallest_region, retail_per_region


@dataclass
class Catchment:
    """A distributor's catchment as a map draws it: code, name and convex hull (GeoJSON
    (Multi)Polygon, WGS-84)."""

    code: str
    name: str
    geometry: Mapping


# a network reaching this latitude has its hull taken on the sphere (geometry.sphere): nearer a
# pole parallels curve away from geodesics, and the network may surround the pole
POLAR_HULL_LAT = 60.0


def catchment(
    session: Session, distributor: int | str, *, status: str | None = "active"
) -> tuple[dict | None, float]:
    """The convex hull (GeoJSON, WGS-84; None: no located outlet) of the located outlets of a
    distributor's network (of ``status``; None: any) and its area in m² on the ellipsoid.
    ``distributor``: its outlet id or code.

    A network reaching ``POLAR_HULL_LAT`` has its hull taken on the sphere
    (:func:`~geo_crm.analysis.geometry.sphere.spherical_hull`: around the pole when the outlets
    surround it); elsewhere in longitude/latitude by PostGIS, as the maps draw it."""
    by_code = isinstance(distributor, str)
    values = {"distributor": distributor, "status": status}
    statement = _catchment_statement(by_code=by_code, status=status is not None)
    geojson, area, reach = session.execute(statement, values).one()
    if reach is not None and reach >= POLAR_HULL_LAT:
        points = _network_points(by_code=by_code, status=status is not None)
        lon, lat = zip(*session.execute(points, values).all(), strict=True)
        on_sphere = spherical_hull(lon, lat)
        if on_sphere is not None:
            return on_sphere
    return (json.loads(geojson) if geojson else None), float(area)


def _network_located(*, by_code: bool, status: bool):
    """The network of outlet ``distributor`` (code or id) joined to its located outlets (of
    ``status``), and the conditions."""
    o = OUTLETS
    if by_code:
        start = o.c.code == bindparam("distributor", type_=String)
    else:
        start = o.c.id == bindparam("distributor", type_=BigInteger)
    network = outlet_tree(start)
    where = [o.c.location.is_not(None)]
    if status:
        where.append(o.c.status == bindparam("status", type_=String))
    return network.join(o, o.c.id == network.c.id), where


@functools.lru_cache(maxsize=4)
def _network_points(*, by_code: bool, status: bool) -> Select:
    """Longitude and latitude of the located outlets of the network (the hull on the sphere)."""
    o = OUTLETS
    joined, where = _network_located(by_code=by_code, status=status)
    return (
        select(func.ST_X(o.c.location), func.ST_Y(o.c.location)).select_from(joined).where(*where)
    )


@functools.lru_cache(maxsize=4)
def _catchment_statement(*, by_code: bool, status: bool) -> Select:
    """The hull of the network of outlet ``distributor`` (code or id) as GeoJSON, its area in
    m², and the highest absolute latitude of its outlets; built once per shape."""
    o = OUTLETS
    joined, where = _network_located(by_code=by_code, status=status)
    points = (
        select(
            func.ST_Collect(o.c.location).label("p"),
            func.max(func.abs(func.ST_Y(o.c.location))).label("reach"),
        )
        .select_from(joined)
        .where(*where)
        .subquery("x")
    )
    # the hull in longitudes as stored, and with the western ones shifted by +360° (a network
    # beside the 180° meridian, drawn unwrapped as the maps draw it): the narrower one in
    # degrees is the network's (as geography, the wide one's edges would take the short way)
    both = select(
        func.ST_ConvexHull(points.c.p).label("h"),
        func.ST_ConvexHull(func.ST_ShiftLongitude(points.c.p)).label("s"),
        points.c.reach,
    ).subquery("hulls")
    width = func.ST_XMax(both.c.h) - func.ST_XMin(both.c.h)
    shifted_width = func.ST_XMax(both.c.s) - func.ST_XMin(both.c.s)
    hull = case((shifted_width < width, both.c.s), else_=both.c.h)
    area = func.coalesce(func.ST_Area(cast(hull, Geography)), 0)
    return select(func.ST_AsGeoJSON(hull, 6), area, both.c.reach)


@dataclass
class RateRow:
    code: str | None
    name: str | None
    outlets: int
    bought: int

    @property
    def rate(self) -> float | None:
        return self.bought / self.outlets if self.outlets else None

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "outlets": self.outlets,
            "bought": self.bought,
            "rate": self.rate,
        }


@dataclass
class RateResult:
    region_code: str
    region_name: str
    product: str
    tiers: list[str]
    overall: RateRow
    sub_regions: list[RateRow]
    filters: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "region": {"code": self.region_code, "name": self.region_name},
            "product": self.product,
            "tiers": self.tiers,
            "filters": self.filters,
            **self.overall.to_dict(),
            "sub_regions": [s.to_dict() for s in self.sub_regions],
        }


def distribution_rate(
    session: Session,
    region_code: str,
    params: AnalysisParams,
    *,
    user: Principal | None = None,
) -> RateResult:
    """Share of the region's (retail, active by default) outlets that bought the product in the
    period, overall and per direct sub-region (outlets outside every child form a last row).
    ``user``: as in :func:`~geo_crm.analysis.params.resolve`."""
    if not params.product:
        raise ValidationError(
            "a distribution rate is of one product",
            fields={"product": "required: the SKU of the product"},
        )
    resolved = resolve(session, params, region_code=region_code, user=user)
    region = load_region(session, region_code)
    statement = _rate_statement(
        tuple(params.tiers),
        since=params.date_from is not None,
        until=params.date_to is not None,
        status=params.status is not None,
        distributor=resolved.distributor_id is not None,
    )
    values = filter_values(resolved, tuple(params.tiers)) | {
        "region_ids": region.subtree_ids,
        "product_id": resolved.product_id,
        "date_from": params.date_from,
        "date_to": params.date_to,
    }
    rows = session.execute(statement, values).all()
    total = RateRow(region.code, region.name, 0, 0)
    per_child = [RateRow(c.code, c.name, 0, 0) for c in region.children]
    rest = RateRow(None, None, 0, 0)
    for rid, outlets, bought in rows:
        total.outlets += outlets
        total.bought += bought
        idx = region.subtree_child.get(rid, -1)
        target = per_child[idx] if idx >= 0 else rest
        target.outlets += outlets
        target.bought += bought
    subs = per_child + ([rest] if region.children and rest.outlets else [])
    return RateResult(
        region.code,
        region.name,
        params.product,
        list(params.tiers),
        total,
        subs,
        filters={
            "status": params.status,
            "distributor": params.distributor,
            "date_from": params.date_from and params.date_from.isoformat(),
            "date_to": params.date_to and params.date_to.isoformat(),
        },
    )


@functools.lru_cache(maxsize=32)
def _rate_statement(
    tiers: tuple[str, ...], *, since: bool, until: bool, status: bool, distributor: bool
) -> Select:
    """Outlets per region of ``region_ids`` passing the filters, and how many of them bought
    ``product_id`` in the period; built once per shape of filters."""
    o, sales = OUTLETS, SALES
    bought = [
        sales.c.buyer_id == o.c.id,
        sales.c.product_id == bindparam("product_id", type_=Integer),
    ]
    if since:
        bought.append(sales.c.sale_date >= bindparam("date_from", type_=Date))
    if until:
        bought.append(sales.c.sale_date <= bindparam("date_to", type_=Date))
    in_regions = o.c.region_id == any_(bindparam("region_ids", type_=ARRAY(Integer)))
    return (
        select(
            o.c.region_id,
            func.count().label("outlets"),
            func.count().filter(select(literal(1)).where(*bought).exists()).label("bought"),
        )
        .where(in_regions, *outlet_filter(tiers, status=status, distributor=distributor))
        .group_by(o.c.region_id)
    )


@dataclass
class PlanRow:
    month: dt.date
    sku: str
    product_name: str
    target_quantity: Decimal | None
    target_amount: Decimal | None
    actual_quantity: Decimal
    actual_amount: Decimal
    ytd_target_quantity: Decimal
    ytd_target_amount: Decimal
    ytd_actual_quantity: Decimal
    ytd_actual_amount: Decimal

    @staticmethod
    def _rate(actual, target) -> float | None:
        return float(actual / target) if target else None

    def to_dict(self) -> dict:
        f = lambda v: None if v is None else float(v)  # noqa: E731
        return {
            "month": self.month.isoformat()[:7],
            "product": self.sku,
            "product_name": self.product_name,
            "target_quantity": f(self.target_quantity),
            "target_amount": f(self.target_amount),
            "actual_quantity": f(self.actual_quantity),
            "actual_amount": f(self.actual_amount),
            "achievement_quantity": self._rate(self.actual_quantity, self.target_quantity),
            "achievement_amount": self._rate(self.actual_amount, self.target_amount),
            "ytd_target_quantity": f(self.ytd_target_quantity),
            "ytd_target_amount": f(self.ytd_target_amount),
            "ytd_actual_quantity": f(self.ytd_actual_quantity),
            "ytd_actual_amount": f(self.ytd_actual_amount),
            "ytd_achievement_quantity": self._rate(
                self.ytd_actual_quantity, self.ytd_target_quantity
            ),
            "ytd_achievement_amount": self._rate(self.ytd_actual_amount, self.ytd_target_amount),
        }


@dataclass
class PlanResult:
    distributor_code: str
    distributor_name: str
    year: int
    rows: list[PlanRow]

    def totals(self) -> dict:
        target = sum((r.target_amount or Decimal(0) for r in self.rows), Decimal(0))
        actual = sum((r.actual_amount for r in self.rows), Decimal(0))
        return {
            "target_amount": float(target),
            "actual_amount": float(actual),
            "achievement_amount": float(actual / target) if target else None,
        }

    def to_dict(self) -> dict:
        return {
            "distributor": {"code": self.distributor_code, "name": self.distributor_name},
            "year": self.year,
            "rows": [r.to_dict() for r in self.rows],
            "year_total": self.totals(),
        }


def plan_achievement(
    session: Session,
    distributor_code: str,
    year: int,
    *,
    product: str | None = None,
    month_to: int | None = None,
    user: Principal | None = None,
) -> PlanResult:
    """Plan vs actual per month and product of ``year`` (months up to ``month_to``), with the
    year-to-date cumulative figures on every row."""
    if not 1900 <= year <= 9999:
        raise ValidationError("year out of range", fields={"year": "must be between 1900 and 9999"})
    if month_to is not None and not 1 <= month_to <= 12:
        raise ValidationError("month out of range", fields={"month_to": "must be between 1 and 12"})
    distributor = find_distributor(session, distributor_code, as_filter=False, user=user)
    product_id = find_product_id(session, product) if product else None
    start = dt.date(year, 1, 1)
    end = dt.date(year, month_to, 1) if month_to else dt.date(year, 12, 1)
    rows = session.execute(
        text("""
        WITH plan AS (
            SELECT month, product_id, target_quantity, target_amount FROM sales_plans
             WHERE distributor_id = :d AND month BETWEEN :start AND :end
               AND (CAST(:p AS int) IS NULL OR product_id = :p)),
        actual AS (
            SELECT date_trunc('month', sale_date)::date AS month, product_id,
                   sum(quantity) AS quantity, sum(amount) AS amount
              FROM sales_records
             WHERE seller_id = :d AND sale_date >= :start
               AND sale_date < (:end + interval '1 month')
               AND (CAST(:p AS int) IS NULL OR product_id = :p)
             GROUP BY 1, 2),
        joined AS (
            SELECT coalesce(p.month, a.month) AS month,
                   coalesce(p.product_id, a.product_id) AS product_id,
                   p.target_quantity, p.target_amount,
                   coalesce(a.quantity, 0) AS actual_quantity,
                   coalesce(a.amount, 0) AS actual_amount
              FROM plan p FULL JOIN actual a ON a.month = p.month AND a.product_id = p.product_id)
        SELECT j.month, pr.sku, pr.name, j.target_quantity, j.target_amount, j.actual_quantity,
               j.actual_amount,
               sum(coalesce(j.target_quantity, 0)) OVER w, sum(coalesce(j.target_amount, 0)) OVER w,
               sum(j.actual_quantity) OVER w, sum(j.actual_amount) OVER w
          FROM joined j JOIN products pr ON pr.id = j.product_id
        WINDOW w AS (PARTITION BY j.product_id ORDER BY j.month)
         ORDER BY j.month, pr.sku"""),
        {"d": distributor.id, "start": start, "end": end, "p": product_id},
    ).all()
    return PlanResult(distributor_code, distributor.name, year, [PlanRow(*row) for row in rows])


@dataclass
class PlanMonth:
    """Plan and actual amount of one month, every product together (``month`` None: the year
    so far)."""

    month: dt.date | None
    plan: Decimal
    actual: Decimal

    @property
    def ratio(self) -> float | None:
        return float(self.actual / self.plan) if self.plan else None


def plan_months(
    session: Session,
    distributor_code: str,
    year: int,
    *,
    product: str | None = None,
    user: Principal | None = None,
) -> list[PlanMonth]:
    """:func:`plan_achievement` per month (all products, or ``product``), then the year so far
    as a last row; empty when the year has neither plans nor sales."""
    result = plan_achievement(session, distributor_code, year, product=product, user=user)
    months: dict[dt.date, PlanMonth] = {}
    for row in result.rows:
        m = months.setdefault(row.month, PlanMonth(row.month, Decimal(0), Decimal(0)))
        m.plan += row.target_amount or Decimal(0)
        m.actual += row.actual_amount
    out = [months[k] for k in sorted(months)]
    if out:
        out.append(
            PlanMonth(
                None,
                sum((m.plan for m in out), Decimal(0)),
                sum((m.actual for m in out), Decimal(0)),
            )
        )
    return out
