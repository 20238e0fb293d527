"""The OpenAPI document is no looser than the API (issue 17, item 8).

A schema fuzzer (schemathesis) found requests the document calls valid that the API refuses:
text with a NUL character or of white space only, null for fields that cannot be cleared,
lat without lon, (0, 0), a GPS reading without accuracy, money with three decimals or below
zero, control characters in notes, empty codes, "null" in a form, statuses and methods the
document did not list. Each probe below is checked both ways: the document (validated with
jsonschema, as a client or a fuzzer would) and the API must agree whether it is acceptable.

What no schema can say stays out: whether a code names a stored object, whether a cursor is
one the list handed out, which query parameters go together (lat with lon, radius_m with a
point), and the content of an uploaded file; the operations' descriptions say those.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from urllib.parse import urlencode

import pytest
from analysis_helpers import add_product
from auth_helpers import bearer_client
from jsonschema import Draft202012Validator

pytest_plugins = ["auth_fixtures"]  # world

API = "/api/v1"
NUL = "\x00"
NOW = dt.datetime.now(dt.UTC).isoformat()


@pytest.fixture
def spec(client):
    return client.get(f"{API}/openapi.json").get_json()


@pytest.fixture
def admin(app, connection, world, sql):
    add_product(sql, "SKU1")
    return bearer_client(app, connection, username="probe-admin")


def _valid(spec: dict, schema: dict, value) -> bool:
    """Does ``value`` satisfy ``schema`` (whose $refs point into the document)?"""
    wrapped = {**schema, "components": spec["components"]}
    return Draft202012Validator(wrapped).is_valid(value)


def spec_accepts(spec: dict, method: str, path: str, query: dict, body, form=None) -> bool:
    op = spec["paths"][path][method]
    for param in op.get("parameters", []):
        if param["in"] != "query":
            continue
        if param["name"] in query:
            if not _valid(spec, param["schema"], query[param["name"]]):
                return False
        elif param.get("required"):
            return False
    if body is not None:
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        return _valid(spec, schema, body)
    if form is not None:
        schema = op["requestBody"]["content"]["multipart/form-data"]["schema"]
        return _valid(spec, schema, {"file": "…", **form})
    return True


def _url(path: str, query: dict) -> str:
    items = []
    for key, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            items.append((key, json.dumps(item) if isinstance(item, bool) else item))
    return f"{API}{path}" + ("?" + urlencode(items) if items else "")


def _version(sql, code: str) -> int:
    return sql("SELECT version FROM outlets WHERE code = :c", c=code).scalar()


def _csv() -> bytes:
    return "code,name,tier\r\nIMP1,导入,distributor\r\n".encode()


# (name, method, template, concrete path, query, body): the document and the API must agree
PROBES = [
    # query text
    ("q", "get", "/outlets", "/outlets", {"q": "好又多"}, None),
    ("q NUL", "get", "/outlets", "/outlets", {"q": f"a{NUL}b"}, None),
    ("q blank", "get", "/outlets", "/outlets", {"q": "   "}, None),
    ("region", "get", "/outlets", "/outlets", {"region": "P1"}, None),
    ("region empty", "get", "/outlets", "/outlets", {"region": ""}, None),
    ("region NUL", "get", "/outlets", "/outlets", {"region": f"P{NUL}"}, None),
    ("limit max", "get", "/outlets", "/outlets", {"limit": 1000}, None),
    ("limit over", "get", "/outlets", "/outlets", {"limit": 1001}, None),
    ("seller empty", "get", "/sales", "/sales", {"seller": ""}, None),
    ("root empty", "get", "/regions", "/regions", {"root": ""}, None),
    ("root", "get", "/regions", "/regions", {"root": "P1"}, None),
    (
        "territory empty",
        "get",
        "/distributors/{code}/depth",
        "/distributors/D1/depth",
        {"territory": ""},
        None,
    ),
    (
        "product empty",
        "get",
        "/regions/{code}/distribution-rate",
        "/regions/P1/distribution-rate",
        {"product": ""},
        None,
    ),
    (
        "product",
        "get",
        "/regions/{code}/distribution-rate",
        "/regions/P1/distribution-rate",
        {"product": "SKU1"},
        None,
    ),
    # outlet bodies
    (
        "create",
        "post",
        "/outlets",
        "/outlets",
        {},
        {"code": "X1", "name": "新店", "tier": "retail"},
    ),
    (
        "name blank",
        "post",
        "/outlets",
        "/outlets",
        {},
        {"code": "X1", "name": "  ", "tier": "retail"},
    ),
    (
        "name NUL",
        "post",
        "/outlets",
        "/outlets",
        {},
        {"code": "X1", "name": f"新{NUL}", "tier": "retail"},
    ),
    (
        "notes with tab and LF",
        "post",
        "/outlets",
        "/outlets",
        {},
        {"code": "X1", "name": "n", "tier": "retail", "notes": "a\tb\nc"},
    ),
    (
        "notes with a bell",
        "post",
        "/outlets",
        "/outlets",
        {},
        {"code": "X1", "name": "n", "tier": "retail", "notes": "a\x07b"},
    ),
    (
        "point",
        "post",
        "/outlets",
        "/outlets",
        {},
        {"code": "X1", "name": "n", "tier": "retail", "lat": 30.2, "lon": 120.2},
    ),
    (
        "lat alone",
        "post",
        "/outlets",
        "/outlets",
        {},
        {"code": "X1", "name": "n", "tier": "retail", "lat": 30.2},
    ),
    (
        "null point",
        "post",
        "/outlets",
        "/outlets",
        {},
        {"code": "X1", "name": "n", "tier": "retail", "lat": None, "lon": None},
    ),
    (
        "zero point",
        "post",
        "/outlets",
        "/outlets",
        {},
        {"code": "X1", "name": "n", "tier": "retail", "lat": 0, "lon": 0},
    ),
    ("rename", "patch", "/outlets/{code}", "/outlets/A1", {}, {"name": "改名", "version": "V"}),
    ("name null", "patch", "/outlets/{code}", "/outlets/A1", {}, {"name": None, "version": "V"}),
    ("tier null", "patch", "/outlets/{code}", "/outlets/A1", {}, {"tier": None, "version": "V"}),
    ("version null", "patch", "/outlets/{code}", "/outlets/A1", {}, {"name": "x", "version": None}),
    # a phone's readings
    (
        "gps with accuracy",
        "put",
        "/outlets/{code}/location",
        "/outlets/A1/location",
        {},
        {
            "lat": 30.21,
            "lon": 120.21,
            "source": "gps",
            "accuracy_m": 8,
            "captured_at": NOW,
            "version": "V",
        },
    ),  # fmt: skip
    (
        "gps without accuracy",
        "put",
        "/outlets/{code}/location",
        "/outlets/A1/location",
        {},
        {"lat": 30.21, "lon": 120.21, "source": "gps", "captured_at": NOW, "version": "V"},
    ),
    (
        "map without accuracy",
        "put",
        "/outlets/{code}/location",
        "/outlets/A1/location",
        {},
        {"lat": 30.21, "lon": 120.21, "source": "map", "captured_at": NOW, "version": "V"},
    ),
    (
        "tag at (0, 0)",
        "post",
        "/tag/outlets",
        "/tag/outlets",
        {},
        {
            "name": "店",
            "tier": "retail",
            "lat": 0.0,
            "lon": 0.0,
            "source": "map",
            "captured_at": NOW,
        },
    ),  # fmt: skip
    (
        "tag by gps without accuracy",
        "post",
        "/tag/outlets",
        "/tag/outlets",
        {},
        {
            "name": "店",
            "tier": "retail",
            "lat": 30.3,
            "lon": 120.3,
            "source": "gps",
            "captured_at": NOW,
        },
    ),  # fmt: skip
    # money
    *[
        (
            f"amount {amount!r}",
            "post",
            "/sales",
            "/sales",
            {},
            {
                "seller_code": "D1",
                "buyer_code": "A1",
                "product_sku": "SKU1",
                "sale_date": "2025-01-02",
                "quantity": "1",
                "amount": amount,
            },
        )  # fmt: skip
        for amount in ("12.30", 12.5, "0", "-1", "1.001", 1.001, "abc", True, "1" * 13)
    ],
    (
        "product spec with a vertical tab",
        "post",
        "/products",
        "/products",
        {},
        {"sku": "P2", "name": "p", "unit": "箱", "spec": "500ml\x0b×12"},
    ),
    ("token for nobody", "post", "/tokens", "/tokens", {}, {"name": "t", "username": ""}),
    ("token for rep1", "post", "/tokens", "/tokens", {}, {"name": "t", "username": "rep1"}),
]


@pytest.mark.parametrize(
    "method, template, path, query, body", [p[1:] for p in PROBES], ids=[p[0] for p in PROBES]
)
def test_the_document_and_the_api_agree(admin, spec, sql, method, template, path, query, body):
    if isinstance(body, dict) and body.get("version") == "V":
        body = {**body, "version": _version(sql, "A1")}
    documented = spec_accepts(spec, method, template, query, body)
    kwargs = {"json": body} if body is not None else {}
    response = getattr(admin, method)(_url(path, query), **kwargs)
    accepted = response.status_code < 400
    assert response.status_code != 500
    assert documented == accepted, (
        f"document {'accepts' if documented else 'refuses'}, API answered "
        f"{response.status_code}: {response.get_data(as_text=True)[:300]}"
    )


@pytest.mark.parametrize(
    "form, ok",
    [({}, True), ({"format": "csv"}, True), ({"format": "null"}, False), ({"crs": "null"}, False)],
)
def test_the_document_and_the_api_agree_on_import_forms(admin, spec, form, ok):
    assert spec_accepts(spec, "post", "/imports/outlets", {}, None, form=form) == ok
    data = {"file": (io.BytesIO(_csv()), "outlets.csv"), **form, "dry_run": "true"}
    response = admin.post(f"{API}/imports/outlets", data=data, content_type="multipart/form-data")
    assert (response.status_code < 400) == ok, response.get_data(as_text=True)[:300]


def _strings(node, where=""):
    """(where, schema) of every string schema in a part of the document."""
    if isinstance(node, dict):
        if node.get("type") == "string":
            yield where, node
        for key, value in node.items():
            yield from _strings(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _strings(item, f"{where}/{i}")


def test_no_request_text_in_the_document_admits_what_the_api_refuses(spec):
    """Every string of a parameter or body excludes NUL, and a required one blank text."""
    parts = [
        (p, op.get("parameters", [])) for p, ops in spec["paths"].items() for op in ops.values()
    ]
    parts += [("components", spec["components"]["schemas"])]
    checked = 0
    for where, node in parts:
        for inner, schema in _strings(node, where):
            if {"enum", "const"} & set(schema) or schema.get("format") in (
                "date",
                "date-time",
                "binary",
            ):
                continue
            pattern = re.compile(schema["pattern"])
            assert not pattern.search(f"a{NUL}b"), inner
            if schema.get("minLength", 0) >= 1:
                assert not pattern.search("   "), inner
            checked += 1
    assert checked > 50


def test_every_operation_documents_415_404_and_unlisted_methods_answer_405(admin, spec):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            if "requestBody" in op:
                assert "415" in op["responses"], where
            if "{" in path:
                assert "404" in op["responses"], where
    assert "404" in spec["paths"]["/tokens"]["post"]["responses"]  # a username not found
    response = admin.options(f"{API}/regions")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}
