"""The analyses over HTTP: coverage, gaps, sales density and distribution rate of a region;
depth and plan achievement of a distributor. JSON numbers plus GeoJSON where there is geometry.

Views only parse, call the service and serialise. A bad parameter is a 422 whose ``fields``
name it (``query.radius_retail``, ``query.cell_km`` …); an unknown region or distributor in the
path is a 404. Bounds are ``analysis.params.LIMITS`` (the pages and the CLI check the same);
grids are capped at ``LIMITS.max_cells_http`` cells per request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Literal

from flask import jsonify
from pydantic import Field

from ..analysis import coverage as coverage_service
from ..analysis import density as density_service
from ..analysis import distribution as distribution_service
from ..analysis import gaps as gaps_service
from ..analysis.params import DEFAULT_CELL_KM, LIMITS, AnalysisParams
from ..auth.policy import current_user
from ..db import get_session
from ..errors import ValidationError
from ..models import OUTLET_STATUSES, TIERS
from .framework import Query, operation
from .schemas import Tier

TAGS = ["analyses"]

StatusOrAny = Literal[(*OUTLET_STATUSES, "any")]  # type: ignore[valid-type]

Radius = Field(None, gt=0, le=LIMITS.max_radius_m, description="service radius of the tier, metres")


CellKm = Field(
    DEFAULT_CELL_KM,
    ge=LIMITS.min_cell_km,
    le=LIMITS.max_cell_km,
    description="hexagon width across flats, km",
)


class FilterQuery(Query):
    tier: list[Tier] = Field(
        default_factory=lambda: list(TIERS),
        description="tiers analysed (repeat or comma-separate; default all)",
    )
    distributor: str | None = Field(
        None, min_length=1, max_length=64, description="only this distributor's network"
    )
    status: StatusOrAny = Field("active", description="outlet status (default active)")
    product: str | None = Field(None, min_length=1, max_length=64, description="product SKU")
    date_from: dt.date | None = Field(None, description="period start (inclusive)")
    date_to: dt.date | None = Field(None, description="period end (inclusive)")

    def params(self, **extra) -> AnalysisParams:
        radius = {
            t: getattr(self, f"radius_{t}")
            for t in TIERS
            if getattr(self, f"radius_{t}", None) is not None
        }
        base = AnalysisParams(
            tiers=tuple(self.tier),
            distributor=self.distributor,
            status=None if self.status == "any" else self.status,
            product=self.product,
            date_from=self.date_from,
            date_to=self.date_to,
            max_cells=LIMITS.max_cells_http,
        )
        if radius:
            base = base.with_(radius_m={**base.radius_m, **radius})
        return base.with_(**extra)


class RadiusQuery(FilterQuery):
    radius_distributor: float | None = Radius
    radius_wholesaler_2: float | None = Radius
    radius_wholesaler_3: float | None = Radius
    radius_retail: float | None = Radius


class CoverageQuery(RadiusQuery):
    geometry: bool = Field(True, description="include the covered area as GeoJSON")
    simplify_m: float | None = Field(
        None, ge=0, le=10_000, description="outline simplification, metres"
    )
    sub_regions: bool = Field(True, description="include per sub-region ratios")


class GapsQuery(RadiusQuery):
    cell_km: float = CellKm
    limit: int = Field(
        gaps_service.DEFAULT_LIMIT,
        ge=0,
        le=gaps_service.MAX_LIMIT,
        description="gap cells returned as polygons, worst first (totals are exact)",
    )
    geometry: bool = True


class DensityQuery(FilterQuery):
    status: StatusOrAny = Field("any", description="buyer status (default any)")
    cell_km: float = CellKm
    limit: int = Field(
        density_service.DEFAULT_LIMIT,
        ge=0,
        le=density_service.MAX_LIMIT,
        description="cells returned, largest amount first (totals are exact)",
    )
    geometry: bool = True


class RateQuery(FilterQuery):
    tier: list[Tier] = Field(
        default_factory=lambda: ["retail"], description="buyer tiers (default retail)"
    )
    product: str = Field(..., min_length=1, max_length=64, description="product SKU (required)")


class DepthQuery(Query):
    status: StatusOrAny = Field("active", description="outlet status (default active)")
    territory: str | None = Field(
        None,
        min_length=1,
        max_length=32,
        description="measure breadth over this region's sub-regions instead",
    )
    cell_km: float | None = Field(
        None,
        ge=LIMITS.min_cell_km,
        le=LIMITS.max_cell_km,
        description="hexagon width of the territory breadth, km (default: from its area)",
    )


class PlanQuery(Query):
    year: int = Field(default_factory=lambda: dt.date.today().year, ge=1900, le=9999)
    month_to: int | None = Field(None, ge=1, le=12, description="last month included")
    product: str | None = Field(None, min_length=1, max_length=64, description="product SKU")


def _answer(analysis: Callable, *args, **kwargs):
    """Run ``analysis`` on the request's session as the caller (a distributor or territory
    outside their scope is as unknown as a missing one) and answer its result as JSON; its
    parameter errors name query parameters."""
    try:
        result = analysis(get_session(), *args, user=current_user(), **kwargs)
    except ValidationError as exc:
        exc.fields = {
            k if k.startswith("query.") else f"query.{k}": v for k, v in exc.fields.items()
        }
        raise
    return jsonify(result.to_dict())


_REGION_RESPONSES = {200: None, 404: None, 422: None}


@operation(
    "/regions/<code>/coverage",
    "GET",
    summary="Covered area and coverage ratio of a region",
    tags=TAGS,
    query=CoverageQuery,
    responses=_REGION_RESPONSES,
)
def region_coverage(code: str, query: CoverageQuery):
    """Covered area (m², km²) and ratio per tier, per sub-region, with the covered outline."""
    return _answer(
        coverage_service.coverage,
        code,
        query.params(),
        sub_regions=query.sub_regions,
        geometry=query.geometry,
        simplify_m=query.simplify_m,
    )


@operation(
    "/regions/<code>/gaps",
    "GET",
    summary="Coverage gaps of a region on a hexagon grid",
    tags=TAGS,
    query=GapsQuery,
    responses=_REGION_RESPONSES,
)
def region_gaps(code: str, query: GapsQuery):
    """Gap cells worst first (GeoJSON), their totals and white-space sub-regions."""
    return _answer(
        gaps_service.gaps,
        code,
        query.params(cell_km=query.cell_km),
        limit=query.limit,
        geometry=query.geometry,
    )


@operation(
    "/regions/<code>/density",
    "GET",
    summary="Sales density per hexagon cell and sub-region",
    tags=TAGS,
    query=DensityQuery,
    responses=_REGION_RESPONSES,
)
def region_density(code: str, query: DensityQuery):
    """Sales amount and quantity by the buyer's location, absolute and per km²."""
    return _answer(
        density_service.density,
        code,
        query.params(cell_km=query.cell_km),
        limit=query.limit,
        geometry=query.geometry,
    )


