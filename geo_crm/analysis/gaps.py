"""Coverage gaps: hexagon cells whose centre has no outlet of the chosen tiers within reach.

For every cell (``hexgrid``: centre inside the region) the distance to the nearest outlet of
each chosen tier comes from a KD-tree over earth-centred (ECEF) coordinates on the WGS-84
ellipsoid: the straight chord through the earth, corrected to the surface distance with the
local radius of curvature (c + c³/24ρ²), agrees with the geodesic (``pyproj.Geod.inv``) to
millimetres at 100 km. A cell is a gap when, for every tier, the nearest outlet is farther
than that tier's radius; ``shortfall_m`` = min over tiers of (distance − radius) ranks gaps
worst first. Distances are rounded to the millimetre before comparing with the radius.

Outlets outside the region count (the nearest shop may be across the border); the search
box grows until every cell's nearest outlet is certain to lie inside it.
"""

from __future__ import annotations

import functools
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import shapely
import shapely.geometry
from scipy.spatial import cKDTree
from sqlalchemy import BigInteger, Integer, Select, any_, bindparam, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..domain.network import OUTLETS
from ..domain.principal import Principal
from ..models import TIERS
from .frame import (
    OutletPoints,
    RegionFrame,
    cell_feature,
    fetch_outlets,
    filter_values,
    load_region,
    merge_points,
    outlet_filter,
)
from .geometry.disc_union import WORKERS
from .geometry.geodesy import SurfacePoints, envelope_around
from .geometry.hexgrid import HexGrid
from .params import AnalysisParams, Resolved, resolve

LOGGER = logging.getLogger(__name__)

DEFAULT_LIMIT = 500
MAX_LIMIT = 5000  # polygon features per answer (a map layer stays responsive up to ~5 k)
MIN_SEARCH_M = 20_000.0
BLOCK = 4  # cells per side of the blocks whose representatives bound the worst gaps


@dataclass
class GapCell:
    row: int
    col: int
    lon: float
    lat: float
    distance_m: float | None  # to the nearest outlet of the chosen tiers; None when there is none
    shortfall_m: float | None  # min over tiers of (distance - radius)
    nearest_code: str | None
    nearest_tier: str | None
    outline: list | None = None  # closed WGS-84 ring

    def feature(self) -> dict:
        return cell_feature(
            self.row,
            self.col,
            self.outline,
            {
                "lon": self.lon,
                "lat": self.lat,
                "distance_m": self.distance_m,
                "shortfall_m": self.shortfall_m,
                "nearest_outlet": self.nearest_code,
                "nearest_tier": self.nearest_tier,
            },
        )


@dataclass
class WhiteSpace:
    code: str
    name: str
    level: str
    area_m2: float


@dataclass
class GapsResult:
    region_code: str
    region_name: str
    tiers: list[str]
    radius_m: dict[str, float]
    cell_km: float
    cell_area_km2: float
    cells: int
    gap_cells: int
    outlets: int
    worst: list[GapCell]  # the first ``limit`` gaps, worst first
    white_space: list[WhiteSpace]
    sub_regions: int

    @property
    def gap_share(self) -> float:
        return self.gap_cells / self.cells if self.cells else 0.0

    def to_dict(self) -> dict:
        return {
            "region": {"code": self.region_code, "name": self.region_name},
            "tiers": self.tiers,
            "radius_m": self.radius_m,
            "cell_km": self.cell_km,
            "cell_area_km2": self.cell_area_km2,
            "cells": self.cells,
            "gap_cells": self.gap_cells,
            "gap_share": self.gap_share,
            "gap_area_km2": self.gap_cells * self.cell_area_km2,
            "outlets": self.outlets,
            "returned": len(self.worst),
            "gaps": {"type": "FeatureCollection", "features": [c.feature() for c in self.worst]},
            "white_space": [vars(w) | {"area_km2": w.area_m2 / 1e6} for w in self.white_space],
            "sub_regions": self.sub_regions,
        }


