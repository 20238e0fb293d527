"""geo_crm's own Folium/branca elements: canvas outlet points, hexagon counts, labels, legends.

Each element writes compact JSON (columnar arrays, no spaces) and a few lines of JavaScript
that use only Leaflet core, so a map with thousands of outlets stays small and draws on one
canvas. Every user-typed string reaching these elements has gone through ``safe.safe_text``
already; the JSON is additionally made safe for a ``<script>`` element by ``js_data``.
"""

from __future__ import annotations

import json
import math

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


RUNTIME_CSS = """
.leaflet-container { background: #f2efe9;
  font-family: system-ui, "PingFang SC", "Microsoft YaHei", sans-serif; }
.gc-label { background: none; border: none; color: #222; font-size: 12px; font-weight: 600;
  white-space: nowrap; text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 2px #fff;
  transform: translate(-50%, -50%); }
.gc-label.gc-main { font-size: 15px; }
.gc-legends { display: flex; flex-direction: column-reverse; gap: 6px; max-height: 55vh;
  overflow-y: auto; }
.leaflet-control-layers-list { max-height: 55vh; overflow-y: auto; }
.leaflet-control-layers { font-size: 13px; }
.gc-legend { background: rgba(255,255,255,.92); padding: 6px 8px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,.3); font-size: 12px; line-height: 1.35; min-width: 9rem; }
.gc-legend h4 { margin: 0 0 4px; font-size: 12px; }
.gc-legend .gc-row { display: flex; align-items: center; gap: 6px; }
.gc-sw { display: inline-block; width: 14px; height: 12px; border: 1px solid rgba(0,0,0,.35);
  flex: none; }
.gc-dot { display: inline-block; border-radius: 50%; border: 1px solid #fff;
  box-shadow: 0 0 0 1px rgba(0,0,0,.3); flex: none; }
.gc-ln { display: inline-block; width: 16px; border-top: 2px solid; flex: none; }
.gc-note { color: #555; max-width: 14rem; }
.gc-pop { border-collapse: collapse; font-size: 12px; }
.gc-pop th { text-align: left; color: #555; font-weight: normal; padding: 1px 8px 1px 0;
  white-space: nowrap; }
.gc-pop td { padding: 1px 0; }
.gc-pop caption { text-align: left; font-weight: 600; font-size: 13px; padding-bottom: 3px; }
.gc-side { position: absolute; top: 0; right: 0; bottom: 0; width: 17rem; overflow-y: auto;
  background: #fff; border-left: 1px solid #ccc;
  font: 13px system-ui, "PingFang SC", "Microsoft YaHei", sans-serif; }
.gc-side h3 { margin: 0; padding: 8px 10px; font-size: 14px; background: #f5f5f5;
  border-bottom: 1px solid #ddd; }
.gc-side p { margin: 6px 10px; color: #555; }
.gc-side ol { margin: 0; padding: 0 0 0 2.2rem; }
.gc-side li { padding: 4px 6px 4px 0; border-bottom: 1px solid #eee; cursor: pointer; }
.gc-side li:hover, .gc-side li:focus { background: #fff3e0; outline: none; }
.gc-side .gc-km { font-weight: 600; }
.gc-with-side .folium-map { position: absolute !important; left: 0; top: 0; bottom: 0; right: 17rem;
  width: auto !important; height: auto !important; }
"""

