"""Debt ageing (账龄): per distributor what it owes the manufacturer (unpaid sell-in) beside
what its own buyers owe it (unpaid sell-out, its receivables), in the buckets 0–30, 31–60,
61–90 and over 90 days since the sale date, with the oldest unpaid invoice; and the same
totals per region.

``as_of`` (default today) is the day ages are counted to; records dated after it are left
out. The amounts are what is unpaid now (payments may be recorded without their date on the
record: ``amount_paid`` is the sum, so the balance on a past day is not reconstructed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ..errors import ValidationError
from ..models import REGION_LEVELS, Outlet
from .access import distributor_scope
from .network import distributor as find_distributor
from .outlets import region_known
from .principal import Principal
from .regions import region_subtree

BUCKETS = ("0-30", "31-60", "61-90", "90+")
ZERO = Decimal("0.00")

_AGEING = text("""
WITH owed AS (
    SELECT buyer_id AS id, count(*) AS records,
           sum(amount - amount_paid) FILTER (WHERE :as_of - sale_date <= 30) AS b0,
           sum(amount - amount_paid) FILTER (WHERE :as_of - sale_date BETWEEN 31 AND 60) AS b1,
           sum(amount - amount_paid) FILTER (WHERE :as_of - sale_date BETWEEN 61 AND 90) AS b2,
           sum(amount - amount_paid) FILTER (WHERE :as_of - sale_date > 90) AS b3,
           sum(amount - amount_paid) AS total, min(sale_date) AS oldest
      FROM sales_records
     WHERE seller_id IS NULL AND amount_paid < amount AND sale_date <= :as_of
       AND buyer_id = ANY(:ids)
     GROUP BY buyer_id
), recv AS (
    SELECT seller_id AS id, count(*) AS records,
           sum(amount - amount_paid) FILTER (WHERE :as_of - sale_date <= 30) AS b0,
           sum(amount - amount_paid) FILTER (WHERE :as_of - sale_date BETWEEN 31 AND 60) AS b1,
           sum(amount - amount_paid) FILTER (WHERE :as_of - sale_date BETWEEN 61 AND 90) AS b2,
           sum(amount - amount_paid) FILTER (WHERE :as_of - sale_date > 90) AS b3,
           sum(amount - amount_paid) AS total, min(sale_date) AS oldest
      FROM sales_records
     WHERE seller_id IS NOT NULL AND amount_paid < amount AND sale_date <= :as_of
       AND seller_id = ANY(:ids)
     GROUP BY seller_id
)
SELECT d.id, d.code, d.name, d.region_id, c.credit_limit,
       o.records, o.b0, o.b1, o.b2, o.b3, o.total, o.oldest,
       (SELECT coalesce(r.reference, '#' || r.id) FROM sales_records r
         WHERE r.seller_id IS NULL AND r.buyer_id = d.id AND r.amount_paid < r.amount
           AND r.sale_date = o.oldest ORDER BY r.id LIMIT 1) AS oldest_invoice,
       v.records, v.b0, v.b1, v.b2, v.b3, v.total, v.oldest
  FROM outlets d
  LEFT JOIN owed o ON o.id = d.id
  LEFT JOIN recv v ON v.id = d.id
  LEFT JOIN distributor_credit c ON c.distributor_id = d.id
 WHERE d.id = ANY(:ids) AND (o.id IS NOT NULL OR v.id IS NOT NULL)
 ORDER BY o.total DESC NULLS LAST, v.total DESC NULLS LAST, d.code
