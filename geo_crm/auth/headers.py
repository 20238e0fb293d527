"""Security headers on every response, with a per-response CSP nonce for our own scripts.

Policy: scripts from this origin plus, in HTML documents, inline scripts carrying the
response's nonce (``<script nonce="{{ csp_nonce() }}">``; JSON and files get the same policy
without a nonce: nothing inline runs there); styles from this origin and inline (Leaflet and
Folium set style attributes; inline CSS cannot run code); images also from ``data:``/``blob:``
and ``https:`` (basemap tiles; ``GEO_CRM_CSP_IMG_SRC`` replaces that source list); XHR/fetch to
this origin only; framing by our own pages only (maps are embedded in our pages).
Endpoints whose rule says ``inline_scripts=True`` (Folium map documents, Swagger UI) get
``'unsafe-inline'`` for scripts instead of a nonce — on those responses only.
"""

from __future__ import annotations

import functools
import re
import secrets

from flask import Flask, current_app, g, request
from markupsafe import Markup

from ..settings import settings_of


def csp_nonce() -> str:
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


_SCRIPT_OPEN = re.compile(r"<script(?![^>]*\snonce=)", re.IGNORECASE)


def nonce_scripts(html: str) -> Markup:
    """Add this response's nonce to every ``<script`` tag of a generated document (e.g. Folium's
    ``get_root().render()``): only for documents whose user-supplied text is already escaped."""
    return Markup(_SCRIPT_OPEN.sub(f'<script nonce="{csp_nonce()}"', html))


def content_security_policy(*, inline_scripts: bool, img_src: str, nonce: str | None = None) -> str:
    """The policy text; ``nonce`` None (and no inline scripts) allows scripts from 'self' only."""
    if inline_scripts:
        scripts = "'self' 'unsafe-inline'"
    elif nonce is None:
        scripts = "'self'"
    else:
        scripts = f"'self' 'nonce-{nonce}'"
    return _POLICY.format(scripts=scripts, img_src=f"img-src 'self' data: blob: {img_src}".strip())


_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src {scripts}",
        "style-src 'self' 'unsafe-inline'",
        "{img_src}",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)


@functools.lru_cache(maxsize=16)
def _fixed_policy(inline_scripts: bool, img_src: str) -> str:
    return content_security_policy(inline_scripts=inline_scripts, img_src=img_src)


def add_vary(headers, *names: str) -> None:
    """Add ``names`` to the Vary header unless present (no HeaderSet parse/serialise round)."""
    current = headers.get("Vary")
    if not current:
        headers["Vary"] = ", ".join(names)
        return
    have = {item.strip().lower() for item in current.split(",")}
    missing = [name for name in names if name.lower() not in have]
    if missing:
        headers["Vary"] = ", ".join([current, *missing])


_FIXED = (  # (name, value, replace): set whatever the view set, or only when it set none
    ("X-Content-Type-Options", "nosniff", True),
    ("X-Frame-Options", "SAMEORIGIN", False),  # for browsers without frame-ancestors
    ("Referrer-Policy", "same-origin", True),
    ("Permissions-Policy", "geolocation=(self), camera=(), microphone=()", False),
)
_CSP = "content-security-policy"


def _add_headers(response):
    """Every response: CSP, nosniff, framing, referrer and permissions policies.

    HTML documents get a fresh nonce for their inline scripts; other responses (JSON, files)
    run no inline script, so they get a fixed policy without one (computed once, not per
    response) unless something in the request asked for a nonce anyway.

    The names the response already has are read once; the headers it lacks (all of them, for
    nearly every response) are appended in one go, in the same order and with the same values
    as setting them one by one would give (tests/test_security_headers.py).
    """
    headers = response.headers
    present = {name.lower() for name, _ in headers}
    missing = []
    if _CSP not in present:
        missing.append(("Content-Security-Policy", _policy_for(response)))
    for name, value, replace in _FIXED:
        if name.lower() not in present:
            missing.append((name, value))
        elif replace:
            headers[name] = value
    if g.get("principal") is not None:
        if "vary" in present:
            add_vary(headers, "Cookie", "Authorization")
        else:
            missing.append(("Vary", "Cookie, Authorization"))
    add = headers.add
    for name, value in missing:
        add(name, value)
    return response


def _policy_for(response) -> str:
    from .policy import rule_for

    rule = rule_for(request.endpoint)
    inline = bool(rule and rule.inline_scripts)
    img_src = settings_of(current_app).csp_img_src
    if inline or (g.get("csp_nonce") is None and response.mimetype != "text/html"):
        return _fixed_policy(inline, img_src)
    return content_security_policy(inline_scripts=False, img_src=img_src, nonce=csp_nonce())


def init_app(app: Flask) -> None:
    app.after_request(_add_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
