"""Vector tiles against PostGIS: decoded with mapbox-vector-tile (a test dependency) and checked
for features, properties, scope (a manager's tile lacks other regions' outlets, a rep's holds
only theirs), the hexagon counts kept by migration 0007's triggers, TileJSON, HTTP caching and
bad input.

World (auth_fixtures): P1 (120–121°E, 30–31°N) with cities C1 (west half) and C2, P2 (122–123°E).
D1, A1 (r1), B1 (r2) in C1; N1 (created by r1) in C2; B2 (r2) in P2; A2 (r1) not geotagged.
Manager m1 holds C1, m2 holds P2.
"""

from __future__ import annotations

import math

import mapbox_vector_tile
import pytest
from auth_helpers import add_outlet, add_region, add_token, token_client
from sqlalchemy import text

pytest_plugins = ["auth_fixtures"]

LOCATED = {"D1": (120.1, 30.1), "A1": (120.2, 30.2), "B1": (120.3, 30.3), "N1": (120.7, 30.7),
           "B2": (122.5, 30.5)}  # fmt: skip
SEEN = {  # located active outlets each caller may see
    "admin": {"D1", "A1", "B1", "N1", "B2"},
    "m1": {"D1", "A1", "B1"},
    "m2": {"B2"},
    "r1": {"A1", "N1"},
    "r2": {"B1", "B2"},
}
TIER = {"D1": "distributor", "A1": "retail", "B1": "retail", "N1": "retail", "B2": "retail"}


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def in_tile(lon: float, lat: float, z: int, x: int, y: int) -> tuple[float, float]:
    """Tile coordinates (0–4096, y down) of a point."""
    n = 1 << z
    fx = (lon + 180.0) / 360.0 * n
    fy = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return (fx - x) * 4096, (fy - y) * 4096


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


@pytest.fixture
def clients(aapp, connection, world):
    return {
        who: token_client(aapp, add_token(connection, world[who]))
        for who in ("admin", "m1", "m2", "r1", "r2")
    }


def get_tile(client, layer: str, z: int, x: int, y: int) -> dict:
    response = client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt")
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    if response.status_code == 204:
        assert response.data == b""
        return {}
    assert response.mimetype == "application/vnd.mapbox-vector-tile"
    return decode(response.data)


def points_seen(client, z: int = 10) -> dict[str, dict]:
    """Every outlet feature of the z tiles covering the world's outlets, by code."""
    found: dict[str, dict] = {}
    tiles = {tile_of(lon, lat, z) for lon, lat in LOCATED.values()}
    for x, y in tiles:
        layer = get_tile(client, "outlets", z, x, y).get("outlets")
        for feature in (layer or {}).get("features", []):
            code = feature["properties"]["code"]
            lon, lat = LOCATED[code]
            px, py = in_tile(lon, lat, z, x, y)
            if 0 <= px < 4096 and 0 <= py < 4096:  # not a copy from a neighbour's buffer
                found[code] = {**feature, "tile": (x, y)}
    return found


# -- points ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "m1", "m2", "r1", "r2"])
def test_point_tiles_hold_exactly_the_outlets_in_scope(clients, who):
    assert set(points_seen(clients[who])) == SEEN[who]


def test_point_features_carry_code_name_tier_id_and_position(clients, world, connection):
    seen = points_seen(clients["admin"], z=12)
    ids = dict(connection.execute(text("SELECT code, id FROM outlets")).all())
    for code, feature in seen.items():
        assert feature["properties"] == {
            "code": code,
            "name": connection.execute(
                text("SELECT name FROM outlets WHERE code = :c"), {"c": code}
            ).scalar_one(),
            "tier": TIER[code],
        }
        assert feature["id"] == ids[code]
        x, y = feature["tile"]
        px, py = in_tile(*LOCATED[code], 12, x, y)
        got = feature["geometry"]["coordinates"]
        assert feature["geometry"]["type"] == "Point"
        assert abs(got[0] - px) <= 1 and abs(got[1] - py) <= 1, (code, got, (px, py))


def test_inactive_outlets_are_not_drawn(clients, connection, world):
    connection.execute(text("UPDATE outlets SET status = 'closed' WHERE code = 'A1'"))
    assert "A1" not in points_seen(clients["admin"])
    assert "A1" not in hex_totals(clients["admin"], 6)["codes_hint"]


# -- hexagons ----------------------------------------------------------------------------------


