"""One call per page: what the region page (key figures, breadcrumb, sub-regions, the filter
form's choices), the distributor page (depth and breadth, plan achievement, sales) and the
outlet page (details, supply chain, sales, debt, location history) show.

A region's figures cover every outlet of the region, as its analyses do; the choices offered
and the counts of outlets below an outlet are those ``user`` may see. A page is an HTTP
request: its analyses build at most ``LIMITS.max_cells_http`` hexagon cells
(:func:`~geo_crm.analysis.params.params_for_page`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.orm import Session

from ..domain.geotagging import history_points
from ..domain.network import distributors_in, downstream_counts, upstream
from ..domain.network_reach import NetworkReach, network_reach
from ..domain.outlets import get_outlet
from ..domain.principal import Principal
from ..domain.region_counts import (
    active_tier_counts,
)
from ..domain.regions import RegionInfo, RegionRef, ancestors, get_region, map_region_for
from ..domain.regions import region_ref as find_region_ref
from ..domain.regions import subregions as child_regions
from ..domain.sales import SalesFilters, buyer_debt, list_products, sales_summary, seller_summary
from ..errors import NotFound
from ..models import TIERS
from . import cache
from .distribution import DepthResult, PlanMonth, distribution_rate, distributor_depth
from .distribution import plan_months as plan_rows
from .params import MapFilters, params_for_page
from .region_maps import check_distributor


@dataclass
class KeyFigures:
    """The figures beside a region's map, for the form's filters."""

    outlets: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TIERS, 0))
    by_child: dict[int | None, dict[str, int]] = field(default_factory=dict)
    coverage: dict[str, float] = field(default_factory=dict)  # tier or "all" -> ratio
    gaps: int = 0  # gap cells
    gap_cells: int = 0  # cells in the grid
    white_space: int = 0  # sub-regions without an outlet
    sales_amount: Decimal = Decimal(0)
    sales_debt: Decimal = Decimal(0)
    sales_records: int = 0
    sales_per_km2: float | None = None
    distribution_rate: float | None = None  # None without a product (or retail outlets)
    cell_km: float | None = None
    # coverage and gaps come from the analysis cache: "fresh", "stale" (the figures are those
    # as of ``as_of``, being updated) or "computing" (none yet: being computed)
    analysis_state: str = "fresh"
    as_of: dt.datetime | None = None

    @property
    def updating(self) -> bool:
        return self.analysis_state != "fresh"

    @property
    def total_outlets(self) -> int:
        return sum(self.outlets.values())


def key_figures(
    session: Session, region: RegionInfo, f: MapFilters, enqueue: cache.Enqueue | None = None
) -> KeyFigures:
    """Active outlets per tier (in all and per sub-region), coverage ratio per tier, gaps,
    white space, sales, debt and density of the period, and the product's distribution rate.
    Coverage and gaps are the cached analyses the maps draw (:func:`cache.cached`; ``enqueue``
    queues a recomputation): the oldest of the two gives ``as_of``."""
    k = KeyFigures()
    k.by_child = active_tier_counts(session, region.id)  # the kept totals (migration 0007)
    for counts in k.by_child.values():
        for tier, n in counts.items():
            k.outlets[tier] += n
    totals = sales_summary(
        session,
        SalesFilters(
            date_from=f.date_from, date_to=f.date_to, product=f.product, region=region.code
        ),
    )
    k.sales_records, k.sales_amount, k.sales_debt = totals.records, totals.amount, totals.debt
    if region.area_m2:
        k.sales_per_km2 = float(totals.amount) / (region.area_m2 / 1e6)
    got = {
        kind: cache.cached(
            session,
            kind,
            region.code,
            cache.page_params(kind, f, region.area_m2),
            cells=False,
            enqueue=enqueue,
        )
        for kind in ("coverage", "gaps")
    }
    states = {g.state for g in got.values()}
    k.analysis_state = next(s for s in ("computing", "stale", "fresh") if s in states)
    times = [g.computed_at for g in got.values() if g.computed_at is not None]
    k.as_of = min(times) if times and k.updating else None
    cov, grid = got["coverage"].result, got["gaps"].result
    if cov is not None:
        k.coverage = {t.tier: t.ratio for t in cov.by_tier} | {"all": cov.region.ratio}
    if grid is not None:
        k.gaps, k.gap_cells, k.cell_km = grid.gap_cells, grid.cells, grid.cell_km
        k.white_space = len(grid.white_space)
    if f.product:
        retail = params_for_page(f, tiers=("retail",))
        k.distribution_rate = distribution_rate(session, region.code, retail).overall.rate
    return k


@dataclass
class RegionOverview:
    """A region page; without the breadcrumb and the form's choices for the figures alone."""

    region: RegionInfo
    figures: KeyFigures
    children: list[RegionInfo]
    crumbs: list[RegionInfo] = field(default_factory=list)  # top first
    products: list[dict] = field(default_factory=list)  # active, for the form
    distributors: list[tuple[str, str]] = field(default_factory=list)  # (code, name), for the form


