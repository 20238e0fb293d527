"""Near the poles (issue 17, item 1): discs, gap grids, hulls, labels, densities and region
assignment for outlets and regions at 78°N (Svalbard), 85°S and 89.9°N, regions drawn down to
an edge along the pole (as Natural Earth draws Antarctica) or as one ring round it; and a
region in parts on both sides of the 180° meridian, whose frame is centred on it.

Expected answers come from pyproj's geodesics (a geodesic circle of 3,600 vertices, areas by
``Geod.polygon_area_perimeter``, which handles polygons round a pole), never from geo_crm.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

import numpy as np
import pytest
import shapely
from analysis_helpers import GEOD, add_outlet, add_product, add_region, add_sale, box_wkt
from pyproj import Transformer

from geo_crm.analysis.geometry.sphere import frame_centre, spherical_hull
from geo_crm.io.antimeridian import split_at_antimeridian
from geo_crm.maps.base import crosses_antimeridian

R = 20_000.0


def geodesic_circle(lon: float, lat: float, r: float = R, n: int = 3600):
    az = np.linspace(0.0, 360.0, n, endpoint=False)
    lons, lats, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), az, np.full(n, r))
    return lons, lats


def ring_area(lons, lats) -> float:
    return abs(GEOD.polygon_area_perimeter(lons, lats)[0])


def clipped_area(lon: float, lat: float, region: shapely.Geometry) -> float:
    """The geodesic disc (not round a pole) ∩ a lon/lat region, edges followed every 0.001°."""
    disc = shapely.Polygon(np.column_stack(geodesic_circle(lon, lat)))
    part = shapely.segmentize(shapely.intersection(disc, region), 0.001)
    return sum(ring_area(*np.asarray(p.exterior.coords).T) for p in shapely.get_parts(part))


def cap_clipped_area(lon: float, lat: float, edge_lat: float) -> float:
    """The geodesic disc round (or near) the north pole ∩ the cap north of ``edge_lat``: cut in
    the polar azimuthal equidistant plane, where the parallel is a circle round the origin."""
    aeqd = Transformer.from_crs(
        "EPSG:4326", "+proj=aeqd +lat_0=90 +lon_0=0 +datum=WGS84 +units=m", always_xy=True
    )
    disc = shapely.Polygon(np.column_stack(aeqd.transform(*geodesic_circle(lon, lat))))
    cap = shapely.Point(0, 0).buffer(GEOD.inv(0, 90, 0, edge_lat)[2], 4096)
    part = shapely.segmentize(shapely.intersection(disc, cap), 20.0)
    xy = np.asarray(part.exterior.coords)
    return ring_area(*aeqd.transform(xy[:, 0], xy[:, 1], direction="INVERSE"))


def cap_area(edge_lat: float) -> float:
    """The cap north of ``edge_lat``: a circle round the pole in the polar equidistant plane."""
    aeqd = Transformer.from_crs(
        "EPSG:4326", "+proj=aeqd +lat_0=90 +lon_0=0 +datum=WGS84 +units=m", always_xy=True
    )
    xy = np.asarray(
        shapely.Point(0, 0).buffer(GEOD.inv(0, 90, 0, edge_lat)[2], 4096).exterior.coords
    )
    return ring_area(*aeqd.transform(xy[:, 0], xy[:, 1], direction="INVERSE"))


def get(client, path, **query):
    response = client.get(path, query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def covered(client, code: str, radius: float = R) -> dict:
    return get(
        client,
        f"/api/v1/regions/{code}/coverage",
        tier="retail",
        radius_retail=radius,
        sub_regions="false",
    )


# -- coverage -------------------------------------------------------------------------------


@pytest.mark.parametrize("lon", [0.0, 135.0, -90.0])
def test_a_disc_round_the_north_pole_is_measured_right(client, sql, lon):
    """At 89.9°N a 20 km disc holds the pole and reaches past the cap's edge at 89.8°N."""
    add_region(sql, "AC", box_wkt(-180.0, 89.8, 180.0, 90.0, 0.05))
    add_outlet(sql, "R1", "retail", lon, 89.9)
    body = covered(client, "AC")
    cap = cap_area(89.8)
    assert body["area_m2"] == pytest.approx(cap, rel=1e-4)
    assert body["covered_m2"] == pytest.approx(cap_clipped_area(lon, 89.9, 89.8), rel=1e-3)
    assert body["covered_m2"] < math.pi * R**2


