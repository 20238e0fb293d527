"""Coverage map: outlets by tier, covered area per tier, sub-regions shaded by coverage ratio,
distributor catchments — every layer toggleable, every styled layer with a legend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import folium

from ..analysis.distribution import Catchment as Catchment
from ..models import TIERS
from .base import MapSettings, RegionMap, RegionShape
from .elements import OutlineLayer
from .points import add_outlets
from .safe import safe_text
from .style import COVERAGE_SCHEME, TIER_COLOURS, fixed_classes, palette

if TYPE_CHECKING:
    from ..analysis.coverage import CoverageResult
    from ..domain.outlet_layers import OutletCoords, OutletRows

RATIO_BREAKS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass
class CoverageData:
    """What the coverage service found, reduced to what the map draws."""

    covered: Mapping[str, Mapping] = field(default_factory=dict)  # tier or "all" -> geometry
    ratio: Mapping[str, float] = field(default_factory=dict)  # tier or "all" -> ratio 0..1
    subregion_ratio: Mapping[str, float] = field(default_factory=dict)  # sub-region code -> ratio
    radii: Mapping[str, float] = field(default_factory=dict)  # tier -> service radius, metres
    catchments: Sequence[Catchment] = ()
    not_drawn: Sequence[str] = ()  # tiers whose discs are too small to draw at this scale

    @classmethod
    def from_result(
        cls,
        result: CoverageResult,
        *,
        not_drawn: Sequence[str] = (),
        catchments: Sequence[Catchment] = (),
    ) -> CoverageData:
        """What a coverage result draws: ratios per tier and of the whole network ("all"),
        per sub-region, the radii, and every covered outline the analysis returned."""
        covered = {"all": result.geometry} if result.geometry is not None else {}
        covered |= {t.tier: t.geometry for t in result.by_tier if t.geometry is not None}
        return cls(
            covered=covered,
            ratio={t.tier: t.ratio for t in result.by_tier} | {"all": result.region.ratio},
            subregion_ratio={s.code: s.ratio for s in result.sub_regions},
            radii=dict(result.radius_m),
            catchments=catchments,
            not_drawn=not_drawn,
        )


def coverage_map(
    region: RegionShape,
    subregions: Sequence[RegionShape],
    settings: MapSettings,
    *,
    coverage: CoverageData,
    rows: OutletRows | None = None,
    coords: OutletCoords | None = None,
    title: str | None = None,
    tiled_outlets: Mapping[str, int] | None = None,
) -> folium.Map:
    t = settings.translator
    rmap = RegionMap(
        region, subregions, settings, title=title or f"{region.name} · {t('Coverage map')}"
    )
    _subregion_ratio(rmap, coverage)
    _covered_areas(rmap, coverage)
    _catchments(rmap, coverage.catchments)
    add_outlets(
        rmap, rows, coords, discs=coverage.radii if rows is not None else None, tiled=tiled_outlets
    )
    return rmap.finish()


def _subregion_ratio(rmap: RegionMap, coverage: CoverageData) -> None:
    t = rmap.t
    values = {c: v for c, v in coverage.subregion_ratio.items() if c in rmap.sub_geoms}
    if not values:
        return
    names = {s.code: s.name for s in rmap.subregions}
    rmap.choropleth(
        [rmap.sub_geoms[c] for c in values],
        list(values.values()),
        fixed_classes(RATIO_BREAKS, COVERAGE_SCHEME),
        name=t("Sub-regions by coverage ratio"),
        ids=list(values),
        names=[names[c] for c in values],
        text=t.percent,
        tooltip=t("Coverage ratio"),
        style={"fillOpacity": 0.55, "weight": 0.5, "color": "#666666"},
        legend=t("Sub-regions by coverage ratio"),
        legend_range=lambda lo, hi: f"{t.percent(lo, 0)} – {t.percent(hi, 0)}",
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
            pane=rmap.shade_pane(),
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
    shown = [
        (i, c, geom)
        for i, (c, geom) in enumerate(
            zip(catchments, rmap.shapes([c.geometry for c in catchments]), strict=True)
        )
        if not geom.is_empty
    ]
    layer = rmap.outline_layer(
        [geom for _, _, geom in shown],
        name=t("Distributor catchments"),
        ids=[f"c{i}" for i, _, _ in shown],
        names=[c.name for _, c, _ in shown],
        codes=[c.code for _, c, _ in shown],
        code_label=t("Code"),
        colours=[colours[i % len(colours)] for i, _, _ in shown],
        weight=2,
        dash="6 4",
        fill_opacity=0.08,
        show=False,
    )
    rmap.add_legend(
        t("Distributor catchments"),
        [("line", colours[i % len(colours)], None, c.name) for i, c in enumerate(catchments[:8])],
        layer=layer,
        note=(f"+{len(catchments) - 8}" if len(catchments) > 8 else None),
    )
