"""Map builders on plain data (no database): layers, feature counts, legends, escaping, assets,
coordinate conversion for AMap, antimeridian regions, and the point/hexagon split at scale."""

from __future__ import annotations

import datetime as dt
import json
import re

import folium
import numpy as np
import pytest
import shapely
from shapely.geometry import box, mapping
from test_maps_data import overlay_names

from geo_crm.coords import wgs84_to_gcj02
from geo_crm.domain.outlet_layers import OutletCoords, OutletRows, plan_tiers
from geo_crm.i18n import Translator
from geo_crm.maps import assets
from geo_crm.maps.base import (
    Frame,
    MapSettings,
    RegionMap,
    RegionShape,
    crosses_antimeridian,
    render,
)
from geo_crm.maps.coverage import Catchment, CoverageData, coverage_map
from geo_crm.maps.density import DensityData, density_map
from geo_crm.maps.elements import CanvasPoints, Discs, HexCounts, Legend, TierGroup
from geo_crm.maps.gaps import GapData, gap_map, worst_holes
from geo_crm.maps.history import HistoryPoint, history_map
from geo_crm.maps.network import network_map

XSS = "<img src=x onerror=alert(1)>"
CDN_HOSTS = (
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "code.jquery.com",
    "unpkg.com",
    "netdna.bootstrapcdn.com",
    "maxcdn",
    "googleapis",
)

REGION = RegionShape("R1", "测试省", mapping(box(120, 30, 122, 31.5)), "province")
SUBS = [
    RegionShape("C1", "甲<b>市", mapping(box(120, 30, 121, 31.5)), "city"),
    RegionShape("C2", "乙市", mapping(box(121, 30, 122, 31.5)), "city"),
]


def rows(n: int = 6, *, seed: int = 1, tiers=None) -> OutletRows:
    rng = np.random.default_rng(seed)
    tiers = tiers or (["distributor", "wholesaler_2", "wholesaler_3"] + ["retail"] * (n - 3))[:n]
    names = [XSS] + [f"店{i}" for i in range(1, n)]
    return OutletRows(
        rng.uniform(120.1, 121.9, n),
        rng.uniform(30.1, 31.4, n),
        tiers,
        [f"O{i}" for i in range(n)],
        names,
        [None] + ["父 (P1)"] * (n - 1),
        ["甲市"] * n,
        [dt.date(2026, 3, 4)] * n,
        [1234.5] * n,
        [12] * n,
    )


def settings(lang="zh", **kw) -> MapSettings:
    return MapSettings(Translator(lang), **kw)


def shows(page: str, text: str) -> bool:
    """The escaped form of ``text`` is in the page (as HTML, or inside a JS/JSON string)."""
    from geo_crm.maps.safe import safe_text

    escaped = str(safe_text(text))
    return escaped in page or escaped.replace("&", "\\u0026") in page


def points_data(page: str) -> dict:
    """The columnar outlet data a map page hands to ``GeoCrm.points``."""
    return json.loads(re.search(r"var d = (\{.*?\});\n", page).group(1))


def walk(element):
    yield element
    for child in element._children.values():
        yield from walk(child)


def of_type(m, cls):
    return [e for e in walk(m) if isinstance(e, cls)]


def asset_urls(page: str) -> list[str]:
    return re.findall(r'<script[^>]+src="([^"]+)"', page) + re.findall(
        r'<link[^>]+href="([^"]+)"', page
    )


