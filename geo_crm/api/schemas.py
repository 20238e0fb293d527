"""Shared pieces of the network API: field types, response shapes, versions, cursors, errors.

Request models subclass the framework's strict ``Body``/``Query``; response models (``Out``)
document the shapes in OpenAPI, while views build plain dicts for speed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated, Any, Literal

from flask import jsonify, request
from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema
from sqlalchemy.exc import DBAPIError

from ..db.translate import translate
from ..errors import Conflict, GeoCrmError, ValidationError
from ..models import CRS_NAMES, GEOTAG_SOURCES, OUTLET_STATUSES, TIERS
from .framework import Out

# -- field types ---------------------------------------------------------------------------

Tier = Literal[TIERS]  # type: ignore[valid-type]
Status = Literal[OUTLET_STATUSES]  # type: ignore[valid-type]
Crs = Literal[CRS_NAMES]  # type: ignore[valid-type]
GeotagSource = Literal[GEOTAG_SOURCES]  # type: ignore[valid-type]

Code = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[^/\s\x00](?:[^/\x00]*[^/\s\x00])?$",
        description="natural key; no '/' (it names the outlet in URLs)",
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=2000)]
Phone = Annotated[str, Field(max_length=32)]
Lat = Annotated[float, Field(ge=-90, le=90, description="latitude, degrees")]
Lon = Annotated[float, Field(ge=-180, le=180, description="longitude, degrees")]
Accuracy = Annotated[float, Field(ge=0, le=100_000, description="metres")]
Version = Annotated[int, Field(ge=1, description="the version you read (or send If-Match)")]


def _money(v: Any) -> Any:
    if isinstance(v, bool):  # bool is an int: refuse it rather than store 1.00
        raise ValueError("expected a number or a decimal string")
    return v


# exact decimals: send "12.30" or 12.3; more than two places is refused rather than rounded
def _decimal(places: int, **bound) -> object:
    """An exact decimal field (string or JSON number) with ``places`` decimals and a bound
    (``ge=0`` or ``gt=0``), documented as exactly what it accepts: a number that is a multiple
    of 10^-places in range, or a decimal string of at most 14 digits."""
    whole = 14 - places
    largest = float(Decimal(10) ** whole - Decimal(10) ** -places)
    positive = "gt" in bound
    number: dict = {"type": "number", "maximum": largest, "multipleOf": 10.0**-places}
    number["exclusiveMinimum" if positive else "minimum"] = 0
    zero = r"(?!0*(?:\.0*)?$)" if positive else ""
    text = {"type": "string", "pattern": rf"^{zero}\d{{1,{whole}}}(?:\.\d{{1,{places}}})?$"}
    return Annotated[
        Decimal,
        BeforeValidator(_money),
        Field(strict=False, max_digits=14, decimal_places=places, **bound),
        WithJsonSchema({"anyOf": [number, text]}),
    ]


Money = _decimal(2, ge=0)
PositiveMoney = _decimal(2, gt=0)
Quantity = _decimal(3, ge=0)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(v: Any) -> Any:
    if isinstance(v, dt.date):
        return v
    if not isinstance(v, str) or not _ISO_DATE.match(v):
        raise ValueError("expected a date as YYYY-MM-DD")
    return v


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date), Field(strict=False)]


def _no_control(v: str) -> str:
    if any(ord(c) < 32 and c not in "\t\n\r" for c in v):
        raise ValueError("control characters are not allowed")
    return v


# what _no_control lets through, for the OpenAPI document (NUL is refused everywhere)
CONTROL_FREE = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f]*$"
CleanText = Annotated[
    str,
    AfterValidator(_no_control),
    Field(max_length=2000, json_schema_extra={"pattern": CONTROL_FREE}),
]


# JSON Schema of a body whose optional lat/lon come together and are never (0, 0), the
# placeholder phones send without a fix
POINT_TOGETHER = {
    "dependentRequired": {"lat": ["lon"], "lon": ["lat"]},
    "not": {
        "required": ["lat", "lon"],
        "properties": {"lat": {"const": 0}, "lon": {"const": 0}},
    },
}
# ... and, for a phone's reading, an accuracy when the point came from GPS
GPS_ACCURACY = {
    "if": {"required": ["source"], "properties": {"source": {"const": "gps"}}},
    "then": {"required": ["accuracy_m"], "properties": {"accuracy_m": {"type": "number"}}},
}


# -- response shapes (documentation) -------------------------------------------------------


class OutletOut(Out):
    id: int
    code: str
    name: str
    tier: Tier
    status: Status
    parent_code: str | None
    lat: float | None = Field(description="WGS-84; null until geotagged")
    lon: float | None
    region_code: str | None = Field(description="the smallest region containing the location")
    address: str | None
    contact: str | None
    phone: str | None
    rep_id: int | None
    notes: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    distance_m: float | None = Field(
        None, description="metres from the near point (near lists only)"
    )


class OutletPage(Out):
    items: list[OutletOut]
    total: int | None = Field(description="rows matching the filters (null when count=false)")
    limit: int
    offset: int
    next_cursor: str | None = Field(
        description="pass as cursor= for the next page; null at the end"
    )


class PointGeometry(Out):
    type: Literal["Point"]
    coordinates: list[float] = Field(description="[lon, lat], WGS-84")


class OutletFeature(Out):
    type: Literal["Feature"]
    id: str
    geometry: PointGeometry | None
    properties: dict[str, Any]


class OutletFeatureCollection(Out):
    type: Literal["FeatureCollection"]
    features: list[OutletFeature]
    total: int | None
    limit: int
    offset: int
    next_cursor: str | None


# -- JSON conversion -----------------------------------------------------------------------


def plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def jsonable(row: Mapping, *, drop: tuple[str, ...] = ()) -> dict:
    return {k: plain(v) for k, v in row.items() if k not in drop}


_OUTLET_KEYS = ("id", "code", "name", "tier", "status", "parent_code", "lat", "lon", "region_code",
                "address", "contact", "phone", "rep_id", "notes", "version")  # fmt: skip


def outlet_json(row: Mapping, *, iso: bool = True) -> dict:
    """An outlet row as the API shows it (lists build thousands of these: no generic loop).

    ``iso=False`` leaves the timestamps as datetimes for ``framework.json_response``, which
    writes them in the same ISO 8601 form (Flask's ``jsonify`` would not: keep ``iso`` there).
    """
    out = {key: row[key] for key in _OUTLET_KEYS}
    if iso:
        out["created_at"] = row["created_at"].isoformat()
        out["updated_at"] = row["updated_at"].isoformat()
    else:
        out["created_at"] = row["created_at"]
        out["updated_at"] = row["updated_at"]
    distance = row.get("distance_m")
    if distance is not None:
        out["distance_m"] = round(distance, 2)
    return out


def outlet_feature(row: Mapping, *, iso: bool = True) -> dict:
    props = outlet_json(row, iso=iso)
    lon, lat = props.pop("lon"), props.pop("lat")
    geometry = {"type": "Point", "coordinates": [lon, lat]} if lon is not None else None
    return {"type": "Feature", "id": row["code"], "geometry": geometry, "properties": props}


def wants_geojson(format_param: str | None) -> bool:
    """``?format=geojson`` wins; otherwise the Accept header decides (JSON by default)."""
    if format_param is not None:
        return format_param == "geojson"
    best = request.accept_mimetypes.best_match(
        ["application/json", "application/geo+json"], default="application/json"
    )
    return best == "application/geo+json"


# -- versions ------------------------------------------------------------------------------

_ETAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')


def client_version(
    body_version: int | None, *, required: bool, field: str = "body.version"
) -> int | None:
    """The version the client read: body field or If-Match header (they must agree)."""
    header = request.headers.get("If-Match")
    header_version = None
    if header is not None:
        match = _ETAG.match(header.strip())
        if match is None:
            raise ValidationError(
                'If-Match must carry the outlet\'s version, e.g. "3"',
                fields={"header.If-Match": 'expected a version such as "3"'},
            )
        header_version = int(match.group(1))
    if body_version is not None and header_version is not None and body_version != header_version:
        raise ValidationError(
            "the version in the body and in If-Match disagree",
            fields={field: f"{body_version} disagrees with If-Match {header_version}"},
        )
    version = body_version if body_version is not None else header_version
    if version is None and required:
        raise ValidationError(
            "send the version you read, as the version field or an If-Match header",
            fields={field: "required (or send If-Match)"},
        )
    return version


def with_etag(response, version: int):
    response.set_etag(str(version))
    return response


# -- keyset cursors ------------------------------------------------------------------------


def encode_cursor(key: list) -> str:
    raw = json.dumps(key, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, length: int) -> list:
    """The key list inside a cursor made by ``encode_cursor``; 422 when it is not one."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    ok = (
        isinstance(key, list)
        and len(key) == length
        and isinstance(key[-1], int)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in key)
    )
    if not ok:
        raise ValidationError(
            "the cursor is not one this list handed out",
            fields={"query.cursor": "invalid for this list (filters changed?)"},
        )
    return key


