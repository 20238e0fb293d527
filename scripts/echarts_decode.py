"""Decode echarts 4 map JSON (``UTF8Encoding``) into plain GeoJSON polygon coordinates.

echarts ships China's boundaries as zig-zag, delta-encoded character pairs; this mirrors
``decode()``/``decodePolygon()`` of echarts' ``lib/coord/geo/parseGeoJson.js`` exactly so the
files in ``data/regions`` can be rebuilt and checked (scripts/build_regions.py).
"""

from __future__ import annotations

from array import array

import numpy as np
import shapely

Ring = list[tuple[float, float]]
Polygon = list[Ring]

DEFAULT_SCALE = 1024


def decode_ring(encoded: str, offset: tuple[int, int] | list[int], scale: float) -> Ring:
    """One ring: char pairs → zig-zag → running sum from ``offset`` → divide by ``scale``.

    JavaScript's ``charCodeAt`` counts UTF-16 code units, so decode through UTF-16 to match it
    even for characters outside the Basic Multilingual Plane.
    """
    units = array("H", encoded.encode("utf-16-le"))
    if len(units) % 2:
        raise ValueError(f"encoded ring has an odd number of code units ({len(units)})")
    prev_x, prev_y = int(offset[0]), int(offset[1])
    ring: Ring = []
    for i in range(0, len(units), 2):
        x = units[i] - 64
        y = units[i + 1] - 64
        prev_x += (x >> 1) ^ -(x & 1)
        prev_y += (y >> 1) ^ -(y & 1)
        ring.append((prev_x / scale, prev_y / scale))
    return ring


def decode_geometry(geometry: dict, scale: float = DEFAULT_SCALE) -> list[Polygon]:
    """The rings of an encoded Polygon/MultiPolygon, grouped as echarts groups them."""
    kind, coords, offsets = geometry["type"], geometry["coordinates"], geometry["encodeOffsets"]
    if kind == "Polygon":
        return [[decode_ring(r, o, scale) for r, o in zip(coords, offsets, strict=True)]]
    if kind == "MultiPolygon":
        return [
            [decode_ring(r, o, scale) for r, o in zip(poly, poly_offsets, strict=True)]
            for poly, poly_offsets in zip(coords, offsets, strict=True)
        ]
    raise ValueError(f"unsupported echarts geometry type {kind!r}")


def close_ring(ring: Ring) -> Ring:
    return ring if ring and ring[0] == ring[-1] else [*ring, ring[0]]


def split_islands(polygons: list[Polygon]) -> list[Polygon]:
    """echarts stores islands as extra rings of a Polygon: keep a ring as a hole only when it
    lies inside the exterior (most of its vertices do), otherwise make it a polygon of its own.

    "Most" rather than "all" because the data are quantised: a real hole may graze the exterior.
    """
    out: list[Polygon] = []
    for rings in polygons:
        if not rings:
            continue
        exterior, extras = rings[0], rings[1:]
        holes: list[Ring] = []
        islands: list[Polygon] = []
        if extras:
            outer = shapely.Polygon(close_ring(exterior))
            shapely.prepare(outer)
            for ring in extras:
                xy = np.asarray(ring, dtype=float)
                if shapely.intersects_xy(outer, xy[:, 0], xy[:, 1]).mean() > 0.5:
                    holes.append(ring)
                else:
                    islands.append([ring])
        out.append([exterior, *holes])
        out.extend(islands)
    return out