def hex_totals(client, z: int) -> dict:
    """Sums over the hexagon features of every tile covering the world's outlets at zoom z."""
    sums = {"outlets": 0, "distributor": 0, "wholesaler_2": 0, "wholesaler_3": 0, "retail": 0}
    features = []
    for x, y in {tile_of(lon, lat, z) for lon, lat in LOCATED.values()}:
        layer = get_tile(client, "outlets", z, x, y).get("outlet_bins")
        for f in (layer or {}).get("features", []):
            features.append({**f, "tile": (x, y)})
    # a hexagon on a tile border appears in both tiles: count each hexagon once, by the tile
    # holding its centre
    for f in features:
        ring = f["geometry"]["coordinates"][0]
        cx = sum(p[0] for p in ring[:-1]) / (len(ring) - 1)
        cy = sum(p[1] for p in ring[:-1]) / (len(ring) - 1)
        if 0 <= cx < 4096 and 0 <= cy < 4096:
            for key in sums:
                sums[key] += f["properties"][key]
    sums["features"] = features
    sums["codes_hint"] = set()  # hexagons carry counts, never codes
    return sums


@pytest.mark.parametrize("who", ["admin", "m1", "m2", "r1", "r2"])
@pytest.mark.parametrize("z", [3, 6, 9])
def test_hexagon_tiles_count_the_outlets_in_scope(clients, who, z):
    sums = hex_totals(clients[who], z)
    assert sums["outlets"] == len(SEEN[who])
    assert sums["distributor"] == sum(TIER[c] == "distributor" for c in SEEN[who])
    assert sums["retail"] == sum(TIER[c] == "retail" for c in SEEN[who])
    for f in sums["features"]:
        assert f["geometry"]["type"] == "Polygon"
        assert set(f["properties"]) == {
            "outlets", "distributor", "wholesaler_2", "wholesaler_3", "retail"
        }  # fmt: skip
        assert f["properties"]["outlets"] > 0


def test_a_hexagon_holds_its_outlet(clients):
    """Each outlet lies inside the drawn hexagon that counts it (the SQL binning and
    ST_Hexagon agree), for the kept bins (admin) and the live ones (rep)."""
    from shapely.geometry import Point, shape

    for who in ("admin", "r1"):
        z = 9
        for code in SEEN[who]:
            lon, lat = LOCATED[code]
            x, y = tile_of(lon, lat, z)
            layer = get_tile(clients[who], "outlets", z, x, y)["outlet_bins"]
            point = Point(*in_tile(lon, lat, z, x, y))
            hexagons = [shape(f["geometry"]) for f in layer["features"]]
            nearest = min(hexagons, key=lambda h: h.centroid.distance(point))
            # tile coordinates are whole numbers: allow a unit or two at the edge
            assert nearest.buffer(2).contains(point), (who, code)
            assert nearest.area > 4096 * 4096 / 16 / 16  # a whole hexagon: side = 1/16 tile


def test_the_kept_bins_follow_every_change_of_outlets(connection, world):
    """Inserts, moves, status and tier changes, region changes, deletes: the bins equal a
    rebuild from scratch after each."""

    def bins():
        return connection.execute(
            text(
                "SELECT z, i, j, region_id, tier, outlets FROM outlet_hex_bins "
                "ORDER BY 1, 2, 3, 4, 5"
            )
        ).all()

    def totals():
        return connection.execute(
            text(
                "SELECT region_id, tier, outlets FROM region_outlet_totals WHERE outlets <> 0 "
                "ORDER BY 1, 2"
            )
        ).all()

    def check():
        kept, kept_totals = bins(), totals()
        connection.execute(text("SELECT geo_crm_outlet_bins_rebuild()"))
        assert kept == bins()
        assert kept_totals == totals()
        assert all(row.outlets > 0 for row in kept)

    check()
    add_outlet(connection, "X1", lon=120.45, lat=30.45, rep=world["r1"])
    add_outlet(connection, "X2", "wholesaler_2", lon=121.9, lat=35.0)  # outside every region
    check()
    connection.execute(
        text("UPDATE outlets SET location = ST_SetSRID(ST_MakePoint(122.2, 30.2), 4326) "
             "WHERE code = 'X1'")
    )  # fmt: skip
    check()
    before = bins()
    connection.execute(
        text("UPDATE outlets SET location = ST_SetSRID(ST_MakePoint(122.20001, 30.2), 4326) "
             "WHERE code = 'X1'")
    )  # fmt: skip
    assert bins() == before  # a geotag's few metres: the same hexagons at every zoom
    check()
    connection.execute(text("UPDATE outlets SET status = 'inactive' WHERE code = 'B1'"))
    connection.execute(text("UPDATE outlets SET tier = 'wholesaler_3' WHERE code = 'N1'"))
    connection.execute(text("UPDATE outlets SET name = '改名' WHERE code = 'A1'"))  # no-op for bins
    check()
    connection.execute(text("UPDATE outlets SET location = NULL WHERE code = 'X2'"))
    connection.execute(text("DELETE FROM outlets WHERE code = 'X1'"))
    check()
    add_region(connection, "C9", "district", (120.0, 30.0, 120.25, 30.25), parent="C1")
    connection.execute(  # re-assign the region as a boundary reload would
        text("UPDATE outlets SET region_id = geo_crm_region_for_point(location) "
             "WHERE location IS NOT NULL")
    )  # fmt: skip
    check()
    connection.execute(text("UPDATE outlets SET status = 'active' WHERE code = 'B1'"))
    check()
    # the region tree changes: a city moves to the other province, a district goes away
    connection.execute(
        text("UPDATE regions SET parent_id = (SELECT id FROM regions WHERE code = 'P2') "
             "WHERE code = 'C2'")
    )  # fmt: skip
    check()
    connection.execute(text("DELETE FROM regions WHERE code = 'C9'"))
    check()
    connection.execute(
        text("INSERT INTO outlets (code, name, tier, location) SELECT 'G' || g, '批量', "
             "'retail', ST_SetSRID(ST_MakePoint(120 + g / 1000.0, 30.5), 4326) "
             "FROM generate_series(1, 500) g")
    )  # fmt: skip
    check()


