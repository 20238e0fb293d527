"""What every analysis of a region starts from: its boundary, its sub-regions, a metric frame.

The frame is a Lambert azimuthal equal-area projection (LAEA, WGS-84 ellipsoid) centred on
the region (on its pole for a region reaching one, on its parts unwrapped for one in parts on
both sides of the 180° meridian: ``geometry.sphere.frame_centre``): areas measured in it are
areas on the ellipsoid, and within a province its scale
differs from 1 by under 0.2 %, so a circle of r metres drawn in it is the ground disc to that
precision and has exactly the disc's area. EPSG:3857 and degrees are never used for measuring.

Outlets and sales come out of PostgreSQL packed into a few byte strings, straight into numpy
arrays (``db.hotpath.Records``): no Python object per row, which would cost more than the query.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

import numpy as np
import shapely
from pyproj import Transformer
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    Select,
    String,
    any_,
    bindparam,
    func,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..db.hotpath import Field, Records
from ..domain.network import OUTLETS, outlet_tree
from ..domain.outlet_layers import OutletPoints
from ..domain.regions import REGIONS, subregions, subtree_by_child
from ..models import TIERS
from .geometry.geodesy import local_proj
from .geometry.hexgrid import HexGrid
from .geometry.sphere import frame_centre, ring_round_pole
from .params import Resolved, find_region

LOGGER = logging.getLogger(__name__)

# boundary edges are straight in longitude/latitude (PostGIS geometry); densify them before
# projecting so the projected shape is the one drawn on the map
DENSIFY_DEG = 0.01


@functools.lru_cache(maxsize=64)
def _transformer(lon0: float, lat0: float) -> Transformer:
    return Transformer.from_crs("EPSG:4326", laea_proj(lon0, lat0), always_xy=True)


def laea_proj(lon0: float, lat0: float) -> str:
    return local_proj("laea", lon0, lat0)


@dataclass(frozen=True)
class MetricFrame:
    """Forward/inverse LAEA centred on (lon0, lat0), vectorised over numpy arrays."""

    lon0: float
    lat0: float

    @property
    def proj(self) -> str:
        return laea_proj(self.lon0, self.lat0)

    def to_m(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        return _transformer(self.lon0, self.lat0).transform(
            np.asarray(lon, float), np.asarray(lat, float)
        )

    def to_lonlat(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        return _transformer(self.lon0, self.lat0).transform(
            np.asarray(x, float), np.asarray(y, float), direction="INVERSE"
        )

    def geom_to_m(self, geom):
        dense = shapely.segmentize(geom, DENSIFY_DEG)
        return shapely.transform(dense, lambda xy: np.column_stack(self.to_m(xy[:, 0], xy[:, 1])))

    def geom_to_lonlat(self, geom):
        return shapely.transform(
            geom, lambda xy: np.column_stack(self.to_lonlat(xy[:, 0], xy[:, 1]))
        )


@dataclass
class SubRegion:
    id: int
    code: str
    name: str
    level: str
    area_m2: float


@dataclass
class RegionFrame:
    """A region with its sub-regions (direct children) and the metric frame centred on it."""

    id: int
    code: str
    name: str
    level: str
    area_m2: float  # ST_Area(boundary::geography), kept by the regions trigger
    boundary: object  # shapely (Multi)Polygon, WGS-84
    frame: MetricFrame
    children: list[SubRegion]
    # every region id of the subtree (the region itself included) -> index into children, or -1
    subtree_child: dict[int, int] = field(default_factory=dict)
    _boundary_m: object = None

    @property
    def subtree_ids(self) -> list[int]:
        return list(self.subtree_child)

    @property
    def boundary_m(self):
        if self._boundary_m is None:
            self._boundary_m = shapely.make_valid(self.frame.geom_to_m(self.boundary))
        return self._boundary_m

    def child_index(self, region_ids: np.ndarray) -> np.ndarray:
        """Index of the child holding each region id; -1 for the region itself or outside."""
        if not self.subtree_child:
            return np.full(len(region_ids), -1, dtype=np.int64)
        keys = np.fromiter(self.subtree_child.keys(), dtype=np.int64)
        values = np.fromiter(self.subtree_child.values(), dtype=np.int64)
        order = np.argsort(keys)
        keys, values = keys[order], values[order]
        pos = np.clip(np.searchsorted(keys, region_ids), 0, len(keys) - 1)
        return np.where(keys[pos] == region_ids, values[pos], -1)

    def in_subtree(self, region_ids: np.ndarray) -> np.ndarray:
        keys = np.fromiter(self.subtree_child.keys(), dtype=np.int64)
        return np.isin(region_ids, keys)

    def child_boundaries_m(self, session: Session) -> list:
        r = REGIONS
        rows = session.execute(
            select(r.c.id, func.ST_AsBinary(r.c.boundary)).where(r.c.parent_id == self.id)
        ).all()
        by_id = {rid: shapely.from_wkb(bytes(wkb)) for rid, wkb in rows}
        return [shapely.make_valid(self.frame.geom_to_m(by_id[c.id])) for c in self.children]

    def cell_outlines(self, grid: HexGrid, row, col) -> list[list]:
        """Closed WGS-84 rings (lon, lat to 6 decimals, ~0.1 m) of the grid's cells (row, col).

        A cell holding a pole is drawn round it (from −180° to 180°, closed along the pole); a
        cell across the 180° meridian unwrapped (western longitudes +360°), as the maps draw
        it: in plain longitudes either would run the other way round the world."""
        if not len(row):
            return []
        rings = grid.outlines(np.asarray(row), np.asarray(col))
        lon, lat = self.frame.to_lonlat(rings[..., 0].ravel(), rings[..., 1].ravel())
        lonlat = np.stack([lon, lat], axis=-1).reshape(rings.shape)
        out = np.round(lonlat, 6).tolist()
        span = lonlat[..., 0].max(axis=1) - lonlat[..., 0].min(axis=1)
        for k in np.flatnonzero(span > 180.0):
            out[k] = self._wide_cell(rings[k], lonlat[k], grid.edge_m)
        return out

    def _wide_cell(self, ring_m: np.ndarray, ring: np.ndarray, edge_m: float) -> list:
        hexagon = shapely.Polygon(ring_m)
        for pole in (1, -1):
            px, py = self.frame.to_m([0.0], [90.0 * pole])
            if hexagon.covers(shapely.Point(float(px[0]), float(py[0]))):
                dense = np.asarray(shapely.segmentize(hexagon, edge_m / 16).exterior.coords)[:-1]
                lon, lat = self.frame.to_lonlat(dense[:, 0], dense[:, 1])
                return ring_round_pole(lon, lat, pole)
        shifted = ring.copy()
        shifted[:, 0] = np.where(shifted[:, 0] < 0, shifted[:, 0] + 360.0, shifted[:, 0])
        return np.round(shifted, 6).tolist()


def cell_feature(row: int, col: int, outline: list | None, properties: dict) -> dict:
    """A grid cell as a GeoJSON Feature: id ``row:col``, its outline (None: not asked for), and
    ``row``/``col`` ahead of ``properties``."""
    return {
        "type": "Feature",
        "id": f"{row}:{col}",
        "geometry": {"type": "Polygon", "coordinates": [outline]} if outline else None,
        "properties": {"row": row, "col": col, **properties},
    }


@functools.cache
def _region_statements() -> tuple[Select, Select]:
    """The boundary with its centroid, and the subtree by direct child, of the region
    ``region_id``: built once (building a recursive CTE costs more than running it)."""
    r = REGIONS
    region_id = bindparam("region_id", type_=Integer)
    centred = (
        select(r.c.boundary, func.ST_Centroid(r.c.boundary).label("c"))
        .where(r.c.id == region_id)
        .subquery("r")
    )
    boundary = select(
        func.ST_AsBinary(centred.c.boundary), func.ST_X(centred.c.c), func.ST_Y(centred.c.c)
    )
    below = subtree_by_child(region_id)
    return boundary, select(below.c.id, below.c.child_id)


def load_region(session: Session, code: str) -> RegionFrame:
    """The region ``code`` (404 when unknown) with its children and a frame centred on it."""
    region = find_region(session, code)
    boundary, below = _region_statements()
    values = {"region_id": region.id}
    wkb, lon0, lat0 = session.execute(boundary, values).one()
    children = [
        SubRegion(c.id, c.code, c.name, c.level, float(c.area_m2))
        for c in subregions(session, region.id)
    ]
    index = {c.id: i for i, c in enumerate(children)}
    subtree = {region.id: -1}
    for rid, child_id in session.execute(below, values):
        subtree[rid] = index[child_id]
    boundary = shapely.from_wkb(bytes(wkb))
    lon0, lat0 = frame_centre(boundary, lon0, lat0)
    return RegionFrame(
        id=region.id,
        code=region.code,
        name=region.name,
        level=region.level,
        area_m2=float(region.area_m2),
        boundary=boundary,
        frame=MetricFrame(round(lon0, 4), round(lat0, 4)),
        children=children,
        subtree_child=subtree,
    )


def outlet_filter(
    tiers: tuple[str, ...], *, status: bool, distributor: bool
) -> list[ColumnElement[bool]]:
    """Conditions on ``outlets`` selecting them by tier, status and network, with bound values
    ``tiers``, ``status`` and ``distributor_id`` (:func:`filter_values`): one statement shape
    per kind of filter, whatever the values."""
    o = OUTLETS
    conds: list[ColumnElement[bool]] = []
    if set(tiers) != set(TIERS):  # every tier: the CHECK on tier makes the test a no-op
        conds.append(o.c.tier == any_(bindparam("tiers", type_=ARRAY(String))))
    if status:
        conds.append(o.c.status == bindparam("status", type_=String))
    if distributor:
        network = outlet_tree(o.c.id == bindparam("distributor_id", type_=BigInteger))
        conds.append(o.c.id.in_(select(network.c.id)))
    return conds


def filter_values(resolved: Resolved, tiers: tuple[str, ...]) -> dict:
    """The values :func:`outlet_filter`'s conditions are bound to."""
    values: dict = {"tiers": list(tiers)}
    if resolved.params.status is not None:
        values["status"] = resolved.params.status
    if resolved.distributor_id is not None:
        values["distributor_id"] = resolved.distributor_id
    return values


