"""Outlets: the filtered list every caller shares (API, exports, maps) and single-outlet changes.

``select_outlets`` builds one ``select()``; callers execute, page or wrap it. Distances are
metres on the WGS-84 spheroid (``geography``). The GiST index on ``location`` is in degrees, so
a metre radius becomes a degree radius that surely contains the disc (using a lower bound of
metres per degree over the disc's latitude band) and the exact metre test then runs only on
the few rows that index finds. "Nearest first" is exact too: KNN (``<->``, degree order) finds
the k degree-nearest rows, the largest true distance among them bounds the true k nearest, and
only rows inside that bound are measured and sorted (see ``select_outlets``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from geoalchemy2 import Geography
from sqlalchemy import (
    CTE,
    BigInteger,
    BindParameter,
    ColumnElement,
    Float,
    FromClause,
    Integer,
    Select,
    String,
    Text,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from .. import coords
from ..analysis.geometry.geodesy import (
    M_PER_DEG_FLOOR,
    POLAR_BAND_DEG,
    WHOLE_WORLD_DEG,
    radius_in_degrees,
)
from ..db.hotpath import HotStatement
from ..errors import Conflict, NotFound, ValidationError
from ..models import GeotagEvent, Outlet, Region, User
from .access import distributor_scope, outlet_scope, region_scope
from .network import downstream_cte
from .outlet_changes import acting_user
from .principal import Principal
from .regions import region_subtree

LOGGER = logging.getLogger(__name__)

OUTLETS = Outlet.__table__
REGIONS = Region.__table__

# columns a caller may change with update_outlet
UPDATABLE = (
    "name",
    "tier",
    "parent_id",
    "address",
    "contact",
    "phone",
    "status",
    "rep_id",
    "notes",
)


@dataclass
class OutletFilters:
    """Every filter combines with the others (AND)."""

    tier: list[str] | None = None
    region: str | None = None  # region code; includes all its sub-regions
    distributor: str | None = None  # outlet code: that outlet and its whole downstream network
    status: list[str] | None = None
    geotagged: bool | None = None
    bbox: tuple[float, float, float, float] | None = None  # min_lon, min_lat, max_lon, max_lat
    near: tuple[float, float] | None = None  # (lon, lat), WGS-84: nearest first, with distance_m
    radius_m: float | None = None  # with near: only outlets within this distance
    q: str | None = None  # case-insensitive substring of name or code


@dataclass(frozen=True)
class After:
    """A keyset position: rows strictly after (distance_m, id) in the list's order."""

    id: int
    distance_m: float | None = None


@dataclass
class Location:
    """A point as a client sent it: converted to WGS-84 here, the sent system kept for history."""

    lon: float
    lat: float
    crs: str = "wgs84"
    accuracy_m: float | None = None
    source: str = "map"

    def wgs84(self) -> tuple[float, float]:
        return coords.point_to_wgs84(self.lon, self.lat, self.crs)


# -- geometry helpers ----------------------------------------------------------------------


def _radius_box(lon: float, lat: float, radius_deg: float, radius_m: float) -> dict:
    """Corners of a lon/lat box around every point within ``radius_m`` of (lon, lat): the
    degree radius across, and r / 110 km up and down (a degree of latitude is longer
    everywhere), so at mid latitudes a fifth of the degree circle's box is cut off and its rows
    are never read from the table."""
    dlat = radius_m / M_PER_DEG_FLOOR
    return {
        "box_x0": lon - radius_deg, "box_y0": lat - dlat,
        "box_x1": lon + radius_deg, "box_y1": lat + dlat,
    }  # fmt: skip


def _sql_radius_in_degrees(radius_m: ColumnElement) -> ColumnElement:
    """``radius_in_degrees`` for a radius only the database knows (the KNN bound)."""
    band = _p("near_band", Float) + radius_m / M_PER_DEG_FLOOR
    return case(
        (band >= POLAR_BAND_DEG, literal(WHOLE_WORLD_DEG)),
        else_=radius_m / (M_PER_DEG_FLOOR * func.cos(func.radians(band))),
    )