def region_overview(
    session: Session,
    user: Principal | None,
    code: str,
    f: MapFilters,
    *,
    figures_only: bool = False,
    enqueue: cache.Enqueue | None = None,
) -> RegionOverview:
    """The region page of ``code`` (404 when there is none) for the form's filters; its
    distributor must be one ``user`` may see (a 422 on ``query.distributor``). The caller
    commits (the analysis cache may store a result or queue a job: ``enqueue``)."""
    region = get_region(session, code)
    check_distributor(session, f.distributor, user)
    overview = RegionOverview(
        region, key_figures(session, region, f, enqueue), child_regions(session, region.id)
    )
    if not figures_only:
        overview.crumbs = ancestors(session, region.id)
        overview.products = list_products(session, active=True)
        overview.distributors = distributors_in(session, code, user=user)
    return overview


class NotADistributor(NotFound):
    """A distributor page asked of an outlet of another tier."""


@dataclass
class DistributorOverview:
    outlet: dict
    reach: NetworkReach  # outlets below it per tier that the user may see: reached, on the map…
    depth: DepthResult
    plans: list[PlanMonth]  # the period's last year, then the year so far
    sales: dict  # what it sold in the period and its buyers owe it
    map_region: RegionRef | None  # where its network map opens

    @property
    def breadth(self) -> float | None:
        return self.depth.breadth if self.depth.units else None

    @property
    def deepest(self) -> str | None:
        """The lowest tier the network reaches (active outlets)."""
        return self.reach.deepest


def distributor_overview(
    session: Session, user: Principal | None, outlet_id: int, f: MapFilters
) -> DistributorOverview:
    """The distributor page of outlet ``outlet_id`` (resolved in ``user``'s scope by the
    caller); :class:`NotADistributor` (404) for an outlet of another tier."""
    outlet = get_outlet(session, outlet_id)
    if outlet["tier"] != "distributor":
        raise NotADistributor(f"{outlet['code']} is not a distributor")
    year = (f.date_to or dt.date.today()).year
    return DistributorOverview(
        outlet=outlet,
        reach=network_reach(session, outlet_id, user),
        depth=distributor_depth(
            session,
            outlet["code"],
            params_for_page(f).with_(distributor=None),
            cell_km=f.cell_km,
        ),
        plans=plan_rows(session, outlet["code"], year, product=f.product),
        sales=seller_summary(session, outlet_id, date_from=f.date_from, date_to=f.date_to),
        map_region=map_region_for(session, outlet["region_id"]),
    )


@dataclass
class OutletOverview:
    outlet: dict
    chain: list[dict]  # its sellers up to the distributor, nearest first
    region: RegionRef | None
    history: list[dict]  # geotag events, oldest first
    buyers: dict[str, int]  # outlets below it per tier that the user may see
    debt: dict  # what it owes
    sold: dict  # what it sold in the period and its buyers owe it


def outlet_overview(
    session: Session, user: Principal | None, outlet_id: int, f: MapFilters
) -> OutletOverview:
    """The outlet page of outlet ``outlet_id`` (resolved in ``user``'s scope by the caller)."""
    outlet = get_outlet(session, outlet_id)
    region_id = outlet["region_id"]
    return OutletOverview(
        outlet=outlet,
        chain=upstream(session, outlet_id, user)[1:],
        region=find_region_ref(session, region_id) if region_id is not None else None,
        history=history_points(session, outlet_id),
        buyers=downstream_counts(session, outlet_id, user),
        debt=buyer_debt(session, outlet_id),
        sold=seller_summary(session, outlet_id, date_from=f.date_from, date_to=f.date_to),
    )
