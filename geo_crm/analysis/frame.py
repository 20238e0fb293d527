"""What every analysis of a region starts from: its boundary, its sub-regions, a metric frame.

The frame is a Lambert azimuthal equal-area projection (LAEA, WGS-84 ellipsoid) centred on
the region: areas measured in it are areas on the ellipsoid, and within a province its scale
differs from 1 by under 0.2 %, so a circle of r metres drawn in it is the ground disc to that
precision and has exactly the disc's area. EPSG:3857 and degrees are never used for measuring.

Outlets and sales come out of PostgreSQL packed into a few byte strings, straight into numpy
arrays: a million rows cost a fraction of a second, where fetching Python tuples takes seconds.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

import numpy as np
import shapely
from pyproj import Transformer
from sqlalchemy import text
from sqlalchemy.orm import Session

from ..domain.outlet_layers import OutletPoints
from ..models import TIERS
from .geometry.geodesy import local_proj
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
        rows = session.execute(
            text("SELECT id, ST_AsBinary(boundary) FROM regions WHERE parent_id = :id"),
            {"id": self.id},
        ).all()
        by_id = {rid: shapely.from_wkb(bytes(wkb)) for rid, wkb in rows}
        return [shapely.make_valid(self.frame.geom_to_m(by_id[c.id])) for c in self.children]


_SUBTREE = text("""
WITH RECURSIVE t(id, child_id, depth) AS (
    SELECT id, id, 1 FROM regions WHERE parent_id = :id
    UNION ALL
    SELECT r.id, t.child_id, t.depth + 1
      FROM regions r JOIN t ON r.parent_id = t.id WHERE t.depth < 8
)
SELECT id, child_id FROM t
""")


def load_region(session: Session, code: str) -> RegionFrame:
    """The region ``code`` (404 when unknown) with its children and a frame centred on it."""
    region = find_region(session, code)
    wkb, lon0, lat0 = session.execute(
        text(
            "SELECT ST_AsBinary(boundary), ST_X(c), ST_Y(c) FROM "
            "(SELECT boundary, ST_Centroid(boundary) AS c FROM regions WHERE id = :id) r"
        ),
        {"id": region.id},
    ).one()
    children_rows = session.execute(
        text(
            "SELECT id, code, name, level, area_m2 FROM regions WHERE parent_id = :id ORDER BY code"
        ),
        {"id": region.id},
    ).all()
    children = [SubRegion(r.id, r.code, r.name, r.level, float(r.area_m2)) for r in children_rows]
    index = {c.id: i for i, c in enumerate(children)}
    subtree = {region.id: -1}
    for rid, child_id in session.execute(_SUBTREE, {"id": region.id}):
        subtree[rid] = index[child_id]
    return RegionFrame(
        id=region.id,
        code=region.code,
        name=region.name,
        level=region.level,
        area_m2=float(region.area_m2),
        boundary=shapely.from_wkb(bytes(wkb)),
        frame=MetricFrame(round(lon0, 4), round(lat0, 4)),
        children=children,
        subtree_child=subtree,
    )


def fetch_packed(session: Session, query: str, args: dict, dtype: np.dtype) -> np.ndarray:
    """Run ``query`` (one NOT NULL bytea column, every row ``dtype.itemsize`` bytes; a CTE
    prefix before ``/*SELECT*/``) and return its rows as one structured numpy array.

    Rows are packed server-side (``string_agg`` of fixed-width records built from each value's
    binary send form) and fetched in binary: no per-row work in Python, which costs more than
    the query itself once rows number in the hundreds of thousands; on a million rows about
    half the server time of one aggregate per column sent as hex text.
    """
    prefix, _, body = query.rpartition("/*SELECT*/")
    conn = session.connection().connection.driver_connection
    with conn.cursor() as cur:
        cur.execute(f"{prefix} SELECT string_agg(r, '') FROM ({body}) q(r)", args, binary=True)
        (blob,) = cur.fetchone()
    return np.frombuffer(blob if blob is not None else b"", dtype=dtype)


NETWORK_CTE = """
WITH RECURSIVE network(id) AS (
    SELECT id FROM outlets WHERE id = %(distributor_id)s
    UNION ALL
    SELECT o.id FROM outlets o JOIN network n ON o.parent_id = n.id
)
"""


def outlet_filter_sql(resolved: Resolved, tiers: tuple[str, ...]) -> tuple[str, str, dict]:
    """(CTE prefix, WHERE conditions, params) selecting outlets by tier, status and network."""
    params = resolved.params
    conds, args = ["TRUE"], {}
    if set(tiers) != set(TIERS):  # every tier: the CHECK on tier makes the test a no-op
        conds, args = ["o.tier = ANY(%(tiers)s)"], {"tiers": list(tiers)}
    if params.status is not None:
        conds.append("o.status = %(status)s")
        args["status"] = params.status
    prefix = ""
    if resolved.distributor_id is not None:
        prefix = NETWORK_CTE
        conds.append("o.id IN (SELECT id FROM network)")
        args["distributor_id"] = resolved.distributor_id
    return prefix, " AND ".join(conds), args


OUTLET_FIELDS = ("id", "region_id")
_TIER_INDEX = (
    "CASE o.tier " + " ".join(f"WHEN '{t}' THEN {i}" for i, t in enumerate(TIERS)) + " END"
)


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
    row is packed server-side into one fixed-width binary record (``ST_X``/``ST_Y`` as float8,
    the tier as int2 when more than one is asked for, …) and the records into one byte string,
    which numpy reads as a structured array: one aggregate per row instead of one per column,
    and no geometry serialised (``location::bytea`` costs more than the coordinates).
    """
    prefix, where, args = outlet_filter_sql(resolved, tiers)
    where += " AND o.location IS NOT NULL"
    if envelope is not None and exclude is None and _covers_all_outlets(session, envelope):
        envelope = None  # a country-wide box: testing every point against it only costs time
    if envelope is not None:
        where += " AND o.location && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 4326)"
        args.update(dict(zip(("x0", "y0", "x1", "y1"), envelope, strict=True)))
    if exclude is not None:
        # the frame between the two boxes as four strips, so the GiST index finds the few
        # outlets there instead of a scan of everything in the bigger box
        x0, y0, x1, y1 = envelope if envelope is not None else (-180.0, -90.0, 180.0, 90.0)
        e0, e1, e2, e3 = exclude
        strips = [(x0, y0, e0, y1), (e2, y0, x1, y1), (e0, y0, e2, e1), (e0, e3, e2, y1)]
        parts = []
        for n, strip in enumerate(strips):
            keys = [f"s{n}_{k}" for k in range(4)]
            args.update(dict(zip(keys, strip, strict=True)))
            parts.append(
                "o.location && ST_MakeEnvelope(" + ", ".join(f"%({k})s" for k in keys) + ", 4326)"
            )
        where += f" AND ({' OR '.join(parts)})"
        where += " AND NOT o.location && ST_MakeEnvelope(%(e0)s, %(e1)s, %(e2)s, %(e3)s, 4326)"
        args.update(dict(zip(("e0", "e1", "e2", "e3"), exclude, strict=True)))
    parts = ["float8send(ST_X(o.location))", "float8send(ST_Y(o.location))"]
    record = [("lon", ">f8"), ("lat", ">f8")]
    if len(tiers) > 1:
        parts.append(f"int2send(({_TIER_INDEX})::int2)")
        record.append(("tier", ">i2"))
    if "region_id" in fields:
        parts.append("int4send(coalesce(o.region_id, 0))")
        record.append(("region_id", ">i4"))
    if "id" in fields:
        parts.append("int8send(o.id)")
        record.append(("id", ">i8"))
    query = f"{prefix} /*SELECT*/ SELECT {' || '.join(parts)} FROM outlets o WHERE {where}"
    data = fetch_packed(session, query, args, np.dtype(record))
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


def _covers_all_outlets(session: Session, box: tuple[float, float, float, float]) -> bool:
    """Whether ``box`` holds the planner's estimated extent of all outlet locations. Dropping
    the box then returns a superset (still correct); a stale estimate only costs the speed-up."""
    extent = session.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
            "FROM (SELECT ST_EstimatedExtent('outlets', 'location') AS e) x"
        )
    ).one()
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