@operation(
    "/regions/<code>/distribution-rate",
    "GET",
    summary="Distribution rate (铺货率) of a product",
    tags=TAGS,
    query=RateQuery,
    responses=_REGION_RESPONSES,
)
def region_distribution_rate(code: str, query: RateQuery):
    """Share of the region's retail outlets that bought the product in the period."""
    return _answer(distribution_service.distribution_rate, code, query.params())


@operation(
    "/distributors/<code>/depth",
    "GET",
    summary="Depth and breadth of a distributor's network",
    tags=TAGS,
    query=DepthQuery,
    responses=_REGION_RESPONSES,
)
def distributor_depth(code: str, query: DepthQuery):
    """Outlets per tier and hop, deepest tier, breadth, territory breadth and catchment."""
    params = AnalysisParams(
        status=None if query.status == "any" else query.status, max_cells=LIMITS.max_cells_http
    )
    return _answer(
        distribution_service.distributor_depth,
        code,
        params,
        territory=query.territory,
        cell_km=query.cell_km,
    )


@operation(
    "/distributors/<code>/plan-achievement",
    "GET",
    summary="Plan achievement of a distributor",
    tags=TAGS,
    query=PlanQuery,
    responses=_REGION_RESPONSES,
)
def distributor_plan_achievement(code: str, query: PlanQuery):
    """Plan vs actual per month and product, with year-to-date figures."""
    return _answer(
        distribution_service.plan_achievement,
        code,
        query.year,
        product=query.product,
        month_to=query.month_to,
    )