@pytest.mark.parametrize("lon", [170.0, -10.0, 80.0])
def test_a_disc_at_85_south_clipped_by_the_cap_edge(client, sql, lon):
    """An Antarctic cap to 84.9°S drawn down to an edge along the pole; the disc reaches over
    its edge. Its frame is centred on the pole (the planar centroid, (0°, −87.45°), put the
    disc at 170°E 7.5° from the frame's centre)."""
    add_region(sql, "AQ", box_wkt(-180.0, -90.0, 180.0, -84.9, 0.05))
    add_outlet(sql, "R1", "retail", lon, -85.0)
    body = covered(client, "AQ")
    expected = clipped_area(lon, -85.0, shapely.box(-180.0, -90.0, 180.0, -84.9))
    assert body["covered_m2"] == pytest.approx(expected, rel=1e-3)


def test_a_disc_in_svalbard_clipped_by_a_meridian(client, sql):
    add_region(sql, "SV", box_wkt(10.0, 76.0, 35.0, 81.0))
    add_outlet(sql, "R1", "retail", 34.9, 78.0)
    add_outlet(sql, "R2", "retail", 20.0, 80.95)
    body = covered(client, "SV")
    region = shapely.box(10.0, 76.0, 35.0, 81.0)
    expected = clipped_area(34.9, 78.0, region) + clipped_area(20.0, 80.95, region)
    assert body["covered_m2"] == pytest.approx(expected, rel=1e-3)


def test_antarctica_down_to_the_pole_has_its_area(client, sql):
    add_region(sql, "AQ", box_wkt(-180.0, -90.0, 180.0, -60.0, 0.05))
    add_outlet(sql, "R1", "retail", 45.0, -85.0)
    body = covered(client, "AQ")
    lons = np.arange(-180.0, 180.0, 0.05)
    assert body["area_m2"] == pytest.approx(ring_area(lons, np.full(len(lons), -60.0)), rel=1e-4)
    assert body["covered_m2"] == pytest.approx(ring_area(*geodesic_circle(45.0, -85.0)), rel=1e-4)


def test_a_region_in_parts_across_the_meridian_measures_a_clipped_disc(client, sql):
    """The Aleutians in two parts, one each side of 180°: the frame was centred at 0° (their
    planar centroid), half a world away, and a disc at their southern edge came out 5 % off."""
    east = shapely.from_wkt(box_wkt(179.0, 51.5, 180.0, 52.5))
    west = shapely.from_wkt(box_wkt(-180.0, 51.5, -179.0, 52.5))
    add_region(sql, "AL", shapely.MultiPolygon([east, west]).wkt)
    add_outlet(sql, "R1", "retail", -179.5, 51.55)
    add_outlet(sql, "R2", "retail", 179.6, 52.45)
    body = covered(client, "AL")
    expected = clipped_area(-179.5, 51.55, shapely.box(-180.0, 51.5, -179.0, 52.5))
    expected += clipped_area(179.6, 52.45, shapely.box(179.0, 51.5, 180.0, 52.5))
    assert body["covered_m2"] == pytest.approx(expected, rel=1e-3)


# -- gaps and density -----------------------------------------------------------------------


