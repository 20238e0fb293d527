"""Per-request helpers the map pages share: map settings and the CSP nonce for generated map
documents (and, until the pages call ``auth.policy.current_user``, its old name)."""

from __future__ import annotations

from flask import request
from sqlalchemy import ColumnElement

from ..auth.headers import nonce_scripts
from ..auth.policy import current_user
from ..i18n import Translator
from ..maps.base import MapSettings
from ..models import Outlet
from ..settings import current_settings


def map_settings(t: Translator, **overrides) -> MapSettings:
    root = request.script_root or ""
    return MapSettings.from_settings(
        current_settings(),
        t,
        asset_prefix=f"{root}/static/vendor",
        region_href=f"{root}/regions/",
        outlet_href=f"{root}/outlets/",
        map_href=f"{root}/maps/",
        **overrides,
    )


# the old name of auth.policy.current_user: the web pages still call it until issue 12's B1
acting_user = current_user


def outlet_scope_clause(outlet=None) -> ColumnElement | None:
    """``outlet_scope`` of the acting user, or None when everything is visible."""
    user = current_user()
    if user is None or getattr(user, "role", None) == "admin":
        return None
    from ..domain.access import outlet_scope

    return outlet_scope(user, outlet if outlet is not None else Outlet.__table__)


def with_nonce(html: str) -> str:
    """Give every ``<script`` of a generated document this response's CSP nonce."""
    return str(nonce_scripts(html))
