"""The parameters every analysis shares, checked before any work starts.

Checks that need no database (radii, cell size, period) run in :meth:`AnalysisParams.check`;
names that must exist (region, product, distributor) are resolved by :func:`resolve`. Every
problem raises :class:`~geo_crm.errors.ValidationError` whose ``fields`` name the parameter
(``radius_retail``, ``cell_km``, ``product`` …) so the API and the CLI can point at it.

Rule for "not found": a missing *subject* (the region or distributor an analysis is about)
is :class:`~geo_crm.errors.NotFound` (404); a *filter* naming nothing (``product=X``,
``distributor=X`` on a region analysis) is a 422 on that parameter.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from ..domain import network
from ..domain.network import DistributorRef
from ..domain.principal import Principal
from ..domain.regions import RegionInfo, get_region
from ..domain.sales import product_id
from ..errors import NotFound, ValidationError
from ..models import OUTLET_STATUSES, TIERS

DEFAULT_SERVICE_RADIUS_M = {
    # metres a tier's outlet is taken to serve; a product decision, documented in the README
    "distributor": 30_000,
    "wholesaler_2": 10_000,
    "wholesaler_3": 5_000,
    "retail": 1_000,
}


@dataclass(frozen=True)
class Limits:
    """The bounds every way into an analysis checks (pages, API, CLI): one definition."""

    max_radius_m: float = 500_000.0  # a service radius beyond 500 km is a typo, not a decision
    min_cell_km: float = 0.05
    max_cell_km: float = 1_000.0
    # hexagon cells one analysis may build, counted from the region's area before building any:
    max_cells: int = 2_000_000  # services and the CLI (a country at 1 km fits)
    max_cells_http: int = 500_000  # any HTTP request (a large province at 1 km fits)


LIMITS = Limits()
MAX_RADIUS_M = LIMITS.max_radius_m
MIN_CELL_KM = LIMITS.min_cell_km
MAX_CELL_KM = LIMITS.max_cell_km
MAX_CELLS = LIMITS.max_cells
MAX_CELLS_API = LIMITS.max_cells_http
DEFAULT_CELL_KM = 5.0
HEX_AREA_FACTOR = math.sqrt(3) / 2  # hexagon area = factor * (across-flats width)^2
TARGET_CELLS = 3000  # hexagons on a page's map when the cell size is left to choose
NICE_CELL_KM = (0.5, 1, 2, 5, 10, 20, 50, 100)
MEASURES = ("amount", "quantity")  # what a density map sums


@dataclass(frozen=True)
class AnalysisParams:
    """Filters and settings of one analysis; defaults are documented in docs/analyses.md.

    ``status=None`` counts outlets of every status. ``radius_m`` maps tier -> metres and is
    completed with :data:`DEFAULT_SERVICE_RADIUS_M` for tiers it leaves out.
    """

    tiers: tuple[str, ...] = TIERS
    distributor: str | None = None
    status: str | None = "active"
    product: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    radius_m: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SERVICE_RADIUS_M))
    cell_km: float = DEFAULT_CELL_KM
    max_cells: int = MAX_CELLS

    def radius(self, tier: str) -> float:
        return float(self.radius_m.get(tier, DEFAULT_SERVICE_RADIUS_M[tier]))

    def with_(self, **changes) -> AnalysisParams:
        return replace(self, **changes)

    def check(self) -> AnalysisParams:
        """Refuse what no database lookup can fix; return self for chaining."""
        problems: dict[str, str] = {}
        if not self.tiers:
            problems["tier"] = "name at least one tier"
        for tier in self.tiers:
            if tier not in TIERS:
                problems["tier"] = f"unknown tier {tier!r}: use one of {', '.join(TIERS)}"
        if self.status is not None and self.status not in OUTLET_STATUSES:
            problems["status"] = (
                f"unknown status {self.status!r}: use one of {', '.join(OUTLET_STATUSES)}"
            )
        for tier, value in self.radius_m.items():
            name = f"radius_{tier}"
            if tier not in TIERS:
                problems[name] = f"unknown tier {tier!r}"
            elif not _finite_number(value):
                problems[name] = "must be a finite number of metres"
            elif value <= 0:
                problems[name] = "must be greater than 0 metres"
            elif value > MAX_RADIUS_M:
                problems[name] = f"must be at most {MAX_RADIUS_M:,.0f} metres (500 km)"
        if not _finite_number(self.cell_km):
            problems["cell_km"] = "must be a finite number of kilometres"
        elif not MIN_CELL_KM <= self.cell_km <= MAX_CELL_KM:
            problems["cell_km"] = f"must be between {MIN_CELL_KM} and {MAX_CELL_KM:,.0f} km"
        if self.date_from and self.date_to and self.date_from > self.date_to:
            problems["date_to"] = (
                f"the period ends ({self.date_to}) before it starts ({self.date_from})"
            )
        if problems:
            raise ValidationError("invalid analysis parameters", fields=problems)
        return self

    def check_cells(self, area_m2: float, region_code: str) -> int:
        """Refuse a grid too fine for the region, counting cells from its area before building."""
        cell_m = self.cell_km * 1000.0
        estimate = int(area_m2 / (HEX_AREA_FACTOR * cell_m * cell_m)) + 1
        if estimate > self.max_cells:
            smallest = math.sqrt(area_m2 / (HEX_AREA_FACTOR * self.max_cells)) / 1000.0
            raise ValidationError(
                f"a {self.cell_km:g} km grid over region {region_code} would have about "
                f"{estimate:,} cells",
                fields={
                    "cell_km": f"too small for this region: at most {self.max_cells:,} cells "
                    f"are built, so use at least {math.ceil(smallest * 100) / 100:g} km"
                },
            )
        return estimate


def _finite_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Resolved:
    """Parameters with their names looked up: ids for SQL."""

    params: AnalysisParams
    region_id: int | None = None
    region_code: str | None = None
    product_id: int | None = None
    distributor_id: int | None = None


def find_region(session: Session, code: str) -> RegionInfo:
    """The region an analysis is about: 404 naming ``region`` when there is none."""
    return get_region(session, code, field="region")


def find_distributor(
    session: Session, code: str, *, as_filter: bool, user: Principal | None = None
) -> DistributorRef:
    """The distributor ``code`` that ``user`` (None: the system) may see: a 422 on a filter,
    a 404 when it is the subject (an outlet outside the scope is as unknown as a missing one)."""
    try:
        return network.distributor(session, code, user=user, field="distributor")
    except network.DistributorError as exc:
        if as_filter:
            raise
        raise NotFound(exc.message, fields=exc.fields) from None


def find_distributor_id(
    session: Session, code: str, *, as_filter: bool, user: Principal | None = None
) -> int:
    """The outlet id of distributor ``code`` (:func:`find_distributor`)."""
    return find_distributor(session, code, as_filter=as_filter, user=user).id


def find_product_id(session: Session, sku: str) -> int:
    """The id of the product ``sku``: a 422 naming ``product`` when there is none."""
    return product_id(session, sku, field="product")


def resolve(
    session: Session,
    params: AnalysisParams,
    *,
    region_code: str | None = None,
    user: Principal | None = None,
) -> Resolved:
    """Check ``params`` and look up the names they carry; the region is the subject (404).
    ``user``: a distributor filter outside their scope is as unknown as a missing one (None:
    the system, e.g. the CLI)."""
    params.check()
    region = find_region(session, region_code) if region_code is not None else None
    return Resolved(
        params=params,
        region_id=region.id if region is not None else None,
        region_code=region.code if region is not None else None,
        # the distributor first: out of scope, it is the one problem to name
        distributor_id=(
            find_distributor_id(session, params.distributor, as_filter=True, user=user)
            if params.distributor
            else None
        ),
        product_id=find_product_id(session, params.product) if params.product else None,
    )


# -- the map pages' filter form ------------------------------------------------------------


@dataclass
class MapFilters:
    """What a region page's filter form asks for (parsed by ``web.filters.parse_filters``)."""

    tiers: list[str] = field(default_factory=list)  # empty: every tier
    distributor: str | None = None  # outlet code
    product: str | None = None  # SKU
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    radius_km: float | None = None  # None: each tier's default service radius
    cell_km: float | None = None  # None: chosen from the region's size
    measure: str = "amount"

    def query(self, **extra) -> str:
        """The filters as a query string (for the map iframe and the figures fragment)."""
        args: list[tuple[str, str]] = [("tier", t) for t in self.tiers]
        for key in ("distributor", "product", "radius_km", "cell_km"):
            value = getattr(self, key)
            if value is not None:
                args.append((key, f"{value:g}" if isinstance(value, float) else str(value)))
        if self.date_from:
            args.append(("from", self.date_from.isoformat()))
        if self.date_to:
            args.append(("to", self.date_to.isoformat()))
        if self.measure != "amount":
            args.append(("measure", self.measure))
        args += [(k, str(v)) for k, v in extra.items() if v is not None]
        return urlencode(args)


