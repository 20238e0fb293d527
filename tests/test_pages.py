"""Region, distributor and outlet pages and the standalone maps, over HTTP on real PostGIS."""

from __future__ import annotations

import re

import pytest
from test_maps_data import (
    CITY_A,
    CITY_B,
    ODD_NAME,
    PROVINCE,
    XSS_NAME,
    build_network,
    overlay_names,
)

from geo_crm.maps.safe import safe_text

PERIOD = "from=2025-12-01&to=2026-06-30"
CDN_HOSTS = (
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "code.jquery.com",
    "unpkg.com",
    "bootstrapcdn",
)


@pytest.fixture
def web(client, app, sql, settings_override):
    """The client on the fixture network; sign-in not required (maps are under test, not auth)."""
    settings_override(app, auth_required=False)
    build_network(sql)
    return client


def get(client, url, **kw):
    response = client.get(url, **kw)
    response.close()
    return response


def escaped_in(page: str, text: str) -> bool:
    value = str(safe_text(text))
    return value in page or value.replace("&", "\\u0026") in page


def test_region_page_has_maps_filters_figures_breadcrumb_and_subregions(web):
    r = get(web, f"/regions/{CITY_A}?lang=zh&{PERIOD}")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert re.search(
        rf'<iframe id="map"[^>]+src="/maps/coverage/{CITY_A}\?[^"]*from=2025-12-01', page
    )
    for kind in ("coverage", "gaps", "density", "network"):
        assert f'data-kind="{kind}"' in page
    for field in (
        'name="tier"',
        'name="distributor"',
        'name="product"',
        'name="from"',
        'name="to"',
        'name="radius_km"',
        'name="cell_km"',
    ):
        assert field in page
    crumbs = re.search(r'<nav class="crumbs".*?</nav>', page, re.S).group(0)
    assert f'href="/regions/{PROVINCE}">测试省</a>' in crumbs
    assert "<strong>甲市</strong>" in crumbs
    assert 'id="key-figures"' in page and "关键指标" in page
    assert '<option value="TD1"' in page  # the region's distributor in the filter
    province = get(web, f"/regions/{PROVINCE}?lang=zh").get_data(as_text=True)
    assert f'href="/regions/{CITY_A}">甲市</a>' in province
    assert f'href="/regions/{CITY_B}">乙&lt;b&gt;市</a>' in province  # Jinja escapes the odd name


def test_key_figures_fragment(web):
    r = get(web, f"/regions/{PROVINCE}/figures?lang=en&{PERIOD}")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "<html" not in page and "Key figures" in page
    outlets = re.search(r'id="fig-outlets">([^<]+)<', page).group(1)
    assert outlets == "8"  # every active outlet with a region (TR4, never geotagged, has none)
    assert re.search(r'id="fig-sales">¥1,230<', page)  # 100 + 50 + 1000 + 80 in the period
    assert "Coverage ratio by tier" in page


@pytest.mark.parametrize(
    "kind, layer",
    [
        ("coverage", "Outlets · Distributor"),
        ("gaps", "Gap cells"),
        ("density", "Sales per cell"),
    ],
)
def test_standalone_maps_are_full_documents_with_local_assets(web, kind, layer):
    r = get(web, f"/maps/{kind}/{PROVINCE}?lang=en&{PERIOD}&cell_km=5")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    assert (
        page.startswith("<!DOCTYPE html>")
        and "L.map(" in page
        and "window.geoCrmReady = true" in page
    )
    assert layer in overlay_names(page)
    assert '"/static/vendor/leaflet/leaflet.js"' in page
    assert not any(host in page for host in CDN_HOSTS)
    assert XSS_NAME not in page and "onerror=alert(1)>" not in page
    if (
        kind != "density"
    ):  # the density map shows distributors only at first, but all are in the page
        assert escaped_in(page, XSS_NAME)


def test_coverage_map_from_the_services(web):
    page = get(web, f"/maps/coverage/{PROVINCE}?lang=en&radius_km=20").get_data(as_text=True)
    for name in (
        "Covered area · Whole network",
        "Sub-regions by coverage ratio",
        "Distributor catchments",
    ):
        assert name in overlay_names(page)
    assert page.count('"type": "Feature"') >= 2  # at least the region and its two cities


