"""The distributor list: every distributor a user may see with its figures for a month —
sell-in (what it bought from the manufacturer), sell-out (what it sold its buyers), plan,
achievement, what it owes the manufacturer and since when, its credit limit — searched by
name, code or pinyin initials ("hdz" finds 华东总经销), filtered, sorted by any figure, paged.

One statement. The figures come from the rollups (``sales_buyer_months`` for sell-in, by its
buyer index; ``sales_seller_months`` for sell-out), the plans of the month, and the unpaid
sell-in through its covering partial index; nothing reads the sales records' history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Numeric, and_, case, cast, func, literal, select
from sqlalchemy.orm import Session

from ..errors import ValidationError
from ..models import (
    OUTLET_STATUSES,
    DistributorCredit,
    Outlet,
    OutletSearch,
    Region,
    SalesBuyerMonth,
    SalesPlan,
    SalesRecord,
    SalesSellerMonth,
    User,
)
from .access import outlet_scope
from .outlets import region_known
from .principal import Principal
from .regions import region_subtree

SORTS = (
    "code",
    "name",
    "sell_in",
    "sell_out",
    "plan",
    "achievement",
    "debt",
    "oldest_unpaid",
    "credit_limit",
)
MAX_LIMIT = 1000


@dataclass
class DistributorQuery:
    q: str | None = None  # text in code or name, or pinyin initials of the name
    region: str | None = None  # region code: the distributor lies in it or below
    rep: str | None = None  # username of the rep assigned
    status: list[str] | None = None  # default: every status
    month: dt.date | None = None  # default: the current month
    sort: str = "code"
    desc: bool = False
    limit: int = 50
    offset: int = 0


@dataclass
class DistributorPage:
    month: dt.date
    rows: list[dict]
    total: int
    totals: dict = field(default_factory=dict)


def _money(fen) -> object:
    return cast(cast(fen, Numeric) / 100, Numeric(16, 2))


def _qty(milli) -> object:
    return cast(cast(milli, Numeric) / 1000, Numeric(17, 3))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def check_query(session: Session, query: DistributorQuery, user: Principal | None) -> None:
    problems: dict[str, str] = {}
    if query.sort not in SORTS:
        problems["sort"] = f"one of {', '.join(SORTS)}"
    for s in query.status or ():
        if s not in OUTLET_STATUSES:
            problems["status"] = f"one of {', '.join(OUTLET_STATUSES)}"
    if query.region is not None and not region_known(session, query.region, user):
        problems["region"] = f"no region with code {query.region!r}"
    if (
        query.rep is not None
        and session.scalar(select(User.id).where(User.username == query.rep)) is None
    ):
        problems["rep"] = f"no user {query.rep!r}"
    if not 1 <= query.limit <= MAX_LIMIT:
        problems["limit"] = f"from 1 to {MAX_LIMIT}"
    if query.offset < 0:
        problems["offset"] = "must be ≥ 0"
    if problems:
        raise ValidationError("invalid distributor list query", fields=problems)


def distributor_list(
    session: Session, query: DistributorQuery, *, user: Principal | None
) -> DistributorPage:
    """A page of the distributors ``user`` may see matching ``query``, each with its figures
    for ``query.month`` (default this month), and the totals over every match."""
    check_query(session, query, user)
    month = (query.month or dt.date.today()).replace(day=1)
    d = Outlet.__table__.alias("d")
    conds = [d.c.tier == "distributor"]
    if user is not None and not user.is_admin:
        conds.append(outlet_scope(user, d))
    if query.q:
        # the distributors' trigram index of outlet_search (migration 0019)
        found = OutletSearch.__table__
        words = query.q.strip().lower().split()
        likes = [found.c.search_text.like(f"%{_escape_like(w)}%", escape="\\") for w in words]
        conds.append(d.c.id.in_(select(found.c.outlet_id).where(found.c.is_distributor, *likes)))
    if query.region is not None:
        tree = region_subtree(query.region)
        conds.append(d.c.region_id.in_(select(tree.c.id)))
    if query.rep is not None:
        conds.append(
            d.c.rep_id == select(User.id).where(User.username == query.rep).scalar_subquery()
        )
    if query.status:
        conds.append(d.c.status.in_(query.status))
    base = (
        select(d.c.id, d.c.code, d.c.name, d.c.status, d.c.region_id, d.c.rep_id)
        .where(*conds)
        .cte("listed")
    )
    # every distributor listed: a whole month of each figure, joined (ranges of the month
    # indexes); a narrower list: only its distributors' rows (index probes)
    everyone = len(conds) == 1
    ids = None if everyone else select(base.c.id)

    def only(column):
        return [] if ids is None else [column.in_(ids)]

    bm, sm = SalesBuyerMonth.__table__, SalesSellerMonth.__table__
    sell_in = (
        select(
            bm.c.buyer_id.label("id"),
            func.sum(bm.c.amount_fen).label("fen"),
            func.sum(bm.c.quantity_milli).label("milli"),
        )
        .where(bm.c.month == month, *only(bm.c.buyer_id))
        .group_by(bm.c.buyer_id)
        .subquery("sell_in")
    )
    sell_out = (
        select(
            sm.c.seller_id.label("id"),
            func.sum(sm.c.amount_fen).label("fen"),
            func.sum(sm.c.quantity_milli).label("milli"),
        )
        .where(sm.c.month == month, *only(sm.c.seller_id))
        .group_by(sm.c.seller_id)
        .subquery("sell_out")
    )
    p = SalesPlan.__table__
    plan = (
        select(
            p.c.distributor_id.label("id"),
            func.sum(p.c.target_amount).label("amount"),
            func.sum(p.c.target_quantity).label("quantity"),
        )
        .where(p.c.month == month, *only(p.c.distributor_id))
        .group_by(p.c.distributor_id)
        .subquery("plan")
    )
    s = SalesRecord.__table__
    debt = (
        select(
            s.c.buyer_id.label("id"),
            func.sum(s.c.amount - s.c.amount_paid).label("debt"),
            func.min(s.c.sale_date).label("oldest"),
        )
        .where(s.c.seller_id.is_(None), s.c.amount_paid < s.c.amount, *only(s.c.buyer_id))
        .group_by(s.c.buyer_id)
        .subquery("debt")
    )
    c = DistributorCredit.__table__
    r, u = Region.__table__, User.__table__
    sell_in_amount = func.coalesce(_money(sell_in.c.fen), literal(Decimal("0.00")))
    sell_out_amount = func.coalesce(_money(sell_out.c.fen), literal(Decimal("0.00")))
    plan_amount = plan.c.amount
    achievement = sell_in_amount / func.nullif(plan_amount, 0)
    debt_amount = func.coalesce(debt.c.debt, literal(Decimal("0.00")))
    columns = {
        "code": base.c.code,
        "name": base.c.name,
        "sell_in": sell_in_amount,
        "sell_out": sell_out_amount,
        "plan": plan_amount,
        "achievement": achievement,
        "debt": debt_amount,
        "oldest_unpaid": debt.c.oldest,
        "credit_limit": c.c.credit_limit,
    }
    key = columns[query.sort]
    order = [key.desc().nulls_last() if query.desc else key.asc().nulls_last(), base.c.code]
    stmt = (
        select(
            base.c.id,
            base.c.code,
            base.c.name,
            base.c.status,
            r.c.code.label("region_code"),
            r.c.name.label("region_name"),
            u.c.username.label("rep"),
            sell_in_amount.label("sell_in_amount"),
            func.coalesce(_qty(sell_in.c.milli), 0).label("sell_in_quantity"),
            sell_out_amount.label("sell_out_amount"),
            func.coalesce(_qty(sell_out.c.milli), 0).label("sell_out_quantity"),
            plan_amount.label("plan_amount"),
            plan.c.quantity.label("plan_quantity"),
            achievement.label("achievement"),
            debt_amount.label("debt"),
            debt.c.oldest.label("oldest_unpaid"),
            c.c.credit_limit,
            case(
                (c.c.credit_limit.is_(None), None),
                else_=and_(debt_amount > c.c.credit_limit),
            ).label("over_limit"),
            func.count().over().label("_total"),
            func.sum(sell_in_amount).over().label("_sell_in"),
            func.sum(sell_out_amount).over().label("_sell_out"),
            func.sum(func.coalesce(plan_amount, 0)).over().label("_plan"),
            func.sum(debt_amount).over().label("_debt"),
        )
        .select_from(
            base.outerjoin(sell_in, sell_in.c.id == base.c.id)
            .outerjoin(sell_out, sell_out.c.id == base.c.id)
            .outerjoin(plan, plan.c.id == base.c.id)
            .outerjoin(debt, debt.c.id == base.c.id)
            .outerjoin(c, c.c.distributor_id == base.c.id)
            .outerjoin(r, r.c.id == base.c.region_id)
            .outerjoin(u, u.c.id == base.c.rep_id)
        )
        .order_by(*order)
        .limit(query.limit)
        .offset(query.offset)
    )
    rows = [dict(m) for m in session.execute(stmt).mappings()]
    today = dt.date.today()
    totals = {"sell_in_amount": Decimal("0.00"), "sell_out_amount": Decimal("0.00"),
              "plan_amount": Decimal("0.00"), "debt": Decimal("0.00")}  # fmt: skip
    total = 0
    if rows:
        first = rows[0]
        total = first["_total"]
        totals = {
            "sell_in_amount": first["_sell_in"],
            "sell_out_amount": first["_sell_out"],
            "plan_amount": first["_plan"],
            "debt": first["_debt"],
        }
    elif query.offset:
        total = session.scalar(select(func.count()).select_from(base)) or 0
    for row in rows:
        for k in ("_total", "_sell_in", "_sell_out", "_plan", "_debt"):
            row.pop(k)
        if row["achievement"] is not None:
            row["achievement"] = float(row["achievement"])
        oldest = row["oldest_unpaid"]
        row["oldest_unpaid_days"] = (today - oldest).days if oldest else None
    plan_total = totals["plan_amount"]
    totals["achievement"] = float(totals["sell_in_amount"] / plan_total) if plan_total else None
    return DistributorPage(month, rows, total, totals)
