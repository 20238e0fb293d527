"""The business tabs of a distributor page (issue 13b): purchases, plans, payments and debt.

One call per tab for the page: each tab gathers what the API's own domain functions answer
(:func:`~geo_crm.domain.sales.sales_page`, :func:`~geo_crm.domain.plans.plan_page`,
:func:`~geo_crm.analysis.plans.plan_against_actual`, :func:`~geo_crm.domain.debt.debt_ageing`,
:func:`~geo_crm.domain.credit.credit_of` …) for one distributor the caller may see (resolved by
the access policy), so a page shows exactly what the API would. The overview tab (network map,
depth and breadth) stays :func:`~geo_crm.analysis.overviews.distributor_overview`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ..domain import credit as credit_svc
from ..domain import plans as plan_svc
from ..domain import sales as sales_svc
from ..domain.debt import AgeingRow, debt_ageing
from ..domain.outlets import get_outlet
from ..domain.principal import Principal
from .overviews import NotADistributor
from .plans import PlanActual, plan_against_actual

TABS = ("overview", "purchases", "plans", "payments", "debt")
PAGE_SIZE = 50
UNPAID_CHOICES = 200  # unpaid sell-in offered by the payment form, oldest first


@dataclass
class DistributorTab:
    """What one tab of the distributor page shows (the fields of the other tabs stay empty)."""

    tab: str
    outlet: dict
    credit: dict
    month: dt.date
    products: list[dict] = field(default_factory=list)
    # purchases: the sell-in records (newest pages last, as the API lists them), the month's
    # sell-in beside its sell-out
    sell_in: sales_svc.SalesPage | None = None
    offset: int = 0
    month_in: sales_svc.SalesTotals | None = None
    month_out: sales_svc.SalesTotals | None = None
    # purchases and payments: the unpaid sell-in a payment may go to
    unpaid: list[dict] = field(default_factory=list)
    # plans
    plans: list[dict] = field(default_factory=list)
    plan_actual: PlanActual | None = None
    plan: dict | None = None
    history: list[dict] = field(default_factory=list)
    closed: bool = False
    # payments
    payments: list[dict] = field(default_factory=list)
    # debt
    ageing: AgeingRow | None = None
    as_of: dt.date | None = None


def _month_range(month: dt.date) -> tuple[dt.date, dt.date]:
    return month, plan_svc.next_month(month) - dt.timedelta(days=1)


def distributor_tab(
    session: Session,
    user: Principal | None,
    outlet_id: int,
    tab: str,
    *,
    month: dt.date | None = None,
    plan_id: int | None = None,
    offset: int = 0,
) -> DistributorTab:
    """Tab ``tab`` (one of :data:`TABS` but ``overview``) of the distributor ``outlet_id``
    (resolved in ``user``'s scope by the caller) for ``month`` (default this one); on the plans
    tab, ``plan_id`` picks the plan whose form and history are shown (one of the month's)."""
    outlet = get_outlet(session, outlet_id)
    if outlet["tier"] != "distributor":
        raise NotADistributor(f"{outlet['code']} is not a distributor")
    code = outlet["code"]
    month = (month or dt.date.today()).replace(day=1)
    out = DistributorTab(tab, outlet, credit_svc.credit_of(session, outlet_id), month)
    first, last = _month_range(month)
    if tab in ("purchases", "plans"):
        out.products = sales_svc.list_products(session, active=True)
    if tab in ("purchases", "payments"):
        out.unpaid = sales_svc.sales_page(
            session,
            sales_svc.SalesFilters(distributor=code, sell_in=True, unpaid=True),
            user=user,
            limit=UNPAID_CHOICES,
            with_totals=False,
        ).rows
    if tab == "purchases":
        out.offset = max(offset, 0)
        out.sell_in = sales_svc.sales_page(
            session,
            sales_svc.SalesFilters(distributor=code, sell_in=True),
            user=user,
            limit=PAGE_SIZE,
            offset=out.offset,
        )
        period = {"date_from": first, "date_to": last, "distributor": code}
        out.month_in = sales_svc.sales_summary(
            session, sales_svc.SalesFilters(**period, sell_in=True), user=user
        )
        out.month_out = sales_svc.sales_summary(
            session, sales_svc.SalesFilters(**period, sell_in=False), user=user
        )
    elif tab == "plans":
        page = plan_svc.plan_page(
            session,
            plan_svc.PlanFilters(distributor=code, month_from=month, month_to=month),
            user=user,
            limit=1000,
        )
        out.plans = page.rows
        out.closed = plan_svc.is_closed(session, month)
        out.plan_actual = plan_against_actual(
            session, user=user, period=f"{month:%Y-%m}", distributor=code, by=("product",)
        )
        chosen = [p for p in out.plans if p["id"] == plan_id]
        if chosen:
            out.plan = chosen[0]
            out.history = plan_svc.plan_history(session, plan_id)
    elif tab == "payments":
        out.payments = sales_svc.distributor_payments(session, outlet_id, limit=PAGE_SIZE)
    elif tab == "debt":
        result = debt_ageing(session, user=user, distributor=code)
        out.as_of = result.as_of
        out.ageing = result.rows[0] if result.rows else None
    return out
