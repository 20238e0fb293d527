"""Key figures shown beside a region's map: outlets, coverage per tier, gaps, sales and density,
distribution rate. Each figure comes from its service; a missing service leaves it empty."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ..domain.outlets import region_tier_counts
from ..domain.sales import SalesFilters, sales_summary
from ..models import TIERS
from . import analysis
from .filters import MapFilters
from .mapdata import RegionInfo


@dataclass
class KeyFigures:
    outlets: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TIERS, 0))
    by_child: dict[int | None, dict[str, int]] = field(default_factory=dict)
    coverage: dict[str, float] | None = None  # tier or "all" -> ratio
    gaps: int | None = None
    gap_cells: int | None = None
    white_space: int | None = None
    sales_amount: object = None
    sales_debt: object = None
    sales_records: int = 0
    sales_per_km2: float | None = None
    distribution_rate: float | None = None
    cell_km: float | None = None
    missing: list[str] = field(default_factory=list)

    @property
    def total_outlets(self) -> int:
        return sum(self.outlets.values())


def key_figures(session: Session, info: RegionInfo, f: MapFilters) -> KeyFigures:
    k = KeyFigures()
    k.by_child = region_tier_counts(session, info.id, ["active"])
    for counts in k.by_child.values():
        for tier, n in counts.items():
            k.outlets[tier] += n
    totals = sales_summary(
        session,
        SalesFilters(date_from=f.date_from, date_to=f.date_to, product=f.product, region=info.code),
    )
    k.sales_records, k.sales_amount, k.sales_debt = totals.records, totals.amount, totals.debt
    if info.area_m2:
        k.sales_per_km2 = float(totals.amount) / (info.area_m2 / 1e6)
    cov = analysis.coverage(session, info.code, f)
    if cov is None:
        k.missing.append("coverage")
    else:
        k.coverage = dict(cov.ratio)
    gaps = analysis.gaps(session, info.code, f, area_m2=info.area_m2, cells=False)
    if gaps is None:
        k.missing.append("gaps")
    else:
        k.gaps = gaps.gap_cells
        k.gap_cells = gaps.total_cells
        k.white_space = len(gaps.white_space)
        k.cell_km = gaps.cell_km
    k.distribution_rate = analysis.distribution_rate(session, info.code, f)
    return k
