"""The one geodesy module: degree radii that contain a metre disc (poles included), boxes
around boxes, great-circle distances and PROJ frames, against pyproj's geodesics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from pyproj import Geod

from geo_crm.analysis.geometry.geodesy import (
    M_PER_DEG_FLOOR,
    WHOLE_WORLD_DEG,
    display_tolerance,
    envelope_around,
    haversine_m,
    local_proj,
    radius_in_degrees,
)

GEOD = Geod(ellps="WGS84")


def _clamped_radius(lat: float, radius_m: float) -> float:
    """The copy geotagging had before: the band clamped at 89°."""
    band = min(abs(lat) + radius_m / 110_000.0, 89.0)
    return radius_m / (110_000.0 * math.cos(math.radians(band)))


def _old_expand_envelope(bounds, margin_m):
    """analysis/frame.expand_envelope as it was (111 km per degree of longitude, 89.9° cap)."""
    x0, y0, x1, y1 = bounds
    dlat = margin_m / 110_000.0
    lat_far = min(89.9, max(abs(y0), abs(y1)) + dlat)
    dlon = min(360.0, margin_m / (111_000.0 * math.cos(math.radians(lat_far))))
    return (
        max(-180.0, x0 - dlon),
        max(-90.0, y0 - dlat),
        min(180.0, x1 + dlon),
        min(90.0, y1 + dlat),
    )


def _ring(lon, lat, radius_m, n=72):
    """Points exactly ``radius_m`` from (lon, lat) on the ellipsoid, every 360/n degrees."""
    az = np.linspace(0.0, 360.0, n, endpoint=False)
    lons, lats, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), az, np.full(n, radius_m))
    return np.asarray(lons), np.asarray(lats)


@pytest.mark.parametrize("lat", [89.0, 89.5, 89.99, -89.3, 88.999])
def test_near_the_poles_the_radius_is_the_whole_world(lat):
    assert radius_in_degrees(lat, 200.0) == WHOLE_WORLD_DEG
    assert radius_in_degrees(0.0, 200.0) < 0.01  # far from a pole it is small


def test_a_neighbour_near_the_pole_lies_outside_the_clamped_radius():
    """Why the clamping copy was wrong: 100 m east of 89.99° N is ~5° of longitude away."""
    lon, lat = 10.0, 89.99
    nlon, nlat, _ = GEOD.fwd(lon, lat, 90.0, 100.0)
    planar = math.hypot(nlon - lon, nlat - lat)
    assert planar > _clamped_radius(lat, 100.0)  # the old prefilter missed this neighbour
    assert planar <= radius_in_degrees(lat, 100.0)


@pytest.mark.parametrize("lat", [0.0, 23.5, 35.0, -41.0, 60.0, 75.0, 85.0, 88.5])
@pytest.mark.parametrize("radius_m", [10.0, 100.0, 2_000.0, 50_000.0])
def test_the_degree_radius_holds_the_disc(lat, radius_m):
    lons, lats = _ring(100.0, lat, radius_m)
    planar = np.hypot(lons - 100.0, lats - lat)
    assert planar.max() <= radius_in_degrees(lat, radius_m)
    assert np.abs(lats - lat).max() <= radius_m / M_PER_DEG_FLOOR


def test_envelope_around_holds_the_old_box_and_the_margin():
    rng = np.random.default_rng(12)
    for _ in range(400):
        x0 = rng.uniform(-170, 160)
        y0 = rng.uniform(-88, 85)
        bounds = (x0, y0, x0 + rng.uniform(0, 10), min(89.5, y0 + rng.uniform(0, 5)))
        margin = float(rng.choice([100.0, 5_000.0, 30_000.0, 200_000.0, 2_000_000.0]))
        new, old = envelope_around(bounds, margin), _old_expand_envelope(bounds, margin)
        assert new[0] <= old[0] and new[1] <= old[1] and new[2] >= old[2] and new[3] >= old[3]
        # every point within the margin of the box's corners lies in the new box
        for cx, cy in ((bounds[0], bounds[1]), (bounds[2], bounds[3])):
            lons, lats = _ring(cx, cy, margin * 0.999)
            inside = (lons >= new[0] - 1e-9) & (lons <= new[2] + 1e-9)
            inside &= (lats >= new[1] - 1e-9) & (lats <= new[3] + 1e-9)
            wrapped = (lons < -180) | (lons > 180) | (np.abs(lons - cx) > 180)
            assert (inside | wrapped).all(), (bounds, margin)


def test_envelope_around_near_a_pole_takes_every_longitude():
    dlat = 30_000 / 110_000
    expected = (-180.0, 88.8 - dlat, 180.0, 88.9 + dlat)
    assert envelope_around((10.0, 88.8, 11.0, 88.9), 30_000.0) == expected
    assert envelope_around((10.0, 89.5, 11.0, 89.9), 30_000.0)[3] == 90.0


@pytest.mark.parametrize(("south", "north", "error"), [(18, 54, 0.005), (-89, 89, 0.006)])
def test_haversine_against_the_geodesic(south, north, error):
    """Within 0.5 % at China's latitudes; the sphere's worst case anywhere is ~0.56 %."""
    rng = np.random.default_rng(3)
    lon1, lat1 = rng.uniform(70, 140, 5000), rng.uniform(south, north, 5000)
    lon2 = lon1 + rng.normal(0, 3, 5000)
    lat2 = np.clip(lat1 + rng.normal(0, 3, 5000), south, north)
    _, _, geodesic = GEOD.inv(lon1, lat1, lon2, lat2)
    assert np.abs(haversine_m(lon1, lat1, lon2, lat2) / geodesic - 1).max() < error
    assert haversine_m(120.0, 30.0, 120.0, 30.0) == 0.0


def test_local_frames_keep_their_strings():
    assert local_proj("laea", 120.12345, 30.5) == (
        "+proj=laea +lat_0=30.5000 +lon_0=120.1235 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
    )
    assert local_proj("aeqd", "%s", "%s") == (
        "+proj=aeqd +lat_0=%s +lon_0=%s +datum=WGS84 +units=m +no_defs"
    )
    with pytest.raises(ValueError, match="unknown frame"):
        local_proj("merc", 0, 0)


def test_display_tolerance_is_a_share_of_the_larger_extent():
    assert display_tolerance(shapely.box(100, 30, 106, 31)) == pytest.approx(6 / 3000)
