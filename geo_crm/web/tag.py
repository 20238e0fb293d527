"""The phone page for geotagging: ``/tag`` (a small page; its script talks to the JSON API)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, send_file, url_for

from ..auth.policy import current_user
from ..i18n import FLAG_SENTENCES
from ..maps.assets import vendor_file
from ..models import TIERS
from ..settings import current_settings
from .locale import current_translator

bp = Blueprint("tag", __name__)

# exactly the phrases static/tag.js passes to its t(…) helper, sent in the page as JSON in the
# page's language (tests/test_geotag.py checks the script against this list and the catalogue)
SCRIPT_STRINGS = (
    "Accuracy {m} m",
    "Create outlet",
    "Current position",
    "Location permission denied. Tap the map to place the point.",
    "Location unavailable: {reason}",
    "Locating…",
    "Network error: check the connection and try again.",
    "New outlet here",
    "New position",
    "No outlets.",
    "None",
    "Not geotagged",
    "Outlet {code} created.",
    "Saved, flagged for review:",
    "Saved.",
    "Sending…",
    "Someone changed this outlet meanwhile. The list was reloaded; check and submit again.",
    "Submit location",
    "Tap the map or drag the pin to correct the point.",
    "Use my location",
    "km",
    "m",
)


def leaflet_urls() -> tuple[str, str]:
    """Leaflet's JS and CSS, from the maps' vendor-asset route (installed packages, no CDN)."""

    def url(name):
        return url_for("vendor_assets.vendor_asset", vendor="leaflet", path=name)

    return url("leaflet.js"), url("leaflet.css")


def _basemap() -> dict:
    """The maps' basemap settings (GEO_CRM_BASEMAP osm|amap|none, GEO_CRM_TILE_URL): the page draws
    in the basemap's coordinate system (GCJ-02 for AMap)."""
    from ..maps.base import BASEMAP_CRS, TILES

    settings = current_settings()
    name = settings.basemap
    tile_url, attribution, subdomains, max_zoom = TILES.get(name, (None, "", None, 19))
    return {
        "url": settings.tile_url or tile_url,
        "attribution": settings.tile_attribution or attribution,
        "subdomains": subdomains or "abc",
        "crs": BASEMAP_CRS[name],
        "maxZoom": max_zoom,
    }


@bp.get("/tag")
def tag_page():
    """Pick one of my outlets, locate myself, correct on the map, submit; or add a new outlet."""
    user = current_user()
    t = current_translator()
    js, css = leaflet_urls()
    config = {
        "lang": t.lang,
        "strings": t.catalogue(SCRIPT_STRINGS),
        "flags": {code: t(sentence) for code, sentence in FLAG_SENTENCES.items()},
        "tiers": [[tier, t.tier(tier)] for tier in TIERS],
        "basemap": _basemap(),
        "api": {
            "outlets": url_for("api.tag_outlets"),
            "parents": url_for("api.tag_parents"),
            "create": url_for("api.create_tag_outlet"),
            "location": url_for("api.put_outlet_location", code="__CODE__"),
        },
    }
    return render_template(
        "tag.html", t=t, config=config, leaflet_js=js, leaflet_css=css, user=user
    )


@bp.get("/tag/leaflet/<path:path>")
def leaflet(path: str):
    """Leaflet's own files from the installed xstatic-leaflet package (no CDN); the same files
    as the maps' ``/static/vendor/leaflet/…``, kept for pages that link here."""
    target = vendor_file("leaflet", path)
    if target is None:
        abort(404)
    return send_file(target, max_age=86400)
