"""Geotagging API: tag an outlet's location, its history, the rep's list, new outlets, reviews."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from flask import jsonify
from pydantic import AwareDatetime, ConfigDict, Field

from ..auth.policy import current_user
from ..coords import CRS_NAMES, point_to_wgs84
from ..db import get_session
from ..domain import geotagging as svc
from ..errors import ValidationError
from ..models import TIERS
from ..settings import GeotagLimits, current_settings
from .framework import Body, Out, Query, json_response, operation
from .schemas import GPS_ACCURACY, POINT_TOGETHER

Lat = Annotated[float, Field(ge=-90, le=90, description="latitude in degrees, in `crs`")]
Lon = Annotated[float, Field(ge=-180, le=180, description="longitude in degrees, in `crs`")]
Crs = Literal[CRS_NAMES]  # type: ignore[valid-type]
When = Annotated[
    AwareDatetime,
    Field(strict=False, description="when the phone took the reading (ISO 8601 with offset)"),
]


class LocationIn(Body):
    model_config = ConfigDict(json_schema_extra={**POINT_TOGETHER, **GPS_ACCURACY})

    lat: Lat
    lon: Lon
    accuracy_m: float | None = Field(
        default=None, ge=0, description="metres; required for source gps"
    )
    crs: Crs = Field(
        default="wgs84", description="coordinate system of lat/lon; converted to WGS-84"
    )
    source: Literal["gps", "map"]
    captured_at: When
    version: int = Field(ge=1, description="the outlet version you read")


class NewOutletIn(Body):
    model_config = ConfigDict(json_schema_extra={**POINT_TOGETHER, **GPS_ACCURACY})

    name: str = Field(min_length=1, max_length=200)
    tier: Literal[TIERS]  # type: ignore[valid-type]
    parent_code: str | None = Field(default=None, max_length=64)
    notes: str | None = Field(default=None, max_length=2000)
    lat: Lat
    lon: Lon
    accuracy_m: float | None = Field(default=None, ge=0)
    crs: Crs = "wgs84"
    source: Literal["gps", "map"]
    captured_at: When


class HistoryQuery(Query):
    limit: int = Field(default=100, ge=1, le=1000)


class MyOutletsQuery(Query):
    q: str | None = Field(default=None, max_length=100, description="part of the name or code")
    lat: float | None = Field(
        default=None, ge=-90, le=90, description="where I stand: nearest first"
    )
    lon: float | None = Field(default=None, ge=-180, le=180)
    crs: Crs = "wgs84"
    limit: int = Field(default=50, ge=1, le=500)


class ParentsQuery(Query):
    tier: Literal[TIERS]  # type: ignore[valid-type]
    q: str | None = Field(default=None, max_length=100)
    limit: int = Field(default=20, ge=1, le=100)


class ReviewsQuery(Query):
    state: Literal["flagged", "accepted", "rejected"] = "flagged"
    limit: int = Field(default=100, ge=1, le=1000)


class PointOut(Out):
    lat: float
    lon: float


class FlagOut(Out):
    code: str
    message: str
    detail: dict


class TaggedOutletOut(Out):
    code: str
    name: str
    version: int
    location: PointOut | None
    region: str | None


class EventRef(Out):
    id: int
    state: str
    flags: list[str]
    created_at: str


class TagOut(Out):
    outlet: TaggedOutletOut
    event: EventRef
    flags: list[FlagOut] = Field(
        description="why the tag awaits review; empty when accepted outright"
    )


class EventOut(Out):
    id: int
    outlet: str
    outlet_name: str
    state: str
    flags: list[str]
    old_location: PointOut | None
    new_location: PointOut
    moved_m: float | None
    accuracy_m: float | None
    source: str
    crs: str
    user: str | None
    captured_at: str | None
    created_at: str
    reviewed_by: str | None
    reviewed_at: str | None


class MyOutletOut(Out):
    code: str
    name: str
    tier: str
    version: int
    location: PointOut | None
    address: str | None
    distance_m: float | None


class ParentOut(Out):
    code: str
    name: str
    tier: str


class DecisionOut(Out):
    event: EventOut
    restored: bool = Field(description="reject only: whether the previous location was put back")
    outlet: dict


def _limits() -> GeotagLimits:
    """GEO_CRM_MAX_ACCURACY_M and the other geotag limits, as the app was configured."""
    return current_settings().geotag


def _body_fields(exc: ValidationError) -> ValidationError:
    exc.fields = {k if k.startswith("body") else f"body.{k}": v for k, v in exc.fields.items()}
    return exc


def _tag_input(body: LocationIn | NewOutletIn) -> svc.TagInput:
    """The reading both tagging endpoints carry: where, how accurate, in which CRS, from what."""
    return svc.TagInput(
        lat=body.lat,
        lon=body.lon,
        accuracy_m=body.accuracy_m,
        crs=body.crs,
        source=body.source,
        captured_at=body.captured_at,
    )


def _tag_response(result: svc.GeotagResult, status: int = 200):
    body = {
        "outlet": result.outlet,
        "event": result.event,
        "flags": [{"code": f.code, "message": f.message, "detail": f.detail} for f in result.flags],
    }
    return json_response(body, status)


@operation(
    "/outlets/<code>/location",
    "PUT",
    summary="Geotag an outlet",
    tags=["geotagging"],
    body=LocationIn,
    responses={200: TagOut, 401: None, 403: None, 404: None, 409: None, 422: None},
)
def put_outlet_location(code: str, body: LocationIn):
    """Set an outlet's location from a phone reading or a map pick.

    Rejected (422, naming the field) when the point cannot be true; accepted but flagged for
    review when suspicious (`flags` says why); 409 with the current state when `version` is stale.
    """
    session = get_session()
    tag = _tag_input(body)
    try:
        result = svc.geotag_outlet(
            session, current_user(), code, tag, body.version, _limits(), commit=True
        )
    except svc.StaleVersion as exc:
        session.rollback()
        exc.fields = {"body.version": next(iter(exc.fields.values()))}
        raise
    except ValidationError as exc:
        raise _body_fields(exc) from None
    if not result.committed:  # the tag ran in a transaction opened before it
        session.commit()
    return _tag_response(result)


@operation(
    "/outlets/<code>/location-history",
    "GET",
    summary="An outlet's location history",
    tags=["geotagging"],
    query=HistoryQuery,
    responses={200: list[EventOut], 401: None, 404: None},
)
def outlet_location_history(code: str, query: HistoryQuery):
    """Every location change of the outlet (accepted, flagged and rejected), newest first."""
    return jsonify(svc.location_history(get_session(), current_user(), code, limit=query.limit))


@operation(
    "/tag/outlets",
    "GET",
    summary="My outlets to geotag",
    tags=["geotagging"],
    query=MyOutletsQuery,
    responses={200: list[MyOutletOut], 401: None},
)
def tag_outlets(query: MyOutletsQuery):
    """The caller's outlets: not yet geotagged first, then nearest to `lat`/`lon` if given."""
    near = None
    if (query.lat is None) != (query.lon is None):
        raise ValidationError(
            "send both lat and lon, or neither",
            fields={"query.lat" if query.lat is None else "query.lon": "required with the other"},
        )
    if query.lat is not None:
        near = point_to_wgs84(query.lon, query.lat, query.crs)
    return jsonify(
        svc.my_outlets(get_session(), current_user(), near=near, q=query.q, limit=query.limit)
    )


