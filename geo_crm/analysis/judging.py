"""Judging a distributor: the reach recorded with an evaluation, recording one, and the class.

- *reach*: the distributor's network now, active outlets only — downstream outlets per tier
  (:func:`~geo_crm.analysis.distribution.distributor_depth`), the area their service discs
  cover in its territory (:func:`~geo_crm.analysis.coverage.coverage`, km²) and the territory's
  sub-regions holding a retail outlet of the network. A back-dated evaluation gets the reach
  of the day it is recorded: the network's past is not reconstructed.
- *class* (A/B/C/D): from the latest evaluation's score and the year's plan achievement to
  date (sell-in / the plans' target expected by today, :mod:`~geo_crm.analysis.plans`);
  thresholds in :data:`geo_crm.domain.evaluations.CLASS_RULES`, docs/business.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from ..domain import evaluations as ev
from ..domain.debt import debt_ageing
from ..domain.network import distributor as find_distributor
from ..domain.outlets import get_outlet
from ..domain.plans import next_month
from ..domain.principal import Principal
from ..domain.regions import RegionRef, map_region_for, region_ref_by_code
from .coverage import coverage
from .distribution import distributor_depth
from .growth import comparison, growth
from .params import AnalysisParams
from .plans import Period, plan_against_actual


def network_reach(session: Session, code: str) -> ev.Reach:
    """The reach of distributor ``code``'s active network now (the system's view: a reach is a
    fact about the network, not about who looks)."""
    params = AnalysisParams(status="active")
    depth = distributor_depth(session, code, params)
    km2 = None
    if depth.territory_code is not None:
        cov = coverage(
            session,
            depth.territory_code,
            params.with_(distributor=code),
            sub_regions=False,
            per_tier=False,
            geometry=False,
        )
        km2 = round(cov.region.covered_m2 / 1e6, 3)
    return ev.Reach(
        by_tier=dict(depth.by_tier),
        km2=km2,
        territory=depth.territory_code,
        regions=[u.code for u in depth.units if u.reached],
        units=len(depth.units),
    )


def record_evaluation(session: Session, item: ev.EvaluationIn, *, user: Principal | None) -> dict:
    """Record an evaluation with its network's reach now (nothing is committed)."""
    return ev.create_evaluation(session, item, user=user, reach_of=network_reach)


@dataclass
class DistributorClass:
    code: str
    name: str
    score: float | None  # the latest evaluation's, under the current weights
    evaluated_on: dt.date | None
    achievement: float | None  # the year's sell-in / plan expected to date
    year: int
    klass: str | None

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "score": self.score,
            "evaluated_on": self.evaluated_on,
            "year": self.year,
            "achievement": self.achievement,
            "class": self.klass,
        }


def distributor_class(
    session: Session, code: str, *, user: Principal | None, as_of: dt.date | None = None
) -> DistributorClass:
    """The class of a distributor ``user`` may see, from its latest score and the plan
    achievement of ``as_of``'s year to date."""
    as_of = as_of or dt.date.today()
    ref = find_distributor(session, code, user=user, reading=True)
    latest = ev.list_evaluations(session, code, user=user, limit=1)
    plan = plan_against_actual(
        session, user=user, distributor=code, period=str(as_of.year), by=("month",), as_of=as_of
    )
    achievement = plan.total.to_dict()["to_expected_in"]
    score = latest[0]["score"] if latest else None
    return DistributorClass(
        code=ref.code,
        name=ref.name,
        score=score,
        evaluated_on=latest[0]["evaluated_on"] if latest else None,
        achievement=achievement,
        year=as_of.year,
        klass=ev.class_of(score, achievement),
    )


# -- the scorecard ---------------------------------------------------------------------------


def _growth(now, before) -> float | None:
    if before is None or not before:
        return None
    return float(now - before) / float(before)


