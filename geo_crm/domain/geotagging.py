"""Geotagging outlets from the field: check a reported point, write it, keep every change.

A tag is *rejected* (422, nothing written) when the point cannot be true: missing or
non-finite numbers, out of range, (0, 0), an accuracy worse than the limit, outside every
loaded region, or captured in the future. It is *accepted but flagged* for a manager's review
when it is plausible but suspicious: outside the outlet's current region, a jump of more than
``max_jump_m`` from its current location, or another active outlet with a similar name within
``duplicate_radius_m`` (a possible duplicate). Flagged tags move the outlet at once — the rep
sees the result — and a reviewer's rejection puts the previous point back.

Optimistic locking: the client sends the ``version`` it read; the write is one
``UPDATE … WHERE id = … AND version = …`` whose row count decides, in the same transaction as
the event insert, so of two reps tagging at once exactly one wins and the other gets 409.

Reviews: accepting sets ``state = 'accepted'``; rejecting sets ``state = 'rejected'`` and, if
no later tag has moved the outlet since, restores ``outlets.location`` to the event's
``old_location``. The rejected event itself records the restoration (who and when in
``reviewed_by_id``/``reviewed_at``); no extra event is written, so an outlet's location is
always the ``new_location`` of its latest non-rejected event (or its ``old_location`` chain).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import re
import secrets
import unicodedata
from dataclasses import dataclass, field

from psycopg.rows import namedtuple_row
from sqlalchemy import (
    ARRAY,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    literal_column,
    null,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .. import coords
from ..analysis.geometry.geodesy import radius_in_degrees
from ..db.hotpath import HotStatement
from ..errors import Conflict, NotFound, ValidationError
from ..models import TIERS, GeotagEvent, Outlet, Region, RegionPart, User
from ..settings import GeotagLimits
from .access import geotag_event_scope, outlet_scope, point_in_scope, template
from .network import outlet_tree
from .outlets import contains_text, geography, point_sql
from .principal import Principal

LOGGER = logging.getLogger(__name__)

SOURCES = ("gps", "map")
CRS = coords.CRS_NAMES


@dataclass(frozen=True)
class TagInput:
    """A point as the phone reported it (in ``crs``), before any check."""

    lat: float
    lon: float
    accuracy_m: float | None
    crs: str = "wgs84"
    source: str = "gps"
    captured_at: dt.datetime | None = None


@dataclass(frozen=True)
class Flag:
    code: str  # outside_region | jump | possible_duplicate
    message: str
    detail: dict = field(default_factory=dict)

    def stored(self) -> str:
        """The text kept in ``geotag_events.flags``: ``code:detail``."""
        key = {"outside_region": "region", "jump": "distance_m", "possible_duplicate": "outlet"}[
            self.code
        ]
        return f"{self.code}:{self.detail.get(key, '')}"


@dataclass
class GeotagResult:
    outlet: dict
    event: dict
    flags: list[Flag]
    committed: bool = False  # written and committed already (geotag_outlet's ``commit``)


class StaleVersion(Conflict):
    """409: the outlet changed since the client read it; ``detail`` holds its current state."""

    code = "version_conflict"


# -- checks (pure) ---------------------------------------------------------------------------------


def _finite(value, name: str) -> float:
    if value is None:
        raise ValidationError(f"{name} is required", fields={name: "required"})
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{name} must be a number", fields={name: "must be a number"})
    if not math.isfinite(value):
        raise ValidationError(f"{name} must be a finite number", fields={name: "must be finite"})
    return float(value)


def check_tag(tag: TagInput, limits: GeotagLimits, now: dt.datetime) -> tuple[float, float]:
    """Refuse what cannot be a real reading; return the WGS-84 (lon, lat). Fields are unprefixed."""
    lat = _finite(tag.lat, "lat")
    lon = _finite(tag.lon, "lon")
    if not -90.0 <= lat <= 90.0:
        raise ValidationError("lat must lie in [-90, 90]", fields={"lat": "must lie in [-90, 90]"})
    if not -180.0 <= lon <= 180.0:
        raise ValidationError(
            "lon must lie in [-180, 180]", fields={"lon": "must lie in [-180, 180]"}
        )
    if lat == 0.0 and lon == 0.0:
        problem = "(0, 0) is the placeholder phones send without a fix, not a place"
        raise ValidationError(problem, fields={"lat": problem, "lon": problem})
    if tag.crs not in CRS:
        raise ValidationError(
            f"unknown crs {tag.crs!r}", fields={"crs": f"one of {', '.join(CRS)}"}
        )
    if tag.source not in SOURCES:
        raise ValidationError(
            f"unknown source {tag.source!r}", fields={"source": f"one of {', '.join(SOURCES)}"}
        )
    if tag.accuracy_m is None:
        if tag.source == "gps":
            raise ValidationError(
                "accuracy_m is required for a GPS reading", fields={"accuracy_m": "required"}
            )
    else:
        accuracy = _finite(tag.accuracy_m, "accuracy_m")
        if accuracy < 0:
            raise ValidationError(
                "accuracy_m must not be negative", fields={"accuracy_m": "must be >= 0"}
            )
        if accuracy > limits.max_accuracy_m:
            problem = (
                f"accuracy {accuracy:.0f} m is worse than the {limits.max_accuracy_m:.0f} m limit: "
                "wait for a better fix or set the point on the map"
            )
            raise ValidationError(problem, fields={"accuracy_m": problem})
    if tag.captured_at is None:
        raise ValidationError("captured_at is required", fields={"captured_at": "required"})
    if tag.captured_at.tzinfo is None:
        raise ValidationError(
            "captured_at needs a time zone", fields={"captured_at": "needs a UTC offset"}
        )
    if tag.captured_at > now + dt.timedelta(seconds=limits.clock_skew_s):
        problem = "captured_at lies in the future: check the phone's clock"
        raise ValidationError(problem, fields={"captured_at": problem})
    wlon, wlat = coords.point_to_wgs84(lon, lat, tag.crs)
    if not (
        math.isfinite(wlon) and math.isfinite(wlat) and -180 <= wlon <= 180 and -90 <= wlat <= 90
    ):
        raise ValidationError(
            "the point is outside the coordinate range after conversion",
            fields={"lat": "out of range", "lon": "out of range"},
        )
    return wlon, wlat


# name noise that says nothing about which shop it is
_GENERIC = re.compile(
    r"(有限责任公司|有限公司|公司|分店|总店|门市部|经营部|批发部|批发|商行|商店|商贸|超市|便利店|小卖部|"
    r"食品店|副食店|烟酒店|店|\bco\b|\bltd\b|\bstore\b|\bshop\b|\bmarket\b|\bsupermarket\b)"
)
_NOISE = re.compile(r"[\W_]+", re.UNICODE)


def normalise_name(name: str) -> str:
    """Fold width and case, drop punctuation, spaces and generic shop words (店, 超市, 商行…)."""
    folded = unicodedata.normalize("NFKC", name or "").casefold()
    stripped = _NOISE.sub("", _GENERIC.sub(" ", folded))
    return stripped or _NOISE.sub("", folded)


def _bigrams(text_: str) -> set[str]:
    return {text_[i : i + 2] for i in range(len(text_) - 1)} if len(text_) > 1 else {text_}


def name_similarity(a: str, b: str) -> float:
    """Dice coefficient of character bigrams of the normalised names; 1.0 when one contains
    the other. Character bigrams suit Chinese names, where pg_trgm's word trigrams (and its
    locale-dependent notion of letters) do not."""
    na, nb = normalise_name(a), normalise_name(b)
    if not na or not nb:
        return 0.0
    if na == nb or (min(len(na), len(nb)) >= 2 and (na in nb or nb in na)):
        return 1.0
    ba, bb = _bigrams(na), _bigrams(nb)
    return 2 * len(ba & bb) / (len(ba) + len(bb))


# -- SQL pieces ------------------------------------------------------------------------------------

_O = Outlet.__table__
_E = GeotagEvent.__table__


def _near_active(pt, lat: float, radius_m: float, exclude_id=None):
    """Active outlets within ``radius_m`` metres of ``pt``: a GiST prefilter, then the exact
    test."""
    other = _O.alias("nearby")
    conds = [
        other.c.status == "active",
        func.ST_DWithin(other.c.location, pt, radius_in_degrees(lat, radius_m)),
        func.ST_DWithin(geography(other.c.location), geography(pt), radius_m),
    ]
    if exclude_id is not None:
        conds.append(other.c.id != exclude_id)
    return other, and_(*conds)


def _duplicates_array(pt, lat: float, radius_m: float, exclude_id):
    other, cond = _near_active(pt, lat, radius_m, exclude_id)
    return (
        select(func.array_agg(other.c.code + literal("\x1f", String) + other.c.name))
        .where(cond)
        .scalar_subquery()
    )


def _duplicate_flags(rows: list[str] | None, name: str, limits: GeotagLimits) -> list[Flag]:
    flags = []
    for item in rows or []:
        code, _, other_name = item.partition("\x1f")
        score = name_similarity(name, other_name)
        if score >= limits.duplicate_similarity:
            flags.append(
                Flag(
                    "possible_duplicate",
                    f"outlet {code} ({other_name}) lies within {limits.duplicate_radius_m:.0f} m "
                    "and has a similar name: possibly the same shop",
                    {"outlet": code, "name": other_name, "similarity": round(score, 2)},
                )
            )
    return flags


_HIDDEN_DUPLICATE = (
    "an active outlet you cannot see lies within {radius:.0f} m and has a similar name: a "
    "manager will check whether it is the same shop"
)


def _hidden_codes(session: Session, user: Principal, stored: list[str]) -> set[str]:
    """Codes named by ``possible_duplicate:<code>`` flags that ``user`` may not see: a flag
    must not tell anyone what exists outside their scope (one query, only when such a flag
    exists)."""
    codes = {f.partition(":")[2] for f in stored if f.startswith("possible_duplicate:")}
    codes.discard("")
    if not codes or user.is_admin:
        return set()
    seen = session.scalars(select(_O.c.code).where(_O.c.code.in_(codes), outlet_scope(user)))
    return codes - set(seen)


def _redact_stored(stored: list[str], hidden: set[str]) -> list[str]:
    duplicate = "possible_duplicate:"
    return [
        duplicate if f.startswith(duplicate) and f[len(duplicate) :] in hidden else f
        for f in stored
    ]


def _redact_flags(flags: list[Flag], hidden: set[str], limits: GeotagLimits) -> list[Flag]:
    """The caller's view of the flags: a duplicate outside their scope is not named."""
    out = []
    for f in flags:
        if f.code == "possible_duplicate" and f.detail.get("outlet") in hidden:
            text_ = _HIDDEN_DUPLICATE.format(radius=limits.duplicate_radius_m)
            f = Flag(f.code, text_, {})
        out.append(f)
    return out


