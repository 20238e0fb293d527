"""Query parameters of the OGC API – Features face, read strictly: anything unreadable, and any
parameter the API definition does not name, answers 400 ``invalid_parameter`` naming it
(conformance class Core: /req/core/query-param-invalid, /req/core/query-param-unknown)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping

from ..domain.features import DEFAULT_LIMIT, MAX_LIMIT, ItemFilter
from ..domain.gis import CRS84, InvalidParameter, check_bbox

ITEM_PARAMS = ("limit", "bbox", "bbox-crs", "datetime", "cursor", "f")
FORMATS = {"json", "geojson"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_known(args: Mapping[str, str], known: Iterable[str] = ("f",)) -> None:
    """400 for a parameter this resource does not take, or one given twice, or an ``f`` other
    than JSON."""
    known = set(known)
    for name in args:
        if name not in known:
            raise InvalidParameter(
                f"unknown query parameter {name!r}: this resource takes {', '.join(sorted(known))}",
                fields={f"query.{name}": "unknown parameter"},
            )
        if len(args.getlist(name)) > 1:  # type: ignore[attr-defined]
            raise InvalidParameter(
                f"{name} given more than once", fields={f"query.{name}": "repeated"}
            )
    fmt = args.get("f")
    if fmt is not None and fmt.lower() not in FORMATS:
        raise InvalidParameter(
            "f: only json (GeoJSON for features) is served", fields={"query.f": "unknown format"}
        )


def item_filter(args: Mapping[str, str]) -> ItemFilter:
    """The items request's filter from its query string."""
    check_known(args, ITEM_PARAMS)
    start = end = None
    if "datetime" in args:
        start, end = parse_datetime(args["datetime"])
    return ItemFilter(
        bbox=_bbox(args),
        start=start,
        end=end,
        after=decode_cursor(args["cursor"]) if "cursor" in args else None,
        limit=_limit(args.get("limit")),
    )


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= MAX_LIMIT:
        raise InvalidParameter(
            f"limit must be a whole number from 1 to {MAX_LIMIT:,}",
            fields={"query.limit": f"between 1 and {MAX_LIMIT}"},
        )
    return value


def _bbox(args: Mapping[str, str]) -> tuple[float, float, float, float] | None:
    crs = args.get("bbox-crs")
    if crs is not None and crs != CRS84:
        raise InvalidParameter(
            f"bbox-crs: only {CRS84} is served", fields={"query.bbox-crs": "unsupported CRS"}
        )
    raw = args.get("bbox")
    if raw is None:
        if crs is not None:
            raise InvalidParameter(
                "bbox-crs without bbox", fields={"query.bbox-crs": "send bbox with it"}
            )
        return None
    try:
        values = [float(part) for part in raw.split(",")]
    except ValueError:
        raise InvalidParameter(
            "bbox takes comma-separated numbers", fields={"query.bbox": "not numbers"}
        ) from None
    return check_bbox(values)


def parse_datetime(raw: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """An RFC 3339 instant or interval (``start/end``, ``..`` or nothing for an open end) as
    (start, end) in UTC, both inclusive. A date alone is that whole UTC day; a date-time must
    carry its offset (``Z`` or ``+08:00``)."""
    parts = raw.split("/")
    if len(parts) == 1:
        return _moment(raw, upper=False), _moment(raw, upper=True)
    if len(parts) != 2:
        raise _bad_datetime("an instant or start/end")
    start = None if parts[0] in ("", "..") else _moment(parts[0], upper=False)
    end = None if parts[1] in ("", "..") else _moment(parts[1], upper=True)
    if start is None and end is None:
        raise _bad_datetime("an interval needs at least one end")
    if start is not None and end is not None and start > end:
        raise _bad_datetime("the interval ends before it starts")
    return start, end


def _moment(text: str, *, upper: bool) -> dt.datetime:
    if _DATE.match(text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise _bad_datetime(f"{text!r} is no date") from None
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        return start + dt.timedelta(days=1, microseconds=-1) if upper else start
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _bad_datetime(f"{text[:40]!r} is no RFC 3339 date-time") from None
    if moment.tzinfo is None or "T" not in text.upper():
        raise _bad_datetime("a date-time needs its time and offset, e.g. 2025-01-31T08:00:00Z")
    return moment.astimezone(dt.UTC)


def _bad_datetime(problem: str) -> InvalidParameter:
    return InvalidParameter(f"datetime: {problem}", fields={"query.datetime": problem})


def encode_cursor(after: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([after]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The keyset position inside a ``next`` link's cursor; 400 when it is not one."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if not (
        isinstance(key, list)
        and len(key) == 1
        and isinstance(key[0], int)
        and not isinstance(key[0], bool)
        and 0 <= key[0] < 2**63
    ):
        raise InvalidParameter(
            "cursor: use the next link of the previous page", fields={"query.cursor": "invalid"}
        )
    return key[0]
