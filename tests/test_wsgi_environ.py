"""granian copies the process's environment into every request's WSGI environ: variables
named like headers must not read as headers the client never sent (wsgi.drop_process_headers)."""

from __future__ import annotations

from flask import Flask, jsonify, request

from geo_crm.settings import header_like_variables
from geo_crm.wsgi import drop_process_headers


def _echo_app() -> Flask:
    app = Flask("echo")

    @app.get("/")
    def echo():
        return jsonify(
            forwarded=request.headers.get("X-Forwarded-For"),
            proxy=request.headers.get("Proxy"),
            length=request.content_length,
        )

    return app


def _environ(**extra) -> dict:
    import io

    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "t",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        **extra,
    }


def _call(app: Flask, environ: dict) -> bytes:
    out = []
    body = app(environ, lambda status, headers, exc_info=None: out.append(status))
    return b"".join(body)


PROCESS = {"HTTP_X_FORWARDED_FOR": "6.6.6.6", "HTTP_PROXY": "http://proxy:3128"}


def test_process_variables_do_not_read_as_headers():
    app = _echo_app()
    drop_process_headers(app, PROCESS)
    # as granian builds it: the process's environment, the request's keys on top
    answer = _call(app, {**PROCESS, **_environ()})
    assert b'"forwarded":null' in answer and b'"proxy":null' in answer


def test_headers_the_client_sent_stay():
    app = _echo_app()
    drop_process_headers(app, PROCESS)
    answer = _call(app, {**PROCESS, **_environ(HTTP_X_FORWARDED_FOR="10.0.0.7")})
    assert b'"forwarded":"10.0.0.7"' in answer


def test_nothing_is_wrapped_without_such_variables():
    app = _echo_app()
    before = app.wsgi_app
    drop_process_headers(app, {})
    assert app.wsgi_app == before


def test_the_variables_are_those_named_like_headers(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    monkeypatch.setenv("CONTENT_LENGTH", "7")
    monkeypatch.setenv("GEO_CRM_HTTP_X", "not a header")
    found = header_like_variables()
    assert found["HTTP_PROXY"] == "http://proxy:3128" and found["CONTENT_LENGTH"] == "7"
    assert "GEO_CRM_HTTP_X" not in found and "PATH" not in found
