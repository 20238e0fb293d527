"""A region map of any kind from what ``analysis.region_maps.region_map`` read: the kind picks
the builder (coverage, gaps, density, network); the results become the builders' data through
their ``from_result`` converters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import folium

from .base import MapSettings, RegionShape
from .coverage import CoverageData, coverage_map
from .density import DensityData, density_map
from .gaps import GapData, gap_map
from .network import network_map

if TYPE_CHECKING:
    from ..analysis.region_maps import RegionMapData


def region_map(data: RegionMapData, settings: MapSettings) -> folium.Map:
    """The Folium map of ``data.kind``, named in ``settings``' language."""
    t = settings.translator
    region = RegionShape.from_info(data.region, t)
    subs = [RegionShape.from_info(s, t) for s in data.subregions]
    if data.kind == "network":
        return network_map(
            region,
            subs,
            settings,
            distributor_name=data.distributor.name,
            rows=data.network,
            parent_index=data.parent_index,
            catchment=data.catchment,
            reach=data.reach,
        )
    rows, coords = data.layer.rows, data.layer.coords
    tiled = dict(data.layer.counts) if data.outlets_tiled else None  # from the outlet tiles
    if data.kind == "coverage":
        coverage = CoverageData.from_result(
            data.coverage, not_drawn=data.not_drawn, catchments=data.catchments
        )
        return coverage_map(
            region, subs, settings, coverage=coverage, rows=rows, coords=coords, tiled_outlets=tiled
        )
    if data.kind == "gaps":
        gaps = GapData.from_result(data.gaps)
        return gap_map(
            region, subs, settings, gaps=gaps, rows=rows, coords=coords, tiled_outlets=tiled
        )
    density = DensityData.from_result(data.density, measure=data.measure, unit=data.unit)
    return density_map(
        region,
        subs,
        settings,
        density=density,
        rows=rows,
        coords=coords,
        product=data.product,
        tiled_outlets=tiled,
    )
