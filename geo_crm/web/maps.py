"""Standalone maps: ``/maps/<kind>/<region_code>`` returns the full Folium HTML document (the
region page embeds it in an iframe; anyone may embed or save it)."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, request
from sqlalchemy import select

from ..db import get_session
from ..errors import NotFound, ValidationError
from ..maps import base as map_base
from ..maps.base import display_tolerance
from ..maps.coverage import CoverageData, coverage_map
from ..maps.density import DensityData, density_map
from ..maps.gaps import GapData, gap_map
from ..maps.history import HistoryPoint, history_map
from ..maps.network import network_map
from ..models import Outlet
from ..services.outlets import OutletFilters, find_outlet_id
from . import analysis, mapdata
from .context import map_settings, outlet_scope_clause, with_nonce
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
    from ..services.sales import product_id_by_sku

    return product_id_by_sku(session, f.product, field="query.product")


def check_distributor(session, code: str | None, *, field: str = "query.distributor") -> int | None:
    if not code:
        return None
    stmt = select(Outlet.id, Outlet.tier).where(Outlet.code == code)
    scope = outlet_scope_clause()  # one outside the caller's scope is as unknown as a missing one
    row = session.execute(stmt if scope is None else stmt.where(scope)).first()
    t = current_translator()
    if row is None:
        raise ValidationError(
            t("Unknown distributor {code}", code=code), fields={field: "not found"}
        )
    if row.tier != "distributor":
        raise ValidationError(
            t("{code} is not a distributor", code=code), fields={field: "not a distributor"}
        )
    return row.id


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
    layer = mapdata.outlet_layer(
        session,
        outlet_filters(region_code, f),
        limit=settings.point_limit,
        date_from=f.date_from,
        date_to=f.date_to,
        product_id=pid,
        scope=scope,
    )
    if kind == "coverage":
        display_m = display_tolerance(region_shape.shapely()) * 111_000.0
        data = analysis.coverage(session, region_code, f, display_m=display_m) or CoverageData()
        data.catchments = analysis.catchments(
            session, mapdata.distributors_in(session, region_code, scope), f
        )
        return coverage_map(
            region_shape, subs, settings, coverage=data, rows=layer.rows, coords=layer.coords
        )
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
    name = session.scalar(select(Outlet.name).where(Outlet.code == f.distributor)) or f.distributor
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
    outlet_id = find_outlet_id(session, code)
    if outlet_id is None:
        raise NotFound(t("Unknown outlet {code}", code=code))
    points = [
        HistoryPoint(
            p["lon"],
            p["lat"],
            p["captured_at"] or p["created_at"],
            p["source"],
            p["accuracy_m"],
            p["state"],
        )
        for p in mapdata.history_points(session, outlet_id)
    ]
    tier = session.scalar(select(Outlet.tier).where(Outlet.id == outlet_id))
    m = history_map(points, map_settings(t), tier=tier, title=f"{code} · {t('Location history')}")
    if m is None:
        return Response(
            f"<!doctype html><meta charset=utf-8><p>{t('No location history')}</p>",
            mimetype="text/html",
        )
    return html_response(m)