def point_sql(lon: float | ColumnElement, lat: float | ColumnElement) -> ColumnElement:
    return func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)


def geography(expr: ColumnElement) -> ColumnElement:
    return cast(expr, Geography(srid=4326))


def _p(name: str, type_) -> BindParameter:
    return bindparam(name, type_=type_)


# -- filters -------------------------------------------------------------------------------
#
# Statements are built once per *shape* (which filters are present) with named parameters and
# cached; a request only binds its values. Building and compiling a statement of this size
# costs more than PostgreSQL takes to run it.


def like_pattern(text: str) -> str:
    """An ``ILIKE … ESCAPE '\\'`` pattern matching ``text`` anywhere, its ``%``, ``_`` and
    backslashes taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contains_text(text: str, *columns: ColumnElement) -> ColumnElement[bool]:
    """Any of ``columns`` contains ``text``, case-insensitively (a literal match)."""
    pattern = like_pattern(text)
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))


@dataclass(frozen=True)
class _Shape:
    """Which filters a statement has: its structure, not its values."""

    tier: bool = False
    status: bool = False
    region: bool = False
    distributor: bool = False
    geotagged: bool | None = None
    bbox: bool = False
    q: bool = False
    near: bool = False
    radius: bool = False
    knn: bool = False
    after: bool = False

    @classmethod
    def of(cls, f: OutletFilters, after: After | None, knn_limit: int | None) -> _Shape:
        near = f.near is not None
        return cls(
            tier=bool(f.tier), status=bool(f.status), region=f.region is not None,
            distributor=f.distributor is not None, geotagged=f.geotagged, bbox=f.bbox is not None,
            q=bool(f.q), near=near, radius=near and f.radius_m is not None,
            knn=near and knn_limit is not None, after=after is not None,
        )  # fmt: skip


def _values(f: OutletFilters, after: After | None, knn_limit: int | None) -> dict:
    """The parameter values of the statement ``_Shape.of(f, after, knn_limit)`` describes."""
    values: dict = {}
    if f.tier:
        values["tier"] = list(f.tier)
    if f.status:
        values["status"] = list(f.status)
    if f.region is not None:
        values["region"] = f.region
    if f.distributor is not None:
        values["distributor"] = f.distributor
    if f.bbox is not None:
        corners = ("bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1")
        values.update(zip(corners, map(float, f.bbox), strict=True))
    if f.q:
        values["q"] = like_pattern(f.q)
    if f.near is not None:
        lon, lat = float(f.near[0]), float(f.near[1])
        values.update(near_lon=lon, near_lat=lat)
        if f.radius_m is not None:
            values["radius_m"] = float(f.radius_m)
            values["radius_deg"] = radius_in_degrees(lat, f.radius_m)
            values.update(_radius_box(lon, lat, values["radius_deg"], f.radius_m))
        if knn_limit is not None:
            values.update(knn=int(knn_limit), near_band=abs(lat))
    if after is not None:
        values["after_id"] = int(after.id)
        if f.near is not None:
            values["after_d"] = float(after.distance_m if after.distance_m is not None else -1.0)
    return values


def _conditions(t: FromClause, s: _Shape, ctes: dict[str, CTE]) -> list[ColumnElement]:
    """WHERE clauses for every filter except the distance ones, on table or alias ``t``."""
    conds: list[ColumnElement] = []
    if s.tier:
        conds.append(t.c.tier == any_(_p("tier", ARRAY(Text))))
    if s.status:
        conds.append(t.c.status == any_(_p("status", ARRAY(Text))))
    if s.region:
        if "region" not in ctes:
            ctes["region"] = region_subtree(_p("region", String))
        conds.append(t.c.region_id.in_(select(ctes["region"].c.id)))
    if s.distributor:
        if "network" not in ctes:
            ctes["network"] = downstream_cte(root_code=_p("distributor", String), name="network")
        conds.append(t.c.id.in_(select(ctes["network"].c.id)))
    if s.geotagged is not None:
        conds.append(t.c.location.isnot(None) if s.geotagged else t.c.location.is_(None))
    if s.bbox:
        corners = [_p(f"bbox_{c}", Float) for c in ("x0", "y0", "x1", "y1")]
        # && against the envelope is exact for points and uses the GiST index
        conds.append(t.c.location.op("&&")(func.ST_MakeEnvelope(*corners, 4326)))
    if s.q:
        pattern = _p("q", String)
        conds.append(
            or_(t.c.name.ilike(pattern, escape="\\"), t.c.code.ilike(pattern, escape="\\"))
        )
    return conds


# aliases are built once: building them per query costs more than running the query
_PARENT = OUTLETS.alias("parent")
_REGION = REGIONS.alias("region")
_KNN = OUTLETS.alias("knn")
_COUNTED = OUTLETS.alias("counted")


@dataclass
class _Near:
    distance: ColumnElement  # metres, exact
    conds: list[ColumnElement]
    bound_from: FromClause | None = None  # the one-row KNN bound, to join


def _near(t: FromClause, s: _Shape, ctes: dict[str, CTE]) -> _Near:
    pt = point_sql(_p("near_lon", Float), _p("near_lat", Float))
    geog = geography(pt)

    def dist(table: FromClause) -> ColumnElement:
        return func.ST_Distance(geography(table.c.location), geog)

    def within_radius(table: FromClause) -> ColumnElement:
        return func.ST_DWithin(table.c.location, pt, _p("radius_deg", Float))

    distance = dist(t)
    conds = [t.c.location.isnot(None)]
    bound: ColumnElement | None = None
    bound_from = None
    if s.radius:
        conds.append(within_radius(t))
        bound = _p("radius_m", Float)
    if s.knn:
        # the knn degree-nearest candidates: the farthest of them (in metres) bounds the true
        # knn nearest, so nothing beyond that distance needs measuring
        k = _KNN
        probe_conds = [k.c.location.isnot(None), *_conditions(k, s, ctes)]
        if s.radius:
            probe_conds.append(within_radius(k))
        if s.after:
            probe_conds.append(
                tuple_(dist(k), k.c.id) > tuple_(_p("after_d", Float), _p("after_id", BigInteger))
            )
        probe = (
            select(k.c.location)
            .where(*probe_conds)
            .order_by(k.c.location.op("<->")(pt))
            .limit(_p("knn", Integer))
            .subquery("knn_probe")
        )
        farthest = func.max(dist(probe))
        bound_from = (
            select((farthest if bound is None else func.least(bound, farthest)).label("bound"))
            .select_from(probe)
            .subquery("knn_bound")
        )
        bound = bound_from.c.bound
        conds.append(func.ST_DWithin(t.c.location, pt, _sql_radius_in_degrees(bound)))
    if s.knn:
        conds.append(distance <= bound)
    elif bound is not None:  # the radius alone: ST_DWithin is the same test, and cheaper
        conds.append(func.ST_DWithin(geography(t.c.location), geog, bound))
    return _Near(distance, conds, bound_from)


def _own_columns(t: FromClause) -> dict[str, ColumnElement]:
    """An outlet's columns that come from its own row (lon/lat taken out of the point)."""
    own = {name: t.c[name] for name in _OWN_COLUMNS}
    own["lon"] = func.ST_X(t.c.location).label("lon")
    own["lat"] = func.ST_Y(t.c.location).label("lat")
    return own