def _redact_events(session: Session, user: Principal, events: list[dict]) -> list[dict]:
    """Events as ``user`` may see them: duplicate flags naming outlets outside their scope
    lose the code."""
    hidden = _hidden_codes(session, user, [f for e in events for f in e["flags"]])
    if hidden:
        for e in events:
            e["flags"] = _redact_stored(e["flags"], hidden)
    return events


def _flag_of(stored: str, row, limits: GeotagLimits, duplicates: list[Flag]) -> Flag:
    """The Flag (with its message) of one flag the tag statement stored (``code:detail``)."""
    code = stored.partition(":")[0]
    if code == "outside_region":
        return Flag(
            code,
            f"the point lies outside the outlet's region {row.old_region}",
            {"region": row.old_region},
        )
    if code == "jump":
        return Flag(
            code,
            f"the point is {row.jump_m:,.0f} m from the current location "
            f"(more than {limits.max_jump_m:,.0f} m)",
            {"distance_m": row.jump_rounded},
        )
    return next(f for f in duplicates if f.stored() == stored)  # compared in Python, passed in


def _lonlat(lon, lat) -> dict | None:
    return None if lon is None else {"lat": lat, "lon": lon}


def _outlet_state(session: Session, outlet_id: int) -> dict:
    row = session.execute(
        select(
            _O.c.code,
            _O.c.name,
            _O.c.version,
            func.ST_X(_O.c.location).label("lon"),
            func.ST_Y(_O.c.location).label("lat"),
            Region.code.label("region"),
            _O.c.updated_at,
        )
        .select_from(_O.outerjoin(Region, Region.id == _O.c.region_id))
        .where(_O.c.id == outlet_id)
    ).one()
    return {
        "code": row.code,
        "name": row.name,
        "version": row.version,
        "location": _lonlat(row.lon, row.lat),
        "region": row.region,
        "updated_at": row.updated_at.isoformat(),
    }