def test_a_gap_grid_round_the_pole(client, sql):
    """Cells over the cap north of 89°N: equal-area (their count times the cell area is the
    cap's area), distances in true metres, none within the outlet's radius flagged."""
    add_region(sql, "AC", box_wkt(-180.0, 89.0, 180.0, 90.0, 0.05))
    add_outlet(sql, "R1", "retail", 30.0, 89.5)
    body = get(
        client,
        "/api/v1/regions/AC/gaps",
        tier="retail",
        radius_retail=R,
        cell_km=5,
        limit=5000,
    )
    assert body["returned"] == body["gap_cells"]  # every gap is in the answer
    cap = cap_area(89.0)
    assert body["cells"] * body["cell_area_km2"] * 1e6 == pytest.approx(cap, rel=0.01)
    for cell in body["gaps"]["features"]:
        p = cell["properties"]
        expected = GEOD.inv(p["lon"], p["lat"], 30.0, 89.5)[2]
        assert p["distance_m"] == pytest.approx(expected, rel=1e-4, abs=1.0)
        assert expected > R
    within = body["cells"] - body["gap_cells"]
    assert within == pytest.approx(math.pi * R**2 / (body["cell_area_km2"] * 1e6), rel=0.15)
    # every outline is a valid lon/lat polygon; the cell holding the pole is drawn round it
    shapes = [shapely.geometry.shape(c["geometry"]) for c in body["gaps"]["features"]]
    assert all(s.is_valid for s in shapes)
    at_pole = [s for s in shapes if s.covers(shapely.Point(60.0, 89.9999))]
    assert len(at_pole) == 1 and at_pole[0].covers(shapely.Point(-120.0, 89.9999))
    others = [s for s in shapes if s is not at_pole[0]]
    assert max(np.ptp(shapely.get_coordinates(s)[:, 0]) for s in others) < 180.0


def test_gap_cells_across_the_meridian_are_drawn_unwrapped(client, sql):
    east = shapely.from_wkt(box_wkt(179.0, 51.5, 180.0, 52.5))
    west = shapely.from_wkt(box_wkt(-180.0, 51.5, -179.0, 52.5))
    add_region(sql, "AL", shapely.MultiPolygon([east, west]).wkt)
    add_outlet(sql, "R1", "retail", 179.0, 51.5)
    body = get(client, "/api/v1/regions/AL/gaps", tier="retail", cell_km=5, limit=5000)
    spans = [
        np.ptp(np.asarray(c["geometry"]["coordinates"][0])[:, 0]) for c in body["gaps"]["features"]
    ]
    assert spans and max(spans) < 0.2  # 5 km at 52°N: 0.07° of longitude


def test_density_round_the_pole(client, sql):
    add_region(sql, "AC", box_wkt(-180.0, 89.0, 180.0, 90.0, 0.05))
    add_product(sql, "X")
    add_outlet(sql, "D1", "distributor", 10.0, 89.2)
    add_outlet(sql, "R1", "retail", 100.0, 89.5, parent="D1")
    add_outlet(sql, "R2", "retail", -80.0, 89.9, parent="D1")
    add_sale(sql, "D1", "R1", "2024-05-01", "X", "2", "200.00")
    add_sale(sql, "D1", "R2", "2024-05-02", "X", "1", "50.00")
    body = get(client, "/api/v1/regions/AC/density", date_from="2024-05-01", date_to="2024-05-31")
    assert Decimal(str(body["total"]["amount"])) == Decimal("250.00")
    assert body["unlocated"]["records"] == 0
    assert len(body["cells"]["features"]) == 2


# -- hulls ----------------------------------------------------------------------------------


def test_a_network_round_the_pole_has_a_hull_round_it(client, sql):
    """Four outlets at 89°N, 90° apart, surround the pole: in lon/lat they lie on one line
    (no area); on the sphere their hull is the square round the pole."""
    points = [(0.0, 89.0), (90.0, 89.0), (180.0, 89.0), (-90.0, 89.0)]
    add_outlet(sql, "D", "distributor", *points[0])
    for k, (lon, lat) in enumerate(points[1:]):
        add_outlet(sql, f"R{k}", "retail", lon, lat, parent="D")
    body = get(client, "/api/v1/distributors/D/depth")
    expected = ring_area([p[0] for p in points], [p[1] for p in points])
    assert body["catchment_m2"] == pytest.approx(expected, rel=1e-6)
    drawn = shapely.geometry.shape(body["catchment"])
    assert drawn.is_valid and drawn.covers(shapely.Point(45.0, 89.99))
    assert not drawn.covers(shapely.Point(45.0, 88.0))


