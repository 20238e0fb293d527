"""Feature collections for the OGC API – Features face: outlets and regions as GeoJSON
Features in CRS84, limited to what the caller may see, paged by keyset (id order).

A collection (:class:`Collection`, registered in :data:`COLLECTIONS`) is a table read by one
statement per role and filter shape (bbox, either end of a datetime interval, a keyset
position), compiled once with the values as bind parameters and run on the driver like the
other hot reads. The database writes each Feature's JSON text itself (``ST_AsGeoJSON`` and
``json_build_object``), so a page of 1,000 features is joined, not re-encoded, in Python.

- ``outlets``: every outlet in the caller's scope (as ``/api/v1/outlets`` lists them; one not
  yet geotagged has ``"geometry": null``); id = the outlet's code; its time is the interval
  from ``created_at`` to ``updated_at``. Contact details (person, phone) and notes stay in the
  API.
- ``regions``: the regions the caller may see, boundary as a MultiPolygon; id = code; its time
  is the instant ``updated_at``.

Other collections register the same way (their SQL per shape and role, temporal columns and
bounds): ``gaps``, the gap cells of the analysis cache, does in ``analysis.cache_features``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ..db.hotpath import HotStatement
from ..errors import NotFound
from .gis import outlet_scope_sql, region_scope_sql, scoped_bounds
from .principal import SYSTEM, Principal

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class ItemFilter:
    """What an items request selects: a CRS84 box, a time interval (either end open: None),
    the keyset position (rows after this id) and how many rows."""

    bbox: tuple[float, float, float, float] | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    after: int | None = None
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True)
class _Shape:
    bbox: bool
    start: bool
    end: bool
    after: bool

    @classmethod
    def of(cls, f: ItemFilter) -> _Shape:
        return cls(f.bbox is not None, f.start is not None, f.end is not None, f.after is not None)


@dataclass
class FeaturePage:
    features: list[str]  # each Feature's GeoJSON text
    next_after: int | None  # keyset position of the next page; None on the last
    matched: int | None  # features matching the filter (first pages only: it costs a count)


@dataclass(frozen=True)
class Collection:
    """A feature collection: ``rows`` is the FROM clause (alias ``t`` is the table paged by
    id), ``feature`` the SQL text of one Feature, ``scope(role)`` its access clause,
    ``spatial(shape)`` how a box selects, ``time_from``/``time_to`` the columns of a feature's
    temporal extent (the same for an instant)."""

    id: str
    title: str
    description: str
    properties: Mapping[str, str]  # property -> JSON type, for the collection document
    rows: str
    feature: str
    scope: Callable[[str], str]
    spatial: str  # a condition on %(x0)s, %(y0)s, %(x1)s, %(y1)s
    time_from: str
    time_to: str
    bounds: Callable[[Session, Principal], tuple[float, float, float, float] | None] = field(
        default=lambda session, user: None
    )
    temporal: str = ""  # what datetime matches, in words


COLLECTIONS: dict[str, Collection] = {}


def register(collection: Collection) -> Collection:
    COLLECTIONS[collection.id] = collection
    _items_statement.cache_clear()
    _count_statement.cache_clear()
    _feature_statement.cache_clear()
    return collection


def collection_named(cid: str) -> Collection:
    found = COLLECTIONS.get(cid)
    if found is None:
        raise NotFound(
            f"no collection {cid!r}: use one of {', '.join(sorted(COLLECTIONS))}",
            fields={"path.collectionId": "unknown collection"},
        )
    return found


# -- statements ------------------------------------------------------------------------------


def _conditions(c: Collection, s: _Shape, role: str) -> str:
    conds = [c.scope(role)]
    if s.bbox:
        conds.append(c.spatial)
    if s.start:  # the feature's time ends at or after the interval's start
        conds.append(f"{c.time_to} >= %(t0)s::timestamptz")
    if s.end:  # … and begins at or before its end
        conds.append(f"{c.time_from} <= %(t1)s::timestamptz")
    return " AND ".join(conds)


@functools.lru_cache(maxsize=512)
def _items_statement(cid: str, s: _Shape, role: str) -> HotStatement:
    c = COLLECTIONS[cid]
    after = " AND t.id > %(after)s::bigint" if s.after else ""
    sql = (
        f"SELECT t.id, {c.feature} FROM {c.rows} WHERE {_conditions(c, s, role)}{after} "
        "ORDER BY t.id LIMIT %(lim)s::integer"
    )
    return HotStatement(sql, read_only=True, binary=True, prepare=False)


@functools.lru_cache(maxsize=256)
def _count_statement(cid: str, s: _Shape, role: str) -> HotStatement:
    c = COLLECTIONS[cid]
    sql = f"SELECT count(*) FROM {c.rows} WHERE {_conditions(c, s, role)}"
    return HotStatement(sql, read_only=True, binary=True, prepare=False)


@functools.lru_cache(maxsize=64)
def _feature_statement(cid: str, role: str) -> HotStatement:
    c = COLLECTIONS[cid]
    sql = f"SELECT {c.feature} FROM {c.rows} WHERE t.code = %(fid)s AND {c.scope(role)}"
    return HotStatement(sql, read_only=True, binary=True, prepare=False)


def _values(f: ItemFilter, user: Principal) -> dict:
    values: dict = {"scope_uid": user.id}
    if f.bbox is not None:
        values.update(zip(("x0", "y0", "x1", "y1"), map(float, f.bbox), strict=True))
    if f.start is not None:
        values["t0"] = f.start
    if f.end is not None:
        values["t1"] = f.end
    if f.after is not None:
        values["after"] = int(f.after)
    return values


# -- reading -------------------------------------------------------------------------------


def items(
    session: Session, cid: str, f: ItemFilter, user: Principal | None, *, count: bool = True
) -> FeaturePage:
    """One page of collection ``cid`` in id order: at most ``f.limit`` features after
    ``f.after``, with the position of the next page when more follow; ``matched`` (the number
    of all features the filter selects) on a first page when ``count``."""
    c = collection_named(cid)
    user = user or SYSTEM
    shape = _Shape.of(f)
    values = _values(f, user)
    rows = (
        _items_statement(c.id, shape, user.role)
        .run(session, {**values, "lim": f.limit + 1})
        .fetchall()
    )
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    matched = None
    if count and f.after is None:
        if not more:
            matched = len(rows)
        else:
            whole = _Shape(shape.bbox, shape.start, shape.end, False)
            values.pop("after", None)
            matched = _count_statement(c.id, whole, user.role).run(session, values).fetchone()[0]
    return FeaturePage([r[1] for r in rows], rows[-1][0] if more else None, matched)


def feature(session: Session, cid: str, fid: str, user: Principal | None) -> str:
    """The GeoJSON text of feature ``fid`` of collection ``cid``; 404 when it does not exist
    or lies outside the caller's scope (the two look the same)."""
    c = collection_named(cid)
    user = user or SYSTEM
    row = _feature_statement(c.id, user.role).run(session, {"fid": fid, "scope_uid": user.id})
    found = row.fetchone()
    if found is None:
        raise NotFound(f"{cid} has no feature {fid!r}", fields={"path.featureId": "not found"})
    return found[0]