class _Cells:
    """The cells of a region's grid: indices, centres (lon/lat) and points on the ellipsoid."""

    def __init__(self, region: RegionFrame, grid: HexGrid):
        self.row, self.col = grid.cells_in(region.boundary_m)
        cx, cy = grid.centre(self.row, self.col)

        def place(part):  # PROJ and numpy release the GIL: chunks run side by side
            lon, lat = region.frame.to_lonlat(cx[part], cy[part])
            return lon, lat, SurfacePoints(lon, lat)

        chunks = np.array_split(np.arange(len(cx)), WORKERS if len(cx) > 100_000 else 1)
        with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
            parts = list(pool.map(place, chunks))
        self.lon = np.concatenate([p[0] for p in parts])
        self.lat = np.concatenate([p[1] for p in parts])
        self.surface = SurfacePoints.joined([p[2] for p in parts])

    def __len__(self) -> int:
        return len(self.row)


class _Nearest:
    """The outlets of each tier near a region, in KD-trees over ECEF, fetched in the region's
    box grown by a margin and again in a wider box when a cell's nearest outlet might lie
    beyond it."""

    def __init__(self, session, resolved: Resolved, region: RegionFrame, tiers, points, margin):
        self.session, self.resolved, self.tiers = session, resolved, tiers
        self.bounds = shapely.bounds(region.boundary)
        self.margin: float | None = margin
        self._use(points)

    def _use(self, points: OutletPoints) -> None:
        self.points = points
        self.trees = []
        for tier in self.tiers:
            mask = np.flatnonzero(points.tier == TIERS.index(tier))
            # unbalanced, uncompacted: half the build time, the same query time (measured)
            xyz = SurfacePoints(points.lon[mask], points.lat[mask]).xyz
            tree = cKDTree(xyz, balanced_tree=False, compact_nodes=False) if len(mask) else None
            self.trees.append((tree, mask))

    def query(self, cells: _Cells, idx, bound: np.ndarray | None = None):
        """(distance, nearest) of the cells ``idx`` per tier; with ``bound`` (metres per tier)
        only outlets within that chord are looked for (inf and -1 beyond it): the chord is
        shorter than the surface distance, so none within ``bound`` on the surface is missed."""
        distance = np.full((len(idx), len(self.tiers)), np.inf)
        nearest = np.full((len(idx), len(self.tiers)), -1, dtype=np.int64)
        targets = cells.surface.xyz[idx]
        for k, (tree, mask) in enumerate(self.trees):
            if tree is None or not len(idx):
                continue
            upper = np.inf if bound is None else float(bound[k]) * (1 + 1e-9) + 1e-3
            chord, found = tree.query(targets, k=1, workers=-1, distance_upper_bound=upper)
            hit = np.flatnonzero(found < tree.n)
            delta = tree.data[found[hit]] - targets[hit]
            metres = cells.surface.surface(chord[hit], delta, idx[hit])
            distance[hit, k] = np.round(metres, 3)
            nearest[hit, k] = mask[found[hit]]
        return distance, nearest

    def exact(self, cells: _Cells, idx: np.ndarray):
        """Distances of the cells ``idx`` to the nearest outlet of every tier, wherever it is:
        a cell farther than the margin from its nearest outlet in the box is asked again
        against a box grown by its distance (or every outlet)."""
        distance, nearest = self.query(cells, idx)
        todo = np.arange(len(idx))
        while self.margin is not None and self.points.envelope is not None and len(todo):
            best = distance[todo].min(axis=1)
            unsure = best > self.margin  # outlets within the margin of a cell are in the box
            if not unsure.any():
                break
            todo = todo[unsure]
            finite = best[unsure][np.isfinite(best[unsure])]
            margin = float(finite.max()) * 1.01 if finite.size else None
            if margin is not None and margin > 2_000_000:
                margin = None
            wider = envelope_around(self.bounds, margin) if margin is not None else None
            extra = fetch_outlets(
                self.session,
                self.resolved,
                self.tiers,
                wider,
                exclude=self.points.envelope,
                fields=("id",),
            )
            self.margin = margin
            if not len(extra):
                self.points = merge_points(self.points, extra)
                break
            self._use(merge_points(self.points, extra))
            distance[todo], nearest[todo] = self.query(cells, idx[todo])
        return distance, nearest


