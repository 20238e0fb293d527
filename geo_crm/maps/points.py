"""Outlets on a map: one canvas circle per outlet up to a limit, hexagon counts beyond it.

The split is per tier, from the top: distributors and wholesalers (few, and what managers look
for) stay individual, clickable points as long as the running total fits ``point_limit``; the
numerous lower tiers are then counted per hexagon (``aggregate.hex_levels``). No tier ever gets
one DOM marker per outlet: points are ``L.circleMarker`` on a single canvas.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..models import TIERS
from .aggregate import hex_levels, mercator
from .base import RegionMap
from .elements import CanvasPoints, Discs, HexCounts, TierGroup
from .safe import safe_href, safe_text
from .style import COUNT_SCHEME, TIER_COLOURS, TIER_INDEX, TIER_RADIUS_PX, palette

if TYPE_CHECKING:  # the domain's read results, drawn as they come (maps take no Session)
    from ..domain.outlet_layers import OutletCoords, OutletRows

HEX_BREAKS = (1, 5, 20, 100, 500)


def _tier_codes(tiers: Sequence[str] | np.ndarray) -> np.ndarray:
    if isinstance(tiers, np.ndarray) and tiers.dtype.kind in "iu":
        return tiers.astype(np.int64, copy=False)
    return np.fromiter((TIER_INDEX[t] for t in tiers), dtype=np.int64, count=len(tiers))


def add_outlets(
    rmap: RegionMap,
    rows: OutletRows | None,
    coords: OutletCoords | None = None,
    *,
    discs: Mapping[str, float] | None = None,
    show_discs: bool = False,
    tiers_shown: Sequence[str] | None = None,
    legend_title: str | None = None,
    legend_note: str | None = None,
    tiled: Mapping[str, int] | None = None,
) -> dict:
    """Add the outlet layers and their legends; returns counts for tests and captions.
    ``legend_title``/``legend_note``: the points' legend as a map names it (default "Outlets by
    tier", no note). ``tiled``: the outlets are not in ``rows``/``coords`` but drawn from the
    outlet vector tiles (``rmap.settings.tiles``); their number per tier (the tiers shown)."""
    t = rmap.t
    frame = rmap.frame
    out = {"points": 0, "counted": 0, "cells": 0}
    shown = set(tiers_shown) if tiers_shown is not None else set(TIERS)
    if tiled is not None and rmap.settings.tiles is not None:
        return _tiled_outlets(rmap, tiled, shown, out)
    # counted hexagons first: the canvas draws in order, so points stay on top
    if coords is not None and len(coords):
        x, y = frame.xy(coords.lon, coords.lat)
        mx, my = mercator(x, y)
        bxy = (float(mx.min()), float(my.min()), float(mx.max()), float(my.max()))
        region_b = rmap.fit
        rx, ry = mercator([region_b[0][1], region_b[1][1]], [region_b[0][0], region_b[1][0]])
        bxy = (min(bxy[0], rx[0]), min(bxy[1], ry[0]), max(bxy[2], rx[1]), max(bxy[3], ry[1]))
        codes = _tier_codes(coords.tier)
        origin, levels = hex_levels(mx, my, codes, len(TIERS), bxy)
        # outlines, not fills (the shading under them keeps its colours): the darker end of
        # the scheme, which reads as a line on any basemap or shading
        colours = palette(COUNT_SCHEME, len(HEX_BREAKS) + 3)[3:]
        data = {
            "origin": [round(origin[0], 1), round(origin[1], 1)],
            "levels": [
                {"zmin": lv.zmin, "size": round(lv.size, 2), "q": lv.q, "r": lv.r, "c": lv.counts}
                for lv in levels
            ],
            "breaks": list(HEX_BREAKS),
            "colours": colours,
            "tierNames": [str(safe_text(t.tier(tr))) for tr in TIERS],
            "unit": str(safe_text(t("outlets"))),
            "lang": t.html_lang,
        }
        counted_tiers = [TIERS[i] for i in np.unique(codes).tolist()]
        layer = HexCounts(t("Outlets (aggregated)"), data)
        rmap.map.add_child(layer)
        labels = [f"{HEX_BREAKS[i]}–{HEX_BREAKS[i + 1] - 1}" for i in range(len(HEX_BREAKS) - 1)]
        labels.append(f"≥ {HEX_BREAKS[-1]}")
        rmap.add_legend(
            t("Outlets per cell") + " (" + "、".join(t.tier(tr) for tr in counted_tiers) + ")",
            [("ring", c, None, lab) for c, lab in zip(colours, labels, strict=True)],
            layer=layer,
            note=t(
                "{n} outlets shown as counts per hexagon; zoom in for detail",
                n=t.number(len(coords)),
            ),
        )
        out["counted"] = len(coords)
        out["cells"] = layer.cells
    if rows is not None and len(rows):
        x, y = frame.xy(rows.lon, rows.lat)
        tcode = _tier_codes(rows.tier)
        present = sorted(set(tcode.tolist()))
        groups: list[TierGroup | None] = [None] * len(TIERS)
        for i in present:
            tier = TIERS[i]
            group = TierGroup(t("Outlets") + " · " + t.tier(tier), tier, show=tier in shown)
            rmap.map.add_child(group)
            groups[i] = group
        disc_layers = []
        for i in present if discs else ():
            tier = TIERS[i]
            if discs.get(tier):
                layer = Discs(
                    t("Service discs · {tier}", tier=t.tier(tier)),
                    i,
                    discs[tier],
                    TIER_COLOURS[tier],
                    int((tcode == i).sum()),
                    show=show_discs,
                )
                rmap.map.add_child(layer)
                disc_layers.append(layer)
        k = 10**frame.digits
        x0, y0 = float(np.floor(x.min())), float(np.floor(y.min()))
        data = {
            "x0": x0,
            "y0": y0,
            "k": k,
            "x": np.rint((x - x0) * k).astype(np.int64).tolist(),
            "y": np.rint((y - y0) * k).astype(np.int64).tolist(),
            "t": tcode.tolist(),
            "style": [{"c": TIER_COLOURS[tr], "r": TIER_RADIUS_PX[tr]} for tr in TIERS],
            "tierNames": [str(safe_text(t.tier(tr))) for tr in TIERS],
            "head": [
                str(safe_text(h))
                for h in (
                    t("Tier"),
                    t("Code"),
                    t("Parent"),
                    t("Region"),
                    t("Last geotag"),
                    t("Sales in the period"),
                    t("Debt"),
                )
            ],
            "open": str(safe_text(t("Open outlet page"))),
            "href": str(safe_text(rmap.settings.outlet_href)),
            "rows": outlet_rows(rows, t, rmap.settings.outlet_href),
        }
        rmap.map.add_child(CanvasPoints(groups, data, len(rows), disc_layers))
        out["points"] = len(rows)
        legend_tiers = [TIERS[i] for i in present]
        rmap.add_legend(
            legend_title or t("Outlets by tier"),
            [
                (
                    "dot",
                    TIER_COLOURS[tr],
                    TIER_RADIUS_PX[tr],
                    f"{t.tier(tr)} ({t.number(int((tcode == TIER_INDEX[tr]).sum()))})",
                )
                for tr in legend_tiers
            ],
            # each tier's row shows while that tier's layer is on
            row_layers=[groups[TIER_INDEX[tr]] for tr in legend_tiers],
            note=legend_note,
        )
    return out


def _tiled_outlets(rmap: RegionMap, counts: Mapping[str, int], shown: set, out: dict) -> dict:
    """One toggleable layer of the outlet vector tiles: hexagon counts below zoom 10 (the
    embedded counts' colours), the outlets by tier from zoom 10; the two legends."""
    from .vector_tiles import OutletTiles

    t = rmap.t
    tiers = [tr for tr in TIERS if counts.get(tr) and tr in shown]
    colours = palette(COUNT_SCHEME, len(HEX_BREAKS) + 3)[3:]
    options = {
        "tiers": tiers,
        "style": {tr: {"c": TIER_COLOURS[tr], "r": TIER_RADIUS_PX[tr]} for tr in TIERS},
        "breaks": list(HEX_BREAKS),
        "colours": colours,
        "tierNames": {tr: str(safe_text(t.tier(tr))) for tr in TIERS},
        "unit": str(safe_text(t("outlets"))),
        "lang": t.html_lang,
        "head": [str(safe_text(t("Tier"))), str(safe_text(t("Code")))],
        "open": str(safe_text(t("Open outlet page"))),
        "href": str(rmap.settings.outlet_href),
    }
    layer = OutletTiles(
        t("Outlets"), rmap.settings.tiles.url("outlets", query=False), options, show=bool(tiers)
    )
    rmap.map.add_child(layer)
    labels = [f"{HEX_BREAKS[i]}–{HEX_BREAKS[i + 1] - 1}" for i in range(len(HEX_BREAKS) - 1)]
    labels.append(f"≥ {HEX_BREAKS[-1]}")
    total = sum(counts.get(tr, 0) for tr in tiers)
    rmap.add_legend(
        t("Outlets per cell") + " (" + "、".join(t.tier(tr) for tr in tiers) + ")",
        [("ring", c, None, lab) for c, lab in zip(colours, labels, strict=True)],
        layer=layer,
        note=t("{n} outlets shown as counts per hexagon; zoom in for detail", n=t.number(total)),
    )
    rmap.add_legend(
        t("Outlets by tier"),
        [
            ("dot", TIER_COLOURS[tr], TIER_RADIUS_PX[tr], f"{t.tier(tr)} ({t.number(counts[tr])})")
            for tr in tiers
        ],
        layer=layer,
    )
    out["tiled"] = total
    return out


_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")


def outlet_rows(rows: OutletRows, t, outlet_href: str) -> list[list[str]]:
    """Popup rows: [name, code, parent, region, last geotag, sales, debt, href], all escaped.

    Trailing blanks are dropped and ``href`` is left out when ``outlet_href`` + code is already
    the URL (the browser appends the code), which keeps 10,000 rows small.
    """
    out = []
    for i in range(len(rows)):
        geotag = rows.last_geotag[i]
        sales = rows.sales[i]
        debt = rows.debt[i]
        code = rows.code[i]
        row = [
            str(safe_text(rows.name[i])),
            str(safe_text(code)),
            str(safe_text(rows.parent[i])),
            str(safe_text(rows.region[i])),
            str(safe_text(t.date(geotag) if geotag is not None else "")),
            str(safe_text(t.money(sales) if sales is not None else "")),
            str(safe_text(t.money(debt) if debt is not None else "")),
            "" if _PLAIN_SEGMENT.fullmatch(str(code)) else str(safe_href(outlet_href, code)),
        ]
        while row and row[-1] == "":
            row.pop()
        out.append(row)
    return out
