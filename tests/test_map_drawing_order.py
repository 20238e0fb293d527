"""Hexagon counts never muddy the shading under them (issue 16 part 6): shading is drawn in a
pane under the outlets, hexagons are outlines with their count written inside, no fill."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from browser_helpers import ARGS, CHROMIUM, serving
from shapely.geometry import box, mapping
from test_maps_data import PROVINCE, build_network
from test_maps_html import REGION, SUBS, of_type, rows, settings

from geo_crm.domain.outlet_layers import OutletCoords
from geo_crm.maps.base import render
from geo_crm.maps.coverage import CoverageData, coverage_map
from geo_crm.maps.elements import Legend
from geo_crm.maps.style import COUNT_Z, SHADE_PANE, SHADE_Z

SHOTS = Path("/tmp")


def _coverage_page():
    rng = np.random.default_rng(5)
    n = 5_000
    coords = OutletCoords(rng.uniform(120, 122, n), rng.uniform(30, 31.5, n), ["retail"] * n)
    cov = CoverageData(
        covered={"all": mapping(box(120.2, 30.2, 121.8, 31.2))},
        ratio={"all": 0.5},
        subregion_ratio={"C1": 0.85, "C2": 0.15},
    )
    m = coverage_map(
        REGION, SUBS, settings("en", point_limit=10), coverage=cov, rows=rows(3), coords=coords
    )
    return m, render(m)


def test_shading_is_drawn_in_its_pane_under_the_counts():
    m, page = _coverage_page()
    made = page.index("GeoCrm.pane(map_")  # the pane exists before anything is drawn in it
    assert re.search(rf'GeoCrm\.pane\(map_\w+, "{SHADE_PANE}", {SHADE_Z}, true\)', page)
    # the sub-region choropleth and the covered area both go in it
    choropleth = page.index('"pane": "gcShade"')
    covered = page.index('pane: "gcShade"')
    assert made < choropleth and made < covered
    # counts: after the shading in the page, on the overlay canvas (z 400) above the shade pane
    assert SHADE_Z < 400 < COUNT_Z
    assert page.index("GeoCrm.hexes(") > max(choropleth, covered)


def test_hexagons_are_outlines_with_counts_and_their_legend_says_so():
    m, page = _coverage_page()
    runtime = page[page.index("G.hexes = function") :]
    hexes = runtime[: runtime.index("G.discs")]
    assert "fillOpacity: 0," in hexes and "fillOpacity: 0.75" not in hexes
    assert "new G.HexLabels(" in hexes
    assert "G.pane(map, G.COUNT_PANE, 450, false)" in page  # labels never catch the pointer
    legend = next(lg for lg in of_type(m, Legend) if lg.title.startswith("Outlets per cell"))
    assert legend.html.count("gc-sw gc-ring") == 5 and "background:" not in legend.html


@pytest.fixture
def served(app, sql, settings_override):
    settings_override(app, auth_required=False, map_point_limit=3)
    build_network(sql, extra_retail=400)
    with serving(app) as url:
        yield url


def test_counts_over_coverage_in_chromium(served):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800}, locale="en")
            page.set_default_timeout(20_000)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route(
                "**/*",
                lambda r: r.continue_() if r.request.url.startswith(served + "/") else r.abort(),
            )
            page.goto(f"{served}/maps/coverage/{PROVINCE}?lang=en&radius_km=20")
            page.wait_for_selector("html[data-geo-crm-ready]")
            page.wait_for_timeout(300)
            panes = page.evaluate("""() => {
              const z = c => getComputedStyle(document.querySelector(c));
              return {
                shade: [z('.leaflet-gcShade-pane').zIndex,
                        document.querySelectorAll(
                          '.leaflet-gcShade-pane canvas, .leaflet-gcShade-pane path').length],
                overlay: z('.leaflet-overlay-pane').zIndex,
                counts: [z('.leaflet-gcCounts-pane').zIndex,
                         z('.leaflet-gcCounts-pane').pointerEvents,
                         document.querySelectorAll('.leaflet-gcCounts-pane canvas').length],
              };
            }""")
            assert panes["shade"][0] == "350" and panes["shade"][1] >= 1  # the sub-regions
            assert panes["overlay"] == "400"
            assert panes["counts"] == ["450", "none", 1]
            page.screenshot(path=str(SHOTS / "coverage-hex-counts.png"))
        finally:
            browser.close()
    assert not errors, errors
