"""OGC API – Features at /ogc: conformance shapes, collections, items with paging, bbox and
datetime, single features, the caller's scope, 400s for what cannot be read — and GDAL's
OAPIF driver reading it from a live server (Debian's gdal-bin: ogrinfo, ogr2ogr).

World (auth_fixtures): P1 with cities C1 and C2, P2. D1, A1 (r1), B1 (r2) in C1; N1
(created by r1) in C2; B2 (r2) in P2; A2 (r1) not geotagged. Manager m1 holds C1.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest
from auth_helpers import add_outlet, add_token, token_client
from sqlalchemy import text

pytest_plugins = ["auth_fixtures"]

CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
GEOJSON = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
OAS30 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

SEEN = {
    "admin": {"D1", "A1", "A2", "B1", "B2", "N1"},
    "m1": {"D1", "A1", "B1"},
    "r1": {"A1", "A2", "N1"},
    "r2": {"B1", "B2"},
}


@pytest.fixture
def clients(aapp, connection, world):
    return {
        who: token_client(aapp, add_token(connection, world[who]))
        for who in ("admin", "m1", "m2", "r1", "r2")
    }


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def link(doc: dict, rel: str) -> dict | None:
    return next((lk for lk in doc["links"] if lk["rel"] == rel), None)


def all_items(client, path: str) -> tuple[list[dict], list[dict]]:
    """Every feature following next links from ``path``, and every page."""
    features, pages = [], []
    url = path
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/geo+json"
        page = response.get_json()
        pages.append(page)
        assert page["type"] == "FeatureCollection"
        assert page["numberReturned"] == len(page["features"])
        features += page["features"]
        nxt = link(page, "next")
        url = local(nxt["href"]) if nxt else None
    return features, pages


# -- landing, conformance, API definition, collections -----------------------------------------


def test_landing_page_links_the_api_the_conformance_and_the_data(clients):
    for path in ("/ogc", "/ogc/"):
        doc = clients["r1"].get(path).get_json()
        rels = {lk["rel"]: lk for lk in doc["links"]}
        assert {"self", "service-desc", "conformance", "data"} <= set(rels)
        assert rels["data"]["href"] == "http://localhost/ogc/collections"
        assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"


def test_conformance_declares_core_geojson_and_oas30(clients):
    doc = clients["r1"].get("/ogc/conformance").get_json()
    assert set(doc["conformsTo"]) == {CORE, GEOJSON, OAS30}


def test_the_api_definition_is_valid_openapi_3(clients):
    from openapi_spec_validator import validate

    response = clients["r1"].get("/ogc/api")
    assert response.mimetype == "application/vnd.oai.openapi+json"
    doc = json.loads(response.data)
    validate(doc)
    assert "/collections/{collectionId}/items" in doc["paths"]
    assert doc["servers"] == [{"url": "http://localhost/ogc"}]


def test_collections_describe_outlets_and_regions_with_the_callers_extent(clients):
    doc = clients["m1"].get("/ogc/collections").get_json()
    by_id = {c["id"]: c for c in doc["collections"]}
    assert set(by_id) == {"outlets", "regions", "gaps"}
    outlets = by_id["outlets"]
    assert outlets["itemType"] == "feature" and outlets["crs"] == [CRS84]
    assert outlets["extent"]["spatial"]["bbox"] == [[120.0, 30.0, 120.5, 31.0]]  # C1
    items = link(outlets, "items")
    assert items["type"] == "application/geo+json"
    assert items["href"] == "http://localhost/ogc/collections/outlets/items"
    one = clients["m1"].get("/ogc/collections/regions").get_json()
    assert one["id"] == "regions" and link(one, "self")["type"] == "application/json"


# -- items -------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "m1", "r1", "r2"])
def test_items_hold_exactly_the_outlets_in_scope_with_paging(clients, who):
    features, pages = all_items(clients[who], "/ogc/collections/outlets/items?limit=2")
    codes = [f["id"] for f in features]
    assert len(codes) == len(set(codes))  # no feature twice across pages
    assert set(codes) == SEEN[who]
    assert pages[0]["numberMatched"] == len(SEEN[who])
    assert all(len(p["features"]) <= 2 for p in pages)
    assert "numberMatched" not in pages[-1] or len(pages) == 1


def test_an_item_is_geojson_in_crs84_with_its_properties(clients, connection):
    connection.execute(text("UPDATE outlets SET address = '西湖路 1 号' WHERE code = 'A1'"))
    features, _ = all_items(clients["r1"], "/ogc/collections/outlets/items")
    by_code = {f["id"]: f for f in features}
    a1 = by_code["A1"]
    assert a1["type"] == "Feature"
    assert a1["geometry"] == {"type": "Point", "coordinates": [120.2, 30.2]}
    props = a1["properties"]
    assert props["code"] == "A1" and props["name"] == "好又多超市" and props["tier"] == "retail"
    assert props["parent_code"] == "D1" and props["region_code"] == "C1"
    assert props["status"] == "active" and props["address"] == "西湖路 1 号"
    assert props["created_at"].endswith("Z") and props["updated_at"].endswith("Z")
    assert "phone" not in props and "contact" not in props
    assert by_code["A2"]["geometry"] is None  # not geotagged


def test_the_next_link_keeps_its_place_while_rows_change(clients, connection, world):
    first = clients["admin"].get("/ogc/collections/outlets/items?limit=3").get_json()
    seen = [f["id"] for f in first["features"]]
    # a feature of the page already read disappears, a new one is added
    connection.execute(text("DELETE FROM outlets WHERE code = :c"), {"c": seen[-1]})
    add_outlet(connection, "Z9", lon=120.4, lat=30.4)
    rest, _ = all_items(clients["admin"], local(link(first, "next")["href"]))
    later = [f["id"] for f in rest]
    assert not set(seen) & set(later)
    assert set(seen[:-1]) | set(later) == (SEEN["admin"] - {seen[-1]}) | {"Z9"}


def test_next_links_keep_the_filters(clients):
    page = (
        clients["admin"]
        .get("/ogc/collections/outlets/items?limit=1&bbox=119,29,121,31&f=json")
        .get_json()
    )
    query = parse_qs(urlsplit(link(page, "next")["href"]).query)
    assert query["bbox"] == ["119,29,121,31"] and query["limit"] == ["1"]
    assert query["f"] == ["json"] and "cursor" in query


def test_bbox_selects_what_lies_inside(clients):
    features, pages = all_items(
        clients["admin"], "/ogc/collections/outlets/items?bbox=120.15,30.15,120.75,30.75"
    )
    assert {f["id"] for f in features} == {"A1", "B1", "N1"}
    assert pages[0]["numberMatched"] == 3
    six, _ = all_items(
        clients["admin"], "/ogc/collections/outlets/items?bbox=120.15,30.15,0,120.75,30.75,10"
    )
    assert {f["id"] for f in six} == {"A1", "B1", "N1"}
    mine, _ = all_items(clients["r1"], "/ogc/collections/outlets/items?bbox=120,30,121,31")
    assert {f["id"] for f in mine} == {"A1", "N1"}
    crs = f"/ogc/collections/outlets/items?bbox=120,30,121,31&bbox-crs={CRS84}"
    assert clients["admin"].get(crs).status_code == 200


def test_regions_collection_is_scoped_and_selects_by_boundary(clients):
    features, _ = all_items(clients["r1"], "/ogc/collections/regions/items")
    assert {f["id"] for f in features} == {"P1", "C1", "C2"}  # holding their outlets, and above
    m1, _ = all_items(clients["m1"], "/ogc/collections/regions/items")
    assert [f["id"] for f in m1] == ["C1"]
    c1 = m1[0]
    assert c1["geometry"]["type"] == "MultiPolygon"
    assert c1["properties"]["parent_code"] == "P1" and c1["properties"]["level"] == "city"
    east, _ = all_items(
        clients["admin"], "/ogc/collections/regions/items?bbox=120.6,30.1,122.1,30.2"
    )
    assert {f["id"] for f in east} == {"P1", "C2", "P2"}


# -- datetime ----------------------------------------------------------------------------------


@pytest.fixture
def dated(connection, world):
    """D1 lived Jan–Mar 2025, A1 Feb–Jun, B1 from May; the rest were created and changed now.
    (The outlets trigger stamps updated_at on every change: set them with it skipped.)"""
    connection.execute(text("SET LOCAL session_replication_role = replica"))
    for code, created, updated in (
        ("D1", "2025-01-10T00:00:00Z", "2025-03-01T00:00:00Z"),
        ("A1", "2025-02-01T00:00:00Z", "2025-06-30T12:00:00Z"),
        ("B1", "2025-05-01T00:00:00Z", "2025-05-02T00:00:00Z"),
    ):
        connection.execute(
            text("UPDATE outlets SET created_at = :c, updated_at = :u WHERE code = :code"),
            {"c": created, "u": updated, "code": code},
        )
    connection.execute(
        text("UPDATE regions SET updated_at = '2025-04-01T08:00:00+08:00' WHERE code = 'C1'")
    )
    connection.execute(text("SET LOCAL session_replication_role = origin"))


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2025-02-15T00:00:00Z", {"D1", "A1"}),
        ("2025-02-15", {"D1", "A1"}),
        ("2025-03-01T00:00:00Z", {"D1", "A1"}),  # D1's last change: the end is included
        ("2025-04-01T00:00:00Z/2025-05-01T00:00:00Z", {"A1", "B1"}),
        ("2025-05-01T08:00:00+08:00/..", {"A1", "B1", "A2", "B2", "N1"}),
        ("../2025-01-31T23:59:59Z", {"D1"}),
        ("/2025-01-31T23:59:59Z", {"D1"}),
        ("2024-01-01/2024-12-31", set()),
    ],
)
def test_datetime_selects_outlets_whose_lifetime_meets_it(clients, dated, value, expected):
    from urllib.parse import quote

    features, _ = all_items(
        clients["admin"], f"/ogc/collections/outlets/items?datetime={quote(value)}"
    )
    assert {f["id"] for f in features} == expected


def test_datetime_selects_regions_by_their_update(clients, dated):
    features, _ = all_items(
        clients["admin"], "/ogc/collections/regions/items?datetime=2025-04-01T00:00:00Z"
    )
    assert [f["id"] for f in features] == ["C1"]
    assert features[0]["properties"]["updated_at"] == "2025-04-01T00:00:00.000000Z"


# -- single features ---------------------------------------------------------------------------


def test_a_feature_by_its_code_inside_the_scope_only(clients):
    response = clients["r1"].get("/ogc/collections/outlets/items/A1")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    doc = response.get_json()
    assert doc["id"] == "A1" and doc["properties"]["name"] == "好又多超市"
    assert link(doc, "collection")["href"] == "http://localhost/ogc/collections/outlets"
    hidden = clients["r1"].get("/ogc/collections/outlets/items/B1")
    missing = clients["r1"].get("/ogc/collections/outlets/items/NOPE")
    assert hidden.status_code == missing.status_code == 404
    assert "SECRET" not in hidden.get_data(as_text=True)
    assert hidden.get_json()["error"]["code"] == "not_found"
    assert clients["m1"].get("/ogc/collections/regions/items/C1").status_code == 200
    assert clients["m1"].get("/ogc/collections/regions/items/P2").status_code == 404


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, field",
    [
        ("bbox=nan,30,121,31", "query.bbox"),
        ("bbox=120,30,inf,31", "query.bbox"),
        ("bbox=121,30,120,31", "query.bbox"),  # west > east
        ("bbox=120,31,121,30", "query.bbox"),  # south > north
        ("bbox=120,30,190,31", "query.bbox"),
        ("bbox=120,-95,121,31", "query.bbox"),
        ("bbox=120,30,121", "query.bbox"),
        ("bbox=a,b,c,d", "query.bbox"),
        ("bbox=120,30,121,31&bbox-crs=EPSG:4326", "query.bbox-crs"),
        ("limit=0", "query.limit"),
        ("limit=10001", "query.limit"),
        ("limit=-5", "query.limit"),
        ("limit=ten", "query.limit"),
        ("datetime=yesterday", "query.datetime"),
        ("datetime=2025-01-01T00:00:00", "query.datetime"),  # no offset
        ("datetime=2025-02-30", "query.datetime"),
        ("datetime=2025-03-01/2025-02-01", "query.datetime"),
        ("datetime=../..", "query.datetime"),
        ("cursor=garbage", "query.cursor"),
        ("f=html", "query.f"),
        ("sortby=name", "query.sortby"),
        ("limit=5&limit=6", "query.limit"),
    ],
)
def test_unreadable_parameters_answer_400_naming_them(clients, query, field):
    for accept in ("application/geo+json", "text/html"):
        response = clients["admin"].get(
            f"/ogc/collections/outlets/items?{query}", headers={"Accept": accept}
        )
        assert response.status_code == 400, (query, response.status_code)
        error = response.get_json()["error"]
        assert error["code"] == "invalid_parameter" and field in error["fields"], error


def test_the_largest_page_is_served(clients):
    page = clients["admin"].get("/ogc/collections/outlets/items?limit=10000").get_json()
    assert page["numberReturned"] == 6 and link(page, "next") is None


@pytest.mark.parametrize(
    "path",
    ["/ogc/collections/nope", "/ogc/collections/nope/items", "/ogc/collections/nope/items/x"],
)
def test_an_unknown_collection_answers_404_in_json(clients, path):
    response = clients["admin"].get(path, headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "path.collectionId" in response.get_json()["error"]["fields"]


def test_other_resources_take_no_parameters_but_f(clients):
    assert clients["admin"].get("/ogc/collections?f=json").status_code == 200
    response = clients["admin"].get("/ogc/conformance?bbox=1,2,3,4")
    assert response.status_code == 400 and "query.bbox" in response.get_json()["error"]["fields"]


# -- GDAL --------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="Debian gdal-bin is not installed")
@pytest.mark.parametrize("who", ["r1", "m1", "admin"])
def test_gdal_reads_the_collection_with_the_api_count(aapp, connection, world, who):
    """ogrinfo (GDAL's OAPIF driver) against a live server with a Bearer token: its feature
    count equals /api/v1/outlets?count=true for the same caller, and ogr2ogr paging through
    small pages (next links) finds every feature once."""
    from browser_helpers import serving

    for n in range(23):  # enough for several pages of 10
        add_outlet(connection, f"R1-{n:02d}", lon=120.05 + n * 0.01, lat=30.6, rep=world["r1"])
    token = add_token(connection, world[who])
    total = token_client(aapp, token).get("/api/v1/outlets?count=true&limit=1").get_json()["total"]
    headers = ["--config", "GDAL_HTTP_HEADERS", f"Authorization: Bearer {token}"]
    with serving(aapp) as base:
        info = subprocess.run(
            ["ogrinfo", "-so", "-al", f"OAPIF:{base}/ogc", "outlets", *headers],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert info.returncode == 0, info.stderr
        assert f"Feature Count: {total}" in info.stdout, info.stdout
        copied = subprocess.run(
            ["ogr2ogr", "-f", "GeoJSON", "/vsistdout/", f"OAPIF:{base}/ogc", "outlets",
             "-oo", "PAGE_SIZE=10", *headers],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert copied.returncode == 0, copied.stderr
    codes = [f["properties"]["code"] for f in json.loads(copied.stdout)["features"]]
    assert len(codes) == len(set(codes)) == total


# -- gaps (the analysis cache's gap cells) ------------------------------------------------------

GAP_FORM = "cell_km=10&radius_km=2"
GAP_API = (
    "cell_km=10&limit=5000&geometry=false&radius_distributor=2000&radius_wholesaler_2=2000"
    "&radius_wholesaler_3=2000&radius_retail=2000"
)


def keep_gaps(session, code: str = "C1") -> int:
    """The region page's gaps analysis of ``code`` (10 km cells, 2 km radius), kept."""
    from geo_crm.analysis import cache
    from geo_crm.analysis.params import MapFilters

    f = MapFilters(cell_km=10.0, radius_km=2.0)
    got = cache.cached(session, "gaps", code, cache.page_params("gaps", f, 0.0), enqueue=None)
    return len(got.result.worst)


def test_gaps_are_the_kept_cells_of_the_callers_regions(clients, session):
    kept = keep_gaps(session, "C1") + keep_gaps(session, "P2")
    features, pages = all_items(clients["admin"], "/ogc/collections/gaps/items?limit=7")
    assert len(features) == kept == pages[0]["numberMatched"] > 7
    assert len({f["id"] for f in features}) == kept
    first = features[0]
    assert first["geometry"]["type"] == "Polygon" and len(first["geometry"]["coordinates"][0]) == 7
    props = first["properties"]
    assert props["region_code"] in ("C1", "P2") and props["cell_km"] == 10.0
    assert props["fresh"] is True and props["radius_m"]["retail"] == 2000.0
    assert props["shortfall_m"] > 0 and props["distance_m"] > 2000
    # a manager sees their region's cells only; a rep none
    mine, _ = all_items(clients["m1"], "/ogc/collections/gaps/items?limit=1000")
    assert {f["properties"]["region_code"] for f in mine} == {"C1"}
    for rep in ("r1", "r2"):
        assert all_items(clients[rep], "/ogc/collections/gaps/items")[0] == []
    one = clients["m1"].get(f"/ogc/collections/gaps/items/{mine[0]['id']}")
    assert one.status_code == 200 and one.get_json()["id"] == mine[0]["id"]
    other = next(f["id"] for f in features if f["properties"]["region_code"] == "P2")
    assert clients["m1"].get(f"/ogc/collections/gaps/items/{other}").status_code == 404


def test_gaps_bbox_and_limits(clients, session):
    keep_gaps(session, "C1")
    keep_gaps(session, "P2")
    west, _ = all_items(clients["admin"], "/ogc/collections/gaps/items?bbox=119,29,121.2,32")
    assert west and {f["properties"]["region_code"] for f in west} == {"C1"}
    for query, field in (("limit=0", "query.limit"), ("bbox=1,2,nan,4", "query.bbox")):
        response = clients["admin"].get(f"/ogc/collections/gaps/items?{query}")
        assert response.status_code == 400 and field in response.get_json()["error"]["fields"]


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="Debian gdal-bin is not installed")
@pytest.mark.parametrize("who", ["m1", "admin"])
def test_gdal_reads_the_gaps_with_the_api_count(aapp, session, connection, world, who):
    """ogrinfo reads the gaps collection: its feature count equals the gap cells the analysis
    API returns for the same region and filters (the kept analysis is that analysis)."""
    from browser_helpers import serving

    keep_gaps(session, "C1")
    token = add_token(connection, world[who])
    api = token_client(aapp, token).get(f"/api/v1/regions/C1/gaps?{GAP_API}")
    assert api.status_code == 200, api.get_data(as_text=True)
    returned = api.get_json()["returned"]
    assert returned > 0
    headers = ["--config", "GDAL_HTTP_HEADERS", f"Authorization: Bearer {token}"]
    with serving(aapp) as base:
        info = subprocess.run(
            ["ogrinfo", "-so", "-al", f"OAPIF:{base}/ogc", "gaps", *headers],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert info.returncode == 0, info.stderr
    assert f"Feature Count: {returned}" in info.stdout, info.stdout
