"""Outlets counted per display hexagon, at a few sizes matched to zoom levels.

Past a few thousand points a page must not carry one marker per outlet. The map instead carries,
for each zoom band, the occupied cells of a hexagon grid laid in EPSG:3857 metres (the map's own
projection, so hexagons look regular on screen; this is display aggregation only — no area is
ever measured here) as integer axial coordinates with a count per tier. The browser rebuilds
each hexagon from ``q, r`` and the cell size, so the page grows with occupied cells, not outlets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..analysis.geometry.hexgrid import HexGrid

EARTH_R = 6378137.0
WORLD_M = 2 * math.pi * EARTH_R
HEX_PX = 14.0  # hexagon circumradius on screen at the zoom a level is made for
MAX_LEVEL_CELLS = 12_000  # occupied cells drawn at once (canvas polygons stay quick)
MAX_ZOOM = 16


def mercator(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.clip(np.asarray(lat, dtype=np.float64), -85.05112878, 85.05112878)
    x = EARTH_R * np.radians(lon)
    y = EARTH_R * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))
    return x, y


def metres_per_pixel(zoom: float) -> float:
    return WORLD_M / (256.0 * 2.0**zoom)


def fit_zoom(bounds_xy: tuple[float, float, float, float], pixels: float = 900.0) -> int:
    """Zoom at which a box (EPSG:3857 metres) fits about ``pixels`` across, as Leaflet would."""
    xmin, ymin, xmax, ymax = bounds_xy
    extent = max(xmax - xmin, ymax - ymin, 1.0)
    return int(max(0, min(MAX_ZOOM, math.floor(math.log2(WORLD_M * pixels / (256.0 * extent))))))


@dataclass
class HexLevel:
    zmin: int
    size: float
    q: list[int]
    r: list[int]
    counts: list[list[int]]  # per cell, one count per tier


def hex_levels(
    x: np.ndarray,
    y: np.ndarray,
    tier: np.ndarray,
    n_tiers: int,
    bounds_xy: tuple[float, float, float, float],
) -> tuple[tuple[float, float], list[HexLevel]]:
    """Counts per tier in hexagons for zoom bands from the region's fit zoom inwards.

    A level is made for each zoom from the fit zoom on while its occupied cells stay under
    ``MAX_LEVEL_CELLS``; the last level serves every deeper zoom.
    """
    origin = (float(bounds_xy[0]), float(bounds_xy[1]))
    z0 = fit_zoom(bounds_xy)
    levels: list[HexLevel] = []
    tier = np.asarray(tier, dtype=np.int64)
    for z in range(max(0, z0 - 1), MAX_ZOOM + 1):
        size = HEX_PX * metres_per_pixel(z)
        q, r = HexGrid.from_circumradius(size).axial(x - origin[0], y - origin[1])
        if q.size == 0:
            levels.append(HexLevel(z, size, [], [], []))
            break
        # one key per cell; a grid is at most ~1e6 cells across, so the key fits easily
        q0, r0 = int(q.min()), int(r.min())
        span = int(r.max()) - r0 + 1
        cells, inverse = np.unique((q - q0) * span + (r - r0), return_inverse=True)
        if levels and cells.size > MAX_LEVEL_CELLS:
            break
        counts = np.bincount(inverse * n_tiers + tier, minlength=cells.size * n_tiers)
        levels.append(
            HexLevel(
                z if levels else 0,
                size,
                (cells // span + q0).tolist(),
                (cells % span + r0).tolist(),
                counts.reshape(cells.size, n_tiers).tolist(),
            )
        )
        if cells.size > MAX_LEVEL_CELLS or cells.size >= x.size:
            break
    return origin, levels
