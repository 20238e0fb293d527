"""Region boundaries: the echarts decoder, the shipped files, the loader and ``geo-crm regions``."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import pyogrio
import pyogrio.raw
import pytest
import shapely
from pyproj import CRS, Transformer

from geo_crm.errors import ValidationError
from geo_crm.io.boundaries import default_region_files, load_region_files

ROOT = Path(__file__).resolve().parent.parent
PROVINCE = "330000"  # Zhejiang: 11 cities, several of them invalid as shipped


def _load_script(name: str):
    """A build-time module of scripts/ (not part of the geo_crm package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_echarts = _load_script("echarts_decode")
decode_geometry, decode_ring, split_islands = (
    _echarts.decode_geometry,
    _echarts.decode_ring,
    _echarts.split_islands,
)


def read_layer(path: Path) -> tuple[dict, np.ndarray]:
    """(columns by name, shapely geometries) of a geodata file, as the loader reads it."""
    meta, _, wkbs, values = pyogrio.raw.read(path)
    return dict(zip(meta["fields"], values, strict=True)), shapely.from_wkb(wkbs)


def write_geojson(path: Path, features: list[tuple[dict, dict | None]], crs: str | None = None):
    """features: (properties, geometry) pairs."""
    body: dict = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in features],
    }
    if crs:
        body["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return path


def box(x0, y0, x1, y1) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


@pytest.fixture(scope="session")
def subset_files(tmp_path_factory) -> list[Path]:
    """Country + provinces + the cities of one province: the shipped data, loaded in ~1 s."""
    country, provinces, cities = default_region_files(districts=False)
    data = json.loads(cities.read_text(encoding="utf-8"))
    data["features"] = [f for f in data["features"] if f["properties"]["parent_code"] == PROVINCE]
    out = tmp_path_factory.mktemp("regions") / f"cities-{PROVINCE}.geojson"
    out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return [country, provinces, out]


def snapshot(sql) -> list[tuple]:
    return sql(
        "SELECT r.code, r.name, r.name_en, r.level, p.code, ST_AsEWKB(r.boundary), r.area_m2,"
        " ST_AsEWKB(r.label_point), r.updated_at, (SELECT count(*) FROM region_parts rp"
        " WHERE rp.region_id = r.id) FROM regions r LEFT JOIN regions p ON p.id = r.parent_id"
        " ORDER BY r.code"
    ).all()


# --- the echarts format ------------------------------------------------------------------------


def test_decode_ring_matches_echarts_zigzag_delta_format():
    # pairs (@,@) (D,A) (E,H): zig-zag 0,0 | 4,1 | 5,8 → deltas 0,0 | +2,-1 | -3,+4
    ring = decode_ring("@@DAEH", [120 * 1024, 30 * 1024], 1024)
    assert ring == [(120.0, 30.0), (120 + 2 / 1024, 30 - 1 / 1024), (120 - 1 / 1024, 30 + 3 / 1024)]
    assert decode_ring("@@DA", [10, 20], 10) == [(1.0, 2.0), (1.2, 1.9)]  # UTF8Scale honoured


def test_decode_geometry_and_islands_versus_holes():
    def enc(points: list[tuple[int, int]]) -> tuple[str, list[int]]:
        """Encode integer points the way echarts' build tool does (inverse of the decoder)."""
        chars, prev = [], points[0]
        for x, y in points:
            for d in (x - prev[0], y - prev[1]):
                chars.append(chr(((d << 1) ^ (d >> 31)) + 64))
            prev = (x, y)
        return "".join(chars), list(points[0])

    outer = enc([(0, 0), (10, 0), (10, 10), (0, 10)])
    hole = enc([(2, 2), (4, 2), (4, 4), (2, 4)])
    island = enc([(20, 0), (25, 0), (25, 5)])
    geometry = {
        "type": "Polygon",
        "coordinates": [outer[0], hole[0], island[0]],
        "encodeOffsets": [outer[1], hole[1], island[1]],
    }
    polygons = decode_geometry(geometry, scale=1)
    assert polygons == [
        [
            [(0, 0), (10, 0), (10, 10), (0, 10)],
            [(2, 2), (4, 2), (4, 4), (2, 4)],
            [(20, 0), (25, 0), (25, 5)],
        ]
    ]
    split = split_islands(polygons)
    assert split == [[polygons[0][0], polygons[0][1]], [polygons[0][2]]]
    multi = {
        "type": "MultiPolygon",
        "coordinates": [[outer[0]], [island[0]]],
        "encodeOffsets": [[outer[1]], [island[1]]],
    }
    assert decode_geometry(multi, scale=1) == [[polygons[0][0]], [polygons[0][2]]]


def test_decode_counts_utf16_code_units_like_javascript():
    # U+1F600 is two UTF-16 code units, i.e. one (x, y) pair for charCodeAt: 0xD83D, 0xDE00
    [(x, y)] = decode_ring("\U0001f600", [0, 0], 1)
    zz = [0xD83D - 64, 0xDE00 - 64]
    assert (x, y) == tuple((v >> 1) ^ -(v & 1) for v in zz)


def test_shipped_files_are_readable_geojson_with_the_documented_properties():
    files = default_region_files(districts=False)
    infos = [pyogrio.read_info(p) for p in files]
    assert [i["features"] for i in infos] == [1, 34, 367]
    assert {CRS(i["crs"]).to_epsg() for i in infos} == {4326}
    for info in infos:
        assert list(info["fields"]) == ["code", "name", "name_en", "level", "parent_code"]
    (country, country_geoms), (provinces, province_geoms), (cities, _) = map(read_layer, files)
    assert set(provinces["parent_code"]) == {"CN"} and all(provinces["name_en"])
    assert all(cities["name_en"])
    pairs = zip(cities["code"], cities["parent_code"], strict=True)
    assert all(parent == code[:2] + "0000" for code, parent in pairs)
    codes = list(cities["code"])
    assert len(set(codes)) == len(codes) and not set(codes) & set(provinces["code"])
    assert list(country["code"]) == ["CN"] and shapely.is_valid(country_geoms).all()
    assert not shapely.is_valid(province_geoms).all()  # kept as decoded: the loader repairs them


# --- the loader --------------------------------------------------------------------------------


def test_load_the_shipped_country_province_and_city_files(session, sql, record_property):
    """Everything but the districts (tests/test_districts_data.py loads Zhejiang's, and all of
    them in a slow test)."""
    files = default_region_files(districts=False)
    invalid = set()
    for path in files:
        columns, geoms = read_layer(path)
        invalid |= set(columns["code"][~shapely.is_valid(geoms)])
    started = time.perf_counter()
    report = load_region_files(session, files)
    seconds = time.perf_counter() - started
    record_property("load_seconds", round(seconds, 2))
    print(f"loaded {report.total} regions in {seconds:.2f} s")

    assert len(report.inserted) == 402 and not report.updated and not report.unchanged
    assert {code for code, _ in report.repaired} == invalid and len(invalid) > 100
    assert all(reason for _, reason in report.repaired)
    counts = dict(sql("SELECT level, count(*) FROM regions GROUP BY level").all())
    assert counts == {"country": 1, "province": 34, "city": 367}
    assert (
        sql(
            "SELECT count(*) FROM regions WHERE NOT ST_IsValid(boundary) OR ST_SRID(boundary)"
            " <> 4326 OR GeometryType(boundary) <> 'MULTIPOLYGON'"
        ).scalar()
        == 0
    )
    wrong_parents = (
        sql(
            "SELECT c.code FROM regions c LEFT JOIN regions p ON p.id = c.parent_id WHERE"
            " (c.level = 'city' AND p.code IS DISTINCT FROM left(c.code, 2) || '0000')"
            " OR (c.level = 'province' AND p.code IS DISTINCT FROM 'CN')"
            " OR (c.level = 'country' AND c.parent_id IS NOT NULL)"
        )
        .scalars()
        .all()
    )
    assert wrong_parents == []
    assert sql("SELECT count(DISTINCT region_id) FROM region_parts").scalar() == 402
    # China is ~9.6 M km²; the provinces and the cities should each cover about the same area
    areas = dict(sql("SELECT level, sum(area_m2) / 1e12 FROM regions GROUP BY level").all())
    assert all(9.3 < a < 9.8 for a in areas.values()), areas


def test_loading_twice_changes_nothing(session, sql, subset_files):
    first = load_region_files(session, subset_files)
    assert len(first.inserted) == 1 + 34 + 11 and first.repaired
    before = snapshot(sql)
    second = load_region_files(session, subset_files)
    assert second.unchanged == first.inserted
    assert not second.inserted and not second.updated
    assert second.repaired == first.repaired  # still reported: the files are still invalid
    assert snapshot(sql) == before


def test_a_changed_feature_is_updated_and_keeps_its_id(session, sql, tmp_path):
    path = write_geojson(
        tmp_path / "p.geojson",
        [({"code": "P1", "name": "一省", "level": "province"}, box(100, 20, 102, 22))],
    )
    load_region_files(session, [path])
    region_id = sql("SELECT id FROM regions WHERE code = 'P1'").scalar()
    write_geojson(
        path, [({"code": "P1", "name": "一省", "level": "province"}, box(100, 20, 103, 22))]
    )
    report = load_region_files(session, [path])
    assert report.updated == ["P1"] and not report.inserted
    assert sql("SELECT id, round(ST_XMax(boundary)) FROM regions WHERE code = 'P1'").one() == (
        region_id,
        103,
    )


def test_bow_tie_is_repaired_and_reported(session, sql, tmp_path):
    bow_tie = {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}
    path = write_geojson(
        tmp_path / "bowtie.geojson",
        [({"code": "BT", "name": "蝴蝶结", "level": "province"}, bow_tie)],
    )
    report = load_region_files(session, [path])
    assert report.inserted == ["BT"]
    [(code, reason)] = report.repaired
    assert code == "BT" and reason.startswith("Self-intersection")
    valid, kind, parts, area = sql(
        "SELECT ST_IsValid(boundary), GeometryType(boundary), ST_NumGeometries(boundary),"
        " ST_Area(boundary) FROM regions WHERE code = 'BT'"
    ).one()
    assert (valid, kind, parts, area) == (True, "MULTIPOLYGON", 2, pytest.approx(2.0))


@pytest.mark.parametrize(
    "degenerate",
    [
        [[5, 5], [5, 5]],  # two points, closed: GEOS cannot build it at all
        [[5, 5]],  # one point
        [[5, 5], [6, 6]],  # two points, open
        [[5, 5], [6, 6], [5, 5]],  # two points, closed
    ],
    ids=["two points closed", "one point", "two points", "two distinct points closed"],
)
def test_a_degenerate_ring_is_dropped_and_the_rest_kept(session, sql, tmp_path, degenerate):
    """Issue 17 (5): a real multipolygon with one ring of two points was refused whole as
    "no geometry"; the ring is dropped, the polygons kept and the repair reported."""
    island = box(0, 0, 1, 1)["coordinates"]
    lake = [[2.2, 0.2], [2.2, 0.2]]  # a two-point hole
    parts = {
        "type": "MultiPolygon",
        "coordinates": [island, [degenerate], [*box(2, 0, 3, 1)["coordinates"], lake]],
    }
    path = write_geojson(
        tmp_path / "rings.geojson",
        [({"code": "02105", "name": "两点环", "level": "province"}, parts)],
    )
    report = load_region_files(session, [path])
    assert report.inserted == ["02105"]
    [(code, reason)] = report.repaired
    assert code == "02105" and "ring" in reason and "no geometry" not in reason
    assert sql(
        "SELECT ST_NumGeometries(boundary), ST_NumInteriorRings(ST_GeometryN(boundary, 2)),"
        " round(ST_Area(boundary)::numeric, 6) FROM regions WHERE code = '02105'"
    ).one() == (2, 0, 2)


def test_file_in_web_mercator_is_reprojected(session, sql, tmp_path):
    to_3857 = Transformer.from_crs(4326, 3857, always_xy=True)
    (x0, x1), (y0, y1) = to_3857.transform([120, 121], [30, 31])
    path = tmp_path / "mercator.gpkg"
    pyogrio.raw.write(  # any OGR-readable format, not only GeoJSON
        path,
        geometry=np.array([shapely.to_wkb(shapely.box(x0, y0, x1, y1))], dtype=object),
        field_data=[np.array([v], dtype=object) for v in ("M1", "墨卡托", "province")],
        fields=["code", "name", "level"],
        driver="GPKG",
        geometry_type="Polygon",
        crs="EPSG:3857",
    )
    report = load_region_files(session, [path])
    assert report.reprojected == [str(path)] and report.inserted == ["M1"]
    bounds = sql(
        "SELECT ST_XMin(boundary), ST_YMin(boundary), ST_XMax(boundary),"
        " ST_YMax(boundary) FROM regions WHERE code = 'M1'"
    ).one()
    assert bounds == pytest.approx((120, 30, 121, 31), abs=1e-9)


def test_parents_by_containment_when_no_parent_code(session, sql, tmp_path):
    path = write_geojson(
        tmp_path / "nested.geojson",
        [
            ({"code": "D1", "name": "区", "level": "district"}, box(100.1, 20.1, 100.2, 20.2)),
            ({"code": "C1", "name": "市", "level": "city"}, box(100, 20, 101, 21)),
            ({"code": "P1", "name": "省", "level": "province"}, box(100, 20, 102, 22)),
            ({"code": "P2", "name": "邻省", "level": "province"}, box(102, 20, 104, 22)),
            # mostly in P2: the parent holds the larger part (its point on surface), not the corner
            ({"code": "C2", "name": "跨省市", "level": "city"}, box(101.8, 20, 103.5, 21)),
        ],
    )
    load_region_files(session, [path])
    parents = dict(
        sql("SELECT c.code, p.code FROM regions c LEFT JOIN regions p ON p.id = c.parent_id").all()
    )
    assert parents == {"D1": "C1", "C1": "P1", "C2": "P2", "P1": None, "P2": None}


def test_parent_code_may_name_a_stored_region_or_be_given(session, sql, tmp_path):
    write_geojson(
        tmp_path / "p.geojson",
        [({"code": "P1", "name": "省", "level": "province"}, box(100, 20, 102, 22))],
    )
    load_region_files(session, [tmp_path / "p.geojson"])
    # aliases: adcode (a number) and NAME; level and parent from the arguments
    write_geojson(
        tmp_path / "c.geojson", [({"adcode": 990100, "NAME": "市"}, box(110, 30, 111, 31))]
    )
    report = load_region_files(session, [tmp_path / "c.geojson"], level="city", parent_code="P1")
    assert report.inserted == ["990100"]
    assert (
        sql(
            "SELECT p.code FROM regions c JOIN regions p ON p.id = c.parent_id"
            " WHERE c.code = '990100'"
        ).scalar()
        == "P1"
    )


@pytest.mark.parametrize(
    ("features", "fragment"),
    [
        ([({"code": "A", "level": "province"}, box(0, 0, 1, 1))], "feature 1: no 'name' property"),
        (
            [
                ({"name": "x", "level": "province"}, box(0, 0, 1, 1)),
                ({"name": "y", "level": "province"}, box(0, 0, 1, 1)),
            ],
            "feature 2: no 'code' property",
        ),
        ([({"code": "A", "name": "x"}, box(0, 0, 1, 1))], "no 'level' property"),
        (
            [({"code": "A", "name": "x", "level": "county"}, box(0, 0, 1, 1))],
            "unknown level 'county'",
        ),
        (
            [({"code": "A", "name": "x", "level": "city", "parent_code": "NOPE"}, box(0, 0, 1, 1))],
            "parent 'NOPE' is neither in the files nor in the database",
        ),
        (
            [
                ({"code": "A", "name": "x", "level": "city"}, box(0, 0, 1, 1)),
                ({"code": "B", "name": "y", "level": "city", "parent_code": "A"}, box(0, 0, 1, 1)),
            ],
            "parent 'A' is a city; a parent must be of a higher level",
        ),
        (
            [
                ({"code": "A", "name": "x", "level": "city"}, box(0, 0, 1, 1)),
                ({"code": "A", "name": "y", "level": "city"}, box(0, 0, 1, 1)),
            ],
            "code 'A' appears twice",
        ),
        (
            [({"code": "A", "name": "x", "level": "city"}, box(500000, 0, 500001, 1))],
            "outside the longitude/latitude range",
        ),
        (
            [
                ({"code": "A", "name": "x", "level": "city"}, None),
                ({"code": "B", "name": "y", "level": "city"}, box(0, 0, 1, 1)),
            ],
            "feature 1 (A): no geometry",
        ),
        (
            [
                (
                    {"code": "A", "name": "x", "level": "city"},
                    {"type": "Polygon", "coordinates": [[[5, 5], [5, 5]]]},
                ),
                ({"code": "B", "name": "y", "level": "city"}, box(0, 0, 1, 1)),
            ],
            "feature 1 (A): no ring has 4 or more points",
        ),
    ],
)
def test_bad_features_are_rejected_with_a_clear_message(session, sql, tmp_path, features, fragment):
    path = write_geojson(tmp_path / "bad.geojson", features)
    with pytest.raises(ValidationError) as caught:
        load_region_files(session, [path])
    text = caught.value.message + " " + " ".join(caught.value.fields.values())
    assert fragment in text
    assert sql("SELECT count(*) FROM regions").scalar() == 0


def test_outlet_inside_a_loaded_city_gets_that_city(session, sql, subset_files):
    load_region_files(session, subset_files)
    hangzhou, zhejiang, beijing = (
        sql("SELECT id FROM regions WHERE code = :c", c=c).scalar()
        for c in ("330100", "330000", "110000")
    )
    for code, region in (("330100", hangzhou), ("110000", beijing)):
        got = sql(
            "INSERT INTO outlets (code, name, tier, location) SELECT :o, '门店', 'retail',"
            " label_point FROM regions WHERE code = :c RETURNING region_id",
            o=f"O-{code}",
            c=code,
        ).scalar()
        assert got == region  # the city where there is one, else the province
    assert zhejiang != hangzhou


# --- the command line --------------------------------------------------------------------------


def test_cli_load_then_list(cli, subset_files):
    paths = [str(p) for p in subset_files]
    result = cli.invoke(args=["regions", "load", *paths])
    assert result.exit_code == 0, result.output
    assert "inserted: 46" in result.output and "330100" in result.output
    assert "Self-intersection" in result.output
    again = cli.invoke(args=["regions", "load", *paths])
    assert again.exit_code == 0, again.output
    assert "inserted: 0" in again.output and "unchanged: 46" in again.output
    listed = cli.invoke(args=["regions", "list", "--level", "city"])
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if line.startswith("330100"))
    assert row.split()[:3] == ["330100", "city", "330000"] and "杭州" in row
    assert "11 regions" in listed.output


def test_cli_rejects_an_unreadable_file(cli, tmp_path):
    bad = tmp_path / "broken.geojson"
    bad.write_text("this is not geojson", encoding="utf-8")
    result = cli.invoke(args=["regions", "load", str(bad)])
    assert result.exit_code == 1
    assert f"error: {bad}: cannot read the file" in result.output
    assert "Traceback" not in result.output


def test_cli_rejects_a_file_with_only_points(cli, tmp_path):
    path = write_geojson(
        tmp_path / "points.geojson",
        [({"code": "X", "name": "点", "level": "city"}, {"type": "Point", "coordinates": [1, 2]})],
    )
    result = cli.invoke(args=["regions", "load", str(path)])
    assert result.exit_code == 1
    assert f"error: {path}: no usable Polygon or MultiPolygon geometry" in result.output
    assert "Point" in result.output


def test_cli_rejects_a_missing_file(cli, tmp_path):
    result = cli.invoke(args=["regions", "load", str(tmp_path / "nope.geojson")])
    assert result.exit_code == 1 and "no such file" in result.output
