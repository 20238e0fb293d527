"""Per-request helpers the map pages share: who is acting (for scoping), map settings, and
the CSP nonce for generated map documents — each tolerant of the auth layer not being wired."""

from __future__ import annotations

import logging

from flask import current_app, g, request
from sqlalchemy import ColumnElement

from ..i18n import Translator
from ..maps.base import MapSettings
from ..models import Outlet

LOGGER = logging.getLogger(__name__)


def map_settings(t: Translator, **overrides) -> MapSettings:
    root = request.script_root or ""
    return MapSettings.from_config(
        current_app.config,
        t,
        asset_prefix=f"{root}/static/vendor",
        region_href=f"{root}/regions/",
        outlet_href=f"{root}/outlets/",
        map_href=f"{root}/maps/",
        **overrides,
    )


def acting_user():
    """The signed-in principal; the all-seeing system principal while auth is not enforced."""
    principal = g.get("principal")
    if principal is not None:
        return principal
    try:
        from ..auth.policy import auth_required, enforce
        from ..domain.principal import SYSTEM
    except ImportError:  # auth not installed: nothing to scope by
        return None
    hooks = current_app.before_request_funcs.get(None, [])
    if enforce not in hooks or not auth_required():
        return SYSTEM
    return None


def outlet_scope_clause(outlet=None) -> ColumnElement | None:
    """``outlet_scope`` of the acting user, or None when everything is visible."""
    user = acting_user()
    if user is None or getattr(user, "role", None) == "admin":
        return None
    from ..domain.access import outlet_scope

    return outlet_scope(user, outlet if outlet is not None else Outlet.__table__)


def with_nonce(html: str) -> str:
    """Give every ``<script`` of a generated document this response's CSP nonce, if CSP is on."""
    try:
        from ..auth.headers import nonce_scripts
    except ImportError:
        return html
    return str(nonce_scripts(html))
