"""Coverage map: outlets by tier, covered area per tier, sub-regions shaded by coverage ratio,
distributor catchments — every layer toggleable, every styled layer with a legend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import folium

from ..models import TIERS
from .base import MapSettings, RegionMap, RegionShape, feature
from .elements import OutlineLayer
from .points import OutletCoords, OutletRows, add_outlets
from .safe import safe_text
from .style import COVERAGE_SCHEME, TIER_COLOURS, fixed_classes, palette

RATIO_BREAKS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass
class Catchment:
    code: str
    name: str
    geometry: Mapping  # GeoJSON (Multi)Polygon, WGS-84


@dataclass
class CoverageData:
    """What the coverage service found, reduced to what the map draws."""

    covered: Mapping[str, Mapping] = field(default_factory=dict)  # tier or "all" -> geometry
    ratio: Mapping[str, float] = field(default_factory=dict)  # tier or "all" -> ratio 0..1
    subregion_ratio: Mapping[str, float] = field(default_factory=dict)  # sub-region code -> ratio
    radii: Mapping[str, float] = field(default_factory=dict)  # tier -> service radius, metres
    catchments: Sequence[Catchment] = ()
    not_drawn: Sequence[str] = ()  # tiers whose discs are too small to draw at this scale


def coverage_map(
    region: RegionShape,
    subregions: Sequence[RegionShape],
    settings: MapSettings,
    *,
    coverage: CoverageData,
    rows: OutletRows | None = None,
    coords: OutletCoords | None = None,
    title: str | None = None,
) -> folium.Map:
    t = settings.translator
    rmap = RegionMap(
        region, subregions, settings, title=title or f"{region.name} · {t('Coverage map')}"
    )
    _subregion_ratio(rmap, coverage)
    _covered_areas(rmap, coverage)
    _catchments(rmap, coverage.catchments)
    add_outlets(rmap, rows, coords, discs=coverage.radii if rows is not None else None)
    return rmap.finish()


def _subregion_ratio(rmap: RegionMap, coverage: CoverageData) -> None:
    t = rmap.t
    values = {c: v for c, v in coverage.subregion_ratio.items() if c in rmap.sub_geoms}
    if not values:
        return
    classes = fixed_classes(RATIO_BREAKS, COVERAGE_SCHEME)
    names = {s.code: s.name for s in rmap.subregions}
    feats = []
    for code, ratio in values.items():
        feats.append(
            feature(
                rmap.sub_geoms[code],
                {
                    "name": str(safe_text(names[code])),
                    "ratio": str(safe_text(t.percent(ratio))),
                    "fill": classes.colour(ratio),
                },
                code,
            )
        )
    layer = rmap.geometry_layer(
        feats,
        name=t("Sub-regions by coverage ratio"),
        style=lambda f: {
            "fillColor": f["properties"]["fill"],
            "fillOpacity": 0.55,
            "weight": 0.5,
            "color": "#666666",
        },
        tooltip=["name", ("ratio", t("Coverage ratio"))],
        show=True,
    )
    rmap.add_legend(
        t("Sub-regions by coverage ratio"),
        [
            ("box", c, None, f"{t.percent(lo, 0)} – {t.percent(hi, 0)}")
            for lo, hi, c in classes.ranges()
        ],
        layer=layer,
    )


def _covered_areas(rmap: RegionMap, coverage: CoverageData) -> None:
    """One toggleable outline per tier (and the whole network); the legend lists every ratio."""
    t = rmap.t
    keys = [k for k in (*TIERS, "all") if coverage.covered.get(k)]
    geoms = dict(zip(keys, rmap.shapes([coverage.covered[k] for k in keys]), strict=True))
    items, first = [], None
    for key in (*TIERS, "all"):
        ratio = coverage.ratio.get(key)
        geom = geoms.get(key)
        if ratio is None and geom is None:
            continue
        colour = TIER_COLOURS.get(key, "#444444")
        label = t.tier(key) if key != "all" else t("Whole network")
        suffix = f" — {t.percent(ratio)}" if ratio is not None else ""
        items.append(("box", colour, None, label + suffix))
        if geom is None or geom.is_empty:
            continue
        tip = (
            f"{safe_text(label)}<br>{safe_text(t('Coverage ratio'))}: {safe_text(t.percent(ratio))}"
        )
        layer = OutlineLayer(
            t("Covered area · {tier}", tier=label),
            geom,
            {"color": colour, "weight": 1, "fillColor": colour, "fillOpacity": 0.18},
            tooltip=tip,
            show=first is None and key in ("distributor", "all"),
        )
        rmap.map.add_child(layer)
        first = first or layer
    note = None
    if coverage.not_drawn:
        tiers = "、".join(t.tier(x) for x in coverage.not_drawn)
        note = t(
            "{tiers}: discs too small to draw at this scale; open a smaller region", tiers=tiers
        )
    if items or note:
        rmap.add_legend(t("Covered area"), items, layer=None, note=note)


def _catchments(rmap: RegionMap, catchments: Sequence[Catchment]) -> None:
    t = rmap.t
    if not catchments:
        return
    colours = palette("Set2", 8)
    geoms = rmap.shapes([c.geometry for c in catchments])
    feats = []
    for i, (c, geom) in enumerate(zip(catchments, geoms, strict=True)):
        if geom.is_empty:
            continue
        feats.append(
            feature(
                geom,
                {
                    "name": str(safe_text(c.name)),
                    "code": str(safe_text(c.code)),
                    "fill": colours[i % len(colours)],
                },
                f"c{i}",
            )
        )
    layer = rmap.geometry_layer(
        feats,
        name=t("Distributor catchments"),
        style=lambda f: {
            "color": f["properties"]["fill"],
            "weight": 2,
            "dashArray": "6 4",
            "fillColor": f["properties"]["fill"],
            "fillOpacity": 0.08,
        },
        tooltip=["name", ("code", t("Code"))],
        show=False,
    )
    rmap.add_legend(
        t("Distributor catchments"),
        [("line", colours[i % len(colours)], None, c.name) for i, c in enumerate(catchments[:8])],
        layer=layer,
        note=(f"+{len(catchments) - 8}" if len(catchments) > 8 else None),
    )
