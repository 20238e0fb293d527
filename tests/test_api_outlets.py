"""Outlets over HTTP: create, read, update with versions, deactivate, and every list filter."""

from __future__ import annotations

import random

import numpy as np
import pytest
from auth_helpers import add_token, add_user, token_client
from pyproj import Geod
from shapely.geometry import Point, shape

from geo_crm import coords
from geo_crm.domain import outlets as svc

API = "/api/v1"


GEOD = Geod(ellps="WGS84")


def pt(lon, lat) -> str:
    return f"ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)"


def add_region(sql, code, level, box, parent=None):
    return sql(
        "INSERT INTO regions (code, name, level, parent_id, boundary) VALUES (:code, :name, "
        ":level, "
        "(SELECT id FROM regions WHERE code = :parent), ST_Multi(ST_MakeEnvelope(:x0, :y0, "
        ":x1, :y1, 4326))) "
        "RETURNING id",
        code=code,
        name=f"区域 {code}",
        level=level,
        parent=parent,
        x0=box[0],
        y0=box[1],
        x1=box[2],
        y1=box[3],
    ).scalar_one()


def add_outlet(sql, code, tier, parent=None, lon=None, lat=None, status="active", name=None):
    location = pt(lon, lat) if lon is not None else "NULL"
    return sql(
        f"INSERT INTO outlets (code, name, tier, parent_id, location, status) VALUES (:code, "
        f":name, :tier, "
        f"(SELECT id FROM outlets WHERE code = :parent), {location}, :status) RETURNING id",
        code=code,
        name=name or f"{tier} {code}",
        tier=tier,
        parent=parent,
        status=status,
    ).scalar_one()


@pytest.fixture
def world(sql):
    """A province (two cities, one district), two small networks, one outlet outside all."""
    add_region(sql, "P", "province", (100, 20, 102, 22))
    add_region(sql, "C1", "city", (100, 20, 100.99, 21), parent="P")
    add_region(sql, "D1", "district", (100, 20, 100.5, 20.5), parent="C1")
    add_region(sql, "C2", "city", (101.01, 20, 102, 22), parent="P")
    add_outlet(sql, "DA", "distributor", None, 100.2, 20.2, name="华东总经销")
    add_outlet(sql, "W2A", "wholesaler_2", "DA", 100.7, 20.7, name="二批 West")
    add_outlet(sql, "W3A", "wholesaler_3", "W2A", 100.3, 20.3)
    add_outlet(sql, "RA1", "retail", "W3A", 100.31, 20.31, name="便利店 50%_off")
    add_outlet(sql, "RA2", "retail", "W2A", 100.8, 20.8)
    add_outlet(sql, "RU", "retail", "W3A", name="未定位 shop")
    add_outlet(sql, "DB", "distributor", None, 101.5, 21.5)
    add_outlet(sql, "RB1", "retail", "DB", 101.6, 21.6, status="inactive")
    add_outlet(sql, "RZ", "retail", None, 103, 23)


def codes(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["code"] for item in response.get_json()["items"]]


def fields(response) -> dict:
    return response.get_json()["error"].get("fields", {})


# -- create ---------------------------------------------------------------------------------


