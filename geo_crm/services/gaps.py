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

import logging
import math
from dataclasses import dataclass

import numpy as np
import shapely
import shapely.geometry
from scipy.spatial import cKDTree
from sqlalchemy import text
from sqlalchemy.orm import Session

from ..models import TIERS
from .analysis_frame import (
    OutletPoints,
    RegionFrame,
    expand_envelope,
    fetch_outlets,
    load_region,
    merge_points,
)
from .analysis_params import AnalysisParams, Resolved, resolve
from .hexgrid import HexGrid

LOGGER = logging.getLogger(__name__)

WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
WGS84_E2 = WGS84_F * (2 - WGS84_F)
DEFAULT_LIMIT = 500
MAX_LIMIT = 5000  # polygon features per answer (a map layer stays responsive up to ~5 k)
MIN_SEARCH_M = 20_000.0


class SurfacePoints:
    """Points on the WGS-84 ellipsoid: earth-centred coordinates, and (for chords leaving them)
    local east/north unit vectors and principal curvatures, computed on first use."""

    def __init__(self, lon, lat):
        self.lam, self.phi = np.radians(lon), np.radians(lat)
        self.sin_p = np.sin(self.phi)
        self.w = 1 - WGS84_E2 * self.sin_p * self.sin_p
        n = WGS84_A / np.sqrt(self.w)
        cos_p = np.cos(self.phi)
        self.xyz = np.empty((len(self.lam), 3))
        self.xyz[:, 0] = n * cos_p * np.cos(self.lam)
        self.xyz[:, 1] = n * cos_p * np.sin(self.lam)
        self.xyz[:, 2] = n * (1 - WGS84_E2) * self.sin_p
        self._local = None

    def _frame(self):
        if self._local is None:
            sin_l, cos_l = np.sin(self.lam), np.cos(self.lam)
            east = np.column_stack([-sin_l, cos_l])  # z component is 0
            north = np.column_stack([-self.sin_p * cos_l, -self.sin_p * sin_l, np.cos(self.phi)])
            inv_m = self.w**1.5 / (WGS84_A * (1 - WGS84_E2))  # meridian curvature
            inv_n = np.sqrt(self.w) / WGS84_A  # prime-vertical curvature
            self._local = (east, north, inv_m, inv_n)
        return self._local

    def surface(self, chord, delta, idx=slice(None)) -> np.ndarray:
        """Surface distance for chords ``delta`` (ECEF) leaving these points (or ``idx`` of them):
        c + c³/(24 R²) with Euler's radius in the chord's direction, 1/R = cos²α/M + sin²α/N."""
        east, north, inv_m, inv_n = self._frame()
        e = np.einsum("ij,ij->i", delta[:, :2], east[idx])
        nn = np.einsum("ij,ij->i", delta, north[idx])
        h2 = e * e + nn * nn
        cos2 = np.divide(nn * nn, h2, out=np.ones_like(h2), where=h2 > 0)
        inv_r = cos2 * inv_m[idx] + (1 - cos2) * inv_n[idx]
        return chord + chord**3 * inv_r * inv_r / 24.0


def ecef(lon, lat) -> np.ndarray:
    """Earth-centred coordinates (metres) of points on the WGS-84 ellipsoid."""
    return SurfacePoints(lon, lat).xyz


def chord_to_surface(chord, lat, lon, delta) -> np.ndarray:
    """Surface distance of chords ``delta`` (ECEF, metres) leaving the points (lon, lat)."""
    return SurfacePoints(lon, lat).surface(np.asarray(chord, float), np.asarray(delta, float))


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
        return {
            "type": "Feature",
            "id": f"{self.row}:{self.col}",
            "geometry": {"type": "Polygon", "coordinates": [self.outline]}
            if self.outline
            else None,
            "properties": {
                "row": self.row,
                "col": self.col,
                "lon": self.lon,
                "lat": self.lat,
                "distance_m": self.distance_m,
                "shortfall_m": self.shortfall_m,
                "nearest_outlet": self.nearest_code,
                "nearest_tier": self.nearest_tier,
            },
        }


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


@dataclass
class CellDistances:
    """Per cell of a grid: nearest distance per tier (inf when the tier has no outlet)."""

    row: np.ndarray
    col: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    distance: np.ndarray  # (cells, tiers)
    nearest: np.ndarray  # (cells, tiers) outlet id, -1 when none
    outlets: OutletPoints


