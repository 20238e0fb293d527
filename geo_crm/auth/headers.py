"""Security headers on every response, with a per-response CSP nonce for our own scripts.

Policy: scripts from this origin plus inline scripts carrying the response's nonce
(``<script nonce="{{ csp_nonce() }}">``); styles from this origin and inline (Leaflet and
Folium set style attributes; inline CSS cannot run code); images also from ``data:``/``blob:``
and ``https:`` (basemap tiles; ``GEO_CRM_CSP_IMG_SRC`` replaces that source list); XHR/fetch to
this origin only; framing by our own pages only (maps are embedded in our pages).
Endpoints whose rule says ``inline_scripts=True`` (Folium map documents, Swagger UI) get
``'unsafe-inline'`` for scripts instead of a nonce — on those responses only.
"""

from __future__ import annotations

import re
import secrets

from flask import Flask, g, request
from markupsafe import Markup


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


def content_security_policy(*, inline_scripts: bool, img_src: str) -> str:
    scripts = "'self' 'unsafe-inline'" if inline_scripts else f"'self' 'nonce-{csp_nonce()}'"
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: blob: {img_src}".strip(),
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )


def _add_headers(response):
    from .policy import rule_for

    rule = rule_for(request.endpoint)
    inline = bool(rule and rule.inline_scripts)
    img_src = _img_src()
    response.headers.setdefault(
        "Content-Security-Policy", content_security_policy(inline_scripts=inline, img_src=img_src)
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault(
        "X-Frame-Options", "SAMEORIGIN"
    )  # for browsers without frame-ancestors
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault(
        "Permissions-Policy", "geolocation=(self), camera=(), microphone=()"
    )
    if g.get("principal") is not None:
        response.vary.add("Cookie")
        response.vary.add("Authorization")
    return response


def _img_src() -> str:
    from flask import current_app

    return current_app.config.get("GEO_CRM_CSP_IMG_SRC", "https:")


def init_app(app: Flask) -> None:
    app.after_request(_add_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