# -- regions -----------------------------------------------------------------------------------


def region_features(client, z: int, box=(120.0, 30.0, 123.0, 31.0)) -> dict[str, dict]:
    """Region polygons by code (and their label points) over the tiles covering ``box``."""
    x0, y1 = tile_of(box[0], box[1], z)
    x1, y0 = tile_of(box[2] - 1e-9, box[3] - 1e-9, z)
    polygons: dict[str, dict] = {}
    labels: dict[str, dict] = {}
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            layers = get_tile(client, "regions", z, x, y)
            for f in layers.get("regions", {}).get("features", []):
                polygons[f["properties"]["code"]] = f["properties"]
            for f in layers.get("region_labels", {}).get("features", []):
                code = f["properties"]["code"]
                assert code not in labels, f"{code} labelled in two tiles"
                labels[code] = f["properties"]
    assert set(labels) <= set(polygons)
    return polygons


def test_region_level_follows_the_zoom(clients):
    assert set(region_features(clients["admin"], 5)) == {"P1", "P2"}
    # cities from zoom 6; P2 has no cities, so it stands in for them
    assert set(region_features(clients["admin"], 7)) == {"C1", "C2", "P2"}
    assert set(region_features(clients["admin"], 10)) == {"C1", "C2", "P2"}


def test_region_figures_count_outlets_per_tier_through_the_tree(clients, connection):
    add_region(connection, "D9", "district", (120.0, 30.0, 120.15, 30.15), parent="C1")
    connection.execute(text("UPDATE regions SET name_en = 'Nine' WHERE code = 'D9'"))
    connection.execute(
        text("UPDATE outlets SET region_id = geo_crm_region_for_point(location) "
             "WHERE location IS NOT NULL")
    )  # fmt: skip
    provinces = region_features(clients["admin"], 4)
    assert provinces["P1"]["outlets"] == 4  # D1 (in district D9), A1, B1, N1
    assert provinces["P1"]["distributor"] == 1 and provinces["P1"]["retail"] == 3
    assert provinces["P2"]["outlets"] == 1
    districts = region_features(clients["admin"], 10)
    assert districts["D9"]["outlets"] == 1 and districts["D9"]["distributor"] == 1
    assert districts["C2"]["outlets"] == 1  # a city without districts stands in for them
    assert districts["D9"]["level"] == "district" and districts["D9"]["name"] == "区域 D9"
    assert districts["D9"]["name_en"] == "Nine"
    assert "name_en" not in districts["C2"]  # MVT has no null: a missing name is left out


def test_a_manager_sees_only_their_regions_and_their_outlets_in_the_figures(clients):
    assert region_features(clients["m1"], 5) == {}  # no province is theirs
    cities = region_features(clients["m1"], 7)
    assert set(cities) == {"C1"}
    assert cities["C1"]["outlets"] == 3
    assert set(region_features(clients["m2"], 7)) == {"P2"}


def test_a_reps_figures_count_only_their_outlets(clients):
    provinces = region_features(clients["r1"], 5)
    assert set(provinces) == {"P1"}  # the regions holding their outlets, and those above
    assert provinces["P1"]["outlets"] == 2  # A1 and N1, never D1 or B1
    cities = region_features(clients["r2"], 7)
    assert cities["C1"]["outlets"] == 1 and cities["P2"]["outlets"] == 1


# -- TileJSON ----------------------------------------------------------------------------------


