"""The OpenAPI 3.0 definition of the OGC API – Features face (conformance class OpenAPI 3.0):
the paths, their parameters as ``params.py`` reads them, and the Bearer scheme."""

from __future__ import annotations

from ..domain.features import COLLECTIONS, DEFAULT_LIMIT, MAX_LIMIT

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


def _response(description: str, media: str = JSON) -> dict:
    return {"description": description, "content": {media: {"schema": {"type": "object"}}}}


_ERRORS = {
    "400": _response("a parameter that cannot be read: {error: {code, message, fields}}"),
    "401": _response("no valid Bearer token"),
    "404": _response("no such collection or feature (or outside the caller's scope)"),
}
_F = {
    "name": "f",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": ["json", "geojson"]},
}


def build_api_definition(server_url: str) -> dict:
    collection_id = {
        "name": "collectionId",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": sorted(COLLECTIONS)},
    }
    items_params = [
        collection_id,
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "style": "form",
            "explode": False,
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": DEFAULT_LIMIT,
            },
        },
        {
            "name": "bbox",
            "in": "query",
            "required": False,
            "style": "form",
            "explode": False,
            "description": "west,south,east,north in CRS84 (west ≤ east: no antimeridian)",
            "schema": {
                "type": "array",
                "minItems": 4,
                "maxItems": 6,
                "items": {"type": "number"},
            },
        },
        {
            "name": "bbox-crs",
            "in": "query",
            "required": False,
            "schema": {
                "type": "string",
                "format": "uri",
                "enum": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
            },
        },
        {
            "name": "datetime",
            "in": "query",
            "required": False,
            "style": "form",
            "explode": False,
            "description": "RFC 3339 instant, or interval start/end with .. for an open end",
            "schema": {"type": "string"},
        },
        {
            "name": "cursor",
            "in": "query",
            "required": False,
            "description": "the keyset position a next link carries",
            "schema": {"type": "string"},
        },
        _F,
    ]
    feature_id = {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}}

    def get(summary: str, op: str, params: list, responses: dict) -> dict:
        return {
            "get": {
                "summary": summary,
                "operationId": op,
                "tags": ["OGC API – Features"],
                "parameters": params,
                "responses": {**responses, **_ERRORS},
            }
        }

    return {
        "openapi": "3.0.3",
        "info": {
            "title": "geo_crm – OGC API – Features",
            "version": "1.0.0",
            "description": "Outlets and regions of the caller's scope as GeoJSON (CRS84).",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/": get("landing page", "getLandingPage", [_F], {"200": _response("links")}),
            "/conformance": get(
                "conformance classes", "getConformance", [_F], {"200": _response("conformsTo")}
            ),
            "/api": get(
                "this document", "getApi", [_F], {"200": _response("OpenAPI 3.0", OPENAPI)}
            ),
            "/collections": get(
                "the collections", "getCollections", [_F], {"200": _response("collections")}
            ),
            "/collections/{collectionId}": get(
                "one collection",
                "describeCollection",
                [collection_id, _F],
                {"200": _response("the collection")},
            ),
            "/collections/{collectionId}/items": get(
                "features of a collection, in id order",
                "getFeatures",
                items_params,
                {"200": _response("a FeatureCollection", GEOJSON)},
            ),
            "/collections/{collectionId}/items/{featureId}": get(
                "one feature",
                "getFeature",
                [collection_id, feature_id, _F],
                {"200": _response("a Feature", GEOJSON)},
            ),
        },
    }
