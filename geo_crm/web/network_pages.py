"""Distributor and outlet pages: the network map, depth and breadth, plan achievement and debt;
an outlet's details with its location history on a small map."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from ..auth.policy import object_id
from ..db import get_session
from ..domain import network as network_svc
from ..domain.outlets import get_outlet
from ..domain.regions import map_region_for, region_ref
from ..domain.sales import buyer_debt
from ..errors import NotFound
from ..models import TIERS
from . import analysis, mapdata
from .context import acting_user
from .filters import parse_filters
from .locale import current_translator

bp = Blueprint("network_pages", __name__)


@bp.get("/distributors/<code>")
def distributor_page(code: str):
    """Show a distributor's network map, depth and breadth, plan achievement and debt."""
    session = get_session()
    t = current_translator()
    f = parse_filters(request.args, t)
    outlet_id = object_id()
    outlet = get_outlet(session, outlet_id)
    if outlet["tier"] != "distributor":
        raise NotFound(t("{code} is not a distributor", code=code))
    counts = network_svc.downstream_counts(session, outlet_id, acting_user())
    deepest = next((tier for tier in reversed(TIERS) if counts.get(tier)), None)
    depth = analysis.depth(session, outlet["code"], f)
    breadth = depth.breadth if depth is not None and depth.units else None
    plans = analysis.plan_achievement(session, outlet["code"], f)
    sales = mapdata.sales_by_seller(session, outlet_id, f.date_from, f.date_to)
    opens = map_region_for(session, outlet["region_id"])  # where the network map opens
    region_code = opens.code if opens is not None else None
    region_name = opens.name if opens is not None else None
    return render_template(
        "distributor.html",
        outlet=outlet,
        counts=counts,
        deepest=deepest,
        breadth=breadth,
        plans=plans,
        sales=sales,
        f=f,
        depth=depth,
        region_code=region_code,
        region_name=region_name,
        map_query=f.query(distributor=outlet["code"], lang=t.lang),
        tiers=TIERS,
    )


@bp.get("/outlets/<code>")
def outlet_page(code: str):
    """Show one outlet: details, supply chain, sales and debt, and its location history."""
    session = get_session()
    t = current_translator()
    f = parse_filters(request.args, t)
    outlet_id = object_id()
    user = acting_user()
    outlet = get_outlet(session, outlet_id)
    chain = network_svc.upstream(session, outlet_id, user)[1:]
    region = region_ref(session, outlet["region_id"]) if outlet["region_id"] is not None else None
    history = mapdata.history_points(session, outlet_id)
    return render_template(
        "outlet.html",
        outlet=outlet,
        chain=chain,
        region=region,
        buyers=network_svc.downstream_counts(session, outlet_id, user),
        debt=buyer_debt(session, outlet_id),
        sold=mapdata.sales_by_seller(session, outlet_id, f.date_from, f.date_to),
        history=history,
        f=f,
        tiers=TIERS,
    )