def test_create_outlet_stores_point_region_and_first_geotag(client, world, sql):
    response = client.post(
        f"{API}/outlets",
        json={
            "code": "RN",
            "name": "新店",
            "tier": "retail",
            "parent_code": "W3A",
            "lat": 20.4,
            "lon": 100.4,
            "accuracy_m": 8.5,
            "source": "gps",
            "address": "人民路 1 号",
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"].endswith("/api/v1/outlets/RN")
    assert response.headers["ETag"] == '"1"'
    assert body["code"] == "RN" and body["parent_code"] == "W3A" and body["version"] == 1
    assert (body["lat"], body["lon"]) == (20.4, 100.4)
    assert body["region_code"] == "D1"
    assert body["status"] == "active"
    event = sql(
        "SELECT e.source, e.crs, e.accuracy_m, ST_X(e.new_location) x, e.old_location "
        "FROM geotag_events e JOIN outlets o ON o.id = e.outlet_id WHERE o.code = 'RN'"
    ).one()
    who = sql(
        "SELECT u.username, e.user_id = o.created_by_id FROM outlets o "
        "JOIN geotag_events e ON e.outlet_id = o.id JOIN users u ON u.id = o.created_by_id "
        "WHERE o.code = 'RN'"
    ).one()
    assert tuple(who) == ("test-admin", True)
    assert (event.source, event.crs, event.accuracy_m, event.x, event.old_location) == (
        "gps",
        "wgs84",
        8.5,
        100.4,
        None,
    )


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_create_converts_chinese_map_coordinates_to_wgs84(client, world, sql, crs):
    lon, lat = 120.1551, 30.2741  # Hangzhou, as a Chinese map app reports it
    response = client.post(
        f"{API}/outlets",
        json={
            "code": "HZ",
            "name": "杭州店",
            "tier": "distributor",
            "lat": lat,
            "lon": lon,
            "crs": crs,
        },
    )
    assert response.status_code == 201
    expected = coords.to_wgs84(lon, lat, crs)
    body = response.get_json()
    assert body["lon"] == pytest.approx(float(expected[0]), abs=1e-9)
    assert body["lat"] == pytest.approx(float(expected[1]), abs=1e-9)
    assert abs(body["lon"] - lon) > 1e-3  # really moved (hundreds of metres)
    assert (
        sql(
            "SELECT crs FROM geotag_events e JOIN outlets o ON o.id = e.outlet_id WHERE "
            "o.code = 'HZ'"
        ).scalar()
        == crs
    )


def test_create_without_location_writes_no_geotag(client, world, sql):
    response = client.post(f"{API}/outlets", json={"code": "N1", "name": "x", "tier": "retail"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["lat"] is None and body["region_code"] is None and body["parent_code"] is None
    assert (
        sql(
            "SELECT count(*) FROM geotag_events e JOIN outlets o ON o.id = e.outlet_id "
            "WHERE o.code = 'N1'"
        ).scalar()
        == 0
    )


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"colour": "red"}, 422, "body.colour"),
        ({"lat": 20.5}, 422, "body.lon"),
        ({"lat": 95, "lon": 100}, 422, "body.lat"),
        ({"lat": 20, "lon": 181}, 422, "body.lon"),
        ({"lat": 0, "lon": 0}, 422, "body.lat"),
        ({"lat": "20.5", "lon": 100.5}, 422, "body.lat"),
        ({"lat": True, "lon": 100.5}, 422, "body.lat"),
        ({"lat": 20, "lon": 100, "crs": "utm"}, 422, "body.crs"),
        ({"tier": "boss"}, 422, "body.tier"),
        ({"code": "a/b"}, 422, "body.code"),
        ({"code": "   "}, 422, "body.code"),
        ({"parent_code": "NOPE"}, 422, "body.parent_code"),
        ({"parent_code": "RA1"}, 422, "body.parent_code"),  # retail cannot sell to retail
        ({"tier": "distributor", "parent_code": "DA"}, 422, "body.parent_code"),
        ({"rep_id": 999}, 422, "body.rep_id"),
        ({"code": "DA"}, 409, "body.code"),
    ],
)
def test_create_rejects_bad_input_naming_the_field(client, world, sql, payload, status, field):
    before = sql("SELECT count(*) FROM outlets").scalar()
    body = {"code": "NEW", "name": "新店", "tier": "retail", **payload}
    response = client.post(f"{API}/outlets", json=body)
    assert response.status_code == status, response.get_json()
    assert field in fields(response), response.get_json()
    assert sql("SELECT count(*) FROM outlets").scalar() == before


