"""A hexagon grid in a metric plane: cells over a polygon, the cell of a point, cell outlines.

Cell size ``width_m`` is the distance across flats, which is also the distance between the
centres of neighbouring cells (a "5 km grid" has centres 5 km apart). Hexagons are
pointy-top; rows are ``width·√3/2`` apart and odd rows shift right by half a cell; the grid is
anchored at the frame's origin (the region's centre), so cell (row 0, col 0) sits there.
Cell area = √3/2 · width², exact in an equal-area frame.

Cells over a polygon are those whose centre lies inside it, found row by row (scanline, even-
odd rule) from the polygon's edges: linear in cells plus edges, no point-in-polygon per cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .disc_union import polygon_edges

SQRT3 = math.sqrt(3.0)


@dataclass(frozen=True)
class HexGrid:
    width_m: float

    @property
    def row_step(self) -> float:
        return self.width_m * SQRT3 / 2.0

    @property
    def cell_area_m2(self) -> float:
        return SQRT3 / 2.0 * self.width_m**2

    @property
    def edge_m(self) -> float:
        return self.width_m / SQRT3

    def centre(self, row, col) -> tuple[np.ndarray, np.ndarray]:
        row, col = np.asarray(row), np.asarray(col)
        return self.width_m * (col + 0.5 * (row & 1)), self.row_step * row

    def cells_in(self, polygon) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of every cell whose centre lies inside ``polygon`` (metric coordinates)."""
        P, Q = polygon_edges(polygon)
        y0, y1 = P[:, 1], Q[:, 1]
        sloped = y0 != y1
        P, Q, y0, y1 = P[sloped], Q[sloped], y0[sloped], y1[sloped]
        lo, hi = np.minimum(y0, y1), np.maximum(y0, y1)
        step = self.row_step
        first = np.ceil(lo / step).astype(np.int64)
        last = np.ceil(hi / step).astype(np.int64) - 1  # half-open: lo <= y < hi
        counts = np.maximum(last - first + 1, 0)
        if counts.sum() == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        edge = np.repeat(np.arange(len(P)), counts)
        row = np.repeat(first, counts) + (
            np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        )
        y = row * step
        xc = P[edge, 0] + (y - y0[edge]) * (Q[edge, 0] - P[edge, 0]) / (y1[edge] - y0[edge])
        order = np.lexsort((xc, row))
        row, xc = row[order], xc[order]
        # crossings pair up within each row: [x0, x1), [x2, x3) … are inside
        start_row = row[0::2]
        if len(row) % 2 or (start_row != row[1::2]).any():
            raise ValueError("polygon rings are not closed")
        xa, xb = xc[0::2], xc[1::2]
        shift = 0.5 * (start_row & 1)
        c0 = np.ceil(xa / self.width_m - shift).astype(np.int64)
        c1 = np.ceil(xb / self.width_m - shift).astype(np.int64) - 1
        n = np.maximum(c1 - c0 + 1, 0)
        rows = np.repeat(start_row, n)
        cols = np.repeat(c0, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
        return rows, cols

    @classmethod
    def from_circumradius(cls, size: float) -> HexGrid:
        """The grid whose hexagons have circumradius (= edge) ``size``: ``width_m`` = size·√3."""
        return cls(size * SQRT3)

    def axial(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Axial (q, r) of the hexagon holding each point (cube rounding, ties half to even)."""
        a = self.edge_m
        q = (SQRT3 / 3.0 * np.asarray(x) - np.asarray(y) / 3.0) / a
        r = (2.0 / 3.0 * np.asarray(y)) / a
        s = -q - r
        rq, rr, rs = np.round(q), np.round(r), np.round(s)
        dq, dr, ds = np.abs(rq - q), np.abs(rr - r), np.abs(rs - s)
        fix_q = (dq > dr) & (dq > ds)
        fix_r = ~fix_q & (dr > ds)
        rq = np.where(fix_q, -rr - rs, rq)
        rr = np.where(fix_r, -rq - rs, rr)
        return rq.astype(np.int64), rr.astype(np.int64)

    def cell_of(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of the cell containing each point: its axial coordinates as offset ones."""
        q, row = self.axial(x, y)
        return row, q + (row - (row & 1)) // 2

    def outlines(self, row, col) -> np.ndarray:
        """(n, 7, 2) closed hexagon rings around the cells' centres."""
        cx, cy = self.centre(row, col)
        angles = np.radians(30.0 + 60.0 * np.arange(7))
        ring = np.column_stack([np.cos(angles), np.sin(angles)]) * self.edge_m
        return np.stack([cx[:, None] + ring[None, :, 0], cy[:, None] + ring[None, :, 1]], axis=-1)
