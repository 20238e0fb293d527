"""Load administrative region boundaries from GeoJSON (or any OGR-readable file) into ``regions``.

Set-based: every feature goes into a temporary staging table in one ``executemany``; repairs,
parent look-ups and the upsert are a few SQL statements, whatever the number of regions. The
triggers on ``regions`` keep ``region_parts`` and the outlets' ``region_id`` in step, so the
loader never touches either. It runs inside the caller's transaction and never commits.
"""

from __future__ import annotations

import json
import math
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyogrio.raw
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..db.translate import translate
from ..errors import ValidationError
from ..models import REGION_LEVELS
from ..resources import resource_dir
from .antimeridian import split_at_antimeridian

# the provinces with a district file (data/regions/cn-districts-<code>.geojson)
DISTRICT_PROVINCES = (
    "110000",
    "120000",
    "130000",
    "140000",
    "150000",
    "210000",
    "220000",
    "230000",
    "310000",
    "320000",
    "330000",
    "340000",
    "350000",
    "360000",
    "370000",
    "410000",
    "420000",
    "430000",
    "440000",
    "450000",
    "460000",
    "500000",
    "510000",
    "520000",
    "530000",
    "540000",
    "610000",
    "620000",
    "630000",
    "640000",
    "650000",
    "710000",
    "810000",
    "820000",
)
# parents before children: country, provinces, cities, then the districts of each province
SHIPPED_FILES = (
    "cn-country.geojson",
    "cn-provinces.geojson",
    "cn-cities.geojson",
    *(f"cn-districts-{code}.geojson" for code in DISTRICT_PROVINCES),
)

# accepted property names, compared case-insensitively, first match wins
ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("code", "adcode", "region_code", "id"),
    "name": ("name", "name_zh", "name_cn"),
    "name_en": ("name_en", "name_eng", "ename"),
    "level": ("level",),
    "parent_code": ("parent_code", "parent_adcode", "parent"),
}
MAX_PROBLEMS = 20  # listed in one error; the message says how many there were
_WGS84 = CRS.from_epsg(4326)


@dataclass
class LoadReport:
    """What a load did: codes per outcome, repaired codes with the reason, reprojected files."""

    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    repaired: list[tuple[str, str]] = field(default_factory=list)
    reprojected: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.inserted) + len(self.updated) + len(self.unchanged)


@dataclass
class _Feature:
    source: str
    number: int  # 1-based position in its file, for messages
    code: str
    name: str
    name_en: str | None
    level: str
    parent_code: str | None
    wkb: bytes
    fixes: list[str]


def default_region_files(*, districts: bool = True) -> list[Path]:
    """The boundaries shipped in data/regions, parents before children; ``districts=False``:
    only the country, province and city files (the districts are ~85 % of the vertices)."""
    folder = resource_dir("regions_data")
    names = SHIPPED_FILES if districts else SHIPPED_FILES[:3]
    return [folder / name for name in names]


def load_region_files(
    session: Session, paths, *, level: str | None = None, parent_code: str | None = None
) -> LoadReport:
    """Upsert the regions of ``paths`` by code; ``level``/``parent_code`` override the files'.

    Raises ValidationError (naming file, feature and problem) before anything is written
    when an input is unusable.
    """
    if level is not None and level not in REGION_LEVELS:
        raise ValidationError(f"unknown level {level!r}: use one of {', '.join(REGION_LEVELS)}")
    report = LoadReport()
    features: list[_Feature] = []
    for path in paths:
        features += _read_file(Path(path), level, parent_code, report)
    if not features:
        raise ValidationError("no region files to load")
    _check_unique(features)
    try:
        _stage(session, features)
        _repair(session, features, report)
        _check_parents(session)
        for lvl in sorted({f.level for f in features}, key=REGION_LEVELS.index):
            _upsert_level(session, lvl, report)
        session.execute(text("DROP TABLE pg_temp.geo_crm_region_stage"))
    except DBAPIError as exc:
        translated = translate(exc)
        if translated is None:
            raise
        raise translated from exc
    order = {f.code: i for i, f in enumerate(features)}
    for codes in (report.inserted, report.updated, report.unchanged):
        codes.sort(key=order.__getitem__)
    report.repaired.sort(key=lambda item: order[item[0]])
    return report


# --- reading ---------------------------------------------------------------------------------