# fmt: off
_OWN_COLUMNS = ("id", "code", "name", "tier", "status", "parent_id", "region_id", "address",
                "contact", "phone", "rep_id", "notes", "version", "created_at", "updated_at")
# fmt: on


def outlet_columns(
    t: FromClause = OUTLETS, *, own: FromClause | None = None
) -> tuple[list[ColumnElement], FromClause]:
    """The columns of an outlet as the API shows it, and the FROM clause they need.

    ``own``: a subquery that already holds the :func:`_own_columns` (a page taken before the
    joins); the parent's and region's codes are then joined to its rows."""
    parent, region = _PARENT, _REGION
    o = _own_columns(t) if own is None else own.c
    cols = [
        o["id"], o["code"], o["name"], o["tier"], o["status"], o["parent_id"],
        parent.c.code.label("parent_code"), o["lon"], o["lat"],
        o["region_id"], region.c.code.label("region_code"),
        o["address"], o["contact"], o["phone"], o["rep_id"], o["notes"],
        o["version"], o["created_at"], o["updated_at"],
    ]  # fmt: skip
    base = t if own is None else own
    joined = base.outerjoin(parent, parent.c.id == o["parent_id"]).outerjoin(
        region, region.c.id == o["region_id"]
    )
    return cols, joined


def _count_select(t: FromClause, s: _Shape, ctes: dict[str, CTE]) -> Select:
    """count(*) of the rows matching shape ``s`` (cursor and KNN bound ignored), on ``t``."""
    whole = replace(s, knn=False, after=False)
    conds = _conditions(t, whole, ctes)
    if s.near:
        conds += _near(t, whole, ctes).conds
    return select(func.count()).select_from(t).where(*conds)


