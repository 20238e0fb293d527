"""Ranking the distributors of a region over a period (a month or a year) by one figure.

Every figure of every distributor comes from one set-based statement over the rollups
(``sales_buyer_months`` for sell-in and the retail outlets that bought, ``sales_seller_months``
for sell-out), the plans of the period, the unpaid sell-in (its covering partial index), the
latest evaluation and the network below each distributor (one recursive walk from all of them):
nothing runs per distributor. Figures (docs/business.md "Ranking"):

- ``achievement``: sell-in amount / plan amount of the period (None: nothing planned);
- ``growth``: sell-in amount against an earlier window of the same length, (this − then) /
  then (None: nothing bought then): ``compare`` ``mom`` (the month before; a year: the year
  before; the default) or ``yoy`` (a year earlier); a period still running compares its days
  to date with the same days of the earlier window (:mod:`.growth`: early in a month a whole
  month no longer stands against a few days);
- ``sell_out``: what it sold its buyers in the period (amount);
- ``distribution_rate`` (铺货率): active retail outlets of its network that bought anything in
  the period / active retail outlets of its network;
- ``breadth``: the share of the distributor's territory that its active network reaches over
  sub-regions — the scorecard's and the distributor page's figure (:mod:`.breadth`): the
  territory's leaf regions holding an active outlet below it / all of them, the territory
  being the assigned one (regions or a drawn polygon) else the smallest region holding its
  network. Each distributor is measured on its own territory (it used to be the ranked
  region's direct sub-regions, a figure no other page showed);
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
from .growth import COMPARISONS, Comparison, comparison, month_before
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
), reach AS (
    SELECT r.root, count(*) AS retail, count(b.buyer_id) AS bought
      FROM retail r LEFT JOIN bought b ON b.buyer_id = r.id
     GROUP BY r.root
), nregs AS (  -- breadth (analysis/breadth.py, for every distributor at once): the regions of
               -- each active network, the distributor's own included
    SELECT DISTINCT net.root, o.region_id AS id
      FROM net JOIN outlets o ON o.id = net.id
     WHERE o.region_id IS NOT NULL AND o.status = 'active'
), nup(root, start_id, id) AS (
    SELECT root, id, id FROM nregs
    UNION
    SELECT u.root, u.start_id, r.parent_id
      FROM nup u JOIN regions r ON r.id = u.id WHERE r.parent_id IS NOT NULL
), ncount AS (
    SELECT root, count(*) AS n FROM nregs GROUP BY root
), home AS (  -- the smallest region holding all of them (distribution.py's network region)
    SELECT DISTINCT ON (u.root) u.root, u.id
      FROM nup u JOIN regions r ON r.id = u.id JOIN ncount c ON c.root = u.root
     GROUP BY u.root, u.id, r.level, r.area_m2, c.n
    HAVING count(DISTINCT u.start_id) = c.n
     ORDER BY u.root, geo_crm_level_rank(r.level) DESC, r.area_m2
), terr AS (  -- assigned territories
    SELECT t.distributor_id AS root, t.region_ids,
           coalesce(cardinality(t.region_ids), 0) AS n_regions, t.geom
      FROM distributor_territories t WHERE t.distributor_id = ANY(:ids)
), troots AS (  -- the regions a territory is made of: the assigned ones, else the network's
    SELECT root, unnest(region_ids) AS id FROM terr WHERE n_regions > 0
    UNION ALL
    SELECT h.root, h.id FROM home h WHERE NOT EXISTS (SELECT 1 FROM terr WHERE terr.root = h.root)
), tbelow(root, id) AS (
    SELECT root, id FROM troots
    UNION
    SELECT b.root, c.id FROM tbelow b JOIN regions c ON c.parent_id = b.id
), pleaves AS (  -- a drawn territory: the leaves it touches, and whether it holds their centre
    SELECT t.root, r.id, ST_Intersects(ST_PointOnSurface(r.boundary), t.geom) AS inside
      FROM terr t JOIN regions r ON ST_Intersects(r.boundary, t.geom)
     WHERE t.n_regions = 0
       AND NOT EXISTS (SELECT 1 FROM regions c WHERE c.parent_id = r.id)
), tunits AS (  -- the territory's sub-regions: its leaves
    SELECT b.root, b.id FROM tbelow b
     WHERE NOT EXISTS (SELECT 1 FROM regions c WHERE c.parent_id = b.id)
    UNION ALL
    SELECT p.root, p.id FROM pleaves p
     WHERE p.inside OR NOT EXISTS (SELECT 1 FROM pleaves q WHERE q.root = p.root AND q.inside)
), theld AS (  -- the regions holding an active outlet below the distributor
    SELECT DISTINCT net.root, o.region_id AS id
      FROM net JOIN outlets o ON o.id = net.id
     WHERE net.id <> net.root AND o.status = 'active' AND o.region_id IS NOT NULL
), wide AS (
    SELECT u.root, count(*) AS units, count(h.id) AS reached
      FROM tunits u LEFT JOIN theld h ON h.root = u.root AND h.id = u.id
     GROUP BY u.root
), sell_in AS (
    SELECT buyer_id AS id, sum(amount_fen) AS fen FROM sales_buyer_months
     WHERE buyer_id = ANY(:ids) AND month BETWEEN :start AND :end GROUP BY buyer_id
), windows AS (  -- growth's two windows (analysis/growth.py): their whole months from the
                 -- rollup; for a period running on as_of, each window's last, partial month
                 -- (the same days of both) from the records (a few days: the date index)
    SELECT id, sum(now_fen) AS now_fen, sum(before_fen) AS before_fen FROM (
        SELECT buyer_id AS id,
               sum(amount_fen) FILTER (WHERE month BETWEEN :gm_start AND :gm_end) AS now_fen,
               sum(amount_fen) FILTER (WHERE month BETWEEN :bm_start AND :bm_end) AS before_fen
          FROM sales_buyer_months
         WHERE buyer_id = ANY(:ids)
           AND (month BETWEEN :gm_start AND :gm_end OR month BETWEEN :bm_start AND :bm_end)
         GROUP BY buyer_id
        UNION ALL
        SELECT buyer_id,
               round(sum(amount) FILTER (WHERE sale_date BETWEEN :gd_start AND :g_end) * 100),
               round(sum(amount) FILTER (WHERE sale_date BETWEEN :bd_start AND :b_end) * 100)
          FROM sales_records
         WHERE :to_date AND seller_id IS NULL AND buyer_id = ANY(:ids)
           AND (sale_date BETWEEN :gd_start AND :g_end OR sale_date BETWEEN :bd_start AND :b_end)
         GROUP BY buyer_id) parts
     GROUP BY id
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
           round(coalesce(gw.before_fen, 0) / 100.0, 2) AS growth_base,
           round(coalesce(so.fen, 0) / 100.0, 2) AS sell_out,
           p.amount AS plan,
           (coalesce(si.fen, 0) / 100.0 / nullif(p.amount, 0))::float8 AS achievement,
           ((coalesce(gw.now_fen, 0) - gw.before_fen)::float8 / nullif(gw.before_fen, 0))
             AS growth,
           coalesce(rc.retail, 0) AS retail_outlets, coalesce(rc.bought, 0) AS retail_bought,
           (rc.bought::float8 / nullif(rc.retail, 0)) AS distribution_rate,
           coalesce(wd.reached, 0) AS reached_units, coalesce(wd.units, 0) AS units,
           (wd.reached::float8 / nullif(wd.units, 0)) AS breadth,
           coalesce(db.owed, 0) AS debt, db.oldest AS oldest_unpaid,
           coalesce(:last_day - db.oldest, 0) AS debt_age,
           l.score, l.evaluated_on
      FROM d
      LEFT JOIN sell_in si ON si.id = d.id
      LEFT JOIN windows gw ON gw.id = d.id
      LEFT JOIN sell_out so ON so.id = d.id
      LEFT JOIN plan p ON p.id = d.id
      LEFT JOIN reach rc ON rc.root = d.id
      LEFT JOIN wide wd ON wd.root = d.id
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
    growth: Comparison  # the two windows the growth figure compares

    def to_dict(self) -> dict:
        return {
            "region": self.region,
            "period": {
                "kind": self.period.kind,
                "label": self.period.label(),
                "start": self.period.start,
                "end": self.period.last_day,
            },
            "growth": self.growth.to_dict(),
            "by": self.by,
            "ascending": self.by in ASCENDING,
            "items": self.rows,
        }


def ranking(
    session: Session,
    region: str,
    *,
    by: str = "achievement",
    period: str | Period | None = None,
    user: Principal | None,
    statuses: tuple[str, ...] = ("active",),
    compare: str = "mom",
    as_of: dt.date | None = None,
) -> Ranking:
    """The distributors of ``region`` (and below) that ``user`` may see, of ``statuses``,
    ranked by ``by`` over ``period`` (a month or a year; default this month), each with every
    figure; growth compares like with like (``compare``: ``mom`` or ``yoy``; a period running
    on ``as_of``, default today, to date: analysis/growth.py). A missing region is a 404; a
    bad figure, period or comparison a 422 naming it."""
    as_of = as_of or dt.date.today()
    problems: dict[str, str] = {}
    if by not in FIGURES:
        problems["by"] = f"one of {', '.join(FIGURES)}"
    if compare not in COMPARISONS:
        problems["compare"] = f"one of {', '.join(COMPARISONS)}"
    try:
        period = period if isinstance(period, Period) else parse_period(period, today=as_of)
    except ValidationError as exc:
        problems.update(exc.fields)
    if problems:
        raise ValidationError("invalid ranking query", fields=problems)
    assert isinstance(period, Period)
    windows = comparison(period, as_of, compare)
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
                "start": period.start,
                "end": period.end,
                **_window_params(windows),
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
    return Ranking({"code": info.code, "name": info.name}, period, by, rows, windows)


def _window_params(c: Comparison) -> dict:
    """The growth windows as the statement reads them: whole months (first days, inclusive)
    from the rollup and, for a period to date, the last month's days from the records."""
    out: dict = {"to_date": c.to_date, "g_end": c.end, "b_end": c.before_end}
    for key, start, end in (("g", c.start, c.end), ("b", c.before_start, c.before_end)):
        out[f"{key}m_start"] = start.replace(day=1)
        if c.to_date:  # the whole months before the window's last; that month's days apart
            out[f"{key}m_end"] = month_before(end.replace(day=1))
            out[f"{key}d_start"] = end.replace(day=1)
        else:
            out[f"{key}m_end"] = end.replace(day=1)
            out[f"{key}d_start"] = end  # unused: the records part is off
    return out


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
    compare: str = "mom",
) -> RankingPage:
    """What the ranking page shows: :func:`ranking` and the boundaries its map draws."""
    result = ranking(session, region, by=by, period=period, user=user, compare=compare)
    info = get_region(session, region, boundary=True)
    return RankingPage(
        result,
        info,
        subregions(session, info.id, boundary=True),
        ancestors(session, info.id),
    )
