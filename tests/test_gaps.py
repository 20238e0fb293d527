"""Gap grid: classification at the radius, geodesic distances, ordering and white space."""

from __future__ import annotations

import numpy as np
import pytest
from analysis_helpers import GEOD, add_outlet, add_region, box_wkt, offset

from geo_crm.analysis.gaps import gaps
from geo_crm.analysis.geometry.geodesy import chord_to_surface, ecef
from geo_crm.analysis.params import AnalysisParams
from geo_crm.errors import ValidationError

CENTRE = (100.25, 30.25)  # the box's centroid: the grid's cell 0:0 sits exactly there


@pytest.fixture
def region(sql):
    add_region(sql, "G", box_wkt(100.0, 30.0, 100.5, 30.5))
    add_region(sql, "G1", box_wkt(100.0, 30.0, 100.5, 30.2), level="city", parent="G")
    add_region(sql, "G2", box_wkt(100.0, 30.2, 100.5, 30.35), level="city", parent="G")
    add_region(sql, "G3", box_wkt(100.0, 30.35, 100.5, 30.5), level="city", parent="G")


def run(session, radius=3000.0, cell_km=5.0, limit=5000, tiers=("retail",), **kw):
    params = AnalysisParams(tiers=tiers, cell_km=cell_km, **kw).with_(
        radius_m={"retail": radius, "distributor": 60_000.0}
    )
    return gaps(session, "G", params, limit=limit)


def gap_ids(result) -> set[str]:
    return {f"{c.row}:{c.col}" for c in result.worst}


@pytest.mark.parametrize("delta, is_gap", [(-0.01, False), (0.0, False), (0.01, True)])
def test_centre_on_inside_outside_the_radius(session, sql, region, delta, is_gap):
    add_outlet(sql, "R1", "retail", *offset(*CENTRE, 37.0, 3000.0 + delta))
    result = run(session)
    assert ("0:0" in gap_ids(result)) is is_gap
    if is_gap:
        cell = next(c for c in result.worst if (c.row, c.col) == (0, 0))
        assert cell.shortfall_m == pytest.approx(0.01, abs=1e-3)
        assert cell.nearest_code == "R1"


def test_distances_equal_geodesic_distances(session, sql, region):
    outlets = [(100.1, 30.1), (100.42, 30.31), (100.3, 30.47)]
    for i, (lon, lat) in enumerate(outlets):
        add_outlet(sql, f"R{i}", "retail", lon, lat)
    result = run(session, radius=1.0, cell_km=4.0)  # every cell is a gap: all distances come back
    assert result.gap_cells == result.cells == len(result.worst) > 100
    lons = np.array([c.lon for c in result.worst])
    lats = np.array([c.lat for c in result.worst])
    expected = np.min(
        [
            GEOD.inv(lons, lats, np.full_like(lons, lo), np.full_like(lats, la))[2]
            for lo, la in outlets
        ],
        axis=0,
    )
    got = np.array([c.distance_m for c in result.worst])
    # cell centres come back rounded to 1e-6 degrees (< 0.11 m)
    assert np.abs(got - expected).max() < 0.15
    # worst first: distances never increase
    assert (np.diff(got) <= 1e-9).all()


def test_chord_correction_matches_geodesics_exactly():
    rng = np.random.default_rng(1)
    lon1, lat1 = rng.uniform(70, 135, 2000), rng.uniform(18, 54, 2000)
    az, dist = rng.uniform(0, 360, 2000), rng.uniform(1, 200_000, 2000)
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, az, dist)
    chord = np.linalg.norm(ecef(lon1, lat1) - ecef(lon2, lat2), axis=1)
    delta = ecef(lon2, lat2) - ecef(lon1, lat1)
    assert (
        np.abs(chord_to_surface(chord, lat1, lon1, delta) - dist).max() < 0.005
    )  # 5 mm at 200 km (0.2 mm at 100 km)


def test_nearest_outlet_far_outside_the_region_is_found(session, sql, region):
    add_outlet(sql, "FAR", "retail", *offset(*CENTRE, 90.0, 150_000.0))
    result = run(session)
    cell = next(c for c in result.worst if (c.row, c.col) == (0, 0))
    assert cell.distance_m == pytest.approx(150_000.0, abs=0.15)
    assert cell.nearest_code is None  # outside the region: counted, not named
    assert cell.nearest_tier == "retail"


def test_no_outlet_at_all_makes_every_cell_a_gap(session, region):
    result = run(session)
    assert result.cells > 0 and result.gap_cells == result.cells
    assert all(c.distance_m is None for c in result.worst)
    assert [w.code for w in result.white_space] == ["G1", "G2", "G3"]