def cell_distances(
    session: Session, resolved: Resolved, region: RegionFrame, grid: HexGrid, tiers: tuple[str, ...]
) -> CellDistances:
    """Distances from every cell centre of ``region`` to the nearest outlet of each tier.

    Outlets are fetched in the region's box grown by a margin; a cell whose nearest outlet is
    farther than the margin might have a nearer one outside the box, so only such cells are
    asked again against a box grown by their largest distance (or every outlet)."""
    row, col = grid.cells_in(region.boundary_m)
    cx, cy = grid.centre(row, col)
    lon, lat = region.frame.to_lonlat(cx, cy)
    cells = SurfacePoints(lon, lat)
    distance = np.full((len(row), len(tiers)), np.inf)
    nearest = np.full((len(row), len(tiers)), -1, dtype=np.int64)
    margin: float | None = max(MIN_SEARCH_M, 2 * max(resolved.params.radius(t) for t in tiers))
    bounds = shapely.bounds(region.boundary)
    envelope = expand_envelope(bounds, margin)
    points = fetch_outlets(session, resolved, tiers, envelope)
    todo: np.ndarray | slice = slice(None)
    while True:
        for k, tier in enumerate(tiers):
            mask = points.tier == TIERS.index(tier)
            if not mask.any() or not len(row):
                continue
            tree = cKDTree(SurfacePoints(points.lon[mask], points.lat[mask]).xyz)
            targets = cells.xyz[todo]
            chord, idx = tree.query(targets, k=1, workers=-1)
            metres = cells.surface(chord, tree.data[idx] - targets, todo)
            distance[todo, k] = np.round(metres, 3)
            nearest[todo, k] = points.ids[mask][idx]
        if margin is None or not len(row):
            break
        pending = np.arange(len(row))[todo]
        best = distance[pending].min(axis=1)
        unsure = best > margin  # outlets within `margin` of a cell are all in the box
        if not unsure.any():
            break
        todo = pending[unsure]
        finite = best[unsure][np.isfinite(best[unsure])]
        margin = float(finite.max()) * 1.01 if finite.size else None
        if margin is not None and margin > 2_000_000:
            margin = None
        wider = expand_envelope(bounds, margin) if margin is not None else None
        extra = fetch_outlets(session, resolved, tiers, wider, exclude=envelope)
        if not len(extra):
            break
        points, envelope = merge_points(points, extra), wider
    return CellDistances(row, col, lon, lat, distance, nearest, points)


def gaps(
    session: Session,
    region_code: str,
    params: AnalysisParams | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    geometry: bool = True,
) -> GapsResult:
    """Gap cells of a hexagon grid over the region, worst first, and white-space sub-regions."""
    params = params or AnalysisParams()
    resolved = resolve(session, params, region_code=region_code)
    region = load_region(session, region_code)
    params.check_cells(region.area_m2, region.code)
    tiers = tuple(t for t in TIERS if t in params.tiers)
    radius = np.array([params.radius(t) for t in tiers])
    grid = HexGrid(params.cell_km * 1000.0)
    cd = cell_distances(session, resolved, region, grid, tiers)
    shortfall = (cd.distance - radius[None, :]).min(axis=1) if len(cd.row) else np.empty(0)
    is_gap = shortfall > 0
    best_tier = cd.distance.argmin(axis=1) if len(cd.row) else np.empty(0, np.int64)
    best = cd.distance[np.arange(len(cd.row)), best_tier] if len(cd.row) else np.empty(0)
    gap_idx = np.flatnonzero(is_gap)
    keep = max(0, min(limit, MAX_LIMIT))
    if 0 < keep < len(gap_idx):  # only the worst `keep` need sorting; ties at the cut stay in
        cut = np.partition(-shortfall[gap_idx], keep - 1)[keep - 1]
        gap_idx = gap_idx[-shortfall[gap_idx] <= cut]
    order = np.lexsort((cd.col[gap_idx], cd.row[gap_idx], -best[gap_idx], -shortfall[gap_idx]))
    top = gap_idx[order][:keep]
    nearest_ids = cd.nearest[top, best_tier[top]]
    codes = _outlet_codes(session, nearest_ids[nearest_ids >= 0], region.subtree_ids)
    outlines = _outlines(region, grid, cd.row[top], cd.col[top]) if geometry else [None] * len(top)
    worst = []
    for n, i in enumerate(top.tolist()):
        finite = math.isfinite(best[i])
        worst.append(
            GapCell(
                row=int(cd.row[i]),
                col=int(cd.col[i]),
                lon=round(float(cd.lon[i]), 6),
                lat=round(float(cd.lat[i]), 6),
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
        cells=len(cd.row),
        gap_cells=int(is_gap.sum()),
        outlets=len(cd.outlets),
        worst=worst,
        white_space=white_space(region, cd.outlets),
        sub_regions=len(region.children),
    )


def white_space(region: RegionFrame, outlets: OutletPoints) -> list[WhiteSpace]:
    """Direct sub-regions holding no outlet that passed the filters (none when no children)."""
    if not region.children:
        return []
    child = region.child_index(outlets.region_id)
    held = np.bincount(child[child >= 0], minlength=len(region.children))
    return [
        WhiteSpace(c.code, c.name, c.level, c.area_m2)
        for c, n in zip(region.children, held.tolist(), strict=True)
        if n == 0
    ]


def _outlet_codes(session: Session, ids: np.ndarray, region_ids: list[int]) -> dict[int, str]:
    """Codes of the nearest outlets that lie in the region: a caller allowed to see the region
    sees them; an outlet across the border counts in the distance but stays unnamed."""
    if not len(ids):
        return {}
    rows = session.execute(
        text("SELECT id, code FROM outlets WHERE id = ANY(:ids) AND region_id = ANY(:regions)"),
        {"ids": [int(i) for i in np.unique(ids)], "regions": region_ids},
    )
    return {rid: code for rid, code in rows}


def _outlines(region: RegionFrame, grid: HexGrid, row, col) -> list[list]:
    if not len(row):
        return []
    rings = grid.outlines(row, col)
    lon, lat = region.frame.to_lonlat(rings[..., 0].ravel(), rings[..., 1].ravel())
    coords = np.round(np.stack([lon, lat], axis=-1).reshape(rings.shape), 6)
    return coords.tolist()