RUNTIME_JS = r"""
window.GeoCrm = window.GeoCrm || (function () {
  var G = {};
  G.renderer = function (map) {
    if (!map._gcCanvas) { map._gcCanvas = L.canvas({ padding: 0.5, tolerance: 3 }); }
    return map._gcCanvas;
  };
  G.legendBox = function (map) {
    if (!map._gcLegendBox) {
      var c = L.control({ position: 'bottomleft' });
      c.onAdd = function () {
        var d = L.DomUtil.create('div', 'gc-legends');
        L.DomEvent.disableClickPropagation(d); L.DomEvent.disableScrollPropagation(d);
        return d;
      };
      c.addTo(map);
      map._gcLegendBox = c.getContainer();
    }
    return map._gcLegendBox;
  };
  // html was built server-side from escaped text only
  G.legend = function (map, html, layer) {
    var d = L.DomUtil.create('div', 'gc-legend', G.legendBox(map));
    d.innerHTML = html;
    if (layer) {
      var sync = function () { d.style.display = map.hasLayer(layer) ? '' : 'none'; };
      map.on('overlayadd overlayremove zoomend', sync);
      setTimeout(sync, 0);
    }
    return d;
  };
  G.table = function (caption, head, row) {
    var h = '<table class="gc-pop">';
    if (caption) { h += '<caption>' + caption + '</caption>'; }
    for (var k = 0; k < head.length; k++) {
      if (row[k] === '' || row[k] === null || row[k] === undefined) { continue; }
      h += '<tr><th>' + head[k] + '</th><td>' + row[k] + '</td></tr>';
    }
    return h + '</table>';
  };
  G.fmt = function (n, lang) { return Number(n).toLocaleString(lang); };
  // outlets as circle markers on one canvas; d is columnar, every string pre-escaped HTML
  // coordinates come as integers: lon = x0 + x / k (k = 10^digits), shorter than decimals
  G.latlng = function (d, i) { return [d.y0 + d.y[i] / d.k, d.x0 + d.x[i] / d.k]; };
  G.points = function (map, groups, d) {
    var r = G.renderer(map), n = d.x.length;
    for (var i = 0; i < n; i++) {
      var s = d.style[d.t[i]];
      groups[d.t[i]].addLayer(L.circleMarker(G.latlng(d, i), {
        renderer: r, radius: s.r, color: '#ffffff', weight: 1, opacity: 0.9,
        fillColor: s.c, fillOpacity: 0.9, gcIndex: i }));
    }
    // rows: [name, code, parent, region, geotag, sales, debt, href]; trailing blanks dropped,
    // href only when the code is not already a plain URL segment
    var popup = function (e) {
      var i = e.layer.options.gcIndex, row = d.rows[i];
      var cells = [d.tierNames[d.t[i]]].concat(row.slice(1, 7));
      var html = G.table(row[0], d.head, cells);
      var href = row[7] || d.href + row[1];
      html += '<a class="gc-link" href="' + href + '" target="_top">' + d.open + '</a>';
      L.popup({ maxWidth: 340 }).setLatLng(e.layer.getLatLng()).setContent(html).openOn(map);
    };
    var hover = function (e) {
      var m = e.layer;
      if (!m.getTooltip()) { m.bindTooltip(d.rows[m.options.gcIndex][0], { direction: 'top' }); }
      m.openTooltip();
    };
    for (var g = 0; g < groups.length; g++) {
      if (groups[g]) { groups[g].on('click', popup); groups[g].on('mouseover', hover); }
    }
  };
  // outlets counted per hexagon (axial q/r in EPSG:3857 metres), one level per zoom band
  G.hexes = function (map, group, d) {
    var r = G.renderer(map), SM = L.Projection.SphericalMercator, shown = -1, built = {};
    var colour = function (n) {
      for (var k = d.breaks.length - 1; k >= 0; k--) {
        if (n >= d.breaks[k]) { return d.colours[k]; }
      }
      return d.colours[0];
    };
    var build = function (li) {
      var lv = d.levels[li], g = L.layerGroup(), s = lv.size, w = Math.sqrt(3) * s;
      for (var i = 0; i < lv.q.length; i++) {
        var cx = d.origin[0] + w * (lv.q[i] + lv.r[i] / 2), cy = d.origin[1] + 1.5 * s * lv.r[i];
        var ring = [], total = 0, counts = lv.c[i];
        for (var k = 0; k < 6; k++) {
          var a = Math.PI / 180 * (60 * k + 30);
          ring.push(SM.unproject(L.point(cx + s * Math.cos(a), cy + s * Math.sin(a))));
        }
        for (var t = 0; t < counts.length; t++) { total += counts[t]; }
        var p = L.polygon(ring, { renderer: r, weight: 0.5, color: '#ffffff',
                                  fillColor: colour(total),
                                  fillOpacity: 0.75, gcCounts: counts, gcTotal: total });
        g.addLayer(p);
      }
      g.on('mouseover', function (e) {
        var o = e.layer.options, h = '<b>' + G.fmt(o.gcTotal, d.lang) + '</b> ' + d.unit;
        for (var t = 0; t < o.gcCounts.length; t++) {
          if (o.gcCounts[t]) { h += '<br>' + d.tierNames[t] + ': ' + G.fmt(o.gcCounts[t], d.lang); }
        }
        if (!e.layer.getTooltip()) { e.layer.bindTooltip(h, { sticky: true }); }
        e.layer.openTooltip(e.latlng);
      });
      return g;
    };
    var pick = function () {
      var z = map.getZoom(), li = 0;
      for (var k = 0; k < d.levels.length; k++) { if (z >= d.levels[k].zmin) { li = k; } }
      if (li === shown) { return; }
      if (shown >= 0) { group.removeLayer(built[shown]); }
      if (!built[li]) { built[li] = build(li); }
      group.addLayer(built[li]); shown = li;
    };
    map.on('zoomend', pick);
    pick();
  };
  // service discs (metres) of one tier's points, built the first time the layer is shown
  G.discs = function (map, group, d, tier, radius, colour) {
    var built = false;
    group.on('add', function () {
      if (built) { return; }
      built = true;
      var r = G.renderer(map);
      for (var i = 0; i < d.x.length; i++) {
        if (d.t[i] !== tier) { continue; }
        group.addLayer(L.circle(G.latlng(d, i), { renderer: r, radius: radius, color: colour,
          weight: 0.6, opacity: 0.6, fillColor: colour, fillOpacity: 0.12, interactive: false }));
      }
    });
  };
  G.labels = function (map, items, cls) {
    var g = L.layerGroup();
    for (var i = 0; i < items.length; i++) {
      g.addLayer(L.marker([items[i][0], items[i][1]], { interactive: false, keyboard: false,
        icon: L.divIcon({ className: 'gc-label ' + (cls || ''), html: items[i][2],
                          iconSize: null }) }));
    }
    return g.addTo(map);
  };
  G.fitList = function (map, list) {
    var items = list.querySelectorAll('li[data-b]');
    var go = function (li) {
      var b = JSON.parse(li.getAttribute('data-b'));
      map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { maxZoom: 13, animate: false });
      if (map._gcMark) { map.removeLayer(map._gcMark); }
      map._gcMark = L.rectangle([[b[0], b[1]], [b[2], b[3]]], {
        color: '#d50000', weight: 3, fill: false,
        interactive: false, renderer: G.renderer(map) }).addTo(map);
    };
    for (var i = 0; i < items.length; i++) {
      items[i].addEventListener('click', function () { go(this); });
      items[i].addEventListener('keydown', function (e) { if (e.key === 'Enter') { go(this); } });
    }
  };
  return G;
})();
"""


