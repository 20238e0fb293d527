"""Monthly sales plans over HTTP: list, create, read, change (optimistic locking with
``version`` / ``If-Match``), delete, history, copy last month's, and closed months.

Money and quantities travel as decimal strings. A change of a closed month's plan by anyone
but an admin answers 422 on ``month``; a stale version answers 409 with the plan as it is now
in ``error.detail``.
"""

from __future__ import annotations

import datetime as dt

from flask import jsonify, make_response, url_for
from pydantic import Field

from ..auth.policy import current_user, object_id
from ..db import get_session
from ..domain import plans as svc
from ..models import SUPPORT_KINDS
from .framework import Body, Out, Query, operation
from .schemas import (
    CleanText,
    Code,
    Money,
    Quantity,
    Version,
    client_version,
    conflict_detail,
    field_names,
    jsonable,
)

TAGS = ["plans"]

Month = str  # documented by the Field patterns below


def _month_field(description: str, default=...):
    return Field(default, pattern=r"^\d{4}-\d{1,2}$", description=description)


class StepIn(Body):
    by_day: int | None = Field(
        None, ge=1, le=31, description="cumulative target by this day; null: the month's end"
    )
    target_quantity: Quantity | None = None
    target_amount: Money | None = None


class SupportIn(Body):
    kind: str = Field(description=f"one of {', '.join(SUPPORT_KINDS)}")
    description: CleanText = Field(min_length=1)
    amount: Money | None = None


class PlanIn(Body):
    distributor_code: Code
    month: Month = _month_field("YYYY-MM")
    product_sku: Code
    target_quantity: Quantity
    target_amount: Money
    schedule: list[StepIn] = Field(default_factory=list, max_length=31)
    support: list[SupportIn] = Field(default_factory=list, max_length=100)
    support_notes: CleanText | None = None


class PlanPatch(Body):
    version: Version | None = None
    target_quantity: Quantity | None = None
    target_amount: Money | None = None
    schedule: list[StepIn] | None = Field(None, max_length=31, description="replaces the schedule")
    support: list[SupportIn] | None = Field(None, max_length=100, description="replaces support")
    support_notes: CleanText | None = None


class StepOut(Out):
    by_day: int
    target_quantity: str | None
    target_amount: str | None


class SupportOut(Out):
    kind: str
    description: str
    amount: str | None


class PlanOut(Out):
    id: int
    distributor_code: str
    distributor_name: str
    month: str = Field(description="YYYY-MM")
    product_sku: str
    product_name: str
    target_quantity: str
    target_amount: str
    support_notes: str | None
    version: int
    updated_at: dt.datetime
    closed: bool = Field(description="the month is closed: only an admin may change it")
    schedule: list[StepOut]
    support: list[SupportOut]


class PlanListQuery(Query):
    distributor: str | None = Field(None, max_length=64)
    region: str | None = Field(None, max_length=32)
    product: str | None = Field(None, max_length=64)
    month_from: str | None = _month_field("first month (YYYY-MM)", None)
    month_to: str | None = _month_field("last month (YYYY-MM)", None)
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class PlanPage(Out):
    items: list[PlanOut]
    total: int
    target_quantity: str
    target_amount: str
    limit: int
    offset: int


class CopyIn(Body):
    to_month: Month = _month_field("the month to fill (YYYY-MM)")
    from_month: Month | None = _month_field("default: the month before", None)
    distributor_code: Code | None = None
    region: str | None = Field(None, max_length=32)


class CopyOut(Out):
    from_month: str
    to_month: str
    copied: int
    skipped: list[dict]


class ChangeOut(Out):
    id: int
    changed_at: dt.datetime
    user: str | None
    table_name: str
    action: str
    old: dict | None
    new: dict | None


class ChangeList(Out):
    items: list[ChangeOut]


class ClosedMonthOut(Out):
    month: str
    closed_at: dt.datetime
    closed_by: str | None


class ClosedMonthList(Out):
    items: list[ClosedMonthOut]


class CloseIn(Body):
    month: Month = _month_field("YYYY-MM")


def plan_json(plan: dict) -> dict:
    out = jsonable(plan, drop=("schedule", "support"))
    out["month"] = plan["month"].isoformat()[:7]
    out["schedule"] = [jsonable(s) for s in plan["schedule"]]
    out["support"] = [jsonable(s) for s in plan["support"]]
    return out


def filters_of(query) -> svc.PlanFilters:
    return svc.PlanFilters(
        distributor=query.distributor,
        region=query.region,
        product=query.product,
        month_from=svc.parse_month(query.month_from, field="month_from")
        if query.month_from
        else None,
        month_to=svc.parse_month(query.month_to, field="month_to") if query.month_to else None,
    )


def _steps(steps) -> list[svc.Step]:
    return [svc.Step(s.by_day, s.target_quantity, s.target_amount) for s in steps]


def _support(lines) -> list[svc.Support]:
    return [svc.Support(s.kind, s.description, s.amount) for s in lines]


@operation(
    "/plans",
    "GET",
    summary="List sales plans",
    tags=TAGS,
    query=PlanListQuery,
    responses={200: PlanPage, 422: None},
)
def list_plans(query: PlanListQuery):
    """Plans by month, distributor and product, with schedules, support and the totals."""
    session = get_session()
    with field_names(session, prefix="query"):
        page = svc.plan_page(
            session, filters_of(query), user=current_user(), limit=query.limit,
            offset=query.offset,
        )  # fmt: skip
    return jsonify(
        {
            "items": [plan_json(r) for r in page.rows],
            "total": page.total,
            "target_quantity": str(page.target_quantity),
            "target_amount": str(page.target_amount),
            "limit": query.limit,
            "offset": query.offset,
        }
    )


