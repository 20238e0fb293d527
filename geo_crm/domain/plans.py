"""Monthly sales plans (销售计划): per distributor × month × product a target quantity and
amount, a schedule of cumulative targets within the month (e.g. by the 10th, the 20th, the
end), support lines (销售支援) and free notes.

The database holds the rules (migration 0009): a plan names a distributor, its month is a
first day, targets are not negative, schedule days lie in the month, ``version`` bumps on every
update; a closed month's plans (and their schedules and support) change only when the
transaction says the writer is an admin; every change lands in ``sales_plan_history`` with
the writer's id. :func:`acting_as` tells the transaction who writes (``SET LOCAL``), and every
write here calls it first.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, func, select, text, tuple_
from sqlalchemy.orm import Session

from ..errors import Conflict, NotFound, ValidationError
from ..models import (
    SUPPORT_KINDS,
    ClosedMonth,
    Outlet,
    Product,
    SalesPlan,
    SalesPlanChange,
    SalesPlanStep,
    SalesPlanSupport,
    User,
)
from .access import distributor_scope, outlet_scope
from .network import distributor
from .principal import Principal
from .regions import region_subtree
from .sales import product_id

PLANS = SalesPlan.__table__
STEPS = SalesPlanStep.__table__
SUPPORT = SalesPlanSupport.__table__
CLOSED = ClosedMonth.__table__
HISTORY = SalesPlanChange.__table__
OUTLETS = Outlet.__table__
PRODUCTS = Product.__table__
USERS = User.__table__

_MONTH = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?\s*$")


# -- months ---------------------------------------------------------------------------------


def parse_month(value: str | dt.date, *, field: str = "month") -> dt.date:
    """``2025-03``, ``2025/3``, ``2025年3月`` or a date → the month's first day; a month that
    does not exist (``2025-13``) is a 422 naming ``field``."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.replace(day=1)
    text_value = str(value).strip()
    match = _MONTH.match(text_value)
    if match is None and re.match(r"^\d{4}-\d{2}-\d{2}", text_value):
        try:
            return dt.date.fromisoformat(text_value[:10]).replace(day=1)
        except ValueError:
            match = None
    if match is not None:
        year, month = int(match.group(1)), int(match.group(2))
        if 1 <= month <= 12 and 1900 <= year <= 9999:
            return dt.date(year, month, 1)
    message = f"{text_value!r} is not a month (use YYYY-MM)"
    raise ValidationError(message, fields={field: message})


