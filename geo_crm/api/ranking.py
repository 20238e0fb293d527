"""Ranking the distributors of a region over a period by one figure, over HTTP."""

from __future__ import annotations

from typing import Literal

from flask import jsonify
from pydantic import Field

from ..analysis.ranking import FIGURES, ranking
from ..auth.policy import current_user
from ..db import get_session
from .distributors import plain_json
from .framework import Query, operation
from .schemas import field_names

Figure = Literal[FIGURES]  # type: ignore[valid-type]


class RankingQuery(Query):
    by: Figure = Field("achievement", description="the figure distributors are ranked by")
    period: str | None = Field(
        None, max_length=7, description="YYYY-MM (a month) or YYYY (a year); default this month"
    )
    compare: Literal["mom", "yoy"] = Field(
        "mom",
        description="growth against the period before (mom; a year: the year before) or a year "
        "earlier (yoy); a period still running is compared to date, day for day "
        "(the answer's `growth` says which days)",
    )


@operation(
    "/regions/<code>/ranking",
    "GET",
    summary="Distributors of a region ranked by a figure",
    tags=["evaluations"],
    query=RankingQuery,
    responses={200: None, 404: None, 422: None},
)
def region_ranking(code: str, query: RankingQuery):
    """Active distributors of the region (and below) in the caller's scope, ranked by plan
    achievement, growth, sell-out, 铺货率 (distribution rate), breadth, debt age or score over
    the period, each with every figure (docs/business.md "Ranking")."""
    session = get_session()
    with field_names(session, prefix="query"):
        result = ranking(
            session,
            code,
            by=query.by,
            period=query.period,
            user=current_user(),
            compare=query.compare,
        )
    return jsonify(plain_json(result.to_dict()))
