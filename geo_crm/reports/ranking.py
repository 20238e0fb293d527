"""The distributor ranking's figures for every distributor of a report at once.

A report ranks a province's distributors (about 1,000) by plan achievement and lists what each
owes. Asking ``analysis.distribution.plan_achievement`` and ``domain.sales.buyer_debt`` once
per distributor cost two round trips and two small plans each: about 3 s for a province, the
largest part of a province PDF's time. Here each is one statement over the array of
distributor ids, giving the same figures (``tests/test_reports.py`` compares them with the two
functions): plan per month from ``sales_plans``; actual per month from the seller rollup
``sales_seller_months`` (the distributor's sell-out, exact in fen, kept by the triggers of
migration 0009 in the transaction that changes the records; ``plan_achievement`` sums the
same records); debt and the oldest unpaid sale of each distributor as a buyer from the unpaid
records (``ix_sales_records_unpaid``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import ARRAY, BigInteger, bindparam, text
from sqlalchemy.orm import Session

_IDS = bindparam("ids", type_=ARRAY(BigInteger))

_MONTHS = text("""
    WITH plan AS (
        SELECT distributor_id AS id, month, sum(target_amount) AS plan
          FROM sales_plans
         WHERE distributor_id = ANY(:ids) AND month BETWEEN :start AND :end
           AND (CAST(:p AS int) IS NULL OR product_id = :p)
         GROUP BY 1, 2),
    actual AS (
        SELECT seller_id AS id, month, sum(amount_fen) AS fen
          FROM sales_seller_months
         WHERE seller_id = ANY(:ids) AND month BETWEEN :start AND :end AND records > 0
           AND (CAST(:p AS int) IS NULL OR product_id = :p)
         GROUP BY 1, 2)
    SELECT coalesce(p.id, a.id) AS id, coalesce(p.month, a.month) AS month,
           coalesce(p.plan, 0) AS plan, coalesce(a.fen, 0) AS fen
      FROM plan p FULL JOIN actual a ON a.id = p.id AND a.month = p.month
     ORDER BY 1, 2""").bindparams(_IDS)

_DEBTS = text("""
    SELECT buyer_id AS id, sum(debt) AS debt, min(sale_date) AS oldest
      FROM sales_records
     WHERE buyer_id = ANY(:ids) AND amount_paid < amount
     GROUP BY buyer_id""").bindparams(_IDS)

CENT = Decimal("0.01")


def plan_months(
    session: Session, ids: list[int], year: int, *, month_to: int | None, product_id: int | None
) -> dict[int, list[tuple[dt.date, Decimal, Decimal]]]:
    """(month, plan amount, actual amount) of each distributor, months of ``year`` up to
    ``month_to`` that have a plan or a sale, in order; distributors with neither are absent."""
    start = dt.date(year, 1, 1)
    end = dt.date(year, month_to or 12, 1)
    out: dict[int, list[tuple[dt.date, Decimal, Decimal]]] = {}
    rows = session.execute(_MONTHS, {"ids": ids, "start": start, "end": end, "p": product_id})
    for r in rows:
        out.setdefault(r.id, []).append((r.month, Decimal(r.plan), Decimal(r.fen) * CENT))
    return out


def debts(session: Session, ids: list[int]) -> dict[int, tuple[Decimal, dt.date]]:
    """(outstanding debt, oldest unpaid sale's date) of each distributor that owes anything."""
    return {r.id: (r.debt, r.oldest) for r in session.execute(_DEBTS, {"ids": ids})}