def _envelope(prefix: str) -> ColumnElement:
    corners = [bindparam(f"{prefix}{k}", type_=Float) for k in range(4)]
    return func.ST_MakeEnvelope(*corners, 4326)


@functools.lru_cache(maxsize=64)
def _outlet_records(
    tiers: tuple[str, ...],
    status: bool,
    distributor: bool,
    envelope: bool,
    exclude: bool,
    fields: tuple[str, ...],
) -> Records:
    """The packed-record statement of :func:`fetch_outlets` for one shape of filters."""
    o = OUTLETS
    where = [*outlet_filter(tiers, status=status, distributor=distributor)]
    where.append(o.c.location.is_not(None))
    if envelope:
        where.append(o.c.location.bool_op("&&")(_envelope("x")))
    if exclude:
        # the frame between the two boxes as four strips, so the GiST index finds the few
        # outlets there instead of a scan of everything in the bigger box
        strips = [o.c.location.bool_op("&&")(_envelope(f"s{n}_")) for n in range(4)]
        where.append(or_(*strips))
        where.append(not_(o.c.location.bool_op("&&")(_envelope("e"))))
    packed = [
        Field("lon", func.ST_X(o.c.location), "f8"),
        Field("lat", func.ST_Y(o.c.location), "f8"),
    ]
    if len(tiers) > 1:
        packed.append(Field("tier", func.geo_crm_tier_rank(o.c.tier) - 1, "i2"))
    if "region_id" in fields:
        packed.append(Field("region_id", o.c.region_id, "i4", null=0))
    if "id" in fields:
        packed.append(Field("id", o.c.id, "i8"))
    return Records(packed, from_=o, where=where)


