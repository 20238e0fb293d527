"""Judging distributors over HTTP: evaluations (经销商评估) with their reach and score, the
weights of the score, a distributor's class.

Views parse, call one domain or analysis function and serialise; money as decimal strings.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import jsonify
from pydantic import Field

from ..analysis.judging import distributor_class, record_evaluation, scorecard
from ..auth.policy import current_user
from ..db import get_session
from ..domain import evaluations as ev
from .distributors import plain_json
from .framework import Body, Out, Query, operation
from .schemas import IsoDate, Money, field_names

TAGS = ["evaluations"]

Text = Field(None, max_length=ev.MAX_TEXT)


class EvaluationBody(Body):
    evaluated_on: IsoDate | None = Field(None, description="default today; never in the future")
    initiative: int = Field(ge=1, le=5, description="积极性, 1 (poor) to 5 (excellent)")
    credit: int = Field(ge=1, le=5, description="信誉, 1 to 5")
    capital: Money | None = Field(None, description="operating capital, yuan")
    brands_carried: list[str] = Field(
        default_factory=list, max_length=ev.MAX_BRANDS, description="best-selling brands carried"
    )
    warehouses: int | None = Field(None, ge=0, le=ev.SMALLINT_MAX)
    warehouse_area_m2: float | None = Field(None, ge=0)
    vehicles: int | None = Field(None, ge=0, le=ev.SMALLINT_MAX)
    staff: int | None = Field(None, ge=0, le=ev.SMALLINT_MAX)
    social_relations: str | None = Field(
        None, max_length=ev.MAX_TEXT, description="社会关系: business relations, free text"
    )
    notes: str | None = Field(None, max_length=ev.MAX_TEXT)


class ReachOut(Out):
    by_tier: dict[str, int]
    outlets: int
    km2: float | None
    territory: str | None
    regions: list[str]
    units: int


class EvaluationOut(Out):
    id: int
    distributor_code: str
    distributor_name: str
    evaluated_on: dt.date
    initiative: int
    credit: int
    capital: str | None
    brands_carried: list[str]
    warehouses: int | None
    warehouse_area_m2: float | None
    vehicles: int | None
    staff: int | None
    social_relations: str | None
    notes: str | None
    evaluator: str | None
    created_at: dt.datetime
    reach: ReachOut
    scores: dict[str, float] = Field(description="criterion sub-scores, 0–100")
    score: float = Field(description="0–100 under the current weights")
    weights_version: int


class EvaluationList(Out):
    items: list[EvaluationOut]


class EvaluationListQuery(Query):
    limit: int = Field(200, ge=1, le=1000)


@operation(
    "/distributors/<code>/evaluations",
    "POST",
    summary="Record an evaluation of a distributor",
    tags=TAGS,
    body=EvaluationBody,
    responses={201: EvaluationOut, 404: None, 422: None},
)
def create_evaluation(code: str, body: EvaluationBody):
    """A dated assessment (never overwritten); the reach of its network now is computed and
    stored with it. Nothing about people's health, religion or family belongs here."""
    session = get_session()
    with field_names(session):
        row = record_evaluation(
            session, ev.EvaluationIn(distributor=code, **body.model_dump()), user=current_user()
        )
        session.commit()
    return jsonify(plain_json(row)), 201


@operation(
    "/distributors/<code>/evaluations",
    "GET",
    summary="A distributor's evaluations with their scores",
    tags=TAGS,
    query=EvaluationListQuery,
    responses={200: EvaluationList, 404: None},
)
def list_evaluations(code: str, query: EvaluationListQuery):
    """Newest first, each scored under the current weights (history is re-scored on read)."""
    session = get_session()
    with field_names(session, prefix="query"):
        rows = ev.list_evaluations(session, code, user=current_user(), limit=query.limit)
    return jsonify({"items": plain_json(rows)})


class ClassQuery(Query):
    as_of: IsoDate | None = Field(None, description="the day the year's achievement runs to")


@operation(
    "/distributors/<code>/class",
    "GET",
    summary="A distributor's class (A/B/C/D)",
    tags=TAGS,
    query=ClassQuery,
    responses={200: None, 404: None},
)
def get_distributor_class(code: str, query: ClassQuery):
    """From the latest evaluation's score and the year's plan achievement to date."""
    session = get_session()
    with field_names(session, prefix="query"):
        result = distributor_class(session, code, user=current_user(), as_of=query.as_of)
    return jsonify(plain_json(result.to_dict()))


class WeightsBody(Body):
    initiative: Decimal = Field(ge=0, allow_inf_nan=False, strict=False)
    capability: Decimal = Field(ge=0, allow_inf_nan=False, strict=False)
    credit: Decimal = Field(ge=0, allow_inf_nan=False, strict=False)
    reach: Decimal = Field(ge=0, allow_inf_nan=False, strict=False)
    full_capital: Decimal | None = Field(None, gt=0, allow_inf_nan=False, strict=False)
    full_warehouse_m2: float | None = Field(None, gt=0)
    full_vehicles: int | None = Field(None, gt=0)
    full_staff: int | None = Field(None, gt=0)
    full_brands: int | None = Field(None, gt=0)
    full_outlets: int | None = Field(None, gt=0)
    note: str | None = Field(None, max_length=ev.MAX_TEXT)
    version: int | None = Field(None, description="the version being replaced (409 if stale)")


@operation(
    "/evaluation-weights",
    "GET",
    summary="The evaluation score's weights, every version",
    tags=TAGS,
    responses={200: None},
)
def get_evaluation_weights():
    """The weights in force and their history, newest first."""
    session = get_session()
    history = ev.weights_history(session)
    return jsonify(plain_json({"current": history[0], "history": history}))


@operation(
    "/evaluation-weights",
    "PUT",
    summary="Store a new version of the evaluation weights",
    tags=TAGS,
    body=WeightsBody,
    responses={200: None, 409: None, 422: None},
)
def put_evaluation_weights(body: WeightsBody):
    """Weights ≥ 0 summing to a positive number; full marks left out keep their values. Every
    evaluation is re-scored on read under the new version; none is rewritten."""
    session = get_session()
    data = body.model_dump()
    version = data.pop("version")
    with field_names(session):
        row = ev.set_weights(
            session, ev.WeightsIn(**data), user=current_user(), expected_version=version
        )
        session.commit()
    return jsonify(plain_json(row))


class ScorecardQuery(Query):
    as_of: IsoDate | None = Field(None, description="the day the scorecard is drawn up to")


@operation(
    "/distributors/<code>/scorecard",
    "GET",
    summary="A distributor's scorecard",
    tags=TAGS,
    query=ScorecardQuery,
    responses={200: None, 404: None},
)
def get_scorecard(code: str, query: ScorecardQuery):
    """Class, 12 months of plan, sell-in and sell-out with growth month over month and year
    over year, depth and breadth, debt ageing, and the evaluations with their sub-scores and
    reach (oldest first): the figures of the scorecard page."""
    session = get_session()
    with field_names(session, prefix="query"):
        card = scorecard(session, code, user=current_user(), as_of=query.as_of)
    return jsonify(plain_json(card.to_dict()))