_REGION_OF_POINT = HotStatement(
    text("SELECT geo_crm_region_for_point(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"),
    read_only=True,
)


def _outside_every_region() -> ValidationError:
    problem = "the point lies outside every loaded region"
    return ValidationError(problem, fields={"lat": problem, "lon": problem})


# -- the write -------------------------------------------------------------------------------------


# The jump on the WGS 84 ellipsoid, as ST_Distance of the two points as geographies computes it,
# with the ellipsoid given instead of looked up from SRID 4326 in every statement (bench/README.md,
# geotag section, w8-pgtag2); the two differ by nanometres (tests/test_geotag_cpu.py)
_WGS84 = literal_column("'SPHEROID[\"WGS 84\",6378137,298.257223563]'::spheroid")
_NO_REGION = "geotag_point_in_a_region"  # the constraint geo_crm_require_region() reports
_MAX_ATTEMPTS = 4  # of the tag statement, when the active outlets nearby keep changing


@functools.lru_cache(maxsize=8)
def _tag_stmt(role: str) -> HotStatement:
    """A whole tag in one statement, built once per role (values are bound), which either
    writes the final outlet and event or nothing, so it may run on its own in autocommit:

    - ``cur``: the outlet by code, in the user's scope (no row: 404);
    - ``near``: the jump from its current location and the names of active outlets nearby
      (``geo_crm_active_outlets_near``, in code order: a plan kept for the session);
    - ``moved``: ``UPDATE … WHERE version = :version`` — and only if the names nearby are those
      the caller has compared with the outlet's (``:checked``; NULL: none, so only when no
      active outlet is near). No row: a stale version (read so, or a concurrent tag won: the
      row lock waits for it, then the version test fails), or names to compare first;
    - ``verdict``: whether the point leaves the outlet's current region (tested only when the
      outlet trigger found it another one) and the stored flags: ``outside_region:<code>``,
      ``jump:<metres>`` (over ``:max_jump_m``), then the caller's ``:dup_flags``;
    - ``ins``: the event, flagged when there are flags; ``geo_crm_require_region`` fails the
      whole statement (nothing written) when the trigger found no region for the point.

    All parts read the statement's one snapshot; the old location recorded is the snapshot's,
    which is the row's own whenever the versioned update succeeds.
    """
    lon, lat = bindparam("lon", type_=Float), bindparam("lat", type_=Float)
    pt = point_sql(lon, lat)
    regions = Region.__table__

    def region_code(region_id):  # a primary-key probe (a join would hash the whole table)
        return select(regions.c.code).where(regions.c.id == region_id).scalar_subquery()

    cur = (
        select(_O.c.id, _O.c.name, _O.c.version, _O.c.location, _O.c.region_id)
        .where(_O.c.code == bindparam("code", type_=String), outlet_scope(template(role)))
        .cte("cur")
    )
    near = select(
        cur.c.id,
        func.ST_DistanceSpheroid(cur.c.location, pt, _WGS84).label("jump_m"),
        func.geo_crm_active_outlets_near(
            pt,
            bindparam("radius_deg", type_=Float),
            bindparam("radius_m", type_=Float),
            cur.c.id,
            type_=ARRAY(Text),
        ).label("nearby"),
    ).cte("near")
    moved = (
        _O.update()
        .where(
            _O.c.id == near.c.id,
            _O.c.version == bindparam("version", type_=Integer),
            near.c.nearby.is_not_distinct_from(bindparam("checked", type_=ARRAY(Text))),
        )
        .values(location=pt, version=_O.c.version + 1)
        .returning(_O.c.id, _O.c.version, _O.c.region_id)
        .cte("moved")
    )
    old_part = exists(
        select(literal(1))
        .select_from(RegionPart)
        .where(RegionPart.region_id == cur.c.region_id, func.ST_Intersects(RegionPart.geom, pt))
    )
    outside = case(
        (cur.c.region_id.is_(None), false()),
        (moved.c.region_id == cur.c.region_id, false()),
        else_=~old_part,
    )
    verdict_base = (
        select(
            moved.c.id,
            moved.c.version,
            moved.c.region_id,
            outside.label("outside"),
            region_code(cur.c.region_id).label("old_region"),
            near.c.jump_m,
            func.round(near.c.jump_m).cast(Integer).label("jump_rounded"),
        )
        .select_from(moved.join(cur, cur.c.id == moved.c.id).join(near, near.c.id == moved.c.id))
        .offset(literal_column("0"))  # a fence: the outside test and old region once, not per use
        .subquery("v")
    )
    flags = func.array_remove(
        array(
            [
                case(
                    (
                        verdict_base.c.outside,
                        "outside_region:" + func.coalesce(verdict_base.c.old_region, ""),
                    ),
                    else_=null(),
                ),
                case(
                    (
                        verdict_base.c.jump_m > bindparam("max_jump_m", type_=Float),
                        "jump:" + cast(verdict_base.c.jump_rounded, Text),
                    ),
                    else_=null(),
                ),
            ],
            type_=Text,
        ),
        null(),
        type_=ARRAY(Text),
    ).op("||")(bindparam("dup_flags", type_=ARRAY(Text)))
    verdict = select(verdict_base, flags.label("flags")).cte("verdict")
    ins = (
        _E.insert()
        .from_select(
            [
                "outlet_id",
                "old_location",
                "new_location",
                "accuracy_m",
                "source",
                "crs",
                "state",
                "flags",
                "user_id",
                "captured_at",
            ],  # fmt: skip
            select(
                verdict.c.id,
                cur.c.location,
                pt,
                bindparam("accuracy_m", type_=Float),
                bindparam("source", type_=String),
                bindparam("crs", type_=String),
                case((func.cardinality(verdict.c.flags) > 0, "flagged"), else_="accepted"),
                verdict.c.flags,
                bindparam("user_id", type_=Integer),
                bindparam("captured_at", type_=DateTime(timezone=True)),
            )
            .select_from(verdict.join(cur, cur.c.id == verdict.c.id))
            .where(func.geo_crm_require_region(verdict.c.region_id)),
        )
        .returning(_E.c.id, _E.c.state, _E.c.flags, _E.c.created_at)
        .cte("ins")
    )
    stmt = select(
        cur.c.id,
        cur.c.name,
        cur.c.version.label("read_version"),
        near.c.nearby,
        verdict.c.version,
        region_code(verdict.c.region_id).label("region"),
        verdict.c.old_region,
        verdict.c.jump_m,
        verdict.c.jump_rounded,
        ins.c.id.label("event_id"),
        ins.c.state,
        ins.c.flags,
        ins.c.created_at,
    ).select_from(
        cur.join(near, near.c.id == cur.c.id)
        .outerjoin(verdict, verdict.c.id == cur.c.id)
        .outerjoin(ins, true())
    )
    return HotStatement(stmt, row_factory=namedtuple_row)


