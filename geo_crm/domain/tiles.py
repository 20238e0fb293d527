"""Vector tiles (Mapbox Vector Tile 2.1, EPSG:3857, extent 4096, buffer 64) built in PostGIS.

A tile layer (:class:`TileLayer`) is a name in :data:`LAYERS` with, per zoom band, one SQL
statement per role: ``ST_AsMVT`` over ``ST_AsMVTGeom`` of the rows inside
``ST_TileEnvelope(z, x, y)``, with the caller's access scope (:mod:`.access`) written into the
statement. Statements are compiled once per layer × band × role with the tile and the user id
as bind parameters and run on the driver (a :class:`~geo_crm.db.hotpath.HotStatement` with
``prepare=False``: PostgreSQL plans it for each tile's values; binary results), so a tile costs
one statement and no SQLAlchemy on the way.

Layers:

- ``outlets``: below zoom 10 the counts of active outlets per hexagon (MVT layer
  ``outlet_bins``: ``outlets`` and one count per tier), from zoom 10 the outlets themselves
  (MVT layer ``outlets``: ``code``, ``name``, ``tier``; the client styles them by tier). The
  hexagons are PostGIS's (``ST_Hexagon``) in tile space: side = tile width / 16. Admins and
  managers read the counts from ``outlet_hex_bins`` (migration 0007; it carries the outlets'
  region, so a manager's outlet scope applies to it as written); a rep's few outlets are binned
  live by the same SQL functions.
- ``regions``: the regions of the level the zoom calls for (provinces to zoom 5, cities to 8,
  districts from 9; a region with no children of a deeper level stands in for them) with their
  figures — active outlets per tier and in all, rolled up through the region tree and limited
  to the outlets the caller may see (MVT layer ``regions``, polygons; ``region_labels``, one
  point per region inside the tile, for labels). Admins and managers read the figures from
  ``region_outlet_totals`` (migration 0007: every region with all below it); a rep's outlets
  are counted live in their regions and the regions above.

More layers register with :func:`register`: a name, its zoom bands, one SQL text per band and
role, the extra bind parameters of a tile, and how to find the bounds a user's TileJSON names.
The gap and density cells of the analysis cache do (``analysis.cache_tiles``: ``gaps``,
``density``), reading the kept analysis their ``extra`` bind value names.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ..db.hotpath import HotStatement
from ..errors import NotFound
from ..models import TIERS, OutletHexBin
from .access import outlet_scope, template
from .gis import (
    MAX_MERCATOR_LAT,
    MAX_ZOOM,
    WORLD_HALF_M,
    TileAddress,
    outlet_scope_sql,
    region_scope_sql,
    scope_sql,
    scoped_bounds,
)
from .principal import SYSTEM, Principal

EXTENT = 4096  # tile coordinates per side
BUFFER = 64  # tile coordinates drawn beyond each edge (no seams at tile borders)
HEX_PER_TILE = 16  # tile width / hexagon side, as migration 0007's geo_crm_hex_cells bins them
POINT_ZOOM = 10  # outlets as points from this zoom, as counts per hexagon below it
ROLES = ("admin", "manager", "rep")
WORLD_BOUNDS = (-180.0, -MAX_MERCATOR_LAT, 180.0, MAX_MERCATOR_LAT)

_TIER_FIELDS = {tier: "Number" for tier in TIERS}


def hex_side(z: int) -> float:
    """Side (= circumradius) in metres of the hexagons that bin outlets at zoom ``z``."""
    return 2 * WORLD_HALF_M / (1 << z) / HEX_PER_TILE


def hex_range(address: TileAddress) -> dict[str, int | float]:
    """Bind parameters of the hexagon layer: the side, and columns/rows of every hexagon that
    can reach into the tile or its buffer (a few beyond: ST_AsMVTGeom drops what stays out)."""
    s = hex_side(address.z)
    h = math.sqrt(3) * s
    xmin, ymin, xmax, ymax = address.bounds_m()
    pad = 2 * s + address.width_m * BUFFER / EXTENT
    return {
        "side": s,
        "i0": math.floor((xmin - pad) / (1.5 * s)),
        "i1": math.ceil((xmax + pad) / (1.5 * s)),
        "j0": math.floor((ymin - pad) / h),
        "j1": math.ceil((ymax + pad) / h),
    }


# -- the registry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VectorLayer:
    """One MVT layer of a tile, as TileJSON's ``vector_layers`` lists it."""

    id: str
    description: str
    fields: Mapping[str, str]  # property -> "String" | "Number" | "Boolean"
    minzoom: int = 0
    maxzoom: int = MAX_ZOOM

    def tilejson(self) -> dict:
        return {
            "id": self.id,
            "description": self.description,
            "minzoom": self.minzoom,
            "maxzoom": self.maxzoom,
            "fields": dict(self.fields),
        }