def month_days(month: dt.date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def next_month(month: dt.date, step: int = 1) -> dt.date:
    index = month.year * 12 + month.month - 1 + step
    return dt.date(index // 12, index % 12 + 1, 1)


# -- who writes -----------------------------------------------------------------------------


def acting_as(session: Session, user: Principal | None) -> None:
    """Tell this transaction who writes: ``geo_crm.role`` (the closed-month rule lets admins,
    and the system, through) and ``geo_crm.user_id`` (the history's who). Set on every write,
    so a transaction never keeps an earlier writer's values."""
    is_admin = user is None or user.is_admin
    session.execute(
        text(
            "SELECT set_config('geo_crm.role', :r, true), set_config('geo_crm.user_id', :u, true)"
        ),
        {"r": "admin" if is_admin else (user.role if user else ""), "u": _uid(user)},
    )


def _uid(user: Principal | None) -> str:
    return "" if user is None or user.id is None else str(int(user.id))


def _sees_all(user: Principal | None) -> bool:
    return user is None or user.is_admin


# -- shapes ---------------------------------------------------------------------------------


@dataclass
class Step:
    """A cumulative target by day ``by_day`` of the month (``None`` in input: the last day)."""

    by_day: int | None
    target_quantity: Decimal | None = None
    target_amount: Decimal | None = None


@dataclass
class Support:
    kind: str
    description: str
    amount: Decimal | None = None


@dataclass
class PlanFilters:
    distributor: str | None = None  # code
    region: str | None = None  # the distributor lies in it or below
    product: str | None = None  # SKU
    month_from: dt.date | None = None  # first day, inclusive
    month_to: dt.date | None = None  # inclusive


def _check_steps(
    steps: Sequence[Step], month: dt.date, qty: Decimal, amount: Decimal
) -> list[Step]:
    """Days in the month, distinct, cumulative targets not falling and not above the plan's."""
    out: list[Step] = []
    last = month_days(month)
    seen: set[int] = set()
    for i, step in enumerate(steps):
        day = last if step.by_day is None else step.by_day
        where = f"schedule.{i}"
        if not 1 <= day <= last:
            raise ValidationError(
                f"day {day} is not in {month:%Y-%m}", fields={f"{where}.by_day": "not in the month"}
            )
        if day in seen:
            raise ValidationError(
                f"two targets by day {day}", fields={f"{where}.by_day": "given twice"}
            )
        if step.target_quantity is None and step.target_amount is None:
            raise ValidationError(
                "a schedule step needs a quantity or an amount",
                fields={where: "give target_quantity or target_amount"},
            )
        for name, value, whole in (
            ("target_quantity", step.target_quantity, qty),
            ("target_amount", step.target_amount, amount),
        ):
            if value is not None and (value.is_nan() or value < 0):
                raise ValidationError(
                    f"{name} may not be negative", fields={f"{where}.{name}": "negative"}
                )
            if value is not None and value > whole:
                raise ValidationError(
                    f"a cumulative {name} above the month's target ({value} > {whole})",
                    fields={f"{where}.{name}": f"above the month's {whole}"},
                )
        seen.add(day)
        out.append(Step(day, step.target_quantity, step.target_amount))
    out.sort(key=lambda s: s.by_day)
    for name in ("target_quantity", "target_amount"):
        values = [getattr(s, name) for s in out if getattr(s, name) is not None]
        if any(b < a for a, b in zip(values, values[1:], strict=False)):
            raise ValidationError(
                f"schedule {name} must not fall from one day to a later one (they are cumulative)",
                fields={f"schedule.{name}": "falls"},
            )
    return out


def _check_support(lines: Sequence[Support]) -> list[Support]:
    for i, line in enumerate(lines):
        if line.kind not in SUPPORT_KINDS:
            raise ValidationError(
                f"unknown support kind {line.kind!r}",
                fields={f"support.{i}.kind": f"one of {', '.join(SUPPORT_KINDS)}"},
            )
        if not (line.description or "").strip():
            raise ValidationError(
                "support needs a description", fields={f"support.{i}.description": "required"}
            )
        if line.amount is not None and (line.amount.is_nan() or line.amount < 0):
            raise ValidationError(
                "a support amount may not be negative", fields={f"support.{i}.amount": "negative"}
            )
    return list(lines)


def _check_targets(qty: Decimal, amount: Decimal) -> None:
    for name, value in (("target_quantity", qty), ("target_amount", amount)):
        if value is None or value.is_nan() or value < 0:
            raise ValidationError(
                f"{name} must be a number ≥ 0", fields={name: "must be a number ≥ 0"}
            )


# -- reads ----------------------------------------------------------------------------------


def plan_columns() -> list[ColumnElement]:
    p, d, pr = PLANS, OUTLETS, PRODUCTS
    return [
        p.c.id,
        d.c.code.label("distributor_code"),
        d.c.name.label("distributor_name"),
        p.c.month,
        pr.c.sku.label("product_sku"),
        pr.c.name.label("product_name"),
        p.c.target_quantity,
        p.c.target_amount,
        p.c.support_notes,
        p.c.version,
        p.c.updated_at,
        select(CLOSED.c.month).where(CLOSED.c.month == p.c.month).exists().label("closed"),
    ]


def _plans_from():
    return PLANS.join(OUTLETS, OUTLETS.c.id == PLANS.c.distributor_id).join(
        PRODUCTS, PRODUCTS.c.id == PLANS.c.product_id
    )


def _conditions(
    session: Session, f: PlanFilters, user: Principal | None, *, reading: bool = False
) -> list:
    """The filters as conditions; a filter naming nothing (or nothing in scope) is a 422.
    ``reading``: plans to read (of the distributors ``user`` may read, which for a rep includes
    their outlets' distributors: :func:`~geo_crm.domain.access.distributor_scope`); otherwise
    plans to act on."""
    conds: list = []
    problems: dict[str, str] = {}
    if f.distributor is not None:
        try:
            ref = distributor(session, f.distributor, user=user, reading=reading)
            conds.append(PLANS.c.distributor_id == ref.id)
        except ValidationError as exc:
            problems.update(exc.fields)
    if f.region is not None:
        from .outlets import region_known

        if not region_known(session, f.region, user):
            problems["region"] = f"no region with code {f.region!r}"
        else:
            tree = region_subtree(f.region)
            conds.append(OUTLETS.c.region_id.in_(select(tree.c.id)))
    if f.product is not None:
        try:
            conds.append(PLANS.c.product_id == product_id(session, f.product))
        except ValidationError as exc:
            problems.update(exc.fields)
    if f.month_from is not None:
        conds.append(PLANS.c.month >= f.month_from)
    if f.month_to is not None:
        conds.append(PLANS.c.month <= f.month_to)
    if f.month_from and f.month_to and f.month_from > f.month_to:
        problems["month_to"] = "must not be before month_from"
    if problems:
        raise ValidationError("unknown filter value", fields=problems)
    if not _sees_all(user):
        conds.append((distributor_scope if reading else outlet_scope)(user, OUTLETS))
    return conds


def select_plans(session: Session, f: PlanFilters, user: Principal | None) -> Select:
    """Plans matching ``f`` that ``user`` may see, by month, distributor code and SKU."""
    return (
        select(*plan_columns())
        .select_from(_plans_from())
        .where(*_conditions(session, f, user, reading=True))
        .order_by(PLANS.c.month, OUTLETS.c.code, PRODUCTS.c.sku)
    )


@dataclass
class PlanPage:
    rows: list[dict]
    total: int
    target_quantity: Decimal
    target_amount: Decimal


def plan_page(
    session: Session,
    f: PlanFilters,
    *,
    user: Principal | None,
    limit: int = 100,
    offset: int = 0,
) -> PlanPage:
    """A page of plans (with their schedules and support lines) and the totals over all."""
    conds = _conditions(session, f, user, reading=True)
    stmt = (
        select(*plan_columns())
        .select_from(_plans_from())
        .where(*conds)
        .order_by(PLANS.c.month, OUTLETS.c.code, PRODUCTS.c.sku)
    )
    rows = [dict(r) for r in session.execute(stmt.limit(limit).offset(offset)).mappings()]
    _attach_children(session, rows)
    total, qty, amount = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(PLANS.c.target_quantity), 0),
            func.coalesce(func.sum(PLANS.c.target_amount), 0),
        )
        .select_from(_plans_from())
        .where(*conds)
    ).one()
    return PlanPage(rows, total, qty, amount)