def _run_tag(session: Session, statement: HotStatement, values: dict, alone: bool):
    """Run the tag statement; ``alone``: on its own in autocommit when no transaction is open (it
    writes everything or nothing, so it needs none: two round trips less, BEGIN and COMMIT).
    The result's second item says whether it ran so (and so is committed)."""
    if alone:
        result, committed = statement.run_committed(session, values)
        return result.fetchone(), committed
    return statement.run(session, values).fetchone(), False


def geotag_outlet(
    session: Session,
    user: Principal,
    code: str,
    tag: TagInput,
    version: int,
    limits: GeotagLimits,
    *,
    now: dt.datetime | None = None,
    commit: bool = False,
) -> GeotagResult:
    """Move outlet ``code`` to the reported point if ``version`` is current.

    Raises ValidationError (422: rejected), NotFound (404: no such outlet in the user's scope)
    or StaleVersion (409, with the current state; nothing written). A point outside every
    region is refused before a stale version is reported, as the checks read.

    One statement (:func:`_tag_stmt`) reads, decides and writes, all or nothing: a second run
    only when active outlets are near, whose names it first compares with the outlet's. The
    caller commits, unless ``commit`` is set and no transaction is open: then the statement runs
    on its own and commits itself (``result.committed``).
    """
    now = now or dt.datetime.now(dt.UTC)
    lon, lat = check_tag(tag, limits, now)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValidationError(
            "version must be a positive integer", fields={"version": "positive integer"}
        )
    if user.role == "manager":  # an outlet a manager moves must stay in their regions
        _require_point_in_scope(session, user, lon, lat)
    statement = _tag_stmt(user.role)
    values = {
        "code": code,
        "scope_uid": user.id,
        "version": version,
        "lon": lon,
        "lat": lat,
        "accuracy_m": tag.accuracy_m,
        "source": tag.source,
        "crs": tag.crs,
        "user_id": user.id,
        "captured_at": tag.captured_at,
        "radius_m": limits.duplicate_radius_m,
        "radius_deg": radius_in_degrees(lat, limits.duplicate_radius_m),
        "max_jump_m": limits.max_jump_m,
        "checked": None,
        "dup_flags": [],
    }
    duplicates: list[Flag] = []
    for _ in range(_MAX_ATTEMPTS):
        try:
            row, committed = _run_tag(session, statement, values, commit)
        except DBAPIError as exc:
            if getattr(getattr(exc.orig, "diag", None), "constraint_name", None) != _NO_REGION:
                raise
            session.rollback()
            raise _outside_every_region() from None
        if row is None:  # nothing matched, nothing written
            raise NotFound(f"outlet {code} not found", fields={"code": "not found"})
        if row.event_id is not None:
            break
        if row.read_version != version or row.nearby == values["checked"]:
            # stale: read so, or a concurrent tag won; nothing was written
            session.rollback()
            raise _stale_or_outside(session, row.id, version, lon, lat)
        # active outlets are near: compare their names with the outlet's, then write with
        # those possible duplicates, provided the same outlets are still the ones near
        duplicates = _duplicate_flags(row.nearby, row.name, limits)
        values["checked"] = row.nearby
        values["dup_flags"] = [f.stored() for f in duplicates]
    else:
        session.rollback()
        raise _stale(session, row.id, version)
    # the statement decided and stored the flags; their messages are written from its values
    stored = list(row.flags)
    flags = [_flag_of(item, row, limits, duplicates) for item in stored]
    hidden = _hidden_codes(session, user, stored)
    flags, stored = _redact_flags(flags, hidden, limits), _redact_stored(stored, hidden)
    outlet = {
        "code": code,
        "name": row.name,
        "version": row.version,
        "location": {"lat": lat, "lon": lon},
        "region": row.region,
    }
    event = {
        "id": row.event_id,
        "state": row.state,
        "flags": stored,
        "created_at": row.created_at.isoformat(),
    }
    LOGGER.info("outlet %s tagged by %s: %s %s", code, user.username, row.state, stored)
    return GeotagResult(outlet, event, flags, committed)


