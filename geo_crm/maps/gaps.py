"""Gap map: hexagon cells no outlet reaches, coloured by distance to the nearest outlet, the
white-space sub-regions, and the worst gaps listed beside the map (a click zooms to each).

Adjacent gap cells usually belong to one hole in the network, so the list does not show the top
cells (they would all be neighbours) but distinct holes: the worst cell first, then the worst
cell outside the empty disc around every hole already listed (that disc — radius = the cell's
distance to the nearest outlet — is exactly where no outlet is). Clicking a hole zooms to its
disc, whose rim holds the nearest outlets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import folium
import numpy as np
import shapely

from ..analysis.geometry.geodesy import EARTH_MEAN_R, haversine_m
from .base import MapSettings, RegionMap, RegionShape, as_shapely, fmt_km
from .elements import SidePanel
from .points import add_outlets
from .safe import safe_text
from .style import GAP_SCHEME, quantile_classes

if TYPE_CHECKING:
    from ..analysis.gaps import GapsResult
    from ..domain.outlet_layers import OutletCoords, OutletRows

MAX_CELL_FEATURES = 3000  # beyond this, cells of one class are merged into one shape
WORST_LISTED = 15


@dataclass
class GapData:
    """Gap cells (WGS-84 polygons, GeoJSON or shapely) with metres to the nearest outlet."""

    cells: Sequence[Mapping | shapely.Geometry] = ()
    distance_m: Sequence[float] = ()
    white_space: Sequence[str] = ()  # sub-region codes without any outlet of the tier
    tier: str | None = None
    radius_m: float | None = None
    total_cells: int | None = None  # cells in the grid, gaps or not (for the caption)
    gap_cells: int | None = None  # gap cells in the grid (``cells`` may hold only the worst)
    cell_km: float | None = None
    centres: Sequence[tuple[float, float]] | None = None  # lon, lat; else cell centroids

    @classmethod
    def from_result(cls, result: GapsResult) -> GapData:
        """What a gaps result draws: its worst cells with outlines (inf: no outlet at all),
        the white-space sub-regions, and the totals for the caption."""
        worst = [c for c in result.worst if c.outline]
        return cls(
            cells=[{"type": "Polygon", "coordinates": [c.outline]} for c in worst],
            distance_m=[c.distance_m if c.distance_m is not None else math.inf for c in worst],
            centres=[(c.lon, c.lat) for c in worst],
            white_space=[w.code for w in result.white_space],
            tier=result.tiers[0] if len(result.tiers) == 1 else None,
            radius_m=min(result.radius_m.values()) if result.radius_m else None,
            total_cells=result.cells,
            gap_cells=result.gap_cells,
            cell_km=result.cell_km,
        )


@dataclass
class Hole:
    rank: int
    lon: float
    lat: float
    distance_m: float
    cells: int
    subregion: str | None = None
    bounds: tuple[float, float, float, float] = field(default=(0, 0, 0, 0))  # s, w, n, e (drawn)


def worst_holes(
    lon: np.ndarray,
    lat: np.ndarray,
    distance: np.ndarray,
    limit: int = WORST_LISTED,
    min_separation_m: float = 0.0,
) -> list[Hole]:
    """Distinct holes, worst first (see module docstring); vectorised over the cells per pick."""
    remaining = np.ones(lon.size, dtype=bool)
    order = np.argsort(-distance, kind="stable")
    holes: list[Hole] = []
    for i in order:
        if len(holes) >= limit:
            break
        if not remaining[i]:
            continue
        reach = max(float(distance[i]), min_separation_m)
        near = haversine_m(lon[i], lat[i], lon, lat) <= reach
        holes.append(
            Hole(
                len(holes) + 1,
                float(lon[i]),
                float(lat[i]),
                float(distance[i]),
                int((near & remaining).sum()),
            )
        )
        remaining &= ~near
    return holes


def gap_map(
    region: RegionShape,
    subregions: Sequence[RegionShape],
    settings: MapSettings,
    *,
    gaps: GapData,
    rows: OutletRows | None = None,
    coords: OutletCoords | None = None,
    title: str | None = None,
    tiled_outlets: Mapping[str, int] | None = None,
) -> folium.Map:
    t = settings.translator
    rmap = RegionMap(region, subregions, settings, title=title or f"{region.name} · {t('Gap map')}")
    _white_space(rmap, gaps.white_space)
    holes = _cells(rmap, gaps)
    add_outlets(rmap, rows, coords, tiled=tiled_outlets)
    items = []
    for h in holes:
        where = f" · {safe_text(h.subregion)}" if h.subregion else ""
        html = (
            f'<span class="gc-km">{safe_text(fmt_km(t, h.distance_m))}</span>{where}'
            f"<br><small>{safe_text(t('Cells'))}: {safe_text(t.number(h.cells))}</small>"
        )
        items.append((html, h.bounds))
    footer = None
    total = gaps.gap_cells if gaps.gap_cells is not None else len(gaps.distance_m)
    rest = max(0, total - sum(h.cells for h in holes))
    if rest:
        footer = t("{n} more gap cells not listed", n=t.number(rest))
    rmap.map.add_child(
        SidePanel(
            t("Worst gaps"),
            items,
            note=t("Click a gap to zoom to it") if items else None,
            empty=t("No gaps"),
            footer=footer,
        )
    )
    return rmap.finish()


def _white_space(rmap: RegionMap, codes: Sequence[str]) -> None:
    t = rmap.t
    names = {s.code: s.name for s in rmap.subregions}
    shown = [c for c in codes if c in rmap.sub_geoms]
    if not shown:
        return
    colour = "#d50000"
    layer = rmap.outline_layer(
        [rmap.sub_geoms[c] for c in shown],
        name=t("White-space sub-regions"),
        ids=shown,
        names=[names[c] for c in shown],
        colours=colour,
        weight=2.5,
        dash="8 4",
        fill_opacity=0.10,
    )
    rmap.add_legend(
        t("White-space sub-regions"),
        [("box", colour, None, t("White-space sub-regions"))],
        layer=layer,
        note=f"{t.number(len(shown))}",
    )


def _cells(rmap: RegionMap, gaps: GapData) -> list[Hole]:
    t = rmap.t
    n = len(gaps.distance_m)
    if n == 0:
        return []
    geoms = np.asarray([as_shapely(g) for g in gaps.cells], dtype=object)
    distance = np.asarray(gaps.distance_m, dtype=np.float64)
    if gaps.centres is not None:
        centres = np.asarray(gaps.centres, dtype=np.float64).reshape(-1, 2)
    else:
        centres = shapely.get_coordinates(shapely.centroid(geoms))
    common = dict(
        name=t("Gap cells"),
        tooltip=t("Distance to the nearest outlet"),
        style={"fillOpacity": 0.65, "color": "#ffffff", "weight": 0.3},
        legend=t("Gap cells by distance to the nearest outlet"),
        legend_range=lambda lo, hi: f"{fmt_km(t, lo)} – {fmt_km(t, hi)}",
        no_data_class=-1,  # no outlet at all: the worst class
        note=(t("Service radius") + f": {fmt_km(t, gaps.radius_m)}" if gaps.radius_m else None),
    )
    classes = quantile_classes(distance, GAP_SCHEME, 5)
    if rmap.tiled_cells(n):  # the kept result's cells as vector tiles (maps.vector_tiles)
        fmt = {"kind": "km", "unit": t("km")}
        rmap.tile_choropleth("gaps", "distance_m", classes, fmt=fmt, **common)
    else:
        rmap.choropleth(
            rmap.frame.geometry(geoms),
            distance,
            classes,
            text=lambda d: fmt_km(t, d),
            merge_above=MAX_CELL_FEATURES,
            **common,
        )

    holes = worst_holes(centres[:, 0], centres[:, 1], distance)
    _locate(rmap, holes)
    return holes


def _locate(rmap: RegionMap, holes: list[Hole]) -> None:
    """Bounds (drawn coordinates) of each hole's empty disc, and the sub-region it lies in."""
    if not holes:
        return
    lon = np.array([h.lon for h in holes])
    lat = np.array([h.lat for h in holes])
    dx, dy = rmap.frame.xy(lon, lat)
    codes = [s.code for s in rmap.subregions]
    names = [s.name for s in rmap.subregions]
    tree = shapely.STRtree([rmap.sub_geoms[c] for c in codes]) if codes else None
    pts = shapely.points(dx, dy)
    where: dict[int, str] = {}
    if tree is not None:
        hit_pt, hit_geom = tree.query(pts, predicate="intersects")
        for p, g in zip(hit_pt.tolist(), hit_geom.tolist(), strict=True):
            where.setdefault(p, names[g])
    for i, h in enumerate(holes):
        if not math.isfinite(h.distance_m):  # no outlet anywhere: the whole region is the hole
            (s, w), (n, e) = rmap.fit
            h.bounds = (s, w, n, e)
            h.subregion = where.get(i)
            continue
        reach = max(h.distance_m, 500.0)
        dlat = math.degrees(reach / EARTH_MEAN_R)
        dlon = dlat / max(math.cos(math.radians(float(dy[i]))), 0.05)
        h.bounds = (
            float(dy[i]) - dlat,
            float(dx[i]) - dlon,
            float(dy[i]) + dlat,
            float(dx[i]) + dlon,
        )
        h.subregion = where.get(i)