def test_create_refuses_nan_in_json(client, world):
    response = client.post(
        f"{API}/outlets",
        data='{"code": "X", "name": "x", "tier": "retail", "lat": NaN, "lon": 100}',
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "body.lat" in fields(response)


# -- read -----------------------------------------------------------------------------------


def test_get_by_code(client, world, sql):
    response = client.get(f"{API}/outlets/W3A")
    assert response.status_code == 200
    body = response.get_json()
    assert body["parent_code"] == "W2A" and body["tier"] == "wholesaler_3"
    assert body["region_code"] == "D1"
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert client.get(f"{API}/outlets/NOPE").status_code == 404


def test_urls_name_outlets_by_code_only(client, world, sql):
    """A number in a URL is a code like any other: never mistaken for some outlet's id."""
    da_id = sql("SELECT id FROM outlets WHERE code = 'DA'").scalar()
    assert client.get(f"{API}/outlets/{da_id}").status_code == 404
    add_outlet(sql, str(da_id), "retail", None, 100.1, 20.1)
    assert client.get(f"{API}/outlets/{da_id}").get_json()["tier"] == "retail"


# -- update and versions --------------------------------------------------------------------


def test_patch_needs_the_version_read(client, world):
    response = client.patch(f"{API}/outlets/RA2", json={"name": "新名字"})
    assert response.status_code == 422
    assert "body.version" in fields(response)


def test_patch_with_body_version_and_with_if_match(client, world, sql):
    response = client.patch(
        f"{API}/outlets/RA2", json={"name": "新名字", "version": 1, "address": "a"}
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["version"] == 2 and response.get_json()["name"] == "新名字"
    response = client.patch(
        f"{API}/outlets/RA2", json={"address": None}, headers={"If-Match": '"2"'}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["version"] == 3 and body["address"] is None
    assert response.headers["ETag"] == '"3"'
    mismatch = client.patch(
        f"{API}/outlets/RA2", json={"version": 3, "name": "y"}, headers={"If-Match": '"2"'}
    )
    assert mismatch.status_code == 422 and "body.version" in fields(mismatch)
    garbage = client.patch(
        f"{API}/outlets/RA2", json={"name": "y"}, headers={"If-Match": "yesterday"}
    )
    assert garbage.status_code == 422 and "header.If-Match" in fields(garbage)


def test_stale_version_gets_409_with_current_state_and_changes_nothing(client, world, sql):
    first = client.get(f"{API}/outlets/RA2").get_json()
    # someone else saves first
    assert (
        client.patch(
            f"{API}/outlets/RA2", json={"version": first["version"], "name": "A"}
        ).status_code
        == 200
    )
    before = sql("SELECT name, address, version, updated_at FROM outlets WHERE code = 'RA2'").one()
    stale = client.patch(
        f"{API}/outlets/RA2", json={"version": first["version"], "name": "B", "address": "x"}
    )
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    assert error["code"] == "conflict"
    assert "body.version" in error["fields"]
    assert error["detail"]["name"] == "A" and error["detail"]["version"] == first["version"] + 1
    assert stale.headers["ETag"] == f'"{first["version"] + 1}"'
    assert (
        sql("SELECT name, address, version, updated_at FROM outlets WHERE code = 'RA2'").one()
        == before
    )


def test_patch_location_records_history_with_old_point(client, world, sql):
    response = client.patch(
        f"{API}/outlets/RA2",
        json={"version": 1, "lat": 21.5, "lon": 101.7, "source": "gps", "accuracy_m": 5},
    )
    body = response.get_json()
    assert response.status_code == 200 and body["region_code"] == "C2"
    event = sql(
        "SELECT ST_X(old_location) ox, ST_X(new_location) nx, source FROM geotag_events e "
        "JOIN outlets o ON o.id = e.outlet_id WHERE o.code = 'RA2'"
    ).one()
    assert (event.ox, event.nx, event.source) == (100.8, 101.7, "gps")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"tier": "distributor"}, "body.tier"),  # it has a parent and buyers
        ({"parent_code": "RA1"}, "body.parent_code"),
        ({"name": None}, "body.name"),
        ({"code": "NEWCODE"}, "body.code"),
        ({"lat": 20.5}, "body.lon"),
    ],
)
def test_patch_rules_name_the_field_and_change_nothing(client, world, sql, payload, field):
    before = sql("SELECT * FROM outlets WHERE code = 'W3A'").one()
    response = client.patch(f"{API}/outlets/W3A", json={"version": 1, **payload})
    assert response.status_code == 422, response.get_json()
    assert field in fields(response)
    assert sql("SELECT * FROM outlets WHERE code = 'W3A'").one() == before


def test_patch_unknown_outlet_is_404(client, world):
    assert client.patch(f"{API}/outlets/NOPE", json={"version": 1, "name": "x"}).status_code == 404


# -- deactivate -----------------------------------------------------------------------------


def test_delete_deactivates_and_keeps_the_outlet(client, world, sql):
    response = client.delete(f"{API}/outlets/RA1")
    assert response.status_code == 200
    assert response.get_json()["status"] == "inactive"
    assert sql("SELECT status FROM outlets WHERE code = 'RA1'").scalar() == "inactive"
    assert client.get(f"{API}/outlets/RA1").status_code == 200


