"""Across the 180° meridian (issue 17, item 1): a region stored as parts on both sides of it
(as boundary files and PostGIS keep it), with outlets on both sides, is measured as the one
place it is."""

from __future__ import annotations

import math

import pytest
import shapely
from analysis_helpers import (
    GEOD,
    add_outlet,
    add_region,
    box_wkt,
    geodesic_area,
    offset,
    segment_area,
)

from geo_crm.analysis.coverage import coverage
from geo_crm.analysis.distribution import catchment
from geo_crm.analysis.gaps import gaps
from geo_crm.analysis.params import AnalysisParams

ONLY_RETAIL = dict(tiers=("retail",))


@pytest.fixture
def aleutians(sql):
    """179°E–179°W, 51.5–52.5°N in two parts, one each side of the meridian."""
    east = shapely.from_wkt(box_wkt(179.0, 51.5, 180.0, 52.5))
    west = shapely.from_wkt(box_wkt(-180.0, 51.5, -179.0, 52.5))
    add_region(sql, "AL", shapely.MultiPolygon([east, west]).wkt)
    return geodesic_area(east) + geodesic_area(west)


def run(session, code="AL", radius=20_000.0):
    params = AnalysisParams(**ONLY_RETAIL).with_(radius_m={"retail": radius})
    return coverage(session, code, params)


@pytest.mark.parametrize("lon", [-179.99, 179.99, -179.5, 179.5])
def test_a_disc_beside_the_meridian_is_covered_whole(session, sql, aleutians, lon):
    add_outlet(sql, "R1", "retail", lon, 51.95)
    result = run(session)
    assert result.region.area_m2 == pytest.approx(aleutians, rel=1e-5)
    assert result.region.covered_m2 == pytest.approx(math.pi * 20_000.0**2, rel=1e-4)


def test_discs_on_both_sides_add_up(session, sql, aleutians):
    add_outlet(sql, "R1", "retail", -179.5, 51.95)
    add_outlet(sql, "R2", "retail", 179.5, 51.95)
    result = run(session)
    assert result.region.covered_m2 == pytest.approx(2 * math.pi * 20_000.0**2, rel=1e-4)


def test_a_disc_from_across_the_meridian_covers_its_side(session, sql):
    """The region lies east of the meridian only; the outlet 5 km beyond it, at 179.93°W."""
    add_region(sql, "AE", box_wkt(179.0, 51.5, 180.0, 52.5))
    lon, lat = offset(180.0, 51.95, 90.0, 5000.0)
    add_outlet(sql, "R1", "retail", lon, lat)
    result = run(session, "AE")
    assert result.region.covered_m2 == pytest.approx(segment_area(20_000.0, 5000.0), rel=1e-3)


@pytest.mark.parametrize("lon", [-179.99, 179.99])
def test_gap_distances_are_measured_across_the_meridian(session, sql, aleutians, lon):
    add_outlet(sql, "R1", "retail", lon, 51.95)
    params = AnalysisParams(**ONLY_RETAIL, cell_km=5.0).with_(radius_m={"retail": 20_000.0})
    result = gaps(session, "AL", params, limit=100_000)
    assert all(c.shortfall_m > 0 for c in result.worst)
    for cell in result.worst:
        expected = GEOD.inv(cell.lon, cell.lat, lon, 51.95)[2]
        assert cell.distance_m == pytest.approx(expected, rel=1e-3, abs=1.0)
        assert expected > 20_000.0
    within = result.cells - result.gap_cells
    assert within >= 40  # about pi*20²/21.65 km² cells of 5 km lie within the disc


def test_a_catchment_beside_the_meridian_is_the_small_hull(session, sql):
    """Two outlets beside the meridian join a distributor's network: its hull spans the 2° of
    longitude between them, not the 358° the other way round."""
    points = {"D": (179.0, 52.0), "R1": (179.8, 52.4), "R2": (-179.9, 51.8), "R3": (-179.2, 52.3)}
    add_outlet(sql, "D", "distributor", *points["D"])
    for code in ("R1", "R2", "R3"):
        add_outlet(sql, code, "retail", *points[code], parent="D")
    hull, area = catchment(session, "D")
    unwrapped = [(lon % 360.0, lat) for lon, lat in points.values()]
    expected = geodesic_area(shapely.MultiPoint(unwrapped).convex_hull)
    assert area == pytest.approx(expected, rel=1e-3)
    assert area < 2 * 200_000.0 * 80_000.0  # well inside a 2° × 0.6° box
    drawn = shapely.geometry.shape(hull)
    assert drawn.covers(shapely.Point(179.0, 52.0)) and drawn.covers(shapely.Point(180.1, 51.8))


def test_a_network_on_one_side_keeps_its_hull(session, sql):
    add_outlet(sql, "D", "distributor", 100.0, 30.0)
    add_outlet(sql, "R1", "retail", 101.0, 30.5, parent="D")
    add_outlet(sql, "R2", "retail", 100.5, 31.0, parent="D")
    hull, _ = catchment(session, "D")
    assert max(x for x, _ in hull["coordinates"][0]) <= 101.0


def test_a_region_drawn_across_the_meridian_is_cut_not_banded(session, sql, tmp_path):
    """A Fiji drawn as one ring from 177°E over the meridian to 179°W: two parts, 4° wide in
    all, its label point on it, and a point in the Atlantic in no region."""
    import json

    from geo_crm.io.boundaries import load_region_files

    fiji = [[177.0, -18.0], [-179.0, -18.0], [-179.0, -16.0], [177.0, -16.0], [177.0, -18.0]]
    feature = {
        "type": "Feature",
        "properties": {"code": "FJ", "name": "斐济", "level": "province"},
        "geometry": {"type": "Polygon", "coordinates": [fiji]},
    }
    path = tmp_path / "fiji.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    report = load_region_files(session, [path])
    assert report.inserted == ["FJ"]
    assert any("180° meridian" in why for code, why in report.repaired if code == "FJ")
    parts, x0, x1, lx, area = sql(
        "SELECT ST_NumGeometries(boundary), ST_XMin(boundary), ST_XMax(boundary), "
        "ST_X(label_point), area_m2 FROM regions WHERE code = 'FJ'"
    ).one()
    assert parts == 2 and (x0, x1) == (-180.0, 180.0)
    assert lx >= 177.0 or lx <= -179.0
    unwrapped = shapely.box(177.0, -18.0, 181.0, -16.0)
    assert area == pytest.approx(geodesic_area(unwrapped), rel=1e-3)
    in_atlantic = sql(
        "SELECT count(*) FROM regions WHERE ST_Intersects(boundary, "
        "ST_SetSRID(ST_MakePoint(0, -17), 4326))"
    ).scalar()
    assert in_atlantic == 0


def test_a_region_beside_the_meridian_is_left_as_it_is():
    from geo_crm.io.antimeridian import split_at_antimeridian

    poly = shapely.MultiPolygon([shapely.box(179.0, 51.0, 180.0, 52.0)])
    assert split_at_antimeridian(poly) == (poly, [])
    polar = shapely.Polygon([(-180, 80), (-60, 80), (60, 80), (180, 80), (180, 90), (-180, 90)])
    assert split_at_antimeridian(polar)[1] == []
