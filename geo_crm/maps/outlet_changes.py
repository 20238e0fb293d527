"""Map of a region's outlet changes (客户变动): one layer per kind of event (started buying,
stopped buying, changed supplier, closed), each a set of dots with a tooltip, so a manager
switches kinds on and off. Built from ``analysis.outlet_changes`` results; no SQL here."""

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
    "outlet_changes",
    {
        "Outlet changes": "客户变动",
        "Started buying": "新开户（首次进货）",
        "Stopped buying": "停止进货",
        "Changed supplier": "更换供货商",
        "Closed": "已关闭",
        "Last purchase": "最后进货",
        "Stopped after (months)": "停止进货判定（月）",
        "Default: the setting, {n} months": "默认按设置：{n} 个月",
        "From month": "起始月份",
        "To month": "结束月份",
        "Kinds": "类别",
        "Kind": "类别",
        "Details": "详情",
        "Events": "变动明细",
        "Per month": "按月统计",
        "Changed by": "操作人",
        "The newest {n} of {total} events": "最新 {n} 条，共 {total} 条",
        "No outlet changes in this period": "此期间没有客户变动",
        "No located outlet changes to map": "没有可在地图上显示的客户变动",
        "Outlets that started or stopped buying, changed supplier or closed": (
            "首次进货、停止进货、更换供货商或关闭的网点"
        ),
    },
)

KIND_COLOURS = {
    "started": "#2e7d32",
    "stopped": "#c62828",
    "supplier": "#ef6c00",
    "closed": "#424242",
}
KIND_TITLES = {
    "started": "Started buying",
    "stopped": "Stopped buying",
    "supplier": "Changed supplier",
    "closed": "Closed",
}


class ChangeLayer(Layer):
    """Dots of one kind on canvas; tooltips are escaped text only."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function (d) {
          var g = L.featureGroup(), r = GeoCrm.renderer({{ this._parent.get_name() }});
          for (var i = 0; i < d.pts.length; i++) {
            var m = L.circleMarker(d.pts[i], { renderer: r, radius: 6, weight: 1.5,
              color: '#ffffff', fillColor: d.colour, fillOpacity: 0.9 });
            m.bindTooltip(d.tips[i], { direction: 'top' });
            g.addLayer(m);
          }
          return g;
        })({{ this.data_js }});
        {% endmacro %}
    """)

    def __init__(self, name: str, data: dict):
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "ChangeLayer"
        self.count = len(data["pts"])
        self.data_js = js_data(data)


def _tip(t, event) -> str:
    bits = [
        f"{event.outlet_name} ({event.outlet_code})",
        t.tier(event.tier),
        t(KIND_TITLES[event.kind]),
    ]
    bits.append(event.month.strftime("%Y-%m"))
    if event.kind == "supplier":
        bits.append(f"{event.old_value or '–'} → {event.new_value or '–'}")
    if event.kind == "stopped" and event.last_purchase is not None:
        bits.append(f"{t('Last purchase')} {event.last_purchase:%Y-%m}")
    if event.changed_by:
        bits.append(event.changed_by)
    return str(safe_text(" · ".join(bits)))


def outlet_changes_map(
    events: Sequence, settings: MapSettings, *, title: str | None = None
) -> folium.Map | None:
    """The map of the located events (``analysis.outlet_changes.OutletChangeEvent``), or None
    when none of them has a location."""
    located = [e for e in events if e.lon is not None and e.lat is not None]
    if not located:
        return None
    t = settings.translator
    lon = np.array([e.lon for e in located], dtype=np.float64)
    lat = np.array([e.lat for e in located], dtype=np.float64)
    frame = Frame(settings.crs, unwrap=bool(np.ptp(lon) > 180))
    x, y = frame.xy(lon, lat)
    pad = max(float(np.ptp(x)), float(np.ptp(y)), 0.01) * 0.3
    fit = [
        [float(y.min()) - pad, float(x.min()) - pad],
        [float(y.max()) + pad, float(x.max()) + pad],
    ]
    m = new_map(settings, fit, title)
    legend = []
    for kind, colour in KIND_COLOURS.items():
        idx = [i for i, e in enumerate(located) if e.kind == kind]
        if not idx:
            continue
        label = f"{t(KIND_TITLES[kind])} ({t.number(len(idx))})"
        layer = ChangeLayer(
            label,
            {
                "pts": [[float(y[i]), float(x[i])] for i in idx],
                "tips": [_tip(t, located[i]) for i in idx],
                "colour": colour,
            },
        )
        m.add_child(layer)
        legend.append(("dot", colour, 5, label))
    m.add_child(Legend(t("Outlet changes"), legend))
    return finish_map(m, settings)
