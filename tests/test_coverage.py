"""Coverage: exact square metres against analytic and geodesic references (real PostGIS)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
import shapely.affinity
from analysis_helpers import (
    add_outlet,
    add_region,
    box_wkt,
    geodesic_area,
    lens_union_area,
    offset,
    segment_area,
)

from geo_crm.analysis.coverage import coverage
from geo_crm.analysis.geometry import disc_union
from geo_crm.analysis.params import AnalysisParams
from geo_crm.errors import NotFound, ValidationError

ONLY_RETAIL = dict(tiers=("retail",))


@pytest.fixture
def province(sql):
    add_region(sql, "P", box_wkt(110, 30, 112, 32))
    add_region(sql, "PW", box_wkt(110, 30, 111, 32), level="city", parent="P")
    add_region(sql, "PE", box_wkt(111, 30, 112, 32), level="city", parent="P")


def run(session, code="P", radius=5000.0, **kw):
    params = AnalysisParams(**{**ONLY_RETAIL, **kw}).with_(radius_m={"retail": radius})
    return coverage(session, code, params)


def test_single_disc_far_from_borders_covers_pi_r_squared(session, sql, province):
    add_outlet(sql, "R1", "retail", 111.5, 31.0)
    result = run(session)
    expected = math.pi * 5000.0**2
    assert result.region.covered_m2 == pytest.approx(expected, rel=5e-3)
    assert result.region.covered_m2 == pytest.approx(expected, rel=1e-4)  # arcs are exact circles
    east, west = (
        {s.code: s for s in result.sub_regions}["PE"],
        {s.code: s for s in result.sub_regions}["PW"],
    )
    assert east.covered_m2 == pytest.approx(expected, rel=1e-4)
    assert west.covered_m2 == 0


def test_two_overlapping_discs_cover_the_lens_union(session, sql, province):
    a = (111.5, 31.0)
    b = offset(*a, 90.0, 6000.0)
    add_outlet(sql, "R1", "retail", *a)
    add_outlet(sql, "R2", "retail", *b)
    result = run(session)
    assert result.region.covered_m2 == pytest.approx(lens_union_area(5000.0, 6000.0), rel=1e-4)


def test_disc_crossing_the_border_is_clipped(session, sql, province):
    # 2 km east of the western border (a meridian): a geodesic heading east meets it at 90°
    add_outlet(sql, "R1", "retail", *offset(110.0, 31.0, 90.0, 2000.0))
    # 1.5 km west of the inner border between PW and PE
    add_outlet(sql, "R2", "retail", *offset(111.0, 31.5, 270.0, 1500.0))
    result = run(session)
    disc = math.pi * 5000.0**2
    outside = segment_area(5000.0, 2000.0)
    assert result.region.covered_m2 == pytest.approx(2 * disc - outside, rel=1e-4)
    subs = {s.code: s for s in result.sub_regions}
    assert subs["PE"].covered_m2 == pytest.approx(segment_area(5000.0, 1500.0), rel=1e-4)
    assert subs["PW"].covered_m2 == pytest.approx(
        2 * disc - outside - segment_area(5000.0, 1500.0), rel=1e-4
    )


def test_outlet_outside_the_region_covers_across_the_border(session, sql, province):
    add_outlet(
        sql, "R1", "retail", *offset(112.0, 31.0, 90.0, 3000.0)
    )  # 3 km east of the east border
    result = run(session)
    assert result.region.covered_m2 == pytest.approx(segment_area(5000.0, 3000.0), rel=1e-4)


def test_high_latitude_region_area_matches_the_geodesic_reference(session, sql):
    wkt = box_wkt(10, 60, 12, 62)
    add_region(sql, "N", wkt)
    add_outlet(sql, "R1", "retail", 11.0, 61.0)
    add_outlet(sql, "D1", "distributor", 11.0, 61.0)
    reference = geodesic_area(shapely.from_wkt(wkt))
    result = run(session, "N", radius=10_000.0)
    assert result.region.area_m2 == pytest.approx(reference, rel=1e-5)
    assert result.region.covered_m2 == pytest.approx(
        math.pi * 1e8, rel=1e-4
    )  # 3857 would be 4x off
    whole = coverage(
        session, "N", AnalysisParams(tiers=("distributor",), radius_m={"distributor": 400_000})
    )
    assert whole.region.covered_m2 == pytest.approx(reference, rel=1e-5)
    assert whole.region.ratio == pytest.approx(1.0, abs=1e-12)


def test_per_tier_and_whole_network(session, sql, province):
    add_outlet(sql, "D1", "distributor", 111.5, 31.0)
    add_outlet(
        sql, "R1", "retail", *offset(111.5, 31.0, 0.0, 8000.0)
    )  # 8 km north: overlaps 10 km disc
    params = AnalysisParams(
        tiers=("distributor", "retail"), radius_m={"distributor": 10_000, "retail": 5000}
    )
    result = coverage(session, "P", params)
    by_tier = {t.tier: t for t in result.by_tier}
    assert by_tier["distributor"].covered_m2 == pytest.approx(math.pi * 1e8, rel=1e-4)
    assert by_tier["retail"].covered_m2 == pytest.approx(math.pi * 25e6, rel=1e-4)
    # two discs of radii 10 and 5 km, 8 km apart
    r1, r2, d = 10_000.0, 5000.0, 8000.0
    a1 = r1 * r1 * math.acos((d * d + r1 * r1 - r2 * r2) / (2 * d * r1))
    a2 = r2 * r2 * math.acos((d * d + r2 * r2 - r1 * r1) / (2 * d * r2))
    lens = a1 + a2 - 0.5 * math.sqrt((-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2))
    assert result.region.covered_m2 == pytest.approx(math.pi * (r1 * r1 + r2 * r2) - lens, rel=1e-4)


def test_filters_status_and_distributor_network(session, sql, province):
    add_outlet(sql, "D1", "distributor", 110.5, 30.5)
    add_outlet(sql, "W1", "wholesaler_2", 110.6, 30.6, parent="D1")
    add_outlet(sql, "R1", "retail", 111.5, 31.0, parent="W1")
    add_outlet(sql, "R2", "retail", 111.5, 31.5)  # another network
    add_outlet(sql, "R3", "retail", 111.5, 30.5, parent="W1", status="closed")
    disc = math.pi * 25e6
    assert run(session).region.covered_m2 == pytest.approx(2 * disc, rel=1e-4)
    assert run(session, status=None).region.covered_m2 == pytest.approx(3 * disc, rel=1e-4)
    assert run(session, distributor="D1").region.covered_m2 == pytest.approx(disc, rel=1e-4)
    assert run(session, distributor="D1", status=None).outlets == 2


def test_outline_is_the_covered_area(session, sql, province):
    add_outlet(sql, "R1", "retail", 111.5, 31.0)
    add_outlet(sql, "R2", "retail", *offset(111.5, 31.0, 45.0, 7000.0))
    add_outlet(sql, "R3", "retail", *offset(110.0, 31.0, 90.0, 1000.0))
    result = run(session)
    geom = result.geometry
    assert geom["type"] == "MultiPolygon"
    assert len(geom["coordinates"]) == 2
    assert geodesic_area(geom) == pytest.approx(result.region.covered_m2, rel=1e-2)


def test_empty_network_covers_nothing(session, province):
    result = run(session)
    assert result.region.covered_m2 == 0
    assert result.geometry == {"type": "MultiPolygon", "coordinates": []}


def test_unknown_region_and_bad_radius(session, province):
    with pytest.raises(NotFound):
        run(session, "NOPE")
    for bad in (0.0, -5.0, 600_000.0, float("nan"), float("inf")):
        with pytest.raises(ValidationError) as err:
            run(session, radius=bad)
        assert "radius_retail" in err.value.fields


@pytest.mark.parametrize("search", ["power", "pairs", "strips"])
def test_disc_union_matches_a_fine_polygon_union(search, monkeypatch):
    """Dense-logic check of the arc method against GEOS with 1024-gons (every neighbour search:
    one power diagram, all overlapping pairs, power diagrams of overlapping strips)."""
    force_pairs = search == "pairs"
    if search == "strips":
        monkeypatch.setattr(disc_union, "TILE_MIN", 100)
        monkeypatch.setattr(disc_union, "TILE_TARGET", 150)
    rng = np.random.default_rng(7)
    n = 800
    x, y = rng.uniform(0, 20_000, n), rng.uniform(0, 20_000, n)
    r = rng.choice([300.0, 900.0, 2500.0], n)
    x[:5], y[:5], r[:5] = x[0], y[0], r[0]  # duplicates
    polygon = shapely.MultiPolygon(
        [
            shapely.Polygon(
                [(2000, 1000), (18_000, 3000), (15_000, 19_000), (8000, 12_000), (1000, 17_000)],
                holes=[[(9000, 6000), (11_000, 6000), (10_000, 8000)]],
            ),
            shapely.box(19_000, 19_000, 25_000, 25_000),
        ]
    )
    if search == "strips":  # wide enough for three strips with their margins
        x, y, polygon = 3 * x, 3 * y, shapely.affinity.scale(polygon, 3, 3, origin=(0, 0))
    discs = disc_union.prepare(x, y, r, force_pairs=force_pairs)
    pieces = disc_union.clip_pieces(discs, polygon)
    exact = disc_union.pieces_area(discs, pieces)
    fine = shapely.union_all(shapely.buffer(shapely.points(x, y), r, quad_segs=256))
    reference = shapely.area(shapely.intersection(fine, polygon))
    assert exact == pytest.approx(reference, rel=2e-5)
    outline = disc_union.build_outline(discs, pieces, polygon)
    assert outline.is_valid
    assert outline.area == pytest.approx(reference, rel=2e-3)
    assert (
        shapely.area(shapely.symmetric_difference(outline, shapely.intersection(fine, polygon)))
        < 2e-3 * reference
    )