def _prepare(session, resolved: Resolved, region: RegionFrame, grid: HexGrid, tiers):
    """The grid's cells and the outlets near the region: the cells are laid out (numpy, PROJ)
    in a thread while the database packs the outlets."""
    margin = max(MIN_SEARCH_M, 2 * max(resolved.params.radius(t) for t in tiers))
    envelope = envelope_around(shapely.bounds(region.boundary), margin)
    region.boundary_m  # noqa: B018 -- projected here once, not inside the thread
    with ThreadPoolExecutor(max_workers=1) as pool:
        laid_out = pool.submit(_Cells, region, grid)
        points = fetch_outlets(session, resolved, tiers, envelope, fields=("id",))
        cells = laid_out.result()
    return cells, _Nearest(session, resolved, region, tiers, points, margin)


def _worst_candidates(cells: _Cells, near: _Nearest, gap: np.ndarray, radius, keep: int):
    """Gap cells that may be among the ``keep`` worst, with their exact distances.

    Shortfall (min over tiers of distance − radius) changes no faster than the cell moves,
    so a cell's shortfall is at most its block representative's plus the distance between
    them. Representatives (one per block of BLOCK × BLOCK cells) are measured exactly; the
    keep-th worst of them is a floor for the keep-th worst of all, and only cells whose bound
    reaches that floor are measured. Small grids measure every gap cell."""
    if keep == 0:
        none = np.empty((0, len(near.tiers)))
        return gap[:0], none, none.astype(np.int64)
    if len(gap) <= BLOCK * BLOCK * max(keep, 1000):
        distance, nearest = near.exact(cells, gap)
        return gap, distance, nearest
    row, col = cells.row[gap] // BLOCK, cells.col[gap] // BLOCK
    width = int(col.max() - col.min()) + 1
    key = (row - row.min()) * width + (col - col.min())
    # the first gap cell of each block is its representative (keys are dense: no sort needed)
    first = np.full(int(key.max()) + 1, len(gap))
    np.minimum.at(first, key, np.arange(len(gap)))
    used = first < len(gap)
    reps = gap[first[used]]
    block = (np.cumsum(used) - 1)[key]
    rep_distance, _ = near.exact(cells, reps)
    rep_short = (rep_distance - radius[None, :]).min(axis=1)
    xyz = cells.surface.xyz
    # chord to the representative; the surface distance exceeds it by under 0.1 % below 100 km
    apart = np.linalg.norm(xyz[gap] - xyz[reps[block]], axis=1) * 1.001 + 0.01
    bound = rep_short[block] + apart
    if len(reps) >= keep > 0:
        floor = np.partition(rep_short, len(reps) - keep)[len(reps) - keep]
        maybe = np.flatnonzero(bound >= floor)
    else:
        maybe = np.arange(len(gap))
    distance, nearest = near.exact(cells, gap[maybe])
    return gap[maybe], distance, nearest