@lru_cache(maxsize=1024)
def _select_template(s: _Shape, with_total: bool = False) -> Select:
    ctes: dict[str, CTE] = {}
    t = OUTLETS
    conds = _conditions(t, s, ctes)
    cols, joined = outlet_columns(t)
    if with_total:  # one round trip: an uncorrelated subquery runs once (an InitPlan)
        cols.append(_count_select(_COUNTED, s, ctes).scalar_subquery().label("total"))
    after_id = _p("after_id", BigInteger)
    if s.near:
        near = _near(t, s, ctes)
        conds += near.conds
        if near.bound_from is not None:
            joined = near.bound_from.join(joined, true())
        if s.after:
            conds.append(tuple_(near.distance, t.c.id) > tuple_(_p("after_d", Float), after_id))
        stmt = select(*cols, near.distance.label("distance_m")).select_from(joined)
        return stmt.where(*conds).order_by(near.distance, t.c.id)
    if s.after:
        conds.append(t.c.id > after_id)
    stmt = select(*cols, null().label("distance_m")).select_from(joined)
    return stmt.where(*conds).order_by(t.c.id)


@lru_cache(maxsize=1024)
def _page_template(s: _Shape, with_total: bool) -> Select:
    if with_total and s.radius and not s.knn:
        return _measured_page_template(s)
    page = _select_template(s, with_total)
    return page.limit(_p("page_limit", Integer)).offset(_p("page_offset", Integer))


_RADIUS_BOX = [_p(f"box_{c}", Float) for c in ("x0", "y0", "x1", "y1")]


def _measured_page_template(s: _Shape) -> Select:
    """A page of ``near`` within a radius, with the total: the count has to measure every
    outlet in the disc anyway, so the page is taken from those same measurements (one index
    scan, one distance per outlet, ``count(*) OVER ()`` before the cursor and the limit)
    instead of a KNN probe, a bounded scan and a separate count (measured in bench/README.md,
    "near"). The rows carry their columns through, so only parents and regions are looked up,
    for the page's rows alone."""
    ctes: dict[str, CTE] = {}
    t = OUTLETS
    pt = point_sql(_p("near_lon", Float), _p("near_lat", Float))
    measured = (
        select(
            *_own_columns(t).values(),
            func.ST_Distance(geography(t.c.location), geography(pt)).label("distance_m"),
        )
        .where(
            t.c.location.isnot(None),
            t.c.location.op("&&")(func.ST_MakeEnvelope(*_RADIUS_BOX, 4326)),
            func.ST_DWithin(t.c.location, pt, _p("radius_deg", Float)),
            *_conditions(t, s, ctes),
        )
        .offset(literal(0, Integer))  # a fence: PostgreSQL would otherwise compute each
        .subquery("measured")  # distance twice, in the filter below and in the output
    )
    counted = (
        select(measured, func.count().over().label("total"))
        .where(measured.c.distance_m <= _p("radius_m", Float))
        .subquery("counted")
    )
    page = select(counted)
    if s.after:
        after = tuple_(_p("after_d", Float), _p("after_id", BigInteger))
        page = page.where(tuple_(counted.c.distance_m, counted.c.id) > after)
    page = (
        page.order_by(counted.c.distance_m, counted.c.id)
        .limit(_p("page_limit", Integer))
        .offset(_p("page_offset", Integer))
        .subquery("page")
    )
    cols, joined = outlet_columns(own=page)
    return (
        select(*cols, page.c.total, page.c.distance_m)
        .select_from(joined)
        .order_by(page.c.distance_m, page.c.id)
    )


