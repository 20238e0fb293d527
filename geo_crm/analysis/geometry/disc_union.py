"""Exact area (and outline) of a union of discs clipped to a polygon, in a metric plane.

Unioning polygonised discs with GEOS is slow on a network's worth of discs and still rounds
every circle. Instead the area comes from Green's theorem: the boundary of (polygon ∩ ⋃ discs)
is made of the circle arcs that no other disc covers and that lie inside the polygon, plus the
stretches of polygon boundary that lie inside some disc; ½∮(x dy − y dx) over those pieces is
the area, with true circular arcs (no polygon approximation at all).

Which discs can cover a circle? Only its neighbours in the power diagram (the weighted
Voronoi diagram of centres with weights r²): a point on circle i lies in another disc exactly
when it leaves i's power cell, and that cell is bounded by its regular-triangulation
neighbours — about six per disc. The regular triangulation is the lower convex hull of the
lifted points (x, y, x² + y² − r²), one Qhull call; a disc absent from it is covered by the
others and contributes nothing. Everything after that is vectorised numpy.

The pieces also chain into rings, which gives the covered outline as polygons in linear time
(``build_outline``), with arcs drawn as 64-gons.
"""

from __future__ import annotations

import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import ConvexHull, QhullError, cKDTree

LOGGER = logging.getLogger(__name__)

TWO_PI = 2.0 * math.pi
ARC_STEP = TWO_PI / 64  # outline vertices: a full circle is drawn as a 64-gon
MATCH_TOL_M = 1e-3
# Qhull's time per point grows past ~100,000 points, so big sets are cut into strips of about
# TILE_TARGET discs, none below TILE_MIN
TILE_MIN = 20_000
TILE_TARGET = 50_000
# threads for work that releases the GIL (Qhull, GEOS, numpy sorts): the machine's cores, up to 4
WORKERS = max(1, min(4, os.cpu_count() or 1))


@dataclass
class Discs:
    """Distinct discs and, for each, the angular intervals of its circle covered by neighbours."""

    x: np.ndarray
    y: np.ndarray
    r: np.ndarray
    cov_id: np.ndarray  # disc index of each covered interval (merged: disjoint, sorted)
    cov_a: np.ndarray  # interval start angle in [0, 2π]
    cov_b: np.ndarray  # interval end angle in [0, 2π]
    free_id: np.ndarray | None = None  # the complement: arcs no neighbour covers
    free_a: np.ndarray | None = None
    free_b: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.free_id is None:
            self.cov_id, self.cov_a, self.cov_b = merge_intervals(
                self.cov_id, self.cov_a, self.cov_b, TWO_PI
            )
            fid, fa, fb = complement_intervals(self.cov_id, self.cov_a, self.cov_b, TWO_PI)
            lonely = np.ones(len(self.x), dtype=bool)  # no neighbour at all: a whole circle
            lonely[self.cov_id] = False
            bare = np.flatnonzero(lonely)
            at = np.searchsorted(fid, bare)  # keeps the arcs sorted by disc
            self.free_id = np.insert(fid, at, bare)
            self.free_a = np.insert(fa, at, 0.0)
            self.free_b = np.insert(fb, at, TWO_PI)

    def __len__(self) -> int:
        return len(self.x)


@dataclass
class Pieces:
    """Boundary pieces of (polygon ∩ union): arcs (disc, θ1, θ2) and edge stretches (P, Q)."""

    arc_id: np.ndarray
    arc_a: np.ndarray
    arc_b: np.ndarray
    seg_start: np.ndarray  # (k, 2)
    seg_end: np.ndarray  # (k, 2)


