"""Standalone maps: ``/maps/<kind>/<region_code>`` returns the full Folium HTML document (the
region page embeds it in an iframe; anyone may embed or save it)."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from flask import Blueprint, Response, render_template, request

from ..analysis.region_maps import KINDS, region_map
from ..auth.policy import current_user, object_id
from ..db import get_session
from ..domain.geotagging import location_track
from ..errors import NotFound
from ..maps import base as map_base
from ..maps import region as region_maps
from ..maps.history import HistoryPoint, history_map
from ..maps.vector_tiles import TileSource
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
            # a large region's outlets come from their vector tiles (WGS-84 only)
            outlet_tiles_above=settings.tile_outlets
            if settings.crs == "wgs84" and tiles_allowed()
            else None,
        )
    get_session().commit()  # a cached analysis stored or its recomputation queued
    if data.state == "computing":  # a large region's first analysis: asked again shortly
        return render_template("_map_computing.html", region=data.region, kind=kind)
    if kind != "network" and data.as_of is not None and tiles_allowed():
        settings = replace(settings, tiles=cell_tiles(code, f, data.as_of))
    return html_response(region_maps.region_map(data, settings))


def tiles_allowed() -> bool:
    """A large region's cells and outlets may come from the vector tiles, unless the request
    says ``?draw=embedded`` (everything in the page: what the maps benchmark measures the tiles
    against). The outlets' tiles are WGS-84, which an AMap (GCJ-02) basemap would draw hundreds
    of metres off: with it the outlets stay in the page."""
    return request.args.get("draw") != "embedded"


def cell_tiles(code: str, f, as_of) -> TileSource:
    """The tiles of the kept result the map shows: the region, the page's filters and the
    result's time (a recomputed result is a new URL: no browser cache shows the old cells)."""
    version = f"{as_of.timestamp():.6f}"
    return TileSource(request.script_root or "", f.query(region=code, v=version))


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