def extent(session: Session, cid: str, user: Principal | None):
    """The CRS84 box of what ``user`` may see in ``cid``, or None."""
    c = collection_named(cid)
    return c.bounds(session, user or SYSTEM)


# -- the collections -------------------------------------------------------------------------


def _utc(column: str) -> str:
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"


def _feature_sql(code: str, geometry: str, properties: Mapping[str, str]) -> str:
    pairs = ", ".join(f"'{name}', {expr}" for name, expr in properties.items())
    return (
        '\'{"type":"Feature","id":\' || to_json(' + code + ")::text || "
        "',\"geometry\":' || coalesce(" + geometry + ", 'null') || "
        "',\"properties\":' || json_build_object(" + pairs + ")::text || '}'"
    )


_OUTLET_PROPERTIES = {
    "code": "t.code",
    "name": "t.name",
    "tier": "t.tier",
    "status": "t.status",
    "parent_code": "parent.code",
    "region_code": "region.code",
    "address": "t.address",
    "created_at": _utc("t.created_at"),
    "updated_at": _utc("t.updated_at"),
}
_REGION_PROPERTIES = {
    "code": "t.code",
    "name": "t.name",
    "name_en": "t.name_en",
    "level": "t.level",
    "parent_code": "parent.code",
    "area_km2": "round((t.area_m2 / 1e6)::numeric, 3)",
    "updated_at": _utc("t.updated_at"),
}
_BOX = "ST_MakeEnvelope(%(x0)s::float8, %(y0)s::float8, %(x1)s::float8, %(y1)s::float8, 4326)"
# for collections registered from other modules
BOX, feature_sql, utc_text = _BOX, _feature_sql, _utc

register(
    Collection(
        id="outlets",
        title="Outlets",
        description=(
            "Distributors, wholesalers and retail outlets the caller may see (id: outlet code; "
            "geometry null while not geotagged)."
        ),
        properties={
            "code": "string",
            "name": "string",
            "tier": "string",
            "status": "string",
            "parent_code": "string",
            "region_code": "string",
            "address": "string",
            "created_at": "string",
            "updated_at": "string",
        },  # fmt: skip
        rows=(
            "outlets t LEFT JOIN outlets parent ON parent.id = t.parent_id "
            "LEFT JOIN regions region ON region.id = t.region_id"
        ),
        feature=_feature_sql("t.code", "ST_AsGeoJSON(t.location, 7)", _OUTLET_PROPERTIES),
        scope=lambda role: outlet_scope_sql(role, "t"),
        spatial=f"t.location && {_BOX}",  # exact for points, and the index's operator
        time_from="t.created_at",
        time_to="t.updated_at",
        bounds=lambda session, user: scoped_bounds(session, "outlets", user),
        temporal="an outlet's time is the interval from created_at to updated_at",
    )
)
register(
    Collection(
        id="regions",
        title="Regions",
        description="Provinces, cities and districts the caller may see (id: region code).",
        properties={
            "code": "string",
            "name": "string",
            "name_en": "string",
            "level": "string",
            "parent_code": "string",
            "area_km2": "number",
            "updated_at": "string",
        },  # fmt: skip
        rows="regions t LEFT JOIN regions parent ON parent.id = t.parent_id",
        feature=_feature_sql("t.code", "ST_AsGeoJSON(t.boundary, 6)", _REGION_PROPERTIES),
        scope=lambda role: region_scope_sql(role, "t"),
        spatial=f"ST_Intersects(t.boundary, {_BOX})",
        time_from="t.updated_at",
        time_to="t.updated_at",
        bounds=lambda session, user: scoped_bounds(session, "regions", user),
        temporal="a region's time is the instant updated_at",
    )
)