def test_a_network_at_high_latitude_beside_the_pole(client, sql):
    points = [(15.0, 78.2), (16.5, 78.9), (25.0, 79.5), (20.0, 77.5), (18.0, 78.5)]
    add_outlet(sql, "D", "distributor", *points[0])
    for k, (lon, lat) in enumerate(points[1:]):
        add_outlet(sql, f"R{k}", "retail", lon, lat, parent="D")
    body = get(client, "/api/v1/distributors/D/depth")
    corners = points[:4]  # (18, 78.5) lies inside
    expected = ring_area([p[0] for p in corners], [p[1] for p in corners])
    assert body["catchment_m2"] == pytest.approx(expected, rel=1e-6)
    drawn = shapely.geometry.shape(body["catchment"])
    assert not drawn.covers(shapely.Point(0.0, 89.99))


# -- a region's boundary, simplified in metres -------------------------------------------


@pytest.mark.parametrize(
    "wkt",
    [
        box_wkt(-180.0, -90.0, 180.0, -60.0, 0.05),  # Antarctica, down to the pole
        box_wkt(-180.0, 89.0, 180.0, 90.0, 0.05),  # an Arctic cap
        shapely.MultiPolygon(  # the Aleutians, in parts on both sides of the meridian
            [
                shapely.from_wkt(box_wkt(179.0, 51.5, 180.0, 52.5)),
                shapely.from_wkt(box_wkt(-180.0, 51.5, -179.0, 52.5)),
            ]
        ).wkt,
    ],
)
def test_a_simplified_boundary_stays_the_region(client, sql, wkt):
    """Simplified through a projection centred on the label point, Antarctica lost half of
    itself (its edge along the pole collapsed) and the Aleutians became a band round the
    world (an edge on 180° came back on −180°)."""
    add_region(sql, "X", wkt)
    whole = shapely.geometry.shape(get(client, "/api/v1/regions/X")["geometry"])
    simple = shapely.geometry.shape(get(client, "/api/v1/regions/X", simplify_m=100)["geometry"])
    assert simple.is_valid and simple.bounds == whole.bounds
    assert simple.area == pytest.approx(whole.area, rel=1e-3)
    assert len(shapely.get_parts(simple)) == len(shapely.get_parts(whole))
    assert len(shapely.get_coordinates(simple)) < len(shapely.get_coordinates(whole)) / 10


# -- region files: labels and assignment ----------------------------------------------------


def _load(cli, tmp_path, code: str, name: str, rings: list) -> str:
    feature = {
        "type": "Feature",
        "properties": {"code": code, "name": name, "level": "province"},
        "geometry": {"type": "Polygon", "coordinates": rings},
    }
    path = tmp_path / f"{code}.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    result = cli.invoke(args=["regions", "load", str(path)])
    assert result.exit_code == 0, result.output
    return result.output


def test_an_arctic_cap_drawn_as_one_ring_round_the_pole(cli, client, sql, tmp_path):
    """A ring at 80–80.6°N round the pole, never coming back in longitude: it was loaded as a
    sliver along its own edge and a point at 89.5°N lay in no region."""
    lons = np.arange(-180.0, 180.0, 1.0)
    ring = [[float(x), 80.0 + (x % 7) / 10] for x in lons] + [[180.0, 80.0], [-180.0, 80.0]]
    output = _load(cli, tmp_path, "AR", "北极", [ring])
    assert "north pole" in output
    add_outlet(sql, "R1", "retail", 30.0, 89.5)
    outlet = get(client, "/api/v1/outlets/R1")
    assert outlet["region_code"] == "AR"
    covers, lat = sql(
        "SELECT ST_Covers(boundary, label_point), ST_Y(label_point) FROM regions WHERE code = 'AR'"
    ).one()
    assert covers and lat > 80.0