def prepare(x, y, r, *, force_pairs: bool = False) -> Discs:
    """Deduplicate the discs, drop hidden ones and find the covered arcs of every circle."""
    x, y, r = (np.asarray(v, dtype=np.float64) for v in (x, y, r))
    if len(x):
        order = np.lexsort((r, y, x))
        x, y, r = x[order], y[order], r[order]
        distinct = np.r_[True, (np.diff(x) != 0) | (np.diff(y) != 0) | (np.diff(r) != 0)]
        distinct[distinct] = _outside_bigger(x[distinct], y[distinct], r[distinct])
        x, y, r = x[distinct], y[distinct], r[distinct]
    keep, pairs, hidden = _neighbours(x, y, r, force_pairs=force_pairs)
    if keep is not None:
        remap = np.full(len(x), -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        x, y, r = x[keep], y[keep], r[keep]
        pairs = remap[pairs]
        hidden = remap[hidden]
    i, j = pairs[:, 0], pairs[:, 1]
    dx, dy = x[j] - x[i], y[j] - y[i]
    d = np.hypot(dx, dy)
    ri, rj = r[i], r[j]
    whole = np.zeros(len(x), dtype=bool)  # circles wholly covered
    whole[i[d <= rj - ri]] = True  # circle i lies within disc j
    whole[j[d <= ri - rj]] = True
    whole[hidden] = True
    partial = (d < ri + rj) & (d > np.abs(ri - rj))
    i, j, d, ri, rj = i[partial], j[partial], d[partial], ri[partial], rj[partial]
    phi = np.arctan2(dy[partial], dx[partial])  # from i towards j; from j towards i: phi + π
    # half-widths of the arc of circle i inside disc j, and of circle j inside disc i
    alpha_i = np.arccos(np.clip((d * d + ri * ri - rj * rj) / (2 * d * ri), -1.0, 1.0))
    alpha_j = np.arccos(np.clip((d * d + rj * rj - ri * ri) / (2 * d * rj), -1.0, 1.0))
    covered = np.flatnonzero(whole)
    ids = np.concatenate([i, j, covered])
    a = np.concatenate(
        [
            np.mod(phi - alpha_i, TWO_PI),
            np.mod(phi + (math.pi - alpha_j), TWO_PI),
            np.zeros(len(covered)),
        ]
    )
    width = np.concatenate([2 * alpha_i, 2 * alpha_j, np.full(len(covered), TWO_PI)])
    cov_id, cov_a, cov_b = _split_wrapping(ids, a, a + width)
    return Discs(x, y, r, cov_id, cov_a, cov_b)


def _outside_bigger(x, y, r) -> np.ndarray:
    """False for the discs that lie inside one disc of a bigger radius (a retail outlet's 1 km
    within a distributor's 30 km): hidden, so the union is the same without them, and the
    power diagram need not sort them out. One KD-tree query per bigger radius; skipped when
    radii are all equal or too many to group."""
    keep = np.ones(len(x), dtype=bool)
    radii = np.unique(r)
    if not 1 < len(radii) <= 8:
        return keep
    for big in radii[:0:-1]:  # the biggest first: what it holds need not be asked again
        small = np.flatnonzero(keep & (r < big))
        if not len(small):
            continue
        tree = cKDTree(np.column_stack([x[r == big], y[r == big]]))
        d, _ = tree.query(
            np.column_stack([x[small], y[small]]), distance_upper_bound=big - r[small].min()
        )
        keep[small[d <= big - r[small] - 1e-6]] = False  # inside by more than a micrometre
    return keep


def _split_wrapping(ids, a, b):
    """Intervals [a, b] with 0 <= a < 2π and b possibly past 2π, split at 2π."""
    wraps = b > TWO_PI
    ids2 = np.concatenate([ids, ids[wraps]])
    a2 = np.concatenate([a, np.zeros(wraps.sum())])
    b2 = np.concatenate([np.minimum(b, TWO_PI), b[wraps] - TWO_PI])
    return ids2, a2, b2


def _neighbours(x, y, r, *, force_pairs: bool) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """(indices of the discs to keep or None for all, (m, 2) candidate covering pairs, kept
    discs whose circle is known to be wholly covered)."""
    n = len(x)
    none = np.empty(0, dtype=np.int64)
    if n < 2:
        return None, np.empty((0, 2), dtype=np.int64), none
    if not force_pairs and n >= 5:
        try:
            if n >= 2 * TILE_MIN:
                return _tiled_power_neighbours(x, y, r)
            keep, pairs = _power_neighbours(x, y, r)
            return keep, pairs, none
        except (QhullError, ValueError) as exc:  # degenerate (e.g. collinear) input
            LOGGER.debug("power diagram failed (%s); using all overlapping pairs", exc)
    tree = cKDTree(np.column_stack([x, y]))
    pairs = tree.query_pairs(2 * float(r.max()), output_type="ndarray")
    if len(pairs):
        d = np.hypot(x[pairs[:, 0]] - x[pairs[:, 1]], y[pairs[:, 0]] - y[pairs[:, 1]])
        pairs = pairs[d < r[pairs[:, 0]] + r[pairs[:, 1]]]
    return None, pairs.astype(np.int64), none


def _power_neighbours(x, y, r) -> tuple[np.ndarray, np.ndarray]:
    """(visible discs, overlapping pairs of regular-triangulation neighbours): one Qhull call."""
    cx, cy = x.mean(), y.mean()
    scale = max(float(np.ptp(x)), float(np.ptp(y)), float(r.max()), 1.0)
    u, v, w = (x - cx) / scale, (y - cy) / scale, r / scale
    hull = ConvexHull(np.column_stack([u, v, u * u + v * v - w * w]), qhull_options="Qt Qbb")
    lower = hull.simplices[hull.equations[:, 2] < -1e-12]
    if not len(lower):
        raise ValueError("no lower facets")
    edges = np.concatenate([lower[:, [0, 1]], lower[:, [1, 2]], lower[:, [0, 2]]])
    edges = np.sort(edges, axis=1)
    key = np.sort(edges[:, 0].astype(np.int64) * len(x) + edges[:, 1])
    key = key[np.r_[True, key[1:] != key[:-1]]]
    edges = np.column_stack([key // len(x), key % len(x)])
    visible = np.zeros(len(x), dtype=bool)
    visible[lower.ravel()] = True
    keep = np.flatnonzero(visible)
    d = np.hypot(x[edges[:, 0]] - x[edges[:, 1]], y[edges[:, 0]] - y[edges[:, 1]])
    edges = edges[d < r[edges[:, 0]] + r[edges[:, 1]]]
    return keep, edges


def _tiled_power_neighbours(x, y, r) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The power-diagram search in vertical strips, one Qhull call per strip in threads (Qhull
    releases the GIL), each strip with a margin of 2·max(r) around its own discs.

    Exact because only overlapping discs matter to a circle: a point of disc i has negative
    power to i, and positive power to every disc that does not overlap i, so i's power cell
    inside disc i — its uncovered arcs — and whether i is hidden at all are decided by the
    discs overlapping it, which the margin holds. A strip's triangulation may add pairs the
    whole one would not have; any overlapping pair only marks arcs that really are covered.
    A disc hidden in its own strip is hidden for good; if another strip still pairs with it,
    it stays for that pair (it covers part of that circle) but its own circle is covered.
    """
    n = len(x)
    margin = 2.0 * float(r.max())
    # strips of TILE_TARGET discs (at least one per thread), each at least four margins wide
    # (wide margins, as big discs bring, would make the strips repeat much of the work)
    tiles = max(-(-n // TILE_TARGET), WORKERS, 2)
    tiles = max(1, min(tiles, n // TILE_MIN, int(np.ptp(x) // (4 * margin))))
    if tiles < 2:
        keep, pairs = _power_neighbours(x, y, r)
        return keep, pairs, np.empty(0, dtype=np.int64)
    cuts = np.quantile(x, np.linspace(0.0, 1.0, tiles + 1)[1:-1])
    strip = np.searchsorted(cuts, x, side="right")  # x is sorted: strips are contiguous
    bounds = np.r_[-np.inf, cuts, np.inf]
    jobs = []
    for k in range(tiles):
        lo, hi = np.searchsorted(x, [bounds[k] - margin, bounds[k + 1] + margin], side="left")
        jobs.append(np.arange(lo, hi))
    with ThreadPoolExecutor(max_workers=min(tiles, WORKERS)) as pool:
        results = list(pool.map(lambda idx: _power_neighbours(x[idx], y[idx], r[idx]), jobs))
    visible = np.zeros(n, dtype=bool)
    pairs = []
    for k, (idx, (keep, edges)) in enumerate(zip(jobs, results, strict=True)):
        own = strip[idx] == k
        visible[idx[keep[own[keep]]]] = True
        edges = edges[own[edges[:, 0]] | own[edges[:, 1]]]
        pairs.append(idx[edges])
    pairs = np.sort(np.concatenate(pairs), axis=1)
    key = np.sort(pairs[:, 0] * n + pairs[:, 1])
    key = key[np.r_[True, key[1:] != key[:-1]]]
    pairs = np.column_stack([key // n, key % n])
    paired = np.zeros(n, dtype=bool)
    paired[pairs.ravel()] = True
    keep = np.flatnonzero(visible | paired)
    hidden = np.flatnonzero(paired & ~visible)
    return keep, pairs, hidden


def merge_intervals(gid: np.ndarray, a: np.ndarray, b: np.ndarray, width: float):
    """Union of intervals grouped by ``gid`` (each within [0, width)): sorted (gid, start, end)."""
    if not len(gid):
        return gid.astype(np.int64), a.astype(float), b.astype(float)
    span = 2.0 * width
    off = gid.astype(np.float64) * span
    A = a + off
    order = np.argsort(A)  # groups are `span` apart: one key sorts both (ties may go either way)
    g, A, B = gid[order], A[order], b[order] + off[order]
    run = np.maximum.accumulate(B)
    starts = np.ones(len(A), dtype=bool)
    starts[1:] = (A[1:] > run[:-1]) | (g[1:] != g[:-1])
    idx = np.flatnonzero(starts)
    last = np.r_[idx[1:] - 1, len(A) - 1]
    mg = g[idx]
    base = mg.astype(np.float64) * span
    return mg, A[idx] - base, run[last] - base


def complement_intervals(gid, start, end, width: float):
    """Per group present in ``gid``, the parts of [0, width] not in the merged intervals (which
    come sorted by group and start): the gap before each interval, then one after each group's
    last; sorted the same way."""
    if not len(gid):
        return gid, start, end
    first = np.r_[True, gid[1:] != gid[:-1]]
    last = np.r_[gid[1:] != gid[:-1], True]
    group = np.cumsum(first) - 1
    n, groups = len(gid), int(group[-1]) + 1
    ids = np.empty(n + groups, dtype=gid.dtype)
    a = np.empty(n + groups)
    b = np.empty(n + groups)
    before = np.arange(n) + group  # the gap before interval k
    ids[before] = gid
    a[before] = np.where(first, 0.0, np.r_[0.0, end[:-1]])
    b[before] = start
    after = np.flatnonzero(last) + np.arange(groups) + 1  # the gap after a group's last
    ids[after] = gid[last]
    a[after] = end[last]
    b[after] = width
    keep = b - a > 1e-12
    return ids[keep], a[keep], b[keep]


def arc_area(x, y, r, a, b) -> np.ndarray:
    """½∮(x dy − y dx) along counter-clockwise arcs from angle a to b of circles (x, y, r)."""
    return 0.5 * (
        r * r * (b - a) + r * x * (np.sin(b) - np.sin(a)) - r * y * (np.cos(b) - np.cos(a))
    )


def polygon_edges(polygon) -> tuple[np.ndarray, np.ndarray]:
    """Directed edges (P, Q) of the oriented polygon: shells counter-clockwise, holes clockwise."""
    oriented = shapely.orient_polygons(polygon)
    rings = shapely.get_rings(shapely.get_parts(oriented))
    coords, ring_ids = shapely.get_coordinates(rings, return_index=True)
    same = ring_ids[1:] == ring_ids[:-1]
    return coords[:-1][same], coords[1:][same]


@dataclass
class Clip:
    """A clipping polygon with its directed edges in a spatial index, built once, used often.

    ``samples``: points along the boundary no more than ``spacing`` apart (a KD-tree), so the
    few discs near the boundary are found without building a geometry per disc: a disc that
    reaches an edge has its centre within r + spacing/2 of some sample.
    """

    polygon: object
    P: np.ndarray
    Q: np.ndarray
    tree: shapely.STRtree
    samples: cKDTree
    spacing: float

    @classmethod
    def of(cls, polygon) -> Clip:
        if isinstance(polygon, Clip):
            return polygon
        shapely.prepare(polygon)
        P, Q = polygon_edges(polygon)
        length = np.hypot(*(Q - P).T)
        spacing = max(float(np.median(length)), 1e-6) if len(length) else 1.0
        steps = np.maximum(1, np.ceil(length / spacing)).astype(np.int64)
        edge = np.repeat(np.arange(len(P)), steps)
        t = (np.arange(len(edge)) - np.repeat(np.cumsum(steps) - steps, steps)) / steps[edge]
        samples = np.concatenate([P[edge] + t[:, None] * (Q[edge] - P[edge]), Q[-1:]])
        return cls(
            polygon,
            P,
            Q,
            shapely.STRtree(shapely.linestrings(np.stack([P, Q], axis=1))),
            cKDTree(samples if len(samples) else np.zeros((1, 2))),
            spacing,
        )

    def reaching(self, x, y, r) -> np.ndarray:
        """Indices of the discs (x, y, r) that may reach the boundary (a superset)."""
        if not len(x):
            return np.empty(0, dtype=np.int64)
        half = self.spacing / 2
        d, _ = self.samples.query(np.column_stack([x, y]), distance_upper_bound=r.max() + half)
        return np.flatnonzero(d <= r + half)


def clip_pieces(discs: Discs, polygon) -> Pieces:
    """The boundary pieces of polygon ∩ (union of discs); ``polygon`` may be a :class:`Clip`."""
    empty = Pieces(
        *(np.empty(0, dtype=t) for t in (np.int64, float, float)),
        np.empty((0, 2)),
        np.empty((0, 2)),
    )
    clip = polygon if isinstance(polygon, Clip) else None
    polygon = clip.polygon if clip is not None else polygon
    if not len(discs) or polygon is None or shapely.is_empty(polygon):
        return empty
    clip = clip or Clip.of(polygon)
    x, y, r = discs.x, discs.y, discs.r
    bx0, by0, bx1, by1 = shapely.bounds(polygon)
    near = np.flatnonzero((x + r >= bx0) & (x - r <= bx1) & (y + r >= by0) & (y - r <= by1))
    P, Q = clip.P, clip.Q
    # (disc, edge) pairs whose boxes meet, among the discs that may reach the boundary (a
    # cheap superset of the pairs closer than the radius: the exact test below drops the rest)
    close = near[clip.reaching(x[near], y[near], r[near])]
    xn, yn, rn = x[close], y[close], r[close]
    q_idx, e_idx = clip.tree.query(shapely.box(xn - rn, yn - rn, xn + rn, yn + rn))
    k = close[q_idx]
    D = Q[e_idx] - P[e_idx]
    f = P[e_idx] - np.column_stack([x[k], y[k]])
    qa = np.einsum("ij,ij->i", D, D)
    qb = np.einsum("ij,ij->i", f, D)
    qc = np.einsum("ij,ij->i", f, f) - r[k] ** 2
    disc = qb * qb - qa * qc
    hit = (disc > 0) & (qa > 0)
    k, e_idx, D, qa, qb = k[hit], e_idx[hit], D[hit], qa[hit], qb[hit]
    sq = np.sqrt(disc[hit])
    t1, t2 = (-qb - sq) / qa, (-qb + sq) / qa
    # stretches of polygon boundary inside a disc
    s0, s1 = np.maximum(t1, 0.0), np.minimum(t2, 1.0)
    inside = s1 > s0
    eg, es, ee = merge_intervals(e_idx[inside], s0[inside], s1[inside], 1.0)
    seg_d = Q[eg] - P[eg]
    seg_start = np.where((es == 0.0)[:, None], P[eg], P[eg] + es[:, None] * seg_d)
    seg_end = np.where((ee == 1.0)[:, None], Q[eg], P[eg] + ee[:, None] * seg_d)
    # where circles cross the boundary, and which of their arcs lie outside the polygon
    cross_k, cross_theta = [], []
    for t in (t1, t2):
        ok = (t >= 0.0) & (t < 1.0)
        px = P[e_idx[ok], 0] + t[ok] * D[ok, 0] - x[k[ok]]
        py = P[e_idx[ok], 1] + t[ok] * D[ok, 1] - y[k[ok]]
        cross_k.append(k[ok])
        cross_theta.append(np.mod(np.arctan2(py, px), TWO_PI))
    ck, ct = np.concatenate(cross_k), np.concatenate(cross_theta)
    order = np.lexsort((ct, ck))
    ck, ct = ck[order], ct[order]
    crossing = ck[np.r_[True, ck[1:] != ck[:-1]]] if len(ck) else ck
    first = np.r_[True, ck[1:] != ck[:-1]] if len(ck) else np.empty(0, bool)
    nxt = np.arange(1, len(ck) + 1)
    lastg = np.r_[ck[1:] != ck[:-1], True] if len(ck) else np.empty(0, bool)
    # the arc after each crossing ends at the next crossing of the same circle (cyclically)
    group_first = np.maximum.accumulate(np.where(first, np.arange(len(ck)), 0))
    nxt = np.where(lastg, group_first, np.minimum(nxt, len(ck) - 1))
    arc_a = ct
    arc_b = np.where(lastg, ct[nxt] + TWO_PI, ct[nxt])
    mid = 0.5 * (arc_a + arc_b)
    outside = ~shapely.contains_xy(
        polygon, x[ck] + r[ck] * np.cos(mid), y[ck] + r[ck] * np.sin(mid)
    )
    out_id, out_a, out_b = _split_wrapping(
        ck[outside], arc_a[outside], np.minimum(arc_b[outside], arc_a[outside] + TWO_PI)
    )
    out_a = np.mod(out_a, TWO_PI)
    # discs not crossing the boundary are wholly inside or outside: test a point on the circle
    cut = np.zeros(len(x), dtype=bool)
    cut[crossing] = True
    others = near[~cut[near]]
    circle_in = others[shapely.contains_xy(polygon, x[others] + r[others], y[others])]
    # discs wholly inside: their free arcs as they are (computed once in `prepare`)
    whole = np.zeros(len(x), dtype=bool)
    whole[circle_in] = True
    keep = whole[discs.free_id]
    # discs crossing the boundary: neighbours' and the outside's intervals together
    use = cut[discs.cov_id]
    gid = np.concatenate([discs.cov_id[use], out_id])
    ga = np.concatenate([discs.cov_a[use], out_a])
    gb = np.concatenate([discs.cov_b[use], out_b])
    mg, ms, me = merge_intervals(gid, ga, gb, TWO_PI)
    free_id, free_a, free_b = complement_intervals(mg, ms, me, TWO_PI)
    has_cover = np.zeros(len(x), dtype=bool)
    has_cover[mg] = True
    untouched = crossing[~has_cover[crossing]]
    arc_id = np.concatenate([discs.free_id[keep], free_id, untouched])
    arc_a0 = np.concatenate([discs.free_a[keep], free_a, np.zeros(len(untouched))])
    arc_b0 = np.concatenate([discs.free_b[keep], free_b, np.full(len(untouched), TWO_PI)])
    return Pieces(arc_id, arc_a0, arc_b0, seg_start, seg_end)


def pieces_area(discs: Discs, pieces: Pieces) -> float:
    i = pieces.arc_id
    arcs = arc_area(discs.x[i], discs.y[i], discs.r[i], pieces.arc_a, pieces.arc_b).sum()
    s, e = pieces.seg_start, pieces.seg_end
    segs = 0.5 * (s[:, 0] * e[:, 1] - s[:, 1] * e[:, 0]).sum()
    return float(arcs + segs)


def covered_area(discs: Discs, polygon) -> float:
    """Area of polygon ∩ (union of discs), in the plane's square units."""
    return pieces_area(discs, clip_pieces(discs, polygon))


def build_outline(discs: Discs, pieces: Pieces, polygon=None, tolerance: float = 0.0):
    """The covered area as a (Multi)Polygon: boundary pieces chained into rings, each arc drawn
    with as few chords as keep it within ``tolerance`` (at most 2π/64 apart), so the outline
    needs no simplifying afterwards.

    Falls back to a GEOS union of 64-gons clipped to ``polygon`` when the pieces do not chain
    (touching circles at one point, floating-point ties); that path is slow but safe.
    """
    if isinstance(polygon, Clip):
        polygon = polygon.polygon
    pieces = _drop_slivers(discs, pieces)
    n_arc, n_seg = len(pieces.arc_id), len(pieces.seg_start)
    if n_arc + n_seg == 0:
        return shapely.MultiPolygon()
    i = pieces.arc_id
    ax, ay, ar = discs.x[i], discs.y[i], discs.r[i]
    start = np.concatenate(
        [
            np.column_stack([ax + ar * np.cos(pieces.arc_a), ay + ar * np.sin(pieces.arc_a)]),
            pieces.seg_start,
        ]
    )
    end = np.concatenate(
        [
            np.column_stack([ax + ar * np.cos(pieces.arc_b), ay + ar * np.sin(pieces.arc_b)]),
            pieces.seg_end,
        ]
    )
    starts = cKDTree(start)
    dist, succ = starts.query(end, k=1)
    rings = None
    if (dist <= MATCH_TOL_M).all():
        if len(np.unique(succ)) != len(succ):
            succ = _untangle(pieces, starts, end, succ)
        if succ is not None:
            rings = _cycles(succ)
    if rings is None:
        LOGGER.warning(
            "coverage outline: %d pieces do not chain; using a polygon union", n_arc + n_seg
        )
        return _outline_by_union(discs, polygon)
    order = np.concatenate(rings)
    ring_of = np.repeat(np.arange(len(rings)), [len(ring) for ring in rings])
    is_arc = order < n_arc
    span = np.zeros(len(order))
    span[is_arc] = pieces.arc_b[order[is_arc]] - pieces.arc_a[order[is_arc]]
    step = np.full(len(order), ARC_STEP)
    if tolerance > 0 and is_arc.any():  # a chord of angle θ strays r·θ²/8 from its arc
        radius = discs.r[pieces.arc_id[order[is_arc]]]
        step[is_arc] = np.maximum(ARC_STEP, np.minimum(np.pi / 2, np.sqrt(8 * tolerance / radius)))
    counts = np.where(is_arc, np.maximum(2, np.ceil(span / step)).astype(np.int64), 1)
    piece = np.repeat(order, counts)
    ring_ids = np.repeat(ring_of, counts)
    k = np.arange(len(piece)) - np.repeat(np.cumsum(counts) - counts, counts)
    coords = start[piece].copy()
    arc_v = piece < n_arc
    if arc_v.any():
        pa = piece[arc_v]
        chord = (pieces.arc_b[pa] - pieces.arc_a[pa]) / np.repeat(counts, counts)[arc_v]
        theta = pieces.arc_a[pa] + k[arc_v] * chord
        # inner vertices move out so each chord's triangle has its sector's area (r²θ = R² sin θ)
        grow = np.where(k[arc_v] > 0, np.sqrt(chord / np.maximum(np.sin(chord), 1e-300)), 1.0)
        coords[arc_v, 0] = ax[pa] + ar[pa] * grow * np.cos(theta)
        coords[arc_v, 1] = ay[pa] + ar[pa] * grow * np.sin(theta)
    lines = shapely.linearrings(coords, indices=ring_ids)
    return _assemble(lines)


def _untangle(pieces: Pieces, starts: cKDTree, end: np.ndarray, succ):
    """Successors where several pieces meet at one point (boundary rings touching at a vertex,
    as real country outlines do): at each such point every incoming piece takes the outgoing
    one that turns most to the left, which keeps the covered side on the left and every
    ring simple. None when the pieces still do not pair up."""
    n_arc = len(pieces.arc_id)

    def direction(k: int, at_start: bool) -> np.ndarray:
        if k >= n_arc:
            return pieces.seg_end[k - n_arc] - pieces.seg_start[k - n_arc]
        theta = pieces.arc_a[k] if at_start else pieces.arc_b[k]
        return np.array([-math.sin(theta), math.cos(theta)])  # arcs run counter-clockwise

    succ = succ.copy()
    taken = np.bincount(succ, minlength=len(succ))
    shared = np.flatnonzero(taken[succ] > 1)
    points: dict[int, list[int]] = {}
    for k in shared.tolist():
        points.setdefault(int(succ[k]), []).append(k)
    for incoming in points.values():
        outgoing = sorted(
            set().union(*(starts.query_ball_point(end[k], MATCH_TOL_M) for k in incoming))
        )
        if len(outgoing) != len(incoming):
            return None
        free = set(outgoing)
        for k in incoming:
            d_in = direction(k, at_start=False)
            best, best_turn = None, -math.inf
            for m in sorted(free):
                d_out = direction(m, at_start=True)
                turn = math.atan2(
                    d_in[0] * d_out[1] - d_in[1] * d_out[0], d_in[0] * d_out[0] + d_in[1] * d_out[1]
                )
                if turn > best_turn:
                    best, best_turn = m, turn
            succ[k] = best
            free.discard(best)
    return succ if len(np.unique(succ)) == len(succ) else None


def _drop_slivers(discs: Discs, pieces: Pieces) -> Pieces:
    """Drop pieces far shorter than the matching tolerance (floating-point near-touches):
    their neighbours' ends still meet within it, and they carry no area worth drawing."""
    tiny = MATCH_TOL_M / 100
    arc_ok = discs.r[pieces.arc_id] * (pieces.arc_b - pieces.arc_a) > tiny
    seg_ok = np.hypot(*(pieces.seg_end - pieces.seg_start).T) > tiny
    return Pieces(
        pieces.arc_id[arc_ok],
        pieces.arc_a[arc_ok],
        pieces.arc_b[arc_ok],
        pieces.seg_start[seg_ok],
        pieces.seg_end[seg_ok],
    )


def _cycles(succ: np.ndarray) -> list[np.ndarray] | None:
    nxt = succ.tolist()
    seen = bytearray(len(nxt))
    rings = []
    for s in range(len(nxt)):
        if seen[s]:
            continue
        ring = []
        k = s
        while not seen[k]:
            seen[k] = 1
            ring.append(k)
            k = nxt[k]
        if k != s:
            return None
        rings.append(np.asarray(ring, dtype=np.int64))
    return rings


def _assemble(rings):
    """Counter-clockwise rings are shells, clockwise ones holes of the smallest shell around."""
    ccw = shapely.is_ccw(rings)
    shells, holes = rings[ccw], rings[~ccw]
    shell_polys = shapely.polygons(shells)
    if not len(holes):
        return _valid_multipolygon(shell_polys)
    probes = shapely.point_on_surface(shapely.polygons(shapely.reverse(holes)))
    s_idx, h_idx = shapely.STRtree(probes).query(shell_polys, predicate="contains")
    areas = shapely.area(shell_polys)
    owner = np.full(len(holes), -1)
    best = np.full(len(holes), np.inf)
    for h, s in zip(h_idx.tolist(), s_idx.tolist(), strict=True):
        if areas[s] < best[h]:
            best[h], owner[h] = areas[s], s
    poly_of = np.concatenate([np.arange(len(shells)), owner[owner >= 0]])
    all_rings = np.concatenate([shells, holes[owner >= 0]])
    is_hole = np.r_[np.zeros(len(shells), bool), np.ones((owner >= 0).sum(), bool)]
    order = np.lexsort((is_hole, poly_of))
    polys = shapely.polygons(all_rings[order], indices=poly_of[order])
    return _valid_multipolygon(polys)


def _valid_multipolygon(polys):
    """Parts are disjoint and valid by construction: no validity check (a costly one on big
    outlines)."""
    return shapely.multipolygons(polys)


def _outline_by_union(discs: Discs, polygon):
    circles = shapely.buffer(shapely.points(discs.x, discs.y), discs.r, quad_segs=16)
    union = shapely.union_all(circles)
    return union if polygon is None else shapely.intersection(union, polygon)