OUTLET_FIELDS = ("id", "region_id")


def fetch_outlets(
    session: Session,
    resolved: Resolved,
    tiers: tuple[str, ...],
    envelope: tuple[float, float, float, float] | None,
    *,
    exclude: tuple[float, float, float, float] | None = None,
    fields: tuple[str, ...] = OUTLET_FIELDS,
) -> OutletPoints:
    """Geotagged outlets passing the filters inside a lon/lat ``envelope`` (GiST index; None:
    anywhere), leaving out those inside ``exclude`` (what an earlier call already returned).

    Always lon, lat and tier; of ``fields`` ("id", "region_id") only those asked for. Each
    row is packed server-side into one fixed-width binary record (``db.hotpath.Records``:
    ``ST_X``/``ST_Y`` as float8, the tier as int2 when more than one is asked for, …), one
    statement per shape of filters: one aggregate per row instead of one per column, and no
    geometry serialised (``location::bytea`` costs more than the coordinates).
    """
    if envelope is not None and exclude is None and _covers_all_outlets(session, envelope):
        envelope = None  # a country-wide box: testing every point against it only costs time
    values = filter_values(resolved, tiers)
    if envelope is not None:
        values.update({f"x{k}": v for k, v in enumerate(envelope)})
    if exclude is not None:
        x0, y0, x1, y1 = envelope if envelope is not None else (-180.0, -90.0, 180.0, 90.0)
        e0, e1, e2, e3 = exclude
        strips = [(x0, y0, e0, y1), (e2, y0, x1, y1), (e0, y0, e2, e1), (e0, e3, e2, y1)]
        for n, strip in enumerate(strips):
            values.update({f"s{n}_{k}": v for k, v in enumerate(strip)})
        values.update({f"e{k}": v for k, v in enumerate(exclude)})
    records = _outlet_records(
        tiers,
        resolved.params.status is not None,
        resolved.distributor_id is not None,
        envelope is not None,
        exclude is not None,
        tuple(f for f in OUTLET_FIELDS if f in fields),
    )
    data = records.fetch(session, values)
    names = data.dtype.names
    return OutletPoints(
        data["id"].astype(np.int64) if "id" in names else None,
        data["lon"].astype(np.float64),
        data["lat"].astype(np.float64),
        data["tier"].astype(np.int64)
        if "tier" in names
        else np.full(len(data), TIERS.index(tiers[0]), dtype=np.int64),
        data["region_id"].astype(np.int64) if "region_id" in names else None,
        envelope,
    )


