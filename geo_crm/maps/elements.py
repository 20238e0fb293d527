"""geo_crm's own Folium/branca elements: canvas outlet points, hexagon counts, labels, legends.

Each element writes compact JSON (columnar arrays, no spaces) and a few lines of JavaScript
that use only Leaflet core, so a map with thousands of outlets stays small and draws on one
canvas. Every user-typed string reaching these elements has gone through ``safe.safe_text``
already; the JSON is additionally made safe for a ``<script>`` element by ``js_data``.
"""

from __future__ import annotations

import functools
import json
import math
from importlib import resources

from branca.element import MacroElement
from folium.map import Layer
from folium.template import Template

from .safe import safe_text

_JS_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "'": "\\u0027",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_JS_TABLE = {ord(k): v for k, v in _JS_ESCAPES.items()}


def _finite(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def js_data(obj) -> str:
    """Compact JSON that is also a safe JavaScript expression inside ``<script>``."""
    try:
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(obj), separators=(",", ":"), ensure_ascii=False)
    return text.translate(_JS_TABLE)


@functools.cache
def runtime_files() -> tuple[str, str]:
    """The maps' own CSS and JavaScript (``geo_crm/static/maps/runtime.css|js``), read once."""
    folder = resources.files("geo_crm") / "static" / "maps"
    return (
        (folder / "runtime.css").read_text(encoding="utf-8"),
        (folder / "runtime.js").read_text(encoding="utf-8"),
    )


class Runtime(MacroElement):
    """geo_crm's map CSS and helper script (:func:`runtime_files`), written once into the page
    header: inline, so a saved or embedded map document needs nothing but Leaflet, and its
    ``<script>`` gets the response's CSP nonce like every other."""

    _template = Template("""
        {% macro header(this, kwargs) %}
        <style>
{{ this.css }}</style>
        <script>
{{ this.js }}</script>
        {% endmacro %}
    """)

    def __init__(self):
        super().__init__()
        self._name = "GeoCrmRuntime"
        self.css, self.js = runtime_files()


class Pane(MacroElement):
    """A Leaflet pane at a fixed z-index, so what is drawn in it stays above or below other
    layers whatever order they are added in (``GeoCrm.pane``; see ``style.SHADE_PANE``)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        GeoCrm.pane({{ this._parent.get_name() }}, {{ this.args }});
        {% endmacro %}
    """)

    def __init__(self, pane: str, z: int, *, pointer: bool = True):
        super().__init__()
        self._name = "GeoCrmPane"
        self.args = f"{json.dumps(pane)}, {int(z)}, {'true' if pointer else 'false'}"


class Legend(MacroElement):
    """A legend box (bottom left, above the scale), shown while its layer is on the map.

    ``items`` are ``(kind, colour, size, label)`` with kind ``box``, ``ring`` (an outline),
    ``dot`` or ``line``; the title and labels are escaped here, so callers may pass user text.
    ``row_layers``: one layer (or None) per item — a row shows only while its layer is on the
    map, and the legend while any of them is (a legend never lists what is not drawn).
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        GeoCrm.legend({{ this._parent.get_name() }}, {{ this.html_js }},
                      {% if this.layer %}{{ this.layer.get_name() }}{% else %}null{% endif %}
                      {%- if this.row_layers %}, [{{ this.row_names() }}]{% endif %});
        {% endmacro %}
    """)

    def __init__(self, title, items, *, layer: Layer | None = None, note=None, row_layers=None):
        super().__init__()
        self._name = "GeoCrmLegend"
        self.layer = layer
        self.row_layers = list(row_layers) if row_layers else None
        self.title = str(title)
        self.items = list(items)
        rows = []
        for kind, colour, size, label in self.items:
            colour_s = safe_text(colour)
            if kind == "dot":
                px = max(4.0, 2 * float(size or 3))
                sw = (
                    f'<span class="gc-dot" style="width:{px:.0f}px;height:{px:.0f}px;'
                    f'background:{colour_s}"></span>'
                )
            elif kind == "line":
                sw = f'<span class="gc-ln" style="border-color:{colour_s}"></span>'
            elif kind == "ring":  # an outline without fill: the hexagon counts
                sw = f'<span class="gc-sw gc-ring" style="border-color:{colour_s}"></span>'
            else:
                sw = f'<span class="gc-sw" style="background:{colour_s}"></span>'
            rows.append(f'<div class="gc-row">{sw}<span>{safe_text(label)}</span></div>')
        note_html = f'<div class="gc-note">{safe_text(note)}</div>' if note else ""
        self.html = f"<h4>{safe_text(title)}</h4>{''.join(rows)}{note_html}"
        self.html_js = js_data(self.html)

    def row_names(self) -> str:
        """The row layers' JS variables (null for a row without one)."""
        return ", ".join(lyr.get_name() if lyr else "null" for lyr in self.row_layers or ())


