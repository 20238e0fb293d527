"""One JSON error shape for every status the API answers with: 400, 404, 405, 409, 413, 415, 422."""

from __future__ import annotations

import json

import pytest

API = "/api/v1"


OUTLET = {"code": "E1", "name": "错误测试", "tier": "distributor"}


def _malformed(client):
    return client.post(f"{API}/outlets", data='{"code": "E1",', content_type="application/json")


def _missing(client):
    return client.get(f"{API}/outlets/NO-SUCH-OUTLET")


def _wrong_method(client):
    return client.put(f"{API}/outlets", json=OUTLET)


def _duplicate(client):
    client.post(f"{API}/outlets", json=OUTLET)
    return client.post(f"{API}/outlets", json=OUTLET)


def _too_large(client):
    return client.post(f"{API}/outlets", json={**OUTLET, "notes": "长" * 600})


def _not_json(client):
    return client.post(
        f"{API}/outlets", data="code=E1", content_type="application/x-www-form-urlencoded"
    )


def _invalid(client):
    return client.post(f"{API}/outlets", json={**OUTLET, "colour": "red"})


CASES = [
    (400, "bad_request", _malformed, None),
    (404, "not_found", _missing, None),
    (405, "method_not_allowed", _wrong_method, None),
    (409, "conflict", _duplicate, "body.code"),
    (413, "request_entity_too_large", _too_large, None),
    (415, "unsupported_media_type", _not_json, None),
    (422, "validation_failed", _invalid, "body.colour"),
]


@pytest.mark.parametrize(("status", "code", "make", "field"), CASES, ids=[str(c[0]) for c in CASES])
def test_error_shape(app, client, monkeypatch, status, code, make, field):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    response = make(client)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) <= {"code", "message", "fields", "detail"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    if field is not None:
        assert field in error["fields"]
    for key, value in error.get("fields", {}).items():
        assert isinstance(key, str) and isinstance(value, str)
    text = json.dumps(body)
    for leak in ("Traceback", "SELECT", "INSERT", "psycopg", "sqlalchemy", 'File "'):
        assert leak not in text


def test_database_rule_is_reported_without_sql(client):
    client.post(f"{API}/outlets", json={"code": "R1", "name": "r", "tier": "retail"})
    response = client.post(
        f"{API}/outlets",
        json={"code": "W1", "name": "w", "tier": "wholesaler_2", "parent_code": "R1"},
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["fields"] == {"body.parent_code": error["message"]}
    assert "tier" in error["message"] and "INSERT" not in error["message"]
