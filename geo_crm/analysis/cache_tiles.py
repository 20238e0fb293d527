"""The cached gap and density cells as vector tiles (``/tiles/gaps/…``, ``/tiles/density/…``)
and what the OGC ``gaps`` collection reads: one kept analysis of one region and filter.

A tile of these layers names its analysis with query parameters, as a region page's form does:
``region`` (the region's code, required) and the page's filters (``tier``, ``distributor``,
``radius_km``, ``cell_km``; density also ``product``, ``from``, ``to``). The cells are those of
the analysis kept for that key (:mod:`.cache`), fresh or stale (a tile never computes: a key
not computed yet gives empty tiles until a page or ``geo-crm analyse cache warm`` computes it).
Their ETag carries the counter value and time the kept result was computed at, so it changes
when the result is recomputed.

Access: the region pages' — admins, and managers for the regions they manage (a rep, or a
region outside the caller's scope, is as unknown as a missing one: 404). The statements carry
the region scope too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db.hotpath import HotStatement
from ..domain import access, network
from ..domain import tiles as tile_layers
from ..domain.gis import TileAddress, region_scope_sql
from ..domain.principal import SYSTEM, Principal
from ..domain.sales import product_id
from ..errors import NotFound, ValidationError
from ..models import AnalysisResult, Region
from . import cache
from .params import DEFAULT_CELL_KM, NICE_CELL_KM, MapFilters

CACHED_LAYERS = ("gaps", "density")
REGION_FIELD = "query.region"
RESULTS = AnalysisResult.__table__


# the region's code and area with its kept rows of one kind among candidate keys: compiled
# once, run on the driver; read-only, so a tile request that only reads opens no transaction
_ENTRY = HotStatement(
    "SELECT g.code, g.area_m2, r.id, r.filter_key, r.change_count, r.computed_at "
    "FROM regions g LEFT JOIN analysis_results r ON r.region_id = g.id "
    "AND r.kind = %(kind)s::text AND r.filter_key = ANY(%(keys)s::text[]) "
    "WHERE g.id = %(region_id)s::bigint",
    read_only=True,
)


@dataclass(frozen=True)
class Entry:
    """A kept analysis a caller may read: its id (None: not computed yet), when and at what
    counter value it was computed, and the region's box (CRS84)."""

    kind: str
    region_code: str
    result_id: int | None
    change_count: int | None
    computed_at: dt.datetime | None
    bounds: tuple[float, float, float, float] | None  # asked for (``entry(bounds=True)``)

    @property
    def version(self) -> str:
        """Changes whenever the kept result does (what a tile's ETag carries)."""
        stamp = self.computed_at.timestamp() if self.computed_at else 0
        return f"{self.result_id}:{self.change_count}:{stamp}"


def entry(
    session: Session,
    user: Principal | None,
    kind: str,
    region_code: str | None,
    f: MapFilters,
    *,
    bounds: bool = False,
) -> Entry:
    """The kept ``kind`` analysis of ``region_code`` for the form ``f``, if ``user`` may see the
    region (404 otherwise, naming ``query.region``; 422 when it is missing, or for a
    distributor or product that is not there)."""
    user = user or SYSTEM
    if not region_code:
        raise ValidationError(
            "name the region of the analysis (?region=<code>)",
            fields={REGION_FIELD: "required"},
        )
    unknown = NotFound(f"no region with code {region_code!r}", fields={REGION_FIELD: "not found"})
    if user.role not in ("admin", "manager"):
        raise unknown
    region_id = access.resolve(session, "region", user, region_code)
    if region_id is None:
        raise unknown
    if f.distributor:
        network.distributor(session, f.distributor, user=user, field="query.distributor")
    if kind == "density" and f.product:
        product_id(session, f.product, field="query.product")
    # the key's cell size comes from the region's area when the form names none: one
    # statement reads the area and the kept rows of every cell size it could pick (a tile is
    # a few short statements, each a round trip)
    base = cache.page_params(kind, f, 0.0)
    sizes = {f.cell_km} if f.cell_km else {*NICE_CELL_KM, DEFAULT_CELL_KM}
    keys = [cache.filter_key(kind, base.with_(cell_km=c))[0] for c in sorted(sizes)]
    rows = _ENTRY.run(session, {"region_id": region_id, "kind": kind, "keys": keys}).fetchall()
    if not rows:  # gone since the access check
        raise unknown
    code, area = rows[0][0], rows[0][1]
    key, _ = cache.filter_key(kind, cache.page_params(kind, f, area))
    row = next((x for x in rows if x[2] is not None and x[3] == key), None)
    box = _region_box(session, region_id) if bounds else None
    if row is None:
        return Entry(kind, code, None, None, None, box)
    return Entry(kind, code, row[2], row[4], row[5], box)


