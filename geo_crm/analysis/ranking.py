"""Ranking the distributors of a region over a period (a month or a year) by one figure.

Every figure of every distributor comes from one set-based statement over the rollups
(``sales_buyer_months`` for sell-in and the retail outlets that bought, ``sales_seller_months``
for sell-out), the plans of the period, the unpaid sell-in (its covering partial index), the
latest evaluation and the network below each distributor (one recursive walk from all of them):
nothing runs per distributor. Figures (docs/business.md "Ranking"):

- ``achievement``: sell-in amount / plan amount of the period (None: nothing planned);
- ``growth``: sell-in amount against the same period a year earlier, (this − last) / last
  (None: nothing bought then);
- ``sell_out``: what it sold its buyers in the period (amount);
- ``distribution_rate`` (铺货率): active retail outlets of its network that bought anything in
  the period / active retail outlets of its network;
- ``breadth``: direct sub-regions of the ranked region holding an active retail outlet of its
  network / the region's direct sub-regions (a region without sub-regions is one unit). This is
  breadth *within the ranked region*, so every distributor is measured on the same units; the
  distributor page's breadth is over its own territory (analysis/distribution.py);
- ``debt_age``: days from the oldest unpaid sell-in (dated up to the period's end) to the
  period's end; lower ranks higher, no debt ranks first;
- ``score``: the latest evaluation's score up to the period's end under the current weights.

Ties share a rank (``rank()``); a distributor without the figure ranks after those with it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ..domain.access import outlet_scope
from ..domain.evaluations import LATEST_WEIGHTS_SQL, SCORE_SQL
from ..domain.principal import Principal
from ..domain.regions import RegionInfo, ancestors, get_region, region_subtree, subregions
from ..errors import ValidationError
from ..models import Outlet
from .plans import Period, parse_period

FIGURES = (
    "achievement",
    "growth",
    "sell_out",
    "distribution_rate",
    "breadth",
    "debt_age",
    "score",
)
ASCENDING = frozenset({"debt_age"})  # lower is better

_SQL = (
    """
WITH RECURSIVE d AS (
    SELECT o.id, o.code, o.name, o.status, ST_X(o.location) AS lon, ST_Y(o.location) AS lat
      FROM outlets o WHERE o.id = ANY(:ids)
), net(root, id) AS (
    SELECT d.id, d.id FROM d
    UNION ALL
    SELECT net.root, c.id FROM outlets c JOIN net ON c.parent_id = net.id
), retail AS (
    SELECT net.root, o.id, o.region_id
      FROM net JOIN outlets o ON o.id = net.id
     WHERE o.tier = 'retail' AND o.status = 'active'
), bought AS (  -- a year: the yearly rollup (one row per buyer); a month: the monthly one
    SELECT y.buyer_id FROM sales_buyer_years y
     WHERE :whole_year AND y.year = :year AND y.records > 0
       AND y.buyer_id IN (SELECT id FROM retail)
    UNION
    SELECT m.buyer_id FROM sales_buyer_months m
     WHERE NOT :whole_year AND m.month BETWEEN :start AND :end
       AND m.buyer_id IN (SELECT id FROM retail)
), kids AS (  -- each region below the ranked one, with the direct child it lies under
    SELECT id, id AS child_id FROM regions WHERE parent_id = :region_id
    UNION ALL
    SELECT r.id, kids.child_id FROM regions r JOIN kids ON r.parent_id = kids.id
), units AS (
    SELECT greatest(count(*), 1) AS n FROM regions WHERE parent_id = :region_id
), reach AS (
    SELECT r.root, count(*) AS retail, count(b.buyer_id) AS bought,
           CASE WHEN (SELECT count(*) FROM regions WHERE parent_id = :region_id) = 0
                THEN count(*) FILTER (WHERE r.region_id = :region_id) > 0
           END AS leaf_reached,
           count(DISTINCT k.child_id) AS reached
      FROM retail r
      LEFT JOIN bought b ON b.buyer_id = r.id
      LEFT JOIN kids k ON k.id = r.region_id
     GROUP BY r.root
), sell_in AS (
    SELECT buyer_id AS id,
           sum(amount_fen) FILTER (WHERE month BETWEEN :start AND :end) AS fen,
           sum(amount_fen) FILTER (WHERE month BETWEEN :prev_start AND :prev_end) AS prev_fen
      FROM sales_buyer_months
     WHERE buyer_id = ANY(:ids)
       AND (month BETWEEN :start AND :end OR month BETWEEN :prev_start AND :prev_end)
     GROUP BY buyer_id
), sell_out AS (
    SELECT seller_id AS id, sum(amount_fen) AS fen FROM sales_seller_months
     WHERE seller_id = ANY(:ids) AND month BETWEEN :start AND :end GROUP BY seller_id
), plan AS (
    SELECT distributor_id AS id, sum(target_amount) AS amount FROM sales_plans
     WHERE distributor_id = ANY(:ids) AND month BETWEEN :start AND :end GROUP BY distributor_id
), debt AS (
    SELECT buyer_id AS id, min(sale_date) AS oldest, sum(amount - amount_paid) AS owed
      FROM sales_records
     WHERE seller_id IS NULL AND amount_paid < amount AND buyer_id = ANY(:ids)
       AND sale_date <= :last_day
     GROUP BY buyer_id
), w AS ("""
    + LATEST_WEIGHTS_SQL
    + """
), latest AS (
    SELECT DISTINCT ON (e.distributor_id) e.distributor_id AS id, e.evaluated_on,
           """
    + SCORE_SQL
    + """ AS score
      FROM evaluations e CROSS JOIN w
     WHERE e.distributor_id = ANY(:ids) AND e.evaluated_on <= :last_day
     ORDER BY e.distributor_id, e.evaluated_on DESC, e.id DESC
), figures AS (
    SELECT d.id, d.code, d.name, d.status, d.lon, d.lat,
           round(coalesce(si.fen, 0) / 100.0, 2) AS sell_in,
           round(coalesce(si.prev_fen, 0) / 100.0, 2) AS sell_in_last_year,
           round(coalesce(so.fen, 0) / 100.0, 2) AS sell_out,
           p.amount AS plan,
           (coalesce(si.fen, 0) / 100.0 / nullif(p.amount, 0))::float8 AS achievement,
           ((coalesce(si.fen, 0) - si.prev_fen)::float8 / nullif(si.prev_fen, 0)) AS growth,
           coalesce(rc.retail, 0) AS retail_outlets, coalesce(rc.bought, 0) AS retail_bought,
           (rc.bought::float8 / nullif(rc.retail, 0)) AS distribution_rate,
           coalesce(CASE WHEN rc.leaf_reached IS NOT NULL THEN rc.leaf_reached::int
                         ELSE rc.reached END, 0) AS reached_units,
           (SELECT n FROM units) AS units,
           (coalesce(CASE WHEN rc.leaf_reached IS NOT NULL THEN rc.leaf_reached::int
                          ELSE rc.reached END, 0)::float8 / (SELECT n FROM units)) AS breadth,
           coalesce(db.owed, 0) AS debt, db.oldest AS oldest_unpaid,
           coalesce(:last_day - db.oldest, 0) AS debt_age,
           l.score, l.evaluated_on
      FROM d
      LEFT JOIN sell_in si ON si.id = d.id
      LEFT JOIN sell_out so ON so.id = d.id
      LEFT JOIN plan p ON p.id = d.id
      LEFT JOIN reach rc ON rc.root = d.id
      LEFT JOIN debt db ON db.id = d.id
      LEFT JOIN latest l ON l.id = d.id
)
SELECT rank() OVER (ORDER BY {key} {direction} NULLS LAST) AS rank, f.*
  FROM figures f
 ORDER BY {key} {direction} NULLS LAST, f.code