""")

# each region's ancestor (or itself) at a level: for the per-region totals
_AT_LEVEL = text("""
WITH RECURSIVE up(start, id, parent_id, level) AS (
    SELECT r.id, r.id, r.parent_id, r.level FROM regions r WHERE r.id = ANY(:ids)
    UNION ALL
    SELECT up.start, p.id, p.parent_id, p.level FROM regions p JOIN up ON p.id = up.parent_id
)
SELECT up.start, g.code, g.name FROM up JOIN regions g ON g.id = up.id WHERE up.level = :level
""")


@dataclass
class Ageing:
    """Unpaid amounts by age bucket (``BUCKETS``), their total, records and the oldest date."""

    buckets: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKETS, ZERO))
    total: Decimal = ZERO
    records: int = 0
    oldest: dt.date | None = None

    def add(self, other: Ageing) -> None:
        for b in BUCKETS:
            self.buckets[b] += other.buckets[b]
        self.total += other.total
        self.records += other.records
        if other.oldest is not None and (self.oldest is None or other.oldest < self.oldest):
            self.oldest = other.oldest

    def to_dict(self, as_of: dt.date) -> dict:
        return {
            "buckets": dict(self.buckets),
            "total": self.total,
            "records": self.records,
            "oldest_unpaid": self.oldest,
            "oldest_days": (as_of - self.oldest).days if self.oldest else None,
        }


def _ageing(records, b0, b1, b2, b3, total, oldest) -> Ageing:
    if records is None:
        return Ageing()
    values = [v or ZERO for v in (b0, b1, b2, b3)]
    return Ageing(dict(zip(BUCKETS, values, strict=True)), total or ZERO, records, oldest)


@dataclass
class AgeingRow:
    code: str
    name: str
    region_code: str | None
    region_name: str | None
    credit_limit: Decimal | None
    owed: Ageing  # to the manufacturer (sell-in)
    oldest_invoice: str | None
    receivable: Ageing  # from its buyers (sell-out)

    def to_dict(self, as_of: dt.date) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "region_code": self.region_code,
            "region_name": self.region_name,
            "credit_limit": self.credit_limit,
            "over_limit": None
            if self.credit_limit is None
            else self.owed.total > self.credit_limit,
            "owed": self.owed.to_dict(as_of),
            "oldest_invoice": self.oldest_invoice,
            "receivable": self.receivable.to_dict(as_of),
        }


@dataclass
class AgeingResult:
    as_of: dt.date
    level: str
    rows: list[AgeingRow]
    by_region: list[dict]
    owed: Ageing
    receivable: Ageing

    def to_dict(self) -> dict:
        return {
            "as_of": self.as_of,
            "buckets": list(BUCKETS),
            "level": self.level,
            "totals": {
                "owed": self.owed.to_dict(self.as_of),
                "receivable": self.receivable.to_dict(self.as_of),
            },
            "by_region": [
                {
                    "code": g["code"],
                    "name": g["name"],
                    "distributors": g["distributors"],
                    "owed": g["owed"].to_dict(self.as_of),
                    "receivable": g["receivable"].to_dict(self.as_of),
                }
                for g in self.by_region
            ],
            "distributors": [r.to_dict(self.as_of) for r in self.rows],
        }


def debt_ageing(
    session: Session,
    *,
    user: Principal | None,
    as_of: dt.date | None = None,
    region: str | None = None,
    distributor: str | None = None,
    level: str = "province",
) -> AgeingResult:
    """Debt ageing of the distributors ``user`` may see (those of ``region``, or one
    ``distributor``) with unpaid sell-in or sell-out up to ``as_of``, largest debt first, and
    the totals per region of ``level`` (the distributor's region or its ancestor at that
    level; distributors without a region, or above the level, count under none)."""
    as_of = as_of or dt.date.today()
    problems: dict[str, str] = {}
    if level not in REGION_LEVELS:
        problems["level"] = f"one of {', '.join(REGION_LEVELS)}"
    if region is not None and not region_known(session, region, user):
        problems["region"] = f"no region with code {region!r}"
    o = Outlet.__table__
    conds = [o.c.tier == "distributor"]
    if distributor is not None:
        try:
            conds.append(
                o.c.id == find_distributor(session, distributor, user=user, reading=True).id
            )
        except ValidationError as exc:
            problems.update(exc.fields)
    if problems:
        raise ValidationError("invalid debt ageing query", fields=problems)
    if user is not None and not user.is_admin:
        conds.append(distributor_scope(user, o))
    if region is not None:
        tree = region_subtree(region)
        conds.append(o.c.region_id.in_(select(tree.c.id)))
    ids = list(session.scalars(select(o.c.id).where(*conds)))
    raw = session.execute(_AGEING, {"ids": ids, "as_of": as_of}).all() if ids else []
    region_ids = sorted({r.region_id for r in raw if r.region_id is not None})
    own = {}
    at_level = {}
    if region_ids:
        own = {
            r.id: (r.code, r.name)
            for r in session.execute(
                text("SELECT id, code, name FROM regions WHERE id = ANY(:ids)"), {"ids": region_ids}
            )
        }
        at_level = {
            r.start: (r.code, r.name)
            for r in session.execute(_AT_LEVEL, {"ids": region_ids, "level": level})
        }
    rows: list[AgeingRow] = []
    groups: dict[tuple, dict] = {}
    owed_total, recv_total = Ageing(), Ageing()
    for r in raw:
        owed = _ageing(*r[5:12])
        recv = _ageing(*r[13:20])
        code, name = own.get(r.region_id, (None, None))
        rows.append(AgeingRow(r.code, r.name, code, name, r.credit_limit, owed, r[12], recv))
        owed_total.add(owed)
        recv_total.add(recv)
        key = at_level.get(r.region_id, (None, None))
        group = groups.setdefault(
            key,
            {"code": key[0], "name": key[1], "distributors": 0, "owed": Ageing(),
             "receivable": Ageing()},
        )  # fmt: skip
        group["distributors"] += 1
        group["owed"].add(owed)
        group["receivable"].add(recv)
    by_region = sorted(groups.values(), key=lambda g: (-g["owed"].total, g["code"] or "~"))
    return AgeingResult(as_of, level, rows, by_region, owed_total, recv_total)
