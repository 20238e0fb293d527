"""Territory breadth: sub-regions (districts) and equal-area hexagons reached by a network."""

from __future__ import annotations

import re

import numpy as np
import pytest
import shapely
from analysis_helpers import add_outlet, add_region, box_wkt
from pyproj import Transformer

from geo_crm.analysis.breadth import hexagon_reach
from geo_crm.analysis.distribution import distributor_depth
from geo_crm.analysis.params import AnalysisParams, auto_cell_km
from geo_crm.domain.territories import set_territory
from geo_crm.errors import ValidationError

# a demo-like city: province P, city C with four districts side by side, city C2 without any
DISTRICTS = {f"C0{i}": (100 + 0.5 * i, 30, 100.5 + 0.5 * i, 31) for i in range(4)}


@pytest.fixture
def city(sql):
    add_region(sql, "P", box_wkt(100, 30, 103, 31))
    add_region(sql, "C", box_wkt(100, 30, 102, 31), level="city", parent="P")
    add_region(sql, "C2", box_wkt(102, 30, 103, 31), level="city", parent="P")
    for code, box in DISTRICTS.items():
        add_region(sql, code, box_wkt(*box), level="district", parent="C")
    add_outlet(sql, "D", "distributor", 100.2, 30.5)
    add_outlet(sql, "W", "wholesaler_2", 100.3, 30.5, parent="D")  # district C00
    add_outlet(sql, "R1", "retail", 100.7, 30.5, parent="W")  # C01
    add_outlet(sql, "R2", "retail", 101.2, 30.5, parent="W", status="inactive")  # C02
    add_outlet(sql, "R0", "retail", None, None, parent="W")  # not located
    # nothing in C03


def test_breadth_over_the_assigned_territory_misses_districts(session, city):
    set_territory(session, "D", regions=["C"])
    wide = distributor_depth(session, "D").territory_breadth
    assert wide.basis == "assigned" and wide.kind == "regions" and wide.regions == ["C"]
    assert wide.level == "district"
    assert [(u.code, u.outlets) for u in wide.units] == [
        ("C00", 1),
        ("C01", 1),
        ("C02", 0),  # R2 is inactive
        ("C03", 0),
    ]
    assert wide.unit_share == pytest.approx(2 / 4) and wide.unit_share < 1
    any_status = distributor_depth(session, "D", AnalysisParams(status=None)).territory_breadth
    assert any_status.reached_units == 3
    # the cell size follows the territory's area (about 100 hexagons), and few are reached
    assert wide.cell_km == auto_cell_km(wide.area_m2, target=100)
    assert 50 <= wide.cells <= 200 and wide.reached_cells == 2
    assert wide.cell_share == pytest.approx(2 / wide.cells)


def test_without_a_territory_the_network_region_or_a_named_one(session, city):
    depth = distributor_depth(session, "D")
    wide = depth.territory_breadth
    # the smallest region holding D, W and R1 is the city C: breadth over its districts
    assert (wide.basis, wide.regions) == ("network", ["C"]) == ("network", [depth.territory_code])
    assert wide.reached_units == 2 and len(wide.units) == 4
    named = distributor_depth(session, "D", territory="P").territory_breadth
    assert named.basis == "named" and named.regions == ["P"]
    # the lowest level present: the districts of C, and C2 which has none
    assert [u.code for u in named.units] == ["C00", "C01", "C02", "C03", "C2"]
    assert named.unit_share == pytest.approx(2 / 5)


def test_a_network_without_located_outlets_or_territory_has_none(session, sql):
    add_outlet(sql, "E", "distributor", None, None)
    assert distributor_depth(session, "E").territory_breadth is None


# -- hexagons, on a constructed case --------------------------------------------------------
LAEA = "+proj=laea +lat_0=30 +lon_0=110 +ellps=WGS84 +units=m"
TO_LONLAT = Transformer.from_crs(LAEA, "EPSG:4326", always_xy=True)
ROW = 10_000 * 3**0.5 / 2  # 10 km hexagons: rows 8.66 km apart


def lonlat(x: float, y: float) -> tuple[float, float]:
    return TO_LONLAT.transform(x, y)


def metric_rectangle() -> shapely.Polygon:
    """x in ±27.5 km, y in ±2.5 rows: every cell centre at least 2.5 km from the edge. Centres
    inside: rows -2, 0, 2 at x = -20 … 20 (5 each), rows -1, 1 at x = -25 … 25 (6 each)."""
    ring = shapely.segmentize(shapely.box(-27_500, -2.5 * ROW, 27_500, 2.5 * ROW), 1000)
    return shapely.Polygon([lonlat(x, y) for x, y in ring.exterior.coords])


