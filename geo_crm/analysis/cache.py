"""The analyses behind a region page, kept per region and filter and computed once per change.

A page's coverage, gaps and density are the same for everyone who may open the region (they
cover every outlet of the region; only the outlets a map draws one by one depend on the
caller, and those are not cached), so one result serves every caller: keyed by kind, region
and the *normalised* filters the kind reads (:func:`filter_key`: coverage reads tiers, radii,
status and distributor; gaps also the cell size; density tiers, status, distributor, product,
period and cell size), whatever the form called them.

Freshness: the sequence ``analysis_changes`` (migration 0016) is advanced by a statement
trigger on every write to outlets, sales records and regions. A result records the value read
just before its computation started; it is fresh while the counter still has that value (and
it is younger than :data:`MAX_AGE`, which bounds the one case the counter cannot see: a write
committed after a computation read the counter but whose statement ran before).

Read path (:func:`cached`):

- fresh: served;
- stale or missing, and the region small (at most :data:`INLINE_OUTLETS` active outlets):
  computed in the request and stored;
- stale and large: the stale result is served with its time ("as of"), and a recomputation
  is queued (procrastinate, one queued job per key: its queueing lock);
- missing and large: queued; the page shows that it is being computed and polls
  :func:`status`;
- the caller's queue full (at most ``GEO_CRM_ANALYSIS_JOBS_PER_USER`` waiting jobs per user,
  ``jobs.analyses.enqueue_for``): served as above, nothing queued, :attr:`Cached.busy` set.

The caller commits when :attr:`Cached.wrote` (a stored result or a queued job). Gap and
density cells are rows with their hexagon (``analysis_gap_cells``, ``analysis_density_cells``)
for the vector tiles and OGC API Features.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import shapely
from sqlalchemy import ARRAY, Text, bindparam, delete, func, insert, null, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from ..db.routing import ON_PRIMARY
from ..domain.region_counts import active_tier_totals
from ..domain.regions import RegionInfo, get_region
from ..errors import ValidationError
from ..models import (
    ANALYSIS_CACHE_KINDS,
    TIERS,
    AnalysisDensityCell,
    AnalysisGapCell,
    AnalysisResult,
    Region,
    RegionOutletTotal,
)
from .coverage import AreaShare, CoverageResult, TierCoverage, coverage
from .density import MAX_LIMIT as DENSITY_CELLS
from .density import DensityCell, DensityResult, SubRegionDensity, Totals, density
from .gaps import MAX_LIMIT as GAP_CELLS
from .gaps import GapCell, GapsResult, WhiteSpace, gaps
from .geometry.geodesy import display_tolerance
from .params import AnalysisParams, MapFilters, params_for_page

LOGGER = logging.getLogger(__name__)

KINDS = ANALYSIS_CACHE_KINDS
# active outlets of the region: at most this many, computed in a request (as reports are: a
# second or two, bench/README.md); a larger region's analyses are computed by a worker
INLINE_OUTLETS = 10_000
MAX_AGE = dt.timedelta(hours=1)  # an older result is recomputed even when nothing changed
PER_TIER_OUTLINE_MAX = 20_000  # a tier with more outlets shows only in the whole-network outline
RESULTS = AnalysisResult.__table__
GAP_CELL_ROWS = AnalysisGapCell.__table__
DENSITY_CELL_ROWS = AnalysisDensityCell.__table__


# -- keys --------------------------------------------------------------------------------------


def filter_key(kind: str, params: AnalysisParams) -> tuple[str, dict]:
    """The key text and the filters (JSON) of ``params`` as ``kind`` reads them: two forms
    asking the same analysis share one entry, and a filter the kind ignores (a period for
    coverage) does not split it."""
    if kind not in KINDS:
        raise ValidationError(f"unknown analysis {kind!r}", fields={"kind": "unknown"})
    tiers = [t for t in TIERS if t in params.tiers]
    filters: dict = {"tiers": tiers, "status": params.status, "distributor": params.distributor}
    if kind in ("coverage", "gaps"):
        filters["radius_m"] = {t: float(params.radius(t)) for t in tiers}
    if kind in ("gaps", "density"):
        filters["cell_km"] = float(params.cell_km)
    if kind == "density":
        filters["product"] = params.product
        filters["date_from"] = params.date_from.isoformat() if params.date_from else None
        filters["date_to"] = params.date_to.isoformat() if params.date_to else None
    return json.dumps(filters, sort_keys=True, separators=(",", ":")), filters


def params_of(kind: str, filters: dict, max_cells: int | None = None) -> AnalysisParams:
    """The analysis parameters a stored key stands for (:func:`filter_key`'s inverse)."""
    p = AnalysisParams(
        tiers=tuple(filters["tiers"]),
        status=filters.get("status"),
        distributor=filters.get("distributor"),
        product=filters.get("product"),
        date_from=_day(filters.get("date_from")),
        date_to=_day(filters.get("date_to")),
        cell_km=float(filters.get("cell_km") or AnalysisParams.cell_km),
    )
    if "radius_m" in filters:
        p = p.with_(radius_m=p.radius_m | filters["radius_m"])
    return p.with_(max_cells=max_cells) if max_cells else p


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def lock_of(kind: str, region_id: int, key: str) -> str:
    """The queueing lock of a key's recomputation: one queued job per key."""
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return f"analysis:{kind}:{region_id}:{digest}"


# -- the counter -------------------------------------------------------------------------------

_COUNTER = text("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM analysis_changes")


def change_count(session: Session) -> int:
    """The change counter now (a sequence: every session sees its latest value at once). Read
    on the primary even in a request reading from a replica: a replica's copy of a sequence is
    WAL-logged up to 32 values ahead, so it would never equal a count a job kept."""
    return int(session.execute(_COUNTER, bind_arguments=ON_PRIMARY).scalar_one())


# -- computing ---------------------------------------------------------------------------------


def compute(session: Session, kind: str, region: RegionInfo, params: AnalysisParams):
    """The analysis as the region map draws it (every figure of the page comes from it):
    coverage with the outlines a map of this region can show, the worst ``GAP_CELLS`` gap
    cells and the ``DENSITY_CELLS`` largest density cells with their hexagons."""
    if kind == "coverage":
        boundary = get_region(session, region.code, boundary=True).boundary
        tolerance_m = display_tolerance(boundary) * 111_000.0
        visible = {t: params.radius(t) >= 2 * tolerance_m for t in params.tiers}
        return coverage(
            session,
            region.code,
            params,
            geometry=all(visible.values()),
            simplify_m=0,  # the map simplifies for display itself
            tier_geometry={t: PER_TIER_OUTLINE_MAX for t, ok in visible.items() if ok}
            if len(params.tiers) > 1
            else None,
        )
    if kind == "gaps":
        return gaps(session, region.code, params, limit=GAP_CELLS, geometry=True)
    return density(session, region.code, params, limit=DENSITY_CELLS, geometry=True)


# -- storing and loading -----------------------------------------------------------------------


def _encode(result) -> tuple[dict, dict | None]:
    """The result as JSON without its cells (rows of their own) and, for coverage, its
    outlines apart (``shapes``: only a map reads them, the figures need the ratios)."""
    if isinstance(result, CoverageResult):
        d = dataclasses.asdict(dataclasses.replace(result, region_outlets=None))
        shapes = {"geometry": d.pop("geometry"), "tiers": {}}
        for t in d["by_tier"]:
            shapes["tiers"][t["tier"]] = t.pop("geometry")
        return d, shapes
    if isinstance(result, GapsResult):
        return dataclasses.asdict(dataclasses.replace(result, worst=[])), None
    return dataclasses.asdict(dataclasses.replace(result, cells=[])), None


def _decode(kind: str, d: dict, cells: list, shapes: dict | None = None):
    if kind == "coverage":
        shapes = shapes or {"geometry": None, "tiers": {}}
        d = dict(d, region_outlets=None, geometry=shapes["geometry"])
        return CoverageResult(
            **d
            | {
                "region": AreaShare(**d["region"]),
                "by_tier": [
                    TierCoverage(**t | {"geometry": shapes["tiers"].get(t["tier"])})
                    for t in d["by_tier"]
                ],
                "sub_regions": [AreaShare(**s) for s in d["sub_regions"]],
            }
        )
    if kind == "gaps":
        return GapsResult(
            **d | {"worst": cells, "white_space": [WhiteSpace(**w) for w in d["white_space"]]}
        )
    return DensityResult(
        **d
        | {
            "total": Totals(**d["total"]),
            "unlocated": Totals(**d["unlocated"]),
            "cells": cells,
            "sub_regions": [
                SubRegionDensity(**s | {"totals": Totals(**s["totals"])}) for s in d["sub_regions"]
            ],
        }
    )


def _wkb(outline: list) -> bytes:
    return shapely.to_wkb(shapely.Polygon(outline))


def _cell_rows(kind: str, result_id: int, result) -> list[dict]:
    if kind == "gaps":
        return [
            {
                "result_id": result_id,
                "rank": n,
                "row": c.row,
                "col": c.col,
                "lon": c.lon,
                "lat": c.lat,
                "distance_m": c.distance_m,
                "shortfall_m": c.shortfall_m,
                "nearest_outlet": c.nearest_code,
                "nearest_tier": c.nearest_tier,
                "geom": _wkb(c.outline),
            }
            for n, c in enumerate(result.worst)
        ]
    if kind == "density":
        return [
            {
                "result_id": result_id,
                "rank": n,
                "row": c.row,
                "col": c.col,
                "buyers": c.buyers,
                "records": c.totals.records,
                "amount": c.totals.amount,
                "quantity": c.totals.quantity,
                "geom": _wkb(c.outline),
            }
            for n, c in enumerate(result.cells)
        ]
    return []


def _cells_table(kind: str):
    return GAP_CELL_ROWS if kind == "gaps" else DENSITY_CELL_ROWS


def store(
    session: Session,
    kind: str,
    region_id: int,
    key: str,
    filters: dict,
    result,
    counted: int,
    compute_ms: int,
) -> None:
    """Keep ``result`` (computed from the data as of counter value ``counted``) with its cells,
    unless a result computed at a later value is already kept."""
    encoded, shapes = _encode(result)
    values = {
        "kind": kind,
        "region_id": region_id,
        "filter_key": key,
        "filters": filters,
        "result": encoded,
        "shapes": shapes,
        "change_count": counted,
        "compute_ms": compute_ms,
        "computed_at": func.now(),
    }
    stmt = pg_insert(RESULTS).values(**values)
    stmt = stmt.on_conflict_do_update(
        constraint="uq_analysis_results_key",
        set_={k: stmt.excluded[k] for k in values if k not in ("kind", "region_id", "filter_key")},
        where=stmt.excluded.change_count >= RESULTS.c.change_count,
    ).returning(RESULTS.c.id)
    result_id = session.execute(stmt).scalar()
    if result_id is None or kind == "coverage":
        return
    table = _cells_table(kind)
    session.execute(delete(table).where(table.c.result_id == result_id))
    rows = _cell_rows(kind, result_id, result)
    if rows:
        geom = func.ST_GeomFromWKB(text(":geom").bindparams(), 4326)
        session.execute(insert(table).values(geom=geom), rows)


def _load_cells(session: Session, kind: str, result_id: int) -> list:
    table = _cells_table(kind)
    cols = [c for c in table.c if c.name not in ("result_id", "geom")]
    rows = session.execute(
        select(*cols, func.ST_AsBinary(table.c.geom).label("wkb"))
        .where(table.c.result_id == result_id)
        .order_by(table.c.rank)
    ).all()
    out = []
    for r in rows:
        ring = [list(xy) for xy in shapely.from_wkb(bytes(r.wkb)).exterior.coords]
        if kind == "gaps":
            out.append(
                GapCell(
                    r.row,
                    r.col,
                    r.lon,
                    r.lat,
                    r.distance_m,
                    r.shortfall_m,
                    r.nearest_outlet,
                    r.nearest_tier,
                    ring,
                )  # fmt: skip
            )
        else:
            totals = Totals(
                int(r.records), int(r.amount * 100), int((r.quantity * 1000).to_integral_value())
            )
            out.append(DensityCell(r.row, r.col, r.buyers, totals, ring))
    return out


# -- reading -----------------------------------------------------------------------------------


@dataclass
class Cached:
    """A cached analysis as a page gets it. ``state``: ``fresh``; ``stale`` (``result`` is the
    last one, as of ``computed_at``; a recomputation is queued); ``computing`` (no result
    yet: queued) — unless ``busy``: the caller's queue of recomputations was full and nothing
    was queued this time (a later view queues it). ``wrote``: the caller must commit (a result
    stored or a job queued)."""

    kind: str
    state: str
    result: object | None = None
    computed_at: dt.datetime | None = None
    wrote: bool = False
    busy: bool = False  # not fresh, and the caller's queue was full: nothing was queued

    @property
    def updating(self) -> bool:
        return self.state != "fresh"


def _row(session: Session, kind: str, region_id: int, key: str, *, shapes: bool = False):
    """The kept entry (its outlines only when ``shapes``: they can be megabytes)."""
    r = RESULTS.c
    outlines = r.shapes if shapes else null().label("shapes")
    return session.execute(
        select(
            r.id, r.result, outlines, r.change_count, r.computed_at, func.now().label("now")
        ).where(r.kind == kind, r.region_id == region_id, r.filter_key == key)
    ).first()


def _is_fresh(row, counter: int) -> bool:
    return row.change_count == counter and row.now - row.computed_at <= MAX_AGE


def region_outlets(session: Session, region_id: int) -> int:
    """Active located outlets of the region and every region below it (the kept totals)."""
    return sum(active_tier_totals(session, region_id).values())


# how a recomputation is queued: (session, kind, region code, filters, lock) -> queued?
# (raises QueueFull when the caller may queue no more)
Enqueue = Callable[[Session, str, str, dict, str], bool]


class QueueFull(Exception):
    """The caller has as many recomputations waiting as they may (``jobs.analyses``'s cap):
    nothing was queued, the page serves what is kept and says the analyses are busy."""


def _queue(enqueue: Enqueue | None, session, kind, code, filters, lock) -> tuple[bool, bool]:
    """(a job was queued: the caller commits, the caller's queue was full)."""
    if enqueue is None:
        return False, False
    try:
        return bool(enqueue(session, kind, code, filters, lock)), False
    except QueueFull:
        return False, True


def cached(
    session: Session,
    kind: str,
    region_code: str,
    params: AnalysisParams,
    *,
    cells: bool = True,
    enqueue: Enqueue | None,
    inline_outlets: int | None = None,
) -> Cached:
    """The ``kind`` analysis of ``region_code`` for ``params`` (the read path of the module
    docstring). ``cells``: load the gap or density cells, or coverage's outlines, too (a map
    draws them; the figures need only the counts and ratios). The region must be one the
    caller may see (the caller's access rule); a distributor filter is checked in their scope
    by the caller as well.
    ``enqueue`` queues a recomputation (``jobs.analyses.enqueue_analysis``; None: nothing is
    queued, e.g. a read that must not write)."""
    key, filters = filter_key(kind, params)
    region = get_region(session, region_code)
    counter = change_count(session)
    row = _row(session, kind, region.id, key, shapes=cells)
    return _serve(
        session,
        kind,
        (region.code, region.id, region),
        (key, filters, params),
        row,
        counter,
        lambda: region_outlets(session, region.id),
        cells=cells,
        enqueue=enqueue,
        limit=INLINE_OUTLETS if inline_outlets is None else inline_outlets,
    )


def _serve(
    session: Session,
    kind: str,
    where: tuple[str, int, RegionInfo | None],
    keyed: tuple[str, dict, AnalysisParams],
    row,
    counter: int,
    outlets: Callable[[], int],
    *,
    cells: bool,
    enqueue: Enqueue | None,
    limit: int,
) -> Cached:
    """What :func:`cached` and :func:`cached_many` serve for one region once its kept ``row``
    (None: missing) and the change ``counter`` are read: fresh as kept; else computed in the
    request when the region has at most ``limit`` outlets (``outlets``, asked only then); else
    queued, with the stale result or none. ``where``: the region's code, id and the region
    itself (None: loaded only to compute); ``keyed``: its filter key, filters and parameters."""
    code, region_id, region = where
    key, filters, params = keyed
    if row is not None and _is_fresh(row, counter):
        return _cached(session, kind, row, "fresh", cells)
    if outlets() <= limit:
        # the result is written on the primary: compute it there too, from the data its counter
        # counts (a request reading from a replica moves to the primary here; db/routing.py)
        session.connection()
        if region is None:
            region = get_region(session, code)
        result = _compute_and_store(session, kind, region, key, filters, params, counter)
        return Cached(kind, "fresh", result, _now(session), wrote=True)
    queued, busy = _queue(enqueue, session, kind, code, filters, lock_of(kind, region_id, key))
    if row is not None:
        stale = _cached(session, kind, row, "stale", cells)
        return dataclasses.replace(stale, wrote=queued, busy=busy)
    return Cached(kind, "computing", wrote=queued, busy=busy)


def cached_many(
    session: Session,
    kind: str,
    regions: list[tuple[str, float]],
    f: MapFilters,
    *,
    enqueue: Enqueue | None,
    inline_outlets: int | None = None,
) -> dict[str, Cached]:
    """:func:`cached` (without cells) for many regions at once, by region code: ``regions``
    are (code, area in m²) pairs, each read with the parameters its page uses for the form
    ``f`` (:func:`page_params`). The counter is read once and every region's kept row, id
    and outlet total come in one statement; only what is stale or missing is then computed
    (small regions, one by one as :func:`cached` does) or queued (large ones)."""
    if not regions:
        return {}
    keys: dict[str, tuple[str, dict, AnalysisParams]] = {}
    for code, area in regions:
        params = page_params(kind, f, area)
        key, filters = filter_key(kind, params)
        keys[code] = (key, filters, params)
    codes = list(keys)
    counter = change_count(session)
    g, r = Region.__table__.c, RESULTS.c
    t = RegionOutletTotal.__table__.c
    # one statement: each region (by code), its outlet total and the row kept for its key
    given = (
        func.unnest(
            bindparam("codes", codes, type_=ARRAY(Text)),
            bindparam("keys", [keys[c][0] for c in codes], type_=ARRAY(Text)),
        )
        .table_valued("code", "key", name="given")
        .render_derived()
    )
    outlets = (
        select(func.coalesce(func.sum(t.outlets), 0)).where(t.region_id == g.id).scalar_subquery()
    )
    rows = session.execute(
        select(
            g.id.label("region_id"),
            g.code,
            outlets.label("outlets"),
            r.id,
            r.result,
            null().label("shapes"),
            r.change_count,
            r.computed_at,
            func.now().label("now"),
        )
        .select_from(given)
        .join(Region.__table__, g.code == given.c.code)
        .outerjoin(
            RESULTS,
            (r.kind == kind) & (r.region_id == g.id) & (r.filter_key == given.c.key),
        )
    ).all()
    limit = INLINE_OUTLETS if inline_outlets is None else inline_outlets
    return {
        row.code: _serve(
            session,
            kind,
            (row.code, row.region_id, None),
            keys[row.code],
            row if row.id is not None else None,
            counter,
            lambda row=row: int(row.outlets),
            cells=False,
            enqueue=enqueue,
            limit=limit,
        )
        for row in rows
    }


def _cached(session: Session, kind: str, row, state: str, cells: bool) -> Cached:
    loaded = _load_cells(session, kind, row.id) if cells and kind != "coverage" else []
    return Cached(kind, state, _decode(kind, row.result, loaded, row.shapes), row.computed_at)


def _now(session: Session) -> dt.datetime:
    return session.execute(select(func.now())).scalar_one()


def _compute_and_store(session, kind, region, key, filters, params, counter):
    started = time.perf_counter()
    result = compute(session, kind, region, params)
    ms = int((time.perf_counter() - started) * 1000)
    store(session, kind, region.id, key, filters, result, counter, ms)
    LOGGER.info("analysis %s of %s computed in %d ms", kind, region.code, ms)
    return result


def refresh(session: Session, kind: str, region_code: str, filters: dict) -> bool:
    """Compute and keep the entry ``filters`` names unless it is fresh already (what a queued
    job runs; the caller commits). True when it computed."""
    params = params_of(kind, filters)
    key, filters = filter_key(kind, params)
    region = get_region(session, region_code)
    counter = change_count(session)
    row = _row(session, kind, region.id, key)
    if row is not None and _is_fresh(row, counter):
        return False
    _compute_and_store(session, kind, region, key, filters, params, counter)
    return True


_OUTLINES = text("""
SELECT o.key, ST_AsBinary(ST_Simplify(ST_GeomFromGeoJSON(o.value), :tolerance)) AS wkb
  FROM analysis_results r
 CROSS JOIN LATERAL (
       SELECT 'all' AS key, r.shapes->'geometry' AS value
       UNION ALL SELECT t.key, t.value FROM jsonb_each(r.shapes->'tiers') t) o
 WHERE r.kind = 'coverage' AND r.region_id = :region_id AND r.filter_key = :key
   AND jsonb_typeof(o.value) = 'object'""")


def coverage_outlines(
    session: Session, region_id: int, params: AnalysisParams, tolerance: float
) -> dict[str, shapely.Geometry]:
    """The kept coverage's covered outlines (``"all"`` and per tier), simplified to
    ``tolerance`` degrees by PostGIS and read as WKB: what a map draws of them, without parsing
    megabytes of GeoJSON in Python (a country's outlines took half a second that way)."""
    key, _ = filter_key("coverage", params)
    rows = session.execute(
        _OUTLINES, {"region_id": region_id, "key": key, "tolerance": tolerance}
    ).all()
    return {k: shapely.from_wkb(bytes(wkb)) for k, wkb in rows if wkb is not None}


@dataclass
class EntryStatus:
    """What a page polls: the state of one entry and the time of the result it would get."""

    state: str  # fresh | stale | computing
    computed_at: dt.datetime | None

    def to_dict(self) -> dict:
        return {
            "state": self.state,
            "as_of": self.computed_at.isoformat() if self.computed_at else None,
        }


def status(session: Session, kind: str, region_code: str, params: AnalysisParams) -> EntryStatus:
    """The state of one entry, without computing or queueing anything."""
    key, _ = filter_key(kind, params)
    region = get_region(session, region_code)
    row = _row(session, kind, region.id, key)
    if row is None:
        return EntryStatus("computing", None)
    fresh = _is_fresh(row, change_count(session))
    return EntryStatus("fresh" if fresh else "stale", row.computed_at)


# -- the command's warm and status -------------------------------------------------------------


@dataclass
class CacheEntry:
    kind: str
    region_code: str
    filters: dict
    computed_at: dt.datetime
    compute_ms: int
    fresh: bool
    cells: int


def entries(session: Session) -> list[CacheEntry]:
    """Every kept result, by region code and kind, with whether it is fresh."""
    counter = change_count(session)
    r, g = RESULTS.c, Region.__table__.c
    gap_n = select(func.count()).where(GAP_CELL_ROWS.c.result_id == r.id).scalar_subquery()
    density_n = select(func.count()).where(DENSITY_CELL_ROWS.c.result_id == r.id).scalar_subquery()
    rows = session.execute(
        select(
            r.kind,
            g.code,
            r.filters,
            r.computed_at,
            r.compute_ms,
            r.change_count,
            func.now().label("now"),
            (gap_n + density_n).label("cells"),
        )  # fmt: skip
        .join_from(RESULTS, Region.__table__, g.id == r.region_id)
        .order_by(g.code, r.kind, r.id)
    ).all()
    return [
        CacheEntry(
            x.kind,
            x.code,
            x.filters,
            x.computed_at,
            x.compute_ms,
            x.change_count == counter and x.now - x.computed_at <= MAX_AGE,
            x.cells,
        )  # fmt: skip
        for x in rows
    ]


def warm(
    session: Session,
    f: MapFilters,
    *,
    level: str | None = None,
    kinds: tuple[str, ...] = KINDS,
    progress: Callable[[str, str, bool], None] | None = None,
) -> tuple[int, int]:
    """Compute (and keep) the analyses a region page with the filters ``f`` shows, for every
    region of ``level`` (None: every region) where they are not fresh, each in its own
    transaction so that what is done stays done. Returns (computed, already fresh)."""
    g = Region.__table__.c
    stmt = select(g.code, g.area_m2).order_by(g.code)
    if level is not None:
        stmt = stmt.where(g.level == level)
    regions = session.execute(stmt).all()
    session.commit()
    done = fresh = 0
    for code, area in regions:
        for kind in kinds:
            _, filters = filter_key(kind, page_params(kind, f, float(area or 0.0)))
            computed = refresh(session, kind, code, filters)
            session.commit()
            done, fresh = done + computed, fresh + (not computed)
            if progress is not None:
                progress(kind, code, computed)
    return done, fresh


def page_params(kind: str, f: MapFilters, area_m2: float) -> AnalysisParams:
    """The parameters a region page's ``kind`` analysis runs with for the form ``f``: coverage
    with each tier's radius, gaps and density on the cell size chosen from the region's area,
    density counting the sales of outlets closed since (the analysis's default)."""
    if kind == "coverage":
        return params_for_page(f)
    p = params_for_page(f, area_m2=area_m2)
    return p.with_(status=None) if kind == "density" else p


def region_status(session: Session, region_code: str, f: MapFilters, map_kind: str) -> dict:
    """The state of a region page's cached analyses for the form ``f``: the figures' (coverage
    and gaps) and the map's (``map_kind``, when it is a cached one), without computing or
    queueing anything."""
    region = get_region(session, region_code)
    kinds = ["coverage", "gaps"] + (["density"] if map_kind == "density" else [])
    analyses = {
        k: status(session, k, region.code, page_params(k, f, region.area_m2)).to_dict()
        for k in kinds
    }
    return {
        "region": region.code,
        "updating": any(a["state"] != "fresh" for a in analyses.values()),
        "analyses": analyses,
    }
