"""Adapters from the analysis services (coverage, gaps, density, distribution) to what the maps
and key figures draw. Each returns None while its service is not installed, so pages still
show boundaries and outlets and say which figure is missing.

Form → parameters: the selected tiers (all when none is ticked), the distributor, product and
period go through as they are; the one "radius" field overrides the service radius of every
selected tier (empty: each tier's default, documented in docs/analyses.md); an empty cell size
is chosen from the region's area so a map holds about ``TARGET_CELLS`` hexagons.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import math
from dataclasses import dataclass
from decimal import Decimal
from types import ModuleType

from flask import g
from sqlalchemy.orm import Session

from ..analysis.params import TARGET_CELLS as TARGET_CELLS
from ..analysis.params import auto_cell_km as auto_cell_km
from ..analysis.params import params_for_page as params
from ..maps.coverage import Catchment, CoverageData
from ..maps.density import DensityData
from ..maps.gaps import GapData
from .filters import MapFilters

LOGGER = logging.getLogger(__name__)

MAX_CATCHMENTS = 12  # distributor catchments drawn on a region's coverage map
PER_TIER_OUTLINE_MAX = 20_000  # a tier with more outlets shows only in the whole-network outline


def _service(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"geo_crm.analysis.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"geo_crm.analysis.{name}":
            raise
        return None


def _cached(key, compute):
    """One computation per request even when the page and its figures both ask."""
    cache = g.setdefault("analysis_cache", {})
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def coverage(session: Session, region_code: str, f: MapFilters) -> CoverageData | None:
    """Coverage ratios per tier and for the whole network, for the key figures (the map's
    outlines and sub-region ratios come from :func:`geo_crm.web.maps.coverage_data`)."""
    svc = _service("coverage")
    if svc is None:
        return None

    def compute() -> CoverageData:
        p = params(f)
        result = svc.coverage(session, region_code, p, geometry=False, sub_regions=False)
        return CoverageData(
            ratio={t.tier: t.ratio for t in result.by_tier} | {"all": result.region.ratio},
            radii=dict(result.radius_m),
        )

    return _cached(("coverage", region_code, repr(f)), compute)


def gaps(
    session: Session,
    region_code: str,
    f: MapFilters,
    *,
    area_m2: float | None = None,
    cells: bool = True,
) -> GapData | None:
    svc = _service("gaps")
    if svc is None:
        return None
    return _cached(
        ("gaps", region_code, repr(f), cells),
        lambda: _gaps(svc, session, region_code, f, area_m2, cells),
    )


def _gaps(svc, session: Session, region_code: str, f: MapFilters, area_m2, cells: bool) -> GapData:
    p = params(f, area_m2=area_m2)
    result = svc.gaps(session, region_code, p, limit=svc.MAX_LIMIT if cells else 0, geometry=cells)
    worst = [c for c in result.worst if c.outline]
    return GapData(
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


def density(
    session: Session, region_code: str, f: MapFilters, *, area_m2: float | None = None
) -> DensityData | None:
    svc = _service("density")
    if svc is None:
        return None
    return _cached(
        ("density", region_code, repr(f)), lambda: _density(svc, session, region_code, f, area_m2)
    )


def _density(svc, session: Session, region_code: str, f: MapFilters, area_m2) -> DensityData:
    # sales of outlets closed since still count (the service's default for density)
    p = params(f, area_m2=area_m2).with_(status=None)
    result = svc.density(session, region_code, p, limit=svc.MAX_LIMIT, geometry=True)
    quantity = f.measure == "quantity"

    def value(totals) -> float:
        return float(totals.quantity if quantity else totals.amount)

    cells = result.cells
    unit = None
    if quantity and f.product:
        from ..domain.sales import product_unit

        unit = product_unit(session, f.product)
    return DensityData(
        cells=[{"type": "Polygon", "coordinates": [c.outline]} for c in cells],
        value=[value(c.totals) for c in cells],
        measure=f.measure,
        unit=unit,
        subregion_per_km2={
            s.code: value(s.totals) / (s.area_m2 / 1e6)
            for s in result.sub_regions
            if s.code and s.area_m2
        },
        total=value(result.total),
        cell_km=result.cell_km,
    )


def distribution_rate(session: Session, region_code: str, f: MapFilters) -> float | None:
    svc = _service("distribution")
    if svc is None or not f.product:
        return None
    p = params(f, tiers=("retail",))
    return svc.distribution_rate(session, region_code, p).overall.rate


def depth(session: Session, distributor_code: str, f: MapFilters):
    """The distributor's depth, breadth and catchment (the service's DepthResult), or None."""
    svc = _service("distribution")
    if svc is None:
        return None
    return _cached(
        ("depth", distributor_code),
        lambda: svc.distributor_depth(session, distributor_code, params(f).with_(distributor=None)),
    )


def catchment(session: Session, distributor_code: str) -> dict | None:
    result = depth(session, distributor_code, MapFilters())
    return result.catchment if result is not None else None


def catchments(
    session: Session, distributors: list[tuple[str, str]], f: MapFilters
) -> list[Catchment]:
    """Catchments of the distributor in the filter, else of every distributor when they are few."""
    if _service("distribution") is None:
        return []
    chosen = [d for d in distributors if d[0] == f.distributor] if f.distributor else distributors
    if len(chosen) > MAX_CATCHMENTS:
        return []
    out = []
    for code, name in chosen:
        hull = catchment(session, code)
        if hull and hull.get("type") in ("Polygon", "MultiPolygon"):
            out.append(Catchment(code, name, hull))
    return out


@dataclass
class PlanMonth:
    month: dt.date | None  # None: the year so far
    plan: Decimal
    actual: Decimal

    @property
    def ratio(self) -> float | None:
        return float(self.actual / self.plan) if self.plan else None


def plan_achievement(
    session: Session, distributor_code: str, f: MapFilters
) -> list[PlanMonth] | None:
    """Plan vs actual amount per month of the period's last year (all products), then the year."""
    svc = _service("distribution")
    if svc is None:
        return None
    year = (f.date_to or dt.date.today()).year
    result = svc.plan_achievement(session, distributor_code, year, product=f.product)
    months: dict[dt.date, PlanMonth] = {}
    for row in result.rows:
        m = months.setdefault(row.month, PlanMonth(row.month, Decimal(0), Decimal(0)))
        m.plan += row.target_amount or Decimal(0)
        m.actual += row.actual_amount
    out = [months[k] for k in sorted(months)]
    if out:
        out.append(
            PlanMonth(
                None,
                sum((m.plan for m in out), Decimal(0)),
                sum((m.actual for m in out), Decimal(0)),
            )
        )
    return out
