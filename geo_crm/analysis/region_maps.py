"""One call per region map: the region and its sub-regions with boundaries, the outlets the map
draws, and the analysis result it shows (``maps.region.region_map`` draws it).

A page's filter form (:class:`~geo_crm.analysis.params.MapFilters`) becomes the analysis
parameters of :func:`~geo_crm.analysis.params.params_for_page`; names in it are checked in the
caller's scope and reported on the form's fields (``query.distributor``, ``query.product``).
The analyses themselves cover every outlet of the region, as the region's figures do; what the
map draws outlet by outlet is what ``user`` may see.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ..domain import network
from ..domain.network import DistributorRef, distributors_in
from ..domain.network_reach import NetworkReach, network_reach
from ..domain.outlet_layers import OutletLayer, OutletRows, network_layer, outlet_layer
from ..domain.outlets import OutletFilters
from ..domain.principal import Principal
from ..domain.region_counts import active_tier_totals
from ..domain.regions import RegionInfo, get_region, subregions
from ..domain.sales import list_products, product_id, product_unit
from ..errors import NotFound, ValidationError
from . import cache
from .coverage import CoverageResult
from .density import DensityResult
from .distribution import Catchment, catchment
from .gaps import GapsResult
from .geometry.geodesy import display_tolerance
from .geometry.sphere import crosses_antimeridian
from .params import MapFilters

KINDS = ("coverage", "gaps", "density", "network")
MAX_CATCHMENTS = 12  # distributor catchments drawn on a region's coverage map
PER_TIER_OUTLINE_MAX = cache.PER_TIER_OUTLINE_MAX
DISTRIBUTOR_FIELD = "query.distributor"
PRODUCT_FIELD = "query.product"


class DistributorRequired(ValidationError):
    """A network map is of one distributor: the form names none."""


@dataclass
class RegionMapData:
    """Everything a region map draws. ``region`` and ``subregions`` carry their boundaries;
    ``layer``: the outlets of a coverage, gap or density map; one result per kind."""

    kind: str
    region: RegionInfo
    subregions: list[RegionInfo]
    layer: OutletLayer | None = None
    coverage: CoverageResult | None = None
    not_drawn: list[str] = field(default_factory=list)  # tiers whose discs are below a pixel
    catchments: list[Catchment] = field(default_factory=list)
    gaps: GapsResult | None = None
    density: DensityResult | None = None
    measure: str = "amount"
    unit: str | None = None  # of a quantity, when one product is chosen
    product: str | None = None  # the chosen product as the map names it ("name spec (SKU)")
    distributor: DistributorRef | None = None  # the network map's
    network: OutletRows | None = None
    parent_index: list[int | None] = field(default_factory=list)
    catchment: dict | None = None  # the network map's
    reach: NetworkReach | None = None  # the network map's counts, as the distributor page's
    # the cached analysis (``analysis.cache``): fresh, stale (shown as of ``as_of`` while it is
    # recomputed) or computing (no result yet: the map says so and is asked for again)
    state: str = "fresh"
    as_of: dt.datetime | None = None
    outlets_tiled: bool = False  # the map draws the outlets from their vector tiles


def outlet_filters(region_code: str, f: MapFilters) -> OutletFilters:
    """The active outlets of the region passing the form's tier and distributor filters."""
    return OutletFilters(
        region=region_code, tier=list(f.tiers) or None, distributor=f.distributor, status=["active"]
    )


def check_distributor(
    session: Session, code: str | None, user: Principal | None
) -> DistributorRef | None:
    """The form's distributor, in ``user``'s scope (a 422 on ``query.distributor``: the
    domain's :class:`~geo_crm.domain.network.DistributorError`); None when the form has none."""
    if not code:
        return None
    return network.distributor(session, code, user=user, field=DISTRIBUTOR_FIELD)