class Runtime(MacroElement):
    """geo_crm's map CSS and helper script, written once into the page header."""

    _template = Template("""
        {% macro header(this, kwargs) %}
        <style>{{ this.css }}</style>
        <script>{{ this.js }}</script>
        {% endmacro %}
    """)

    def __init__(self):
        super().__init__()
        self._name = "GeoCrmRuntime"
        self.css = RUNTIME_CSS
        self.js = RUNTIME_JS


class Legend(MacroElement):
    """A legend box (bottom left, above the scale), shown while its layer is on the map.

    ``items`` are ``(kind, colour, size, label)`` with kind ``box``, ``dot`` or ``line``; the
    title and labels are escaped here, so callers may pass user text.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        GeoCrm.legend({{ this._parent.get_name() }}, {{ this.html_js }},
                      {% if this.layer %}{{ this.layer.get_name() }}{% else %}null{% endif %});
        {% endmacro %}
    """)

    def __init__(self, title, items, *, layer: Layer | None = None, note=None):
        super().__init__()
        self._name = "GeoCrmLegend"
        self.layer = layer
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
            else:
                sw = f'<span class="gc-sw" style="background:{colour_s}"></span>'
            rows.append(f'<div class="gc-row">{sw}<span>{safe_text(label)}</span></div>')
        note_html = f'<div class="gc-note">{safe_text(note)}</div>' if note else ""
        self.html = f"<h4>{safe_text(title)}</h4>{''.join(rows)}{note_html}"
        self.html_js = js_data(self.html)


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
          style: function () { return {{ this.style_js }}; } });
        {% if this.tooltip -%}
        {{ this.get_name() }}.bindTooltip({{ this.tooltip_js }}, { sticky: true });
        {% endif %}
        {% endmacro %}
    """)

    def __init__(
        self, name: str, geometry, style: dict, *, tooltip: str | None = None, show: bool = True
    ):
        import shapely

        super().__init__(name=str(safe_text(name)), overlay=True, control=True, show=show)
        self._name = "OutlineLayer"
        self.geojson = shapely.to_geojson(geometry)
        self.vertices = int(shapely.get_num_coordinates(geometry))
        self.style_js = js_data(style)
        self.tooltip = tooltip
        self.tooltip_js = js_data(str(tooltip)) if tooltip else None


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


class ReadySignal(MacroElement):
    """Last script on the page: exposes the map and a flag for tests and benchmarks."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        window.geoCrmMap = {{ this._parent.get_name() }};
        window.geoCrmReady = true;
        document.documentElement.setAttribute('data-geo-crm-ready', '1');
        {% endmacro %}
    """)

    def __init__(self):
        super().__init__()
        self._name = "GeoCrmReady"