@operation(
    "/tag/parents",
    "GET",
    summary="Suppliers a new outlet may buy from",
    tags=["geotagging"],
    query=ParentsQuery,
    responses={200: list[ParentOut], 401: None},
)
def tag_parents(query: ParentsQuery):
    """Active outlets of a higher tier than `tier` in the caller's network or upstream of it."""
    return jsonify(
        svc.parent_candidates(get_session(), current_user(), query.tier, query.q, limit=query.limit)
    )


@operation(
    "/tag/outlets",
    "POST",
    summary="Add an outlet found in the field",
    tags=["geotagging"],
    body=NewOutletIn,
    responses={201: TagOut, 401: None, 422: None},
)
def create_tag_outlet(body: NewOutletIn):
    """Create an outlet at the reported point (a code is generated); a similar-named active
    outlet nearby flags it as a possible duplicate for review."""
    session = get_session()
    tag = _tag_input(body)
    try:
        result = svc.create_tagged_outlet(
            session,
            current_user(),
            name=body.name,
            tier=body.tier,
            parent_code=body.parent_code,
            notes=body.notes,
            tag=tag,
            limits=_limits(),
            now=dt.datetime.now(dt.UTC),
        )
    except ValidationError as exc:
        raise _body_fields(exc) from None
    session.commit()
    return _tag_response(result, 201)


@operation(
    "/geotag-reviews",
    "GET",
    summary="Geotags awaiting review",
    tags=["geotagging"],
    query=ReviewsQuery,
    responses={200: list[EventOut], 401: None, 403: None},
)
def list_geotag_reviews(query: ReviewsQuery):
    """Flagged geotags in the caller's regions, oldest first (or past decisions, newest first)."""
    return jsonify(
        svc.review_queue(get_session(), current_user(), state=query.state, limit=query.limit)
    )


def _decide(event_id: int, decision: str):
    session = get_session()
    result = svc.decide_review(session, current_user(), event_id, decision)
    session.commit()
    return result


@operation(
    "/geotag-reviews/<int:event_id>/accept",
    "POST",
    summary="Accept a flagged geotag",
    tags=["geotagging"],
    responses={200: DecisionOut, 401: None, 403: None, 404: None, 409: None},
)
def accept_geotag_review(event_id: int):
    """Keep the flagged location; records who decided and when."""
    return _decide(event_id, "accept")


@operation(
    "/geotag-reviews/<int:event_id>/reject",
    "POST",
    summary="Reject a flagged geotag",
    tags=["geotagging"],
    responses={200: DecisionOut, 401: None, 403: None, 404: None, 409: None},
)
def reject_geotag_review(event_id: int):
    """Reject the flagged location: the previous one is restored unless a later tag moved the
    outlet since (`restored` says which)."""
    return _decide(event_id, "reject")
