"""Hexagon binning for the outlet counts drawn above the point limit (dense logic, unit tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo_crm.analysis.geometry.hexgrid import HexGrid
from geo_crm.maps.aggregate import MAX_LEVEL_CELLS, fit_zoom, hex_levels, mercator


def centre(q, r, size, origin=(0.0, 0.0)):
    return origin[0] + size * math.sqrt(3) * (q + r / 2), origin[1] + 1.5 * size * r


def test_each_point_goes_to_the_nearest_hexagon_centre():
    rng = np.random.default_rng(2)
    x, y = rng.uniform(-5000, 5000, 20_000), rng.uniform(-5000, 5000, 20_000)
    size = 137.0
    q, r = HexGrid.from_circumradius(size).axial(x, y)
    cx, cy = centre(q, r, size)
    own = np.hypot(x - cx, y - cy)
    assert own.max() <= size + 1e-9  # inside the circumscribed circle
    for dq, dr in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1)):  # no neighbour is nearer
        nx, ny = centre(q + dq, r + dr, size)
        assert (np.hypot(x - nx, y - ny) >= own - 1e-9).all()


def test_axial_and_offset_cells_are_the_same_hexagons():
    rng = np.random.default_rng(5)
    x, y = rng.uniform(-9000, 9000, 20_000), rng.uniform(-9000, 9000, 20_000)
    grid = HexGrid.from_circumradius(250.0)
    assert grid.edge_m == pytest.approx(250.0) and grid.width_m == pytest.approx(
        250.0 * math.sqrt(3)
    )
    q, r = grid.axial(x, y)
    row, col = grid.cell_of(x, y)
    cx, cy = grid.centre(row, col)
    ax, ay = centre(q, r, grid.edge_m)
    assert (row == r).all() and np.allclose(cx, ax) and np.allclose(cy, ay)


def test_levels_count_every_point_once_per_level():
    rng = np.random.default_rng(4)
    lon, lat = rng.normal(120.5, 0.3, 50_000), rng.normal(30.5, 0.3, 50_000)
    x, y = mercator(lon, lat)
    tier = rng.integers(0, 4, x.size)
    bounds = (x.min(), y.min(), x.max(), y.max())
    origin, levels = hex_levels(x, y, tier, 4, bounds)
    assert origin == (float(x.min()), float(y.min()))
    assert len(levels) >= 2 and levels[0].zmin == 0
    assert [lv.zmin for lv in levels[1:]] == sorted(lv.zmin for lv in levels[1:])
    assert all(a.size > b.size for a, b in zip(levels, levels[1:], strict=False))
    for lv in levels:
        counts = np.array(lv.counts)
        assert counts.sum() == x.size
        assert (counts.sum(axis=0) == np.bincount(tier, minlength=4)).all()
        assert len(set(zip(lv.q, lv.r, strict=True))) == len(lv.q)  # one entry per cell
        assert len(lv.q) <= MAX_LEVEL_CELLS or lv is levels[0]


def test_fit_zoom_matches_the_region_size():
    x, y = mercator([118.0, 123.0], [27.0, 31.5])  # Zhejiang-sized
    assert 6 <= fit_zoom((x[0], y[0], x[1], y[1])) <= 8
    x, y = mercator([73.0, 135.0], [18.0, 53.5])  # China
    assert 2 <= fit_zoom((x[0], y[0], x[1], y[1])) <= 4


def test_no_points_no_cells():
    origin, levels = hex_levels(
        np.empty(0), np.empty(0), np.empty(0, dtype=int), 4, (0, 0, 1000, 1000)
    )
    assert [lv.q for lv in levels] == [[]]