def _no_params(band: str, address: TileAddress) -> dict:
    return {}


@dataclass(frozen=True)
class TileLayer:
    """A tile layer: ``sql(band, role)`` is the statement for tiles of ``band(z)``, with the
    bind parameters z, x, y, scope_uid (the user id) and those of ``params(band, address)``;
    it returns one row holding the tile's bytes. ``bounds(session, user)`` is the CRS84 box of
    what the user may see on it (None: unknown). ``maxzoom``: the deepest zoom with more detail
    than the one above (TileJSON's; deeper tiles are served too, up to MAX_ZOOM)."""

    name: str
    title: str
    description: str
    vector_layers: tuple[VectorLayer, ...]
    band: Callable[[int], str]
    sql: Callable[[str, str], str]
    params: Callable[[str, TileAddress], dict] = _no_params
    bounds: Callable[[Session, Principal], tuple[float, float, float, float] | None] = field(
        default=lambda session, user: None
    )
    minzoom: int = 0
    maxzoom: int = 16


LAYERS: dict[str, TileLayer] = {}


def register(layer: TileLayer) -> TileLayer:
    """Add (or replace) a tile layer; its statements are compiled at first use."""
    LAYERS[layer.name] = layer
    _statement.cache_clear()
    return layer


def layer_named(name: str) -> TileLayer:
    layer = LAYERS.get(name)
    if layer is None:
        raise NotFound(
            f"no tile layer {name!r}: use one of {', '.join(sorted(LAYERS))}",
            fields={"path.layer": "unknown layer"},
        )
    return layer


# -- serving -----------------------------------------------------------------------------------


def tile(
    session: Session,
    layer: str,
    address: TileAddress,
    user: Principal | None,
    *,
    extra: Mapping[str, object] | None = None,
) -> bytes:
    """The tile's bytes (empty when nothing in it is visible to ``user``); ``extra``: bind
    values a layer reads beyond the tile's (e.g. which kept analysis a cells layer draws)."""
    spec = layer_named(layer)
    user = user or SYSTEM
    band = spec.band(address.z)
    values = {
        "z": address.z,
        "x": address.x,
        "y": address.y,
        "scope_uid": user.id,
        **spec.params(band, address),
        **(extra or {}),
    }
    row = _statement(spec.name, band, user.role).run(session, values).fetchone()
    return bytes(row[0]) if row is not None and row[0] else b""


@functools.lru_cache(maxsize=256)
def _statement(layer: str, band: str, role: str) -> HotStatement:
    return HotStatement(LAYERS[layer].sql(band, role), read_only=True, binary=True, prepare=False)


def tilejson(
    session: Session,
    layer: str,
    user: Principal | None,
    tiles_url: str,
    *,
    bounds: tuple[float, float, float, float] | None = None,
) -> dict:
    """The TileJSON 3.0.0 document of ``layer`` for ``user`` (bounds: what they may see, or
    ``bounds`` when the caller knows better, e.g. the region of a cached analysis)."""
    spec = layer_named(layer)
    bounds = bounds or spec.bounds(session, user or SYSTEM) or WORLD_BOUNDS
    west, south, east, north = bounds
    south, north = max(south, -MAX_MERCATOR_LAT), min(north, MAX_MERCATOR_LAT)
    span = max(east - west, north - south, 1e-6)
    zoom = max(spec.minzoom, min(spec.maxzoom, int(math.log2(360.0 / span))))
    return {
        "tilejson": "3.0.0",
        "name": spec.title,
        "description": spec.description,
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": spec.minzoom,
        "maxzoom": spec.maxzoom,
        "bounds": [round(v, 6) for v in (west, south, east, north)],
        "center": [round((west + east) / 2, 6), round((south + north) / 2, 6), zoom],
        "vector_layers": [v.tilejson() for v in spec.vector_layers],
    }