def _read_file(
    path: Path, level: str | None, parent_code: str | None, report: LoadReport
) -> list[_Feature]:
    name = str(path)
    if not path.exists():
        raise ValidationError(f"{name}: no such file")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            meta, _, wkbs, columns = pyogrio.raw.read(path, force_2d=True)
        except Exception as exc:  # pyogrio raises DataSourceError, GDAL errors, UnicodeError …
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValidationError(f"{name}: cannot read the file as geodata ({first})") from None
    report.warnings += [f"{name}: {w.message}" for w in caught]
    if wkbs is None or len(wkbs) == 0:
        raise ValidationError(f"{name}: the file holds no features")
    geoms, salvaged = _polygons(name, wkbs)
    geoms = _to_wgs84(name, meta.get("crs"), geoms, report)

    fields: dict[str, object] = {}
    for field_name, column in zip(meta["fields"], columns, strict=True):
        fields.setdefault(str(field_name).lower(), column)
    picked = {
        key: next((fields[a] for a in aliases if a in fields), None)
        for key, aliases in ALIASES.items()
    }
    problems: list[str] = []
    out: list[_Feature] = []
    for i, geom in enumerate(geoms):
        number = i + 1
        values = {key: _text(col[i]) if col is not None else None for key, col in picked.items()}
        if level is not None:
            values["level"] = level
        if parent_code is not None:
            values["parent_code"] = parent_code
        missing = [k for k in ("code", "name", "level") if not values[k]]
        if missing:
            problems += [
                f"feature {number}: no {k!r} property (looked for "
                f"{', '.join(ALIASES[k])}{', or give a level' if k == 'level' else ''})"
                for k in missing
            ]
            continue
        lvl = values["level"].lower()
        if lvl not in REGION_LEVELS:
            problems.append(
                f"feature {number} ({values['code']}): unknown level {lvl!r}, "
                f"expected one of {', '.join(REGION_LEVELS)}"
            )
            continue
        if len(values["code"]) > 32:
            problems.append(f"feature {number}: code {values['code']!r} is longer than 32")
            continue
        if isinstance(geom, str):
            problems.append(f"feature {number} ({values['code']}): {geom}")
            continue
        geom, fixes = _drop_short_rings(geom, salvaged.get(i, 0))
        if geom is None:
            problems.append(f"feature {number} ({values['code']}): no ring has 4 or more points")
            continue
        geom, cut = split_at_antimeridian(geom)
        fixes = [*fixes, *cut]
        out.append(
            _Feature(
                name,
                number,
                values["code"],
                values["name"],
                values["name_en"],
                lvl,
                _parent(values["parent_code"]),
                shapely.to_wkb(geom),
                fixes,
            )
        )
    if problems:
        _raise(name, problems)
    return out


def _polygons(name: str, wkbs) -> tuple[list, dict[int, int]]:
    """Parse WKB (closing unclosed rings, which GDAL passes on with a warning) and keep the
    polygonal part of each feature; a feature without one becomes the message why.

    GEOS cannot build a ring of fewer than 3 positions even to fix it, so one such ring (a
    point repeated, as real files hold) would lose the whole feature: those features are read
    ring by ring instead and the short rings left out. Returns the geometries and, by feature
    index, how many rings were left out that way."""
    out: list = []
    salvaged: dict[int, int] = {}
    for i, geom in enumerate(shapely.from_wkb(wkbs, on_invalid="fix")):
        if geom is None and wkbs[i] is not None:
            geom, dropped = _salvage(bytes(wkbs[i]))
            if geom is None:
                out.append("no ring has 4 or more points" if dropped else "unreadable geometry")
                continue
            salvaged[i] = dropped
        if geom is not None and geom.geom_type == "GeometryCollection":
            parts = [p for p in _flat(shapely.get_parts(geom)) if p.geom_type == "Polygon"]
            geom = shapely.MultiPolygon(parts) if parts else geom
        if geom is None:
            out.append("no geometry")
        elif geom.geom_type not in ("Polygon", "MultiPolygon"):
            out.append(f"geometry is a {geom.geom_type}, expected Polygon or MultiPolygon")
        elif geom.is_empty:
            out.append("empty geometry")
        else:
            out.append(geom)
    if all(isinstance(g, str) for g in out):
        found = sorted(set(out))
        raise ValidationError(
            f"{name}: no usable Polygon or MultiPolygon geometry in the file ({'; '.join(found)})"
        )
    return out, salvaged


