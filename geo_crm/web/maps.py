"""Standalone maps: ``/maps/<kind>/<region_code>`` returns the full Folium HTML document (the
region page embeds it in an iframe; anyone may embed or save it)."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, render_template, request

from ..analysis.region_maps import KINDS, region_map
from ..auth.policy import current_user, object_id
from ..db import get_session
from ..domain.geotagging import location_track
from ..errors import NotFound
from ..maps import base as map_base
from ..maps import region as region_maps
from ..maps.history import HistoryPoint, history_map
from .analysis_jobs import page_enqueue
from .context import map_settings, with_nonce
from .filters import form_errors, parse_filters
from .locale import current_translator

LOGGER = logging.getLogger(__name__)

bp = Blueprint("maps", __name__)


def html_response(m) -> Response:
    started = time.perf_counter()
    html = map_base.render(m)
    LOGGER.debug("map rendered in %.3f s (%d bytes)", time.perf_counter() - started, len(html))
    return Response(with_nonce(html), mimetype="text/html")


@bp.get("/maps/<kind>/<code>")
def standalone(kind: str, code: str):
    """Serve one region map (coverage, gaps, density, network) as a full HTML document."""
    t = current_translator()
    f = parse_filters(request.args, t)
    if kind not in KINDS:
        raise NotFound(t("Unknown map {kind}", kind=kind))
    settings = map_settings(t)
    with form_errors(t, f):
        data = region_map(
            get_session(),
            current_user(),
            kind,
            code,
            f,
            point_limit=settings.point_limit,
            enqueue=page_enqueue(),
        )
    get_session().commit()  # a cached analysis stored or its recomputation queued
    if data.state == "computing":  # a large region's first analysis: asked again shortly
        return render_template("_map_computing.html", region=data.region, kind=kind)
    return html_response(region_maps.region_map(data, settings))


@bp.get("/maps/outlet-history/<code>")
def outlet_history(code: str):
    """Serve the small location-history map of one outlet."""
    t = current_translator()
    tier, track = location_track(get_session(), object_id())
    points = [HistoryPoint.from_event(event) for event in track]
    m = history_map(points, map_settings(t), tier=tier, title=f"{code} · {t('Location history')}")
    if m is None:
        return Response(
            f"<!doctype html><meta charset=utf-8><p>{t('No location history')}</p>",
            mimetype="text/html",
        )
    return html_response(m)