# -- SQL pieces --------------------------------------------------------------------------------


def _bin_scope(role: str, alias: str) -> str:
    """The outlets a bin counts are in the caller's scope: the bins carry the outlets' region,
    which is all an admin's or a manager's outlet scope looks at."""
    assert role in ("admin", "manager"), role
    return scope_sql(outlet_scope(template(role), OutletHexBin.__table__.alias(alias)))


# ST_AsMVT leaves out rows whose geometry ST_AsMVTGeom clipped away (NULL): no filter on it,
# which PostgreSQL would push down and evaluate a second time per row
_ENV = "ST_TileEnvelope(%(z)s::integer, %(x)s::integer, %(y)s::integer)"
# the tile plus its buffer, in lon/lat: what the index is asked for
_NEAR = (
    "ST_Transform(ST_TileEnvelope(%(z)s::integer, %(x)s::integer, %(y)s::integer, "
    f"margin => {BUFFER / EXTENT}), 4326)"
)


ENV, NEAR = _ENV, _NEAR  # for layers registered from other modules


def _tier_sums(count: str, tier: str) -> str:
    return ", ".join(
        f"coalesce({count} FILTER (WHERE {tier} = '{t}'), 0)::integer AS {t}" for t in TIERS
    )


# -- outlets -----------------------------------------------------------------------------------

OUTLET_BINS = VectorLayer(
    "outlet_bins",
    "active outlets per hexagon (side = tile width / 16): in all and per tier",
    {"outlets": "Number", **_TIER_FIELDS},
    0,
    POINT_ZOOM - 1,
)
OUTLET_POINTS = VectorLayer(
    "outlets",
    "active outlets (feature id = outlet id); style by tier",
    {"code": "String", "name": "String", "tier": "String"},
    POINT_ZOOM,
    16,
)

_HEX_FEATURES = f"""
SELECT ST_AsMVT(t, 'outlet_bins', {EXTENT}, 'geom') FROM (
  SELECT ST_AsMVTGeom(ST_Hexagon(%(side)s::float8, bins.i, bins.j), e.env::box2d,
                      {EXTENT}, {BUFFER}) AS geom,
         bins.outlets, {", ".join(f"bins.{t}" for t in TIERS)}
    FROM bins CROSS JOIN (SELECT {_ENV} AS env) e
) t"""


def _outlets_sql(band: str, role: str) -> str:
    if band == "points":
        return f"""
SELECT ST_AsMVT(t, 'outlets', {EXTENT}, 'geom', 'id') FROM (
  SELECT o.id, o.code, o.name, o.tier,
         ST_AsMVTGeom(ST_Transform(o.location, 3857), e.env::box2d, {EXTENT}, {BUFFER}) AS geom
    FROM outlets o CROSS JOIN (SELECT {_ENV} AS env) e
   WHERE o.status = 'active' AND o.location && {_NEAR} AND {outlet_scope_sql(role, "o")}
) t"""
    if role in ("admin", "manager"):
        return f"""
WITH bins AS (
  SELECT b.i, b.j, sum(b.outlets)::integer AS outlets, {_tier_sums("sum(b.outlets)", "b.tier")}
    FROM outlet_hex_bins b
   WHERE b.z = %(z)s::smallint AND b.i BETWEEN %(i0)s::integer AND %(i1)s::integer
     AND b.j BETWEEN %(j0)s::integer AND %(j1)s::integer AND {_bin_scope(role, "b")}
   GROUP BY b.i, b.j
  HAVING sum(b.outlets) > 0
){_HEX_FEATURES}"""
    # anyone else (reps): their few outlets binned live, with the functions the bins are kept
    # by; every outlet of a hexagon reaching into the tile counts (two sides beyond its edges).
    # Their outlets are read first (MATERIALIZED: the location index over a zoom-4 tile would
    # find a hundred thousand rows to intersect with two thousand); OFFSET 0 fences x, y and
    # i: computed once, and the hexagon functions stay inlined.
    reach = BUFFER / EXTENT + 2 / HEX_PER_TILE
    return f"""
WITH mine AS MATERIALIZED (
  SELECT o.location, o.tier FROM outlets o
   WHERE o.status = 'active' AND o.location IS NOT NULL AND {outlet_scope_sql(role, "o")}
), cells AS (
  SELECT c.i, geo_crm_hex_row(p.y, %(side)s::float8, c.i) AS j, p.tier
    FROM (SELECT ST_X(m) AS x, ST_Y(m) AS y, tier
            FROM (SELECT ST_Transform(mine.location, 3857) AS m, mine.tier
                    FROM mine
                   WHERE mine.location && ST_Transform(ST_TileEnvelope(%(z)s::integer,
                         %(x)s::integer, %(y)s::integer, margin => {reach}), 4326)) q
          OFFSET 0) p
   CROSS JOIN LATERAL (SELECT geo_crm_hex_col(p.x, p.y, %(side)s::float8) AS i OFFSET 0) c
), bins AS (
  SELECT i, j, count(*)::integer AS outlets, {_tier_sums("count(*)", "tier")}
    FROM cells GROUP BY i, j
){_HEX_FEATURES}"""


