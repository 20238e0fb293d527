"""The OpenAPI document is valid and describes every API route with its methods."""

from __future__ import annotations

import re

import pytest
from auth_helpers import bearer_client
from openapi_spec_validator import validate

_CONVERTER = re.compile(r"<(?:[a-z]+:)?([A-Za-z_][A-Za-z0-9_]*)>")
_SKIP = ("/api/v1/openapi.json", "/api/v1/docs")


@pytest.fixture
def client(app, connection):
    """An admin calling with a Bearer token, as an integration would (access rules: own tests)."""
    return bearer_client(app, connection)


def test_document_validates(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    validate(response.get_json())


def test_every_api_route_and_method_is_documented(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] != "api" or rule.rule.startswith(_SKIP):
            continue
        path = _CONVERTER.sub(r"{\1}", rule.rule).removeprefix("/api/v1")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path, method.lower()))
    assert routes, "no API routes registered"
    assert routes - documented == set()
    assert documented - routes == set()


def test_documented_operations_name_their_parameters_and_errors(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    listing = spec["paths"]["/outlets"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {
        "tier",
        "region",
        "distributor",
        "status",
        "geotagged",
        "bbox",
        "lat",
        "lon",
        "radius_m",
        "q",
        "limit",
        "offset",
        "cursor",
        "format",
    } <= names
    assert {"application/json", "application/geo+json"} <= set(
        listing["responses"]["200"]["content"]
    )
    patch = spec["paths"]["/outlets/{code}"]["patch"]
    assert {"409", "422", "404"} <= set(patch["responses"])
    assert spec["components"]["schemas"]["Error"]["required"] == ["error"]
