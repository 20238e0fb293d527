"""Polygons whose rings cross the 180° meridian, cut into parts on each side of it.

A boundary file may draw an island group on the meridian (Fiji, Chukotka) as one ring whose
edge jumps from 179.9° to −179.9°: read in longitude/latitude that edge runs the other way
round the world, and a repair turns the polygon into a band around it (its label point in the
Atlantic). Unwrapped (longitudes continued past ±180°), the ring is the small shape it is; cut
at the meridian, each part goes back into the longitude range, as PostGIS stores such regions.

A file may also draw a region holding a pole (an Arctic cap, Antarctica from a polar source) as
one ring round the pole whose longitudes never come back: read in longitude/latitude that is a
sliver along its own edge, and a point at 89.5°N lies in no region. Such a shell is closed
through the pole it goes round (the nearer one: the side of its mean latitude), as Natural
Earth draws Antarctica with an edge along −90°, then cut at the meridian the same way.
"""

from __future__ import annotations

import numpy as np
import shapely
import shapely.affinity

_WORLD = [shapely.box(x, -90.0, x + 360.0, 90.0) for x in (-540.0, -180.0, 180.0)]


def _continued(coords: np.ndarray) -> np.ndarray:
    """The ring with its longitudes continued across ±180° (its end 360° from its start when
    it goes round a pole)."""
    lon = coords[:, 0]
    jumps = np.diff(lon)
    shift = np.concatenate([[0.0], -360.0 * np.cumsum(np.round(jumps / 360.0))])
    out = coords.copy()
    out[:, 0] = lon + shift
    return out


def _unwrap(coords: np.ndarray) -> np.ndarray | None:
    """The ring with its longitudes continued across ±180° (None: it goes round a pole)."""
    out = _continued(coords)
    if out[-1, 0] != out[0, 0]:
        return None
    return out


def _closed_through_pole(poly: shapely.Polygon) -> shapely.Polygon | None:
    """A polygon whose shell goes once round a pole, closed through that pole (its holes, which
    cannot go round it too, put beside it); None when the shell does not go round a pole."""
    shell = _continued(np.asarray(poly.exterior.coords))
    turn = shell[-1, 0] - shell[0, 0]
    if abs(abs(turn) - 360.0) > 1e-9:
        return None
    pole = 90.0 if shell[:, 1].mean() >= 0 else -90.0
    ring = np.vstack([shell, [[shell[-1, 0], pole], [shell[0, 0], pole], shell[0]]])
    centre = shell[:, 0].mean()
    holes = []
    for inner in poly.interiors:
        hole = _unwrap(np.asarray(inner.coords))
        if hole is None:
            return None
        hole[:, 0] += 360.0 * np.round((centre - hole[:, 0].mean()) / 360.0)
        holes.append(hole)
    return shapely.Polygon(ring, holes)


def _crosses(ring) -> bool:
    """Whether an edge of the ring jumps by more than 180° of longitude, other than along a
    pole (where every longitude is the same point: Natural Earth's Antarctica)."""
    xy = np.asarray(ring.coords)
    if len(xy) < 2:
        return False
    jumps = np.abs(np.diff(xy[:, 0])) > 180.0
    on_pole = (np.abs(xy[:-1, 1]) == 90.0) & (xy[:-1, 1] == xy[1:, 1])
    return bool((jumps & ~on_pole).any())


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
    cut into its parts on either side (a shell going round a pole first closed through it),
    and what was done (empty: nothing crossed)."""
    parts = list(shapely.get_parts(geom))
    out: list[shapely.Polygon] = []
    cut = 0
    poles: list[str] = []
    for poly in parts:
        rings = [poly.exterior, *poly.interiors]
        crossing = any(_crosses(r) for r in rings)
        whole = _unwrapped(poly) if crossing else None
        round_pole = False
        if crossing and whole is None:
            whole = _closed_through_pole(poly)
            if whole is not None:
                round_pole = True
                poles.append("north" if whole.bounds[3] == 90.0 else "south")
        if whole is None:
            out.append(poly)
            continue
        whole = shapely.make_valid(whole)
        pieces = []
        for box, shift in zip(_WORLD, (360.0, 0.0, -360.0), strict=True):
            piece = shapely.intersection(whole, box)
            for p in shapely.get_parts(piece):
                if isinstance(p, shapely.Polygon) and not p.is_empty and p.area > 0:
                    pieces.append(shapely.affinity.translate(p, xoff=shift))
        if round_pole:
            # its pieces meet where the ring started: one polygon again (from −180° to 180°)
            pieces = list(shapely.get_parts(shapely.union_all(pieces)))
        else:
            cut += 1
        out.extend(pieces)
    if not cut and not poles:
        return geom, []
    fixes = [f"closed a ring round the {p} pole through the pole" for p in poles]
    if cut:
        fixes.append(
            f"cut {cut} polygon(s) crossing the 180° meridian into their parts on each side"
        )
    return shapely.MultiPolygon(out), fixes