class Labels(MacroElement):
    """Permanent text labels (region names) at given points; ``items`` = (lat, lon, text)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        GeoCrm.labels({{ this._parent.get_name() }}, {{ this.items_js }},
                      {{ this.css_class|tojson }});
        {% endmacro %}
    """)

    def __init__(self, items, css_class: str = ""):
        super().__init__()
        self._name = "GeoCrmLabels"
        self.count = len(items)
        self.items_js = js_data(
            [[round(lat, 5), round(lon, 5), str(safe_text(text))] for lat, lon, text in items]
        )
        self.css_class = css_class


class OutlineLayer(Layer):
    """One large (Multi)Polygon (a covered area, a catchment) written straight from GEOS.

    ``shapely.to_geojson`` output goes into the script as is — numbers and JSON punctuation
    only — so a 100,000-vertex outline skips folium's dict round trip; ``tooltip`` is HTML
    built from escaped text.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJSON({{ this.geojson }}, {
          {% if this.pane %}pane: {{ this.pane|tojson }},{% endif %}
          style: function () { return {{ this.style_js }}; } });
        {% if this.tooltip -%}
        {{ this.get_name() }}.bindTooltip({{ this.tooltip_js }}, { sticky: true });
        {% endif %}
        {% endmacro %}
    """)

    def __init__(
        self,
        name: str,
        geometry,
        style: dict,
        *,
        tooltip: str | None = None,
        show: bool = True,
        pane: str | None = None,
    ):
        """``pane``: the Leaflet pane to draw in (``style.SHADE_PANE``, made by :class:`Pane`,
        for a filled area that outlets and hexagon counts are drawn over)."""
        import shapely

        super().__init__(name=str(safe_text(name)), overlay=True, control=True, show=show)
        self._name = "OutlineLayer"
        self.geojson = shapely.to_geojson(geometry)
        self.vertices = int(shapely.get_num_coordinates(geometry))
        self.style_js = js_data(style)
        self.tooltip = tooltip
        self.tooltip_js = js_data(str(tooltip)) if tooltip else None
        self.pane = pane


class TierGroup(Layer):
    """An empty Leaflet feature group for one tier's outlets, listed in the layer control."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup();
        {% endmacro %}
    """)

    def __init__(self, name: str, tier: str, *, show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=False)
        self._name = "TierGroup"
        self.tier = tier
        self.show_later = show


class CanvasPoints(MacroElement):
    """Fill ``TierGroup`` layers with circle markers on canvas and add the visible ones.

    The groups are filled before they join the map, so Leaflet draws the canvas once.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
          var groups = [{% for g in this.groups -%}
            {% if g %}{{ g.get_name() }}{% else %}null{% endif %},{% endfor %}];
          var d = {{ this.data_js }};
          GeoCrm.points({{ this._parent.get_name() }}, groups, d);
          {% for c in this.discs -%}
          GeoCrm.discs({{ this._parent.get_name() }}, {{ c.get_name() }}, d,
                       {{ c.tier_index }}, {{ c.radius_m }}, {{ c.colour|tojson }});
          {% endfor %}
          {% for g in this.groups %}{% if g and g.show_later -%}
          {{ g.get_name() }}.addTo({{ this._parent.get_name() }});
          {% endif %}{% endfor %}
        })();
        {% endmacro %}
    """)

    def __init__(
        self,
        groups: list[TierGroup | None],
        data: dict,
        count: int,
        discs: list[Discs] | None = None,
    ):
        super().__init__()
        self._name = "GeoCrmPoints"
        self.groups = groups
        self.discs = discs or []
        self.count = count
        self.data_js = js_data(data)


