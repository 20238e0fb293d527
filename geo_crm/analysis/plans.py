"""Plan against actual (计划完成): for a distributor, a region, a product, or everything a user
may see, over a month or a year — detail lines (明细), totals (合计) and cumulative figures
(累计) against the plan, with progress against the time gone in the period ("day 20 of 30:
58 % of plan, 67 % of the month gone").

- *plan*: ``sales_plans`` of the period; *expected to date*: for a month wholly gone its
  target, for a month not begun 0, for the month of ``as_of`` the schedule's cumulative target
  of the last step on or before that day (no schedule: the target pro rata of the days gone;
  a schedule whose first step lies ahead: 0; the month's last day: the target). A step that
  gives only a quantity expects the plan's amount in the same share of its target quantity
  (and a step giving only an amount, the quantity in its share): a schedule of quantities
  once expected no amount at all, and the ratio to date had no denominator;
- *sell-in* (进货): what the distributors bought from the manufacturer (``sales_buyer_months``
  of the distributors: every sale to a distributor is sell-in); *sell-out* (出货): what they
  sold their buyers (``sales_seller_months``). Both read rollups, never the sales records;
- *achievement*: actual amount / the period's whole plan amount, for sell-in and sell-out
  side by side (the plan is a sell-in target; docs/business.md); *to date*: sell-in amount /
  expected to date (None while nothing is expected yet);
- *time gone*: days of the period up to ``as_of`` (inclusive) / days in the period.

Rows are grouped by ``by`` (any of distributor, month, product) and come in that order;
cumulative figures run through the months in each group of the other dimensions.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ..domain.access import distributor_scope
from ..domain.network import distributor as find_distributor
from ..domain.outlets import region_known
from ..domain.principal import Principal
from ..domain.regions import region_subtree
from ..domain.sales import product_id as find_product
from ..errors import ValidationError
from ..models import Outlet

DIMENSIONS = ("distributor", "month", "product")
ZERO = Decimal("0")
_PERIOD = re.compile(r"^\s*(\d{4})(?:\s*[-/]\s*(\d{1,2}))?\s*$")

_SQL = """
WITH pl AS (  -- months before or after as_of's: the whole target, or nothing yet
    SELECT p.distributor_id AS d, p.month AS m, p.product_id AS p,
           p.target_quantity AS pq, p.target_amount AS pa,
           CASE WHEN p.month > :as_of THEN 0 ELSE p.target_amount END AS ea,
           CASE WHEN p.month > :as_of THEN 0 ELSE p.target_quantity END AS eq
      FROM sales_plans p
     WHERE p.distributor_id = ANY(:ids) AND p.month BETWEEN :start AND :end
       AND p.month <> :as_of_month
       AND (CAST(:product AS integer) IS NULL OR p.product_id = :product)
    UNION ALL  -- as_of's month: its schedule's last step on or before as_of, else pro rata
    SELECT p.distributor_id, p.month, p.product_id, p.target_quantity, p.target_amount,
           CASE WHEN :day_of_month = :month_days THEN p.target_amount
                WHEN sc.steps > 0 THEN coalesce(sc.amount, 0)
                ELSE round(p.target_amount * :day_of_month / :month_days, 2) END,
           CASE WHEN :day_of_month = :month_days THEN p.target_quantity
                WHEN sc.steps > 0 THEN coalesce(sc.quantity, 0)
                ELSE round(p.target_quantity * :day_of_month / :month_days, 3) END
      FROM sales_plans p
      CROSS JOIN LATERAL (  -- the last step on or before as_of; a step giving only one of
          -- quantity and amount expects the other in the same share of the plan's target
          SELECT count(*) AS steps,
                 (array_agg(coalesce(s.target_amount,
                                     round(p.target_amount * s.target_quantity
                                           / nullif(p.target_quantity, 0), 2))
                            ORDER BY s.by_day DESC)
                    FILTER (WHERE s.by_day <= :day_of_month))[1] AS amount,
                 (array_agg(coalesce(s.target_quantity,
                                     round(p.target_quantity * s.target_amount
                                           / nullif(p.target_amount, 0), 3))
                            ORDER BY s.by_day DESC)
                    FILTER (WHERE s.by_day <= :day_of_month))[1] AS quantity
            FROM sales_plan_schedule s WHERE s.plan_id = p.id) sc
     WHERE p.distributor_id = ANY(:ids) AND p.month = :as_of_month
       AND p.month BETWEEN :start AND :end
       AND (CAST(:product AS integer) IS NULL OR p.product_id = :product)
), facts AS (
    SELECT {dims}, sum(pq) AS pq, sum(pa) AS pa, sum(eq) AS eq, sum(ea) AS ea,
           0::numeric AS siq, 0::numeric AS sia, 0::numeric AS soq, 0::numeric AS soa,
           count(*) AS plans
      FROM pl GROUP BY {dims}
    UNION ALL
    SELECT {dims}, NULL, NULL, NULL, NULL, sum(quantity_milli), sum(amount_fen), 0, 0, 0
      FROM (SELECT buyer_id AS d, month AS m, product_id AS p, quantity_milli, amount_fen
              FROM sales_buyer_months
             WHERE buyer_id = ANY(:ids) AND month BETWEEN :start AND :end
               AND (CAST(:product AS integer) IS NULL OR product_id = :product)) si
     GROUP BY {dims}
    UNION ALL
    SELECT {dims}, NULL, NULL, NULL, NULL, 0, 0, sum(quantity_milli), sum(amount_fen), 0
      FROM (SELECT seller_id AS d, month AS m, product_id AS p, quantity_milli, amount_fen
              FROM sales_seller_months
             WHERE seller_id = ANY(:ids) AND month BETWEEN :start AND :end
               AND (CAST(:product AS integer) IS NULL OR product_id = :product)) so
     GROUP BY {dims}
), g AS (
    SELECT {dims}, grouping({dims}) AS total_row,
           coalesce(sum(pq), 0) AS pq, coalesce(sum(pa), 0) AS pa,
           coalesce(sum(eq), 0) AS eq, coalesce(sum(ea), 0) AS ea,
           coalesce(sum(siq) / 1000, 0)::numeric(18, 3) AS siq,
           coalesce(sum(sia) / 100, 0)::numeric(18, 2) AS sia,
           coalesce(sum(soq) / 1000, 0)::numeric(18, 3) AS soq,
           coalesce(sum(soa) / 100, 0)::numeric(18, 2) AS soa,
           coalesce(sum(plans), 0)::int AS plans
      FROM facts GROUP BY GROUPING SETS (({dims}), ())
)
SELECT {dims}, pq, pa, eq, ea, siq, sia, soq, soa, plans FROM g
 ORDER BY total_row DESC, {dims}
