"""Regions over HTTP: the tree, one region's boundary as GeoJSON, outlets per tier inside it.

The two region reads are single statements kept beside their views; the outlet counts come
from ``services.outlets.region_tier_counts``.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

from flask import jsonify
from pydantic import Field
from sqlalchemy import text

from ..db import get_session
from ..domain.outlets import region_tier_counts
from ..errors import NotFound, ValidationError
from ..models import TIERS
from .framework import Out, Query, operation
from .schemas import Status

LOGGER = logging.getLogger(__name__)

TAGS = ["regions"]


class RegionNode(Out):
    code: str
    name: str
    name_en: str | None
    level: str
    children: list[RegionNode]


class RegionTreeQuery(Query):
    root: str | None = Field(
        None, max_length=32, description="start at this region (default: all roots)"
    )


class RegionFeature(Out):
    type: Literal["Feature"]
    id: str
    bbox: list[float]
    geometry: dict[str, Any] = Field(description="GeoJSON MultiPolygon, WGS-84")
    properties: dict[str, Any]


class RegionQuery(Query):
    simplify_m: float | None = Field(
        None, gt=0, le=100_000, description="simplification tolerance in metres"
    )


class TierCounts(Out):
    code: str
    name: str
    level: str
    by_tier: dict[str, int]
    total: int


class RegionCounts(TierCounts):
    own: dict[str, int] = Field(description="outlets whose smallest region is this one itself")
    children: list[TierCounts]


class RegionCountsQuery(Query):
    status: list[Status] = Field(["active"], description="statuses counted (default active)")


_TREE = text("""
WITH RECURSIVE tree AS (
    SELECT id, code, name, name_en, level, parent_id, 0 AS depth FROM regions
     WHERE CASE WHEN CAST(:root AS text) IS NULL THEN parent_id IS NULL ELSE code = :root END
    UNION ALL
    SELECT r.id, r.code, r.name, r.name_en, r.level, r.parent_id, tree.depth + 1
      FROM regions r JOIN tree ON r.parent_id = tree.id
     WHERE tree.depth < 8
)
SELECT id, code, name, name_en, level, parent_id FROM tree ORDER BY depth, code
""")

# the boundary, simplified in metres: projected to an azimuthal equidistant projection centred
# on the region's label point, simplified there, projected back and kept valid
_FEATURE = text("""
SELECT r.code, r.name, r.name_en, r.level, p.code AS parent_code, r.area_m2,
       ST_X(r.label_point) AS label_lon, ST_Y(r.label_point) AS label_lat,
       ST_XMin(g.geom) AS xmin, ST_YMin(g.geom) AS ymin,
       ST_XMax(g.geom) AS xmax, ST_YMax(g.geom) AS ymax,
       ST_NPoints(g.geom) AS vertices, ST_AsGeoJSON(g.geom, 7) AS geometry
  FROM regions r
  LEFT JOIN regions p ON p.id = r.parent_id
  CROSS JOIN LATERAL (
      SELECT format('+proj=aeqd +lat_0=%s +lon_0=%s +datum=WGS84 +units=m +no_defs',
                    ST_Y(r.label_point), ST_X(r.label_point)) AS proj
  ) aeqd
  CROSS JOIN LATERAL (
      SELECT CASE WHEN CAST(:tolerance AS float8) IS NULL THEN r.boundary
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


def _region_id(session, code: str) -> tuple[int, str, str, str]:
    row = session.execute(
        text("SELECT id, code, name, level FROM regions WHERE code = :code"), {"code": code}
    ).first()
    if row is None:
        raise NotFound(f"no region with code {code!r}")
    return row


@operation(
    "/regions",
    "GET",
    summary="The region tree",
    tags=TAGS,
    query=RegionTreeQuery,
    responses={200: list[RegionNode], 422: None},
)
def region_tree(query: RegionTreeQuery):
    """Regions nested by parent (country → province → city → district), by code."""
    session = get_session()
    if (
        query.root is not None
        and session.execute(
            text("SELECT 1 FROM regions WHERE code = :c"), {"c": query.root}
        ).first()
        is None
    ):
        raise ValidationError(
            "unknown region", fields={"query.root": f"no region with code {query.root!r}"}
        )
    rows = session.execute(_TREE, {"root": query.root}).mappings().all()
    nodes = {
        r["id"]: {
            "code": r["code"],
            "name": r["name"],
            "name_en": r["name_en"],
            "level": r["level"],
            "children": [],
        }
        for r in rows
    }
    roots = []
    for r in rows:
        parent = nodes.get(r["parent_id"]) if r["parent_id"] is not None else None
        if parent is not None and r["code"] != query.root:
            parent["children"].append(nodes[r["id"]])
        else:
            roots.append(nodes[r["id"]])
    return jsonify(roots)


@operation(
    "/regions/<code>",
    "GET",
    summary="One region with its boundary (GeoJSON Feature)",
    tags=TAGS,
    query=RegionQuery,
    responses={200: RegionFeature, 404: None},
    produces=["application/geo+json"],
)
def get_region(code: str, query: RegionQuery):
    """The region as a GeoJSON Feature; ``simplify_m`` simplifies the boundary (metres)."""
    row = (
        get_session()
        .execute(_FEATURE, {"code": code, "tolerance": query.simplify_m})
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no region with code {code!r}")
    label = None if row["label_lon"] is None else {"lat": row["label_lat"], "lon": row["label_lon"]}
    feature = {
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
            "simplify_m": query.simplify_m,
            "vertices": row["vertices"],
        },
    }
    response = jsonify(feature)
    response.mimetype = "application/geo+json"
    return response


@operation(
    "/regions/<code>/outlet-counts",
    "GET",
    summary="Outlets per tier in a region",
    tags=TAGS,
    query=RegionCountsQuery,
    responses={200: RegionCounts, 404: None},
)
def region_counts(code: str, query: RegionCountsQuery):
    """Outlets per tier inside the region and its sub-regions, and per direct sub-region."""
    session = get_session()
    region_id, code, name, level = _region_id(session, code)
    counts = region_tier_counts(session, region_id, list(query.status))
    children = session.execute(
        text("SELECT id, code, name, level FROM regions WHERE parent_id = :id ORDER BY code"),
        {"id": region_id},
    ).all()
    empty = dict.fromkeys(TIERS, 0)
    own = counts.get(None, empty)
    child_rows = []
    total_by_tier = dict(own)
    for child in children:
        by_tier = counts.get(child.id, empty)
        for tier, n in by_tier.items():
            total_by_tier[tier] += n
        child_rows.append(
            {
                "code": child.code,
                "name": child.name,
                "level": child.level,
                "by_tier": by_tier,
                "total": sum(by_tier.values()),
            }
        )
    return jsonify(
        {
            "code": code,
            "name": name,
            "level": level,
            "by_tier": total_by_tier,
            "total": sum(total_by_tier.values()),
            "own": own,
            "children": child_rows,
        }
    )


_FACE_SQL_BUDGET = 10  # issue 12: SQL lines left in this face; goes to 0
