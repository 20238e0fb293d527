"""Leaflet and plugin files served by geo_crm itself, so a map page needs no CDN.

Files come from Python packages installed with geo_crm (never copied into the repository):

- ``xstatic-leaflet`` (PyPI): ``leaflet.js``, ``leaflet.css`` and its marker/layer images;
- ``folium`` itself ships ``leaflet_heat.min.js`` (Leaflet.heat) in ``folium/templates``;
- geo_crm's own ``static/`` folder holds Leaflet.VectorGrid 1.3.0, vendored unchanged
  (``static/vectorgrid/``): the vector tiles of a large region's cells and outlets, with
  geo_crm's one-line ``static/vectorgrid_shim.js`` for Leaflet 1.9 (served in both modes).

Nothing else is needed because the maps use only Leaflet core, folium's GeoJson, FeatureGroup,
TileLayer and LayerControl, folium.plugins.HeatMap, and geo_crm's own small scripts (legends,
canvas points, hexagon counts). Folium's defaults (jQuery, Bootstrap, Font Awesome,
awesome-markers) are dropped: ``folium.Popup`` needs jQuery, so geo_crm maps never use it.

``apply_assets`` sets ``default_js``/``default_css`` on each *instance* in a map's tree (folium's
``add_js_link`` would change the class-level list for every map in the process) and refuses an
element whose files are not served, so a new plugin cannot silently bring a CDN back.
``GEO_CRM_MAP_ASSETS=cdn`` switches to the public CDNs of the same versions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import folium
from branca.element import Element
from folium.elements import JSCSSMixin

LOGGER = logging.getLogger(__name__)

URL_PREFIX = "/static/vendor"
MODES = ("local", "cdn")


@dataclass(frozen=True)
class Asset:
    vendor: str  # first path segment under /static/vendor/
    path: str  # file inside the vendor's folder
    cdn: str  # the same file on a public CDN, for GEO_CRM_MAP_ASSETS=cdn
    kind: str  # "js" or "css"


def _vendor_dirs() -> dict[str, Path]:
    import xstatic.pkg.leaflet as xs_leaflet

    return {
        "leaflet": Path(xs_leaflet.BASE_DIR),
        "folium": Path(folium.__file__).resolve().parent / "templates",
        "geo_crm": Path(__file__).resolve().parent.parent / "static",
    }


_LEAFLET_VERSION = "1.9.3"  # the version of xstatic-leaflet; the CDN URL names the same one

# asset name (as folium's default_js/default_css use it) -> where geo_crm serves it
ASSETS: dict[str, Asset] = {
    "leaflet": Asset(
        "leaflet",
        "leaflet.js",
        f"https://cdn.jsdelivr.net/npm/leaflet@{_LEAFLET_VERSION}/dist/leaflet.js",
        "js",
    ),
    "leaflet_css": Asset(
        "leaflet",
        "leaflet.css",
        f"https://cdn.jsdelivr.net/npm/leaflet@{_LEAFLET_VERSION}/dist/leaflet.css",
        "css",
    ),
    "leaflet-heat.js": Asset(
        "folium",
        "leaflet_heat.min.js",
        "https://cdn.jsdelivr.net/gh/python-visualization/folium@main/folium/templates/"
        "leaflet_heat.min.js",
        "js",
    ),
    "leaflet-vectorgrid": Asset(
        "geo_crm",
        "vectorgrid/Leaflet.VectorGrid.bundled.min.js",
        "https://unpkg.com/leaflet.vectorgrid@1.3.0/dist/Leaflet.VectorGrid.bundled.min.js",
        "js",
    ),
    # geo_crm's own: Leaflet.VectorGrid 1.3 on Leaflet 1.9 (no CDN has it: served in both modes)
    "leaflet-vectorgrid-shim": Asset("geo_crm", "vectorgrid_shim.js", "", "js"),
}

# what each element class needs; the Map itself needs Leaflet only
MAP_JS = ("leaflet",)
MAP_CSS = ("leaflet_css",)


class UnservedAsset(RuntimeError):
    """A map element wants a JS/CSS file that geo_crm does not serve."""


def vendor_file(vendor: str, path: str) -> Path | None:
    """The file behind ``/static/vendor/<vendor>/<path>``, or None (never outside the folder)."""
    base = _vendor_dirs().get(vendor)
    if base is None:
        return None
    target = (base / path).resolve()
    try:
        target.relative_to(base.resolve())
    except ValueError:
        return None
    return target if target.is_file() else None


def asset_url(name: str, *, mode: str = "local", prefix: str = URL_PREFIX) -> str:
    asset = ASSETS.get(name)
    if asset is None:
        raise UnservedAsset(
            f"map asset {name!r} is not served by geo_crm (see geo_crm/maps/assets.py)"
        )
    if mode == "cdn" and asset.cdn:
        return asset.cdn
    return f"{prefix}/{asset.vendor}/{asset.path}"


def _walk(element: Element):
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def apply_assets(m: folium.Map, *, mode: str = "local", prefix: str = URL_PREFIX) -> folium.Map:
    """Point every JS/CSS link of the map's elements at geo_crm (or the CDN), per instance."""
    if mode not in MODES:
        raise ValueError(f"GEO_CRM_MAP_ASSETS must be one of {', '.join(MODES)}, not {mode!r}")
    for element in _walk(m):
        if not isinstance(element, JSCSSMixin):
            continue
        if isinstance(element, folium.Map):
            js_names, css_names = MAP_JS, MAP_CSS
        else:
            js_names = tuple(name for name, _ in type(element).default_js)
            css_names = tuple(name for name, _ in type(element).default_css)
        element.default_js = [(n, asset_url(n, mode=mode, prefix=prefix)) for n in js_names]
        element.default_css = [(n, asset_url(n, mode=mode, prefix=prefix)) for n in css_names]
    return m


def blueprint():
    """Flask blueprint serving ``/static/vendor/<vendor>/<path>`` from the installed packages."""
    from flask import Blueprint, abort, send_file

    bp = Blueprint("vendor_assets", __name__)

    @bp.get(f"{URL_PREFIX}/<vendor>/<path:path>")
    def vendor_asset(vendor: str, path: str):
        """Serve one Leaflet/plugin file from its Python package."""
        target = vendor_file(vendor, path)
        if target is None:
            abort(404)
        return send_file(target, max_age=86400)

    return bp
