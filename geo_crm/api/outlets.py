"""Outlets over HTTP: list (JSON or GeoJSON, filters combine), create, read, update, deactivate.

Outlets are addressed by code in URLs (the natural key users know, as in the geotagging and
export routes); ids appear in bodies only. Updates carry the version the client read
(``version`` field or ``If-Match``); a stale one gets 409 with the current state in
``error.detail`` and changes nothing.
"""

from __future__ import annotations

import logging
from typing import Literal

from flask import jsonify, make_response, url_for
from pydantic import ConfigDict, Field

from ..auth.policy import current_user, object_id
from ..db import get_session
from ..domain import outlets as svc
from ..errors import ValidationError
from .framework import Body, Query, json_response, operation
from .schemas import (
    POINT_TOGETHER,
    Accuracy,
    CleanText,
    Code,
    Crs,
    GeotagSource,
    Lat,
    Lon,
    Name,
    OutletFeatureCollection,
    OutletOut,
    OutletPage,
    Phone,
    Status,
    Tier,
    Version,
    client_version,
    conflict_detail,
    decode_cursor,
    encode_cursor,
    field_names,
    outlet_feature,
    outlet_json,
    wants_geojson,
    with_etag,
)

LOGGER = logging.getLogger(__name__)

TAGS = ["outlets"]
MAX_RADIUS_M = 2_000_000.0
_RENAMES = {"parent": "parent_code", "location": "lat"}


class OutletListQuery(Query):
    tier: list[Tier] | None = Field(
        None, description="one or more tiers (comma-separated or repeated)"
    )
    region: str | None = Field(
        None, min_length=1, max_length=32, description="region code; includes its sub-regions"
    )
    distributor: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="outlet code: that outlet and its whole downstream network",
    )
    status: list[Status] | None = None
    geotagged: bool | None = None
    bbox: list[float] | None = Field(
        None, min_length=4, max_length=4, description="min_lon,min_lat,max_lon,max_lat"
    )
    lat: Lat | None = Field(None, description="near this point: nearest first, with distance_m")
    lon: Lon | None = None
    radius_m: float | None = Field(None, gt=0, le=MAX_RADIUS_M, description="with lat/lon: metres")
    crs: Crs = Field("wgs84", description="coordinate system of lat/lon and bbox")
    q: str | None = Field(None, min_length=1, max_length=100, description="text in name or code")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=1_000_000)
    cursor: str | None = Field(None, max_length=200, description="next_cursor of the previous page")
    count: bool = Field(
        True,
        description="false skips computing total. Nearest first without radius_m (lat/lon "
        "alone), total is null unless count=true is sent: it would be the number of every "
        "outlet the caller may see, a count over the whole scope on each request (149 ms of "
        "database CPU at 1,000,000 outlets), which says nothing about the nearest ones; with "
        "radius_m it is the number within the radius",
    )
    format: Literal["json", "geojson"] | None = None


class LocationIn(Body):
    """lat and lon come together (or neither), never as null, and never as (0, 0): the
    document says so (``dependentRequired``, ``not``), as ``location_of`` enforces it."""

    model_config = ConfigDict(json_schema_extra=POINT_TOGETHER)

    lat: Lat = None  # type: ignore[assignment]  # optional, but not nullable
    lon: Lon = None  # type: ignore[assignment]
    crs: Crs = Field("wgs84", description="system lat/lon are given in; stored as WGS-84")
    accuracy_m: Accuracy | None = None
    source: GeotagSource = "map"


class OutletCreate(LocationIn):
    code: Code
    name: Name
    tier: Tier
    parent_code: Code | None = None
    status: Status = "active"
    address: CleanText | None = None
    contact: CleanText | None = None
    phone: Phone | None = None
    rep_id: int | None = Field(None, ge=1)
    notes: CleanText | None = None


class OutletUpdate(LocationIn):
    # absent: unchanged; these cannot be cleared, so null is not theirs to send
    version: Version = None  # type: ignore[assignment]  # or If-Match
    name: Name = None  # type: ignore[assignment]
    tier: Tier = None  # type: ignore[assignment]
    parent_code: Code | None = None
    status: Status = None  # type: ignore[assignment]
    address: CleanText | None = None
    contact: CleanText | None = None
    phone: Phone | None = None
    rep_id: int | None = Field(None, ge=1)
    notes: CleanText | None = None


class VersionQuery(Query):
    version: Version | None = None