def test_network_map_needs_a_distributor(web):
    assert get(web, f"/maps/network/{PROVINCE}").status_code == 422
    r = get(
        web, f"/maps/network/{PROVINCE}?distributor=TW1", headers={"Accept": "application/json"}
    )
    assert r.status_code == 422 and "query.distributor" in r.get_json()["error"]["fields"]
    page = get(web, f"/maps/network/{PROVINCE}?distributor=TD1&lang=en").get_data(as_text=True)
    assert {"Supply links", "Catchment"} <= set(overlay_names(page))
    assert escaped_in(page, XSS_NAME) and escaped_in(page, ODD_NAME)
    assert "TD2" not in page  # another distributor's network is not drawn


def test_bad_filters_are_422_naming_the_field(web):
    for query, field in (
        ("radius_km=-1", "query.radius_km"),
        ("radius_km=abc", "query.radius_km"),
        ("cell_km=0.01", "query.cell_km"),
        ("from=2026-13-01", "query.from"),
        ("from=2026-05-01&to=2026-01-01", "query.to"),
        ("tier=boss", "query.tier"),
        ("product=NOPE", "query.product"),
        ("distributor=NOPE", "query.distributor"),
    ):
        r = get(web, f"/maps/coverage/{PROVINCE}?{query}", headers={"Accept": "application/json"})
        assert r.status_code == 422, query
        assert field in r.get_json()["error"]["fields"], query
    assert get(web, "/regions/NOPE").status_code == 404
    assert get(web, f"/maps/nonsense/{PROVINCE}").status_code == 404
    r = get(web, f"/regions/{PROVINCE}?radius_km=0&lang=zh")
    assert r.status_code == 422 and "必须大于 0" in r.get_data(as_text=True)


def test_pages_take_the_analyses_cell_bounds_and_the_http_cell_cap(web):
    as_json = {"Accept": "application/json"}
    assert get(web, f"/maps/gaps/{PROVINCE}?cell_km=300&lang=en").status_code == 200
    r = get(web, f"/maps/gaps/{PROVINCE}?cell_km=1001", headers=as_json)
    assert r.status_code == 422 and "query.cell_km" in r.get_json()["error"]["fields"]
    # 0.25 km over the province is about 590,000 cells: more than one HTTP request builds
    for url in (f"/maps/gaps/{PROVINCE}", f"/maps/density/{PROVINCE}", f"/regions/{PROVINCE}"):
        r = get(web, f"{url}?cell_km=0.25", headers=as_json)
        assert r.status_code == 422 and "cell_km" in r.get_json()["error"]["fields"], url


def test_distributor_problems_in_the_page_language(web):
    for url, text in (
        (f"/maps/coverage/{PROVINCE}?distributor=TW1&lang=zh", "TW1 不是经销商"),
        (f"/regions/{PROVINCE}/figures?distributor=NOPE&lang=zh", "未知经销商 NOPE"),
        (f"/maps/network/{PROVINCE}?lang=zh", "请选择经销商以查看其网络地图"),
        (f"/maps/network/{PROVINCE}?lang=en", "Choose a distributor to see its network map"),
    ):
        r = get(web, url)
        assert r.status_code == 422 and text in r.get_data(as_text=True), url
    assert "未知地图类型 nonsense" in get(web, f"/maps/nonsense/{PROVINCE}?lang=zh").get_data(
        as_text=True
    )
    r = get(web, "/distributors/TW1?lang=zh")
    assert r.status_code == 404 and "TW1 不是经销商" in r.get_data(as_text=True)