def test_post_deactivate_with_version(client, world, sql):
    stale = client.post(f"{API}/outlets/RA2/deactivate?version=7")
    assert stale.status_code == 409
    assert stale.get_json()["error"]["detail"]["status"] == "active"
    response = client.post(f"{API}/outlets/RA2/deactivate", headers={"If-Match": '"1"'})
    assert response.status_code == 200 and response.get_json()["status"] == "inactive"
    assert client.post(f"{API}/outlets/NOPE/deactivate").status_code == 404


# -- list filters ---------------------------------------------------------------------------

ALL = ["DA", "W2A", "W3A", "RA1", "RA2", "RU", "DB", "RB1", "RZ"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ALL),
        ("tier=retail", ["RA1", "RA2", "RU", "RB1", "RZ"]),
        ("tier=distributor,wholesaler_3", ["DA", "W3A", "DB"]),
        ("tier=distributor&tier=wholesaler_2", ["DA", "W2A", "DB"]),
        ("region=P", ["DA", "W2A", "W3A", "RA1", "RA2", "DB", "RB1"]),
        ("region=C1", ["DA", "W2A", "W3A", "RA1", "RA2"]),
        ("region=D1", ["DA", "W3A", "RA1"]),
        ("distributor=DA", ["DA", "W2A", "W3A", "RA1", "RA2", "RU"]),
        ("distributor=W3A", ["W3A", "RA1", "RU"]),
        ("status=inactive", ["RB1"]),
        ("status=active,closed", ["DA", "W2A", "W3A", "RA1", "RA2", "RU", "DB", "RZ"]),
        ("geotagged=false", ["RU"]),
        ("geotagged=true&tier=retail", ["RA1", "RA2", "RB1", "RZ"]),
        ("bbox=100.25,20.25,100.9,20.9", ["W2A", "W3A", "RA1", "RA2"]),
        ("q=west", ["W2A"]),
        ("q=50%25_", ["RA1"]),  # % and _ are matched literally
        ("q=%25", ["RA1"]),
        ("q=总经销", ["DA"]),
        ("q=ra", ["RA1", "RA2"]),
        ("region=C1&tier=retail", ["RA1", "RA2"]),
        ("distributor=DA&geotagged=false", ["RU"]),
        ("distributor=DA&region=D1&tier=retail,wholesaler_3", ["W3A", "RA1"]),
        ("region=P&status=active&bbox=100,20,101.55,22", ["DA", "W2A", "W3A", "RA1", "RA2", "DB"]),
        ("tier=retail&q=zzz", []),
    ],
)
def test_list_filters_combine(client, world, query, expected):
    assert codes(client.get(f"{API}/outlets?{query}")) == expected


def test_list_total_and_offset_pages(client, world):
    page = client.get(f"{API}/outlets?limit=4&offset=4").get_json()
    assert [i["code"] for i in page["items"]] == ALL[4:8]
    assert page["total"] == len(ALL) and page["limit"] == 4 and page["offset"] == 4
    assert client.get(f"{API}/outlets?count=false").get_json()["total"] is None


def test_near_with_radius_is_nearest_first_with_metres(client, world):
    response = client.get(f"{API}/outlets?lat=20.3&lon=100.3&radius_m=70000")
    body = response.get_json()
    got = [(i["code"], i["distance_m"]) for i in body["items"]]
    assert [c for c, _ in got] == ["W3A", "RA1", "DA", "W2A"]
    for code, distance in got:
        lon, lat = {
            "W3A": (100.3, 20.3),
            "RA1": (100.31, 20.31),
            "DA": (100.2, 20.2),
            "W2A": (100.7, 20.7),
        }[code]
        assert distance == pytest.approx(GEOD.inv(100.3, 20.3, lon, lat)[2], abs=0.01)
    assert body["total"] == 4


def test_near_without_radius_returns_the_nearest(client, world):
    items = client.get(f"{API}/outlets?lat=21.52&lon=101.52&limit=3").get_json()["items"]
    assert [i["code"] for i in items] == ["DB", "RB1", "RA2"]


def test_near_combines_with_filters_and_gcj02(client, world):
    g_lon, g_lat = coords.wgs84_to_gcj02(100.3, 20.3)
    query = (
        f"lat={float(g_lat)}&lon={float(g_lon)}&crs=gcj02&radius_m=200000&tier=retail&status=active"
    )
    items = client.get(f"{API}/outlets?{query}").get_json()["items"]
    assert [i["code"] for i in items] == ["RA1", "RA2"]
    assert items[0]["distance_m"] == pytest.approx(
        GEOD.inv(100.3, 20.3, 100.31, 20.31)[2], abs=0.05
    )