def test_coverage_map_layers_legends_and_escaping():
    cov = CoverageData(
        covered={
            "distributor": mapping(box(120.2, 30.2, 120.8, 30.8)),
            "all": mapping(box(120.2, 30.2, 121.8, 31.2)),
        },
        ratio={"distributor": 0.25, "all": 0.5},
        subregion_ratio={"C1": 0.55, "C2": 0.05},
        radii={"distributor": 30000, "retail": 1000},
        catchments=[Catchment("D1", XSS, mapping(box(120.3, 30.3, 120.6, 30.6)))],
    )
    m = coverage_map(REGION, SUBS, settings("en"), coverage=cov, rows=rows())
    page = render(m)
    names = overlay_names(page)
    for name in (
        "Sub-regions by coverage ratio",
        "Covered area · Distributor",
        "Covered area · Whole network",
        "Distributor catchments",
        "Outlets · Distributor",
        "Outlets · Retail outlet",
        "Service discs · Distributor",
        "Service discs · Retail outlet",
    ):
        assert name in names, name
    legends = {lg.title: lg for lg in of_type(m, Legend)}
    assert set(legends) >= {
        "Sub-regions by coverage ratio",
        "Covered area",
        "Distributor catchments",
        "Outlets by tier",
    }
    assert (
        "Distributor (1)" in legends["Outlets by tier"].html
        and "Retail outlet (3)" in legends["Outlets by tier"].html
    )
    assert "Whole network — 50.0%" in legends["Covered area"].html
    assert len(legends["Sub-regions by coverage ratio"].items) == 5
    points = of_type(m, CanvasPoints)
    assert len(points) == 1 and points[0].count == 6
    assert {d.count for d in of_type(m, Discs)} == {1, 3}
    # user text: never raw, always readable
    assert XSS not in page and "甲<b>市" not in page
    assert shows(page, XSS) and shows(page, "甲<b>市")
    assert '"href":"/outlets/"' in page  # the browser appends plain codes like O0 itself
    data = points_data(page)
    assert [row[1] for row in data["rows"]] == [f"O{i}" for i in range(6)]


def test_no_cdn_in_a_local_map_and_every_asset_served():
    page = render(coverage_map(REGION, SUBS, settings(), coverage=CoverageData(), rows=rows()))
    assert not any(host in page for host in CDN_HOSTS)
    urls = asset_urls(page)
    assert urls == ["/static/vendor/leaflet/leaflet.js", "/static/vendor/leaflet/leaflet.css"]
    for url in urls:
        vendor, _, path = url.removeprefix("/static/vendor/").partition("/")
        assert assets.vendor_file(vendor, path) is not None


def test_heat_map_script_is_served_locally_too():
    cells = [mapping(box(120 + i * 0.1, 30.5, 120.1 + i * 0.1, 30.6)) for i in range(10)]
    m = density_map(
        REGION,
        SUBS,
        settings(),
        density=DensityData(
            cells=cells, value=list(range(1, 11)), subregion_per_km2={"C1": 3.0, "C2": 1.0}
        ),
    )
    page = render(m)
    assert "/static/vendor/folium/leaflet_heat.min.js" in asset_urls(page)
    assert not any(host in page for host in CDN_HOSTS)
    assert "L.heatLayer" in page


def test_cdn_mode_switches_back_to_public_cdns():
    page = render(coverage_map(REGION, SUBS, settings(assets="cdn"), coverage=CoverageData()))
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in page
    assert "/static/vendor/" not in page


def test_asset_lists_are_set_per_instance_not_on_folium_classes():
    import folium

    before_js, before_css = list(folium.Map.default_js), list(folium.Map.default_css)
    coverage_map(REGION, SUBS, settings(), coverage=CoverageData())
    assert folium.Map.default_js == before_js and folium.Map.default_css == before_css
    assert render(folium.Map()).count("cdn.jsdelivr.net") >= 1  # a plain folium map is untouched


def test_an_unserved_plugin_is_refused():
    import folium
    from folium.plugins import MeasureControl

    m = folium.Map()
    MeasureControl().add_to(m)
    with pytest.raises(assets.UnservedAsset):
        assets.apply_assets(m)


def test_vendor_file_stays_inside_its_package():
    assert assets.vendor_file("leaflet", "leaflet.js") is not None
    assert assets.vendor_file("leaflet", "images/marker-icon.png") is not None
    assert assets.vendor_file("leaflet", "../__init__.py") is None
    assert assets.vendor_file("nope", "x.js") is None


