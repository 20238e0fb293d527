"""Import evaluations of distributors (经销商评估) from CSV or XLSX (columns:
docs/import-export.md "Evaluations").

Every row is a new evaluation (they are a history, never updated); its reach is computed from
the distributor's network when the file is imported, once per distributor (``reach_of``, given
by the caller: :func:`geo_crm.analysis.judging.network_reach`). The evaluator is the importing
user. Rows are checked like the API's body (the same :func:`~geo_crm.domain.evaluations.
check_evaluation`); a distributor already evaluated on that day, or twice in the file for one
day, is refused, so importing a file again adds nothing by mistake.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Unpack

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ...domain import evaluations as ev
from ...domain.access import outlet_scope
from ...domain.principal import Principal
from ...models import Outlet
from ..tabular import cell_date, cell_decimal, cell_float, cell_text
from .common import FileOptions, ImportReport, Source, cells, finish, open_rows, refused, to_write

EVALUATION_COLUMNS: dict[str, tuple[str, ...]] = {
    "distributor_code": ("distributor_code", "distributor", "经销商编码", "总经销编码",
                         "经销商代码", "客户编码"),
    "evaluated_on": ("evaluated_on", "date", "评估日期", "日期"),
    "initiative": ("initiative", "积极性"),
    "credit": ("credit", "信誉", "信用"),
    "capital": ("capital", "资金", "资金实力", "注册资金"),
    "brands_carried": ("brands_carried", "brands", "经营品牌", "畅销品牌"),
    "warehouses": ("warehouses", "仓库数", "仓库数量"),
    "warehouse_area_m2": ("warehouse_area_m2", "warehouse_area", "仓库面积", "仓库面积m2"),
    "vehicles": ("vehicles", "车辆", "车辆数"),
    "staff": ("staff", "人员", "员工数", "人数"),
    "social_relations": ("social_relations", "社会关系"),
    "notes": ("notes", "备注", "评语"),
}  # fmt: skip
_REQUIRED = ("distributor_code", "initiative", "credit")
_BRAND_SEP = re.compile(r"[,，、;；/|]")


def _int_cell(value: Any) -> tuple[int | None, str | None]:
    number, problem = cell_decimal(value, 0)
    if problem:
        return None, problem.replace("more than 0 decimal places", "not a whole number")
    return (None if number is None else int(number)), None


def _brands(value: Any) -> tuple[list[str], str | None]:
    raw = cell_text(value)
    if raw is None:
        return [], None
    return [b.strip() for b in _BRAND_SEP.split(raw) if b.strip()], None


def _visible_outlets(
    session: Session, codes: list[str | None], user: Principal | None
) -> dict[str, tuple[int, str]]:
    """code -> (id, tier) of the outlets named that ``user`` may see."""
    wanted = sorted({c for c in codes if c is not None})
    if not wanted:
        return {}
    o = Outlet.__table__
    stmt = select(o.c.code, o.c.id, o.c.tier).where(o.c.code.in_(wanted))
    if user is not None and not user.is_admin:
        stmt = stmt.where(outlet_scope(user, o))
    return {r.code: (r.id, r.tier) for r in session.execute(stmt)}


def import_evaluations(
    session: Session,
    source: Source,
    *,
    user: Principal | None = None,
    reach_of: ev.ReachOf | None = None,
    **options: Unpack[FileOptions],
) -> ImportReport:
    """Validate every row, then insert one evaluation per row (all or nothing unless
    ``skip_invalid``); ``user`` (None: the system) is who imports: their scope limits the
    distributors and they are the evaluator."""
    if reach_of is None:
        raise TypeError("import_evaluations needs reach_of (analysis.judging.network_reach)")
    rows, report, started = open_rows(
        "evaluations", source, EVALUATION_COLUMNS, _REQUIRED, **options
    )
    code = rows.text("distributor_code", max_len=64)
    on = cells(rows, "evaluated_on", cell_date)
    ints = {c: cells(rows, c, _int_cell) for c in ("initiative", "credit", "warehouses",
                                                    "vehicles", "staff")}  # fmt: skip
    capital = cells(rows, "capital", lambda v: cell_decimal(v, 2))
    area = cells(rows, "warehouse_area_m2", cell_float)
    brands = cells(rows, "brands_carried", _brands)
    social = rows.text("social_relations")
    notes = rows.text("notes")
    known = _visible_outlets(session, code, user)
    done: set[tuple[int, Any]] = set()
    if known:
        done = {
            (r.distributor_id, r.evaluated_on)
            for r in session.execute(
                text(
                    "SELECT DISTINCT distributor_id, evaluated_on FROM evaluations"
                    " WHERE distributor_id = ANY(:ids)"
                ),
                {"ids": [v[0] for v in known.values()]},
            )
        }
    items: dict[int, ev.EvaluationIn] = {}
    seen: dict[tuple, int] = {}
    today = dt.date.today()
    for i in range(rows.n):
        c = code[i]
        for column in _REQUIRED:
            if cell_text(rows.raw(column)[i]) is None:
                rows.required(i, column)
        if c is not None:
            if c not in known:
                rows.add(
                    i, "distributor_code", f"unknown distributor {c!r}: no outlet has this code"
                )
            elif known[c][1] != "distributor":
                rows.add(i, "distributor_code", f"{c!r} is a {known[c][1]}, not a distributor")
        item = ev.EvaluationIn(
            distributor=c or "",
            evaluated_on=on[i] or today,
            initiative=ints["initiative"][i],
            credit=ints["credit"][i],
            capital=capital[i],
            brands_carried=brands[i],
            warehouses=ints["warehouses"][i],
            warehouse_area_m2=area[i],
            vehicles=ints["vehicles"][i],
            staff=ints["staff"][i],
            social_relations=social[i],
            notes=notes[i],
        )
        reported = {p.column for p in rows.problems if p.row == rows.numbers[i]}
        for column, problem in ev.check_evaluation(item, today=today).items():
            if column not in reported:  # a missing or unreadable cell is reported already
                rows.add(i, column, problem)
        if c in known and known[c][1] == "distributor":
            key = (known[c][0], item.evaluated_on)
            if key in done:
                rows.add(i, "evaluated_on", f"{c} was evaluated on {item.evaluated_on} already")
            elif key in seen:
                rows.add(i, "evaluated_on", f"the same distributor and day as row {seen[key]}")
            else:
                seen[key] = rows.numbers[i]
        items[i] = item
    keep = to_write(rows, report)
    if keep is None:
        return finish(report, rows, started)
    if not report.dry_run and keep:
        reach: dict[str, ev.Reach] = {}
        params = []
        for i in keep:
            c = code[i]
            if c not in reach:
                reach[c] = reach_of(session, c)
            evaluator = None if user is None else user.id
            params.append(ev.insert_params(items[i], known[c][0], reach[c], evaluator))
        with refused():
            ev.insert_many(session, params)
    report.inserted = len(keep)
    report.written = not report.dry_run and bool(keep)
    return finish(report, rows, started)


__all__ = ["EVALUATION_COLUMNS", "import_evaluations"]