def test_near_is_exact_against_brute_force_geodesics(client, sql):
    """KNN runs in degrees; the answer must still be the true nearest in metres, at 60°N too."""
    rng = random.Random(7)
    for lat0 in (30.0, 60.0):
        points = [
            (100 + rng.uniform(-0.05, 0.05), lat0 + rng.uniform(-0.05, 0.05)) for _ in range(150)
        ]
        sql(
            "INSERT INTO outlets (code, name, tier, location) SELECT 'K' || :lat || '-' || i, "
            "'k', 'retail', "
            "ST_SetSRID(ST_MakePoint(x, y), 4326) FROM unnest(CAST(:xs AS float8[]), CAST(:ys "
            "AS float8[])) "
            "WITH ORDINALITY AS u(x, y, i)",
            lat=int(lat0),
            xs=[p[0] for p in points],
            ys=[p[1] for p in points],
        )
        rows = sql(
            "SELECT code, ST_X(location) x, ST_Y(location) y FROM outlets WHERE code LIKE :p",
            p=f"K{int(lat0)}-%",
        ).all()
        xs, ys = np.array([r.x for r in rows]), np.array([r.y for r in rows])
        for _ in range(6):
            qlon, qlat = 100 + rng.uniform(-0.04, 0.04), lat0 + rng.uniform(-0.04, 0.04)
            dist = GEOD.inv(np.full(len(xs), qlon), np.full(len(xs), qlat), xs, ys)[2]
            for radius, limit in ((3000.0, 7), (None, 12)):
                keep = dist <= radius if radius else np.ones(len(xs), bool)
                expected = sorted(
                    (d, r.code) for d, r, k in zip(dist, rows, keep, strict=True) if k
                )[:limit]
                url = f"{API}/outlets?lat={qlat}&lon={qlon}&limit={limit}&q=K{int(lat0)}-"
                if radius:
                    url += f"&radius_m={radius}"
                body = client.get(url).get_json()
                assert [i["code"] for i in body["items"]] == [c for _, c in expected]
                assert [i["distance_m"] for i in body["items"]] == pytest.approx(
                    [d for d, _ in expected], abs=0.01
                )
                if radius:
                    assert body["total"] == int(keep.sum())


def test_cursor_pages_are_stable_under_inserts_by_id(client, world, sql):
    first = client.get(f"{API}/outlets?limit=4").get_json()
    seen = [i["code"] for i in first["items"]]
    add_outlet(sql, "LATE1", "retail", None, 100.4, 20.4)
    second = client.get(f"{API}/outlets?limit=4&cursor={first['next_cursor']}").get_json()
    seen += [i["code"] for i in second["items"]]
    third = client.get(f"{API}/outlets?limit=4&cursor={second['next_cursor']}").get_json()
    seen += [i["code"] for i in third["items"]]
    assert seen == [*ALL, "LATE1"]
    assert third["next_cursor"] is None
    assert third["total"] == len(ALL) + 1


def test_cursor_pages_are_stable_under_inserts_near_a_point(client, world, sql):
    url = f"{API}/outlets?lat=20.3&lon=100.3&limit=2"
    first = client.get(url).get_json()
    assert [i["code"] for i in first["items"]] == ["W3A", "RA1"]
    # a new outlet nearer than everything on page one must not shift page two
    add_outlet(sql, "NEAREST", "retail", None, 100.3001, 20.3001)
    second = client.get(f"{url}&cursor={first['next_cursor']}").get_json()
    assert [i["code"] for i in second["items"]] == ["DA", "W2A"]
    third = client.get(f"{url}&cursor={second['next_cursor']}").get_json()
    assert [i["code"] for i in third["items"]] == ["RA2", "DB"]


