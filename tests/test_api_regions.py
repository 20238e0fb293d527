"""Regions over HTTP: the tree, a boundary as GeoJSON (simplified in metres), outlet counts."""

from __future__ import annotations

import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, shape

API = "/api/v1"


def add_region(sql, code, level, boundary_sql, parent=None, name=None):
    sql(
        f"INSERT INTO regions (code, name, name_en, level, parent_id, boundary) VALUES "
        f"(:code, :name, :en, "
        f":level, (SELECT id FROM regions WHERE code = :parent), {boundary_sql})",
        code=code,
        name=name or f"区域{code}",
        en=f"Region {code}",
        level=level,
        parent=parent,
    )


def box(x0, y0, x1, y1) -> str:
    return f"ST_Multi(ST_MakeEnvelope({x0}, {y0}, {x1}, {y1}, 4326))"


def add_outlet(sql, code, tier, lon, lat, status="active"):
    sql(
        "INSERT INTO outlets (code, name, tier, location, status) VALUES (:c, :n, :t, "
        "ST_SetSRID(ST_MakePoint(:x, :y), 4326), :s)",
        c=code,
        n=code,
        t=tier,
        x=lon,
        y=lat,
        s=status,
    )


@pytest.fixture
def regions(sql):
    add_region(sql, "CN", "country", box(99, 19, 103, 23), name="中国")
    add_region(sql, "P", "province", box(100, 20, 102, 22), parent="CN", name="测试省")
    add_region(sql, "C1", "city", box(100, 20, 100.99, 21), parent="P")
    add_region(sql, "D1", "district", box(100, 20, 100.5, 20.5), parent="C1")
    add_region(sql, "C2", "city", box(101.01, 20, 102, 22), parent="P")
    # a round city: a geodesic circle of 5 km drawn with 1,025 vertices
    add_region(
        sql,
        "ROUND",
        "city",
        "ST_Multi(ST_Buffer(CAST(ST_SetSRID(ST_MakePoint(102.5, 22.5), 4326) AS geography), "
        "5000, 256)::geometry)",
        parent=None,
    )
    add_region(sql, "XX", "country", box(10, 10, 11, 11))


def test_tree_nests_regions_by_code(client, regions):
    response = client.get(f"{API}/regions")
    assert response.status_code == 200
    roots = response.get_json()
    assert [r["code"] for r in roots] == ["CN", "ROUND", "XX"]
    cn = roots[0]
    assert cn["name"] == "中国" and cn["level"] == "country"
    [province] = cn["children"]
    assert [c["code"] for c in province["children"]] == ["C1", "C2"]
    assert [d["code"] for d in province["children"][0]["children"]] == ["D1"]
    assert province["children"][0]["children"][0]["children"] == []


def test_tree_from_a_root(client, regions):
    roots = client.get(f"{API}/regions?root=C1").get_json()
    assert [r["code"] for r in roots] == ["C1"]
    assert [c["code"] for c in roots[0]["children"]] == ["D1"]
    response = client.get(f"{API}/regions?root=NOPE")
    assert response.status_code == 422 and "query.root" in response.get_json()["error"]["fields"]


def test_region_feature_with_boundary(client, regions):
    response = client.get(f"{API}/regions/C1")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    feature = response.get_json()
    assert feature["type"] == "Feature" and feature["id"] == "C1"
    geom = shape(feature["geometry"])
    assert isinstance(geom, MultiPolygon) and geom.is_valid
    assert geom.bounds == pytest.approx((100, 20, 100.99, 21))
    assert feature["bbox"] == pytest.approx([100, 20, 100.99, 21])
    props = feature["properties"]
    assert (
        props["parent_code"] == "P" and props["level"] == "city" and props["name_en"] == "Region C1"
    )
    assert props["area_m2"] == pytest.approx(1.14e10, rel=0.02)
    assert geom.contains(
        shape(
            {
                "type": "Point",
                "coordinates": [props["label_point"]["lon"], props["label_point"]["lat"]],
            }
        )
    )


def test_simplify_in_metres_keeps_the_shape_within_the_tolerance(client, regions):
    full = client.get(f"{API}/regions/ROUND").get_json()
    simple = client.get(f"{API}/regions/ROUND?simplify_m=50").get_json()
    assert full["properties"]["vertices"] > 1000
    assert simple["properties"]["vertices"] < full["properties"]["vertices"] / 4
    assert simple["properties"]["simplify_m"] == 50
    to_metres = Transformer.from_crs(
        "EPSG:4326", "+proj=aeqd +lat_0=22.5 +lon_0=102.5 +datum=WGS84", always_xy=True
    ).transform
    a = shapely.transform(shape(full["geometry"]), to_metres, interleaved=False)
    b = shapely.transform(shape(simple["geometry"]), to_metres, interleaved=False)
    assert b.is_valid
    assert shapely.hausdorff_distance(a, b) <= 50 * 1.01
    assert b.area == pytest.approx(a.area, rel=0.01)


def test_an_absurd_tolerance_still_returns_a_boundary(client, regions):
    feature = client.get(f"{API}/regions/ROUND?simplify_m=100000").get_json()
    assert not shape(feature["geometry"]).is_empty


@pytest.mark.parametrize(
    "query", ["simplify_m=0", "simplify_m=-3", "simplify_m=abc", "simplify_m=1e9", "x=1"]
)
def test_bad_simplify_is_422(client, regions, query):
    response = client.get(f"{API}/regions/C1?{query}")
    assert response.status_code == 422
    assert next(iter(response.get_json()["error"]["fields"])).startswith("query.")


def test_unknown_region_is_404(client, regions):
    assert client.get(f"{API}/regions/NOPE").status_code == 404
    assert client.get(f"{API}/regions/NOPE/outlet-counts").status_code == 404


def test_outlet_counts_roll_up_sub_regions(client, regions, sql):
    add_outlet(sql, "d1", "distributor", 100.2, 20.2)  # D1 (so C1, P, CN)
    add_outlet(sql, "r1", "retail", 100.3, 20.3)  # D1
    add_outlet(sql, "r2", "retail", 100.8, 20.8)  # C1 itself
    add_outlet(sql, "r3", "retail", 101.5, 21.5)  # C2
    add_outlet(sql, "r4", "retail", 101.6, 21.6, status="inactive")  # C2, not active
    add_outlet(sql, "w1", "wholesaler_2", 100.995, 21.5)  # P itself, between the cities
    add_outlet(sql, "far", "retail", 10.5, 10.5)  # another country
    body = client.get(f"{API}/regions/P/outlet-counts").get_json()
    assert body["code"] == "P" and body["total"] == 5
    assert body["by_tier"] == {"distributor": 1, "wholesaler_2": 1, "wholesaler_3": 0, "retail": 3}
    assert body["own"] == {"distributor": 0, "wholesaler_2": 1, "wholesaler_3": 0, "retail": 0}
    children = {c["code"]: c for c in body["children"]}
    assert children["C1"]["by_tier"]["retail"] == 2 and children["C1"]["total"] == 3
    assert children["C2"]["total"] == 1
    everything = client.get(f"{API}/regions/P/outlet-counts?status=active,inactive").get_json()
    assert everything["total"] == 6
    cn = client.get(f"{API}/regions/CN/outlet-counts").get_json()
    assert cn["total"] == 5 and [c["code"] for c in cn["children"]] == ["P"]
    assert client.get(f"{API}/regions/D1/outlet-counts").get_json()["total"] == 2
    response = client.get(f"{API}/regions/P/outlet-counts?status=sleeping")
    assert response.status_code == 422