class Discs(Layer):
    """Service-radius circles (metres) around one tier's points; ``CanvasPoints`` fills the
    group from its own coordinates the first time the layer is shown."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup();
        {% endmacro %}
    """)

    def __init__(
        self,
        name: str,
        tier_index: int,
        radius_m: float,
        colour: str,
        count: int,
        *,
        show: bool = False,
    ):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "Discs"
        self.tier_index = tier_index
        self.radius_m = float(radius_m)
        self.colour = colour
        self.count = count


class HexCounts(Layer):
    """Outlets counted per hexagon at several zoom bands (see ``aggregate.hex_levels``)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup();
        GeoCrm.hexes({{ this._parent.get_name() }}, {{ this.get_name() }}, {{ this.data_js }});
        {% endmacro %}
    """)

    def __init__(self, name: str, data: dict, *, show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "HexCounts"
        self.cells = sum(len(level["q"]) for level in data["levels"])
        self.data_js = js_data(data)


class SidePanel(MacroElement):
    """A list beside the map (right side) whose items zoom the map to their bounds.

    ``items`` are ``(html, (south, west, north, east))`` with html already escaped.
    """

    _template = Template("""
        {% macro html(this, kwargs) %}
        <aside class="gc-side" id="{{ this.get_name() }}"><h3>{{ this.title }}</h3>
          {% if this.note %}<p>{{ this.note }}</p>{% endif %}
          {% if this.items %}<ol>{% for html, b in this.items -%}
            <li tabindex="0" data-b="{{ b }}">{{ html }}</li>{% endfor %}</ol>
          {% else %}<p>{{ this.empty }}</p>{% endif %}
          {% if this.footer %}<p>{{ this.footer }}</p>{% endif %}
        </aside>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        document.body.classList.add('gc-with-side');
        {{ this._parent.get_name() }}.invalidateSize();
        GeoCrm.fitList({{ this._parent.get_name() }},
                       document.getElementById({{ this.get_name()|tojson }}));
        {% endmacro %}
    """)

    def __init__(self, title, items, *, note=None, empty="", footer=None):
        super().__init__()
        self._name = "GeoCrmSide"
        self.title = safe_text(title)
        self.note = safe_text(note) if note else None
        self.empty = safe_text(empty)
        self.footer = safe_text(footer) if footer else None
        self.items = [(html, safe_text(js_data([round(v, 5) for v in b]))) for html, b in items]


class FitView(MacroElement):
    """Open the map on ``bounds`` at once: folium's FitBounds animates the first zoom, and
    until that animation ends Leaflet ignores every later ``fitBounds``/``setView``."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}._gcFit = {{ this.bounds|tojson }};
        {{ this._parent.get_name() }}.fitBounds({{ this.bounds|tojson }}, { animate: false });
        {% endmacro %}
    """)

    def __init__(self, bounds):
        super().__init__()
        self._name = "GeoCrmFitView"
        self.bounds = bounds


class ScaleBar(MacroElement):
    """A metric-only scale bar (bottom left)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        L.control.scale({ imperial: false, maxWidth: 160 }).addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self):
        super().__init__()
        self._name = "GeoCrmScale"


class FitAround(MacroElement):
    """After every legend: the legends' stack gets its title, folds on a narrow map, and the map
    fits its bounds (``FitView``) beside it (``GeoCrm.fitAround``)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        GeoCrm.fitAround({{ this._parent.get_name() }}, {{ this.title_js }});
        {% endmacro %}
    """)

    def __init__(self, title: str):
        super().__init__()
        self._name = "GeoCrmFitAround"
        self.title_js = js_data(str(safe_text(title)))


class ReadySignal(MacroElement):
    """Last script on the page: exposes the map and a flag for tests and benchmarks; "drawn"
    follows once its vector tiles in view are in (``GeoCrm.whenDrawn``)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        window.geoCrmMap = {{ this._parent.get_name() }};
        window.geoCrmReady = true;
        document.documentElement.setAttribute('data-geo-crm-ready', '1');
        if (window.GeoCrm) { GeoCrm.whenDrawn({{ this._parent.get_name() }}); }
        {% endmacro %}
    """)

    def __init__(self):
        super().__init__()
        self._name = "GeoCrmReady"