def _outlets_band(z: int) -> str:
    return "points" if z >= POINT_ZOOM else "hexagons"


def _outlets_params(band: str, address: TileAddress) -> dict:
    return hex_range(address) if band == "hexagons" else {}


# -- regions -----------------------------------------------------------------------------------

REGION_FIELDS = {
    "code": "String",
    "name": "String",
    "name_en": "String",
    "level": "String",
    "outlets": "Number",
    **_TIER_FIELDS,
}
REGION_POLYGONS = VectorLayer(
    "regions",
    "regions of the zoom's level (provinces to z5, cities to z8, districts from z9; a region "
    "without children of that level stands in for them) with their active outlets in all and "
    "per tier, counting only outlets the caller may see (feature id = region id)",
    REGION_FIELDS,
    0,
    12,
)
REGION_LABELS = VectorLayer(
    "region_labels",
    "one point per region of the regions layer, in the tile that holds its label point",
    REGION_FIELDS,
    0,
    12,
)
REGION_BANDS = (("province", 5), ("city", 8), ("district", MAX_ZOOM))
_LEVEL_ORDER = ("province", "city", "district")


def _regions_band(z: int) -> str:
    return next(level for level, last in REGION_BANDS if z <= last)


def _level_condition(level: str) -> str:
    above = _LEVEL_ORDER[: _LEVEL_ORDER.index(level)]
    if not above:
        return f"r.level = '{level}'"
    names = ", ".join(f"'{name}'" for name in above)
    return (
        f"(r.level = '{level}' OR (r.level IN ({names}) AND NOT EXISTS "
        "(SELECT 1 FROM regions kid WHERE kid.parent_id = r.id)))"
    )


def _shown_regions(band: str, role: str) -> str:
    """The regions a tile of ``band`` draws. Provinces are picked by level before their
    outlines are touched (OFFSET 0): for a tile as big as a zoom-4 one, the index on outlines
    offers a thousand districts and cities whose boxes meet it, each read only to be dropped
    (15 ms against 2.5); cities and districts come from that index."""
    level = _level_condition(band)
    if band == "province":
        source, where = (
            f"(SELECT * FROM regions r WHERE {level} OFFSET 0) r",
            f"r.boundary && {_NEAR}",
        )
    else:
        source, where = "regions r", f"r.boundary && {_NEAR} AND {level}"
    return f"""
  SELECT r.id, r.code, r.name, r.name_en, r.level, r.boundary, r.label_point
    FROM {source}
   WHERE {where} AND {region_scope_sql(role, "r")}"""