def monthly_figures(
    session: Session, code: str, *, user: Principal | None, as_of: dt.date, months: int = 12
) -> list[dict]:
    """Plan, sell-in and sell-out of the ``months`` months up to ``as_of``'s (the last one to
    date), oldest first, each with its plan achievement and its sell-in and sell-out growth
    month over month and year over year of whole months (:mod:`~geo_crm.analysis.plans`'s
    figures; :func:`scorecard` puts the running month's growth to date in its row)."""
    last = as_of.replace(day=1)
    first = next_month(last, -(months - 1))
    earliest = next_month(first, -12)  # the year-ago months of the growth figures
    by_month: dict[dt.date, dict] = {}
    for year in range(earliest.year, last.year + 1):
        result = plan_against_actual(
            session, user=user, distributor=code, period=str(year), by=("month",), as_of=as_of
        )
        for line in result.lines:
            f = line.figures
            by_month[dt.date.fromisoformat(line.keys["month"] + "-01")] = {
                "plan": f.plan_amount,
                "sell_in": f.sell_in_amount,
                "sell_out": f.sell_out_amount,
            }
    zero = {"plan": Decimal("0.00"), "sell_in": Decimal("0.00"), "sell_out": Decimal("0.00")}
    rows = []
    for i in range(months):
        month = next_month(last, -(months - 1 - i))
        now = by_month.get(month, zero)
        before = by_month.get(next_month(month, -1), zero)
        year_ago = by_month.get(next_month(month, -12), zero)
        rows.append(
            {
                "month": month.isoformat()[:7],
                "plan": now["plan"],
                "sell_in": now["sell_in"],
                "sell_out": now["sell_out"],
                "achievement": float(now["sell_in"] / now["plan"]) if now["plan"] else None,
                "sell_in_mom": _growth(now["sell_in"], before["sell_in"]),
                "sell_in_yoy": _growth(now["sell_in"], year_ago["sell_in"]),
                "sell_out_mom": _growth(now["sell_out"], before["sell_out"]),
                "sell_out_yoy": _growth(now["sell_out"], year_ago["sell_out"]),
            }
        )
    return rows


_TO_DATE = text("""
SELECT sum(amount) FILTER (WHERE buyer_id = :d AND sale_date BETWEEN :s AND :e) AS in_now,
       sum(amount) FILTER (WHERE buyer_id = :d AND sale_date BETWEEN :ms AND :me) AS in_mom,
       sum(amount) FILTER (WHERE buyer_id = :d AND sale_date BETWEEN :ys AND :ye) AS in_yoy,
       sum(amount) FILTER (WHERE seller_id = :d AND sale_date BETWEEN :s AND :e) AS out_now,
       sum(amount) FILTER (WHERE seller_id = :d AND sale_date BETWEEN :ms AND :me) AS out_mom,
       sum(amount) FILTER (WHERE seller_id = :d AND sale_date BETWEEN :ys AND :ye) AS out_yoy
  FROM sales_records
 WHERE (buyer_id = :d OR seller_id = :d)
   AND (sale_date BETWEEN :s AND :e OR sale_date BETWEEN :ms AND :me
        OR sale_date BETWEEN :ys AND :ye)""")


def month_to_date_growth(
    session: Session, distributor_id: int, as_of: dt.date
) -> tuple[dict, dict] | None:
    """Growth of ``as_of``'s month while it runs, like with like (analysis/growth.py): its days
    to ``as_of`` against the same days of the month before and of that month a year earlier,
    for sell-in and sell-out; and the windows compared. None on the month's last day (the
    whole months compare)."""
    month = Period("month", as_of.replace(day=1), as_of.replace(day=1))
    mom, yoy = comparison(month, as_of, "mom"), comparison(month, as_of, "yoy")
    if not mom.to_date:
        return None
    row = session.execute(
        _TO_DATE,
        {"d": distributor_id, "s": mom.start, "e": mom.end, "ms": mom.before_start,
         "me": mom.before_end, "ys": yoy.before_start, "ye": yoy.before_end},
    ).one()  # fmt: skip
    zero = Decimal("0.00")
    in_now, out_now = row.in_now or zero, row.out_now or zero
    figures = {
        "sell_in_mom": growth(in_now, row.in_mom),
        "sell_in_yoy": growth(in_now, row.in_yoy),
        "sell_out_mom": growth(out_now, row.out_mom),
        "sell_out_yoy": growth(out_now, row.out_yoy),
    }
    windows = {
        "to_date": True,
        "start": mom.start,
        "end": mom.end,
        "mom": {"start": mom.before_start, "end": mom.before_end},
        "yoy": {"start": yoy.before_start, "end": yoy.before_end},
    }
    return figures, windows