def location_of(body: LocationIn) -> svc.Location | None:
    """The body's point, or None; lat and lon come together and (0, 0) is a missing fix."""
    given = body.model_fields_set
    if "lat" not in given and "lon" not in given:
        return None
    if body.lat is None or body.lon is None:
        missing = "body.lon" if body.lon is None else "body.lat"
        raise ValidationError(
            "send lat and lon together", fields={missing: "required with the other coordinate"}
        )
    if body.lat == 0 and body.lon == 0:
        raise ValidationError(
            "(0, 0) is not a place an outlet can be: probably a missing GPS fix",
            fields={"body.lat": "(0, 0) refused"},
        )
    return svc.Location(
        lon=body.lon, lat=body.lat, crs=body.crs, accuracy_m=body.accuracy_m, source=body.source
    )


def filters_from(query: OutletListQuery) -> svc.OutletFilters:
    """The service filters a list query asks for, in WGS-84; 422 naming a parameter that cannot
    combine with the others (lat without lon, radius without a point, a crossed bbox)."""
    near = None
    given = query.model_fields_set
    if (query.lat is None) != (query.lon is None):
        missing = "query.lon" if query.lon is None else "query.lat"
        raise ValidationError(
            "send lat and lon together", fields={missing: "required with the other coordinate"}
        )
    if query.lat is not None and query.lon is not None:
        near = svc.Location(lon=query.lon, lat=query.lat, crs=query.crs).wgs84()
    elif query.radius_m is not None:
        raise ValidationError(
            "radius_m needs a point", fields={"query.radius_m": "send lat and lon with it"}
        )
    bbox = None
    if query.bbox is not None:
        min_lon, min_lat, max_lon, max_lat = query.bbox
        problem = None
        if not (
            -180 <= min_lon <= 180
            and -180 <= max_lon <= 180
            and -90 <= min_lat <= 90
            and -90 <= max_lat <= 90
        ):
            problem = "longitudes must lie in [-180, 180] and latitudes in [-90, 90]"
        elif min_lon > max_lon or min_lat > max_lat:
            problem = (
                "expected min_lon,min_lat,max_lon,max_lat with min ≤ max (no antimeridian crossing)"
            )
        if problem:
            raise ValidationError("invalid bbox", fields={"query.bbox": problem})
        lo = svc.Location(lon=min_lon, lat=min_lat, crs=query.crs).wgs84()
        hi = svc.Location(lon=max_lon, lat=max_lat, crs=query.crs).wgs84()
        bbox = (lo[0], lo[1], hi[0], hi[1])
    if "crs" in given and near is None and bbox is None:
        raise ValidationError(
            "crs applies to lat/lon and bbox", fields={"query.crs": "send lat/lon or bbox with it"}
        )
    return svc.OutletFilters(
        tier=query.tier or None,
        region=query.region,
        distributor=query.distributor,
        status=query.status or None,
        geotagged=query.geotagged,
        bbox=bbox,
        near=near,
        radius_m=query.radius_m,
        q=query.q,
    )


def _counted(query: OutletListQuery) -> bool:
    """Whether the page carries ``total``: as asked, but an unbounded nearest-first list only
    when ``count=true`` is sent (the description of ``count`` says why)."""
    if query.lat is not None and query.radius_m is None and "count" not in query.model_fields_set:
        return False
    return query.count


@operation(
    "/outlets",
    "GET",
    summary="List outlets",
    tags=TAGS,
    query=OutletListQuery,
    responses={200: OutletPage | OutletFeatureCollection},
    produces=["application/json", "application/geo+json"],
)
def list_outlets(query: OutletListQuery):
    """List outlets matching every filter given, as JSON or a GeoJSON FeatureCollection.

    Ordered by id, or nearest first (with ``distance_m``, metres) when lat/lon are given.
    Page with ``limit``/``offset`` or, stable under inserts, with ``cursor=next_cursor``.
    """
    filters = filters_from(query)
    near = filters.near is not None
    if query.cursor is not None and query.offset:
        raise ValidationError(
            "use cursor or offset, not both", fields={"query.offset": "must be 0 with cursor"}
        )
    after = None
    if query.cursor is not None:
        key = decode_cursor(query.cursor, length=2 if near else 1)
        after = svc.After(id=key[-1], distance_m=float(key[0]) if near else None)
    session = get_session()
    with field_names(session, prefix="query"):
        rows, total = svc.outlet_page(
            session,
            filters,
            limit=query.limit + 1,
            offset=query.offset,
            after=after,
            with_total=_counted(query),
            user=current_user(),
        )
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = encode_cursor([last["distance_m"], last["id"]] if near else [last["id"]])
    page = {
        "total": total,
        "limit": query.limit,
        "offset": query.offset,
        "next_cursor": next_cursor,
    }
    if wants_geojson(query.format):
        features = [outlet_feature(r, iso=False) for r in rows]
        body = {"type": "FeatureCollection", "features": features, **page}
        return json_response(body, mimetype="application/geo+json")
    return json_response({"items": [outlet_json(r, iso=False) for r in rows], **page})