def _require_point_in_scope(session: Session, user: Principal, lon: float, lat: float) -> None:
    if not session.scalar(select(point_in_scope(user, point_sql(lon, lat)))):
        problem = "the point lies outside your regions"
        raise ValidationError(problem, fields={"lat": problem, "lon": problem})


def _stale_or_outside(
    session: Session, outlet_id: int, version: int, lon: float, lat: float
) -> ValidationError | StaleVersion:
    """The error for a tag whose version is stale: 422 if the point lies outside every region
    (the more basic refusal), else 409 with the current state."""
    if _REGION_OF_POINT.run(session, {"lon": lon, "lat": lat}).fetchone()[0] is None:
        return _outside_every_region()
    return _stale(session, outlet_id, version)


def _stale(session: Session, outlet_id: int, version: int) -> StaleVersion:
    current = _outlet_state(session, outlet_id)
    return StaleVersion(
        f"outlet {current['code']} has changed since version {version} was read "
        f"(now version {current['version']}); reload it and tag again",
        fields={"version": f"stale: the current version is {current['version']}"},
        detail={"current": current},
    )


# -- history and reviews ---------------------------------------------------------------------------


def _event_columns():
    reviewer = User.__table__.alias("reviewer")
    tagger = User.__table__.alias("tagger")
    cols = [
        _E.c.id,
        _O.c.code.label("outlet"),
        _O.c.name.label("outlet_name"),
        _E.c.state,
        _E.c.flags,
        func.ST_X(_E.c.old_location).label("old_lon"),
        func.ST_Y(_E.c.old_location).label("old_lat"),
        func.ST_X(_E.c.new_location).label("new_lon"),
        func.ST_Y(_E.c.new_location).label("new_lat"),
        func.ST_Distance(geography(_E.c.old_location), geography(_E.c.new_location)).label(
            "moved_m"
        ),
        _E.c.accuracy_m,
        _E.c.source,
        _E.c.crs,
        tagger.c.username.label("user"),
        _E.c.captured_at,
        _E.c.created_at,
        reviewer.c.username.label("reviewed_by"),
        _E.c.reviewed_at,
    ]
    joined = (
        _E.join(_O, _O.c.id == _E.c.outlet_id)
        .outerjoin(tagger, tagger.c.id == _E.c.user_id)
        .outerjoin(reviewer, reviewer.c.id == _E.c.reviewed_by_id)
    )
    return cols, joined