def test_language_switch_cookie_and_accept_language(web):
    r = get(web, f"/regions/{PROVINCE}?lang=en")
    assert "Key figures" in r.get_data(as_text=True) and 'lang="en"' in r.get_data(as_text=True)
    assert "lang=en" in r.headers.get("Set-Cookie", "")
    assert "Key figures" in get(web, f"/regions/{PROVINCE}").get_data(as_text=True)  # the cookie
    r = get(web, f"/regions/{PROVINCE}?lang=zh")
    assert "关键指标" in r.get_data(as_text=True) and 'lang="zh-CN"' in r.get_data(as_text=True)
    web.delete_cookie("lang")
    page = get(web, f"/regions/{PROVINCE}", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(
        as_text=True
    )
    assert "Sub-regions" in page
    page = get(web, f"/regions/{PROVINCE}", headers={"Accept-Language": "zh-CN"}).get_data(
        as_text=True
    )
    assert (
        "下级区域" in page and 'href="/regions/990000?lang=en"' in page
    )  # the switch keeps the page
    zh_map = get(web, f"/maps/coverage/{PROVINCE}?lang=zh").get_data(as_text=True)
    en_map = get(web, f"/maps/coverage/{PROVINCE}?lang=en").get_data(as_text=True)
    assert "各层级网点" in zh_map and "Outlets by tier" in en_map


def test_hexagon_counts_above_the_point_limit(web, app, settings_override, sql):
    sql("UPDATE outlets SET status = 'active'")
    settings_override(app, map_point_limit=3)
    page = get(web, f"/maps/coverage/{PROVINCE}?lang=en").get_data(as_text=True)
    assert "GeoCrm.hexes(" in page and "Outlets (aggregated)" in overlay_names(page)
    assert "Outlets · Distributor" in overlay_names(
        page
    )  # the two distributors still fit as points


def test_distributor_page(web):
    r = get(web, f"/distributors/TD1?lang=en&{PERIOD}")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert re.search(
        r'<iframe class="map" id="map"[^>]+src="/maps/network/\d+\?[^"]*distributor=TD1', page
    )
    assert "Depth and breadth" in page and "Plan achievement" in page
    assert re.search(r'id="sales">¥1,000<', page) and re.search(r'id="debt">¥300<', page)
    assert get(web, "/distributors/TW1").status_code == 404
    assert get(web, "/distributors/NOPE").status_code == 404


def test_outlet_page_and_its_history_map(web):
    r = get(web, "/outlets/TR1?lang=zh")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and XSS_NAME not in page
    assert 'src="/maps/outlet-history/TR1?lang=zh"' in page
    assert page.count("<tr><td>") >= 2  # two geotag events listed
    assert re.search(r'id="debt">¥40<', page)
    assert 'href="/outlets/TW3"' in page and 'href="/outlets/TD1"' in page  # upstream chain
    hist = get(web, "/maps/outlet-history/TR1?lang=en")
    assert hist.status_code == 200 and "Location history" in hist.get_data(as_text=True)
    assert "No location history" in get(web, "/maps/outlet-history/TR2?lang=en").get_data(
        as_text=True
    )
    assert get(web, "/outlets/NOPE").status_code == 404


def test_vendor_assets_are_served_by_the_app(web):
    r = get(web, "/static/vendor/leaflet/leaflet.js")
    assert r.status_code == 200 and "javascript" in r.mimetype
    assert get(web, "/static/vendor/folium/leaflet_heat.min.js").status_code == 200
    assert get(web, "/static/vendor/leaflet/images/layers.png").status_code == 200
    assert get(web, "/static/vendor/leaflet/../__init__.py").status_code == 404
    assert get(web, "/static/vendor/other/x.js").status_code == 404


def test_home_links_regions_to_their_pages(web):
    page = get(web, "/").get_data(as_text=True)
    assert f'href="/regions/{PROVINCE}"' in page and f'href="/regions/{CITY_A}"' in page


def test_basemap_setting_reaches_the_maps(web, app, settings_override):
    settings_override(app, basemap="amap")
    page = get(web, f"/maps/coverage/{PROVINCE}?lang=en").get_data(as_text=True)
    assert "autonavi.com" in page and "tile.openstreetmap.org" not in page
    settings_override(app, basemap="none")
    page = get(web, f"/maps/coverage/{PROVINCE}?lang=en").get_data(as_text=True)
    assert "autonavi.com" not in page and "tile.openstreetmap.org" not in page
    settings_override(app, map_assets="cdn")
    page = get(web, f"/maps/coverage/{PROVINCE}?lang=en").get_data(as_text=True)
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in page


def test_bad_map_settings_stop_the_app_at_start():
    from geo_crm import create_app

    base = {"DATABASE_URL": "postgresql://x@localhost/none", "SECRET_KEY": "x"}
    for key, value in (
        ("GEO_CRM_BASEMAP", "google"),
        ("GEO_CRM_MAP_ASSETS", "both"),
        ("GEO_CRM_MAP_POINT_LIMIT", "many"),
    ):
        with pytest.raises(ValueError, match=key):
            create_app({**base, key: value})