def _salvage(wkb: bytes) -> tuple[object | None, int]:
    """(the polygons of a WKB geometry GEOS refused, built from their rings of 4 or more
    positions once closed; how many rings were left out), or (None, n) when no polygon is
    left."""
    try:
        polygons = _wkb_polygons(memoryview(wkb), 0)[0]
    except (ValueError, IndexError, struct.error):
        return None, 0
    kept, dropped = [], 0
    for rings in polygons:
        closed = [r if len(r) and (r[0] == r[-1]).all() else np.vstack([r, r[:1]]) for r in rings]
        if not closed or len(closed[0]) < 4:
            dropped += len(closed)
            continue
        holes = [r for r in closed[1:] if len(r) >= 4]
        dropped += len(closed) - 1 - len(holes)
        kept.append(shapely.Polygon(closed[0], holes))
    return (shapely.MultiPolygon(kept) if kept else None), dropped


_WKB_POLYGON, _WKB_COLLECTIONS = 3, (4, 5, 6, 7)


def _wkb_polygons(data: memoryview, at: int) -> tuple[list[list[np.ndarray]], int]:
    """The polygons (each a list of rings, each an (n, 2) array) of the WKB geometry at ``at``,
    and the offset after it. Points and lines are read past; ISO and EWKB type codes."""
    order = "<" if data[at] == 1 else ">"
    (code,) = struct.unpack_from(order + "I", data, at + 1)
    at += 5
    if code & 0x20000000:  # EWKB: an SRID follows the type
        at += 4
    dims = 2 + bool(code & 0x80000000) + bool(code & 0x40000000)
    code &= 0x0FFFFFFF
    dims += {1: 1, 2: 1, 3: 2}.get(code // 1000, 0)
    kind = code % 1000

    def count() -> int:
        nonlocal at
        (n,) = struct.unpack_from(order + "I", data, at)
        at += 4
        return n

    def points(n: int) -> np.ndarray:
        nonlocal at
        values = np.frombuffer(data, dtype=order + "f8", count=n * dims, offset=at)
        at += 8 * n * dims
        return values.reshape(n, dims)[:, :2]

    if kind == 1:
        points(1)
        return [], at
    if kind == 2:
        points(count())
        return [], at
    if kind == _WKB_POLYGON:
        return [[points(count()) for _ in range(count())]], at
    if kind in _WKB_COLLECTIONS:
        out: list[list[np.ndarray]] = []
        for _ in range(count()):
            found, at = _wkb_polygons(data, at)
            out += found
        return out, at
    raise ValueError(f"WKB geometry type {code} is not read")


def _flat(parts) -> list:
    return [p for part in parts for p in shapely.get_parts(part)]


def _to_wgs84(name: str, crs_text: str | None, geoms: list, report: LoadReport) -> list:
    """Reproject from a declared CRS; without one, assume WGS 84 as GeoJSON does."""
    if not crs_text:
        report.warnings.append(f"{name}: no coordinate system declared, assuming EPSG:4326")
        return geoms
    try:
        crs = CRS.from_user_input(crs_text)
    except CRSError as exc:
        raise ValidationError(f"{name}: unknown coordinate system ({exc})") from None
    if crs.equals(_WGS84, ignore_axis_order=True):
        return geoms
    transformer = Transformer.from_crs(crs, _WGS84, always_xy=True)
    report.reprojected.append(name)
    return [
        shapely.transform(g, lambda xy: np.column_stack(transformer.transform(*xy.T)))
        if not isinstance(g, str)
        else g
        for g in geoms
    ]


def _drop_short_rings(geom, dropped: int = 0) -> tuple[object | None, list[str]]:
    """PostGIS refuses rings of fewer than 4 points (GDAL and shapely accept them): drop them,
    with the polygon whose exterior it is, and say so (``dropped``: rings already left out
    while reading)."""
    polys = list(shapely.get_parts(geom))
    counts = [[len(p.exterior.coords), *(len(r.coords) for r in p.interiors)] for p in polys]
    if all(n >= 4 for c in counts for n in c):
        fixes = [f"dropped {dropped} ring(s) with fewer than 4 points"] if dropped else []
        return geom, fixes
    kept = []
    for poly, c in zip(polys, counts, strict=True):
        if c[0] < 4:
            dropped += len(c)
            continue
        holes = [r for r, n in zip(poly.interiors, c[1:], strict=True) if n >= 4]
        dropped += len(c) - 1 - len(holes)
        kept.append(shapely.Polygon(poly.exterior, holes))
    fix = f"dropped {dropped} ring(s) with fewer than 4 points"
    return (shapely.MultiPolygon(kept) if kept else None), [fix]


def _text(value) -> str | None:
    """A property as trimmed text; 330000.0 from a numeric column becomes '330000'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)
    value = str(value).strip()
    return value or None


def _parent(value: str | None) -> str | None:
    """DataV-style files carry the parent as a JSON object {"adcode": 330000}."""
    if value and value.startswith("{"):
        try:
            obj = json.loads(value)
        except ValueError:
            return value
        return _text(obj.get("adcode") or obj.get("code")) if isinstance(obj, dict) else value
    return value


def _check_unique(features: list[_Feature]) -> None:
    seen: dict[str, _Feature] = {}
    problems = []
    for f in features:
        if f.code in seen:
            first = seen[f.code]
            problems.append(
                f"code {f.code!r} appears twice: {first.source} feature {first.number}"
                f" and {f.source} feature {f.number}"
            )
        seen.setdefault(f.code, f)
    if problems:
        _raise("input", problems)


def _raise(where: str, problems: list[str]) -> None:
    shown = problems[:MAX_PROBLEMS]
    more = len(problems) - len(shown)
    head = shown[0] if len(problems) == 1 else f"{len(problems)} problems, first: {shown[0]}"
    fields = {f"{where} #{i + 1}": p for i, p in enumerate(shown)}
    if more:
        fields["…"] = f"and {more} more"
    raise ValidationError(f"{where}: {head}", fields=fields)


# --- database --------------------------------------------------------------------------------


def _stage(session: Session, features: list[_Feature]) -> None:
    session.execute(text("DROP TABLE IF EXISTS pg_temp.geo_crm_region_stage"))
    session.execute(
        text(
            "CREATE TEMP TABLE geo_crm_region_stage ("
            " ord integer PRIMARY KEY, code text NOT NULL UNIQUE, name text NOT NULL, name_en text,"
            " level text NOT NULL, parent_code text, geom geometry NOT NULL, reason text,"
            " parent_id integer) ON COMMIT DROP"
        )
    )
    session.execute(
        text(
            "INSERT INTO geo_crm_region_stage (ord, code, name, name_en, level, parent_code, geom)"
            " VALUES (:ord, :code, :name, :name_en, :level, :parent_code,"
            " ST_GeomFromWKB(:wkb, 4326))"
        ),
        [
            {
                "ord": i,
                "code": f.code,
                "name": f.name,
                "name_en": f.name_en,
                "level": f.level,
                "parent_code": f.parent_code,
                "wkb": f.wkb,
            }
            for i, f in enumerate(features)
        ],
    )


def _repair(session: Session, features: list[_Feature], report: LoadReport) -> None:
    """Repair invalid polygons, then refuse what is still unusable.

    ``method=structure`` (union the exteriors, subtract the holes) rather than the default
    ``linework``: on the shipped data linework drops whole island parts by even-odd parity
    (≈0.16 deg² of 巴音郭楞, 3 % of 博尔塔拉) and takes about 4x as long.

    GEOS's structure repair can itself return an invalid polygon (a self-intersection where a
    repaired shell meets itself: 4 of the shipped district boundaries); a second, linework pass
    on that output repairs it without losing area, and the reason says so.
    """
    reasons = dict(
        session.execute(
            text(
                "UPDATE geo_crm_region_stage SET reason = ST_IsValidReason(geom),"
                " geom = ST_CollectionExtract(ST_MakeValid(geom, 'method=structure'), 3)"
                " WHERE NOT (ST_IsValidDetail(geom)).valid RETURNING code, reason"
            )
        ).all()
    )
    twice = session.scalars(
        text(
            "UPDATE geo_crm_region_stage SET"
            " geom = ST_CollectionExtract(ST_MakeValid(geom, 'method=linework'), 3)"
            " WHERE reason IS NOT NULL AND NOT ST_IsEmpty(geom)"
            " AND NOT (ST_IsValidDetail(geom)).valid RETURNING code"
        )
    ).all()
    for code in twice:
        reasons[code] += " (still invalid after the structure repair: repaired again by linework)"
    session.execute(text("UPDATE geo_crm_region_stage SET geom = ST_Multi(geom)"))
    for f in features:
        why = [*f.fixes, *([reasons[f.code]] if f.code in reasons else [])]
        if why:
            report.repaired.append((f.code, "; ".join(why)))
    bad = session.execute(
        text(
            "SELECT ord, CASE WHEN ST_IsEmpty(geom) THEN 'no area left after repair'"
            " WHEN NOT ST_IsValid(geom) THEN 'still invalid after repair: ' || "
            "ST_IsValidReason(geom)"
            " ELSE 'coordinates outside the longitude/latitude range (' || Box2D(geom)::text"
            " || '): is the coordinate system declared?' END"
            " FROM geo_crm_region_stage WHERE ST_IsEmpty(geom) OR NOT "
            "(ST_IsValidDetail(geom)).valid"
            " OR ST_XMin(geom) < -180 OR ST_XMax(geom) > 180 OR ST_YMin(geom) < -90"
            " OR ST_YMax(geom) > 90 ORDER BY ord"
        )
    ).all()
    if bad:
        _raise(
            "input",
            [
                f"{features[o].source} feature {features[o].number} ({features[o].code}): {why}"
                for o, why in bad
            ],
        )


def _check_parents(session: Session) -> None:
    """A parent code must name a region of a strictly higher level, in the batch or stored."""
    bad = session.execute(
        text(
            "SELECT s.code, s.level, s.parent_code, coalesce(p.level, r.level)"
            " FROM geo_crm_region_stage s"
            " LEFT JOIN geo_crm_region_stage p ON p.code = s.parent_code"
            " LEFT JOIN regions r ON r.code = s.parent_code AND p.code IS NULL"
            " WHERE s.parent_code IS NOT NULL AND (coalesce(p.level, r.level) IS NULL"
            "  OR geo_crm_level_rank(coalesce(p.level, r.level)) >= geo_crm_level_rank(s.level))"
            " ORDER BY s.ord"
        )
    ).all()
    problems = [
        f"region {code} ({level}): parent {parent!r} "
        + (
            f"is a {plevel}; a parent must be of a higher level"
            if plevel
            else "is neither in the files nor in the database"
        )
        for code, level, parent, plevel in bad
    ]
    if problems:
        _raise("parents", problems)


def _upsert_level(session: Session, level: str, report: LoadReport) -> None:
    """Parents first (one level at a time, as the level trigger needs), then insert or update
    only what changed: reloading the same files writes nothing."""
    session.execute(
        text(
            "UPDATE geo_crm_region_stage s SET parent_id = r.id FROM regions r"
            " WHERE s.level = :level AND r.code = s.parent_code"
        ),
        {"level": level},
    )
    # no parent code: the deepest higher-level region holding the region's point-on-surface
    session.execute(
        text(
            "UPDATE geo_crm_region_stage s SET parent_id = ("
            "  SELECT rp.region_id FROM region_parts rp JOIN regions r ON r.id = rp.region_id"
            "   WHERE rp.depth < geo_crm_level_rank(s.level) AND r.code <> s.code"
            "     AND ST_Intersects(rp.geom, ST_PointOnSurface(s.geom))"
            "   ORDER BY rp.depth DESC, r.area_m2, r.id LIMIT 1)"
            " WHERE s.level = :level AND s.parent_code IS NULL"
        ),
        {"level": level},
    )
    rows = session.execute(
        text(
            "INSERT INTO regions AS r (code, name, name_en, level, parent_id, boundary)"
            " SELECT code, name, name_en, level, parent_id, geom FROM geo_crm_region_stage"
            "  WHERE level = :level ORDER BY ord"
            " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,"
            "  name_en = coalesce(EXCLUDED.name_en, r.name_en), level = EXCLUDED.level,"
            "  parent_id = EXCLUDED.parent_id, boundary = EXCLUDED.boundary"
            " WHERE (r.name, r.name_en, r.level, r.parent_id) IS DISTINCT FROM"
            "  (EXCLUDED.name, coalesce(EXCLUDED.name_en, r.name_en), EXCLUDED.level,"
            "   EXCLUDED.parent_id)"
            "  OR NOT ST_OrderingEquals(r.boundary, EXCLUDED.boundary)"
            " RETURNING r.code, r.xmax = 0"
        ),
        {"level": level},
    ).all()
    written = {code: inserted for code, inserted in rows}
    report.inserted += [c for c, ins in written.items() if ins]
    report.updated += [c for c, ins in written.items() if not ins]
    staged = session.scalars(
        text("SELECT code FROM geo_crm_region_stage WHERE level = :level"), {"level": level}
    )
    report.unchanged += [c for c in staged if c not in written]