def _region_box(session: Session, region_id: int) -> tuple[float, float, float, float]:
    g = Region.__table__.c
    b = g.boundary
    row = session.execute(
        select(func.ST_XMin(b), func.ST_YMin(b), func.ST_XMax(b), func.ST_YMax(b)).where(
            g.id == region_id
        )
    ).one()
    return tuple(float(v) for v in row)


def tile(
    session: Session,
    user: Principal | None,
    layer: str,
    address: TileAddress,
    region_code: str | None,
    f: MapFilters,
) -> tuple[bytes, str]:
    """A tile of the kept analysis (:func:`entry`) and the analysis's version."""
    found = entry(session, user, layer, region_code, f)
    data = tile_layers.tile(
        session, layer, address, user, extra={"result_id": found.result_id or 0}
    )
    return data, found.version


# -- the layers --------------------------------------------------------------------------------

GAP_CELLS = tile_layers.VectorLayer(
    "gaps",
    "gap cells of the kept gaps analysis, worst first (rank 0): hexagons whose centre has no "
    "outlet of the chosen tiers within reach; distance to the nearest outlet and shortfall "
    "beyond its radius in metres (feature id = rank)",
    {
        "row": "Number",
        "col": "Number",
        "distance_m": "Number",
        "shortfall_m": "Number",
        "nearest_outlet": "String",
        "nearest_tier": "String",
    },
    0,
    14,
)
DENSITY_CELLS = tile_layers.VectorLayer(
    "density",
    "cells of the kept sales-density analysis, by amount (rank 0 the largest): buyers, "
    "records, amount and quantity sold, amount per km² (feature id = rank)",
    {
        "row": "Number",
        "col": "Number",
        "buyers": "Number",
        "records": "Number",
        "amount": "Number",
        "quantity": "Number",
        "amount_per_km2": "Number",
    },
    0,
    14,
)

_PROPS = {
    "gaps": "c.rank, c.row, c.col, c.distance_m, c.shortfall_m, c.nearest_outlet, c.nearest_tier",
    "density": "c.rank, c.row, c.col, c.buyers, c.records, c.amount::float8 AS amount, "
    "c.quantity::float8 AS quantity, "
    "c.amount::float8 / nullif((ar.result->>'cell_area_km2')::float8, 0) AS amount_per_km2",
}
_TABLES = {"gaps": "analysis_gap_cells", "density": "analysis_density_cells"}


def _cells_sql(layer: str):
    def sql(band: str, role: str) -> str:
        scoped = region_scope_sql(role, "r") if role in ("admin", "manager") else "false"
        return f"""
SELECT ST_AsMVT(t, '{layer}', {tile_layers.EXTENT}, 'geom', 'rank') FROM (
  SELECT {_PROPS[layer]},
         ST_AsMVTGeom(ST_Transform(c.geom, 3857), e.env::box2d, {tile_layers.EXTENT},
                      {tile_layers.BUFFER}) AS geom
    FROM {_TABLES[layer]} c
    JOIN analysis_results ar ON ar.id = c.result_id
    JOIN regions r ON r.id = ar.region_id
   CROSS JOIN (SELECT {tile_layers.ENV} AS env) e
   WHERE c.result_id = %(result_id)s::bigint AND c.geom && {tile_layers.NEAR}
     AND {scoped}
) t"""

    return sql


def _bounds(session: Session, user: Principal):
    return None  # per region: the TileJSON of a cached layer names its region's box


for _layer, _vector, _title, _about in (
    (
        "gaps",
        GAP_CELLS,
        "Coverage gaps",
        "Gap cells of one region's kept gaps analysis (?region=<code> and the region page's "
        "filters: tier, distributor, radius_km, cell_km).",
    ),
    (
        "density",
        DENSITY_CELLS,
        "Sales density",
        "Cells of one region's kept sales-density analysis (?region=<code> and the region "
        "page's filters: tier, distributor, product, from, to, cell_km).",
    ),
):
    tile_layers.register(
        tile_layers.TileLayer(
            name=_layer,
            title=_title,
            description=_about,
            vector_layers=(_vector,),
            band=lambda z: "cells",
            sql=_cells_sql(_layer),
            bounds=_bounds,
            maxzoom=14,
        )
    )
