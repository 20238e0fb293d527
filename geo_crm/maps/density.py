"""Sales density map: a classed hexagon choropleth of sales per cell, sub-regions shaded by
sales per km², and a heat-map layer (Leaflet.heat, served from folium's own package)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import folium
import numpy as np
import shapely
from folium.plugins import HeatMap

from .base import MapSettings, RegionMap, RegionShape, as_shapely
from .points import add_outlets
from .style import DENSITY_SCHEME, quantile_classes

if TYPE_CHECKING:
    from ..analysis.density import DensityResult
    from ..domain.outlet_layers import OutletCoords, OutletRows

MAX_CELL_FEATURES = 4000


@dataclass
class DensityData:
    """Sales per hexagon cell and per sub-region for one period/product/tier selection."""

    cells: Sequence[Mapping | shapely.Geometry] = ()  # WGS-84 polygons
    value: Sequence[float] = ()  # per cell, in ``unit``
    measure: str = "amount"  # "amount" (yuan) or "quantity" (the product's unit, e.g. 箱)
    unit: str | None = None  # quantity unit when measure == "quantity"
    subregion_per_km2: Mapping[str, float] | None = None  # code -> value per km²
    total: float | None = None
    cell_km: float | None = None

    @classmethod
    def from_result(
        cls, result: DensityResult, *, measure: str = "amount", unit: str | None = None
    ) -> DensityData:
        """What a density result draws: the cells with outlines and the sub-regions (sales per
        km²) in ``measure`` ("amount" or "quantity", counted in ``unit``)."""
        quantity = measure == "quantity"

        def value(totals) -> float:
            return float(totals.quantity if quantity else totals.amount)

        cells = [c for c in result.cells if c.outline]
        return cls(
            cells=[{"type": "Polygon", "coordinates": [c.outline]} for c in cells],
            value=[value(c.totals) for c in cells],
            measure=measure,
            unit=unit,
            subregion_per_km2={
                s.code: value(s.totals) / (s.area_m2 / 1e6)
                for s in result.sub_regions
                if s.code and s.area_m2
            },
            total=value(result.total),
            cell_km=result.cell_km,
        )


def density_map(
    region: RegionShape,
    subregions: Sequence[RegionShape],
    settings: MapSettings,
    *,
    density: DensityData,
    rows: OutletRows | None = None,
    coords: OutletCoords | None = None,
    title: str | None = None,
    tiled_outlets: Mapping[str, int] | None = None,
    product: str | None = None,
) -> folium.Map:
    """``product``: the product the sales are filtered by, named in the title and the legends
    (a map of one product's sales must not read as the whole range's)."""
    t = settings.translator
    default_title = f"{region.name} · {t('Sales density map')}"
    if product:
        default_title += f" · {product}"
    rmap = RegionMap(region, subregions, settings, title=title or default_title)
    unit = t("yuan") if density.measure == "amount" else (density.unit or t("cases"))
    _subregions(rmap, density, unit, product)
    _cells(rmap, density, unit, product)
    add_outlets(rmap, rows, coords, tiers_shown=("distributor",), tiled=tiled_outlets)
    return rmap.finish()


def _fmt(t, value: float, measure: str) -> str:
    return t.money(value) if measure == "amount" else t.number(value, 0 if value >= 100 else 1)


def _subregions(rmap: RegionMap, density: DensityData, unit: str, product: str | None) -> None:
    t = rmap.t
    values = {c: v for c, v in (density.subregion_per_km2 or {}).items() if c in rmap.sub_geoms}
    if not values:
        return
    names = {s.code: s.name for s in rmap.subregions}
    rmap.choropleth(
        [rmap.sub_geoms[c] for c in values],
        list(values.values()),
        quantile_classes(list(values.values()), DENSITY_SCHEME, 5),
        name=t("Sales per km² by sub-region"),
        ids=list(values),
        names=[names[c] for c in values],
        text=lambda v: f"{t.number(v, 1)} {unit}/{t('km²')}",
        tooltip=t("Sales per km²"),
        style={"fillOpacity": 0.55, "weight": 0.6, "color": "#555555"},
        legend=t("Sales per km² by sub-region")
        + f" ({unit}/{t('km²')})"
        + (f" · {product}" if product else ""),
        legend_range=lambda lo, hi: f"{t.number(lo, 1)} – {t.number(hi, 1)}",
        show=False,
    )


def _cells(rmap: RegionMap, density: DensityData, unit: str, product: str | None) -> None:
    t = rmap.t
    value = np.asarray(density.value, dtype=np.float64)
    if value.size == 0:
        return
    geoms = np.asarray([as_shapely(g) for g in density.cells], dtype=object)
    keep = value > 0
    geoms, value = geoms[keep], value[keep]
    if value.size == 0:
        return
    common = dict(
        name=t("Sales per cell"),
        tooltip=t("Sales"),
        style={"fillOpacity": 0.7, "color": "#ffffff", "weight": 0.3},
        legend=t("Sales per cell ({unit})", unit=unit) + (f" · {product}" if product else ""),
        legend_range=lambda lo, hi: (
            f"{_fmt(t, lo, density.measure)} – {_fmt(t, hi, density.measure)}"
        ),
        note=t("quantile classes"),
    )
    if rmap.tiled_cells(value.size):  # every kept cell, as vector tiles (maps.vector_tiles)
        field = "amount" if density.measure == "amount" else "quantity"
        fmt = {"kind": "money" if density.measure == "amount" else "qty"}
        classes = quantile_classes(value, DENSITY_SCHEME, 5)
        rmap.tile_choropleth("density", field, classes, fmt=fmt, positive=True, **common)
    else:
        if value.size > MAX_CELL_FEATURES:
            # the densest cells matter most; the rest stay in the heat map
            top = np.argsort(-value, kind="stable")[:MAX_CELL_FEATURES]
            geoms_drawn, value_drawn = geoms[top], value[top]
        else:
            geoms_drawn, value_drawn = geoms, value
        rmap.choropleth(
            rmap.frame.geometry(geoms_drawn),
            value_drawn,
            quantile_classes(value_drawn, DENSITY_SCHEME, 5),
            text=lambda v: _fmt(t, v, density.measure),
            **common,
        )

    centres = shapely.get_coordinates(shapely.centroid(geoms))
    x, y = rmap.frame.xy(centres[:, 0], centres[:, 1])
    weight = value / value.max()
    heat = HeatMap(
        np.column_stack([y, x, np.round(weight, 3)]).tolist(),
        name=t("Heat map"),
        radius=18,
        blur=22,
        min_opacity=0.25,
        show=False,
    )
    rmap.map.add_child(heat)
    rmap.add_legend(
        t("Heat map"),
        [
            ("box", c, None, lab)
            for c, lab in (
                ("#0000ff", f"{_fmt(t, 0, density.measure)}"),
                ("#00ffff", ""),
                ("#00ff00", ""),
                ("#ffff00", ""),
                (
                    "#ff0000",
                    f"{_fmt(t, float(value.max()), density.measure)} ({t('Sales per cell')})",
                ),
            )
        ],
        layer=heat,
    )
