"""The review page's queue: flagged geotags (:func:`geotagging.review_queue`) with the suspected
duplicates named by name and code, not by code alone — a manager recognises a shop's name."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Outlet
from .access import outlet_scope
from .geotagging import review_queue
from .principal import Principal

DUPLICATE = "possible_duplicate:"


def flagged_with_names(session: Session, user: Principal, *, limit: int = 200) -> list[dict]:
    """Flagged geotags ``user`` may decide on, oldest first; each with ``duplicates``: code ->
    name of the outlets its duplicate flags name (only outlets ``user`` may see: the queue
    already leaves the others unnamed)."""
    events = review_queue(session, user, state="flagged", limit=limit)
    codes = {f[len(DUPLICATE) :] for e in events for f in e["flags"] if f.startswith(DUPLICATE)}
    codes.discard("")
    names: dict[str, str] = {}
    if codes:
        o = Outlet.__table__
        stmt = select(o.c.code, o.c.name).where(o.c.code.in_(codes))
        if not user.is_admin:
            stmt = stmt.where(outlet_scope(user, o))
        names = {code: name for code, name in session.execute(stmt)}
    for e in events:
        e["duplicates"] = {
            f[len(DUPLICATE) :]: names[f[len(DUPLICATE) :]]
            for f in e["flags"]
            if f.startswith(DUPLICATE) and f[len(DUPLICATE) :] in names
        }
    return events