def test_tilejson_describes_the_layer_for_the_caller(clients):
    doc = clients["m1"].get("/tiles/outlets.json").get_json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"] == ["http://localhost/tiles/outlets/{z}/{x}/{y}.mvt"]
    assert doc["minzoom"] == 0 and doc["maxzoom"] == 16
    assert doc["bounds"] == [120.0, 30.0, 120.5, 31.0]  # C1, the manager's region
    assert doc["center"][:2] == [120.25, 30.5]
    layers = {v["id"]: v for v in doc["vector_layers"]}
    assert layers["outlets"]["fields"] == {"code": "String", "name": "String", "tier": "String"}
    assert layers["outlets"]["minzoom"] == 10
    assert layers["outlet_bins"]["maxzoom"] == 9
    assert layers["outlet_bins"]["fields"]["outlets"] == "Number"
    rep = clients["r1"].get("/tiles/outlets.json").get_json()
    assert rep["bounds"] == [120.2, 30.2, 120.7, 30.7]  # A1 to N1
    regions = clients["admin"].get("/tiles/regions.json").get_json()
    assert regions["bounds"] == [120.0, 30.0, 123.0, 31.0]
    assert {v["id"] for v in regions["vector_layers"]} == {"regions", "region_labels"}
    assert regions["vector_layers"][0]["fields"]["retail"] == "Number"


# -- HTTP --------------------------------------------------------------------------------------


def test_tiles_carry_an_etag_and_answer_304_when_it_matches(clients, connection):
    x, y = tile_of(120.2, 30.2, 10)
    url = f"/tiles/outlets/10/{x}/{y}.mvt"
    first = clients["admin"].get(url)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, max-age=60"
    assert "Authorization" in first.headers["Vary"]
    again = clients["admin"].get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    assert clients["admin"].get(url, headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    connection.execute(text("UPDATE outlets SET name = '新名字' WHERE code = 'A1'"))
    changed = clients["admin"].get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    # another caller sees another tile under another tag
    assert clients["r2"].get(url).headers["ETag"] != changed.headers["ETag"]


def test_an_empty_tile_answers_204_without_a_body(clients):
    empty = clients["admin"].get("/tiles/outlets/10/100/100.mvt")  # the Pacific
    assert empty.status_code == 204 and empty.data == b""
    assert empty.headers["Cache-Control"] == "private, max-age=60"
    etag = empty.headers["ETag"]
    again = clients["admin"].get("/tiles/outlets/10/100/100.mvt", headers={"If-None-Match": etag})
    assert again.status_code == 304
    x, y = tile_of(122.5, 30.5, 12)
    assert clients["m1"].get(f"/tiles/outlets/12/{x}/{y}.mvt").status_code == 204  # B2: not theirs


@pytest.mark.parametrize(
    "path, field",
    [
        ("/tiles/outlets/23/0/0.mvt", "path.z"),
        ("/tiles/outlets/99999999999/0/0.mvt", "path.z"),
        ("/tiles/outlets/3/8/0.mvt", "path.x"),
        ("/tiles/outlets/3/0/8.mvt", "path.y"),
        ("/tiles/outlets/3/-1/0.mvt", "path.x"),
        ("/tiles/outlets/a/0/0.mvt", "path.z"),
        ("/tiles/outlets/3/0/1e2.mvt", "path.y"),
        ("/tiles/outlets/３/0/0.mvt", "path.z"),
        ("/tiles/regions/0/1/0.mvt", "path.x"),
    ],
)
def test_tile_coordinates_out_of_range_answer_400_in_json(clients, path, field):
    for accept in ("application/json", "text/html", "*/*"):
        response = clients["admin"].get(path, headers={"Accept": accept})
        assert response.status_code == 400, (path, response.status_code)
        error = response.get_json()["error"]
        assert error["code"] == "invalid_parameter" and field in error["fields"]


def test_an_unknown_layer_answers_404_in_json(clients):
    for path in ("/tiles/nope/3/0/0.mvt", "/tiles/nope.json"):
        response = clients["admin"].get(path, headers={"Accept": "text/html"})
        assert response.status_code == 404
        assert "path.layer" in response.get_json()["error"]["fields"]


def test_the_deepest_zoom_is_served(clients):
    x, y = tile_of(120.2, 30.2, 22)
    layer = get_tile(clients["admin"], "outlets", 22, x, y)["outlets"]
    assert [f["properties"]["code"] for f in layer["features"]] == ["A1"]
    assert get_tile(clients["admin"], "outlets", 0, 0, 0)["outlet_bins"]["features"]


def test_statements_are_built_once_per_layer_band_and_role():
    from geo_crm.domain import tiles

    tiles._statement.cache_clear()
    first = tiles._statement("outlets", "points", "manager")
    assert tiles._statement("outlets", "points", "manager") is first
    assert "%(scope_uid)s" in first.sql  # the user is a bind parameter, not in the text
    assert "managed_regions" in first.sql
    rep = tiles._statement("outlets", "hexagons", "rep").sql
    assert "outlet_hex_bins" not in rep and "rep_id" in rep