@lru_cache(maxsize=1024)
def _page_statement(s: _Shape, with_total: bool) -> HotStatement:
    """The page template compiled once, run on the driver (the API's list path)."""
    from psycopg.rows import dict_row

    return HotStatement(
        _page_template(s, with_total), row_factory=dict_row, read_only=True, binary=True
    )


@lru_cache(maxsize=1024)
def _count_template(s: _Shape) -> Select:
    return _count_select(OUTLETS, s, {})


def select_outlets(
    filters: OutletFilters, *, after: After | None = None, knn_limit: int | None = None
) -> Select:
    """Outlets matching ``filters``, ordered by id, or by (distance_m, id) when ``near`` is set.

    The order is total, so ``limit``/``offset`` pages and ``after`` keyset pages are stable.
    ``knn_limit``: the caller reads at most this many rows (offset + limit + 1); with ``near``
    it lets the KNN index bound the rows whose exact distance is computed. Leave it None for
    a full export.
    """
    shape = _Shape.of(filters, after, knn_limit)
    return _select_template(shape).params(_values(filters, after, knn_limit))


def count_outlets(filters: OutletFilters) -> Select:
    """The number of outlets ``select_outlets(filters)`` returns, without building its rows."""
    shape = _Shape.of(filters, None, None)
    return _count_template(shape).params(_values(filters, None, None))


def outlet_page(
    session: Session,
    filters: OutletFilters,
    *,
    limit: int,
    offset: int = 0,
    after: After | None = None,
    with_total: bool = True,
    user: Principal | None = None,
) -> tuple[list[Mapping], int | None]:
    """At most ``limit`` rows of ``select_outlets`` that ``user`` (None: the system) may see,
    from ``offset`` (or after ``after``), and the number of all of them (None unless
    ``with_total``). A region or distributor filter naming nothing the user may see is a 422
    by field, unprefixed (a typo is not "no outlets").

    The statements of ``select_outlets``/``count_outlets``, run from cached templates with
    only the values bound and the total in the same round trip: the path a busy API takes.
    Scoped lists (``domain.access.outlet_scope``) skip the KNN bound, which would need the
    scope inside its probe, and measure every scoped candidate instead.
    """
    problems = check_filters(session, filters, user)
    if problems:
        raise ValidationError("unknown filter value", fields=problems)
    if user is not None and not user.is_admin:
        scope = outlet_scope(user, OUTLETS)
        stmt = select_outlets(filters, after=after).where(scope)
        rows = list(session.execute(stmt.limit(limit).offset(offset)).mappings())
        total = None
        if with_total:
            total = session.execute(count_outlets(filters).where(scope)).scalar_one()
        return rows, total
    knn_limit = None  # with a radius and the total, every outlet in the disc is measured
    if filters.near is not None and not (with_total and filters.radius_m is not None):
        knn_limit = offset + limit
    shape = _Shape.of(filters, after, knn_limit)
    values = _values(filters, after, knn_limit)
    values.update(page_limit=limit, page_offset=offset)
    rows = _page_statement(shape, with_total).run(session, values).fetchall()
    if not with_total:
        return rows, None
    total = rows[0]["total"] if rows else outlet_total(session, filters)
    return rows, total


def outlet_total(session: Session, filters: OutletFilters) -> int:
    """How many outlets match ``filters`` (cached statement, values bound)."""
    shape = _Shape.of(filters, None, None)
    return session.execute(_count_template(shape), _values(filters, None, None)).scalar_one()


