"""Regions: the one walk of the region tree, and what pages, the API and the CLI read of regions.

The tree (country → province → city → district) lives in ``regions.parent_id``; outlets carry
only their smallest region, so "in a region" means "in a region of its subtree". Every walk of
the tree — a manager's regions and below, a region's subtree for a filter, the chain above a
region, a subtree split by direct child — is one recursive CTE built by :func:`region_tree`.

This module imports only the models: scope (``domain.access``) is built on it, and whatever
needs both a scope and the tree lives above both (``domain.region_counts``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import shapely
from sqlalchemy import CTE, ColumnElement, Select, func, literal, select, text
from sqlalchemy.orm import Session

from ..analysis.geometry.geodesy import local_proj
from ..errors import NotFound, ValidationError
from ..models import Region

REGIONS = Region.__table__
MAX_REGION_DEPTH = 8  # country, province, city, district: deeper means a broken tree


def region_tree(
    start: Select,
    *,
    up: bool = False,
    name: str = "region_tree",
    distinct: bool = False,
    depth: bool = False,
) -> CTE:
    """Regions reachable from ``start`` along parent links: below it (default) or above it
    (``up``), the start regions included.

    ``start`` selects a first column labelled ``id`` (a region id) from any table (regions,
    user_regions, outlets); its other columns are carried unchanged to every region reached
    (``child_id``, ``start_id`` …). Columns: ``id``, the carried ones, and with ``depth`` a
    ``depth`` (0 at the start; the walk stops below ``MAX_REGION_DEPTH``). UNION when
    ``distinct`` (starts that share regions: each region once per carried values), else UNION
    ALL. The recursive part aliases ``regions`` as ``{name}_child`` (down) or ``{name}_parent``
    joined to ``{name}_of`` (up). Returns the CTE; callers select from it. Give each use in one
    statement its own ``name``.
    """
    keys = [c.key for c in list(start.selected_columns)[1:]]
    if depth:
        start = start.add_columns(literal(0).label("depth"))
    tree = start.cte(name, recursive=True)
    carried = [tree.c[key] for key in keys]
    if up:
        parent = REGIONS.alias(f"{name}_parent")
        of = REGIONS.alias(f"{name}_of")
        step = (
            select(parent.c.id, *carried)
            .join(of, of.c.parent_id == parent.c.id)
            .where(of.c.id == tree.c.id)
        )
    else:
        child = REGIONS.alias(f"{name}_child")
        step = select(child.c.id, *carried).where(child.c.parent_id == tree.c.id)
    if depth:
        step = step.add_columns((tree.c.depth + 1).label("depth")).where(
            tree.c.depth < MAX_REGION_DEPTH
        )
    return tree.union(step) if distinct else tree.union_all(step)


def region_subtree(code: str | ColumnElement, *, name: str = "region_tree") -> CTE:
    """Ids of the region with this code and of every region below it."""
    return region_tree(select(REGIONS.c.id).where(REGIONS.c.code == code), name=name)


def subtree_by_child(region_id: int | ColumnElement, *, name: str = "subtree") -> CTE:
    """(id, child_id, depth) of every region below ``region_id`` (not the region itself), each
    with the direct child it lies under; depth 0 is the direct children."""
    r = REGIONS
    start = select(r.c.id, r.c.id.label("child_id")).where(r.c.parent_id == region_id)
    return region_tree(start, name=name, depth=True)


# -- region reads --------------------------------------------------------------------------


@dataclass
class RegionInfo:
    """A region as pages and maps read it; the boundary (WGS-84, shapely) and label point only
    when asked for (``boundary=True``)."""

    id: int
    code: str
    name: str
    name_en: str | None
    level: str
    parent_id: int | None
    area_m2: float
    boundary: shapely.Geometry | None = None
    label_point: tuple[float, float] | None = None

    def label(self, t) -> str:
        """The name in the language of translator ``t`` (English when it has one)."""
        return region_label(self.name, self.name_en, t)


def region_label(name: str, name_en: str | None, t) -> str:
    """A region's name in the language of translator ``t``: the English name on an English
    page when the region has one, else its name."""
    return name_en if t.lang == "en" and name_en else name


@dataclass(frozen=True)
class RegionRef:
    """What a link to a region needs."""

    code: str
    name: str
    name_en: str | None

    def label(self, t) -> str:
        """The name in the language of translator ``t`` (English when it has one)."""
        return region_label(self.name, self.name_en, t)


@dataclass(frozen=True)
class RegionRow:
    """One line of the region list."""

    code: str
    level: str
    name: str
    parent_code: str | None
    area_km2: float


def _region_columns(with_boundary: bool) -> list[ColumnElement]:
    r = REGIONS
    cols = [r.c.id, r.c.code, r.c.name, r.c.name_en, r.c.level, r.c.parent_id, r.c.area_m2]
    if with_boundary:
        cols += [
            func.ST_AsBinary(r.c.boundary).label("wkb"),
            func.ST_X(r.c.label_point).label("lx"),
            func.ST_Y(r.c.label_point).label("ly"),
        ]
    return cols


def _infos(rows, with_boundary: bool) -> list[RegionInfo]:
    rows = list(rows)
    geoms = (
        shapely.from_wkb([bytes(r.wkb) for r in rows])
        if with_boundary and rows
        else [None] * len(rows)
    )
    out = []
    for r, g in zip(rows, geoms, strict=True):
        info = RegionInfo(r.id, r.code, r.name, r.name_en, r.level, r.parent_id, r.area_m2)
        if with_boundary:
            info.boundary = g
            info.label_point = (r.lx, r.ly) if r.lx is not None else None
        out.append(info)
    return out


def get_region(
    session: Session, code: str, *, boundary: bool = False, field: str | None = "code"
) -> RegionInfo:
    """The region with this code; 404 naming ``field`` (None: no field) when there is none.
    Scope is the caller's object rule (the policy resolves the URL's region first)."""
    rows = session.execute(select(*_region_columns(boundary)).where(REGIONS.c.code == code)).all()
    if not rows:
        raise NotFound(
            f"no region with code {code!r}", fields={field: "not found"} if field else None
        )
    return _infos(rows, boundary)[0]


def subregions(session: Session, region_id: int, *, boundary: bool = False) -> list[RegionInfo]:
    """The direct children of a region, by code."""
    rows = session.execute(
        select(*_region_columns(boundary))
        .where(REGIONS.c.parent_id == region_id)
        .order_by(REGIONS.c.code)
    ).all()
    return _infos(rows, boundary)


def ancestors(session: Session, region_id: int) -> list[RegionInfo]:
    """The chain above a region, top (country) first, without the region itself."""
    r = REGIONS
    start = select(r.c.id).where(r.c.id == region_id)
    chain = region_tree(start, up=True, depth=True, name="chain")
    rows = session.execute(
        select(*_region_columns(False))
        .join(chain, chain.c.id == r.c.id)
        .where(chain.c.depth > 0)
        .order_by(chain.c.depth.desc())
    ).all()
    return _infos(rows, False)


def region_forest(session: Session, root: str | None = None) -> list[dict]:
    """Regions nested by parent (``children`` lists, by code): every root, or the region
    ``root`` with everything below it. An unknown ``root`` is a 422 on field ``root``."""
    r = REGIONS
    start = select(r.c.id).where(r.c.parent_id.is_(None) if root is None else r.c.code == root)
    tree = region_tree(start, depth=True, name="tree")
    rows = session.execute(
        select(r.c.id, r.c.code, r.c.name, r.c.name_en, r.c.level, r.c.parent_id)
        .join(tree, tree.c.id == r.c.id)
        .order_by(tree.c.depth, r.c.code)
    ).all()
    if root is not None and not rows:
        raise ValidationError("unknown region", fields={"root": f"no region with code {root!r}"})
    nodes = {
        row.id: {
            "code": row.code,
            "name": row.name,
            "name_en": row.name_en,
            "level": row.level,
            "children": [],
        }
        for row in rows
    }
    roots = []
    for row in rows:
        parent = nodes.get(row.parent_id) if row.parent_id is not None else None
        if parent is not None and row.code != root:
            parent["children"].append(nodes[row.id])
        else:
            roots.append(nodes[row.id])
    return roots


# the boundary, simplified in metres: projected to an azimuthal equidistant projection centred
# on the region's label point, simplified there, projected back and kept valid. A region
# reaching a pole or touching both ±180° (parts on both sides of the meridian) is simplified in
# longitude/latitude instead, by the degrees of latitude in the tolerance (a degree of longitude
# is never longer): projected and back, its edge along the pole collapses into one point and its
# edges on ±180° may come back on the other side, which turned Antarctica into half of itself
# and the Aleutians into a band round the world.
M_PER_DEG_LAT_MAX = 111_700.0  # a degree of latitude is 110,574–111,694 m long
_FEATURE = text(f"""
SELECT r.code, r.name, r.name_en, r.level, p.code AS parent_code, r.area_m2,
       ST_X(r.label_point) AS label_lon, ST_Y(r.label_point) AS label_lat,
       ST_XMin(g.geom) AS xmin, ST_YMin(g.geom) AS ymin,
       ST_XMax(g.geom) AS xmax, ST_YMax(g.geom) AS ymax,
       ST_NPoints(g.geom) AS vertices, ST_AsGeoJSON(g.geom, 7) AS geometry
  FROM regions r
  LEFT JOIN regions p ON p.id = r.parent_id
  CROSS JOIN LATERAL (
      SELECT format('{local_proj("aeqd", "%s", "%s")}',
                    ST_Y(r.label_point), ST_X(r.label_point)) AS proj
  ) aeqd
  CROSS JOIN LATERAL (
      SELECT CASE WHEN CAST(:tolerance AS float8) IS NULL THEN r.boundary
                  WHEN ST_YMax(r.boundary) >= 90 OR ST_YMin(r.boundary) <= -90
                       OR (ST_XMin(r.boundary) <= -180 AND ST_XMax(r.boundary) >= 180)
                  THEN ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SimplifyPreserveTopology(
                           r.boundary, CAST(:tolerance AS float8) / {M_PER_DEG_LAT_MAX})), 3))
                  ELSE ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Transform(
                           ST_SimplifyPreserveTopology(
                               ST_Transform(r.boundary, aeqd.proj), :tolerance),
                           aeqd.proj, 4326)), 3))
             END AS simplified
  ) s
  CROSS JOIN LATERAL (
      SELECT CASE WHEN ST_IsEmpty(s.simplified) THEN r.boundary ELSE s.simplified END AS geom
  ) g
 WHERE r.code = :code