@operation(
    "/outlets",
    "POST",
    summary="Create an outlet",
    tags=TAGS,
    body=OutletCreate,
    responses={201: OutletOut, 409: None, 422: None},
)
def create_outlet(body: OutletCreate):
    """Create an outlet; lat/lon in ``crs`` are stored as WGS-84 and start its geotag history."""
    session = get_session()
    values = body.model_dump(
        include={"code", "name", "tier", "status", "address", "contact", "phone", "rep_id", "notes"}
    )
    with field_names(session, renames=_RENAMES):
        location = location_of(body)
        row = svc.create_outlet(
            session,
            values,
            parent_code=body.parent_code,
            location=location,
            user=current_user(),
        )
        session.commit()
    response = make_response(jsonify(outlet_json(row)), 201)
    response.headers["Location"] = url_for("api.get_outlet", code=row["code"])
    return with_etag(response, row["version"])


@operation(
    "/outlets/<code>",
    "GET",
    summary="Get an outlet",
    tags=TAGS,
    responses={200: OutletOut, 404: None},
)
def get_outlet(code: str):
    """One outlet by code; the ETag is its version, for If-Match."""
    row = svc.get_outlet(get_session(), object_id())
    return with_etag(jsonify(outlet_json(row)), row["version"])


@operation(
    "/outlets/<code>",
    "PATCH",
    summary="Update an outlet",
    tags=TAGS,
    body=OutletUpdate,
    responses={200: OutletOut, 404: None, 409: None, 422: None},
)
@conflict_detail
def update_outlet(code: str, body: OutletUpdate):
    """Change the fields sent (null clears an optional one), if ``version`` is still current.

    Moving the point (lat/lon) records a geotag event; the code cannot change.
    """
    session = get_session()
    given = body.model_fields_set
    renames = dict(_RENAMES)
    if "tier" in given and "parent_code" not in given:
        renames["parent"] = "tier"  # the new tier no longer fits the existing parent
    with field_names(session, renames=renames):
        version = client_version(body.version, required=True)
        changes = {k: getattr(body, k) for k in svc.UPDATABLE if k in given}
        for key in ("name", "tier", "status"):
            if key in changes and changes[key] is None:
                raise ValidationError(
                    f"{key} cannot be cleared", fields={f"body.{key}": "may not be null"}
                )
        location = location_of(body)
        row = svc.update_outlet(
            session,
            object_id(),
            version=version,
            changes=changes,
            parent_code=body.parent_code,
            parent_given="parent_code" in given,
            location=location,
            user=current_user(),
        )
        session.commit()
    return with_etag(jsonify(outlet_json(row)), row["version"])


def _deactivate(code: str, query: VersionQuery):
    session = get_session()
    with field_names(session, prefix="query"):
        version = client_version(query.version, required=False, field="query.version")
        row = svc.deactivate_outlet(session, object_id(), version=version, user=current_user())
        session.commit()
    return with_etag(jsonify(outlet_json(row)), row["version"])


@operation(
    "/outlets/<code>",
    "DELETE",
    summary="Deactivate an outlet (soft)",
    tags=TAGS,
    query=VersionQuery,
    responses={200: OutletOut, 404: None, 409: None},
)
@conflict_detail
def delete_outlet(code: str, query: VersionQuery):
    """Deactivate: status becomes inactive; the outlet, its sales and its history stay.

    Send the version read (``?version=`` or If-Match) to make it conditional.
    """
    return _deactivate(code, query)


@operation(
    "/outlets/<code>/deactivate",
    "POST",
    summary="Deactivate an outlet (soft)",
    tags=TAGS,
    query=VersionQuery,
    responses={200: OutletOut, 404: None, 409: None},
)
@conflict_detail
def deactivate_outlet(code: str, query: VersionQuery):
    """The same as DELETE, for clients that cannot send one."""
    return _deactivate(code, query)
