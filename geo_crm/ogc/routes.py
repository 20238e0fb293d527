"""The OGC API – Features routes: parse (``params``), call one domain function, render JSON.

Features come from the database as GeoJSON text and are joined into the response, not decoded
and encoded again. Errors are the app's one JSON shape whatever the client accepts; a query
parameter that cannot be read (or that the API does not take) answers 400 naming it.
"""

from __future__ import annotations

import datetime as dt

import orjson
from flask import Blueprint, Response, jsonify, request, url_for

from ..analysis import cache_features  # noqa: F401 -- registers the gaps collection
from ..auth.policy import current_user
from ..db import get_session
from ..domain import features
from ..domain.gis import CRS84
from ..errors import GeoCrmError
from . import params
from .openapi import GEOJSON, JSON, OPENAPI, build_api_definition

bp = Blueprint("ogc", __name__)

CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
)


@bp.errorhandler(GeoCrmError)
def _json_error(exc: GeoCrmError):
    """GIS clients read JSON errors, not the HTML page a browser's Accept would pick."""
    return jsonify(exc.to_dict()), exc.status


def _link(endpoint: str, rel: str, media: str, title: str | None = None, **values) -> dict:
    link = {"href": url_for(endpoint, _external=True, **values), "rel": rel, "type": media}
    if title:
        link["title"] = title
    return link


def _json(body: dict, media: str = JSON) -> Response:
    return Response(orjson.dumps(body), mimetype=media)


@bp.get("/ogc/")
@bp.get("/ogc")  # registered first: the URL links name
def landing():
    """The landing page: links to the API definition, the conformance classes and the data."""
    params.check_known(request.args)
    return _json(
        {
            "title": "geo_crm",
            "description": "The distribution network's outlets and regions (OGC API – Features)",
            "links": [
                _link("ogc.landing", "self", JSON, "this document"),
                _link("ogc.api_definition", "service-desc", OPENAPI, "the API definition"),
                _link("ogc.conformance", "conformance", JSON, "conformance classes"),
                _link("ogc.collections", "data", JSON, "the collections"),
            ],
        }
    )


@bp.get("/ogc/conformance")
def conformance():
    params.check_known(request.args)
    return _json({"conformsTo": list(CONFORMANCE)})


@bp.get("/ogc/api")
def api_definition():
    """The OpenAPI 3.0 definition of these routes."""
    params.check_known(request.args)
    server = url_for("ogc.landing", _external=True)
    return _json(build_api_definition(server), OPENAPI)


def _collection(cid: str) -> dict:
    c = features.collection_named(cid)
    doc = {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "links": [
            _link("ogc.collection", "self", JSON, c.title, collection_id=c.id),
            _link("ogc.items", "items", GEOJSON, c.title, collection_id=c.id),
        ],
    }
    box = features.extent(get_session(), c.id, current_user())
    if box is not None:
        doc["extent"] = {"spatial": {"bbox": [[round(v, 6) for v in box]], "crs": CRS84}}
    return doc


@bp.get("/ogc/collections")
def collections():
    params.check_known(request.args)
    return _json(
        {
            "links": [_link("ogc.collections", "self", JSON, "the collections")],
            "collections": [_collection(cid) for cid in features.COLLECTIONS],
        }
    )


@bp.get("/ogc/collections/<collection_id>")
def collection(collection_id: str):
    features.collection_named(collection_id)
    params.check_known(request.args)
    return _json(_collection(collection_id))


@bp.get("/ogc/collections/<collection_id>/items")
def items(collection_id: str):
    """A page of features in id order; ``next`` carries the keyset position (stable while rows
    change: a page never repeats or skips a feature that existed throughout)."""
    features.collection_named(collection_id)
    f = params.item_filter(request.args)
    page = features.items(get_session(), collection_id, f, current_user())
    args = {k: v for k, v in request.args.items() if k != "cursor"}
    links = [
        {"href": request.url, "rel": "self", "type": GEOJSON, "title": "this page"},
        _link("ogc.collection", "collection", JSON, collection_id=collection_id),
    ]
    if page.next_after is not None:
        cursor = params.encode_cursor(page.next_after)
        links.append(
            _link(
                "ogc.items",
                "next",
                GEOJSON,
                "the next page",
                collection_id=collection_id,
                **args,
                cursor=cursor,
            )
        )
    meta = {
        "numberReturned": len(page.features),
        "timeStamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "links": links,
    }
    if page.matched is not None:
        meta["numberMatched"] = page.matched
    body = (
        b'{"type":"FeatureCollection","features":['
        + ",".join(page.features).encode()
        + b"],"
        + orjson.dumps(meta)[1:]
    )
    return Response(body, mimetype=GEOJSON)


@bp.get("/ogc/collections/<collection_id>/items/<feature_id>")
def item(collection_id: str, feature_id: str):
    features.collection_named(collection_id)
    params.check_known(request.args)
    text = features.feature(get_session(), collection_id, feature_id, current_user())
    links = [
        {"href": request.url, "rel": "self", "type": GEOJSON},
        _link("ogc.collection", "collection", JSON, collection_id=collection_id),
    ]
    body = text[:-1].encode() + b',"links":' + orjson.dumps(links) + b"}"
    return Response(body, mimetype=GEOJSON)
