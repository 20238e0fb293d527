"""Map of cross-territory sales (窜货): each flagged record a line from the seller to the buyer,
coloured by flag (outside the territory, into another network), the buyer a dot. Built from
``analysis.cross_selling`` results; no SQL here."""

from __future__ import annotations

from collections.abc import Sequence

import folium
import numpy as np
from folium.map import Layer
from folium.template import Template

from ..i18n import add_messages
from .base import Frame, MapSettings, finish_map, new_map
from .elements import Legend, js_data
from .safe import safe_text

# the words of its page and map (the page module imports this one)
add_messages(
    "cross_selling",
    {
        "Cross-territory sales": "窜货",
        "Outside the territory": "超出经销区域",
        "Into another network": "进入其他经销商网络",
        "Distance (km)": "距离（公里）",
        "Seller": "卖方",
        "Buyer": "买方",
        "Flags": "标记",
        "Review": "审核",
        "Buyer's distributor": "买方所属经销商",
        "No cross-territory sales in this period": "此期间没有窜货",
        "No cross-territory sales to map": "没有可在地图上显示的窜货",
        "Sell-out into the region outside the seller's territory or network": (
            "卖方经销区域或网络之外、卖入本区域的销售"
        ),
        "a date is YYYY-MM-DD": "日期格式为 YYYY-MM-DD",
    },
)

FLAG_COLOURS = {"outside_territory": "#c62828", "other_network": "#6a1b9a"}
FLAG_TITLES = {
    "outside_territory": "Outside the territory",
    "other_network": "Into another network",
}


class LinesLayer(Layer):
    """Seller→buyer lines with a dot at the buyer, on canvas; tooltips are escaped text."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function (d) {
          var g = L.featureGroup(), r = GeoCrm.renderer({{ this._parent.get_name() }});
          for (var i = 0; i < d.lines.length; i++) {
            var l = L.polyline(d.lines[i], { renderer: r, color: d.colour, weight: 2,
                                            opacity: 0.8 });
            l.bindTooltip(d.tips[i], { sticky: true });
            g.addLayer(l);
            g.addLayer(L.circleMarker(d.lines[i][1], { renderer: r, radius: 4, weight: 1,
              color: '#ffffff', fillColor: d.colour, fillOpacity: 0.95 }).bindTooltip(d.tips[i]));
          }
          return g;
        })({{ this.data_js }});
        {% endmacro %}
    """)

    def __init__(self, name: str, data: dict):
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "LinesLayer"
        self.count = len(data["lines"])
        self.data_js = js_data(data)


def _tip(t, sale) -> str:
    bits = [
        f"{sale.seller_name} ({sale.seller_code}) → {sale.buyer_name} ({sale.buyer_code})",
        t.date(sale.sale_date),
    ]
    if sale.distance_m is not None:
        bits.append(f"{t.number(sale.distance_m / 1000)} km")
    if sale.buyer_distributor:
        bits.append(f"{sale.distributor} / {sale.buyer_distributor}")
    return str(safe_text(" · ".join(bits)))


def cross_selling_map(
    sales: Sequence, settings: MapSettings, *, title: str | None = None
) -> folium.Map | None:
    """The map of the records whose seller and buyer both have a location (None: none has)."""
    drawn = [s for s in sales if None not in (s.seller_lon, s.seller_lat, s.buyer_lon, s.buyer_lat)]
    if not drawn:
        return None
    t = settings.translator
    lon = np.array([[s.seller_lon, s.buyer_lon] for s in drawn], dtype=np.float64)
    lat = np.array([[s.seller_lat, s.buyer_lat] for s in drawn], dtype=np.float64)
    frame = Frame(settings.crs, unwrap=bool(np.ptp(lon) > 180))
    x, y = frame.xy(lon.ravel(), lat.ravel())
    x, y = x.reshape(lon.shape), y.reshape(lat.shape)
    pad = max(float(np.ptp(x)), float(np.ptp(y)), 0.01) * 0.1
    fit = [
        [float(y.min()) - pad, float(x.min()) - pad],
        [float(y.max()) + pad, float(x.max()) + pad],
    ]
    m = new_map(settings, fit, title)
    legend = []
    for flag, colour in FLAG_COLOURS.items():
        # a record with both flags is drawn once, as outside the territory
        idx = [
            i
            for i, s in enumerate(drawn)
            if flag in s.flags
            and (flag == "outside_territory" or "outside_territory" not in s.flags)
        ]
        if not idx:
            continue
        label = f"{t(FLAG_TITLES[flag])} ({t.number(len(idx))})"
        layer = LinesLayer(
            label,
            {
                "lines": [
                    [[float(y[i, 0]), float(x[i, 0])], [float(y[i, 1]), float(x[i, 1])]]
                    for i in idx
                ],
                "tips": [_tip(t, drawn[i]) for i in idx],
                "colour": colour,
            },
        )
        m.add_child(layer)
        legend.append(("line", colour, None, label))
    m.add_child(Legend(t("Cross-territory sales"), legend))
    return finish_map(m, settings)
