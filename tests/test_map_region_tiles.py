"""The region map draws a large region's gap and density cells and its outlets from the vector
tiles (issue 16 parts 2 and 5), and its legends never cover the region's west (part 6)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import shapely
from auth_helpers import add_region
from browser_helpers import ARGS, CHROMIUM, serving
from shapely.geometry import box, mapping
from test_maps_data import PROVINCE, build_network
from test_maps_html import REGION, SUBS, asset_urls, rows, settings

from geo_crm.domain import region_counts
from geo_crm.maps.base import render
from geo_crm.maps.coverage import CoverageData, coverage_map
from geo_crm.maps.density import DensityData, density_map
from geo_crm.maps.gaps import GapData, gap_map
from geo_crm.maps.vector_tiles import TileSource

pytest_plugins = ["auth_fixtures"]  # world

SHOTS = Path("/tmp")
CANVASES = ".leaflet-gcShade-pane canvas.leaflet-tile"  # the cells' tiles (VectorGrid, canvas)
TILES = TileSource("", "region=R1&from=2026-01-01&v=17.5")


def _cells(n: int):
    x = 120.0 + (np.arange(n) % 100) * 0.01
    y = 30.0 + (np.arange(n) // 100) * 0.01
    return [mapping(box(a, b, a + 0.01, b + 0.01)) for a, b in zip(x, y, strict=True)]


def _gaps(n: int) -> GapData:
    distance = np.linspace(1000.0, 9000.0, n)
    distance[0] = np.inf  # no outlet at all
    return GapData(cells=_cells(n), distance_m=distance, radius_m=1000.0)


def _options(page: str, call: str) -> str:
    return re.search(re.escape(call) + r"\(\w+,\s*(\"[^\"]+\"), (\{.*?\})\);", page, re.S)


def test_many_gap_cells_come_from_the_tiles_with_the_same_classes_and_legend():
    n = 1_500
    page = render(gap_map(REGION, SUBS, settings("en", tiles=TILES), gaps=_gaps(n)))
    found = _options(page, "GeoCrm.cellTiles")
    assert found, "no tile layer"
    url, options = found.groups()
    assert url == '"/tiles/gaps/{z}/{x}/{y}.mvt?region=R1\\u0026from=2026-01-01\\u0026v=17.5"'
    assert '"layer":"gaps","field":"distance_m"' in options
    assert '"missing":4' in options  # no outlet at all: the worst class, as before
    assert '"colours":["#ffffb2","#fecc5c","#fd8d3c","#f03b20","#bd0026"]' in options
    assert '"label":"Distance to the nearest outlet"' in options and '"pane":"gcShade"' in options
    # no cell embedded: neither one feature per cell nor merged classes
    assert page.count('"type": "Polygon"') < 10 and '"k": ' not in page
    assert "Gap cells by distance to the nearest outlet" in page and "Service radius" in page
    assert "/static/vendor/geo_crm/vectorgrid/Leaflet.VectorGrid.bundled.min.js" in asset_urls(page)
    # the side list of the worst gaps still comes from the result
    assert page.count("<li tabindex=") > 0


def test_few_cells_stay_embedded_and_so_does_a_map_without_tiles():
    small = render(gap_map(REGION, SUBS, settings("en", tiles=TILES), gaps=_gaps(50)))
    assert "GeoCrm.cellTiles(" not in small and small.count('"k": ') == 50
    alone = render(gap_map(REGION, SUBS, settings("en"), gaps=_gaps(1_500)))
    assert "GeoCrm.cellTiles(" not in alone and "vectorgrid" not in alone
    # AMap's GCJ-02 would misplace the WGS-84 tiles: the cells stay in the page
    amap = settings("en", tiles=TILES, basemap="amap")
    amap = render(gap_map(REGION, SUBS, amap, gaps=_gaps(1_500)))
    assert "GeoCrm.cellTiles(" not in amap


def test_density_cells_from_the_tiles_by_the_chosen_measure():
    n = 1_200
    density = DensityData(cells=_cells(n), value=np.arange(n, dtype=float), measure="quantity")
    page = render(
        density_map(REGION, SUBS, settings("zh", tiles=TILES), density=density, product="水 (P1)")
    )
    url, options = _options(page, "GeoCrm.cellTiles").groups()
    assert "/tiles/density/{z}/{x}/{y}.mvt?region=R1" in url
    assert '"field":"quantity","breaks":' in options and '"positive":true' in options
    assert '"fmt":{"kind":"qty"}' in options and '"label":"销售额"' in options
    assert "每格销售额" in page and "水 (P1)" in page  # the legend names the product


def test_a_large_regions_outlets_come_from_the_outlet_tiles():
    cov = CoverageData(ratio={"all": 0.5}, subregion_ratio={"C1": 0.8, "C2": 0.2})
    counts = {"distributor": 3, "wholesaler_2": 0, "wholesaler_3": 7, "retail": 990}
    page = render(
        coverage_map(REGION, SUBS, settings("en", tiles=TILES), coverage=cov, tiled_outlets=counts)
    )
    url, options = _options(page, "GeoCrm.outletTiles").groups()
    assert url == '"/tiles/outlets/{z}/{x}/{y}.mvt"'  # its ETag follows the data
    assert '"tiers":["distributor","wholesaler_3","retail"]' in options
    assert '"href":"/outlets/"' in options
    assert "GeoCrm.points(" not in page and "GeoCrm.hexes(" not in page
    assert "Outlets per cell (Distributor、3rd-tier wholesaler、Retail outlet)" in page
    assert "1,000 outlets shown as counts per hexagon" in page and "Retail outlet (990)" in page


def test_the_legend_stack_has_a_title_and_the_map_fits_beside_it():
    page = render(coverage_map(REGION, SUBS, settings("zh"), coverage=CoverageData(), rows=rows()))
    assert page.index("GeoCrm.fitAround(") > page.rindex("GeoCrm.legend(")
    assert "GeoCrm.fitAround(map_" in page and '"图例"' in page
    assert "._gcFit = [[30.0, 120.0], [31.5, 122.0]]" in page


def test_active_tier_counts_are_the_counted_ones(session, world, sql):
    add_region(session.connection(), "D11", "district", (120, 30, 120.25, 30.5), parent="C1")
    for code in ("P1", "P2", "C1", "D11"):
        rid = sql("SELECT id FROM regions WHERE code = :c", c=code).scalar_one()
        counted = region_counts.region_tier_counts(session, rid, ["active"])
        assert region_counts.active_tier_counts(session, rid) == counted, code
    sql("UPDATE outlets SET status = 'closed' WHERE code = 'B2'")
    p2 = sql("SELECT id FROM regions WHERE code = 'P2'").scalar_one()
    assert region_counts.active_tier_counts(session, p2) == {}


# -- the pages -------------------------------------------------------------------------------


@pytest.fixture
def tiled(app, sql, settings_override):
    """The fixture network, drawn from tiles however small (cells and outlets)."""
    settings_override(
        app, auth_required=False, basemap="none", map_tile_cells=0, map_tile_outlets=0
    )
    build_network(sql, extra_retail=60)
    return app


def test_a_region_across_the_antimeridian_keeps_its_outlets_in_the_page(
    app, sql, settings_override
):
    """Its map is drawn unwrapped (east of 180° as 180–181°), where WGS-84 tiles would put its
    outlets a world away: they stay in the page, as its cells do."""
    from analysis_helpers import add_outlet as add_located
    from analysis_helpers import add_region as add_shaped
    from analysis_helpers import box_wkt

    settings_override(
        app, auth_required=False, basemap="none", map_tile_cells=0, map_tile_outlets=0
    )
    east = box(179.0, 51.5, 180.0, 52.5)
    west = shapely.from_wkt(box_wkt(-180.0, 51.5, -179.0, 52.5))
    add_shaped(sql, "AL", shapely.MultiPolygon([east, west]).wkt)
    add_located(sql, "AL1", "retail", -179.5, 51.55)
    add_located(sql, "AL2", "retail", 179.6, 52.45)
    page = app.test_client().get("/maps/coverage/AL?lang=en").get_data(as_text=True)
    assert "GeoCrm.outletTiles(" not in page and "GeoCrm.points(" in page


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def test_the_gaps_page_names_its_tiles_and_they_hold_its_cells(tiled):
    c = tiled.test_client()
    page = c.get(f"/maps/gaps/{PROVINCE}?lang=en").get_data(as_text=True)
    url = re.search(r'GeoCrm\.cellTiles\(\w+,\s*"([^"]+)"', page).group(1).replace("\\u0026", "&")
    assert url.startswith("/tiles/gaps/{z}/{x}/{y}.mvt?") and f"region={PROVINCE}" in url
    assert re.search(r"&v=\d+\.\d+", url)  # the kept result's version
    assert '"/tiles/outlets/{z}/{x}/{y}.mvt"' in page
    x, y = _tile_of(121.0, 30.75, 7)
    tile = c.get(url.replace("{z}", "7").replace("{x}", str(x)).replace("{y}", str(y)))
    assert tile.status_code == 200 and tile.mimetype == "application/vnd.mapbox-vector-tile"
    embedded = c.get(f"/maps/gaps/{PROVINCE}?lang=en&draw=embedded").get_data(as_text=True)
    assert "GeoCrm.cellTiles(" not in embedded and "GeoCrm.outletTiles(" not in embedded
    assert "GeoCrm.points(" in embedded
    region = c.get(f"/regions/{PROVINCE}?lang=en&draw=embedded").get_data(as_text=True)
    assert "draw=embedded" in region  # the iframe's map keeps the page's choice


def _look(base: str, path: str, width: int, height: int, shot: str) -> dict:
    from playwright.sync_api import sync_playwright

    errors, tiles = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, locale="en")
            page.set_default_timeout(30_000)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on(
                "console",
                lambda m: (
                    errors.append(m.text)
                    if m.type == "error" and "favicon" not in m.location.get("url", "")
                    else None
                ),
            )
            page.on(
                "response",
                lambda r: (
                    tiles.append((r.url.split("/tiles/")[1].split("/")[0], r.status))
                    if "/tiles/" in r.url
                    else None
                ),
            )
            page.route(
                "**/*",
                lambda r: r.continue_() if r.request.url.startswith(base + "/") else r.abort(),
            )
            page.goto(base + path)
            page.wait_for_selector("html[data-geo-crm-ready]")
            page.wait_for_selector("html[data-geo-crm-drawn]")  # its tiles in view are in
            page.wait_for_function(f"""() => {{
              const cs = document.querySelectorAll({CANVASES!r});
              const done = c => c.classList.contains('leaflet-tile-loaded');
              return cs.length > 0 && [...cs].every(done);
            }}""")
            page.wait_for_timeout(300)
            seen = page.evaluate(f"""() => {{
              const m = window.geoCrmMap, frame = m.getContainer().getBoundingClientRect();
              let inked = 0;
              for (const c of document.querySelectorAll({CANVASES!r})) {{
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                for (let i = 3; i < d.length; i += 4) {{ if (d[i] > 0) {{ inked++; }} }}
              }}
              const west = m.latLngToContainerPoint([30.75, 120.0]);
              const south = m.latLngToContainerPoint([30.0, 121.0]);
              const box = document.querySelector('.gc-legends').getBoundingClientRect();
              // each tile layer's tooltip over a feature (an outlet named with markup, a cell)
              const props = {{tier: 'retail', name: '<b>x</b>', distance_m: 5000}};
              const tips = window.GeoCrm.tileLayers.map(l => {{
                l.fire('mouseover', {{layer: {{properties: props}}, latlng: m.getCenter()}});
                const open = document.querySelectorAll('.leaflet-tooltip');  // the newest last
                const html = open.length ? open[open.length - 1].innerHTML : null;
                l.fire('mouseout', {{}});
                return html;
              }});
              return {{inked, tips, westX: west.x + frame.left, southY: south.y + frame.top,
                       legend: [box.left, box.top, box.right, box.bottom],
                       folded: document.querySelector('.gc-legends')
                                 .classList.contains('gc-legends-folded'),
                       title: document.querySelector('.gc-legends-head').textContent}};
            }}""")
            page.screenshot(path=str(SHOTS / shot))
        finally:
            browser.close()
    return {"errors": errors, "tiles": tiles, **seen}


@pytest.mark.parametrize("width, height", [(1400, 900), (375, 740)])
def test_the_gaps_map_draws_its_tiles_and_keeps_the_legends_off_the_region(tiled, width, height):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    with serving(tiled) as base:
        seen = _look(
            base, f"/maps/gaps/{PROVINCE}?lang=en", width, height, f"gap-tiles-{width}.png"
        )
    assert not seen["errors"], seen["errors"]
    assert ("gaps", 200) in seen["tiles"] and any(t[0] == "outlets" for t in seen["tiles"])
    assert all(status in (200, 204) for _, status in seen["tiles"])
    assert seen["inked"] > 1_000  # the cells are drawn on the tiles' canvases
    assert len(seen["tips"]) == 2 and all(seen["tips"]), seen["tips"]
    assert any("&lt;b&gt;x&lt;/b&gt;" in tip for tip in seen["tips"]), seen["tips"]  # as text
    assert any("5.0 km" in tip for tip in seen["tips"]), seen["tips"]
    assert seen["title"] == "Legend"
    left, top, right, bottom = seen["legend"]
    if width >= 1000:  # on a desk the legends stand open, left of the region
        assert not seen["folded"] and right <= seen["westX"] + 1
    else:  # on a phone the stack is folded to its title, under the region
        assert seen["folded"] and top >= seen["southY"] - 1


def test_a_tiled_region_map_reads_the_kept_totals_once(tiled, connection):
    """Once its analysis is kept, the tiled outlets' decision (their number) and their counts
    per tier come from one read of ``region_outlet_totals`` (it was read twice: the total,
    then the counts)."""
    from sqlalchemy import event

    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    c = tiled.test_client()
    c.get(f"/maps/gaps/{PROVINCE}?lang=en")  # the first visit computes and keeps the analysis
    event.listen(connection, "before_cursor_execute", count)
    try:
        page = c.get(f"/maps/gaps/{PROVINCE}?lang=en").get_data(as_text=True)
    finally:
        event.remove(connection, "before_cursor_execute", count)
    assert "GeoCrm.outletTiles(" in page
    totals = [s for s in seen if "region_outlet_totals" in s]
    assert len(totals) == 1, totals


def test_the_vectorgrid_shim_is_one_file_both_pages_load(tiled):
    """Leaflet.VectorGrid's ``fakeStop`` shim is one static file (no inline script), loaded
    after the VectorGrid bundle by the landing page and by a map with vector tiles."""
    static = Path(__file__).resolve().parent.parent / "geo_crm" / "static"
    holders = sorted(
        str(p.relative_to(static))
        for p in static.rglob("*.js")
        if "fakeStop =" in p.read_text(encoding="utf-8")
    )
    assert holders == ["vectorgrid_shim.js"]
    c = tiled.test_client()
    page = c.get(f"/maps/gaps/{PROVINCE}?lang=en").get_data(as_text=True)
    urls = asset_urls(page)
    bundle = "/static/vendor/geo_crm/vectorgrid/Leaflet.VectorGrid.bundled.min.js"
    shim = "/static/vendor/geo_crm/vectorgrid_shim.js"
    assert shim in urls and urls.index(bundle) < urls.index(shim)
    served = c.get(shim)
    assert served.status_code == 200 and b"L.DomEvent.fakeStop = function" in served.data
    served.close()
    landing = c.get("/?lang=en").get_data(as_text=True)
    srcs = re.findall(r'<script[^>]+src="([^"]+)"', landing)
    assert srcs.index("/static/vectorgrid_shim.js") < srcs.index("/static/landing.js")
    served = c.get("/static/vectorgrid_shim.js")
    assert served.status_code == 200
    served.close()
