"""Standalone maps: ``/maps/<kind>/<region_code>`` returns the full Folium HTML document (the
region page embeds it in an iframe; anyone may embed or save it)."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, request

from ..analysis import coverage as coverage_service
from ..analysis.frame import OutletPoints
from ..auth.policy import object_id
from ..db import get_session
from ..domain import network
from ..domain.geotagging import location_track
from ..domain.outlets import OutletFilters
from ..errors import NotFound, ValidationError
from ..maps import base as map_base
from ..maps.base import display_tolerance
from ..maps.coverage import CoverageData, coverage_map
from ..maps.density import DensityData, density_map
from ..maps.gaps import GapData, gap_map
from ..maps.history import HistoryPoint, history_map
from ..maps.network import network_map
from . import analysis, mapdata
from .context import acting_user, map_settings, outlet_scope_clause, with_nonce
from .filters import MapFilters, parse_filters
from .locale import current_translator

LOGGER = logging.getLogger(__name__)

bp = Blueprint("maps", __name__)

KINDS = ("coverage", "gaps", "density", "network")


def outlet_filters(region_code: str, f: MapFilters) -> OutletFilters:
    return OutletFilters(
        region=region_code, tier=list(f.tiers) or None, distributor=f.distributor, status=["active"]
    )


def product_id(session, f: MapFilters) -> int | None:
    if not f.product:
        return None
    from ..domain.sales import product_id_by_sku

    return product_id_by_sku(session, f.product, field="query.product")


def check_distributor(session, code: str | None, *, field: str = "query.distributor") -> int | None:
    if not code:
        return None
    t = current_translator()
    try:  # one outside the caller's scope is as unknown as a missing one
        return network.distributor(session, code, user=acting_user(), field=field).id
    except network.NotADistributor:
        raise ValidationError(
            t("{code} is not a distributor", code=code), fields={field: "not a distributor"}
        ) from None
    except network.UnknownDistributor:
        raise ValidationError(
            t("Unknown distributor {code}", code=code), fields={field: "not found"}
        ) from None


def build(kind: str, region_code: str, f: MapFilters):
    """The Folium map of ``kind`` for a region (the page and the standalone view share it)."""
    if kind not in KINDS:
        raise NotFound(current_translator()("Unknown map {kind}", kind=kind))
    session = get_session()
    t = current_translator()
    settings = map_settings(t)
    info = mapdata.region(session, region_code, t)
    subs = [s.shape for s in mapdata.subregions(session, info.id, t)]
    pid = product_id(session, f)
    distributor_id = check_distributor(session, f.distributor)
    scope = outlet_scope_clause()
    region_shape = info.shape
    if kind == "network":
        if distributor_id is None:
            raise ValidationError(
                t("Choose a distributor to see its network map"),
                fields={"query.distributor": "required for the network map"},
            )
        return _network(session, info, subs, settings, f, pid, scope)
    if kind == "coverage":
        return _coverage(session, region_code, region_shape, subs, settings, f, pid, scope)
    layer = _outlet_layer(session, region_code, f, settings, pid, scope)
    if kind == "gaps":
        data = analysis.gaps(session, region_code, f, area_m2=info.area_m2) or GapData()
        return gap_map(
            region_shape, subs, settings, gaps=data, rows=layer.rows, coords=layer.coords
        )
    data = analysis.density(session, region_code, f, area_m2=info.area_m2) or DensityData(
        measure=f.measure
    )
    return density_map(
        region_shape, subs, settings, density=data, rows=layer.rows, coords=layer.coords
    )


def _outlet_layer(session, region_code: str, f: MapFilters, settings, pid, scope, outlets=None):
    """The outlets a region map draws: from ``outlets`` already fetched, else read."""
    common = dict(
        limit=settings.point_limit, date_from=f.date_from, date_to=f.date_to, product_id=pid
    )
    if outlets is not None:
        return mapdata.outlet_layer_of(
            session, outlets.ids, outlets.lon, outlets.lat, outlets.tier, **common
        )
    return mapdata.outlet_layer(session, outlet_filters(region_code, f), scope=scope, **common)


def _coverage(session, region_code: str, region_shape, subs, settings, f: MapFilters, pid, scope):
    """The coverage map from one coverage call: ratios, sub-regions and every outline drawn
    come from one union of discs per tier; the outlets it fetched are the map's own (same
    filters) unless the caller's scope could hide some, in which case they are read again."""
    display_m = display_tolerance(region_shape.shapely()) * 111_000.0
    # a manager only reaches regions inside their own subtrees, where every outlet is theirs
    whole_region = scope is None or getattr(acting_user(), "role", None) == "manager"
    data, outlets = coverage_data(session, region_code, f, display_m, keep_outlets=whole_region)
    layer = _outlet_layer(session, region_code, f, settings, pid, scope, outlets)
    data.catchments = analysis.catchments(
        session, mapdata.distributors_in(session, region_code, user=acting_user()), f
    )
    return coverage_map(
        region_shape, subs, settings, coverage=data, rows=layer.rows, coords=layer.coords
    )