def gaps(
    session: Session,
    region_code: str,
    params: AnalysisParams | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    geometry: bool = True,
    user: Principal | None = None,
) -> GapsResult:
    """Gap cells of a hexagon grid over the region, worst first, and white-space sub-regions.

    Every cell is classified with a search bounded by the radius (an outlet within reach
    stops it early); exact distances to the nearest outlet, wherever it is, are measured for
    the gap cells that may rank among the ``limit`` worst (``_worst_candidates``). ``user``:
    whose scope a distributor filter is looked up in (None: the system)."""
    params = params or AnalysisParams()
    resolved = resolve(session, params, region_code=region_code, user=user)
    region = load_region(session, region_code)
    params.check_cells(region.area_m2, region.code)
    tiers = tuple(t for t in TIERS if t in params.tiers)
    radius = np.array([params.radius(t) for t in tiers])
    grid = HexGrid(params.cell_km * 1000.0)
    cells, near = _prepare(session, resolved, region, grid, tiers)
    within, _ = near.query(cells, np.arange(len(cells)), bound=radius)
    is_gap = (within > radius[None, :]).all(axis=1)  # inf: none within reach
    keep = max(0, min(limit, MAX_LIMIT))
    gap_idx, distance, nearest_all = _worst_candidates(
        cells, near, np.flatnonzero(is_gap), radius, keep
    )
    shortfall = (distance - radius[None, :]).min(axis=1) if len(gap_idx) else np.empty(0)
    best_tier = distance.argmin(axis=1) if len(gap_idx) else np.empty(0, np.int64)
    best = distance[np.arange(len(gap_idx)), best_tier] if len(gap_idx) else np.empty(0)
    pick = np.arange(len(gap_idx))
    if 0 < keep < len(pick):  # only the worst `keep` need sorting; ties at the cut stay in
        cut = np.partition(-shortfall, keep - 1)[keep - 1]
        pick = pick[-shortfall <= cut]
    rows, cols = cells.row[gap_idx], cells.col[gap_idx]
    order = np.lexsort((cols[pick], rows[pick], -best[pick], -shortfall[pick]))
    top = pick[order][:keep]
    nearest = nearest_all[top, best_tier[top]]
    nearest_ids = np.full(len(nearest), -1, dtype=np.int64)
    nearest_ids[nearest >= 0] = near.points.ids[nearest[nearest >= 0]]
    codes = _outlet_codes(session, nearest_ids[nearest_ids >= 0], region.subtree_ids)
    outlines = region.cell_outlines(grid, rows[top], cols[top]) if geometry else [None] * len(top)
    worst = []
    for n, i in enumerate(top.tolist()):
        finite = math.isfinite(best[i])
        cell = gap_idx[i]
        worst.append(
            GapCell(
                row=int(cells.row[cell]),
                col=int(cells.col[cell]),
                lon=round(float(cells.lon[cell]), 6),
                lat=round(float(cells.lat[cell]), 6),
                distance_m=float(best[i]) if finite else None,
                shortfall_m=float(round(shortfall[i], 3)) if finite else None,
                nearest_code=codes.get(int(nearest_ids[n])) if finite else None,
                nearest_tier=tiers[best_tier[i]] if finite else None,
                outline=outlines[n],
            )
        )
    return GapsResult(
        region_code=region.code,
        region_name=region.name,
        tiers=list(tiers),
        radius_m={t: params.radius(t) for t in tiers},
        cell_km=params.cell_km,
        cell_area_km2=grid.cell_area_m2 / 1e6,
        cells=len(cells),
        gap_cells=int(is_gap.sum()),
        outlets=len(near.points),
        worst=worst,
        white_space=white_space(session, resolved, tiers, region),
        sub_regions=len(region.children),
    )


def white_space(
    session: Session, resolved: Resolved, tiers: tuple[str, ...], region: RegionFrame
) -> list[WhiteSpace]:
    """Direct sub-regions holding no located outlet that passes the filters (none when no
    children): one index probe per region of the subtree, stopping at the first outlet."""
    if not region.children:
        return []
    below = [(rid, child) for rid, child in region.subtree_child.items() if child >= 0]
    values = filter_values(resolved, tiers) | {
        "rids": [rid for rid, _ in below],
        "children": [child for _, child in below],
    }
    statement = _held_children(
        tiers, resolved.params.status is not None, resolved.distributor_id is not None
    )
    held = set(session.scalars(statement, values))
    return [
        WhiteSpace(c.code, c.name, c.level, c.area_m2)
        for n, c in enumerate(region.children)
        if n not in held
    ]


@functools.lru_cache(maxsize=32)
def _held_children(tiers: tuple[str, ...], status: bool, distributor: bool) -> Select:
    """Which of the children (``children``, by region id ``rids``) hold an outlet passing the
    filters; built once per shape of filters."""
    pairs = (
        func.unnest(
            bindparam("rids", type_=ARRAY(BigInteger)), bindparam("children", type_=ARRAY(Integer))
        )
        .table_valued("rid", "child")
        .render_derived(name="t")
    )
    o = OUTLETS
    held_by = (
        select(literal(1))
        .where(
            o.c.region_id == pairs.c.rid,
            o.c.location.is_not(None),
            *outlet_filter(tiers, status=status, distributor=distributor),
        )
        .correlate(pairs)
        .exists()
    )
    return select(pairs.c.child).distinct().where(held_by)


def _outlet_codes(session: Session, ids: np.ndarray, region_ids: list[int]) -> dict[int, str]:
    """Codes of the nearest outlets that lie in the region: a caller allowed to see the region
    sees them; an outlet across the border counts in the distance but stays unnamed."""
    if not len(ids):
        return {}
    wanted = [int(i) for i in np.unique(ids)]
    rows = session.execute(_CODES_IN_REGIONS, {"ids": wanted, "regions": region_ids})
    return {rid: code for rid, code in rows}


_CODES_IN_REGIONS = select(OUTLETS.c.id, OUTLETS.c.code).where(
    OUTLETS.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))),
    OUTLETS.c.region_id == any_(bindparam("regions", type_=ARRAY(BigInteger))),
)