def _event_dict(row) -> dict:
    return {
        "id": row.id,
        "outlet": row.outlet,
        "outlet_name": row.outlet_name,
        "state": row.state,
        "flags": list(row.flags or []),
        "old_location": _lonlat(row.old_lon, row.old_lat),
        "new_location": _lonlat(row.new_lon, row.new_lat),
        "moved_m": None if row.moved_m is None else round(row.moved_m, 1),
        "accuracy_m": row.accuracy_m,
        "source": row.source,
        "crs": row.crs,
        "user": row.user,
        "captured_at": row.captured_at.isoformat() if row.captured_at else None,
        "created_at": row.created_at.isoformat(),
        "reviewed_by": row.reviewed_by,
        "reviewed_at": row.reviewed_at.isoformat() if row.reviewed_at else None,
    }


def location_history(
    session: Session, user: Principal, code: str, *, limit: int = 100
) -> list[dict]:
    """Every location change of an outlet in the user's scope, newest first."""
    outlet_id = session.scalar(select(_O.c.id).where(_O.c.code == code, outlet_scope(user)))
    if outlet_id is None:
        raise NotFound(f"outlet {code} not found", fields={"code": "not found"})
    cols, joined = _event_columns()
    rows = session.execute(
        select(*cols)
        .select_from(joined)
        .where(_E.c.outlet_id == outlet_id)
        .order_by(_E.c.id.desc())
        .limit(limit)
    )
    return _redact_events(session, user, [_event_dict(r) for r in rows])


def history_points(session: Session, outlet_id: int) -> list[dict]:
    """The outlet's geotag events, oldest first, with the new position of each (lon, lat,
    created_at, captured_at, source, accuracy_m, state): the track its history map draws.
    Scope is the caller's object rule (the policy resolves the URL's outlet first)."""
    e = _E
    stmt = (
        select(
            func.ST_X(e.c.new_location).label("lon"),
            func.ST_Y(e.c.new_location).label("lat"),
            e.c.created_at,
            e.c.captured_at,
            e.c.source,
            e.c.accuracy_m,
            e.c.state,
        )
        .where(e.c.outlet_id == outlet_id)
        .order_by(e.c.created_at, e.c.id)
    )
    return [dict(r) for r in session.execute(stmt).mappings()]


def location_track(session: Session, outlet_id: int) -> tuple[str, list[dict]]:
    """The outlet's tier (the track's colour) and its :func:`history_points`; 404 when there
    is no such outlet."""
    tier = session.scalar(select(_O.c.tier).where(_O.c.id == outlet_id))
    if tier is None:
        raise NotFound(f"no outlet with id {outlet_id}")
    return tier, history_points(session, outlet_id)


