"""WGS-84 ↔ GCJ-02 ↔ BD-09 against published reference pairs, and the exact inverse."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyproj import Geod

from geo_crm import coords

GEOD = Geod(ellps="WGS84")

# wandergis/coordtransform, test/app.js: every function applied to (116.404, 39.915)
COORDTRANSFORM = [
    (coords.bd09_to_gcj02, (116.39762729119315, 39.90865673957631)),
    (coords.gcj02_to_bd09, (116.41036949371029, 39.92133699351021)),
    (coords.wgs84_to_gcj02, (116.41024449916938, 39.91640428150164)),
]

# googollee/eviltransform, python/test.py: (wgs lat, wgs lon, gcj lat, gcj lon); eviltransform uses
# a = 6378137 where the published algorithm has 6378245, a difference below 1e-7 degrees here
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


@pytest.mark.parametrize(
    ("func", "expected"), COORDTRANSFORM, ids=lambda v: getattr(v, "__name__", "")
)
def test_coordtransform_reference_values(func, expected):
    lon, lat = func(116.404, 39.915)
    assert float(lon) == pytest.approx(expected[0], abs=1e-12)
    assert float(lat) == pytest.approx(expected[1], abs=1e-12)


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM)
def test_eviltransform_reference_pairs(wlat, wlon, glat, glon):
    lon, lat = coords.wgs84_to_gcj02(wlon, wlat)
    assert (float(lon), float(lat)) == pytest.approx((glon, glat), abs=5e-7)
    back_lon, back_lat = coords.gcj02_to_wgs84(glon, glat)
    assert GEOD.inv(float(back_lon), float(back_lat), wlon, wlat)[2] < 0.05  # metres


def test_gcj02_inverse_is_exact_to_1e_7_degrees_over_china():
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(74, 135, 20_000), rng.uniform(4, 53, 20_000)
    g_lon, g_lat = coords.wgs84_to_gcj02(lon, lat)
    w_lon, w_lat = coords.gcj02_to_wgs84(g_lon, g_lat)
    assert np.max(np.abs(w_lon - lon)) < 1e-7
    assert np.max(np.abs(w_lat - lat)) < 1e-7
    # the offset itself is a few hundred metres
    offsets = GEOD.inv(lon, lat, g_lon, g_lat)[2]
    assert 1 < np.median(offsets) < 1000


def test_bd09_round_trips():
    lon, lat = np.array([116.404, 121.4737, 113.2644]), np.array([39.915, 31.2304, 23.1291])
    b_lon, b_lat = coords.wgs84_to_bd09(lon, lat)
    w_lon, w_lat = coords.bd09_to_wgs84(b_lon, b_lat)
    assert np.allclose(w_lon, lon, atol=1e-7) and np.allclose(w_lat, lat, atol=1e-7)
    g_lon, g_lat = coords.bd09_to_gcj02(*coords.gcj02_to_bd09(lon, lat))
    assert np.allclose(g_lon, lon, atol=1e-6) and np.allclose(g_lat, lat, atol=1e-6)


def test_outside_china_gcj02_is_wgs84():
    lon, lat = coords.wgs84_to_gcj02([2.35, -74.0], [48.85, 40.7])
    assert lon.tolist() == [2.35, -74.0] and lat.tolist() == [48.85, 40.7]
    assert coords.point_to_wgs84(2.35, 48.85, "gcj02") == (2.35, 48.85)


def test_scalars_arrays_and_names():
    assert coords.point_to_wgs84(116.404, 39.915, "wgs84") == (116.404, 39.915)
    lon, lat = coords.to_wgs84(
        np.array([116.41024449916938]), np.array([39.91640428150164]), "gcj02"
    )
    assert lon.shape == (1,) and float(lon[0]) == pytest.approx(116.404, abs=1e-9)
    assert coords.from_wgs84(116.404, 39.915, "bd09") == pytest.approx(
        coords.wgs84_to_bd09(116.404, 39.915)
    )
    with pytest.raises(ValueError, match="unknown coordinate system"):
        coords.to_wgs84(1, 2, "utm")


@pytest.mark.parametrize("crs", coords.CRS_NAMES)
@pytest.mark.parametrize(
    "lon, lat",
    [(120.15507, 30.27415), (116, 40), (-0.0, 0.0), (180.0, -90.0), (1e-300, 89.999999999)],
)
def test_one_point_is_what_the_arrays_give(crs, lon, lat):
    """point_to_wgs84 skips numpy for WGS-84 input: the same floats as the vectorised path."""
    want = tuple(float(v) for v in coords.to_wgs84(lon, lat, crs))
    got = coords.point_to_wgs84(lon, lat, crs)
    assert got == want and all(type(v) is float for v in got)
    assert [math.copysign(1, v) for v in got] == [math.copysign(1, v) for v in want]


def test_one_point_in_an_unknown_system_is_refused():
    with pytest.raises(ValueError, match="unknown coordinate system"):
        coords.point_to_wgs84(120.0, 30.0, "mars")
