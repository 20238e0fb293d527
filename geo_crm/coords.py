"""Chinese map coordinate systems: WGS-84 ↔ GCJ-02 ↔ BD-09, vectorised with numpy.

GCJ-02 ("Mars coordinates", AMap/Tencent) adds a deliberately obfuscating offset of a few
hundred metres to WGS-84 inside China; BD-09 (Baidu) adds a further rotation and shift to
GCJ-02. The formulas below are the widely published ones (as in the ``coordtransform`` and
``eviltransform`` projects: Krasovsky semi-major axis, ``outOfChina`` bounding box); the forward
direction is exact by definition. GCJ-02 → WGS-84 has no closed form, so it is solved by
fixed-point iteration until the forward transform reproduces the input to 1e-10° (the one-step
approximation most libraries ship is off by up to a few metres).

Every function takes longitude first, accepts scalars or arrays and returns float64 arrays
(0-d for scalar input; ``float()`` them when a Python number is needed).
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import ArrayLike, NDArray

LOGGER = logging.getLogger(__name__)

CRS_NAMES = ("wgs84", "gcj02", "bd09")

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as the published algorithm uses
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0
_INVERSE_TOL_DEG = 1e-10
_INVERSE_MAX_ITER = 30

Array = NDArray[np.float64]


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    lon_a, lat_a = np.broadcast_arrays(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    return lon_a, lat_a


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """True where the point lies outside the box in which GCJ-02 applies an offset."""
    lon_a, lat_a = _arrays(lon, lat)
    return ~((lon_a > 73.66) & (lon_a < 135.05) & (lat_a > 3.86) & (lat_a < 53.55))


def _offset(lon: Array, lat: Array) -> tuple[Array, Array]:
    """The GCJ-02 offset (dlon, dlat) in degrees at a WGS-84 point."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * sqrt_abs_x
        + common
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * sqrt_abs_x
        + common
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    lon_a, lat_a = _arrays(lon, lat)
    dlon, dlat = _offset(lon_a, lat_a)
    outside = out_of_china(lon_a, lat_a)
    return np.where(outside, lon_a, lon_a + dlon), np.where(outside, lat_a, lat_a + dlat)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """Exact inverse by iteration: w ← w − (gcj(w) − g); converges as the offset varies slowly."""
    g_lon, g_lat = _arrays(lon, lat)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(_INVERSE_MAX_ITER):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        err_lon, err_lat = f_lon - g_lon, f_lat - g_lat
        w_lon, w_lat = w_lon - err_lon, w_lat - err_lat
        if np.all(np.abs(err_lon) < _INVERSE_TOL_DEG) and np.all(
            np.abs(err_lat) < _INVERSE_TOL_DEG
        ):
            break
    else:  # only near the edge of the offset box, where the forward map is discontinuous
        LOGGER.warning("gcj02_to_wgs84 did not converge to %g degrees", _INVERSE_TOL_DEG)
    return w_lon, w_lat


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    lon_a, lat_a = _arrays(lon, lat)
    z = np.sqrt(lon_a * lon_a + lat_a * lat_a) + 0.00002 * np.sin(lat_a * _X_PI)
    theta = np.arctan2(lat_a, lon_a) + 0.000003 * np.cos(lon_a * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    lon_a, lat_a = _arrays(lon, lat)
    x = lon_a - 0.0065
    y = lat_a - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str) -> tuple[Array, Array]:
    """Convert points given in ``crs`` (wgs84, gcj02, bd09) to WGS-84."""
    if crs == "wgs84":
        return _arrays(lon, lat)
    if crs == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if crs == "bd09":
        return bd09_to_wgs84(lon, lat)
    raise ValueError(f"unknown coordinate system {crs!r}: use one of {', '.join(CRS_NAMES)}")


def from_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str) -> tuple[Array, Array]:
    """Convert WGS-84 points to ``crs`` (for basemaps that expect GCJ-02 or BD-09)."""
    if crs == "wgs84":
        return _arrays(lon, lat)
    if crs == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if crs == "bd09":
        return wgs84_to_bd09(lon, lat)
    raise ValueError(f"unknown coordinate system {crs!r}: use one of {', '.join(CRS_NAMES)}")


def point_to_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """One point, as Python floats. A WGS-84 point (what phones send) is the identity: it is
    returned as floats without building numpy arrays, which cost a geotag more than the rest of
    its coordinate handling (bench/README.md, geotag section); same values as ``to_wgs84``."""
    if crs == "wgs84":
        return float(lon), float(lat)
    out_lon, out_lat = to_wgs84(lon, lat, crs)
    return float(out_lon), float(out_lat)
