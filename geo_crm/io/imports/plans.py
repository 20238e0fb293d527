"""Import monthly sales plans, upserted by distributor × month × product (columns:
docs/import-export.md "Sales plans").

Besides the targets a row may carry the schedule (cumulative targets by the 10th and the
20th; the month's target is the target by its end, not stored again as a step) and one
support line (kind, description, amount). A file with schedule (or support) columns replaces
the schedule (or support) of the plans it names; rows that change nothing are not written,
so the history shows real changes only. Distributors must be ones the importing user may
see, and a closed month's plans are an admin's to change (both checked per row, and by the
database).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Unpack

from sqlalchemy import Text, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ...domain.access import outlet_scope
from ...domain.plans import acting_as, month_days, parse_month
from ...domain.principal import Principal
from ...errors import ValidationError
from ...models import SUPPORT_KINDS, Outlet
from ..tabular import cell_decimal, cell_text
from .common import (
    FileOptions,
    ImportReport,
    Source,
    accepted_words,
    cells,
    drop_stage,
    finish,
    lookup,
    open_rows,
    refused,
    stage_rows,
    to_write,
)

# column -> accepted header names (compared fold-ed: NFKC, lower case, without spaces, _ and -)
PLAN_COLUMNS: dict[str, tuple[str, ...]] = {
    "distributor_code": ("distributor_code", "distributor", "经销商编码", "总经销编码",
                         "经销商代码", "客户编码"),
    "month": ("month", "月份", "计划月份", "年月"),
    "sku": ("sku", "product_sku", "产品编码", "商品编码", "货号"),
    "target_quantity": ("target_quantity", "quantity", "目标数量", "计划数量"),
    "target_amount": ("target_amount", "amount", "目标金额", "计划金额"),
    "by_10_quantity": ("by_10_quantity", "10日累计数量", "上旬累计数量"),
    "by_20_quantity": ("by_20_quantity", "20日累计数量", "中旬累计数量"),
    "by_10_amount": ("by_10_amount", "10日累计金额", "上旬累计金额"),
    "by_20_amount": ("by_20_amount", "20日累计金额", "中旬累计金额"),
    "support_notes": ("support_notes", "notes", "支援说明", "备注"),
    "support_kind": ("support_kind", "支援类型", "支援方式"),
    "support_description": ("support_description", "支援内容", "销售支援"),
    "support_amount": ("support_amount", "支援金额", "支援费用"),
}  # fmt: skip
_REQUIRED = ("distributor_code", "month", "sku", "target_quantity", "target_amount")
_SCHEDULE = ("by_10_quantity", "by_20_quantity", "by_10_amount", "by_20_amount")
_SUPPORT = ("support_kind", "support_description", "support_amount")
SUPPORT_WORDS = accepted_words(
    {"promotion": ("促销", "促销活动"), "materials": ("物料", "宣传物料"),
     "staff": ("人员", "人员支持", "促销员"), "other": ("其他",)},
    {"费用": "other"},
)  # fmt: skip
_STAGE = "geo_crm_plan_stage"
_CODES = bindparam("codes", type_=ARRAY(Text))


def _month_cell(value: Any) -> tuple[dt.date | None, str | None]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, dt.date):
        return (value.date() if isinstance(value, dt.datetime) else value).replace(day=1), None
    try:
        return parse_month(cell_text(value) or ""), None
    except ValidationError as exc:
        return None, exc.fields["month"]


def _visible_distributors(
    session: Session, codes: list[str | None], user: Principal | None
) -> dict[str, tuple[int, str]]:
    """code -> (id, tier) of the outlets named that ``user`` may see."""
    wanted = sorted({c for c in codes if c is not None})
    if not wanted:
        return {}
    o = Outlet.__table__
    stmt = select(o.c.code, o.c.id, o.c.tier).where(o.c.code == any_(_CODES))
    if user is not None and not user.is_admin:
        stmt = stmt.where(outlet_scope(user, o))
    return {r.code: (r.id, r.tier) for r in session.execute(stmt, {"codes": wanted})}


def import_plans(
    session: Session,
    source: Source,
    *,
    user: Principal | None = None,
    **options: Unpack[FileOptions],
) -> ImportReport:
    """Validate and upsert plans by distributor, month and product; ``user`` (None: the
    system) is who imports: their scope limits the distributors, their role the closed
    months, and the history names them."""
    rows, report, started = open_rows("plans", source, PLAN_COLUMNS, _REQUIRED, **options)
    code = rows.text("distributor_code", max_len=64)
    sku = rows.text("sku", max_len=64)
    month = cells(rows, "month", _month_cell)
    qty = cells(rows, "target_quantity", lambda v: cell_decimal(v, 3))
    amount = cells(rows, "target_amount", lambda v: cell_decimal(v, 2))
    sched = {c: cells(rows, c, lambda v, c=c: cell_decimal(v, 3 if "quantity" in c else 2))
             for c in _SCHEDULE}  # fmt: skip
    notes = rows.text("support_notes")
    kind = rows.words("support_kind", SUPPORT_WORDS, "support kind", ", ".join(SUPPORT_KINDS))
    description = rows.text("support_description")
    support_amount = cells(rows, "support_amount", lambda v: cell_decimal(v, 2))
    outlets = _visible_distributors(session, code, user)
    products = lookup(session, "SELECT sku, id FROM products WHERE sku = ANY(:k)", sku)
    closed = {r[0] for r in session.execute(text("SELECT month FROM closed_months"))}
    admin = user is None or user.is_admin
    seen: dict[tuple, int] = {}
    for i in range(rows.n):
        for column, values in (
            ("distributor_code", code), ("month", month), ("sku", sku),
            ("target_quantity", qty), ("target_amount", amount),
        ):  # fmt: skip
            if values[i] is None and cell_text(rows.raw(column)[i]) is None:
                rows.required(i, column)
        for column, values in (
            ("target_quantity", qty), ("target_amount", amount), ("support_amount", support_amount),
            *((c, sched[c]) for c in _SCHEDULE),
        ):  # fmt: skip
            if values[i] is not None and values[i] < 0:
                rows.add(i, column, f"{column} may not be negative ({values[i]})")
        c = code[i]
        if c is not None:
            if c not in outlets:
                rows.add(
                    i, "distributor_code", f"unknown distributor {c!r}: no outlet has this code"
                )
            elif outlets[c][1] != "distributor":
                rows.add(i, "distributor_code", f"{c!r} is a {outlets[c][1]}, not a distributor")
        if sku[i] is not None and sku[i] not in products:
            rows.add(i, "sku", f"unknown sku {sku[i]!r}: import the product first")
        if month[i] is not None and month[i] in closed and not admin:
            rows.add(i, "month", f"{month[i]:%Y-%m} is closed: only an admin may change its plans")
        key = (c, month[i], sku[i])
        if None not in key:
            if key in seen:
                rows.add(i, "sku", f"the same distributor, month and product as row {seen[key]}")
            else:
                seen[key] = rows.numbers[i]
        for unit, target in (("quantity", qty[i]), ("amount", amount[i])):
            by10, by20 = sched[f"by_10_{unit}"][i], sched[f"by_20_{unit}"][i]
            if by10 is not None and by20 is not None and by20 < by10:
                rows.add(i, f"by_20_{unit}", f"less than by the 10th ({by20} < {by10}): targets "
                         "are cumulative")  # fmt: skip
            for day, value in ((10, by10), (20, by20)):
                if value is not None and target is not None and value > target:
                    rows.add(i, f"by_{day}_{unit}", f"above the month's target ({value} > "
                             f"{target})")  # fmt: skip
        if rows.has("support_kind") or rows.has("support_description"):
            if (kind[i] is None) != (description[i] is None) and cell_text(
                rows.raw("support_kind")[i]
            ) is None:
                rows.add(i, "support_kind", "give the kind of the support described")
            elif description[i] is None and kind[i] is not None:
                rows.add(i, "support_description", "describe the support")
    keep = to_write(rows, report)
    if keep is None:
        return finish(report, rows, started)
    has_schedule = any(rows.has(c) for c in _SCHEDULE)
    has_support = any(rows.has(c) for c in _SUPPORT)
    stage_rows(
        session,
        _STAGE,
        "rn integer, distributor_id bigint, month date, product_id integer,"
        " target_quantity numeric(14, 3), target_amount numeric(14, 2), support_notes text,"
        " q10 numeric(14, 3), q20 numeric(14, 3), a10 numeric(14, 2), a20 numeric(14, 2),"
        " last_day smallint, support_kind text, support_description text,"
        " support_amount numeric(14, 2), plan_id integer",
        (
            "rn",
            "distributor_id",
            "month",
            "product_id",
            "target_quantity",
            "target_amount",
            "support_notes",
            "q10",
            "q20",
            "a10",
            "a20",
            "last_day",
            "support_kind",
            "support_description",
            "support_amount",
        ),  # fmt: skip
        (
            (
                rows.numbers[i],
                outlets[code[i]][0],
                month[i],
                products[sku[i]][0],
                qty[i],
                amount[i],
                notes[i],
                sched["by_10_quantity"][i],
                sched["by_20_quantity"][i],
                sched["by_10_amount"][i],
                sched["by_20_amount"][i],
                month_days(month[i]),
                kind[i],
                description[i],
                support_amount[i],
            )  # fmt: skip
            for i in keep
        ),
        len(keep),
        rows.progress,
    )
    if report.dry_run:
        counts = session.execute(
            text(
                f"SELECT count(*) FILTER (WHERE p.id IS NULL), count(*) FILTER (WHERE p.id IS NOT"
                f" NULL AND ROW(p.target_quantity, p.target_amount{_notes(rows, 'p')}) IS DISTINCT"
                f" FROM ROW(s.target_quantity, s.target_amount{_notes(rows, 's')}))"
                f" FROM {_STAGE} s LEFT JOIN sales_plans p ON (p.distributor_id, p.month,"
                f" p.product_id) = (s.distributor_id, s.month, s.product_id)"
            )
        ).one()
        report.inserted, report.updated = int(counts[0]), int(counts[1])
    else:
        acting_as(session, user)
        with refused():
            report.inserted, report.updated = _write(session, rows, has_schedule, has_support)
    report.unchanged = len(keep) - report.inserted - report.updated
    report.written = not report.dry_run and bool(report.inserted or report.updated)
    drop_stage(session, _STAGE)
    return finish(report, rows, started)


def _notes(rows, alias: str) -> str:
    return f", {alias}.support_notes" if rows.has("support_notes") else ""


def _write(session: Session, rows, has_schedule: bool, has_support: bool) -> tuple[int, int]:
    """Upsert the staged plans, then their schedules and support lines where they differ; a
    plan whose schedule or support alone changed counts as updated (its version moves)."""
    notes_set = ", support_notes = excluded.support_notes" if rows.has("support_notes") else ""
    up = session.execute(
        text(
            f"WITH up AS (INSERT INTO sales_plans AS p (distributor_id, month, product_id,"
            f" target_quantity, target_amount, support_notes)"
            f" SELECT s.distributor_id, s.month, s.product_id, s.target_quantity,"
            f" s.target_amount, s.support_notes FROM {_STAGE} s ORDER BY s.rn"
            f" ON CONFLICT (distributor_id, month, product_id) DO UPDATE SET"
            f" target_quantity = excluded.target_quantity,"
            f" target_amount = excluded.target_amount{notes_set}"
            f" WHERE ROW(p.target_quantity, p.target_amount{_notes(rows, 'p')}) IS DISTINCT FROM"
            f" ROW(excluded.target_quantity, excluded.target_amount"
            f"{_notes(rows, 'excluded')})"
            f" RETURNING p.id, (xmax = 0) AS inserted)"
            f" SELECT id, inserted FROM up"
        )
    ).all()
    inserted = {r.id for r in up if r.inserted}
    updated = {r.id for r in up if not r.inserted}
    touched: set[int] = set()
    if not (has_schedule or has_support):
        return len(inserted), len(updated)
    session.execute(
        text(
            f"UPDATE {_STAGE} s SET plan_id = p.id FROM sales_plans p"
            f" WHERE (p.distributor_id, p.month, p.product_id)"
            f" = (s.distributor_id, s.month, s.product_id)"
        )
    )
    # plans all new: nothing of theirs is stored to compare with or delete
    fresh = (
        len(inserted) == len(up)
        and not session.execute(
            text(f"SELECT EXISTS (SELECT 1 FROM {_STAGE} s WHERE NOT (s.plan_id = ANY(:ids)))"),
            {"ids": sorted(inserted)},
        ).scalar()
    )
    plan_of = "s.plan_id"
    if has_schedule:
        wanted = (
            f"SELECT {plan_of} AS plan_id, d.day AS by_day, d.q, d.a FROM {_STAGE} s"
            f" CROSS JOIN LATERAL (VALUES (10::smallint, s.q10, s.a10),"
            f" (20::smallint, s.q20, s.a20)) AS d(day, q, a)"
            f" WHERE d.q IS NOT NULL OR d.a IS NOT NULL"
        )
        same = (
            "w.plan_id = t.plan_id AND w.by_day = t.by_day AND w.q IS NOT DISTINCT FROM"
            " t.target_quantity AND w.a IS NOT DISTINCT FROM t.target_amount"
        )
        if not fresh:
            gone = session.execute(
                text(
                    f"WITH w AS ({wanted}) DELETE FROM sales_plan_schedule t"
                    f" WHERE t.plan_id IN (SELECT plan_id FROM w) AND NOT EXISTS"
                    f" (SELECT 1 FROM w WHERE {same}) RETURNING t.plan_id"
                )
            ).scalars()
            touched.update(gone)
        missing = (
            "" if fresh else f" WHERE NOT EXISTS (SELECT 1 FROM sales_plan_schedule t WHERE {same})"
        )
        new = session.execute(
            text(
                f"WITH w AS ({wanted}) INSERT INTO sales_plan_schedule"
                f" (plan_id, by_day, target_quantity, target_amount)"
                f" SELECT w.plan_id, w.by_day, w.q, w.a FROM w{missing}"
                f" ORDER BY w.plan_id, w.by_day RETURNING plan_id"
            )
        ).scalars()
        touched.update(new)
    if has_support:
        wanted = (
            f"SELECT {plan_of} AS plan_id, s.support_kind AS kind, s.support_description AS"
            f" description, s.support_amount AS amount FROM {_STAGE} s"
        )
        same = (
            "w.plan_id = t.plan_id AND w.kind = t.kind AND w.description = t.description"
            " AND w.amount IS NOT DISTINCT FROM t.amount"
        )
        if not fresh:
            gone = session.execute(
                text(
                    f"WITH w AS ({wanted}) DELETE FROM sales_plan_support t"
                    f" WHERE t.plan_id IN (SELECT plan_id FROM w) AND NOT EXISTS"
                    f" (SELECT 1 FROM w WHERE {same}) RETURNING t.plan_id"
                )
            ).scalars()
            touched.update(gone)
        new = session.execute(
            text(
                f"WITH w AS ({wanted}) INSERT INTO sales_plan_support"
                f" (plan_id, kind, description, amount)"
                f" SELECT w.plan_id, w.kind, w.description, w.amount FROM w"
                f" WHERE w.kind IS NOT NULL AND NOT EXISTS"
                f" (SELECT 1 FROM sales_plan_support t WHERE {same})"
                f" ORDER BY w.plan_id RETURNING plan_id"
            )
        ).scalars()
        touched.update(new)
    bump = sorted(touched - inserted - updated)
    if bump:
        session.execute(
            text("UPDATE sales_plans SET version = version + 1 WHERE id = ANY(:ids)"),
            {"ids": bump},
        )
    return len(inserted), len(updated) + len(bump)


__all__ = ["PLAN_COLUMNS", "import_plans"]