def test_amap_basemap_converts_every_drawn_coordinate_to_gcj02():
    one = rows(3)
    m = coverage_map(REGION, SUBS, settings(basemap="amap"), coverage=CoverageData(), rows=one)
    data = points_data(render(m))
    x = data["x0"] + np.array(data["x"]) / data["k"]
    y = data["y0"] + np.array(data["y"]) / data["k"]
    lon, lat = wgs84_to_gcj02(one.lon, one.lat)
    step = 1 / data["k"]
    assert np.allclose(x, lon, atol=step) and np.allclose(y, lat, atol=step)
    assert not np.allclose(x, one.lon, atol=1e-3)  # it really moved (by ~500 m here)
    # the boundary and the fit bounds moved with them (published pair: wandergis/coordtransform)
    frame = Frame("gcj02")
    assert frame.latlng(116.404, 39.915) == pytest.approx([39.91640, 116.41024], abs=1e-5)
    rmap = RegionMap(REGION, SUBS, settings(basemap="amap"))
    glon, glat = wgs84_to_gcj02(120.0, 30.0)
    assert rmap.fit[0] == pytest.approx([float(glat), float(glon)], abs=1e-4)
    assert "autonavi.com" in render(rmap.finish())


def test_osm_and_none_basemaps_keep_wgs84():
    rmap = RegionMap(REGION, SUBS, settings(basemap="none"))
    assert rmap.fit == [[30.0, 120.0], [31.5, 122.0]]
    page = render(rmap.finish())
    assert "tile.openstreetmap.org" not in page and "autonavi" not in page
    assert "tile.openstreetmap.org" in render(RegionMap(REGION, SUBS, settings()).finish())


def test_region_across_the_antimeridian_fits_as_one_piece():
    chukotka = shapely.MultiPolygon([box(170, 62, 180, 70), box(-180, 64, -170, 68)])
    assert crosses_antimeridian(chukotka)
    assert not crosses_antimeridian(box(-10, 0, 10, 5))
    rmap = RegionMap(
        RegionShape("RU87", "Chukotka", mapping(chukotka)), [], settings(basemap="none")
    )
    (south, west), (north, east) = rmap.fit
    assert (west, east) == (170.0, 190.0) and (south, north) == (62.0, 70.0)
    x, _ = rmap.frame.xy([-175.0, 175.0], [65.0, 65.0])
    assert list(x) == [185.0, 175.0]


def test_points_up_to_the_limit_then_hexagon_counts():
    assert plan_tiers(
        {"distributor": 10, "wholesaler_2": 40, "wholesaler_3": 100, "retail": 900}, 200
    ) == (["distributor", "wholesaler_2", "wholesaler_3"], ["retail"])
    assert plan_tiers({"distributor": 10, "retail": 5}, 200) == (
        ["distributor", "wholesaler_2", "wholesaler_3", "retail"],
        [],
    )
    rng = np.random.default_rng(3)
    n = 30_000
    coords = OutletCoords(rng.uniform(120, 122, n), rng.uniform(30, 31.5, n), ["retail"] * n)
    m = coverage_map(
        REGION, SUBS, settings(point_limit=10), coverage=CoverageData(), rows=rows(3), coords=coords
    )
    page = render(m)
    hexes = of_type(m, HexCounts)
    assert len(hexes) == 1 and 0 < hexes[0].cells < n
    assert of_type(m, CanvasPoints)[0].count == 3
    assert "Outlets (aggregated)" in overlay_names(render(m)) or "网点（汇总）" in overlay_names(
        page
    )
    assert "30,000" in page  # the legend note names how many outlets were counted
    assert len(page) < 600_000


def test_gap_map_lists_distinct_holes_beside_the_map():
    cells, dist = [], []
    for i in range(
        20
    ):  # two holes of ten ~0.5 km cells: near x=120.1 (≤ 8.6 km), x=121.5 (≤ 29 km)
        cx = 120.1 + i * 0.005 if i < 10 else 121.5 + (i - 10) * 0.005
        cells.append(mapping(box(cx, 30.5, cx + 0.02, 30.52)))
        dist.append(5000 + i * 400 if i < 10 else 20000 + (i - 10) * 1000)
    gaps = GapData(cells=cells, distance_m=dist, white_space=["C2"], radius_m=1000, gap_cells=20)
    m = gap_map(REGION, SUBS, settings("en"), gaps=gaps, rows=rows(4))
    page = render(m)
    assert "Gap cells" in overlay_names(page) and "White-space sub-regions" in overlay_names(page)
    side = re.search(r'<aside class="gc-side".*?</aside>', page, re.S).group(0)
    items = re.findall(r'<li tabindex="0" data-b="([^"]+)">(.*?)</li>', side, re.S)
    assert len(items) == 2
    assert "29.0 km" in items[0][1] and "乙市" in items[0][1]
    assert "8.6 km" in items[1][1] and "甲&lt;b&gt;市" in items[1][1]
    south, west, north, east = json.loads(items[0][0])
    assert west < 121.5475 < east and south < 30.51 < north
    legend = next(lg for lg in of_type(m, Legend) if lg.title.startswith("Gap cells"))
    assert len(legend.items) == 5 and "km" in legend.items[0][3]


