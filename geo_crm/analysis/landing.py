"""The landing page (``/``): a map of the caller's regions coloured by one figure, the key
figures of their scope beside it, and every region they may see in a table grouped by province.

Figures per region (rolled up through the region tree, like the regions vector tiles):

- ``outlets``: active located outlets (``region_outlet_totals``, the tiles' own counts);
- ``sales``: amount sold to buyers in the region this year so far (``sales_buyer_years``);
- ``plan``: plan achievement to date of the region's distributors: sell-in this year over the
  plan expected by today (:func:`geo_crm.analysis.plans.plan_against_actual`);
- ``coverage``: share of the region's area within the service radius of an active outlet, and
  ``gaps``: hexagon cells of the page's grid with no outlet in reach — the region pages'
  analyses with the default filters, read from the analysis cache (:mod:`.cache`: computed
  once per data change; a large region's is queued and its value null until it is kept) and
  answered per region, so they are answered for the regions of the level
  that meet the map's view (``bbox``), at most ``MAX_ANALYSED_REGIONS`` at once (more is
  refused with a 422 naming ``query.level``: zoom in, or open a region's page).

Scope: a manager's figures count only their regions (all of whose outlets they see); the
regions listed are those :func:`~geo_crm.domain.access.region_scope` gives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.access import outlet_scope, region_scope, scoped
from ..domain.gis import InvalidParameter, check_bbox
from ..domain.principal import Principal
from ..domain.region_counts import outside_regions_count, untagged_count
from ..domain.regions import region_label
from ..errors import ValidationError
from ..models import TIERS, Outlet, Region, RegionOutletTotal, SalesBuyerYear
from . import cache
from .params import MapFilters
from .plans import Period, plan_against_actual

FIGURES = ("coverage", "sales", "plan", "outlets", "gaps")
DEFAULT_FIGURE = "outlets"
UNITS = {
    "coverage": "ratio",
    "sales": "yuan",
    "plan": "ratio",
    "outlets": "count",
    "gaps": "count",
}
# the levels a map zoom draws (domain.tiles.REGION_BANDS): a region with no children of a
# deeper level stands in for them, as on the tiles
LEVELS = ("province", "city", "district")
ANALYSED = frozenset({"coverage", "gaps"})
MAX_ANALYSED_REGIONS = 40  # per request: each is one analysis of its own

REGIONS = Region.__table__
OUTLETS = Outlet.__table__


@dataclass
class RegionRow:
    """One region the caller may see, with its active outlets per tier (rolled up)."""

    id: int
    code: str
    name: str
    name_en: str | None
    level: str
    parent_id: int | None
    by_tier: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TIERS, 0))
    has_children: bool = False
    area_m2: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.by_tier.values())

    def label(self, t) -> str:
        return region_label(self.name, self.name_en, t)


@dataclass
class RegionGroup:
    """A province (or the top of the caller's scope when it lies below one) and the regions
    below it, in tree order."""

    head: RegionRow
    rows: list[RegionRow]


@dataclass
class KeyFigures:
    outlets: dict[str, int]
    untagged: int
    outside: int  # located outlets in no region (counted in no region's figures)
    regions: int
    sales_amount: Decimal
    plan_amount: Decimal
    expected_amount: Decimal
    sell_in_amount: Decimal
    year: int

    @property
    def total_outlets(self) -> int:
        return sum(self.outlets.values())

    @property
    def achievement(self) -> float | None:
        """Sell-in this year over the plan expected by today."""
        if not self.expected_amount:
            return None
        return float(self.sell_in_amount) / float(self.expected_amount)


@dataclass
class LandingPage:
    regions: list[RegionRow]
    groups: list[RegionGroup]  # provinces first, by code
    key: KeyFigures


@dataclass
class LandingFigures:
    """One figure for every region of a level the caller may see, by region code."""

    figure: str
    level: str
    unit: str
    as_of: dt.datetime
    values: dict[str, float | None]
    period: str | None = None
    # coverage and gaps come from the analysis cache: some kept figures are older than the
    # data (``as_of``: the oldest) or not computed yet (None) while they are recomputed
    updating: bool = False
    # and the caller's queue of recomputations was full: some were not queued this time
    busy: bool = False

    def to_dict(self) -> dict:
        return {
            "figure": self.figure,
            "level": self.level,
            "unit": self.unit,
            "as_of": self.as_of.isoformat(timespec="seconds"),
            "period": self.period,
            "values": self.values,
            "updating": self.updating,
            "busy": self.busy,
        }


def scope_regions(
    session: Session, user: Principal | None, *, shown: str | None = None
) -> dict[int, RegionRow]:
    """Every region ``user`` may see, by id, with its active located outlets per tier (the
    kept totals of the tiles: every region below it counted); with ``shown`` (a level), only
    the regions a map of that level draws (:func:`_shown`; 34 provinces rather than the
    country's 3,600 regions)."""
    r = REGIONS
    conds = [region_scope(user, r)] if scoped(user) else []
    kid = REGIONS.alias("kid")
    has_kids = select(kid.c.id).where(kid.c.parent_id == r.c.id).exists()
    if shown is not None:
        above = list(LEVELS[: LEVELS.index(shown)])
        conds.append((r.c.level == shown) | (r.c.level.in_(above) & ~has_kids))
    rows = {
        row.id: RegionRow(
            row.id, row.code, row.name, row.name_en, row.level, row.parent_id,
            has_children=row.kids, area_m2=row.area_m2 or 0.0,
        )
        for row in session.execute(
            select(
                r.c.id, r.c.code, r.c.name, r.c.name_en, r.c.level, r.c.parent_id,
                r.c.area_m2, has_kids.label("kids"),
            )
            .where(*conds)
            .order_by(r.c.code)
        )
    }  # fmt: skip
    if not rows:
        return rows
    t = RegionOutletTotal.__table__
    totals = select(t.c.region_id, t.c.tier, t.c.outlets)
    # the scope as a sub-select, not a list of ids: with the country's 3,600 bind values the
    # driver spent longer splitting the statement than PostgreSQL took to run it
    if conds:
        totals = totals.where(t.c.region_id.in_(select(r.c.id).where(*conds)))
    for region_id, tier, n in session.execute(totals):
        if region_id not in rows:
            continue
        if tier in rows[region_id].by_tier:
            rows[region_id].by_tier[tier] = int(n)
    return rows


def _ancestors(rows: dict[int, RegionRow], region_id: int | None) -> Iterable[int]:
    """``region_id`` and every region above it that the caller may see."""
    seen = 0
    while region_id is not None and region_id in rows and seen < 16:
        yield region_id
        region_id = rows[region_id].parent_id
        seen += 1


def group_by_province(rows: dict[int, RegionRow]) -> list[RegionGroup]:
    """Provinces (or the tops of the scope below them) with the regions under each, in tree
    order (a city, then its districts); regions above every province (the country) are left to
    the key figures."""
    children: dict[int | None, list[RegionRow]] = {}
    for row in rows.values():
        parent = row.parent_id if row.parent_id in rows else None
        children.setdefault(parent, []).append(row)
    for kids in children.values():
        kids.sort(key=lambda r: r.code)

    def below(row: RegionRow) -> list[RegionRow]:
        out = []
        for kid in children.get(row.id, []):
            out.append(kid)
            out.extend(below(kid))
        return out

    heads: list[RegionRow] = []
    pending = list(children.get(None, []))
    while pending:
        row = pending.pop(0)
        if row.level == "country":  # the whole country: its provinces head the groups
            pending.extend(children.get(row.id, []))
        else:
            heads.append(row)
    heads.sort(key=lambda r: r.code)
    return [RegionGroup(head, below(head)) for head in heads]


def _year_sales(session: Session, user: Principal | None, year: int) -> dict[int, int]:
    """Amount (fen) sold this year to buyers per smallest region, of the buyers ``user`` sees."""
    y, o = SalesBuyerYear.__table__, OUTLETS
    stmt = (
        select(o.c.region_id, func.sum(y.c.amount_fen))
        .join(o, o.c.id == y.c.buyer_id)
        .where(y.c.year == year, o.c.region_id.is_not(None))
        .group_by(o.c.region_id)
    )
    if scoped(user):
        stmt = stmt.where(outlet_scope(user, o))
    return {region_id: int(fen) for region_id, fen in session.execute(stmt)}


@dataclass
class KeyPlan:
    plan_amount: Decimal
    expected_amount: Decimal
    sell_in_amount: Decimal


def _year_plan(session: Session, user: Principal | None, today: dt.date, by: tuple[str, ...]):
    """This year's plan against actual of the distributors ``user`` sees, to ``today``."""
    return plan_against_actual(
        session,
        user=user,
        period=Period("year", dt.date(today.year, 1, 1), dt.date(today.year, 12, 1)),
        by=by,
        as_of=today,
    )


def _key_plan(total) -> KeyPlan:
    return KeyPlan(total.plan_amount, total.expected_amount, total.sell_in_amount)


def _plan_by_region(
    session: Session, user: Principal | None, today: dt.date
) -> dict[int, tuple[Decimal, Decimal]]:
    """(expected plan amount to date, sell-in amount) this year per distributor's region."""
    answer = _year_plan(session, user, today, ("distributor",))
    ids = [row[0] for row in answer.rows]
    where = {}
    if ids:
        stmt = select(OUTLETS.c.id, OUTLETS.c.region_id).where(OUTLETS.c.id.in_(ids))
        where = {outlet_id: region_id for outlet_id, region_id in session.execute(stmt)}
    out: dict[int, tuple[Decimal, Decimal]] = {}
    for row in answer.rows:
        region_id = where.get(row[0])
        if region_id is None:
            continue
        # Figures order: plan q/a, expected q/a, sell-in q/a, sell-out q/a, plans
        expected, sell_in = row[4], row[6]
        e0, s0 = out.get(region_id, (Decimal(0), Decimal(0)))
        out[region_id] = (e0 + expected, s0 + sell_in)
    return out


def _plan_total(session: Session, user: Principal | None, today: dt.date) -> KeyPlan:
    """This year's plan, plan expected by today and sell-in of the distributors ``user`` sees
    (the key figures need the total alone: grouped by month, not by each of the country's
    distributors with their regions looked up as the map's figure does)."""
    return _key_plan(_year_plan(session, user, today, ("month",)).total)


def region_groups(
    session: Session, user: Principal | None, group: str | None = None
) -> list[RegionGroup]:
    """The region table's groups (:func:`group_by_province`) of ``user``'s scope: all of them,
    or the one ``group`` heads (none when it heads no group the caller may see)."""
    groups = group_by_province(scope_regions(session, user))
    return groups if group is None else [g for g in groups if g.head.code == group]


def landing_page(session: Session, user: Principal | None, *, today: dt.date | None = None):
    """The landing page of ``user``: their regions (table, grouped) and their key figures."""
    today = today or dt.date.today()
    rows = scope_regions(session, user)
    tops = [r for r in rows.values() if r.parent_id not in rows]
    outlets = dict.fromkeys(TIERS, 0)
    for top in tops:
        for tier, n in top.by_tier.items():
            outlets[tier] += n
    sales = sum(_year_sales(session, user, today.year).values())
    plan = _plan_total(session, user, today)
    key = KeyFigures(
        outlets=outlets,
        untagged=untagged_count(session, user=user),
        outside=outside_regions_count(session, user=user),
        regions=len(rows),
        sales_amount=Decimal(sales) / 100,
        plan_amount=plan.plan_amount,
        expected_amount=plan.expected_amount,
        sell_in_amount=plan.sell_in_amount,
        year=today.year,
    )
    return LandingPage(list(rows.values()), group_by_province(rows), key)


def _shown(rows: dict[int, RegionRow], level: str) -> list[RegionRow]:
    """The regions a map of ``level`` draws: that level, and regions above it with no children
    (they stand in for their missing sub-regions, as on the tiles)."""
    above = LEVELS[: LEVELS.index(level)]
    return [
        r for r in rows.values() if r.level == level or (r.level in above and not r.has_children)
    ]


def _in_view(
    session: Session, shown: list[RegionRow], box: tuple[float, float, float, float]
) -> list[RegionRow]:
    """The regions of ``shown`` whose outline meets the lon/lat box."""
    if not shown:
        return shown
    r = REGIONS
    envelope = func.ST_MakeEnvelope(*box, 4326)
    ids = set(
        session.scalars(
            select(r.c.id).where(
                r.c.id.in_([row.id for row in shown]),
                r.c.boundary.op("&&")(envelope),
                func.ST_Intersects(r.c.boundary, envelope),
            )
        )
    )
    return [row for row in shown if row.id in ids]


def _rolled(rows: dict[int, RegionRow], by_region: dict[int, float]) -> dict[int, float]:
    out: dict[int, float] = {}
    for region_id, value in by_region.items():
        for up in _ancestors(rows, region_id):
            out[up] = out.get(up, 0) + value
    return out


def landing_figures(
    session: Session,
    user: Principal | None,
    figure: str | None,
    level: str | None,
    *,
    bbox: str | None = None,
    today: dt.date | None = None,
    enqueue: cache.Enqueue | None = None,
) -> LandingFigures:
    """``figure`` for every region of ``level`` that ``user`` may see — for coverage and gaps
    those meeting ``bbox`` ("west,south,east,north" in lon/lat; the map's view) — (422 naming
    ``query.figure`` / ``query.level`` for an unknown one or more regions than an analysis per
    request allows; 400 naming ``query.bbox`` for a box that is not one). Coverage and gaps are
    the region pages' cached analyses with the default filters (:func:`cache.cached_many`: one
    read for every region; ``enqueue``
    queues a recomputation; the caller commits)."""
    figure = figure or DEFAULT_FIGURE
    level = level or "province"
    problems = {}
    if figure not in FIGURES:
        problems["query.figure"] = f"one of {', '.join(FIGURES)}"
    if level not in LEVELS:
        problems["query.level"] = f"one of {', '.join(LEVELS)}"
    if problems:
        raise ValidationError("invalid landing figures query", fields=problems)
    box = None
    if bbox is not None and figure in ANALYSED:
        try:
            box = check_bbox([float(part) for part in bbox.split(",")])
        except ValueError:
            raise InvalidParameter(
                "bbox takes comma-separated numbers", fields={"query.bbox": "not numbers"}
            ) from None
    today = today or dt.date.today()
    as_of = dt.datetime.now(dt.UTC)
    # sales and plan roll up through the tree; the others read the shown regions alone
    rows = scope_regions(session, user, shown=None if figure in ("sales", "plan") else level)
    shown = _shown(rows, level)
    values: dict[str, float | None] = {}
    period = None
    if figure == "outlets":
        values = {r.code: float(r.total) for r in shown}
    elif figure == "sales":
        rolled = _rolled(rows, _year_sales(session, user, today.year))
        values = {r.code: rolled.get(r.id, 0) / 100 for r in shown}
        period = str(today.year)
    elif figure == "plan":
        by_region = _plan_by_region(session, user, today)
        expected = _rolled(rows, {k: float(v[0]) for k, v in by_region.items()})
        sell_in = _rolled(rows, {k: float(v[1]) for k, v in by_region.items()})
        values = {
            r.code: (sell_in.get(r.id, 0.0) / expected[r.id]) if expected.get(r.id) else None
            for r in shown
        }
        period = str(today.year)
    else:
        if box is not None:
            shown = _in_view(session, shown, box)
        if len(shown) > MAX_ANALYSED_REGIONS:
            raise ValidationError(
                f"{len(shown)} regions are too many to analyse at once "
                f"(at most {MAX_ANALYSED_REGIONS}): zoom in or open a region's page",
                fields={"query.level": f"at most {MAX_ANALYSED_REGIONS} regions for {figure}"},
            )
        got = cache.cached_many(
            session, figure, [(r.code, r.area_m2) for r in shown], MapFilters(), enqueue=enqueue
        )
        kept = list(got.values())
        for code, one in got.items():
            if one.result is None:
                values[code] = None
            elif figure == "coverage":
                values[code] = one.result.region.ratio
            else:
                values[code] = float(one.result.gap_cells)
        older = [g.computed_at for g in kept if g.updating and g.computed_at is not None]
        updating = any(g.updating for g in kept)
        as_of = min(older) if older else as_of
        answer = LandingFigures(figure, level, UNITS[figure], as_of, values, period)
        answer.updating = updating
        answer.busy = any(g.busy for g in kept)
        return answer
    return LandingFigures(figure, level, UNITS[figure], as_of, values, period)