def _regions_sql(band: str, role: str) -> str:
    if role in ("admin", "manager"):
        # the kept totals (each region with every region below it; all of a manager's regions
        # lie below one they manage, so the totals are theirs)
        counted = f"""
  SELECT s.id AS top, sum(t.outlets)::integer AS outlets, {_tier_sums("sum(t.outlets)", "t.tier")}
    FROM shown s JOIN region_outlet_totals t ON t.region_id = s.id
   GROUP BY s.id"""
    else:
        # a rep's own outlets, counted in their region and every region above it (the walk up
        # looks each parent up by key: a hash of every region costs more than the few steps)
        counted = f"""
  SELECT up.id AS top, count(*)::integer AS outlets, {_tier_sums("count(*)", "m.tier")}
    FROM mine m JOIN up ON up.start = m.region_id
   WHERE up.id IN (SELECT id FROM shown)
   GROUP BY up.id"""
    mine = (
        ""
        if role in ("admin", "manager")
        else f"""
), mine AS MATERIALIZED (
  SELECT o.region_id, o.tier FROM outlets o
   WHERE o.status = 'active' AND o.location IS NOT NULL AND o.region_id IS NOT NULL
     AND {outlet_scope_sql(role, "o")}
), up(start, id) AS (
  SELECT DISTINCT region_id, region_id FROM mine
  UNION
  SELECT up.start, p.parent_id FROM up CROSS JOIN LATERAL (
         SELECT r.parent_id FROM regions r WHERE r.id = up.id OFFSET 0) p
   WHERE p.parent_id IS NOT NULL"""
    )
    # simplified in degrees before the transform to two tile units (1/8 of a screen pixel on a
    # 256-pixel tile; a degree of latitude is shorter in Mercator, so a little less there):
    # nothing a map can show is lost, and far fewer vertices are transformed and clipped
    pixel = f"(720.0 / {EXTENT} / (1 << %(z)s::integer))"
    props = (
        "s.id, s.code, s.name, s.name_en, s.level, coalesce(c.outlets, 0) AS outlets, "
        + ", ".join(f"coalesce(c.{t}, 0) AS {t}" for t in TIERS)
    )
    return f"""
WITH RECURSIVE shown AS MATERIALIZED ({_shown_regions(band, role)}{mine}
), counts AS ({counted}
), e AS (SELECT {_ENV} AS env, {_NEAR}::box2d AS near)
SELECT coalesce((
  SELECT ST_AsMVT(f, 'regions', {EXTENT}, 'geom', 'id') FROM (
    SELECT {props},
           ST_AsMVTGeom(ST_Transform(ST_Simplify(ST_ClipByBox2D(s.boundary, e.near), {pixel}),
                                     3857), e.env::box2d, {EXTENT}, {BUFFER}) AS geom
      FROM shown s CROSS JOIN e LEFT JOIN counts c ON c.top = s.id
  ) f), ''::bytea)
|| coalesce((
  SELECT ST_AsMVT(l, 'region_labels', {EXTENT}, 'geom', 'id') FROM (
    SELECT {props},
           ST_AsMVTGeom(ST_Transform(s.label_point, 3857), e.env::box2d, {EXTENT}, 0) AS geom
      FROM shown s CROSS JOIN e LEFT JOIN counts c ON c.top = s.id
     WHERE s.label_point && ST_Transform(e.env, 4326)
  ) l), ''::bytea)"""


register(
    TileLayer(
        name="outlets",
        title="Outlets",
        description=(
            "Active outlets the caller may see: counts per hexagon below zoom "
            f"{POINT_ZOOM}, the outlets themselves from zoom {POINT_ZOOM}."
        ),
        vector_layers=(OUTLET_BINS, OUTLET_POINTS),
        band=_outlets_band,
        sql=_outlets_sql,
        params=_outlets_params,
        bounds=lambda session, user: scoped_bounds(session, "outlets", user),
        maxzoom=16,
    )
)
register(
    TileLayer(
        name="regions",
        title="Regions",
        description=(
            "Provinces, cities and districts by zoom, with the active outlets the caller may "
            "see in each, in all and per tier."
        ),
        vector_layers=(REGION_POLYGONS, REGION_LABELS),
        band=_regions_band,
        sql=_regions_sql,
        bounds=lambda session, user: scoped_bounds(session, "regions", user),
        maxzoom=12,
    )
)
