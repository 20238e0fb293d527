"""The distributor business over HTTP: the distributor list with its month's figures, credit
limits, business settings, debt ageing and plan against actual.

Views parse, call one domain or analysis function and serialise; money as decimal strings.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from flask import jsonify
from pydantic import Field

from ..analysis.plans import DIMENSIONS, plan_against_actual
from ..auth.policy import current_user
from ..db import get_session
from ..domain import credit as credit_svc
from ..domain import distributors as list_svc
from ..domain.debt import debt_ageing
from ..domain.plans import parse_month
from ..models import OUTLET_STATUSES, REGION_LEVELS
from .framework import Body, Out, Query, operation
from .schemas import IsoDate, Money, field_names, jsonable

TAGS = ["distributors"]

Status = Literal[OUTLET_STATUSES]  # type: ignore[valid-type]
Sort = Literal[list_svc.SORTS]  # type: ignore[valid-type]
Level = Literal[REGION_LEVELS]  # type: ignore[valid-type]
Dimension = Literal[DIMENSIONS]  # type: ignore[valid-type]


def plain_json(value):
    """Dicts, lists, dates and Decimals as JSON (decimal strings)."""
    if isinstance(value, dict):
        return {k: plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    return jsonable({"v": value})["v"]


# -- the list -------------------------------------------------------------------------------


class DistributorListQuery(Query):
    q: str | None = Field(
        None, min_length=1, max_length=100, description="code, name or pinyin initials (hdz)"
    )
    region: str | None = Field(None, max_length=32, description="in this region or below")
    rep: str | None = Field(None, max_length=64, description="rep's username")
    status: list[Status] = Field(default_factory=list, description="default: every status")
    month: str | None = Field(
        None, pattern=r"^\d{4}-\d{1,2}$", description="figures of this month (default: this one)"
    )
    sort: Sort = "code"
    desc: bool = False
    limit: int = Field(50, ge=1, le=list_svc.MAX_LIMIT)
    offset: int = Field(0, ge=0)


class DistributorRow(Out):
    code: str
    name: str
    status: str
    region_code: str | None
    region_name: str | None
    rep: str | None
    sell_in_amount: str = Field(description="bought from the manufacturer in the month")
    sell_in_quantity: str
    sell_out_amount: str = Field(description="sold to its buyers in the month")
    sell_out_quantity: str
    plan_amount: str | None
    plan_quantity: str | None
    achievement: float | None = Field(description="sell-in amount / plan amount")
    debt: str = Field(description="owed to the manufacturer now (unpaid sell-in)")
    oldest_unpaid: dt.date | None
    oldest_unpaid_days: int | None
    credit_limit: str | None
    over_limit: bool | None


class DistributorListOut(Out):
    month: str
    items: list[DistributorRow]
    total: int
    totals: dict
    limit: int
    offset: int


@operation(
    "/distributors",
    "GET",
    summary="Distributors with their figures for a month",
    tags=TAGS,
    query=DistributorListQuery,
    responses={200: DistributorListOut, 422: None},
)
def list_distributors(query: DistributorListQuery):
    """Distributors in the caller's scope with the month's sell-in, sell-out, plan,
    achievement, debt to the manufacturer, oldest unpaid sale and credit limit; searched by
    code, name or pinyin initials, sorted by any figure."""
    session = get_session()
    with field_names(session, prefix="query"):
        month = parse_month(query.month) if query.month else None
        page = list_svc.distributor_list(
            session,
            list_svc.DistributorQuery(
                q=query.q,
                region=query.region,
                rep=query.rep,
                status=list(query.status) or None,
                month=month,
                sort=query.sort,
                desc=query.desc,
                limit=query.limit,
                offset=query.offset,
            ),
            user=current_user(),
        )
    items = [jsonable(r, drop=("id",)) for r in page.rows]
    return jsonify(
        {
            "month": page.month.isoformat()[:7],
            "items": items,
            "total": page.total,
            "totals": plain_json(page.totals),
            "limit": query.limit,
            "offset": query.offset,
        }
    )


# -- credit limits and settings -------------------------------------------------------------


class CreditIn(Body):
    credit_limit: Money | None = Field(description="null removes the limit")


class CreditOut(Out):
    distributor_code: str
    distributor_name: str
    credit_limit: str | None
    debt: str
    available: str | None
    over_limit: bool
    policy: str


@operation(
    "/distributors/<code>/credit",
    "PUT",
    summary="Set a distributor's credit limit",
    tags=TAGS,
    body=CreditIn,
    responses={200: CreditOut, 404: None, 422: None},
)
def set_credit_limit(code: str, body: CreditIn):
    """Set or remove the limit of what the distributor may owe the manufacturer."""
    session = get_session()
    with field_names(session):
        result = credit_svc.set_credit_limit(session, code, body.credit_limit, user=current_user())
        session.commit()
    return jsonify(jsonable(result))


class SettingOut(Out):
    key: str
    value: str
    choices: list[str]
    doc: str
    updated_at: dt.datetime | None
    updated_by: str | None


class SettingList(Out):
    items: list[SettingOut]


class SettingIn(Body):
    value: str = Field(min_length=1, max_length=64)


@operation(
    "/settings",
    "GET",
    summary="Business settings",
    tags=TAGS,
    responses={200: SettingList},
)
def list_settings():
    """Every business setting (e.g. ``credit_policy``) with its value and choices."""
    return jsonify({"items": [jsonable(s) for s in credit_svc.list_settings(get_session())]})


@operation(
    "/settings/<key>",
    "PUT",
    summary="Change a business setting",
    tags=TAGS,
    body=SettingIn,
    responses={200: SettingOut, 404: None, 422: None},
)
def put_setting(key: str, body: SettingIn):
    """Set e.g. ``credit_policy`` to ``warn`` or ``refuse``."""
    session = get_session()
    with field_names(session):
        row = credit_svc.set_setting(session, key, body.value, user=current_user())
        session.commit()
    return jsonify(jsonable(row))


# -- debt ageing ----------------------------------------------------------------------------


class AgeingQuery(Query):
    as_of: IsoDate | None = Field(None, description="count ages to this day (default today)")
    region: str | None = Field(None, max_length=32)
    distributor: str | None = Field(None, max_length=64)
    level: Level = Field("province", description="the regions the totals are grouped by")


@operation(
    "/debt/ageing",
    "GET",
    summary="Debt ageing per distributor and region",
    tags=TAGS,
    query=AgeingQuery,
    responses={200: None, 422: None},
)
def get_debt_ageing(query: AgeingQuery):
    """What each distributor owes the manufacturer beside what its buyers owe it, in the
    buckets 0–30, 31–60, 61–90 and over 90 days, with the oldest unpaid invoice, and the
    totals per region."""
    session = get_session()
    with field_names(session, prefix="query"):
        result = debt_ageing(
            session,
            user=current_user(),
            as_of=query.as_of,
            region=query.region,
            distributor=query.distributor,
            level=query.level,
        )
    return jsonify(plain_json(result.to_dict()))


# -- plan against actual --------------------------------------------------------------------


class PlanActualQuery(Query):
    period: str | None = Field(
        None, max_length=7, description="YYYY-MM (a month) or YYYY (a year); default this month"
    )
    distributor: str | None = Field(None, max_length=64)
    region: str | None = Field(None, max_length=32)
    product: str | None = Field(None, max_length=64)
    by: list[Dimension] = Field(
        default_factory=list,
        description="line dimensions (default month,product for a distributor, else "
        "month,distributor)",
    )
    as_of: IsoDate | None = Field(None, description="the day time gone is counted to")


@operation(
    "/plan-actual",
    "GET",
    summary="Plan against actual (sell-in and sell-out)",
    tags=TAGS,
    query=PlanActualQuery,
    responses={200: None, 422: None},
)
def get_plan_actual(query: PlanActualQuery):
    """Detail lines, totals and cumulative figures of plan, sell-in and sell-out for a
    distributor, a region, a product or everything in scope, over a month or a year, with the
    share of the period gone."""
    session = get_session()
    with field_names(session, prefix="query"):
        result = plan_against_actual(
            session,
            user=current_user(),
            period=query.period,
            distributor=query.distributor,
            region=query.region,
            product=query.product,
            by=tuple(query.by) or None,
            as_of=query.as_of,
        )
    return jsonify(plain_json(result.to_dict()))