def _attach_children(session: Session, rows: list[dict]) -> None:
    ids = [r["id"] for r in rows]
    steps: dict[int, list] = {i: [] for i in ids}
    support: dict[int, list] = {i: [] for i in ids}
    if ids:
        for r in session.execute(
            select(STEPS.c.plan_id, STEPS.c.by_day, STEPS.c.target_quantity, STEPS.c.target_amount)
            .where(STEPS.c.plan_id.in_(ids))
            .order_by(STEPS.c.plan_id, STEPS.c.by_day)
        ).mappings():
            steps[r["plan_id"]].append(
                {k: r[k] for k in ("by_day", "target_quantity", "target_amount")}
            )
        for r in session.execute(
            select(SUPPORT.c.plan_id, SUPPORT.c.kind, SUPPORT.c.description, SUPPORT.c.amount)
            .where(SUPPORT.c.plan_id.in_(ids))
            .order_by(SUPPORT.c.plan_id, SUPPORT.c.id)
        ).mappings():
            support[r["plan_id"]].append({k: r[k] for k in ("kind", "description", "amount")})
    for row in rows:
        row["schedule"] = steps[row["id"]]
        row["support"] = support[row["id"]]


def get_plan(session: Session, plan_id: int) -> dict:
    """One plan with its schedule and support lines (404 when there is none)."""
    row = (
        session.execute(
            select(*plan_columns()).select_from(_plans_from()).where(PLANS.c.id == plan_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no plan with id {plan_id}")
    out = [dict(row)]
    _attach_children(session, out)
    return out[0]


# -- writes ---------------------------------------------------------------------------------


def _write_children(
    session: Session, plan_id: int, steps: list[Step] | None, support: list[Support] | None
) -> None:
    """Replace the plan's schedule and/or support lines (None: leave them as they are). Rows
    that stay the same are neither deleted nor written again, so the history shows changes
    only."""
    if steps is not None:
        wanted = {(s.by_day, s.target_quantity, s.target_amount) for s in steps}
        stored = {
            (r.by_day, r.target_quantity, r.target_amount): r.id
            for r in session.execute(
                select(
                    STEPS.c.id, STEPS.c.by_day, STEPS.c.target_quantity, STEPS.c.target_amount
                ).where(STEPS.c.plan_id == plan_id)
            )
        }
        gone = [i for key, i in stored.items() if key not in wanted]
        if gone:
            session.execute(STEPS.delete().where(STEPS.c.id.in_(gone)))
        new = [
            {"plan_id": plan_id, "by_day": d, "target_quantity": q, "target_amount": a}
            for d, q, a in sorted(wanted - stored.keys(), key=lambda k: k[0])
        ]
        if new:
            session.execute(STEPS.insert(), new)
    if support is not None:
        stored_lines = [
            ((r.kind, r.description, r.amount), r.id)
            for r in session.execute(
                select(SUPPORT.c.id, SUPPORT.c.kind, SUPPORT.c.description, SUPPORT.c.amount)
                .where(SUPPORT.c.plan_id == plan_id)
                .order_by(SUPPORT.c.id)
            )
        ]
        wanted_lines = [(s.kind, s.description.strip(), s.amount) for s in support]
        keep: set[int] = set()
        fresh = []
        pool = list(stored_lines)
        for line in wanted_lines:
            match = next((i for k, i in pool if k == line and i not in keep), None)
            if match is None:
                fresh.append(line)
            else:
                keep.add(match)
        gone = [i for _, i in stored_lines if i not in keep]
        if gone:
            session.execute(SUPPORT.delete().where(SUPPORT.c.id.in_(gone)))
        if fresh:
            session.execute(
                SUPPORT.insert(),
                [
                    {"plan_id": plan_id, "kind": k, "description": d, "amount": a}
                    for k, d, a in fresh
                ],
            )


def create_plan(
    session: Session,
    *,
    distributor_code: str,
    month: dt.date | str,
    product_sku: str,
    target_quantity: Decimal,
    target_amount: Decimal,
    schedule: Sequence[Step] = (),
    support: Sequence[Support] = (),
    support_notes: str | None = None,
    user: Principal | None = None,
) -> dict:
    """A new plan for a distributor ``user`` may see; one per distributor, month and product
    (409 when it exists). A closed month refuses it unless ``user`` is an admin."""
    month = parse_month(month)
    _check_targets(target_quantity, target_amount)
    steps = _check_steps(schedule, month, target_quantity, target_amount)
    lines = _check_support(support)
    values = {
        "distributor_id": distributor(
            session, distributor_code, user=user, field="distributor_code"
        ).id,
        "product_id": product_id(session, product_sku, field="product_sku"),
        "month": month,
        "target_quantity": target_quantity,
        "target_amount": target_amount,
        "support_notes": support_notes,
    }
    acting_as(session, user)
    plan_id = session.execute(PLANS.insert().values(**values).returning(PLANS.c.id)).scalar_one()
    _write_children(session, plan_id, steps, lines)
    return get_plan(session, plan_id)


_UNSET = object()


def update_plan(
    session: Session,
    plan_id: int,
    *,
    version: int,
    target_quantity: Decimal | None = None,
    target_amount: Decimal | None = None,
    support_notes: str | None | object = _UNSET,
    schedule: Sequence[Step] | None = None,
    support: Sequence[Support] | None = None,
    user: Principal | None = None,
) -> dict:
    """Change a plan read at ``version``: targets, notes, and (when given) its whole schedule
    or support lines. A stale version is a 409 whose detail is the plan as it is now; nothing
    is written. Distributor, month and product do not change (delete and create instead)."""
    current = (
        session.execute(select(PLANS).where(PLANS.c.id == plan_id).with_for_update())
        .mappings()
        .first()
    )
    if current is None:
        raise NotFound(f"no plan with id {plan_id}")
    if current["version"] != version:
        raise Conflict(
            f"the plan changed since version {version} (now {current['version']})",
            fields={"version": "stale"},
            detail=get_plan(session, plan_id),
        )
    qty = current["target_quantity"] if target_quantity is None else target_quantity
    amount = current["target_amount"] if target_amount is None else target_amount
    _check_targets(qty, amount)
    steps = _check_steps(schedule, current["month"], qty, amount) if schedule is not None else None
    if steps is None and (target_quantity is not None or target_amount is not None):
        stored = [
            Step(r.by_day, r.target_quantity, r.target_amount)
            for r in session.execute(
                select(STEPS.c.by_day, STEPS.c.target_quantity, STEPS.c.target_amount).where(
                    STEPS.c.plan_id == plan_id
                )
            )
        ]
        _check_steps(stored, current["month"], qty, amount)
    lines = _check_support(support) if support is not None else None
    values = {"target_quantity": qty, "target_amount": amount}
    if support_notes is not _UNSET:
        values["support_notes"] = support_notes
    acting_as(session, user)
    # always written: the version moves for a change of the schedule or support alone too
    session.execute(
        PLANS.update().where(PLANS.c.id == plan_id).values(**values, version=version + 1)
    )
    _write_children(session, plan_id, steps, lines)
    return get_plan(session, plan_id)


def delete_plan(
    session: Session, plan_id: int, *, version: int, user: Principal | None = None
) -> None:
    """Delete a plan read at ``version`` (409 when stale), its schedule and support with it;
    the history keeps what it was."""
    current = session.execute(
        select(PLANS.c.version).where(PLANS.c.id == plan_id).with_for_update()
    ).first()
    if current is None:
        raise NotFound(f"no plan with id {plan_id}")
    if current.version != version:
        raise Conflict(
            f"the plan changed since version {version} (now {current.version})",
            fields={"version": "stale"},
            detail=get_plan(session, plan_id),
        )
    acting_as(session, user)
    session.execute(PLANS.delete().where(PLANS.c.id == plan_id))


@dataclass
class CopyReport:
    """What copying a month's plans did: plans copied and those skipped (already planned)."""

    from_month: dt.date
    to_month: dt.date
    copied: int = 0
    skipped: list[dict] = field(default_factory=list)  # distributor_code, product_sku

    def to_dict(self) -> dict:
        return {
            "from_month": self.from_month.isoformat()[:7],
            "to_month": self.to_month.isoformat()[:7],
            "copied": self.copied,
            "skipped": self.skipped,
        }


def copy_plans(
    session: Session,
    *,
    to_month: dt.date | str,
    from_month: dt.date | str | None = None,
    distributor_code: str | None = None,
    region: str | None = None,
    user: Principal | None = None,
) -> CopyReport:
    """Copy the plans of ``from_month`` (default: the month before) to ``to_month`` for the
    distributors ``user`` may see (one distributor, or those of a region, when given), with
    their schedules (the old month's last day, or a day past the new month's end, becomes the
    new month's last day) and support lines.
    A product already planned for a distributor in ``to_month`` is skipped and reported."""
    to_month = parse_month(to_month, field="to_month")
    from_month = (
        next_month(to_month, -1)
        if from_month is None
        else parse_month(from_month, field="from_month")
    )
    if from_month == to_month:
        raise ValidationError(
            "copy to another month", fields={"to_month": "the same as from_month"}
        )
    f = PlanFilters(
        distributor=distributor_code, region=region, month_from=from_month, month_to=from_month
    )
    conds = _conditions(session, f, user)
    source = session.execute(
        select(
            PLANS.c.id,
            PLANS.c.distributor_id,
            PLANS.c.product_id,
            PLANS.c.target_quantity,
            PLANS.c.target_amount,
            PLANS.c.support_notes,
            OUTLETS.c.code,
            PRODUCTS.c.sku,
        )
        .select_from(_plans_from())
        .where(*conds)
        .order_by(OUTLETS.c.code, PRODUCTS.c.sku)
    ).all()
    report = CopyReport(from_month, to_month)
    if not source:
        return report
    taken = set(
        session.execute(
            select(PLANS.c.distributor_id, PLANS.c.product_id).where(
                PLANS.c.month == to_month,
                tuple_(PLANS.c.distributor_id, PLANS.c.product_id).in_(
                    [(r.distributor_id, r.product_id) for r in source]
                ),
            )
        ).all()
    )
    todo = [r for r in source if (r.distributor_id, r.product_id) not in taken]
    report.skipped = [
        {"distributor_code": r.code, "product_sku": r.sku}
        for r in source
        if (r.distributor_id, r.product_id) in taken
    ]
    if not todo:
        return report
    acting_as(session, user)
    new_ids = session.execute(
        PLANS.insert().returning(PLANS.c.id, PLANS.c.distributor_id, PLANS.c.product_id),
        [
            {
                "distributor_id": r.distributor_id,
                "product_id": r.product_id,
                "month": to_month,
                "target_quantity": r.target_quantity,
                "target_amount": r.target_amount,
                "support_notes": r.support_notes,
            }
            for r in todo
        ],
    ).all()
    by_key = {(n.distributor_id, n.product_id): n.id for n in new_ids}
    old_to_new = {r.id: by_key[(r.distributor_id, r.product_id)] for r in todo}
    last, source_last = month_days(to_month), month_days(from_month)
    steps = session.execute(
        select(STEPS.c.plan_id, STEPS.c.by_day, STEPS.c.target_quantity, STEPS.c.target_amount)
        .where(STEPS.c.plan_id.in_(list(old_to_new)))
        .order_by(STEPS.c.plan_id, STEPS.c.by_day)
    ).all()
    step_rows: dict[tuple[int, int], dict] = {}
    for s in steps:  # the end stays the end; days past it fold into it (the latest wins)
        day = last if s.by_day >= source_last else min(s.by_day, last)
        step_rows[(old_to_new[s.plan_id], day)] = {
            "plan_id": old_to_new[s.plan_id],
            "by_day": day,
            "target_quantity": s.target_quantity,
            "target_amount": s.target_amount,
        }
    if step_rows:
        session.execute(STEPS.insert(), list(step_rows.values()))
    lines = session.execute(
        select(SUPPORT.c.plan_id, SUPPORT.c.kind, SUPPORT.c.description, SUPPORT.c.amount)
        .where(SUPPORT.c.plan_id.in_(list(old_to_new)))
        .order_by(SUPPORT.c.id)
    ).all()
    if lines:
        session.execute(
            SUPPORT.insert(),
            [
                {
                    "plan_id": old_to_new[s.plan_id],
                    "kind": s.kind,
                    "description": s.description,
                    "amount": s.amount,
                }
                for s in lines
            ],
        )
    report.copied = len(todo)
    return report


def plan_history(session: Session, plan_id: int) -> list[dict]:
    """Every change of the plan, its schedule and support, oldest first: who (username, or
    None for the system), when, what (table, action) and the row before and after."""
    h = HISTORY
    stmt = (
        select(
            h.c.id,
            h.c.changed_at,
            USERS.c.username.label("user"),
            h.c.table_name,
            h.c.action,
            h.c.old,
            h.c.new,
        )
        .select_from(h.outerjoin(USERS, USERS.c.id == h.c.user_id))
        .where(h.c.plan_id == plan_id)
        .order_by(h.c.id)
    )
    rows = [dict(r) for r in session.execute(stmt).mappings()]
    if not rows:
        raise NotFound(f"no plan with id {plan_id}")
    return rows


# -- closed months --------------------------------------------------------------------------


def closed_months(session: Session) -> list[dict]:
    stmt = (
        select(CLOSED.c.month, CLOSED.c.closed_at, USERS.c.username.label("closed_by"))
        .select_from(CLOSED.outerjoin(USERS, USERS.c.id == CLOSED.c.closed_by_id))
        .order_by(CLOSED.c.month)
    )
    return [dict(r) for r in session.execute(stmt).mappings()]


def close_month(session: Session, month: dt.date | str, *, user: Principal | None) -> dict:
    """Close a month: from now on only an admin changes its plans (409 when already closed)."""
    month = parse_month(month)
    if session.scalar(select(CLOSED.c.month).where(CLOSED.c.month == month)) is not None:
        raise Conflict(f"{month:%Y-%m} is closed already", fields={"month": "closed already"})
    session.execute(
        CLOSED.insert().values(month=month, closed_by_id=user.id if user is not None else None)
    )
    return next(m for m in closed_months(session) if m["month"] == month)


def reopen_month(session: Session, month: dt.date | str) -> None:
    month = parse_month(month)
    if session.execute(CLOSED.delete().where(CLOSED.c.month == month)).rowcount == 0:
        raise NotFound(f"{month:%Y-%m} is not closed", fields={"month": "not closed"})


def is_closed(session: Session, month: dt.date) -> bool:
    return session.scalar(select(CLOSED.c.month).where(CLOSED.c.month == month)) is not None