def review_queue(
    session: Session, user: Principal, *, state: str = "flagged", limit: int = 100
) -> list[dict]:
    """Geotag events awaiting (or past) review that the user may decide on, oldest first."""
    cols, joined = _event_columns()
    stmt = (
        select(*cols)
        .select_from(joined)
        .where(_E.c.state == state, geotag_event_scope(user))
        .order_by(_E.c.id if state == "flagged" else _E.c.id.desc())
        .limit(limit)
    )
    return _redact_events(session, user, [_event_dict(r) for r in session.execute(stmt)])


_LATEST_LIVE = text("""
    SELECT id FROM geotag_events WHERE outlet_id = :outlet_id AND state <> 'rejected'
     ORDER BY id DESC LIMIT 1
""")


def decide_review(session: Session, user: Principal, event_id: int, decision: str) -> dict:
    """Accept or reject a flagged tag; rejecting restores the previous point unless a later tag
    has moved the outlet since. The caller commits. Returns the event and ``restored``."""
    if decision not in ("accept", "reject"):
        raise ValidationError(
            "decision must be accept or reject", fields={"decision": "accept or reject"}
        )
    found = session.execute(
        select(_E.c.outlet_id, _E.c.state).where(_E.c.id == event_id, geotag_event_scope(user))
    ).first()
    if found is None:
        raise NotFound(f"geotag event {event_id} not found", fields={"event_id": "not found"})
    # lock the outlet first: a concurrent tag waits, then fails its version check
    session.execute(select(_O.c.id).where(_O.c.id == found.outlet_id).with_for_update())
    latest = session.scalar(_LATEST_LIVE, {"outlet_id": found.outlet_id})
    new_state = "accepted" if decision == "accept" else "rejected"
    updated = session.execute(
        _E.update()
        .where(_E.c.id == event_id, _E.c.state == "flagged")
        .values(state=new_state, reviewed_by_id=user.id, reviewed_at=func.now())
    ).rowcount
    if not updated:
        raise Conflict(
            f"geotag event {event_id} is not awaiting review (it is {found.state})",
            fields={"event_id": f"already {found.state}"},
        )
    restored = False
    if decision == "reject" and latest == event_id:
        session.execute(
            _O.update()
            .where(_O.c.id == found.outlet_id)
            .values(location=select(_E.c.old_location).where(_E.c.id == event_id).scalar_subquery())
        )
        restored = True
    cols, joined = _event_columns()
    event = _event_dict(
        session.execute(select(*cols).select_from(joined).where(_E.c.id == event_id)).one()
    )
    LOGGER.info(
        "geotag event %s %sed by %s (restored: %s)", event_id, decision, user.username, restored
    )
    return {"event": event, "restored": restored, "outlet": _outlet_state(session, found.outlet_id)}


# -- the rep's list, parents and new outlets -------------------------------------------------------


def my_outlets(
    session: Session,
    user: Principal,
    *,
    near: tuple[float, float] | None = None,
    q: str | None = None,
    limit: int = 50,
) -> list[dict]:
    """The user's outlets: not yet geotagged first, then nearest to ``near`` (lon, lat, WGS-84).

    Two indexed queries (untagged; then KNN ``<->`` on the GiST index) rather than one sort over
    everything, so an admin's list over a million outlets stays fast.
    """
    conds = [outlet_scope(user), _O.c.status == "active"]
    if q:
        conds.append(contains_text(q, _O.c.name, _O.c.code))
    base = [
        _O.c.code,
        _O.c.name,
        _O.c.tier,
        _O.c.version,
        func.ST_X(_O.c.location).label("lon"),
        func.ST_Y(_O.c.location).label("lat"),
        _O.c.address,
    ]
    untagged = session.execute(
        select(*base, null().label("distance_m"))
        .where(*conds, _O.c.location.is_(None))
        .order_by(_O.c.name)
        .limit(limit)
    ).all()
    rows = list(untagged)
    if len(rows) < limit:
        stmt = select(
            *base,
            (
                func.ST_Distance(geography(_O.c.location), geography(point_sql(*near)))
                if near
                else null()
            ).label("distance_m"),
        ).where(*conds, _O.c.location.is_not(None))
        stmt = stmt.order_by(_O.c.location.op("<->")(point_sql(*near)) if near else _O.c.name)
        rows += session.execute(stmt.limit(limit - len(rows))).all()
    return [
        {
            "code": r.code,
            "name": r.name,
            "tier": r.tier,
            "version": r.version,
            "location": _lonlat(r.lon, r.lat),
            "address": r.address,
            "distance_m": None if r.distance_m is None else round(r.distance_m, 1),
        }
        for r in rows
    ]


def _upstream_of_scope(user: Principal):
    """Outlets in the user's scope and every outlet upstream of them (their suppliers' chain)."""
    chain = outlet_tree(outlet_scope(user), up=True, depth=False, distinct=True, name="upstream")
    return select(chain.c.id)


