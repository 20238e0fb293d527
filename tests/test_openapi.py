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


SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer"},
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "geo_crm_session"},
}
EITHER = [{"bearerAuth": []}, {"sessionCookie": []}]


def _operations(spec):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield path, method, op


def test_security_schemes_are_declared(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemes = spec["components"]["securitySchemes"]
    assert set(schemes) == set(SCHEMES)
    for name, expected in SCHEMES.items():
        assert expected.items() <= schemes[name].items()
        assert schemes[name].get("description")


def test_every_operation_says_who_may_call_it_as_the_access_policy_does(client):
    from geo_crm.auth.policy import RULES

    spec = client.get("/api/v1/openapi.json").get_json()
    endpoints = {f"api.{op['operationId'].removeprefix('api_')}" for *_, op in _operations(spec)}
    assert endpoints <= set(RULES), "an operation without an access rule"
    for path, method, op in _operations(spec):
        rule = RULES[f"api.{op['operationId'].removeprefix('api_')}"]
        where = f"{method.upper()} {path}"
        if rule.access == "public":
            assert op["security"] == [], where
            assert "401" not in op["responses"], where
            continue
        assert op["security"] == EITHER, where
        assert "401" in op["responses"], where
        unauthorized = op["responses"]["401"]
        assert unauthorized["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
        assert "WWW-Authenticate" in unauthorized["headers"], where
        if rule.access == "roles":
            assert "403" in op["responses"], where
    # spot checks against the rules as written
    assert "403" in spec["paths"]["/outlets"]["post"]["responses"]  # staff only
    assert "403" not in spec["paths"]["/regions"]["get"]["responses"]  # any signed-in user
    assert "403" in spec["paths"]["/tokens"]["get"]["responses"]  # the view's own check


def test_every_operation_may_answer_503_with_retry_after(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, method, op in _operations(spec):
        unavailable = op["responses"]["503"]
        assert "Retry-After" in unavailable["headers"], f"{method} {path}"


def test_a_public_operation_would_be_documented_without_security(monkeypatch):
    from geo_crm import __version__
    from geo_crm.api.openapi import build_spec
    from geo_crm.auth import policy

    monkeypatch.setitem(policy.RULES, "api.region_tree", policy.PUBLIC)
    spec = build_spec(__version__)
    validate(spec)
    tree = spec["paths"]["/regions"]["get"]
    assert tree["security"] == [] and "401" not in tree["responses"]
    assert spec["paths"]["/regions/{code}"]["get"]["security"] == EITHER
