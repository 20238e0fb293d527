"""Layers of a region map drawn from geo_crm's own vector tiles (``/tiles/<layer>/{z}/{x}/{y}.mvt``)
instead of data embedded in the page, with Leaflet.VectorGrid (vendored, ``maps.assets``).

A large region's analysis cells (thousands of hexagons) made the map document megabytes of
GeoJSON that the browser parsed and drew before anything showed; from tiles, the page carries
only the URL and the colour classes, and the browser fetches what is in view. The classes are
still computed here from the kept result (the same quantiles, legend and tooltip wording as the
GeoJSON layer), so the legend, the figures beside the map and the tiles are one result: the
tiles' URL names the region, the page's filters and the result's version (a recomputed result
changes the URL, so no browser cache shows the old cells).

A small region keeps GeoJSON (``MapSettings.tile_cells``): a few hundred cells draw at once
from the page itself, and its document still works saved or printed, with no server behind it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template

from .elements import js_data
from .safe import safe_text


@dataclass(frozen=True)
class TileSource:
    """Where a region map's tiles are: the URL template of ``layer``'s tiles up to its query
    (``{prefix}/tiles/<layer>/{z}/{x}/{y}.mvt``) and the query naming the kept result
    (``region=…&<filters>&v=<version>``)."""

    prefix: str  # script root, "" at the site's root
    query: str

    def url(self, layer: str, *, query: bool = True) -> str:
        """``layer``'s tile URL template; ``query``: naming the kept result (the cells' layers;
        the outlets' tiles need none: their ETag follows the data)."""
        base = f"{self.prefix}/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt"
        return f"{base}?{self.query}" if query else base


class CellTiles(JSCSSMixin, Layer):
    """Analysis cells (MVT layer ``layer``) filled by the class of ``field``: ``breaks`` are the
    classes' edges (``style.Classes.breaks``), ``colours`` one per class; a cell without a value
    takes class ``missing`` (None: not drawn); ``positive``: cells of value 0 are not drawn.
    The tooltip shows ``label`` and the value formatted by ``fmt`` (``runtime.js``
    ``GeoCrm.fmtValue``)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = GeoCrm.cellTiles({{ this._parent.get_name() }},
            {{ this.url_js }}, {{ this.options_js }});
        {% endmacro %}
    """)

    # served by geo_crm (maps.assets.apply_assets); the shim after the bundle
    default_js = [("leaflet-vectorgrid", ""), ("leaflet-vectorgrid-shim", "")]

    def __init__(
        self,
        name: str,
        url: str,
        *,
        layer: str,
        field: str,
        breaks,
        colours,
        label: str,
        fmt: Mapping[str, str],
        style: Mapping[str, object],
        missing: int | None = None,
        positive: bool = False,
        pane: str | None = None,
        show: bool = True,
    ):
        super().__init__(name=str(safe_text(name)), overlay=True, control=True, show=show)
        self._name = "CellTiles"
        self.url = url
        self.url_js = js_data(url)
        inner = [float(b) for b in list(breaks)[1:-1]]
        self.options = {
            "layer": layer,
            "field": field,
            "breaks": inner,
            "colours": list(colours),
            "missing": missing % len(colours) if missing is not None else None,
            "positive": positive,
            "label": str(safe_text(label)),
            "fmt": {k: str(safe_text(v)) for k, v in fmt.items()},
            "style": dict(style),
            "pane": pane,
        }
        self.options_js = js_data(self.options)


class OutletTiles(JSCSSMixin, Layer):
    """A large region's outlets from ``/tiles/outlets`` (``runtime.js`` ``GeoCrm.outletTiles``):
    counts per hexagon below zoom 10, the outlets of ``options["tiers"]`` from zoom 10."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = GeoCrm.outletTiles({{ this._parent.get_name() }},
            {{ this.url_js }}, {{ this.options_js }});
        {% endmacro %}
    """)

    default_js = [("leaflet-vectorgrid", ""), ("leaflet-vectorgrid-shim", "")]

    def __init__(self, name: str, url: str, options: dict, *, show: bool = True):
        """``options``: every string already escaped (``maps.points`` builds them)."""
        super().__init__(name=str(safe_text(name)), overlay=True, control=True, show=show)
        self._name = "OutletTiles"
        self.url = url
        self.url_js = js_data(url)
        self.options = options
        self.options_js = js_data(options)
