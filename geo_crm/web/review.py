"""The managers' review queue for flagged geotags (``/review``): accept or reject with a form."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, request, url_for

from ..auth.policy import current_user
from ..db import get_session
from ..domain import geotagging as svc
from ..domain.regions import region_label
from ..domain.review_queue import flagged_with_names
from ..errors import Conflict, ValidationError
from .locale import current_translator
from .page_words import metres, reason
from .tag import _basemap, leaflet_urls

bp = Blueprint("review", __name__)

_DONE = {
    "accepted": "Accepted.",
    "restored": "Rejected; the previous location was restored.",
    "kept": "Rejected; the location was not restored because a later tag moved the outlet.",
}


@bp.get("/review")
def review_page():
    """Flagged geotags in my regions, oldest first, each with why it was flagged."""
    t = current_translator()
    events = flagged_with_names(get_session(), current_user(), limit=200)
    for event in events:
        event["reasons"] = [
            _reason(t, flag, event["duplicates"], event["regions"]) for flag in event["flags"]
        ]
        event["moved"] = metres(t, event["moved_m"])
        event["when"] = t.datetime(_moment(event["created_at"]), "short")
    done = _DONE.get(request.args.get("done", ""))
    js, css = leaflet_urls()
    config = {
        "basemap": _basemap(),
        "strings": t.catalogue(("Old", "New", "Outlet")),
        "events": [
            {
                "id": e["id"],
                "outlet": e["outlet"],
                "name": e["outlet_name"],
                "old": _latlon(e["old_location"]),
                "new": _latlon(e["new_location"]),
            }
            for e in events
        ],
    }
    return render_template(
        "review.html",
        t=t,
        events=events,
        done=t(done) if done else None,
        config=config,
        leaflet_js=js,
        leaflet_css=css,
    )


def _moment(value) -> dt.datetime | None:
    """The queue's ``created_at`` (ISO 8601 text, as the API answers it) as a moment."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value)


def _latlon(point: dict | None) -> list[float] | None:
    return [point["lat"], point["lon"]] if point else None


def _reason(t, flag: str, duplicates: dict[str, str], regions: dict | None = None) -> str:
    """One flag as a sentence; a suspected duplicate named by name and code, a region by its
    name in the page's language and its code."""
    code, _, detail = flag.partition(":")
    if code == "possible_duplicate" and detail in duplicates:
        flag = f"{code}:{duplicates[detail]} · {detail}"
    elif code == "outside_region" and regions and detail in regions:
        name, name_en = regions[detail]
        label = region_label(name, name_en, t)
        flag = f"{code}:{label}（{detail}）" if t.lang == "zh" else f"{code}:{label} ({detail})"
    return reason(t, flag)


@bp.post("/review/<int:event_id>/<decision>")
def decide(event_id: int, decision: str):
    """Accept or reject one flagged geotag, then back to the queue."""
    if decision not in ("accept", "reject"):
        raise ValidationError(
            "decision must be accept or reject", fields={"decision": "accept or reject"}
        )
    session = get_session()
    try:
        result = svc.decide_review(session, current_user(), event_id, decision)
    except Conflict:
        session.rollback()
        return redirect(url_for("review.review_page"))
    session.commit()
    done = "accepted" if decision == "accept" else ("restored" if result["restored"] else "kept")
    return redirect(url_for("review.review_page", done=done))
