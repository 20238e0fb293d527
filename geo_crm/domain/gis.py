"""What the GIS faces share: the Web Mercator tile grid, the CRS84 bounding box check and the
400 answer for a parameter no request may carry (vector tiles, OGC API – Features).

The OGC API answers a malformed query parameter with 400 (its conformance class requires it),
and the tile routes follow: :class:`InvalidParameter` carries the one JSON error shape
(``errors.error_body``) with the parameter named in ``fields`` (``query.bbox``, ``path.z``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlalchemy.dialects.postgresql.psycopg import dialect as _psycopg_dialect
from sqlalchemy.orm import Session

from ..db.hotpath import HotStatement
from ..errors import GeoCrmError
from ..models import Outlet, Region
from .access import outlet_scope, region_scope, template
from .principal import Principal

MAX_ZOOM = 22
WORLD_HALF_M = 20037508.342789244  # half the side of the EPSG:3857 square: π · 6378137 m
MAX_MERCATOR_LAT = 85.0511287798066  # the square's edge in latitude
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


class InvalidParameter(GeoCrmError):
    """A query or path parameter that cannot be read (400 ``invalid_parameter``)."""

    status = 400
    code = "invalid_parameter"


@dataclass(frozen=True)
class TileAddress:
    """One tile of the XYZ scheme (y = 0 at the top) of the EPSG:3857 square."""

    z: int
    x: int
    y: int

    @property
    def width_m(self) -> float:
        return 2 * WORLD_HALF_M / (1 << self.z)

    def bounds_m(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) in EPSG:3857 metres, as ST_TileEnvelope computes them."""
        w = self.width_m
        xmin = -WORLD_HALF_M + self.x * w
        ymax = WORLD_HALF_M - self.y * w
        return xmin, ymax - w, xmin + w, ymax


def tile_address(z: str | int, x: str | int, y: str | int) -> TileAddress:
    """The tile a URL names; 400 naming the path argument that is no tile coordinate."""
    values = {}
    for name, raw in (("z", z), ("x", x), ("y", y)):
        text = str(raw)
        if not (text.isascii() and text.isdigit()) or len(text) > 8:
            raise InvalidParameter(
                f"{name} must be a whole number, not {text[:20]!r}",
                fields={f"path.{name}": "not a whole number"},
            )
        values[name] = int(text)
    if values["z"] > MAX_ZOOM:
        raise InvalidParameter(
            f"zoom {values['z']} is beyond the deepest served ({MAX_ZOOM})",
            fields={"path.z": f"at most {MAX_ZOOM}"},
        )
    last = (1 << values["z"]) - 1
    for name in ("x", "y"):
        if values[name] > last:
            raise InvalidParameter(
                f"{name} {values[name]} is outside zoom {values['z']} (0–{last})",
                fields={f"path.{name}": f"between 0 and {last} at zoom {values['z']}"},
            )
    return TileAddress(values["z"], values["x"], values["y"])


def check_bbox(values: list[float], field: str = "query.bbox") -> tuple[float, float, float, float]:
    """A CRS84 box (west, south, east, north), or 6 numbers with heights (ignored).

    400 for anything else: not 4 or 6 numbers, NaN or infinite, longitudes outside [-180,
    180], latitudes outside [-90, 90], south above north — and west above east: the OGC API
    reads that as a box across the antimeridian, which no outlet or region here needs, so it is
    refused rather than answered with half the world (send two boxes)."""
    if len(values) not in (4, 6):
        raise InvalidParameter(
            "bbox takes 4 numbers (west,south,east,north) or 6 (with heights)",
            fields={field: f"{len(values)} numbers"},
        )
    if not all(math.isfinite(v) for v in values):
        raise InvalidParameter("bbox numbers must be finite", fields={field: "NaN or infinite"})
    if len(values) == 6:
        west, south, _, east, north, _ = values
    else:
        west, south, east, north = values
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise InvalidParameter(
            "bbox longitudes must lie in [-180, 180]", fields={field: "longitude out of range"}
        )
    if not (-90 <= south <= 90 and -90 <= north <= 90):
        raise InvalidParameter(
            "bbox latitudes must lie in [-90, 90]", fields={field: "latitude out of range"}
        )
    if south > north:
        raise InvalidParameter("bbox south is above north", fields={field: "south > north"})
    if west > east:
        raise InvalidParameter(
            "bbox west is east of east: boxes across the antimeridian are not served; "
            "ask for the two halves",
            fields={field: "west > east"},
        )
    return west, south, east, north


# -- scope as SQL text -------------------------------------------------------------------------
#
# The tile and feature statements are SQL texts (ST_AsMVT and GeoJSON read better as SQL than
# as SQLAlchemy constructs) with the access scope of domain.access compiled into them, once per
# role: the user id stays the driver parameter %(scope_uid)s.

_DIALECT = _psycopg_dialect()


def scope_sql(clause: ColumnElement) -> str:
    """A scope clause as parenthesised SQL for the driver (pyformat parameters)."""
    return "(" + str(clause.compile(dialect=_DIALECT)) + ")"


def outlet_scope_sql(role: str, alias: str) -> str:
    """:func:`~geo_crm.domain.access.outlet_scope` of ``role`` on ``outlets AS alias``."""
    return scope_sql(outlet_scope(template(role), Outlet.__table__.alias(alias)))


def region_scope_sql(role: str, alias: str) -> str:
    """:func:`~geo_crm.domain.access.region_scope` of ``role`` on ``regions AS alias``."""
    return scope_sql(region_scope(template(role), Region.__table__.alias(alias)))


@functools.lru_cache(maxsize=16)
def _bounds_statement(kind: str, role: str) -> HotStatement:
    """The extent of the top regions ``role`` may see (regions whose parent is out of their
    scope); for ``outlets``, admins add the located outlets outside every region, and reps get
    the extent of their outlets instead."""
    if kind == "outlets" and role not in ("admin", "manager"):
        sql = f"""
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
  SELECT ST_Extent(o.location) AS e FROM outlets o
   WHERE o.location IS NOT NULL AND {outlet_scope_sql(role, "o")}) q"""
        return HotStatement(sql, read_only=True, prepare=False)
    parts = f"""
  SELECT ST_Extent(r.boundary) AS e FROM regions r
   WHERE {region_scope_sql(role, "r")}
     AND NOT EXISTS (SELECT 1 FROM regions p WHERE p.id = r.parent_id
                                                AND {region_scope_sql(role, "p")})"""
    if kind == "outlets" and role == "admin":
        parts += """
  UNION ALL
  SELECT ST_Extent(o.location) FROM outlets o
   WHERE o.region_id IS NULL AND o.location IS NOT NULL"""
    sql = f"""
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
  SELECT ST_Extent(e) AS e FROM ({parts}) parts) q"""
    return HotStatement(sql, read_only=True, prepare=False)


def scoped_bounds(
    session: Session, kind: str, user: Principal
) -> tuple[float, float, float, float] | None:
    """What ``user`` may see of ``kind`` (``outlets`` or ``regions``) as a CRS84 box; None when
    nothing is there for them."""
    row = _bounds_statement(kind, user.role).run(session, {"scope_uid": user.id}).fetchone()
    if row is None or row[0] is None:
        return None
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