def check_filters(
    session: Session, filters: OutletFilters, user: Principal | None = None
) -> dict[str, str]:
    """Problems with filter values that name rows (unknown region or distributor), by field.
    A region or outlet outside ``user``'s scope is as unknown as a missing one."""
    return unknown_references(
        session, user=user, region=filters.region, outlets={"distributor": filters.distributor}
    )


def unknown_references(
    session: Session,
    *,
    user: Principal | None = None,
    region: str | None = None,
    outlets: Mapping[str, str | None] | None = None,
) -> dict[str, str]:
    """What a filter names that does not exist for ``user`` (None: at all), by field: outlets
    by code (``outlets`` maps each field to its code) and a region by code. An outlet or
    region outside the user's scope is as unknown as a missing one, so a typo is never
    mistaken for "nothing matches". (Products, which no scope limits, are
    ``domain.sales.product_id``'s.)"""
    problems: dict[str, str] = {}
    for field, code in (outlets or {}).items():
        if code is not None:
            try:
                resolve_outlet(session, code, user=user, field=field)
            except ValidationError as exc:
                problems.update(exc.fields)
    if region is not None and not region_known(session, region, user):
        problems["region"] = f"no region with code {region!r}"
    return problems


def region_known(session: Session, code: str, user: Principal | None = None) -> bool:
    """Whether a region with this code exists in ``user``'s scope (None: at all)."""
    stmt = select(REGIONS.c.id).where(REGIONS.c.code == code)
    if user is not None and not user.is_admin:
        stmt = stmt.where(region_scope(user, REGIONS))
    return session.scalar(stmt) is not None


# -- single outlets ------------------------------------------------------------------------


def resolve_outlet(
    session: Session,
    code: str,
    *,
    user: Principal | None = None,
    field: str | None = None,
    reading: bool = False,
) -> int:
    """The id of the outlet with this code that ``user`` may see (None: any outlet); 404, or
    422 naming ``field``, when there is none. An outlet outside the user's scope gets exactly
    the answer of a missing one. ``reading``: an outlet whose business as a distributor the
    user may read (:func:`~geo_crm.domain.access.distributor_scope`)."""
    stmt = select(OUTLETS.c.id).where(OUTLETS.c.code == code)
    if user is not None and not user.is_admin:
        stmt = stmt.where((distributor_scope if reading else outlet_scope)(user, OUTLETS))
    outlet_id = session.scalar(stmt)
    if outlet_id is None:
        message = f"no outlet with code {code!r}"
        if field is not None:
            raise ValidationError(message, fields={field: message})
        raise NotFound(message)
    return outlet_id


def require_in_scope(
    session: Session, outlet_id: int, user: Principal | None, *, moved: bool
) -> None:
    """After a write: the outlet must still lie in the writer's scope (a manager may not place
    or move an outlet outside their regions, where they could no longer see it)."""
    if user is None or user.is_admin:
        return
    stmt = select(OUTLETS.c.id).where(OUTLETS.c.id == outlet_id, outlet_scope(user, OUTLETS))
    if session.scalar(stmt) is None:
        problem = (
            "the point lies outside your regions"
            if moved
            else "an outlet without a location lies outside your regions: send lat and lon"
        )
        raise ValidationError(problem, fields={"lat": problem})


