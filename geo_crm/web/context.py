"""Per-request helpers the map pages share: who is acting (for scoping), map settings, and
the CSP nonce for generated map documents — each tolerant of the auth layer not being wired."""

from __future__ import annotations

import logging
import os

from flask import current_app, g, request
from sqlalchemy import ColumnElement

from ..i18n import Translator
from ..maps.base import MapSettings
from ..models import Outlet

LOGGER = logging.getLogger(__name__)

# settings read from the environment once, when the app is built (see docs/maps.md)
MAP_SETTINGS_ENV = (
    "GEO_CRM_BASEMAP",
    "GEO_CRM_MAP_ASSETS",
    "GEO_CRM_TILE_URL",
    "GEO_CRM_TILE_ATTRIBUTION",
    "GEO_CRM_MAP_POINT_LIMIT",
)


def load_map_config(app) -> None:
    """Take the map settings from the environment and refuse bad values when the app is built."""
    from ..maps import assets
    from ..maps.base import BASEMAPS

    for key in MAP_SETTINGS_ENV:
        if key not in app.config and os.environ.get(key):
            app.config[key] = os.environ[key]
    checks = {
        "GEO_CRM_BASEMAP": (BASEMAPS, "osm"),
        "GEO_CRM_MAP_ASSETS": (assets.MODES, "local"),
    }
    for key, (allowed, default) in checks.items():
        value = str(app.config.get(key) or default).lower()
        if value not in allowed:
            raise ValueError(f"{key} must be one of {', '.join(allowed)}, not {value!r}")
    limit = app.config.get("GEO_CRM_MAP_POINT_LIMIT")
    if limit is not None and (not str(limit).isdigit() or int(limit) < 0):
        raise ValueError(f"GEO_CRM_MAP_POINT_LIMIT must be a whole number, not {limit!r}")


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