def test_ordering_worst_first_and_limit(session, sql, region):
    add_outlet(sql, "R1", "retail", 100.05, 30.05)
    full = run(session)
    shortfalls = [c.shortfall_m for c in full.worst]
    assert shortfalls == sorted(shortfalls, reverse=True)
    top = run(session, limit=3)
    assert [(c.row, c.col) for c in top.worst] == [(c.row, c.col) for c in full.worst[:3]]
    assert top.gap_cells == full.gap_cells  # totals stay exact


@pytest.mark.parametrize("tiers", [("retail",), ("distributor", "retail")])
def test_worst_gaps_found_by_blocks_equal_every_cell_measured(session, sql, region, tiers):
    """Past BLOCK² × 1000 gap cells only the cells that may rank are measured exactly (block
    representatives bound the rest): the answer must not change."""
    for n, spot in enumerate([(100.05, 30.05), (100.4, 30.3), (100.2, 30.45), (100.31, 30.15)]):
        add_outlet(sql, f"R{n}", "retail", *spot)
    add_outlet(sql, "D1", "distributor", 102.5, 30.25)  # ~215 km east: beyond the first box
    every = run(session, radius=2000.0, cell_km=0.35, limit=5000, tiers=tiers)
    assert every.gap_cells > 16_000  # so that 40 worst are found by blocks
    top = run(session, radius=2000.0, cell_km=0.35, limit=40, tiers=tiers)

    def listed(result):
        return [(c.row, c.col, c.distance_m, c.shortfall_m, c.nearest_code) for c in result.worst]

    assert listed(top) == listed(every)[:40]
    assert (top.gap_cells, top.cells, top.outlets) == (every.gap_cells, every.cells, every.outlets)


def test_white_space_and_tier_filter(session, sql, region):
    add_outlet(sql, "D1", "distributor", 100.25, 30.1)  # in G1
    add_outlet(sql, "R1", "retail", 100.25, 30.25, parent="D1")  # in G2
    retail = run(session)
    assert [w.code for w in retail.white_space] == ["G1", "G3"]
    both = run(session, tiers=("distributor", "retail"))
    assert [w.code for w in both.white_space] == ["G3"]
    assert both.gap_cells == 0  # the distributor's 60 km reaches every cell
    closed = run(session, tiers=("distributor", "retail"), status="inactive")
    assert [w.code for w in closed.white_space] == ["G1", "G2", "G3"]


def test_cell_size_that_makes_too_many_cells_is_refused(session, region):
    with pytest.raises(ValidationError) as err:
        run(session, cell_km=0.5, max_cells=1000)
    assert "cell_km" in err.value.fields
    with pytest.raises(ValidationError) as err:
        run(session, cell_km=float("nan"))
    assert "cell_km" in err.value.fields


def test_cell_outlines_are_hexagons_of_the_stated_area(session, region):
    result = run(session, limit=5)
    from analysis_helpers import geodesic_area

    for cell in result.worst:
        ring = cell.outline
        assert len(ring) == 7 and ring[0] == ring[-1]
        assert geodesic_area({"type": "Polygon", "coordinates": [ring]}) == pytest.approx(
            result.cell_area_km2 * 1e6, rel=1e-4
        )


def test_hexgrid_cells_and_point_lookup_agree_with_brute_force():
    """Dense-logic check of the grid: scanline membership and cube rounding vs brute force."""
    import shapely
    from scipy.spatial import cKDTree

    from geo_crm.analysis.geometry.hexgrid import HexGrid

    grid = HexGrid(5000.0)
    polygon = shapely.Polygon(
        [(0, 0), (100_000, 10_000), (60_000, 90_000), (30_000, 40_000), (5000, 80_000)],
        holes=[[(40_000, 20_000), (60_000, 20_000), (50_000, 35_000)]],
    )
    rows, cols = np.meshgrid(np.arange(-5, 30), np.arange(-5, 30))
    bx, by = grid.centre(rows.ravel(), cols.ravel())
    expected = set(
        zip(
            rows.ravel()[shapely.contains_xy(polygon, bx, by)].tolist(),
            cols.ravel()[shapely.contains_xy(polygon, bx, by)].tolist(),
            strict=True,
        )
    )
    got_r, got_c = grid.cells_in(polygon)
    assert set(zip(got_r.tolist(), got_c.tolist(), strict=True)) == expected
    rng = np.random.default_rng(3)
    px, py = rng.uniform(-20_000, 120_000, (2, 20_000))
    r, c = grid.cell_of(px, py)
    cx, cy = grid.centre(r, c)
    nearest, _ = cKDTree(np.column_stack([bx, by])).query(np.column_stack([px, py]))
    assert np.allclose(np.hypot(px - cx, py - cy), nearest)  # the cell is the nearest centre
    assert shapely.Polygon(grid.outlines(r[:1], c[:1])[0]).area == pytest.approx(grid.cell_area_m2)
