"""Gap and density cells of the analysis cache as vector tiles: the kept cells, the region and
filters as query parameters, scope (a manager's regions only, no rep), TileJSON, an ETag that
changes when the kept analysis is recomputed, and bad input.

World (auth_fixtures): P1 (120–121°E, 30–31°N) with cities C1 and C2, P2 (122–123°E); manager
m1 holds C1, m2 holds P2.
"""

from __future__ import annotations

import mapbox_vector_tile
import pytest
from auth_helpers import add_token, token_client
from sqlalchemy import text
from test_tiles import tile_of

from geo_crm.analysis import cache
from geo_crm.analysis.params import MapFilters
from geo_crm.web.filters import default_period

pytest_plugins = ["auth_fixtures"]

QUERY = "region=C1&cell_km=10&radius_km=2"
FORM = MapFilters(cell_km=10.0, radius_km=2.0)


@pytest.fixture
def clients(aapp, connection, world):
    return {
        who: token_client(aapp, add_token(connection, world[who]))
        for who in ("admin", "m1", "m2", "r1")
    }


def keep(session, kind: str, code: str = "C1", f: MapFilters = FORM):
    got = cache.cached(session, kind, code, cache.page_params(kind, f, 0.0), enqueue=None)
    assert got.state == "fresh"
    return got.result


def features(response) -> list[dict]:
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    if response.status_code == 204:
        return []
    assert response.mimetype == "application/vnd.mapbox-vector-tile"
    decoded = mapbox_vector_tile.decode(response.data, default_options={"y_coord_down": True})
    return [f for layer in decoded.values() for f in layer["features"]]


def test_gap_tiles_hold_the_kept_cells_with_their_figures(clients, session):
    result = keep(session, "gaps")
    assert result.worst
    z = 7
    tiles = {tile_of(c.lon, c.lat, z) for c in result.worst}
    seen = {}
    for x, y in tiles:
        for f in features(clients["admin"].get(f"/tiles/gaps/{z}/{x}/{y}.mvt?{QUERY}")):
            seen[f["id"]] = f["properties"]
    assert set(seen) == set(range(len(result.worst)))
    worst = result.worst[0]
    assert seen[0]["shortfall_m"] == pytest.approx(worst.shortfall_m)
    assert seen[0]["distance_m"] == pytest.approx(worst.distance_m)
    assert (seen[0]["row"], seen[0]["col"]) == (worst.row, worst.col)
    # the manager of C1 sees the same; the manager of P2 and a rep do not see C1 at all
    x, y = next(iter(tiles))
    url = f"/tiles/gaps/{z}/{x}/{y}.mvt?{QUERY}"
    assert features(clients["m1"].get(url))
    for who in ("m2", "r1"):
        response = clients[who].get(url)
        assert response.status_code == 404
        assert "query.region" in response.get_json()["error"]["fields"]


def test_density_tiles_hold_the_kept_cells(clients, session, connection):
    connection.execute(
        text(
            "INSERT INTO products (sku, name, unit) VALUES ('P9', 'p', '箱');"
            "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
            "amount) SELECT d.id, a.id, current_date, p.id, 2, 300.50 FROM outlets d, outlets a, "
            "products p WHERE d.code = 'D1' AND a.code = 'A1' AND p.sku = 'P9'"
        )
    )
    start, end = default_period()  # what the tile's form means without a period
    result = keep(session, "density", f=MapFilters(cell_km=10.0, date_from=start, date_to=end))
    assert [float(c.totals.amount) for c in result.cells] == [300.5]
    cell = result.cells[0]
    lon, lat = cell.outline[0]
    x, y = tile_of(lon, lat, 6)
    found = features(clients["admin"].get(f"/tiles/density/6/{x}/{y}.mvt?{QUERY}"))
    props = {f["id"]: f["properties"] for f in found}
    assert props[0]["amount"] == pytest.approx(float(cell.totals.amount))
    assert props[0]["buyers"] == cell.buyers
    assert props[0]["amount_per_km2"] == pytest.approx(
        float(cell.totals.amount) / result.cell_area_km2
    )


def test_a_key_not_kept_gives_empty_tiles(clients, session):
    keep(session, "gaps")
    x, y = tile_of(120.2, 30.2, 7)
    assert clients["admin"].get(f"/tiles/gaps/7/{x}/{y}.mvt?region=C1&cell_km=7").status_code == 204


def test_the_etag_changes_when_the_kept_analysis_is_recomputed(clients, session, connection):
    keep(session, "gaps")
    x, y = tile_of(120.2, 30.2, 7)
    url = f"/tiles/gaps/7/{x}/{y}.mvt?{QUERY}"
    first = clients["admin"].get(url)
    etag = first.headers["ETag"]
    assert clients["admin"].get(url, headers={"If-None-Match": etag}).status_code == 304
    connection.execute(text("UPDATE outlets SET name = name || '.' WHERE code = 'A1'"))
    # not recomputed yet: the same cells under the same tag
    assert clients["admin"].get(url, headers={"If-None-Match": etag}).status_code == 304
    keep(session, "gaps")  # recomputed at the new counter value
    again = clients["admin"].get(url, headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["ETag"] != etag


def test_tilejson_names_the_region_and_its_filters(clients, session):
    keep(session, "gaps")
    doc = clients["m1"].get(f"/tiles/gaps.json?{QUERY}").get_json()
    assert doc["tiles"] == [f"http://localhost/tiles/gaps/{{z}}/{{x}}/{{y}}.mvt?{QUERY}"]
    assert doc["bounds"] == [120.0, 30.0, 120.5, 31.0]
    fields = doc["vector_layers"][0]["fields"]
    assert fields["shortfall_m"] == "Number" and fields["nearest_outlet"] == "String"
    density = clients["admin"].get(f"/tiles/density.json?{QUERY}").get_json()
    assert density["vector_layers"][0]["fields"]["amount_per_km2"] == "Number"


@pytest.mark.parametrize(
    "query, status, field",
    [
        ("cell_km=10", 422, "query.region"),
        ("region=NOPE", 404, "query.region"),
        ("region=C1&cell_km=abc", 422, "query.cell_km"),
        ("region=C1&cell_km=0.001", 422, "query.cell_km"),
        ("region=C1&tier=nope", 422, "query.tier"),
        ("region=C1&distributor=NOPE", 422, "query.distributor"),
    ],
)
def test_bad_region_or_filters_answer_4xx_in_json(clients, query, status, field):
    for path in ("/tiles/gaps/3/6/3.mvt", "/tiles/gaps.json", "/tiles/density/3/6/3.mvt"):
        response = clients["admin"].get(f"{path}?{query}", headers={"Accept": "text/html"})
        assert response.status_code == status, (path, query, response.get_data(as_text=True))
        assert field in response.get_json()["error"]["fields"]
    product = clients["admin"].get("/tiles/density/3/6/3.mvt?region=C1&product=NOPE")
    assert product.status_code == 422 and "query.product" in product.get_json()["error"]["fields"]