def test_hexagon_breadth_is_exact_on_a_constructed_case():
    points = [
        (0, 0),  # centre cell
        (800, 600),  # the same cell
        (10_000, 0),  # its neighbour east
        (-5_000, ROW),  # row 1
        (100_000, 0),  # outside the territory
    ]
    lon, lat = zip(*(lonlat(x, y) for x, y in points), strict=True)
    cells, reached = hexagon_reach(metric_rectangle(), np.array(lon), np.array(lat), 10_000)
    assert (cells, reached) == (27, 3)
    assert hexagon_reach(metric_rectangle(), np.array([]), np.array([]), 10_000) == (27, 0)


def test_hexagon_breadth_of_a_drawn_polygon_territory(session, sql):
    add_outlet(sql, "D", "distributor", *lonlat(0, 0))
    add_outlet(sql, "R1", "retail", *lonlat(10_000, 0), parent="D")
    add_outlet(sql, "R2", "retail", *lonlat(-5_000, ROW), parent="D")
    add_outlet(sql, "R3", "retail", *lonlat(-4_000, ROW + 500), parent="D")
    add_outlet(sql, "R4", "retail", *lonlat(0, -2 * ROW), parent="D", status="closed")
    polygon = shapely.geometry.mapping(metric_rectangle())
    set_territory(session, "D", polygon=polygon)
    wide = distributor_depth(session, "D", cell_km=10).territory_breadth
    assert (wide.basis, wide.kind, wide.regions) == ("assigned", "polygon", [])
    assert (wide.cell_km, wide.cells, wide.reached_cells) == (10, 27, 2)
    assert wide.units == [] and wide.unit_share is None  # no region loaded there


def test_cell_size_limits(session, city):
    with pytest.raises(ValidationError) as bad:
        distributor_depth(session, "D", cell_km=0.001)
    assert "cell_km" in bad.value.fields
    set_territory(session, "D", regions=["P"])
    with pytest.raises(ValidationError) as fine:
        distributor_depth(session, "D", AnalysisParams(max_cells=1000), cell_km=0.1)
    assert "too small" in fine.value.fields["cell_km"]


def test_depth_api_carries_both_breadths_and_their_basis(client, session, city):
    set_territory(session, "D", regions=["C"])
    body = client.get("/api/v1/distributors/D/depth?cell_km=20").get_json()
    wide = body["territory_breadth"]
    assert wide["basis"] == "assigned" and wide["regions"] == ["C"]
    assert wide["sub_regions"]["level"] == "district"
    assert (wide["sub_regions"]["units"], wide["sub_regions"]["reached"]) == (4, 2)
    assert wide["sub_regions"]["share"] == pytest.approx(0.5)
    assert wide["hexagons"]["cell_km"] == 20 and wide["hexagons"]["cells"] > 0
    assert body["breadth"] == pytest.approx(1 / 4)  # retail only (R1), as before
    bad = client.get("/api/v1/distributors/D/depth?cell_km=0")
    assert bad.status_code == 422 and "query.cell_km" in bad.get_json()["error"]["fields"]
    fine = client.get("/api/v1/distributors/D/depth?cell_km=0.05")
    assert fine.status_code == 422 and "query.cell_km" in fine.get_json()["error"]["fields"]


def test_distributor_page_shows_both_breadths_and_the_basis(
    client, app, session, city, settings_override
):
    settings_override(app, auth_required=False)
    page = client.get("/distributors/D?lang=en").get_data(as_text=True)
    assert "Region of the network (no territory assigned)" in page
    set_territory(session, "D", regions=["C"])
    page = client.get("/distributors/D?lang=en").get_data(as_text=True)
    assert "Assigned territory: C" in page and "(District)" in page
    assert re.search(r'id="breadth-regions">50(\.0)?%<br><small class="muted">2 / 4<', page)
    assert re.search(r'id="breadth-hexagons">[\d.]+%<br><small class="muted">2 / \d+<', page)
    zh = client.get("/distributors/D?lang=zh&cell_km=20").get_data(as_text=True)
    assert "已分配的经销区域" in zh and "覆盖的下级区域" in zh and "覆盖的六边形网格" in zh
    assert "20 公里" in zh or "20 km" in zh


def test_cli_prints_both_breadths_and_names_a_bad_cell_size(cli, session, city):
    set_territory(session, "D", regions=["C"])
    result = cli.invoke(args=["analyse", "depth", "D", "--cell-km", "20"])
    assert result.exit_code == 0, result.output
    assert "territory breadth (assigned territory" in result.output
    assert "2 of 4 sub-regions (district) reached (50.00%)" in result.output
    assert "hexagons of 20 km" in result.output
    bad = cli.invoke(args=["analyse", "depth", "D", "--cell-km", "0"])
    assert bad.exit_code != 0 and "cell_km" in bad.output
