"""The review page's queue: flagged geotags (:func:`geotagging.review_queue`) with the suspected
duplicates named by name and code, not by code alone — a manager recognises a shop's name — and
the regions an ``outside_region`` flag names (stored by code) by their names."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Outlet, Region
from .access import outlet_scope, region_scope
from .geotagging import review_queue
from .principal import Principal

DUPLICATE = "possible_duplicate:"
OUTSIDE = "outside_region:"


def flagged_with_names(session: Session, user: Principal, *, limit: int = 200) -> list[dict]:
    """Flagged geotags ``user`` may decide on, oldest first; each with ``duplicates``: code ->
    name of the outlets its duplicate flags name (only outlets ``user`` may see: the queue
    already leaves the others unnamed), and ``regions``: code -> (name, English name or None)
    of the regions its ``outside_region`` flags name (those ``user`` may see)."""
    events = review_queue(session, user, state="flagged", limit=limit)
    names = _outlet_names(session, user, _details(events, DUPLICATE))
    regions = _region_names(session, user, _details(events, OUTSIDE))
    for e in events:
        e["regions"] = _named(e["flags"], OUTSIDE, regions)
        e["duplicates"] = _named(e["flags"], DUPLICATE, names)
    return events


def _details(events: list[dict], prefix: str) -> set[str]:
    """What the flags starting with ``prefix`` name (a code), over every event."""
    found = {f[len(prefix) :] for e in events for f in e["flags"] if f.startswith(prefix)}
    found.discard("")
    return found


def _named(flags: list[str], prefix: str, names: dict) -> dict:
    """code -> name for the codes this event's ``prefix`` flags name that ``names`` knows."""
    codes = (f[len(prefix) :] for f in flags if f.startswith(prefix))
    return {code: names[code] for code in codes if code in names}


def _outlet_names(session: Session, user: Principal, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    o = Outlet.__table__
    stmt = select(o.c.code, o.c.name).where(o.c.code.in_(codes))
    if not user.is_admin:
        stmt = stmt.where(outlet_scope(user, o))
    return {code: name for code, name in session.execute(stmt)}


def _region_names(
    session: Session, user: Principal, codes: set[str]
) -> dict[str, tuple[str, str | None]]:
    if not codes:
        return {}
    r = Region.__table__
    stmt = select(r.c.code, r.c.name, r.c.name_en).where(r.c.code.in_(codes))
    if not user.is_admin:
        stmt = stmt.where(region_scope(user, r))
    return {code: (name, name_en) for code, name, name_en in session.execute(stmt)}