@dataclass
class Scorecard:
    """Everything the scorecard page and ``GET …/scorecard`` show, from one call."""

    distributor: dict  # code, name, status, region
    as_of: dt.date
    klass: DistributorClass
    months: list[dict]
    depth: dict  # active outlets per tier, breadth over its territory's sub-regions
    # (analysis/breadth.py: the ranking's breadth too), catchment km²
    debt: dict | None  # debt ageing (owed to the manufacturer, receivable from its buyers)
    evaluations: list[dict]  # oldest first: the trend per criterion and of the reach
    map_region: RegionRef | None
    territory: RegionRef | None = None  # the region its network is measured in
    growth_windows: dict | None = None  # the days the latest month's growth compares

    @property
    def growth(self) -> dict:
        last = self.months[-1] if self.months else {}
        return {k: last.get(k) for k in ("sell_in_mom", "sell_in_yoy", "sell_out_mom",
                                         "sell_out_yoy")}  # fmt: skip

    def to_dict(self) -> dict:
        return {
            "distributor": self.distributor,
            "as_of": self.as_of,
            "class": self.klass.to_dict(),
            "months": self.months,
            "growth": self.growth,
            "growth_windows": self.growth_windows,
            "depth": self.depth,
            "debt": self.debt,
            "evaluations": self.evaluations,
        }


def scorecard(
    session: Session, code: str, *, user: Principal | None, as_of: dt.date | None = None
) -> Scorecard:
    """The scorecard of a distributor ``user`` may see, as of ``as_of`` (default today): class,
    12 months of plan, sell-in and sell-out with growth, depth and breadth now, debt ageing,
    and the evaluations (oldest first) with their sub-scores and stored reach."""
    as_of = as_of or dt.date.today()
    ref = find_distributor(session, code, user=user, reading=True)
    outlet = get_outlet(session, ref.id)
    depth = distributor_depth(session, ref.code, AnalysisParams(status="active"))
    wide = depth.territory_breadth  # the territory's sub-regions (analysis/breadth.py)
    ageing = debt_ageing(session, user=user, distributor=ref.code, as_of=as_of)
    debt = ageing.rows[0].to_dict(as_of) if ageing.rows else None
    history = list(reversed(ev.list_evaluations(session, ref.code, user=user, limit=1000)))
    months = monthly_figures(session, ref.code, user=user, as_of=as_of)
    running = month_to_date_growth(session, ref.id, as_of)
    windows = None
    if running is not None and months:  # the month to date against the same days before
        months[-1].update(running[0], to_date=True)
        windows = running[1]
    return Scorecard(
        distributor={
            "code": ref.code,
            "name": ref.name,
            "status": outlet["status"],
            "region_code": outlet.get("region_code"),
        },
        as_of=as_of,
        klass=distributor_class(session, ref.code, user=user, as_of=as_of),
        months=months,
        depth={
            "outlets_by_tier": depth.by_tier,
            "outlets": sum(depth.by_tier.values()),
            "deepest_tier": depth.deepest_tier,
            "territory": {"code": depth.territory_code, "name": depth.territory_name},
            "breadth_basis": wide.basis if wide else None,
            "breadth_level": wide.level if wide else None,
            "units": len(wide.units) if wide else 0,
            "reached_units": wide.reached_units if wide else 0,
            "breadth": wide.unit_share if wide else None,
            "catchment_km2": round(depth.catchment_m2 / 1e6, 3),
        },
        debt=debt,
        evaluations=[
            {
                "id": e["id"],
                "evaluated_on": e["evaluated_on"],
                "evaluator": e["evaluator"],
                "scores": e["scores"],
                "score": e["score"],
                "reach": e["reach"],
            }
            for e in history
        ],
        map_region=map_region_for(session, outlet["region_id"]),
        territory=region_ref_by_code(session, depth.territory_code),
        growth_windows=windows,
    )
