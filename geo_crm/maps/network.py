"""Network map of one distributor: its outlets per tier, supply links from each outlet to the
outlet it buys from, and the network's catchment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import folium
import numpy as np
import shapely

from ..i18n import add_messages
from ..models import TIERS
from .base import MapSettings, RegionMap, RegionShape, feature, refit
from .points import add_outlets
from .safe import safe_text
from .style import LINK_COLOUR, TIER_COLOURS

if TYPE_CHECKING:
    from ..domain.network_reach import NetworkReach
    from ..domain.outlet_layers import OutletRows

# the legends name their counts as the distributor page does (domain/network_reach)
add_messages(
    "network_map",
    {
        "Outlets on the map": "地图上的网点",
        "Reached: {n}, of which {m} without coordinates (not drawn)": (
            "覆盖：{n} 家，其中 {m} 家无坐标（未画出）"
        ),
        "A link is drawn when the supplier is on the map too": "供货方也在地图上时才画出供货关系",
        "A link is drawn when the supplier is on the map too; {n} outlets have none": (
            "供货方也在地图上时才画出供货关系；{n} 家网点没有"
        ),
    },
)


def network_map(
    region: RegionShape,
    subregions: Sequence[RegionShape],
    settings: MapSettings,
    *,
    distributor_name: str,
    rows: OutletRows,
    parent_index: Sequence[int | None],
    catchment: Mapping | shapely.Geometry | None = None,
    title: str | None = None,
    reach: NetworkReach | None = None,
) -> folium.Map:
    """``rows`` hold the distributor and its located network; ``parent_index[i]`` is the row of
    outlet i's parent (None for the distributor, or a parent without a location). ``reach``:
    the network's counts (``domain.network_reach``), for the legends' notes: outlets reached
    but not drawn, and outlets drawn without a link."""
    t = settings.translator
    rmap = RegionMap(
        region, subregions, settings, title=title or f"{distributor_name} · {t('Network map')}"
    )
    if catchment is not None:
        geom = rmap.shapes([catchment])[0]
        if not geom.is_empty:
            colour = TIER_COLOURS["distributor"]
            layer = rmap.outline_layer(
                [geom],
                name=t("Catchment"),
                ids=["catchment"],
                names=[distributor_name],
                colours=colour,
                weight=2,
                dash="6 4",
                fill_opacity=0.06,
            )
            rmap.add_legend(t("Catchment"), [("box", colour, None, distributor_name)], layer=layer)
    total = reach.total() if reach is not None else None
    _links(rmap, rows, parent_index, without_link=total.without_link if total else None)
    add_outlets(
        rmap,
        rows,
        None,
        legend_title=t("Outlets on the map"),
        legend_note=t(
            "Reached: {n}, of which {m} without coordinates (not drawn)",
            n=t.number(total.reached),
            m=t.number(total.without_coordinates),
        )
        if total is not None
        else None,
    )
    if len(rows):  # open on the region and the whole network, wherever it reaches
        x, y = rmap.frame.xy(rows.lon, rows.lat)
        (s, w), (n, e) = rmap.fit
        refit(
            rmap.map,
            [
                [min(s, float(y.min())), min(w, float(x.min()))],
                [max(n, float(y.max())), max(e, float(x.max()))],
            ],
        )
    return rmap.finish()


def _links(
    rmap: RegionMap,
    rows: OutletRows,
    parent_index: Sequence[int | None],
    *,
    without_link: int | None = None,
) -> None:
    t = rmap.t
    x, y = rmap.frame.xy(rows.lon, rows.lat)
    child = np.array([i for i, p in enumerate(parent_index) if p is not None], dtype=np.int64)
    if child.size == 0:
        return
    parent = np.array([parent_index[i] for i in child], dtype=np.int64)
    tiers = np.array(rows.tier, dtype=object)[child]
    feats, items = [], []
    for tier in TIERS[1:]:
        sel = tiers == tier
        if not sel.any():
            continue
        c, p = child[sel], parent[sel]
        lines = shapely.multilinestrings(
            shapely.linestrings(
                np.stack([np.column_stack([x[p], y[p]]), np.column_stack([x[c], y[c]])], axis=1)
            )
        )
        feats.append(
            feature(
                lines,
                {
                    "name": str(safe_text(t.tier(tier))),
                    "n": str(safe_text(t.number(int(sel.sum())))),
                },
                tier,
            )
        )
        items.append(
            ("line", TIER_COLOURS[tier], None, f"→ {t.tier(tier)} ({t.number(int(sel.sum()))})")
        )
    layer = rmap.geometry_layer(
        feats,
        name=t("Supply links"),
        style=lambda f: {
            "color": TIER_COLOURS.get(f["id"], LINK_COLOUR),
            "weight": 1.2,
            "opacity": 0.6,
        },
        tooltip=["name", ("n", t("Outlets"))],
        show=True,
    )
    if without_link:
        note = t(
            "A link is drawn when the supplier is on the map too; {n} outlets have none",
            n=t.number(without_link),
        )
    else:
        note = t("A link is drawn when the supplier is on the map too")
    rmap.add_legend(t("Supply links"), items, layer=layer, note=note)
