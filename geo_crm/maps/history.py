"""Small map of one outlet's location history: every geotag position, oldest to newest, joined
by a path; the current location stands out. Built from geotag events, no SQL here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import folium
import numpy as np
from folium.map import Layer
from folium.template import Template

from .base import Frame, MapSettings, finish_map, new_map
from .elements import Legend, js_data
from .safe import safe_text
from .style import TIER_COLOURS


@dataclass
class HistoryPoint:
    lon: float
    lat: float
    at: dt.datetime | dt.date | None
    source: str | None = None
    accuracy_m: float | None = None
    state: str | None = None

    @classmethod
    def from_event(cls, event: Mapping) -> HistoryPoint:
        """A geotag event as ``domain.geotagging.location_track`` reads it."""
        return cls(
            event["lon"],
            event["lat"],
            event["captured_at"] or event["created_at"],
            event["source"],
            event["accuracy_m"],
            event["state"],
        )


class HistoryLayer(Layer):
    """The path and numbered positions, on canvas; tooltips built from escaped text only."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function (d) {
          var g = L.featureGroup(), r = GeoCrm.renderer({{ this._parent.get_name() }});
          if (d.path.length > 1) {
            g.addLayer(L.polyline(d.path, { renderer: r, color: '#555555', weight: 2,
                                            dashArray: '5 4' }));
          }
          for (var i = 0; i < d.pts.length; i++) {
            var last = i === d.pts.length - 1;
            var m = L.circleMarker(d.pts[i], { renderer: r, radius: last ? 8 : 5, weight: 2,
              color: '#ffffff', fillColor: last ? d.colour : '#888888', fillOpacity: 0.95 });
            m.bindTooltip(d.tips[i], { direction: 'top' });
            g.addLayer(m);
          }
          return g;
        })({{ this.data_js }});
        {% endmacro %}
    """)

    def __init__(self, name: str, data: dict):
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "HistoryLayer"
        self.count = len(data["pts"])
        self.data_js = js_data(data)


def history_map(
    points: Sequence[HistoryPoint],
    settings: MapSettings,
    *,
    tier: str | None = None,
    title: str | None = None,
) -> folium.Map | None:
    """The map, or None when the outlet was never geotagged. ``points`` oldest first."""
    if not points:
        return None
    t = settings.translator
    lon = np.array([p.lon for p in points], dtype=np.float64)
    lat = np.array([p.lat for p in points], dtype=np.float64)
    span = max(float(np.ptp(lon)), float(np.ptp(lat)), 0.004)
    frame = Frame(settings.crs, unwrap=bool(np.ptp(lon) > 180))
    x, y = frame.xy(lon, lat)
    pad = span * 0.3
    fit = [
        [float(y.min()) - pad, float(x.min()) - pad],
        [float(y.max()) + pad, float(x.max()) + pad],
    ]
    m = new_map(settings, fit, title)
    tips = []
    for i, p in enumerate(points):
        bits = [f"#{i + 1}", t.datetime(p.at) if isinstance(p.at, dt.datetime) else t.date(p.at)]
        if p.source:
            bits.append(t.source(p.source))
        if p.accuracy_m is not None:
            bits.append(f"±{t.number(p.accuracy_m)} {t('m')}")
        if p.state and p.state != "accepted":
            bits.append(p.state)
        tips.append(str(safe_text(" · ".join(bits))))
    pts = [[float(b), float(a)] for a, b in zip(x, y, strict=True)]
    colour = TIER_COLOURS.get(tier or "", "#1f4e79")
    layer = HistoryLayer(
        t("Location history"), {"path": pts, "pts": pts, "tips": tips, "colour": colour}
    )
    m.add_child(layer)
    m.add_child(
        Legend(
            t("Location history"),
            [
                ("dot", colour, 6, t("Location")),
                ("dot", "#888888", 4, t("Location history")),
                ("line", "#555555", None, f"{t.number(len(points))}"),
            ],
            layer=layer,
        )
    )
    return finish_map(m, settings)