def auto_cell_km(area_m2: float, *, target: int = TARGET_CELLS) -> float:
    """A round cell size giving about ``target`` hexagons over the region."""
    if not area_m2 or area_m2 <= 0:
        return DEFAULT_CELL_KM
    ideal = math.sqrt(area_m2 / (HEX_AREA_FACTOR * target)) / 1000.0
    return min(NICE_CELL_KM, key=lambda c: abs(math.log(c / ideal)))


def params_for_page(
    f: MapFilters, *, area_m2: float | None = None, tiers: tuple[str, ...] | None = None
) -> AnalysisParams:
    """The analysis parameters a page's form asks for: the selected tiers (all when none is
    ticked; ``tiers`` overrides), the distributor, product and period as they are; the one
    radius overrides the service radius of every selected tier (empty: each tier's default);
    an empty cell size is chosen from the region's area (:func:`auto_cell_km`). A page is an
    HTTP request: at most ``LIMITS.max_cells_http`` cells."""
    chosen = tiers or tuple(f.tiers) or TIERS
    radius = dict(DEFAULT_SERVICE_RADIUS_M)
    if f.radius_km:
        radius.update({t: f.radius_km * 1000.0 for t in chosen})
    cell = f.cell_km or auto_cell_km(area_m2 or 0.0)
    return AnalysisParams(
        tiers=chosen,
        distributor=f.distributor,
        product=f.product,
        date_from=f.date_from,
        date_to=f.date_to,
        radius_m=radius,
        cell_km=cell,
        max_cells=LIMITS.max_cells_http,
    )