def test_antarctica_drawn_down_to_the_pole(cli, client, sql, tmp_path):
    """As Natural Earth draws it: along the coast from −180° to 180°, then an edge along −90°."""
    lons = np.arange(-180.0, 180.5, 0.5)
    coast = [[float(x), -70.0 + 5.0 * math.sin(math.radians(3 * x))] for x in lons]
    ring = [*coast, [180.0, -90.0], [-180.0, -90.0], coast[0]]
    output = _load(cli, tmp_path, "AQ", "南极洲", [ring[::-1]])
    assert "Error" not in output and "closed a ring" not in output
    covers, y = sql(
        "SELECT ST_Covers(boundary, label_point), ST_Y(label_point) FROM regions WHERE code = 'AQ'"
    ).one()
    assert covers and y < -65.0
    add_outlet(sql, "R1", "retail", -120.0, -89.9)
    assert get(client, "/api/v1/outlets/R1")["region_code"] == "AQ"


# -- the geometry helpers -------------------------------------------------------------------


def test_frame_centres():
    cap = shapely.segmentize(shapely.box(-180.0, -90.0, 180.0, -60.0), 0.05)
    assert frame_centre(cap, 0.0, -75.0) == (0.0, -90.0)
    half = shapely.segmentize(shapely.box(0.0, 89.8, 180.0, 90.0), 0.01)
    lon, lat = frame_centre(half, 90.0, 89.9)
    assert lon == pytest.approx(90.0, abs=0.5) and 89.85 < lat < 89.95
    parts = shapely.MultiPolygon(
        [shapely.box(179, 51.5, 180, 52.5), shapely.box(-180, 51.5, -179, 52.5)]
    )
    lon, lat = frame_centre(parts, 0.0, 52.0)
    assert abs(lon) == pytest.approx(180.0, abs=1e-6) and lat == pytest.approx(52.0, abs=0.01)
    china = shapely.box(110.0, 30.0, 110.5, 30.5)
    assert frame_centre(china, 110.25, 30.25) == (110.25, 30.25)  # as the database put it


def test_a_polar_cap_does_not_cross_the_meridian():
    """Maps shifted the western half of Antarctica by +360°: a cap spans every longitude."""
    assert not crosses_antimeridian(shapely.segmentize(shapely.box(-180, -90, 180, -60), 0.05))
    parts = shapely.MultiPolygon(
        [shapely.box(179, 51.5, 180, 52.5), shapely.box(-180, 51.5, -179, 52.5)]
    )
    assert crosses_antimeridian(parts)


def test_spherical_hulls():
    south = spherical_hull([0.0, 90.0, 180.0, -90.0], [-89.0] * 4)
    assert south is not None
    drawn, area = south
    assert area == pytest.approx(ring_area([0.0, 90.0, 180.0, -90.0], [-89.0] * 4), rel=1e-9)
    shape = shapely.geometry.shape(drawn)
    assert shape.is_valid and shape.exterior.is_ccw and shape.covers(shapely.Point(0, -89.99))
    across = spherical_hull([179.5, -179.5, 179.8], [70.0, 70.2, 71.0])
    assert across is not None
    assert shapely.geometry.shape(across[0]).bounds[0] >= 179.0  # drawn unwrapped
    assert spherical_hull([0.0, 1.0], [80.0, 81.0]) is None
    assert spherical_hull([0.0, 120.0, -120.0], [-10.0, -10.0, -10.0]) is None  # too wide


@pytest.mark.parametrize("north", [True, False])
def test_a_ring_round_a_pole_is_closed_through_it(north):
    sign = 1.0 if north else -1.0
    lons = np.arange(100.0, -261.0, -2.0)  # starts at 100°E, goes west once round
    ring = [[float((x + 180) % 360 - 180), sign * (70.0 + (x % 5) / 10)] for x in lons]
    ring.append(ring[0])
    fixed, fixes = split_at_antimeridian(shapely.Polygon(ring))
    assert fixes == [
        f"closed a ring round the {'north' if north else 'south'} pole through the pole"
    ]
    assert fixed.is_valid and len(shapely.get_parts(fixed)) == 1
    assert fixed.covers(shapely.Point(30.0, sign * 89.5))
    assert not fixed.covers(shapely.Point(30.0, sign * 60.0))