def region_map(
    session: Session,
    user: Principal | None,
    kind: str,
    code: str,
    f: MapFilters,
    *,
    point_limit: int,
    enqueue: cache.Enqueue | None = None,
    outlet_tiles_above: int | None = None,
) -> RegionMapData:
    """The data of the ``kind`` map of region ``code`` (404 for an unknown kind or region; a
    422 naming the form's field for an unknown product or distributor, or a network map
    without one). ``point_limit``: outlets drawn one by one before lower tiers are counted
    per hexagon (``domain.outlet_layers.plan_tiers``). The coverage, gaps and density come from
    the analysis cache (``enqueue`` queues their recomputation, :func:`cache.cached`); while
    a large region's analysis is first computed, ``state`` is ``computing`` and nothing else
    is fetched. ``outlet_tiles_above``: a region with more active outlets than this (and no
    distributor in the form: the tiles cannot filter by network) gets no outlets read here —
    its map draws them from the outlet vector tiles — only their number per tier, from the
    kept totals (``outlets_tiled``). The caller commits (a stored result or a queued job)."""
    if kind not in KINDS:
        raise NotFound(f"unknown map {kind!r}")
    info = get_region(session, code, boundary=True)
    data = RegionMapData(kind, info, subregions(session, info.id, boundary=True))
    pid = product_id(session, f.product, field=PRODUCT_FIELD) if f.product else None
    data.distributor = check_distributor(session, f.distributor, user)
    period = dict(date_from=f.date_from, date_to=f.date_to, product_id=pid)
    if kind == "network":
        if data.distributor is None:
            raise DistributorRequired(
                "choose a distributor to see its network map",
                fields={DISTRIBUTOR_FIELD: "required for the network map"},
            )
        data.network, data.parent_index = network_layer(
            session, data.distributor.code, user=user, **period
        )
        data.catchment, _ = catchment(session, data.distributor.id)
        data.reach = network_reach(session, data.distributor.id, user)
        return data
    located = dict(limit=point_limit, user=user, **period)
    params = cache.page_params(kind, f, info.area_m2)
    # a map draws coverage's outlines simplified: read so from the cache (cache.coverage_outlines)
    got = cache.cached(session, kind, code, params, enqueue=enqueue, cells=kind != "coverage")
    data.state, data.as_of = got.state, got.computed_at
    if got.result is None:
        return data
    # the kept totals per tier, read once: their sum decides, and a tiled map draws them
    by_tier = (
        active_tier_totals(session, info.id)
        if outlet_tiles_above is not None
        and not f.distributor
        # the tiles are plain WGS-84: a region across 180° is drawn unwrapped (maps.base), as
        # its cells are, so its outlets stay in the page with them
        and not crosses_antimeridian(info.boundary)
        else None
    )
    if by_tier is not None and sum(by_tier.values()) > outlet_tiles_above:
        counts = {t: n if not f.tiers or t in f.tiers else 0 for t, n in by_tier.items()}
        data.layer = OutletLayer(None, None, counts)
        data.outlets_tiled = True
    else:
        data.layer = outlet_layer(session, outlet_filters(code, f), **located)
    if kind == "coverage":
        _coverage(session, user, data, f, got.result)
    elif kind == "gaps":
        data.gaps = got.result
    else:
        data.density = got.result
        data.measure = f.measure
        if f.measure == "quantity" and f.product:
            data.unit = product_unit(session, f.product)
        if f.product:
            data.product = _product_label(session, f.product)
    return data


def _product_label(session: Session, sku: str) -> str:
    """ "name spec (SKU)" of the product a density map is filtered by."""
    for p in list_products(session, q=sku):
        if p["sku"] == sku:
            return " ".join(str(x) for x in (p["name"], p.get("spec")) if x) + f" ({sku})"
    return sku


def _coverage(
    session: Session,
    user: Principal | None,
    data: RegionMapData,
    f: MapFilters,
    result: CoverageResult,
) -> None:
    """The coverage map from one coverage analysis (:func:`cache.compute`): ratios, sub-regions
    and every outline drawn come from one union of discs per tier. A tier's covered outline is
    drawn when its discs are at least two display steps wide (below, at country scale, a 1 km
    retail disc is under a pixel: the legend says so) and it has at most
    ``PER_TIER_OUTLINE_MAX`` outlets; the whole network's when every tier's discs are wide
    enough."""
    tolerance = display_tolerance(data.region.boundary)
    display_m = tolerance * 111_000.0
    if result.geometry is None and all(t.geometry is None for t in result.by_tier):
        # read from the cache without its outlines: the kept ones, simplified for display
        params = cache.page_params("coverage", f, data.region.area_m2)
        outlines = cache.coverage_outlines(session, data.region.id, params, tolerance)
        result = dataclasses.replace(
            result,
            geometry=outlines.get("all"),
            by_tier=[dataclasses.replace(t, geometry=outlines.get(t.tier)) for t in result.by_tier],
        )
    data.coverage = result
    data.not_drawn = [t for t in result.tiers if result.radius_m[t] < 2 * display_m]
    data.catchments = catchments(session, distributors_in(session, data.region.code, user=user), f)


def catchments(
    session: Session, distributors: list[tuple[str, str]], f: MapFilters
) -> list[Catchment]:
    """Catchments of the distributor in the filter, else of every distributor when they are few
    (at most ``MAX_CATCHMENTS``)."""
    chosen = [d for d in distributors if d[0] == f.distributor] if f.distributor else distributors
    if len(chosen) > MAX_CATCHMENTS:
        return []
    out = []
    for code, name in chosen:
        hull, _ = catchment(session, code)
        if hull and hull.get("type") in ("Polygon", "MultiPolygon"):
            out.append(Catchment(code, name, hull))
    return out
