"""The security headers hook appends what a response lacks in one pass: the same headers, in
the same order, with the same values as setting them one by one (the hook's earlier form,
kept here as the reference), whatever the view set itself."""

from __future__ import annotations

import pytest
from flask import g, request

from geo_crm import create_app
from geo_crm.auth.headers import _add_headers, _fixed_policy, add_vary, content_security_policy
from geo_crm.auth.policy import rule_for
from geo_crm.settings import settings_of


def one_by_one(response, app):
    """The hook as it was before it read the names once (geo_crm 7a0253a)."""
    headers = response.headers
    if "Content-Security-Policy" not in headers:
        rule = rule_for(request.endpoint)
        inline = bool(rule and rule.inline_scripts)
        img_src = settings_of(app).csp_img_src
        if inline or (g.get("csp_nonce") is None and response.mimetype != "text/html"):
            headers["Content-Security-Policy"] = _fixed_policy(inline, img_src)
        else:
            headers["Content-Security-Policy"] = content_security_policy(
                inline_scripts=False, img_src=img_src, nonce=g.csp_nonce
            )
    headers["X-Content-Type-Options"] = "nosniff"
    if "X-Frame-Options" not in headers:
        headers["X-Frame-Options"] = "SAMEORIGIN"
    headers["Referrer-Policy"] = "same-origin"
    if "Permissions-Policy" not in headers:
        headers["Permissions-Policy"] = "geolocation=(self), camera=(), microphone=()"
    if g.get("principal") is not None:
        add_vary(headers, "Cookie", "Authorization")
    return response


@pytest.fixture(scope="module")
def plain_app():
    return create_app({"TESTING": True, "SECRET_KEY": "headers"})


PRESETS = {
    "nothing": [],
    "own policy": [("Content-Security-Policy", "default-src 'none'")],
    "framing denied": [("X-Frame-Options", "DENY")],
    "nosniff twice, other case": [
        ("x-content-type-options", "other"),
        ("X-Content-Type-Options", "again"),
    ],
    "referrer and permissions": [
        ("Referrer-Policy", "no-referrer"),
        ("Permissions-Policy", "camera=()"),
    ],
    "vary already": [("Vary", "Accept-Encoding")],
    "vary names cookie": [("vary", "cookie")],
    "everything": [
        ("Vary", "Cookie, Authorization"),
        ("Content-Security-Policy", "x"),
        ("X-Frame-Options", "DENY"),
        ("Permissions-Policy", "p"),
        ("Referrer-Policy", "r"),
        ("X-Content-Type-Options", "n"),
    ],
}


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("principal", [False, True])
@pytest.mark.parametrize(
    "path, mimetype, nonce",
    [
        ("/api/v1/outlets/B1/location", "application/json", False),
        ("/api/v1/outlets/B1/location", "application/json", True),
        ("/login", "text/html", True),
        ("/api/v1/docs/", "text/html", False),  # inline scripts allowed (Swagger UI)
        ("/nope", "text/html", True),  # no endpoint
    ],
)
def test_the_same_headers_as_one_by_one(plain_app, preset, principal, path, mimetype, nonce):
    results = []
    for hook in (_add_headers, lambda r: one_by_one(r, plain_app)):
        with plain_app.test_request_context(path):
            try:
                request.url_rule, request.view_args = plain_app.url_map.bind("x").match(
                    path, return_rule=True
                )
            except Exception:  # noqa: BLE001 - no route: request.endpoint is None
                pass
            g.csp_nonce = "fixed-nonce" if nonce or mimetype == "text/html" else None
            if not nonce and mimetype != "text/html":
                g.pop("csp_nonce")
            if principal:
                g.principal = object()
            response = plain_app.response_class(b"x", mimetype=mimetype)
            for name, value in PRESETS[preset]:
                response.headers.add(name, value)
            results.append(list(hook(response).headers.items()))
    assert results[0] == results[1]
