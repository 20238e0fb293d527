"""A region map embeds each sub-region's outline once: the sub-region boundaries layer carries
it, and a choropleth of the same sub-regions (coverage, density, gaps by sub-region) borrows it
in the browser by key (``maps.base.feature(shared=…)``, ``runtime.js`` ``L.GeoJSON.addData``)."""

from __future__ import annotations

import json
import re

import pytest
from browser_helpers import ARGS, CHROMIUM, serving
from shapely.geometry import Polygon, box, mapping
from test_maps_data import PROVINCE, build_network
from test_maps_html import rows, settings

from geo_crm.maps.base import RegionShape, render
from geo_crm.maps.coverage import CoverageData, coverage_map
from geo_crm.maps.gaps import GapData, gap_map

# sub-regions with vertices found nowhere else on the page
WEST = Polygon([(120, 30), (121.04321, 30), (121.04321, 31.5), (120, 31.5)])
EAST = Polygon([(121.04321, 30), (122, 30), (122, 31.5), (121.04321, 31.5), (121.56789, 30.76543)])
REGION = RegionShape("R1", "省", mapping(box(120, 30, 122, 31.5)), "province")
SUBS = [
    RegionShape("C1", "甲市", mapping(WEST), "city"),
    RegionShape("C2", "乙市", mapping(EAST), "city"),
]


def _features(page: str) -> list[dict]:
    """Every GeoJSON feature handed to a layer's ``_add(…)`` in the page."""
    out = []
    for blob in re.findall(r"_add\((\{\"features\": .*?\})\);\n", page):
        out += json.loads(blob)["features"]
    return out


def test_a_choropleth_of_the_subregions_embeds_no_second_copy_of_their_outlines():
    cov = CoverageData(
        covered={"all": mapping(box(120.2, 30.2, 121.8, 31.2))},
        ratio={"all": 0.5},
        subregion_ratio={"C1": 0.55, "C2": 0.05},
        radii={"retail": 1000},
    )
    page = render(coverage_map(REGION, SUBS, settings("en"), coverage=cov, rows=rows()))
    assert "Sub-regions by coverage ratio" in page
    assert page.count("121.56789") == 1 and page.count("30.76543") == 1
    by_key: dict[str, list[dict]] = {}
    for f in _features(page):
        if "gc" in f:
            by_key.setdefault(f["gc"], []).append(f)
    assert sorted(k.split(":")[1] for k in by_key) == ["C1", "C2"]
    for shapes in by_key.values():
        outline, shaded = shapes  # the boundaries layer first, then the choropleth
        assert outline["geometry"]["type"] == "Polygon" and shaded["geometry"] is None
        assert outline["id"] == shaded["id"] and "v" in shaded["properties"]


def test_the_white_space_subregions_borrow_their_outlines_too():
    gaps = GapData(
        cells=[mapping(box(120.1, 30.1, 120.2, 30.2))],
        distance_m=[5000.0],
        white_space=["C1", "C2"],
        radius_m=1000.0,
    )
    page = render(gap_map(REGION, SUBS, settings("en"), gaps=gaps))
    assert "White-space sub-regions" in page
    assert page.count("121.56789") == 1 and page.count("30.76543") == 1
    shaded = [f for f in _features(page) if "gc" in f and f["geometry"] is None]
    assert sorted(f["id"] for f in shaded) == ["C1", "C2"]


@pytest.mark.browser
@pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM), reason="no Debian chromium")
def test_the_borrowed_shapes_draw_in_chromium(app, sql, settings_override):
    """Both layers of each sub-region draw its whole outline in the browser."""
    from playwright.sync_api import sync_playwright

    settings_override(app, auth_required=False, basemap="none")
    build_network(sql)
    with serving(app) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.goto(f"{url}/maps/coverage/{PROVINCE}?lang=en")
            page.wait_for_function("() => window.geoCrmReady === true", timeout=20_000)
            drawn = page.evaluate(
                """() => {
                  const out = {};
                  window.geoCrmMap.eachLayer(l => {
                    if (l.feature && l.feature.gc && l.getLatLngs) {
                      const ring = l.getLatLngs().flat(3);
                      (out[l.feature.id] = out[l.feature.id] || []).push(ring.length);
                    }
                  });
                  return out;
                }"""
            )
            page.screenshot(path="/tmp/w6polish-shared-shapes.png")
        finally:
            browser.close()
    assert sorted(drawn) == ["990100", "990200"]
    assert all(len(n) == 2 and min(n) >= 4 and n[0] == n[1] for n in drawn.values()), drawn