def test_worst_holes_skips_cells_inside_a_listed_hole():
    lon = np.array([120.0, 120.01, 120.5, 121.0])
    lat = np.array([30.0, 30.0, 30.0, 30.0])
    holes = worst_holes(lon, lat, np.array([5000.0, 4000.0, 3000.0, 9000.0]))
    assert [(h.lon, h.distance_m, h.cells) for h in holes] == [
        (121.0, 9000.0, 1),
        (120.0, 5000.0, 2),
        (120.5, 3000.0, 1),
    ]


def test_network_map_draws_supply_links_per_tier():
    r = rows(5, tiers=["distributor", "wholesaler_2", "wholesaler_3", "retail", "retail"])
    m = network_map(
        REGION,
        SUBS,
        settings("en"),
        distributor_name=XSS,
        rows=r,
        parent_index=[None, 0, 1, 2, 1],
        catchment=mapping(box(120.1, 30.1, 121.9, 31.4)),
    )
    page = render(m)
    assert {"Supply links", "Catchment", "Outlets · Retail outlet"} <= set(overlay_names(page))
    links = next(g for g in of_type(m, folium.GeoJson) if g.layer_name == "Supply links")
    by_tier = {f["id"]: len(f["geometry"]["coordinates"]) for f in links.data["features"]}
    assert by_tier == {"wholesaler_2": 1, "wholesaler_3": 1, "retail": 2}
    assert XSS not in page


def test_history_map_and_both_languages():
    pts = [
        HistoryPoint(120.3, 30.5, dt.datetime(2025, 6, 1, 8, 0), "gps", 12.0),
        HistoryPoint(120.31, 30.52, dt.datetime(2026, 1, 5, 9, 30), "map", None),
    ]
    zh = render(history_map(pts, settings("zh"), tier="retail", title=XSS))
    en = render(history_map(pts, settings("en"), tier="retail"))
    assert "位置历史" in zh and "地图选点" in zh and "2025年6月1日" in zh
    assert "Location history" in en and "Jun 1, 2025" in en
    assert "<title>&lt;img" in zh
    assert history_map([], settings()) is None


def test_legends_and_layers_in_chinese():
    page = render(
        coverage_map(
            REGION,
            SUBS,
            settings("zh"),
            coverage=CoverageData(
                ratio={"all": 0.4},
                covered={"all": mapping(box(120.2, 30.2, 121, 31))},
                subregion_ratio={"C1": 0.3},
            ),
            rows=rows(),
        )
    )
    names = overlay_names(page)
    assert "网点 · 总经销" in names and "下级区域覆盖率" in names and "覆盖范围 · 整个网络" in names
    legend_titles = [
        lg.title
        for lg in of_type(
            coverage_map(REGION, SUBS, settings("zh"), coverage=CoverageData(), rows=rows()), Legend
        )
    ]
    assert "各层级网点" in legend_titles


def test_layer_groups_hold_what_their_names_say():
    m = coverage_map(REGION, SUBS, settings("en"), coverage=CoverageData(), rows=rows(6))
    groups = {g.tier: g for g in of_type(m, TierGroup)}
    assert set(groups) == {"distributor", "wholesaler_2", "wholesaler_3", "retail"}


def test_popup_rows_carry_an_href_only_for_codes_that_need_escaping():
    from geo_crm.maps.points import outlet_rows

    r = rows(2)
    r.code = ["PLAIN-1", "店/1?x"]
    out = outlet_rows(r, Translator("en"), "/outlets/")
    assert len(out[0]) == 7 and out[0][1] == "PLAIN-1"  # the browser appends it to /outlets/
    assert out[1][7] == "/outlets/%E5%BA%97%2F1%3Fx"