"""
)


@dataclass
class Ranking:
    region: dict  # code, name
    period: Period
    by: str
    rows: list[dict]

    def to_dict(self) -> dict:
        return {
            "region": self.region,
            "period": {
                "kind": self.period.kind,
                "label": self.period.label(),
                "start": self.period.start,
                "end": self.period.last_day,
            },
            "by": self.by,
            "ascending": self.by in ASCENDING,
            "items": self.rows,
        }


def _year_before(day: dt.date) -> dt.date:
    return day.replace(year=day.year - 1)


def ranking(
    session: Session,
    region: str,
    *,
    by: str = "achievement",
    period: str | Period | None = None,
    user: Principal | None,
    statuses: tuple[str, ...] = ("active",),
) -> Ranking:
    """The distributors of ``region`` (and below) that ``user`` may see, of ``statuses``,
    ranked by ``by`` over ``period`` (a month or a year; default this month), each with every
    figure. A missing region is a 404; a bad figure or period a 422 naming it."""
    problems: dict[str, str] = {}
    if by not in FIGURES:
        problems["by"] = f"one of {', '.join(FIGURES)}"
    try:
        period = period if isinstance(period, Period) else parse_period(period)
    except ValidationError as exc:
        problems.update(exc.fields)
    if problems:
        raise ValidationError("invalid ranking query", fields=problems)
    assert isinstance(period, Period)
    info = get_region(session, region)
    o = Outlet.__table__
    conds = [
        o.c.tier == "distributor",
        o.c.status.in_(statuses),
        o.c.region_id.in_(select(region_subtree(info.code).c.id)),
    ]
    if user is not None and not user.is_admin:
        conds.append(outlet_scope(user, o))
    ids = list(session.scalars(select(o.c.id).where(*conds)))
    rows: list[dict] = []
    if ids:
        statement = text(_SQL.format(key=by, direction="ASC" if by in ASCENDING else "DESC"))
        result = session.execute(
            statement,
            {
                "ids": ids,
                "region_id": info.id,
                "start": period.start,
                "end": period.end,
                "prev_start": _year_before(period.start),
                "prev_end": _year_before(period.end),
                "last_day": period.last_day,
                "whole_year": period.kind == "year",
                "year": period.start.year,
            },
        ).mappings()
        for r in result:
            row = dict(r)
            row.pop("id")
            if row["score"] is not None:
                row["score"] = round(float(row["score"]), 2)
            row["value"] = row[by]
            rows.append(row)
    return Ranking({"code": info.code, "name": info.name}, period, by, rows)


@dataclass
class RankingPage:
    """The ranking page: the ranking, and the region's and its sub-regions' boundaries for the
    map (WGS-84 shapely geometries)."""

    ranking: Ranking
    region: RegionInfo
    children: list[RegionInfo]
    crumbs: list[RegionInfo]


def ranking_page(
    session: Session,
    region: str,
    *,
    by: str,
    period: str | None,
    user: Principal | None,
) -> RankingPage:
    """What the ranking page shows: :func:`ranking` and the boundaries its map draws."""
    result = ranking(session, region, by=by, period=period, user=user)
    info = get_region(session, region, boundary=True)
    return RankingPage(
        result,
        info,
        subregions(session, info.id, boundary=True),
        ancestors(session, info.id),
    )