def test_cursor_pages_within_a_radius_keep_the_total_and_the_order(client, world, sql):
    url = f"{API}/outlets?lat=20.3&lon=100.3&radius_m=70000"
    whole = client.get(f"{url}&limit=100").get_json()
    assert whole["total"] == len(whole["items"]) >= 4
    page = client.get(f"{url}&limit=2").get_json()
    seen = [i["code"] for i in page["items"]]
    add_outlet(sql, "NEAREST", "retail", None, 100.3001, 20.3001)  # not on a later page
    while page["next_cursor"]:
        assert page["total"] == whole["total"] + (len(seen) > 2)
        page = client.get(f"{url}&limit=2&cursor={page['next_cursor']}").get_json()
        seen += [i["code"] for i in page["items"]]
    assert seen == [i["code"] for i in whole["items"]]
    offset = client.get(f"{url}&limit=2&offset=2").get_json()
    assert [i["code"] for i in offset["items"]] == seen[1:3]  # NEAREST now comes first
    assert offset["total"] == whole["total"] + 1


def test_geojson_feature_collection_by_param_and_by_accept(client, world):
    by_param = client.get(f"{API}/outlets?format=geojson&distributor=DA")
    by_accept = client.get(
        f"{API}/outlets?distributor=DA", headers={"Accept": "application/geo+json"}
    )
    for response in (by_param, by_accept):
        assert response.status_code == 200
        assert response.mimetype == "application/geo+json"
        collection = response.get_json()
        assert collection["type"] == "FeatureCollection" and collection["total"] == 6
        features = {f["id"]: f for f in collection["features"]}
        assert set(features) == {"DA", "W2A", "W3A", "RA1", "RA2", "RU"}
        assert features["RU"]["geometry"] is None
        geom = shape(features["RA1"]["geometry"])
        assert geom.equals(Point(100.31, 20.31))
        assert features["RA1"]["properties"]["parent_code"] == "W3A"
        assert "lat" not in features["RA1"]["properties"]
    plain = client.get(
        f"{API}/outlets?distributor=DA&format=json", headers={"Accept": "application/geo+json"}
    )
    assert "items" in plain.get_json()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("colour=red", "query.colour"),
        ("tier=boss", "query.tier.0"),
        ("lat=20", "query.lon"),
        ("radius_m=100", "query.radius_m"),
        ("lat=20&lon=100&radius_m=-5", "query.radius_m"),
        ("lat=20&lon=100&radius_m=nan", "query.radius_m"),
        ("lat=91&lon=100", "query.lat"),
        ("bbox=1,2,3", "query.bbox"),
        ("bbox=3,2,1,4", "query.bbox"),
        ("bbox=a,b,c,d", "query.bbox.0"),
        ("crs=gcj02", "query.crs"),
        ("limit=0", "query.limit"),
        ("limit=5000", "query.limit"),
        ("cursor=nonsense", "query.cursor"),
        ("cursor=WzFd&offset=5", "query.offset"),
        ("region=NOWHERE", "query.region"),
        ("distributor=NOBODY", "query.distributor"),
        ("geotagged=maybe", "query.geotagged"),
        ("format=kml", "query.format"),
    ],
)
def test_list_rejects_bad_parameters(client, world, query, field):
    response = client.get(f"{API}/outlets?{query}")
    assert response.status_code == 422, response.get_json()
    assert field in fields(response), response.get_json()


def test_near_cursor_does_not_fit_an_id_list(client, world):
    near = client.get(f"{API}/outlets?lat=20.3&lon=100.3&limit=1").get_json()
    response = client.get(f"{API}/outlets?limit=1&cursor={near['next_cursor']}")
    assert response.status_code == 422 and "query.cursor" in fields(response)


@pytest.mark.parametrize(
    "filters",
    [
        svc.OutletFilters(),
        svc.OutletFilters(region="C1", tier=["retail", "wholesaler_3"]),
        svc.OutletFilters(distributor="DA", geotagged=True, q="a"),
        svc.OutletFilters(status=["active"], bbox=(100, 20, 101, 21)),
        svc.OutletFilters(near=(100.3, 20.3), radius_m=80_000, region="P"),
        svc.OutletFilters(near=(101.5, 21.5), distributor="DB"),
    ],
)
def test_service_statement_and_cached_page_agree(session, world, filters):
    """select_outlets/count_outlets (what exports and maps reuse) = the API's cached fast path."""
    full = session.execute(svc.select_outlets(filters)).mappings().all()
    total = session.execute(svc.count_outlets(filters)).scalar_one()
    rows, page_total = svc.outlet_page(session, filters, limit=3, offset=1)
    assert total == page_total == len(full)
    assert [r["id"] for r in rows] == [r["id"] for r in full[1:4]]
    assert [r["distance_m"] for r in rows] == [r["distance_m"] for r in full[1:4]]


