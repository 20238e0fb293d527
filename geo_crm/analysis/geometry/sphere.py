"""Shapes stored in longitude/latitude read as the places they are on the sphere: the centre of a
region's metric frame when the region reaches a pole or lies in parts on both sides of the 180°
meridian, and the convex hull of points near a pole.

In longitude/latitude a polar cap (Antarctica as Natural Earth draws it, down to an edge along
−90°) is a band whose planar centroid lies on no meridian of its own: (0°, −75°) for a cap from
−60° to the pole, 15° from its centre. A region in two parts hugging ±180° (the Aleutians,
Chukotka) has its planar centroid near 0°, half a world away. A Lambert equal-area frame keeps
areas everywhere but its shapes only near its centre (radial scale cos(c/2) at an angle c from
it), so a disc clipped by a border far from the centre is measured as the wrong shape: 5 % off
on the Aleutians. ``frame_centre`` puts the frame where the region is.

Points near a pole: their hull taken in longitude/latitude runs along parallels instead of
geodesics, and points that surround the pole (all at 89°N, say) lie on one line there, so the
hull has no area at all. ``spherical_hull`` takes the hull in the gnomonic projection centred
on the points, where every geodesic (great circle) is a straight line: the hull there is the
hull on the sphere.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Geod, Transformer

from .geodesy import local_proj

GEOD = Geod(ellps="WGS84")

# a vertex this close to ±90° latitude lies on the pole (an edge along it, as boundary files
# draw a region holding the pole)
POLE_EPS_DEG = 1e-9
# boundary edges are straight in longitude/latitude: densified before projecting (as the frames do)
DENSIFY_DEG = 0.01
# geodesic hull edges are drawn with a vertex at least this often (metres), so the drawn
# (longitude/latitude) polygon follows the geodesic
HULL_EDGE_STEP_M = 10_000.0
# the points of a hull must lie within this angle of their mean direction (gnomonic projection
# is finite within 90°; nearer the horizon it stretches without bound)
HULL_MAX_ANGLE_DEG = 80.0


def touched_pole(geom: shapely.Geometry) -> int:
    """+1 or −1 when the (lon/lat) shape reaches the north or south pole, else 0."""
    _, ymin, _, ymax = geom.bounds
    if ymax >= 90.0 - POLE_EPS_DEG:
        return 1
    if ymin <= -90.0 + POLE_EPS_DEG:
        return -1
    return 0


def _shift_west(xy: np.ndarray) -> np.ndarray:
    out = xy.copy()
    out[:, 0] = np.where(out[:, 0] < 0, out[:, 0] + 360.0, out[:, 0])
    return out


def crosses_antimeridian(geom: shapely.Geometry) -> bool:
    """True for a shape stored in parts on both sides of ±180° (Chukotka, Fiji, the Aleutians):
    with western longitudes shifted by +360° it is narrower than as stored. A shape reaching a
    pole is never one (round the pole every longitude is its own)."""
    xmin, _, xmax, _ = geom.bounds
    if xmax - xmin <= 180.0 or touched_pole(geom):
        return False
    lon = shapely.get_coordinates(geom)[:, 0]
    east, west = lon[lon >= 0], lon[lon < 0]
    if not east.size or not west.size:
        return False
    return bool(west.max() + 360.0 - east.min() < xmax - xmin)


def _wrap(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


def frame_centre(geom: shapely.Geometry, lon0: float, lat0: float) -> tuple[float, float]:
    """Where a metric frame for the (lon/lat) shape ``geom`` is centred: (``lon0``, ``lat0``),
    its planar centroid as the database computes it, for a shape that reaches no pole and lies
    on one side of the 180° meridian. A shape reaching a pole starts from that pole, one in
    parts on both sides of the meridian from the centroid of its unwrapped parts; then the
    centre moves to the centroid of its area in the equal-area frame centred there (one step:
    the first guess is already within the shape's extent)."""
    pole = touched_pole(geom)
    if pole:
        guess = (0.0, 90.0 * pole)
    elif crosses_antimeridian(geom):
        c = shapely.transform(geom, _shift_west).centroid
        guess = (_wrap(c.x), c.y)
    else:
        return lon0, lat0
    laea = Transformer.from_crs("EPSG:4326", local_proj("laea", *guess), always_xy=True)
    dense = shapely.segmentize(geom, DENSIFY_DEG)
    shape_m = shapely.make_valid(
        shapely.transform(dense, lambda xy: np.column_stack(laea.transform(xy[:, 0], xy[:, 1])))
    )
    if shape_m.is_empty or shapely.area(shape_m) <= 0:
        return guess
    c = shape_m.centroid
    lon, lat = laea.transform([c.x], [c.y], direction="INVERSE")
    if abs(float(lat[0])) >= 90.0 - 1e-6:  # on the pole every longitude is the same
        return 0.0, 90.0 * (1 if lat[0] > 0 else -1)
    return _wrap(float(lon[0])), float(lat[0])


def _unit(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lam, phi = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def spherical_hull(lon, lat) -> tuple[dict, float] | None:
    """The convex hull of points (lon/lat) on the sphere, as a GeoJSON Polygon in longitude/
    latitude with its geodesic edges drawn every ``HULL_EDGE_STEP_M``, and its area in m² on the
    WGS-84 ellipsoid (geodesic edges, ``pyproj.Geod``). A hull holding a pole is drawn as such
    regions are stored: from −180° to 180° along its edges, closed along the pole. A hull
    across the 180° meridian is drawn unwrapped (western longitudes +360°), as the maps draw it.

    None when the points have no area (fewer than three apart, all on one geodesic) or spread
    beyond ``HULL_MAX_ANGLE_DEG`` of their mean direction: no hull is taken on the sphere then.
    """
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    if len(lon) < 3:
        return None
    p = _unit(lon, lat)
    m = p.sum(axis=0)
    norm = float(np.linalg.norm(m))
    if norm == 0.0:
        return None
    m /= norm
    if (p @ m).min() < np.cos(np.radians(HULL_MAX_ANGLE_DEG)):
        return None
    # gnomonic projection onto the plane touching the sphere at m: great circles are lines
    helper = np.array([0.0, 0.0, 1.0]) if abs(m[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e = np.cross(helper, m)
    e /= np.linalg.norm(e)
    n = np.cross(m, e)
    g = p / (p @ m)[:, None]
    xy = np.column_stack([g @ e, g @ n])
    hull = shapely.MultiPoint(xy).convex_hull
    if hull.geom_type != "Polygon" or hull.area <= 0:
        return None
    # the hull's vertices (counter-clockwise) as indices into the points
    ring = np.asarray(hull.exterior.coords)[:-1]
    if shapely.Polygon(ring).exterior.is_ccw is False:
        ring = ring[::-1]
    order = [int(np.argmin(((xy - v) ** 2).sum(axis=1))) for v in ring]
    vlon, vlat = lon[order], lat[order]
    area = abs(GEOD.polygon_area_perimeter(vlon, vlat)[0])
    # the pole inside the hull: its gnomonic image inside the planar hull
    pole = 0
    for sign in (1, -1):
        z = np.array([0.0, 0.0, float(sign)])
        if z @ m > 0:
            gz = z / (z @ m)
            if hull.contains(shapely.Point(gz @ e, gz @ n)):
                pole = sign
    coords = _drawn_ring(vlon, vlat, pole)
    return {"type": "Polygon", "coordinates": [coords]}, float(area)


def _densified(vlon: np.ndarray, vlat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The closed ring through the vertices with points along each geodesic edge."""
    out_lon, out_lat = [], []
    k = len(vlon)
    for i in range(k):
        a, b = i, (i + 1) % k
        out_lon.append(vlon[a])
        out_lat.append(vlat[a])
        length = GEOD.inv(vlon[a], vlat[a], vlon[b], vlat[b])[2]
        steps = int(length // HULL_EDGE_STEP_M)
        if steps:
            for x, y in GEOD.npts(vlon[a], vlat[a], vlon[b], vlat[b], steps):
                out_lon.append(x)
                out_lat.append(y)
    return np.asarray(out_lon), np.asarray(out_lat)


def _drawn_ring(vlon: np.ndarray, vlat: np.ndarray, pole: int) -> list[list[float]]:
    lon, lat = _densified(vlon, vlat)
    if pole:
        return ring_round_pole(lon, lat, pole)
    if crosses_antimeridian(shapely.MultiPoint(np.column_stack([lon, lat]))):
        lon = np.where(lon < 0, lon + 360.0, lon)
    ring = [[round(float(x), 6), round(float(y), 6)] for x, y in zip(lon, lat, strict=True)]
    ring.append(ring[0])
    return ring


def ring_round_pole(lon, lat, pole: int) -> list[list[float]]:
    """A ring going once round the north (``pole`` = 1) or south (−1) pole, given by its
    points in order (not closed; dense enough that straight lon/lat edges follow it), as a
    closed counter-clockwise lon/lat ring holding the pole: along the ring from −180° to 180°,
    then back along the pole (as boundary files draw Antarctica)."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    # unwrap the longitudes (they go once round) and go eastwards
    step = np.diff(np.concatenate([lon, lon[:1]]))
    step = (step + 180.0) % 360.0 - 180.0
    un = lon[0] + np.concatenate([[0.0], np.cumsum(step)])
    un_lat = np.concatenate([lat, lat[:1]])
    if un[-1] < un[0]:
        un, un_lat = un[::-1], un_lat[::-1]
    un = un - 360.0 * np.floor((un[0] + 180.0) / 360.0)  # start in [−180, 180)
    # once round before and once after: together they span −180° … 180°
    both = np.concatenate([un - 360.0, un[1:]])
    both_lat = np.concatenate([un_lat, un_lat[1:]])
    inside = both[(both > -180.0) & (both < 180.0)]
    xs = np.concatenate([[-180.0], inside, [180.0]])
    ys = np.interp(xs, both, both_lat)
    cap = 90.0 * pole
    ring = [*zip(xs.tolist(), ys.tolist(), strict=True), (180.0, cap), (-180.0, cap)]
    ring.append(ring[0])
    if pole < 0:
        ring = ring[::-1]
    return [[round(x, 6), round(y, 6)] for x, y in ring]