# -- errors --------------------------------------------------------------------------------

_PREFIXES = ("body.", "query.", "header.", "path.")


def _prefixed(fields: dict[str, str], prefix: str, renames: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for key, message in fields.items():
        if key.startswith(_PREFIXES):
            out[key] = message
        else:
            out[f"{prefix}.{renames.get(key, key)}"] = message
    return out


@contextmanager
def field_names(
    session, *, prefix: str = "body", renames: Mapping[str, str] | None = None
) -> Iterator[None]:
    """Name fields as the client sent them: ``parent`` → ``body.parent_code``.

    Covers the service's own errors and the database rules ``dberrors.translate`` knows; the
    session is rolled back first, so nothing of the failed change is kept.
    """
    renames = renames or {}
    try:
        yield
    except GeoCrmError as exc:
        session.rollback()
        raise type(exc)(
            exc.message, fields=_prefixed(exc.fields, prefix, renames), detail=exc.detail
        ) from exc
    except DBAPIError as exc:
        translated = translate(exc)
        if translated is None:
            raise
        session.rollback()
        raise type(translated)(
            translated.message, fields=_prefixed(translated.fields, prefix, renames)
        ) from exc


def conflict_detail(view: Callable) -> Callable:
    """Answer a Conflict with the usual error body plus ``detail`` (the current state).

    The app-wide handler leaves ``detail`` out; a client resolving a version conflict needs it.
    """

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except Conflict as exc:
            if exc.detail is None:
                raise
            body = exc.to_dict()
            body["error"]["detail"] = (
                outlet_json(exc.detail) if "tier" in exc.detail else exc.detail
            )
            response = jsonify(body)
            response.status_code = exc.status
            if "version" in exc.detail:
                response.set_etag(str(exc.detail["version"]))
            return response

    return wrapper
