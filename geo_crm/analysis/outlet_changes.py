"""New, lost and re-assigned outlets (客户变动) of a region, month by month.

Four kinds of event, for the outlets whose region lies in the region's subtree:

- ``started``: the outlet's first purchase ever (the buyer rollup's first month) is that month;
- ``stopped``: the outlet bought in month *p* and not in the N months after it; the event is in
  month *p* + N, the N-th month without a purchase, and is reported once that month is over
  (before ``as_of``'s month). N is the ``months`` argument, else the business setting
  ``stopped_buying_months`` (``app_settings``, default 3; ``geo-crm settings set``). An outlet
  that buys again later and stops again has a second event;
- ``supplier``: its supplier (parent) changed — from the outlet change history of migration 0012,
  with who and when;
- ``closed``: its status became ``closed`` (same history).

The counts per month cover every event; the list is the newest ``limit`` events. Outlets are
placed in regions by where they are now.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import Counter
from dataclasses import asdict, dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from ..domain.credit import get_setting
from ..domain.plans import next_month
from ..domain.principal import Principal
from ..errors import NotFound, ValidationError
from .params import find_region

KINDS = ("started", "stopped", "supplier", "closed")
MAX_MONTHS = 60  # longest period asked for at once
MAX_LIMIT = 10_000
DEFAULT_LIMIT = 2_000
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def month_of(value: dt.date) -> dt.date:
    return value.replace(day=1)


def parse_month(value: str | dt.date | None, name: str) -> dt.date | None:
    """``YYYY-MM`` (or a date) → the month's first day; a bad one is a 422 naming ``name``."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return month_of(value)
    m = MONTH_RE.match(value.strip())
    if m is None or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1:
        raise ValidationError(f"{name}: a month is YYYY-MM", fields={name: "expected YYYY-MM"})
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


@dataclass
class MonthCounts:
    month: dt.date
    started: int = 0
    stopped: int = 0
    supplier: int = 0
    closed: int = 0

    def to_dict(self) -> dict:
        return {"month": self.month.strftime("%Y-%m"), **{k: getattr(self, k) for k in KINDS}}


@dataclass
class OutletChangeEvent:
    kind: str
    month: dt.date
    outlet_code: str
    outlet_name: str
    tier: str
    status: str
    lon: float | None
    lat: float | None
    changed_at: dt.datetime | None = None  # supplier/closed: when it was recorded
    changed_by: str | None = None  # supplier/closed: who (None: the system)
    old_value: str | None = None  # supplier: outlet code; closed: status before
    new_value: str | None = None
    last_purchase: dt.date | None = None  # stopped: the month of the last purchase

    def to_dict(self) -> dict:
        out = asdict(self)
        out["month"] = self.month.strftime("%Y-%m")
        out["changed_at"] = self.changed_at.isoformat() if self.changed_at else None
        out["last_purchase"] = self.last_purchase.strftime("%Y-%m") if self.last_purchase else None
        return out


@dataclass
class OutletChangesResult:
    region_code: str
    region_name: str
    month_from: dt.date
    month_to: dt.date
    stopped_months: int
    as_of: dt.date
    kinds: list[str]
    months: list[MonthCounts]
    events: list[OutletChangeEvent] = field(default_factory=list)
    total: int = 0  # events of every month of the period
    truncated: bool = False  # the list holds the newest ``limit`` of ``total``

    def totals(self) -> dict[str, int]:
        return {k: sum(getattr(m, k) for m in self.months) for k in KINDS}

    def to_dict(self) -> dict:
        return {
            "region": {"code": self.region_code, "name": self.region_name},
            "from": self.month_from.strftime("%Y-%m"),
            "to": self.month_to.strftime("%Y-%m"),
            "stopped_months": self.stopped_months,
            "as_of": self.as_of.isoformat(),
            "kinds": self.kinds,
            "totals": self.totals(),
            "months": [m.to_dict() for m in self.months],
            "events": [e.to_dict() for e in self.events],
            "total": self.total,
            "truncated": self.truncated,
        }


