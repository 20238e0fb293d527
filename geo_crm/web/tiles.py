"""Vector tiles and their TileJSON documents (``geo_crm.domain.tiles`` builds both).

``GET /tiles/<layer>/<z>/<x>/<y>.mvt``: ``application/vnd.mapbox-vector-tile`` holding what the
caller may see. A tile with nothing in it answers **204 No Content** (no body; MapLibre, Mapbox
GL and OpenLayers draw it as empty), with the same headers. Every tile carries a strong ETag
(a hash of its bytes, so it changes exactly when the tile does, for this caller) and
``Cache-Control: private, max-age=60`` (data change: a minute of staleness at most, never in a
shared cache); ``If-None-Match`` with the current ETag answers 304.

``GET /tiles/<layer>.json``: TileJSON 3.0.0 (tiles URL template, zooms, the bounds of what the
caller may see, ``vector_layers`` with their fields).

``gaps`` and ``density`` draw the cells of one region's kept analysis (the analysis cache): the
region and the region page's filters are query parameters (``?region=<code>&cell_km=…``), the
TileJSON's tiles URL carries them and its bounds are the region's; their ETag also changes when
the kept analysis is recomputed. A missing region is a 422, an unknown one (or one outside
the caller's scope) a 404, a bad filter a 422 naming it.

Bad input (coordinates that are no numbers or lie outside the zoom, zoom above 22) answers 400
and an unknown layer 404, always in the one JSON error shape, whatever the client accepts.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, jsonify, request, url_for

from ..analysis import cache_tiles
from ..auth.policy import current_user
from ..db import get_session
from ..domain import tiles
from ..domain.gis import tile_address
from ..errors import GeoCrmError
from .filters import parse_filters
from .locale import current_translator

bp = Blueprint("tiles", __name__)

MVT = "application/vnd.mapbox-vector-tile"
CACHE_CONTROL = "private, max-age=60"


@bp.errorhandler(GeoCrmError)
def _json_error(exc: GeoCrmError):
    """Tile clients read JSON errors, not the HTML error page a browser's Accept would pick."""
    return jsonify(exc.to_dict()), exc.status


@bp.get("/tiles/<layer>/<z>/<x>/<y>.mvt")
def tile(layer: str, z: str, x: str, y: str):
    """One vector tile of ``layer`` with only what the caller may see."""
    address = tile_address(z, x, y)
    tiles.layer_named(layer)
    version = b""
    if layer in cache_tiles.CACHED_LAYERS:
        f = parse_filters(request.args, current_translator())
        data, kept = cache_tiles.tile(
            get_session(), current_user(), layer, address, request.args.get("region"), f
        )
        version = kept.encode()
    else:
        data = tiles.tile(get_session(), layer, address, current_user())
    etag = hashlib.blake2b(data + version, digest_size=16).hexdigest()
    headers = {"Cache-Control": CACHE_CONTROL, "Vary": "Authorization, Cookie"}
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304, headers=headers)
    elif not data:
        response = Response(status=204, headers=headers)
    else:
        response = Response(data, status=200, mimetype=MVT, headers=headers)
    response.set_etag(etag)
    return response


@bp.get("/tiles/<layer>.json")
def tilejson(layer: str):
    """The TileJSON document of ``layer`` for the caller."""
    prefix = url_for("tiles.tilejson", layer=layer, _external=True).removesuffix(".json")
    url, bounds = prefix + "/{z}/{x}/{y}.mvt", None
    if layer in cache_tiles.CACHED_LAYERS:
        f = parse_filters(request.args, current_translator())
        found = cache_tiles.entry(
            get_session(), current_user(), layer, request.args.get("region"), f, bounds=True
        )
        url, bounds = url + "?" + request.query_string.decode(), found.bounds
    doc = tiles.tilejson(get_session(), layer, current_user(), url, bounds=bounds)
    response = jsonify(doc)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Vary"] = "Authorization, Cookie"
    return response