def get_outlet(session: Session, outlet_id: int) -> dict:
    cols, joined = outlet_columns()
    row = (
        session.execute(select(*cols).select_from(joined).where(OUTLETS.c.id == outlet_id))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no outlet with id {outlet_id}")
    return dict(row)


def _resolve_parent(
    session: Session, parent_code: str | None, user: Principal | None
) -> int | None:
    if parent_code is None:
        return None
    return resolve_outlet(session, parent_code, user=user, field="parent_code")


def _check_rep(session: Session, rep_id: int | None) -> None:
    if rep_id is not None and session.get(User, rep_id) is None:
        raise ValidationError(
            f"no user with id {rep_id}", fields={"rep_id": "no user with this id"}
        )


def _record_geotag(
    session: Session,
    outlet_id: int,
    old: ColumnElement | None,
    loc: Location,
    point: ColumnElement,
    user_id: int | None,
) -> None:
    session.execute(
        GeotagEvent.__table__.insert().values(
            outlet_id=outlet_id,
            old_location=old,
            new_location=point,
            accuracy_m=loc.accuracy_m,
            source=loc.source,
            crs=loc.crs,
            user_id=user_id,
        )
    )


def create_outlet(
    session: Session,
    values: dict,
    *,
    parent_code: str | None = None,
    location: Location | None = None,
    user: Principal | None = None,
) -> dict:
    """Insert an outlet (and its first geotag event when it comes with a location).

    ``user``: who writes (None: the system). The parent must be an outlet they may see, and
    the new outlet must lie in their scope."""
    user_id = user.id if user is not None else None
    row = {k: v for k, v in values.items() if k in (*UPDATABLE, "code")}
    row["parent_id"] = _resolve_parent(session, parent_code, user)
    _check_rep(session, row.get("rep_id"))
    point = None
    if location is not None:
        point = point_sql(*location.wgs84())
        row["location"] = point
    row["created_by_id"] = user_id
    outlet_id = session.execute(OUTLETS.insert().values(**row).returning(OUTLETS.c.id)).scalar_one()
    if location is not None:
        _record_geotag(session, outlet_id, None, location, point, user_id)
    require_in_scope(session, outlet_id, user, moved=location is not None)
    LOGGER.info("outlet %s created (id %s)", row.get("code"), outlet_id)
    return get_outlet(session, outlet_id)


def update_outlet(
    session: Session,
    outlet_id: int,
    *,
    version: int | None,
    changes: dict,
    parent_code: str | None = None,
    parent_given: bool = False,
    location: Location | None = None,
    user: Principal | None = None,
) -> dict:
    """Apply ``changes`` if the outlet still has ``version`` (None: unconditionally).

    The row is locked first, so the version check and the write see the same row; a stale
    version raises Conflict carrying the current state and writes nothing. ``user``: who
    writes (None: the system); a new parent must be one they may see, and the outlet must
    stay in their scope.
    """
    t = OUTLETS
    current = session.execute(
        select(t.c.version, t.c.location).where(t.c.id == outlet_id).with_for_update()
    ).first()
    if current is None:
        raise NotFound(f"no outlet with id {outlet_id}")
    if version is not None and version != current.version:
        state = get_outlet(session, outlet_id)
        raise Conflict(
            f"outlet {state['code']} has changed since version {version} was read "
            f"(now version {current.version}); reload it and apply your change again",
            fields={"version": f"stale: the current version is {current.version}"},
            detail=state,
        )
    values = {k: v for k, v in changes.items() if k in UPDATABLE}
    if parent_given:
        values["parent_id"] = _resolve_parent(session, parent_code, user)
    if "rep_id" in values:
        _check_rep(session, values["rep_id"])
    point = None
    if location is not None:
        point = point_sql(*location.wgs84())
        values["location"] = point
    if values:
        acting_user(session, user.id if user is not None else None)
        session.execute(
            t.update().where(t.c.id == outlet_id, t.c.version == current.version).values(**values)
        )
        if location is not None:
            user_id = user.id if user is not None else None
            _record_geotag(session, outlet_id, current.location, location, point, user_id)
        require_in_scope(session, outlet_id, user, moved=location is not None)
    return get_outlet(session, outlet_id)


def move_outlet(
    session: Session,
    outlet_id: int,
    *,
    parent_code: str | None,
    version: int | None,
    user: Principal | None = None,
) -> dict:
    """Make the outlet buy from ``parent_code`` (None: nobody): :func:`update_outlet` with only
    the parent; the triggers check tiers and loops. The new parent must be an outlet ``user``
    may see."""
    return update_outlet(
        session,
        outlet_id,
        version=version,
        changes={},
        parent_code=parent_code,
        parent_given=True,
        user=user,
    )


def deactivate_outlet(
    session: Session, outlet_id: int, *, version: int | None = None, user: Principal | None = None
) -> dict:
    """Soft delete: status inactive; the row, its sales and its geotag history stay."""
    return update_outlet(
        session, outlet_id, version=version, changes={"status": "inactive"}, user=user
    )