@functools.cache
def _statement():
    """One statement: the four kinds of event of the region's outlets, with what is shown of
    each (outlet, supplier codes, who). The region's subtree by a recursive CTE."""
    return text("""
WITH RECURSIVE sub AS (
    SELECT id FROM regions WHERE id = :region_id
    UNION ALL
    SELECT r.id FROM regions r JOIN sub ON r.parent_id = sub.id
), ro AS (
    SELECT o.id FROM outlets o WHERE o.region_id IN (SELECT id FROM sub)
), bought AS (
    SELECT DISTINCT b.buyer_id, b.month FROM sales_buyer_months b
     WHERE b.buyer_id IN (SELECT id FROM ro) AND b.month < :next_as_of
), events AS (
    SELECT 'started' AS kind, f.first_month AS month, f.buyer_id AS outlet_id,
           NULL::timestamptz AS changed_at, NULL::integer AS user_id,
           NULL::text AS old_value, NULL::text AS new_value, NULL::bigint AS old_id,
           NULL::bigint AS new_id, NULL::date AS last_purchase
      FROM (SELECT buyer_id, min(month) AS first_month FROM bought GROUP BY buyer_id) f
     WHERE f.first_month BETWEEN :m0 AND :m1 AND 'started' = ANY(:kinds)
    UNION ALL
    SELECT 'stopped', s.stop_month, s.buyer_id, NULL, NULL, NULL, NULL, NULL, NULL, s.month
      FROM (SELECT l.buyer_id, l.month, (l.month + make_interval(months => :n))::date AS stop_month,
                   l.nxt
              FROM (SELECT buyer_id, month,
                           lead(month) OVER (PARTITION BY buyer_id ORDER BY month) AS nxt
                      FROM bought) l) s
     WHERE (s.nxt IS NULL OR s.nxt > s.stop_month)
       AND s.stop_month BETWEEN :m0 AND :m1 AND s.stop_month < :as_of_month
       AND 'stopped' = ANY(:kinds)
    UNION ALL
    SELECT CASE c.field WHEN 'supplier' THEN 'supplier' ELSE 'closed' END,
           date_trunc('month', c.changed_at)::date, c.outlet_id, c.changed_at, c.user_id,
           c.old_value, c.new_value,
           CASE WHEN c.field = 'supplier' THEN c.old_value::bigint END,
           CASE WHEN c.field = 'supplier' THEN c.new_value::bigint END, NULL
      FROM outlet_changes c
     WHERE c.outlet_id IN (SELECT id FROM ro)
       AND c.changed_at >= :m0 AND c.changed_at < :next_m1
       AND ((c.field = 'supplier' AND 'supplier' = ANY(:kinds))
         OR (c.field = 'status' AND c.new_value = 'closed' AND 'closed' = ANY(:kinds)))
)
SELECT e.kind, e.month, o.code, o.name, o.tier, o.status,
       ST_X(o.location) AS lon, ST_Y(o.location) AS lat,
       e.changed_at, u.username,
       CASE e.kind WHEN 'supplier' THEN so.code ELSE e.old_value END AS old_value,
       CASE e.kind WHEN 'supplier' THEN sn.code ELSE e.new_value END AS new_value,
       e.last_purchase
  FROM events e
  JOIN outlets o ON o.id = e.outlet_id
  LEFT JOIN users u ON u.id = e.user_id
  LEFT JOIN outlets so ON so.id = e.old_id
  LEFT JOIN outlets sn ON sn.id = e.new_id
 ORDER BY e.month DESC, e.kind, o.code, e.changed_at
""")


def stopped_months_setting(session: Session) -> int:
    return int(get_setting(session, "stopped_buying_months"))


def outlet_changes(
    session: Session,
    region_code: str,
    *,
    month_from: str | dt.date | None = None,
    month_to: str | dt.date | None = None,
    stopped_months: int | None = None,
    kinds: list[str] | tuple[str, ...] | None = None,
    limit: int = DEFAULT_LIMIT,
    as_of: dt.date | None = None,
    user: Principal | None = None,
) -> OutletChangesResult:
    """The region's outlet changes per month from ``month_from`` to ``month_to`` (default: the
    twelve months to ``as_of``'s, today's by default). ``user``: a region outside their scope
    is a 404 like a missing one (None: the system)."""
    as_of = as_of or dt.date.today()
    region = find_region(session, region_code)
    if user is not None and not user.is_admin:
        from ..domain.outlets import region_known

        if not region_known(session, region_code, user):
            raise NotFound(f"no region with code {region_code!r}", fields={"region": "not found"})
    m1 = parse_month(month_to, "to_month") or month_of(as_of)
    m0 = parse_month(month_from, "from_month") or next_month(m1, -11)
    if m0 > m1:
        raise ValidationError(
            "from_month: after to_month", fields={"from_month": "must not be after to_month"}
        )
    span = (m1.year - m0.year) * 12 + m1.month - m0.month + 1
    if span > MAX_MONTHS:
        raise ValidationError(
            f"from_month: at most {MAX_MONTHS} months at once",
            fields={"from_month": f"at most {MAX_MONTHS} months up to to_month"},
        )
    if stopped_months is None:
        stopped_months = stopped_months_setting(session)
    if not 1 <= stopped_months <= 24:
        raise ValidationError(
            "months: between 1 and 24", fields={"months": "must be between 1 and 24"}
        )
    chosen = list(kinds) if kinds else list(KINDS)
    unknown = [k for k in chosen if k not in KINDS]
    if unknown:
        raise ValidationError(
            f"kind: unknown {', '.join(unknown)}", fields={"kind": f"one of {', '.join(KINDS)}"}
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(
            f"limit: between 1 and {MAX_LIMIT}", fields={"limit": f"between 1 and {MAX_LIMIT}"}
        )
    rows = session.execute(
        _statement(),
        {
            "region_id": region.id,
            "m0": m0,
            "m1": m1,
            "next_m1": next_month(m1, 1),
            "n": stopped_months,
            "as_of_month": month_of(as_of),
            "next_as_of": next_month(month_of(as_of), 1),
            "kinds": chosen,
        },
    ).all()
    counts: Counter = Counter((r.kind, r.month) for r in rows)
    months = []
    month = m0
    while month <= m1:
        months.append(MonthCounts(month, **{k: counts[(k, month)] for k in KINDS}))
        month = next_month(month, 1)
    events = [
        OutletChangeEvent(
            kind=r.kind,
            month=r.month,
            outlet_code=r.code,
            outlet_name=r.name,
            tier=r.tier,
            status=r.status,
            lon=r.lon,
            lat=r.lat,
            changed_at=r.changed_at,
            changed_by=r.username,
            old_value=r.old_value,
            new_value=r.new_value,
            last_purchase=r.last_purchase,
        )
        for r in rows[:limit]
    ]
    return OutletChangesResult(
        region_code=region.code,
        region_name=region.name,
        month_from=m0,
        month_to=m1,
        stopped_months=stopped_months,
        as_of=as_of,
        kinds=chosen,
        months=months,
        events=events,
        total=len(rows),
        truncated=len(rows) > limit,
    )
