"""Per-request helpers the map pages share: map settings and the CSP nonce for generated map
documents. (Who acts is ``auth.policy.current_user``; what they may see, ``domain.access``.)"""

from __future__ import annotations

from flask import request

from ..auth.headers import nonce_scripts
from ..i18n import Translator
from ..maps.base import MapSettings
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


def with_nonce(html: str) -> str:
    """Give every ``<script`` of a generated document this response's CSP nonce."""
    return str(nonce_scripts(html))
