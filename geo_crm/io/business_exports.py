"""Export the business lists — sales records, plans, debt ageing — as CSV (UTF-8 with a BOM
for Excel, or GB18030) or XLSX, with the filters of their lists and the user's scope.

The writers and the formula guard are the outlet export's (:mod:`geo_crm.io.exports`): text a
spreadsheet would run as a formula gets a leading ``'``; amounts and quantities stay exact
numbers. The sales and plans files start with the columns their importers read (``sku``,
``seller_code`` …; an empty seller is the manufacturer), so they import back; the columns
after those are for reading (the importers ignore them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from sqlalchemy.orm import Session

from ..domain import plans as plan_svc
from ..domain import sales as sales_svc
from ..domain.debt import BUCKETS, debt_ageing
from ..domain.principal import Principal
from ..errors import ValidationError
from .exports import Export, csv_chunks, iter_rows, new_export, xlsx_chunks

SPREADSHEETS = ("csv", "xlsx")

SALES_COLUMNS = (
    "reference", "date", "seller_code", "buyer_code", "sku", "spec", "quantity", "unit_price",
    "amount", "amount_paid", "debt", "settlement", "flags", "review_state", "id",
)  # fmt: skip
PLAN_COLUMNS = (
    "distributor_code", "month", "sku", "target_quantity", "target_amount", "by_10_quantity",
    "by_20_quantity", "by_10_amount", "by_20_amount", "support_notes", "distributor_name",
    "product_name", "support", "version", "closed",
)  # fmt: skip
DEBT_COLUMNS = (
    "code", "name", "region_code", "region_name", "credit_limit", "owed_total",
    *(f"owed_{b}" for b in BUCKETS), "oldest_unpaid", "oldest_days", "oldest_invoice",
    "receivable_total", *(f"receivable_{b}" for b in BUCKETS),
)  # fmt: skip


def _write(export: Export, codec: str | None, batches, columns, sheet: str) -> Export:
    def counted() -> Iterator[list[dict]]:
        for batch in batches:
            export.rows += len(batch)
            yield batch

    if export.fmt == "csv":
        export.chunks = csv_chunks(counted(), codec, columns)
    else:
        export.chunks = xlsx_chunks(counted(), columns=columns, sheet_name=sheet)
    return export


def export_sales(
    session: Session,
    fmt: str,
    *,
    filters: sales_svc.SalesFilters | None = None,
    user: Principal | None = None,
    encoding: str | None = None,
) -> Export:
    """Sales records matching ``filters`` that ``user`` may see, in id order."""
    export, codec = new_export("sales", fmt, encoding, SPREADSHEETS)
    filters = filters or sales_svc.SalesFilters()
    problems = sales_svc.check_sales_filters(session, filters, user)
    if problems:
        raise ValidationError(next(iter(problems.values())), fields=problems)
    stmt = sales_svc.select_sales(filters)
    visible = sales_svc._visible(user)
    if visible is not None:
        stmt = stmt.where(visible)

    def rows() -> Iterator[list[dict]]:
        for batch in iter_rows_raw(session, stmt):
            yield [
                {
                    **r,
                    "date": r["sale_date"],
                    "sku": r["product_sku"],
                }
                for r in batch
            ]

    return _write(export, codec, rows(), SALES_COLUMNS, "sales")


def iter_rows_raw(session: Session, stmt) -> Iterator[list[dict]]:
    result = session.execute(stmt, execution_options={"yield_per": 2000})
    return ([dict(m) for m in part] for part in result.mappings().partitions())


def export_plans(
    session: Session,
    fmt: str,
    *,
    filters: plan_svc.PlanFilters | None = None,
    user: Principal | None = None,
    encoding: str | None = None,
) -> Export:
    """Plans matching ``filters`` that ``user`` may see, with the 10th's and 20th's schedule
    targets and the support lines (kind: description amount; …)."""
    export, codec = new_export("plans", fmt, encoding, SPREADSHEETS)
    stmt = plan_svc.select_plans(session, filters or plan_svc.PlanFilters(), user)

    def rows() -> Iterator[list[dict]]:
        for batch in iter_rows_raw(session, stmt):
            plan_svc._attach_children(session, batch)
            out = []
            for r in batch:
                steps = {s["by_day"]: s for s in r["schedule"]}
                row = {**r, "month": r["month"].isoformat()[:7], "sku": r["product_sku"]}
                for day in (10, 20):
                    step = steps.get(day) or {}
                    row[f"by_{day}_quantity"] = step.get("target_quantity")
                    row[f"by_{day}_amount"] = step.get("target_amount")
                row["support"] = "; ".join(
                    f"{s['kind']}: {s['description']}"
                    + (f" {s['amount']}" if s["amount"] is not None else "")
                    for s in r["support"]
                )
                out.append(row)
            yield out

    return _write(export, codec, rows(), PLAN_COLUMNS, "plans")


def export_debt(
    session: Session,
    fmt: str,
    *,
    user: Principal | None = None,
    as_of: dt.date | None = None,
    region: str | None = None,
    distributor: str | None = None,
    encoding: str | None = None,
) -> Export:
    """The debt ageing list, one row per distributor, largest debt first."""
    export, codec = new_export("debt-ageing", fmt, encoding, SPREADSHEETS)
    result = debt_ageing(session, user=user, as_of=as_of, region=region, distributor=distributor)
    rows = []
    for r in result.rows:
        d = r.to_dict(result.as_of)
        row = {
            "code": d["code"],
            "name": d["name"],
            "region_code": d["region_code"],
            "region_name": d["region_name"],
            "credit_limit": d["credit_limit"],
            "owed_total": d["owed"]["total"],
            "oldest_unpaid": d["owed"]["oldest_unpaid"],
            "oldest_days": d["owed"]["oldest_days"],
            "oldest_invoice": d["oldest_invoice"],
            "receivable_total": d["receivable"]["total"],
        }
        for b in BUCKETS:
            row[f"owed_{b}"] = d["owed"]["buckets"][b]
            row[f"receivable_{b}"] = d["receivable"]["buckets"][b]
        rows.append(row)
    return _write(export, codec, iter([rows]), DEBT_COLUMNS, "debt")


__all__ = ["export_debt", "export_plans", "export_sales", "iter_rows"]