""")


def region_feature(session: Session, code: str, *, simplify_m: float | None = None) -> dict:
    """The region as a GeoJSON Feature (bbox, MultiPolygon, properties); ``simplify_m``
    simplifies the boundary in metres (None: as stored). 404 when there is no such region."""
    row = session.execute(_FEATURE, {"code": code, "tolerance": simplify_m}).mappings().first()
    if row is None:
        raise NotFound(f"no region with code {code!r}")
    label = None if row["label_lon"] is None else {"lat": row["label_lat"], "lon": row["label_lon"]}
    return {
        "type": "Feature",
        "id": row["code"],
        "bbox": [row["xmin"], row["ymin"], row["xmax"], row["ymax"]],
        "geometry": json.loads(row["geometry"]),
        "properties": {
            "code": row["code"],
            "name": row["name"],
            "name_en": row["name_en"],
            "level": row["level"],
            "parent_code": row["parent_code"],
            "area_m2": row["area_m2"],
            "label_point": label,
            "simplify_m": simplify_m,
            "vertices": row["vertices"],
        },
    }


_LIST = text(
    "SELECT r.code, r.level, r.name, p.code, r.area_m2 / 1e6 FROM regions r"
    " LEFT JOIN regions p ON p.id = r.parent_id"
    " WHERE CAST(:level AS text) IS NULL OR r.level = :level"
    " ORDER BY geo_crm_level_rank(r.level), r.code"
)


def list_regions(session: Session, *, level: str | None = None) -> list[RegionRow]:
    """Every region (of ``level``), largest level first, then by code, with its parent's code
    and its area in km²."""
    return [RegionRow(*row) for row in session.execute(_LIST, {"level": level})]


def region_count(session: Session) -> int:
    """How many regions are loaded."""
    return session.scalar(select(func.count()).select_from(REGIONS)) or 0


def region_codes(session: Session, region_ids: list[int]) -> list[str]:
    """The codes of ``region_ids``, in their order (ids of regions since removed are left out:
    a territory stores ids)."""
    if not region_ids:
        return []
    stmt = select(REGIONS.c.id, REGIONS.c.code).where(REGIONS.c.id.in_(region_ids))
    by_id = dict(session.execute(stmt).all())
    return [by_id[i] for i in region_ids if i in by_id]


def region_ref(session: Session, region_id: int) -> RegionRef | None:
    """Code and names of the region ``region_id`` (None: there is none)."""
    r = REGIONS
    stmt = select(r.c.code, r.c.name, r.c.name_en).where(r.c.id == region_id)
    row = session.execute(stmt).first()
    return RegionRef(*row) if row is not None else None


def region_ref_by_code(session: Session, code: str | None) -> RegionRef | None:
    """Code and names of the region ``code`` (None: no code, or no such region)."""
    if code is None:
        return None
    r = REGIONS
    row = session.execute(select(r.c.code, r.c.name, r.c.name_en).where(r.c.code == code)).first()
    return RegionRef(*row) if row is not None else None


def map_region_for(session: Session, region_id: int | None) -> RegionRef | None:
    """Where a map around an outlet of ``region_id`` opens: a district's city (a district is
    too small to show a network), else the region itself; without a region, the first root
    region by code. None when there are no regions."""
    r = REGIONS
    if region_id is None:
        row = session.execute(
            select(r.c.code, r.c.name, r.c.name_en)
            .where(r.c.parent_id.is_(None))
            .order_by(r.c.code)
            .limit(1)
        ).first()
        return RegionRef(*row) if row is not None else None
    row = session.execute(
        select(r.c.code, r.c.name, r.c.name_en, r.c.level, r.c.parent_id).where(r.c.id == region_id)
    ).first()
    if row is None:
        return None
    if row.level == "district" and row.parent_id is not None:
        return region_ref(session, row.parent_id)
    return RegionRef(row.code, row.name, row.name_en)