"""


@dataclass(frozen=True)
class Period:
    kind: str  # month | year
    start: dt.date  # first day
    end: dt.date  # first day of the last month

    @property
    def last_day(self) -> dt.date:
        return self.end.replace(day=calendar.monthrange(self.end.year, self.end.month)[1])

    @property
    def days(self) -> int:
        return (self.last_day - self.start).days + 1

    def label(self) -> str:
        return f"{self.start:%Y-%m}" if self.kind == "month" else f"{self.start:%Y}"


def parse_period(value: str | None, *, today: dt.date | None = None) -> Period:
    """``2025-03`` (a month) or ``2025`` (a year); None: the current month."""
    today = today or dt.date.today()
    if value is None or not str(value).strip():
        first = today.replace(day=1)
        return Period("month", first, first)
    match = _PERIOD.match(str(value))
    if match:
        year = int(match.group(1))
        if match.group(2) is None and 1900 <= year <= 9999:
            return Period("year", dt.date(year, 1, 1), dt.date(year, 12, 1))
        if match.group(2) is not None and 1 <= int(match.group(2)) <= 12 and year >= 1900:
            first = dt.date(year, int(match.group(2)), 1)
            return Period("month", first, first)
    message = f"{value!r} is not a month (YYYY-MM) or a year (YYYY)"
    raise ValidationError(message, fields={"period": message})


_FIGURES = (
    "plan_quantity", "plan_amount", "expected_quantity", "expected_amount", "sell_in_quantity",
    "sell_in_amount", "sell_out_quantity", "sell_out_amount", "plans",
)  # fmt: skip


@dataclass(slots=True)
class Figures:
    """Plan, expected-to-date, sell-in and sell-out of one line (or a total)."""

    plan_quantity: Decimal = ZERO
    plan_amount: Decimal = ZERO
    expected_quantity: Decimal = ZERO
    expected_amount: Decimal = ZERO
    sell_in_quantity: Decimal = ZERO
    sell_in_amount: Decimal = ZERO
    sell_out_quantity: Decimal = ZERO
    sell_out_amount: Decimal = ZERO
    plans: int = 0

    def add(self, other: Figures) -> None:
        for name in _FIGURES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def copy(self) -> Figures:
        return Figures(*(getattr(self, n) for n in _FIGURES))

    @staticmethod
    def _ratio(a: Decimal, b: Decimal) -> float | None:
        return float(a) / float(b) if b else None  # a share: a float is exact enough

    def to_dict(self) -> dict:
        out = {n: getattr(self, n) for n in _FIGURES}
        out["achievement_in"] = self._ratio(self.sell_in_amount, self.plan_amount)
        out["achievement_out"] = self._ratio(self.sell_out_amount, self.plan_amount)
        out["achievement_in_quantity"] = self._ratio(self.sell_in_quantity, self.plan_quantity)
        out["to_expected_in"] = self._ratio(self.sell_in_amount, self.expected_amount)
        out["gap_in"] = self.plan_amount - self.sell_in_amount
        return out


@dataclass
class Line:
    keys: dict  # distributor_code/name, month, product_sku/name: those of ``by``
    figures: Figures
    cumulative: Figures

    def to_dict(self) -> dict:
        return {**self.keys, **self.figures.to_dict(), "cumulative": self.cumulative.to_dict()}


class PlanActual:
    """The answer: scope, period, ``as_of``, the line dimensions, how many distributors, the
    lines (built from the statement's rows when first asked for), the total, time gone."""

    def __init__(self, scope, period, as_of, by, distributors, rows, names, total, elapsed):
        self.scope: dict = scope  # kind and code of what was asked for
        self.period: Period = period
        self.as_of: dt.date = as_of
        self.by: tuple[str, ...] = by
        self.distributors: int = distributors
        self.rows = rows
        self.names = names
        self.total: Figures = total
        self.elapsed: dict = elapsed
        self._lines: list[Line] | None = None

    @property
    def lines(self) -> list[Line]:
        """The detail lines with their cumulative figures (running through the months of each
        group of the other dimensions), built when first asked for."""
        if self._lines is None:
            n = len(self.by)
            month_at = self.by.index("month") if "month" in self.by else None
            running: dict[tuple, Figures] = {}
            out = []
            for row in self.rows:
                keys: dict = {}
                for dim, value in zip(self.by, row[:n], strict=True):
                    if dim == "month":
                        keys["month"] = value.isoformat()[:7]
                    else:
                        code, name = self.names[dim].get(value, (None, None))
                        keys["distributor_code" if dim == "distributor" else "product_sku"] = code
                        keys[f"{dim}_name"] = name
                figures = Figures(*row[n:])
                if month_at is None:
                    cumulative = figures
                else:
                    group = tuple(v for i, v in enumerate(row[:n]) if i != month_at)
                    acc = running.setdefault(group, Figures())
                    acc.add(figures)
                    cumulative = acc.copy()
                out.append(Line(keys, figures, cumulative))
            self._lines = out
        return self._lines

    def summary(self) -> str:
        e = self.elapsed
        t = self.total.to_dict()
        share = "-" if t["achievement_in"] is None else f"{100 * t['achievement_in']:.0f} %"
        what = "month" if self.period.kind == "month" else "year"
        if t["to_expected_in"] is not None:
            to_date = f"{100 * t['to_expected_in']:.0f} % of the {t['expected_amount']} expected"
        else:
            to_date = "nothing expected yet"
        return (
            f"day {e['day']} of {e['days']}: sell-in {share} of the {what}'s plan, "
            f"{100 * e['share']:.0f} % of the {what} gone; to date {to_date}"
        )

    def to_dict(self) -> dict:
        return {
            "scope": self.scope,
            "period": {
                "kind": self.period.kind,
                "label": self.period.label(),
                "start": self.period.start,
                "end": self.period.last_day,
            },
            "as_of": self.as_of,
            "elapsed": self.elapsed,
            "by": list(self.by),
            "distributors": self.distributors,
            "summary": self.summary(),
            "lines": [line.to_dict() for line in self.lines],
            "total": self.total.to_dict(),
        }


def _elapsed(period: Period, as_of: dt.date) -> dict:
    if as_of < period.start:
        day = 0
    elif as_of > period.last_day:
        day = period.days
    else:
        day = (as_of - period.start).days + 1
    return {"day": day, "days": period.days, "share": day / period.days}


def plan_against_actual(
    session: Session,
    *,
    user: Principal | None,
    period: str | Period | None = None,
    distributor: str | None = None,
    region: str | None = None,
    product: str | None = None,
    by: tuple[str, ...] | list[str] | None = None,
    as_of: dt.date | None = None,
) -> PlanActual:
    """Plan against sell-in and sell-out of the distributors ``user`` may see — one
    ``distributor``, those of a ``region``, or all — for one ``product`` or all, over
    ``period`` (a month or a year; default this month), lines grouped ``by`` (default: month
    and product for a distributor, month and distributor otherwise)."""
    as_of = as_of or dt.date.today()
    period = period if isinstance(period, Period) else parse_period(period, today=as_of)
    if by is None:
        by = ("month", "product") if distributor else ("month", "distributor")
    by = tuple(by)
    problems: dict[str, str] = {}
    if not by or any(b not in DIMENSIONS for b in by) or len(set(by)) != len(by):
        problems["by"] = f"one or more of {', '.join(DIMENSIONS)}, each once"
    o = Outlet.__table__
    conds = [o.c.tier == "distributor"]
    scope = {"kind": "all", "code": None}
    if distributor is not None:
        try:
            conds.append(
                o.c.id == find_distributor(session, distributor, user=user, reading=True).id
            )
            scope = {"kind": "distributor", "code": distributor}
        except ValidationError as exc:
            problems.update(exc.fields)
    if region is not None:
        if region_known(session, region, user):
            conds.append(o.c.region_id.in_(select(region_subtree(region).c.id)))
            scope = {"kind": "region", "code": region} if distributor is None else scope
        else:
            problems["region"] = f"no region with code {region!r}"
    product_id = None
    if product is not None:
        try:
            product_id = find_product(session, product)
            if scope["kind"] == "all":
                scope = {"kind": "product", "code": product}
        except ValidationError as exc:
            problems.update(exc.fields)
    if problems:
        raise ValidationError("invalid plan-against-actual query", fields=problems)
    if user is not None and not user.is_admin:
        conds.append(distributor_scope(user, o))
    ids = list(session.scalars(select(o.c.id).where(*conds)))
    as_of_month = as_of.replace(day=1)
    month_days = calendar.monthrange(as_of.year, as_of.month)[1]
    cols = {"distributor": "d", "month": "m", "product": "p"}
    dims = ", ".join(cols[b] for b in by)
    raw = (
        session.execute(
            text(_SQL.format(dims=dims)),
            {
                "ids": ids,
                "start": period.start,
                "end": period.end,
                "product": product_id,
                "as_of": as_of,
                "as_of_month": as_of_month,
                "day_of_month": as_of.day,
                "month_days": month_days,
            },
        ).all()
        if ids
        else []
    )
    total = Figures()
    if raw:  # the first row is the total (grouping set ()), the lines follow in ``by`` order
        total, raw = Figures(*raw[0][len(by) :]), raw[1:]
    names = _names(session, raw, by)
    return PlanActual(
        scope, period, as_of, by, len(ids), raw, names, total, _elapsed(period, as_of)
    )


def _names(session: Session, raw, by: tuple[str, ...]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for i, dim in enumerate(by):
        if dim == "month":
            continue
        ids = sorted({row[i] for row in raw})
        if not ids:
            out[dim] = {}
            continue
        table = "outlets" if dim == "distributor" else "products"
        code = "code" if dim == "distributor" else "sku"
        out[dim] = {
            r[0]: (r[1], r[2])
            for r in session.execute(
                text(f"SELECT id, {code}, name FROM {table} WHERE id = ANY(:ids)"), {"ids": ids}
            )
        }
    return out
