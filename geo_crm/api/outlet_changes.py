"""New, lost and re-assigned outlets (客户变动) of a region over HTTP: one call to
``analysis.outlet_changes.outlet_changes``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..analysis import outlet_changes as service
from .analysis import _answer
from .framework import Out, Query, operation

Kind = Literal[service.KINDS]  # type: ignore[valid-type]


class OutletChangesQuery(Query):
    from_month: str | None = Field(
        None, max_length=7, description="first month, YYYY-MM (default: 11 months before to)"
    )
    to_month: str | None = Field(
        None, max_length=7, description="last month, YYYY-MM (default: this one)"
    )
    months: int | None = Field(
        None,
        ge=1,
        le=24,
        description="stopped buying after this many months without a purchase "
        "(default: the setting stopped_buying_months, 3 unless changed)",
    )
    kind: list[Kind] = Field(
        default_factory=lambda: list(service.KINDS),
        description="kinds of event (repeat or comma-separate; default all)",
    )
    limit: int = Field(
        service.DEFAULT_LIMIT, ge=1, le=service.MAX_LIMIT, description="newest events listed"
    )


class MonthOut(Out):
    month: str
    started: int
    stopped: int
    supplier: int
    closed: int


class EventOut(Out):
    kind: Kind
    month: str
    outlet_code: str
    outlet_name: str
    tier: str
    status: str
    lon: float | None
    lat: float | None
    changed_at: str | None = Field(description="supplier, closed: when it was recorded")
    changed_by: str | None = Field(description="supplier, closed: who (null: the system)")
    old_value: str | None = Field(
        description="supplier: the former supplier's code; closed: the former status"
    )
    new_value: str | None
    last_purchase: str | None = Field(description="stopped: the month of the last purchase")


class OutletChangesOut(Out):
    region: dict[str, str]
    from_: str = Field(alias="from")
    to: str
    stopped_months: int
    as_of: str
    kinds: list[str]
    totals: dict[str, int]
    months: list[MonthOut]
    events: list[EventOut]
    total: int = Field(description="events of the whole period")
    truncated: bool = Field(description="events holds the newest `limit` of them")


@operation(
    "/regions/<code>/outlet-changes",
    "GET",
    summary="New, lost and re-assigned outlets per month (客户变动)",
    tags=["analyses"],
    query=OutletChangesQuery,
    responses={200: OutletChangesOut, 404: None, 422: None},
)
def region_outlet_changes(code: str, query: OutletChangesQuery):
    """Outlets of the region that started buying, stopped buying (no purchase in ``months``
    months), changed supplier or closed, counted per month, and the newest events listed."""
    return _answer(
        service.outlet_changes,
        code,
        month_from=query.from_month,
        month_to=query.to_month,
        stopped_months=query.months,
        kinds=list(query.kind),
        limit=query.limit,
    )