@functools.cache
def _estimated_extent() -> Select:
    """The planner's estimate of the outlets' extent (xmin, ymin, xmax, ymax)."""
    estimated = select(
        func.ST_EstimatedExtent(literal_column("'outlets'"), literal_column("'location'")).label(
            "e"
        )
    ).subquery("x")
    e = estimated.c.e
    return select(func.ST_XMin(e), func.ST_YMin(e), func.ST_XMax(e), func.ST_YMax(e))


def _covers_all_outlets(session: Session, box: tuple[float, float, float, float]) -> bool:
    """Whether ``box`` holds the planner's estimated extent of all outlet locations. Dropping
    the box then returns a superset (still correct); a stale estimate only costs the speed-up."""
    extent = session.execute(_estimated_extent()).one()
    if extent[0] is None:
        return False
    return (
        box[0] <= extent[0] and box[1] <= extent[1] and box[2] >= extent[2] and box[3] >= extent[3]
    )


def merge_points(a: OutletPoints, b: OutletPoints) -> OutletPoints:
    """Both sets: ``b`` fetched outside ``a``'s envelope (``exclude``), so no outlet twice."""

    def both(x, y):
        return np.concatenate([x, y]) if x is not None and y is not None else None

    return OutletPoints(
        both(a.ids, b.ids),
        both(a.lon, b.lon),
        both(a.lat, b.lat),
        both(a.tier, b.tier),
        both(a.region_id, b.region_id),
        b.envelope,
    )