def test_form_filters_defaults_and_auto_cell_size():
    from werkzeug.datastructures import MultiDict

    from geo_crm.analysis.params import auto_cell_km
    from geo_crm.web.filters import parse_filters

    f = parse_filters(MultiDict(), Translator("en"), today=dt.date(2026, 2, 10))
    assert (f.date_from, f.date_to, f.tiers, f.measure) == (
        dt.date(2025, 3, 1),
        dt.date(2026, 2, 10),
        [],
        "amount",
    )
    f = parse_filters(
        MultiDict(
            [
                ("tier", "retail"),
                ("tier", "distributor"),
                ("radius_km", "2.5"),
                ("to", "2026-05-20"),
            ]
        ),
        Translator("en"),
    )
    assert f.tiers == ["distributor", "retail"] and f.radius_km == 2.5
    assert f.date_from == dt.date(2026, 5, 1)
    assert "tier=distributor&tier=retail&radius_km=2.5" in f.query()
    assert auto_cell_km(105_000e6) == 5  # Zhejiang: about 3,000 cells of 5 km
    assert auto_cell_km(9.6e12) == 50 and auto_cell_km(500e6) == 0.5


def test_map_runtime_comes_from_its_files_once_and_inline():
    from importlib import resources

    from geo_crm.maps.elements import Runtime

    folder = resources.files("geo_crm") / "static" / "maps"
    runtime = Runtime()
    assert runtime.js == (folder / "runtime.js").read_text(encoding="utf-8")
    assert runtime.css == (folder / "runtime.css").read_text(encoding="utf-8")
    page = render(coverage_map(REGION, SUBS, settings("en"), coverage=CoverageData()))
    assert page.count("window.GeoCrm = window.GeoCrm ||") == 1  # inline: the map stands alone
    assert "runtime.js" not in page and ".gc-legend {" in page


def test_tile_layer_of_each_basemap():
    osm = settings("en").tile_layer()
    assert osm["url"].startswith("https://tile.openstreetmap.org/") and osm["crs"] == "wgs84"
    assert osm["subdomains"] is None and osm["name"] == "OpenStreetMap" and osm["max_zoom"] == 19
    amap = settings("zh", basemap="amap").tile_layer()
    assert "autonavi.com" in amap["url"] and amap["subdomains"] == "1234"
    assert amap["crs"] == "gcj02" and amap["name"] != "AMap (GCJ-02)"  # in the map's language
    mirror = settings(basemap="amap", tile_url="https://tiles.example/{z}/{x}/{y}.png")
    assert mirror.tile_layer()["subdomains"] is None  # the mirror's URL has no {s}
    assert settings(basemap="none").tile_layer() is None


def test_region_shape_from_the_domain_region_in_the_map_language():
    from geo_crm.domain.regions import RegionInfo

    info = RegionInfo(1, "R1", "测试省", "Test Province", "province", None, 1.0, box(0, 0, 1, 1))
    info.label_point = (0.5, 0.5)
    en, zh = RegionShape.from_info(info, Translator("en")), RegionShape.from_info(info)
    assert (en.name, zh.name, en.code, en.level, en.label) == (
        "Test Province",
        "测试省",
        "R1",
        "province",
        (0.5, 0.5),
    )
    assert en.shapely().equals(box(0, 0, 1, 1))


def test_many_gap_cells_are_merged_per_class():
    from geo_crm.maps.gaps import MAX_CELL_FEATURES

    n = MAX_CELL_FEATURES + 1
    x = 120.0 + (np.arange(n) % 100) * 0.01
    y = 30.0 + (np.arange(n) // 100) * 0.01
    cells = [mapping(box(a, b, a + 0.01, b + 0.01)) for a, b in zip(x, y, strict=True)]
    distance = np.linspace(1000.0, 9000.0, n)
    distance[0] = np.inf  # no outlet at all: drawn in the worst class
    page = render(
        gap_map(REGION, SUBS, settings("en"), gaps=GapData(cells=cells, distance_m=distance))
    )
    merged = re.findall(r'"id": "k(\d)"', page)
    assert merged and len(merged) <= 5 and page.count('"v": "') == len(merged)