def coverage_data(
    session, region_code: str, f: MapFilters, display_m: float, *, keep_outlets: bool = False
) -> tuple[CoverageData, OutletPoints | None]:
    """What the coverage map draws, and (``keep_outlets``) the region's outlets fetched for it.

    ``display_m``: metres below which the map cannot show detail. A tier's covered outline is
    drawn when its discs are at least two such steps wide and it has at most
    ``analysis.PER_TIER_OUTLINE_MAX`` outlets; the whole network's when every tier's discs
    are wide enough (at country scale 1 km retail discs are below a pixel; the legend says so).
    """
    p = analysis.params(f)
    visible = {t: p.radius(t) >= 2 * display_m for t in p.tiers}
    # simplify_m=0: the map simplifies for display itself, faster than a topology-safe pass here
    result = coverage_service.coverage(
        session,
        region_code,
        p,
        geometry=all(visible.values()),
        simplify_m=0,
        tier_geometry={t: analysis.PER_TIER_OUTLINE_MAX for t, ok in visible.items() if ok}
        if len(p.tiers) > 1
        else None,
        keep_outlets=keep_outlets,
    )
    data = CoverageData(
        ratio={t.tier: t.ratio for t in result.by_tier} | {"all": result.region.ratio},
        subregion_ratio={s.code: s.ratio for s in result.sub_regions},
        radii=dict(result.radius_m),
        not_drawn=[t for t, ok in visible.items() if not ok],
    )
    data.covered = {"all": result.geometry} if result.geometry is not None else {}
    data.covered |= {t.tier: t.geometry for t in result.by_tier if t.geometry is not None}
    return data, result.region_outlets


def _network(session, info, subs, settings, f: MapFilters, pid, scope):
    rows, ids, parent_ids = mapdata.outlet_rows(
        session,
        OutletFilters(distributor=f.distributor, geotagged=True, status=["active"]),
        date_from=f.date_from,
        date_to=f.date_to,
        product_id=pid,
        scope=scope,
    )
    parent_index = mapdata.ids_to_index(ids, parent_ids)
    name = network.distributor(session, f.distributor, user=acting_user()).name
    catchment = analysis.catchment(session, f.distributor)
    return network_map(
        info.shape,
        subs,
        settings,
        distributor_name=name,
        rows=rows,
        parent_index=parent_index,
        catchment=catchment,
    )


def html_response(m) -> Response:
    started = time.perf_counter()
    html = map_base.render(m)
    LOGGER.debug("map rendered in %.3f s (%d bytes)", time.perf_counter() - started, len(html))
    return Response(with_nonce(html), mimetype="text/html")


@bp.get("/maps/<kind>/<code>")
def standalone(kind: str, code: str):
    """Serve one region map (coverage, gaps, density, network) as a full HTML document."""
    f = parse_filters(request.args, current_translator())
    return html_response(build(kind, code, f))


@bp.get("/maps/outlet-history/<code>")
def outlet_history(code: str):
    """Serve the small location-history map of one outlet."""
    session = get_session()
    t = current_translator()
    outlet_id = object_id()
    tier, track = location_track(session, outlet_id)
    points = [
        HistoryPoint(
            p["lon"],
            p["lat"],
            p["captured_at"] or p["created_at"],
            p["source"],
            p["accuracy_m"],
            p["state"],
        )
        for p in track
    ]
    m = history_map(points, map_settings(t), tier=tier, title=f"{code} · {t('Location history')}")
    if m is None:
        return Response(
            f"<!doctype html><meta charset=utf-8><p>{t('No location history')}</p>",
            mimetype="text/html",
        )
    return html_response(m)