def parent_candidates(
    session: Session, user: Principal, tier: str, q: str | None = None, *, limit: int = 20
) -> list[dict]:
    """Outlets a new outlet of ``tier`` may buy from: a higher tier, active, and (for reps) in
    their network or upstream of it, so a rep never browses other reps' customers."""
    if tier not in TIERS:
        raise ValidationError(
            f"unknown tier {tier!r}", fields={"tier": f"one of {', '.join(TIERS)}"}
        )
    higher = TIERS[: TIERS.index(tier)]
    if not higher:
        return []
    conds = [_O.c.tier.in_(higher), _O.c.status == "active"]
    if user.role != "admin":
        conds.append(_O.c.id.in_(_upstream_of_scope(user)))
    if q:
        conds.append(contains_text(q, _O.c.name, _O.c.code))
    rows = session.execute(
        select(_O.c.code, _O.c.name, _O.c.tier)
        .where(*conds)
        .order_by(_O.c.tier, _O.c.name)
        .limit(limit)
    )
    return [{"code": r.code, "name": r.name, "tier": r.tier} for r in rows]


def new_outlet_code() -> str:
    """A code for an outlet found in the field: ``F`` + date + 6 random base-32 characters."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return (
        "F"
        + dt.date.today().strftime("%y%m%d")
        + "-"
        + "".join(secrets.choice(alphabet) for _ in range(6))
    )


def create_tagged_outlet(
    session: Session,
    user: Principal,
    *,
    name: str,
    tier: str,
    parent_code: str | None,
    notes: str | None,
    tag: TagInput,
    limits: GeotagLimits,
    now: dt.datetime | None = None,
) -> GeotagResult:
    """A new outlet found in the field, at the reported point; the caller commits.

    The same checks as a tag apply; a similar-named active outlet nearby flags the first event
    as a possible duplicate. A rep becomes the outlet's rep; a manager may only add inside
    their regions.
    """
    now = now or dt.datetime.now(dt.UTC)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationError("a name is required", fields={"name": "1 to 200 characters"})
    if tier not in TIERS:
        raise ValidationError(
            f"unknown tier {tier!r}", fields={"tier": f"one of {', '.join(TIERS)}"}
        )
    lon, lat = check_tag(tag, limits, now)
    parent_id = None
    if parent_code:
        if tier == "distributor":
            raise ValidationError(
                "a distributor buys from nobody", fields={"parent_code": "must be empty"}
            )
        stmt = select(_O.c.id).where(
            _O.c.code == parent_code, _O.c.tier.in_(TIERS[: TIERS.index(tier)])
        )
        if user.role != "admin":
            stmt = stmt.where(_O.c.id.in_(_upstream_of_scope(user)))
        parent_id = session.scalar(stmt)
        if parent_id is None:
            raise ValidationError(
                f"no outlet {parent_code} of a higher tier in your network",
                fields={"parent_code": "not found among possible suppliers"},
            )
    pt = point_sql(lon, lat)
    row = session.execute(
        select(
            func.geo_crm_region_for_point(pt).label("region_id"),
            point_in_scope(user, pt).label("in_scope"),
            _duplicates_array(pt, lat, limits.duplicate_radius_m, None).label("nearby"),
        )
    ).one()
    if row.region_id is None:
        problem = "the point lies outside every loaded region"
        raise ValidationError(problem, fields={"lat": problem, "lon": problem})
    if user.role == "manager" and not row.in_scope:
        problem = "the point lies outside your regions"
        raise ValidationError(problem, fields={"lat": problem, "lon": problem})
    flags = _duplicate_flags(row.nearby, name, limits)
    state = "flagged" if flags else "accepted"
    code = new_outlet_code()
    outlet_id = session.execute(
        _O.insert()
        .values(
            code=code,
            name=name,
            tier=tier,
            parent_id=parent_id,
            notes=(notes or "").strip() or None,
            location=pt,
            rep_id=user.id if user.role == "rep" else None,
            created_by_id=user.id,
        )
        .returning(_O.c.id)
    ).scalar_one()
    event = session.execute(
        _E.insert()
        .values(
            outlet_id=outlet_id,
            old_location=None,
            new_location=pt,
            accuracy_m=tag.accuracy_m,
            source=tag.source,
            crs=tag.crs,
            state=state,
            flags=[f.stored() for f in flags],
            user_id=user.id,
            captured_at=tag.captured_at,
        )
        .returning(_E.c.id, _E.c.created_at)
    ).one()
    outlet = _outlet_state(session, outlet_id)
    outlet["tier"] = tier
    outlet["parent"] = parent_code or None
    LOGGER.info("outlet %s created in the field by %s (%s)", code, user.username, state)
    stored = [f.stored() for f in flags]
    hidden = _hidden_codes(session, user, stored)
    return GeotagResult(
        outlet,
        {
            "id": event.id,
            "state": state,
            "flags": _redact_stored(stored, hidden),
            "created_at": event.created_at.isoformat(),
        },
        _redact_flags(flags, hidden, limits),
    )
