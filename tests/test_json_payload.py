"""API bodies are read by orjson when it reads them to the value the json module would, and by
the json module otherwise: every body means what it meant, and every refusal stays one."""

from __future__ import annotations

import json
import math

import pytest

from geo_crm import create_app
from geo_crm.api.framework import json_payload
from geo_crm.errors import GeoCrmError

BODIES = [
    b'{"lat": 30.1, "lon": 117.2, "version": 3, "source": "gps"}',
    b'{"a": 1, "a": 2}',  # the last duplicate wins in both
    b'{"a": "\\u0000"}',
    b'{"name": "\xe5\xba\x97 \\u00e9"}',
    b'{"a": 1e400}',  # orjson refuses; json reads infinity (pydantic then refuses it, 422)
    b'{"a": -1e-400}',
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b'{"a": 123456789012345678901234567890}',  # orjson would give a float
    b'{"a": -9223372036854775809}',
    b'{"a": 9223372036854775807}',
    b'{"a": 18446744073709551616}',
    b'{"a": 0.1234567890123456789}',
    b'{"a": "\\ud800"}',  # a lone surrogate: json reads it
    b"\xef\xbb\xbf{}",  # a byte-order mark
    '{"a": "utf-16"}'.encode("utf-16"),
    b'{"a": "\t"}',  # a raw control character: refused by both
    b'{"a": "\xff"}',  # not UTF-8
    b"",
    b"[1, 2]",
    b"3",
    b' {"a" : [ ] } \n',
    b'{"a": 1,}',
    b'{"a": 1.0, "b": -0.0, "c": -0, "d": 1E2}',
    b'{"n": ' * 200 + b"1" + b"}" * 200,  # nested
]


def reference(app, body: bytes):
    """What the json module makes of ``body`` (Flask's get_json), or the refusal."""
    with app.test_request_context(method="PUT", data=body, content_type="application/json"):
        from flask import request
        from werkzeug.exceptions import BadRequest

        try:
            return ("value", request.get_json())
        except BadRequest:
            return ("refused", None)


def ours(app, body: bytes):
    with app.test_request_context(method="PUT", data=body, content_type="application/json"):
        try:
            return ("value", json_payload())
        except GeoCrmError as exc:
            assert exc.status == 400 and exc.message == "the body is not valid JSON"
            return ("refused", None)


def same(a, b) -> bool:
    """Equal values of equal types, NaN equal to NaN, -0.0 told from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.fixture(scope="module")
def plain_app():
    return create_app({"TESTING": True, "SECRET_KEY": "json"})


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_every_body_means_what_the_json_module_reads(plain_app, body):
    expected, got = reference(plain_app, body), ours(plain_app, body)
    assert expected[0] == got[0]
    assert same(expected[1], got[1])


def test_another_media_type_is_still_415(plain_app):
    from werkzeug.exceptions import UnsupportedMediaType

    with plain_app.test_request_context(method="PUT", data=b"{}", content_type="text/plain"):
        with pytest.raises(UnsupportedMediaType):
            json_payload()


def test_a_geotag_body_is_read_by_orjson(plain_app, monkeypatch):
    """The common body takes the fast path: the json module is not called."""
    calls = []
    real = json.loads
    monkeypatch.setattr(json, "loads", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert ours(plain_app, BODIES[0])[1]["version"] == 3
    assert calls == []