@operation(
    "/plans",
    "POST",
    summary="Create a sales plan",
    tags=TAGS,
    body=PlanIn,
    responses={201: PlanOut, 409: None, 422: None},
)
def create_plan(body: PlanIn):
    """A distributor's plan for a month and product, with its schedule and support lines."""
    session = get_session()
    with field_names(session):
        plan = svc.create_plan(
            session,
            distributor_code=body.distributor_code,
            month=svc.parse_month(body.month),
            product_sku=body.product_sku,
            target_quantity=body.target_quantity,
            target_amount=body.target_amount,
            schedule=_steps(body.schedule),
            support=_support(body.support),
            support_notes=body.support_notes,
            user=current_user(),
        )
        session.commit()
    response = make_response(jsonify(plan_json(plan)), 201)
    response.headers["Location"] = url_for("api.get_plan", plan_id=plan["id"])
    response.set_etag(str(plan["version"]))
    return response


@operation(
    "/plans/<int:plan_id>",
    "GET",
    summary="Get a sales plan",
    tags=TAGS,
    responses={200: PlanOut, 404: None},
)
def get_plan(plan_id: int):
    """One plan with its schedule and support lines; the ETag is its version."""
    plan = svc.get_plan(get_session(), object_id("plan_id"))
    response = jsonify(plan_json(plan))
    response.set_etag(str(plan["version"]))
    return response


@operation(
    "/plans/<int:plan_id>",
    "PATCH",
    summary="Change a sales plan",
    tags=TAGS,
    body=PlanPatch,
    responses={200: PlanOut, 404: None, 409: None, 422: None},
)
@conflict_detail
def update_plan(plan_id: int, body: PlanPatch):
    """Change targets, notes, the schedule or the support lines of a plan read at ``version``
    (body or If-Match); a stale version is a 409 with the current plan in ``error.detail``."""
    version = client_version(body.version, required=True)
    fields = body.model_dump(exclude_unset=True, exclude={"version", "schedule", "support"})
    session = get_session()
    with field_names(session):
        plan = svc.update_plan(
            session,
            object_id("plan_id"),
            version=version,
            schedule=None if body.schedule is None else _steps(body.schedule),
            support=None if body.support is None else _support(body.support),
            user=current_user(),
            **fields,
        )
        session.commit()
    response = jsonify(plan_json(plan))
    response.set_etag(str(plan["version"]))
    return response


class DeleteQuery(Query):
    version: int | None = Field(None, ge=1, description="the version you read (or If-Match)")


@operation(
    "/plans/<int:plan_id>",
    "DELETE",
    summary="Delete a sales plan",
    tags=TAGS,
    query=DeleteQuery,
    responses={204: None, 404: None, 409: None, 422: None},
)
@conflict_detail
def delete_plan(plan_id: int, query: DeleteQuery):
    """Delete a plan read at ``version`` (query or If-Match); the history keeps it."""
    version = client_version(query.version, required=True, field="query.version")
    session = get_session()
    with field_names(session):
        svc.delete_plan(session, object_id("plan_id"), version=version, user=current_user())
        session.commit()
    return make_response("", 204)


@operation(
    "/plans/<int:plan_id>/history",
    "GET",
    summary="A plan's history",
    tags=TAGS,
    responses={200: ChangeList, 404: None},
)
def plan_history(plan_id: int):
    """Every change of the plan, its schedule and support lines: who, when, before, after."""
    rows = svc.plan_history(get_session(), object_id("plan_id"))
    return jsonify({"items": [jsonable(r) for r in rows]})


@operation(
    "/plans/copy",
    "POST",
    summary="Copy a month's plans to another month",
    tags=TAGS,
    body=CopyIn,
    responses={200: CopyOut, 422: None},
)
def copy_plans(body: CopyIn):
    """Copy last month's plans (or ``from_month``'s) to ``to_month``, with schedules and
    support; products already planned are skipped and listed."""
    session = get_session()
    with field_names(session):
        report = svc.copy_plans(
            session,
            to_month=body.to_month,
            from_month=body.from_month,
            distributor_code=body.distributor_code,
            region=body.region,
            user=current_user(),
        )
        session.commit()
    return jsonify(report.to_dict())


def _closed_json(row: dict) -> dict:
    return {**jsonable(row), "month": row["month"].isoformat()[:7]}


@operation(
    "/closed-months",
    "GET",
    summary="Closed months",
    tags=TAGS,
    responses={200: ClosedMonthList},
)
def list_closed_months():
    """Months whose plans only an admin may change."""
    return jsonify({"items": [_closed_json(r) for r in svc.closed_months(get_session())]})


@operation(
    "/closed-months",
    "POST",
    summary="Close a month",
    tags=TAGS,
    body=CloseIn,
    responses={201: ClosedMonthOut, 409: None, 422: None},
)
def close_month(body: CloseIn):
    """From now on only an admin changes this month's plans."""
    session = get_session()
    with field_names(session):
        row = svc.close_month(session, body.month, user=current_user())
        session.commit()
    return make_response(jsonify(_closed_json(row)), 201)


@operation(
    "/closed-months/<month>",
    "DELETE",
    summary="Reopen a month",
    tags=TAGS,
    responses={204: None, 404: None, 422: None},
)
def reopen_month(month: str):
    """Let managers change the month's plans again."""
    session = get_session()
    with field_names(session, prefix="path"):
        svc.reopen_month(session, month)
        session.commit()
    return make_response("", 204)
