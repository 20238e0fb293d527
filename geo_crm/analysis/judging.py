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

from sqlalchemy.orm import Session

from ..domain import evaluations as ev
from ..domain.network import distributor as find_distributor
from ..domain.principal import Principal
from .coverage import coverage
from .distribution import distributor_depth
from .params import AnalysisParams
from .plans import plan_against_actual


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
    ref = find_distributor(session, code, user=user)
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
