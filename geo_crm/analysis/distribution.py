"""Distribution metrics: depth and breadth of a distributor's network, distribution rate (铺货率)
of a product in a region, and plan achievement of a distributor.

Definitions (docs/analyses.md):
- *network*: the distributor and every outlet below it through ``parent`` links (recursive CTE);
- *territory*: the direct sub-regions of the smallest region that contains every geotagged
  outlet of the network (or of a region the caller names); a leaf region is its own single unit;
- *breadth*: territory units holding at least one retail outlet of the network / all units;
- *catchment*: the convex hull of the network's geotagged outlets, area on the ellipsoid;
- *distribution rate*: retail outlets (status filter, default active) of the region that bought
  the product in the period (as buyer of a sales record) / those retail outlets;
- *actual* of a plan: sales records whose seller is the distributor (its sell-in to its buyers).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from ..errors import ValidationError
from ..models import TIERS
from .frame import load_region
from .params import AnalysisParams, find_distributor_id, find_product_id, find_region, resolve

LOGGER = logging.getLogger(__name__)

_NETWORK = """
WITH RECURSIVE network(id, hops) AS (
    SELECT id, 0 FROM outlets WHERE id = :distributor_id
    UNION ALL
    SELECT o.id, n.hops + 1 FROM outlets o JOIN network n ON o.parent_id = n.id
)
"""


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
        }


def distributor_depth(
    session: Session,
    distributor_code: str,
    params: AnalysisParams | None = None,
    *,
    territory: str | None = None,
) -> DepthResult:
    """Outlets reached per tier and hop, deepest tier, territory breadth and catchment."""
    params = (params or AnalysisParams()).check()
    distributor_id = find_distributor_id(session, distributor_code, as_filter=False)
    name = session.scalar(text("SELECT name FROM outlets WHERE id = :i"), {"i": distributor_id})
    args = {"distributor_id": distributor_id, "status": params.status}
    status_cond = "(CAST(:status AS text) IS NULL OR o.status = :status)"
    rows = session.execute(
        text(
            _NETWORK
            + f"""
        SELECT o.tier, n.hops, count(*) AS n, count(*) FILTER (WHERE o.location IS NULL) AS untagged
          FROM network n JOIN outlets o ON o.id = n.id
         WHERE n.hops > 0 AND {status_cond}
         GROUP BY o.tier, n.hops"""
        ),
        args,
    ).all()
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
        home = find_region(session, territory)
        home_id, home_code, home_name = home.id, home.code, home.name
    else:
        home_row = session.execute(
            text(
                _NETWORK
                + f"""
            , regs AS (SELECT DISTINCT o.region_id FROM network n JOIN outlets o ON o.id = n.id
                        WHERE o.region_id IS NOT NULL AND {status_cond}),
            up(start_id, id) AS (
                SELECT region_id, region_id FROM regs
                UNION
                SELECT up.start_id, r.parent_id FROM up JOIN regions r ON r.id = up.id
                 WHERE r.parent_id IS NOT NULL)
            SELECT r.id, r.code, r.name FROM up JOIN regions r ON r.id = up.id
             GROUP BY r.id, r.code, r.name, r.level, r.area_m2
            HAVING count(DISTINCT up.start_id) = (SELECT count(*) FROM regs)
             ORDER BY geo_crm_level_rank(r.level) DESC, r.area_m2 LIMIT 1"""
            ),
            args,
        ).first()
        home_id, home_code, home_name = home_row if home_row else (None, None, None)
    units: list[Unit] = []
    if home_id is not None:
        frame = load_region(session, home_code)
        counts = dict(
            session.execute(
                text(
                    _NETWORK
                    + f"""
            SELECT o.region_id, count(*) FROM network n JOIN outlets o ON o.id = n.id
             WHERE o.tier = 'retail' AND o.region_id IS NOT NULL AND {status_cond}
             GROUP BY o.region_id"""
                ),
                args,
            ).all()
        )
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
    hull = session.execute(
        text(
            _NETWORK
            + f"""
        SELECT ST_AsGeoJSON(h, 6), coalesce(ST_Area(h::geography), 0)
          FROM (SELECT ST_ConvexHull(ST_Collect(o.location)) AS h
                  FROM network n JOIN outlets o ON o.id = n.id
                 WHERE o.location IS NOT NULL AND {status_cond}) x"""
        ),
        args,
    ).one()
    return DepthResult(
        distributor_code=distributor_code,
        distributor_name=name,
        status=params.status,
        by_tier=by_tier,
        by_hops=dict(sorted(by_hops.items())),
        untagged=untagged,
        deepest_tier=deepest,
        territory_code=home_code,
        territory_name=home_name,
        units=units,
        catchment=json.loads(hull[0]) if hull[0] else None,
        catchment_m2=float(hull[1]),
    )


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


def distribution_rate(session: Session, region_code: str, params: AnalysisParams) -> RateResult:
    """Share of the region's (retail, active by default) outlets that bought the product in the
    period, overall and per direct sub-region (outlets outside every child form a last row)."""
    if not params.product:
        raise ValidationError(
            "a distribution rate is of one product",
            fields={"product": "required: the SKU of the product"},
        )
    resolved = resolve(session, params, region_code=region_code)
    region = load_region(session, region_code)
    args = {
        "region_ids": region.subtree_ids,
        "tiers": list(params.tiers),
        "status": params.status,
        "product_id": resolved.product_id,
        "date_from": params.date_from,
        "date_to": params.date_to,
        "distributor_id": resolved.distributor_id,
    }
    prefix = _NETWORK if resolved.distributor_id is not None else ""
    network_cond = "o.id IN (SELECT id FROM network)" if prefix else "TRUE"
    rows = session.execute(
        text(
            prefix
            + f"""
        SELECT o.region_id, count(*) AS outlets,
               count(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM sales_records s
                    WHERE s.buyer_id = o.id AND s.product_id = :product_id
                      AND (CAST(:date_from AS date) IS NULL OR s.sale_date >= :date_from)
                      AND (CAST(:date_to AS date) IS NULL OR s.sale_date <= :date_to))) AS bought
          FROM outlets o
         WHERE o.region_id = ANY(CAST(:region_ids AS int[])) AND o.tier = ANY(:tiers)
           AND (CAST(:status AS text) IS NULL OR o.status = :status) AND {network_cond}
         GROUP BY o.region_id"""
        ),
        args,
    ).all()
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
) -> PlanResult:
    """Plan vs actual per month and product of ``year`` (months up to ``month_to``), with the
    year-to-date cumulative figures on every row."""
    if not 1900 <= year <= 9999:
        raise ValidationError("year out of range", fields={"year": "must be between 1900 and 9999"})
    if month_to is not None and not 1 <= month_to <= 12:
        raise ValidationError("month out of range", fields={"month_to": "must be between 1 and 12"})
    distributor_id = find_distributor_id(session, distributor_code, as_filter=False)
    name = session.scalar(text("SELECT name FROM outlets WHERE id = :i"), {"i": distributor_id})
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
        {"d": distributor_id, "start": start, "end": end, "p": product_id},
    ).all()
    return PlanResult(distributor_code, name, year, [PlanRow(*row) for row in rows])