def test_lists_show_reps_and_managers_only_their_outlets(app, connection, world, sql):
    rep = add_user(connection, "rep-li", "rep")
    sql("UPDATE outlets SET rep_id = :r WHERE code IN ('RA1', 'RA2')", r=rep)
    manager = add_user(connection, "mgr-wang", "manager", regions=("C2",))
    as_rep = token_client(app, add_token(connection, rep))
    as_manager = token_client(app, add_token(connection, manager))
    page = as_rep.get(f"{API}/outlets").get_json()
    assert [i["code"] for i in page["items"]] == ["RA1", "RA2"] and page["total"] == 2
    near = as_rep.get(f"{API}/outlets?lat=20.3&lon=100.3&limit=1&count=true").get_json()
    assert [i["code"] for i in near["items"]] == ["RA1"] and near["total"] == 2
    assert codes(as_manager.get(f"{API}/outlets")) == ["DB", "RB1"]
    assert codes(as_manager.get(f"{API}/outlets?lat=20.3&lon=100.3&radius_m=500000")) == [
        "DB",
        "RB1",
    ]
    assert as_manager.get(f"{API}/outlets?tier=retail").get_json()["total"] == 1


def test_json_response_is_the_json_the_json_module_writes(app):
    """The hot endpoints' serialiser (orjson) writes the same JSON as the json module would,
    UTF-8 as is, compact, keys in insertion order, timestamps in datetime.isoformat()'s form."""
    import datetime as dt
    import json

    from geo_crm.api import framework

    when = dt.datetime(2026, 11, 26, 21, 44, 17, 123456, tzinfo=dt.UTC)
    day = dt.date(2026, 11, 26)
    body = {"items": [{"name": "好又多超市", "lat": 30.2, "n": None, "at": when, "d": day}], "z": 1}
    with app.test_request_context():
        written = framework.json_response(body).get_data()
    plain = {"items": [{**body["items"][0], "at": when.isoformat(), "d": day.isoformat()}], "z": 1}
    assert written == json.dumps(plain, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize("lat", [0.0, 23.5, 45.0, 66.0, 80.0, -60.0])
@pytest.mark.parametrize("radius", [50.0, 5_000.0, 200_000.0])
def test_the_radius_box_holds_every_point_of_the_disc(lat, radius):
    """The near page reads only rows inside this box: every point at ``radius`` metres, in
    every direction (and so every point nearer), must lie in it."""
    box = svc._radius_box(100.0, lat, svc.radius_in_degrees(lat, radius), radius)
    azimuths = np.arange(0.0, 360.0, 2.5)
    lons, lats, _ = GEOD.fwd(
        np.full(len(azimuths), 100.0), np.full(len(azimuths), lat), azimuths,
        np.full(len(azimuths), radius),
    )  # fmt: skip
    assert (lons >= box["box_x0"]).all() and (lons <= box["box_x1"]).all()
    assert (lats >= box["box_y0"]).all() and (lats <= box["box_y1"]).all()
    # and never wider than the degree circle's square (narrower in latitude off the equator)
    assert box["box_y1"] - lat <= svc.radius_in_degrees(lat, radius)


def test_nearest_first_without_a_radius_counts_only_when_asked(client, world):
    """lat/lon alone: the total would count the caller's whole scope on every request, so it
    is null unless count=true is sent; with a radius it counts the disc as before."""
    base = f"{API}/outlets?lat=20.3&lon=100.3&limit=1"
    unbounded = client.get(base).get_json()
    assert unbounded["total"] is None and len(unbounded["items"]) == 1
    assert unbounded["next_cursor"] is not None  # paging does not need the total
    everything = client.get(f"{API}/outlets?geotagged=true&limit=1").get_json()["total"]
    assert client.get(base + "&count=true").get_json()["total"] == everything
    assert client.get(base + "&count=false").get_json()["total"] is None
    within = client.get(base + "&radius_m=70000").get_json()
    asked = client.get(base + "&radius_m=70000&count=true").get_json()
    assert within["total"] == asked["total"] >= 1
    assert within["total"] == len(
        client.get(f"{API}/outlets?lat=20.3&lon=100.3&radius_m=70000&limit=1000").get_json()[
            "items"
        ]
    )
