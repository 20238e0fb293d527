"""Polygons whose rings cross the 180° meridian, cut into parts on each side of it.

A boundary file may draw an island group on the meridian (Fiji, Chukotka) as one ring whose
edge jumps from 179.9° to −179.9°: read in longitude/latitude that edge runs the other way
round the world, and a repair turns the polygon into a band around it (its label point in the
Atlantic). Unwrapped (longitudes continued past ±180°), the ring is the small shape it is; cut
at the meridian, each part goes back into the longitude range, as PostGIS stores such regions.
A ring that goes round a pole (its longitudes do not come back) is left as it is.
"""

from __future__ import annotations

import numpy as np
import shapely
import shapely.affinity

_WORLD = [shapely.box(x, -90.0, x + 360.0, 90.0) for x in (-540.0, -180.0, 180.0)]


def _unwrap(coords: np.ndarray) -> np.ndarray | None:
    """The ring with its longitudes continued across ±180° (None: it goes round a pole)."""
    lon = coords[:, 0]
    jumps = np.diff(lon)
    shift = np.concatenate([[0.0], -360.0 * np.cumsum(np.round(jumps / 360.0))])
    if shift[-1] != 0.0:
        return None
    out = coords.copy()
    out[:, 0] = lon + shift
    return out


def _crosses(ring) -> bool:
    lon = np.asarray(ring.coords)[:, 0]
    return bool(len(lon) > 1 and np.abs(np.diff(lon)).max() > 180.0)


def _unwrapped(poly: shapely.Polygon) -> shapely.Polygon | None:
    shell = _unwrap(np.asarray(poly.exterior.coords))
    if shell is None:
        return None
    centre = shell[:, 0].mean()
    holes = []
    for ring in poly.interiors:
        hole = _unwrap(np.asarray(ring.coords))
        if hole is None:
            return None
        hole[:, 0] += 360.0 * np.round((centre - hole[:, 0].mean()) / 360.0)  # beside the shell
        holes.append(hole)
    return shapely.Polygon(shell, holes)


def split_at_antimeridian(geom) -> tuple[object, list[str]]:
    """``geom`` (a (Multi)Polygon in lon/lat) with each polygon that crosses the 180° meridian
    cut into its parts on either side, and what was done (empty: nothing crossed)."""
    parts = list(shapely.get_parts(geom))
    out: list[shapely.Polygon] = []
    cut = 0
    for poly in parts:
        rings = [poly.exterior, *poly.interiors]
        whole = _unwrapped(poly) if any(_crosses(r) for r in rings) else None
        if whole is None:
            out.append(poly)
            continue
        cut += 1
        whole = shapely.make_valid(whole)
        for box, shift in zip(_WORLD, (360.0, 0.0, -360.0), strict=True):
            piece = shapely.intersection(whole, box)
            for p in shapely.get_parts(piece):
                if isinstance(p, shapely.Polygon) and not p.is_empty and p.area > 0:
                    out.append(shapely.affinity.translate(p, xoff=shift))
    if not cut:
        return geom, []
    fix = f"cut {cut} polygon(s) crossing the 180° meridian into their parts on each side"
    return shapely.MultiPolygon(out), [fix]
