"""Distances and local frames on the WGS-84 earth, once: degree radii that surely contain a
metre disc, boxes around a box, great-circle and chord distances, PROJ frames, display steps.

The database's spatial index works in degrees while every rule of geo_crm is in metres, so a
metre radius becomes a degree radius that contains the disc (``radius_in_degrees``) and the
exact metre test runs on the few rows the index finds. The bound uses a floor of metres per
degree (110 km: a degree of latitude is 110.574–111.694 km, one of longitude 111.32 km·cos φ)
over the disc's whole latitude band; near a pole no bounded degree radius contains a disc, so
the answer there is a radius larger than any lon/lat distance (no prefilter at all).
"""

from __future__ import annotations

import math

import numpy as np
import shapely

# below every length of a degree of latitude (110,574 m at the equator) and of longitude / cos φ
M_PER_DEG_FLOOR = 110_000.0
# a disc reaching this latitude has no degree radius that contains it: no prefilter
POLAR_BAND_DEG = 89.0
WHOLE_WORLD_DEG = 500.0  # longer than any lon/lat distance

WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
WGS84_E2 = WGS84_F * (2 - WGS84_F)
EARTH_MEAN_R = 6371008.8  # IUGG mean radius (R1), for great-circle distances

# boundary simplification on a map: this share of the region's extent (degrees)
DISPLAY_TOLERANCE_SHARE = 1 / 3000


def radius_in_degrees(lat: float, radius_m: float) -> float:
    """A lon/lat distance containing every point within ``radius_m`` metres of a point at ``lat``.

    Any path of length r from latitude φ stays inside |φ| + r/110 km, where a degree of
    longitude is at least 110 km·cos(φ_max) long and one of latitude at least 110 km, so
    r / (110 km·cos φ_max) bounds the planar lon/lat distance. From ``POLAR_BAND_DEG`` on the
    answer is ``WHOLE_WORLD_DEG``: clamping the band instead would give a radius too small to
    hold the disc, and a prefilter that misses neighbours. Longitudes are not wrapped: the
    prefilter misses points across the ±180° meridian.
    """
    band = abs(lat) + radius_m / M_PER_DEG_FLOOR
    if band >= POLAR_BAND_DEG:
        return WHOLE_WORLD_DEG
    return radius_m / (M_PER_DEG_FLOOR * math.cos(math.radians(band)))


def envelope_around(
    bounds: tuple[float, float, float, float], margin_m: float
) -> tuple[float, float, float, float]:
    """A lon/lat box (min lon, min lat, max lon, max lat) holding every point within
    ``margin_m`` metres of the box ``bounds``: r / 110 km up and down, and across the degree
    radius of the box's edge farthest from the equator (the widest); every longitude once the
    margin reaches the polar band. Clipped to the lon/lat range; a margin reaching over the
    180° meridian takes every longitude (one box cannot hold both sides of it, and the points
    beyond lie at the other end of the range)."""
    x0, y0, x1, y1 = bounds
    dlat = margin_m / M_PER_DEG_FLOOR
    dlon = radius_in_degrees(max(abs(y0), abs(y1)), margin_m)
    west, east = x0 - dlon, x1 + dlon
    if west < -180.0 or east > 180.0:
        west, east = -180.0, 180.0
    return (west, max(-90.0, y0 - dlat), east, min(90.0, y1 + dlat))


def haversine_m(lon1, lat1, lon2, lat2):
    """Great-circle distance in metres on the mean-radius sphere: within 0.5 % of the
    ellipsoid's geodesic between 18° and 54° (China), 0.6 % anywhere. For ranking and keeping
    things apart on a map, never for a rule's threshold."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_MEAN_R * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


class SurfacePoints:
    """Points on the WGS-84 ellipsoid: earth-centred coordinates, and (for chords leaving them)
    local east/north unit vectors and principal curvatures, computed where asked."""

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

    @classmethod
    def joined(cls, parts: list[SurfacePoints]) -> SurfacePoints:
        """One set of the points of ``parts``, in order (parts built in threads)."""
        out = cls.__new__(cls)
        for name in ("lam", "phi", "sin_p", "w", "xyz"):
            setattr(out, name, np.concatenate([getattr(p, name) for p in parts]))
        return out

    def surface(self, chord, delta, idx=slice(None)) -> np.ndarray:
        """Surface distance for chords ``delta`` (ECEF) leaving these points (or ``idx`` of them):
        c + c³/(24 R²) with Euler's radius in the chord's direction, 1/R = cos²α/M + sin²α/N."""
        lam, sin_p, w = self.lam[idx], self.sin_p[idx], self.w[idx]
        sin_l, cos_l = np.sin(lam), np.cos(lam)
        cos_p = np.cos(self.phi[idx])
        e = -delta[:, 0] * sin_l + delta[:, 1] * cos_l  # along the local east
        nn = -delta[:, 0] * sin_p * cos_l - delta[:, 1] * sin_p * sin_l + delta[:, 2] * cos_p
        inv_m = w**1.5 / (WGS84_A * (1 - WGS84_E2))  # meridian curvature
        inv_n = np.sqrt(w) / WGS84_A  # prime-vertical curvature
        h2 = e * e + nn * nn
        cos2 = np.divide(nn * nn, h2, out=np.ones_like(h2), where=h2 > 0)
        inv_r = cos2 * inv_m + (1 - cos2) * inv_n
        return chord + chord**3 * inv_r * inv_r / 24.0


def ecef(lon, lat) -> np.ndarray:
    """Earth-centred coordinates (metres) of points on the WGS-84 ellipsoid."""
    return SurfacePoints(lon, lat).xyz


def chord_to_surface(chord, lat, lon, delta) -> np.ndarray:
    """Surface distance of chords ``delta`` (ECEF, metres) leaving the points (lon, lat)."""
    return SurfacePoints(lon, lat).surface(np.asarray(chord, float), np.asarray(delta, float))


_PROJ = {
    # equal area: areas measured in it are areas on the ellipsoid (analysis frames)
    "laea": "+proj=laea +lat_0={lat0} +lon_0={lon0} +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs",
    # equidistant from the centre: simplifying a boundary in metres (the region API)
    "aeqd": "+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m +no_defs",
}


def local_proj(kind: str, lon0: float | str, lat0: float | str) -> str:
    """The PROJ string of a metric frame of ``kind`` ("laea" or "aeqd") centred on (lon0, lat0).

    Numbers are written with four decimals (about 10 m: a frame's centre needs no more, and
    equal strings share one cached transformer); text goes in as it is, e.g. the ``%s`` of an
    SQL ``format()`` that fills in the centre row by row."""
    if kind not in _PROJ:
        raise ValueError(f"unknown frame {kind!r}: one of {', '.join(_PROJ)}")

    def text(value: float | str) -> str:
        return value if isinstance(value, str) else f"{value:.4f}"

    return _PROJ[kind].format(lon0=text(lon0), lat0=text(lat0))


def display_tolerance(geom: shapely.Geometry) -> float:
    """Degrees below which a map of ``geom`` shows no detail: a share of its larger extent."""
    xmin, ymin, xmax, ymax = geom.bounds
    return max(xmax - xmin, ymax - ymin) * DISPLAY_TOLERANCE_SHARE
