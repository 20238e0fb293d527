"""Distributor and outlet pages: the network map, depth and breadth, plan achievement and debt;
an outlet's details with its location history on a small map."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select

from ..auth.policy import object_id
from ..db import get_session
from ..domain import network as network_svc
from ..domain.outlets import get_outlet
from ..domain.sales import buyer_debt
from ..errors import NotFound
from ..models import TIERS, Region
from . import analysis, mapdata
from .context import acting_user
from .filters import parse_filters
from .locale import current_translator

bp = Blueprint("network_pages", __name__)


def _map_region(session, region_id: int | None) -> str | None:
    """Where a network map opens: the outlet's city (a district's parent), else its region."""
    if region_id is None:
        return session.scalar(
            select(Region.code).where(Region.parent_id.is_(None)).order_by(Region.code).limit(1)
        )
    row = session.execute(
        select(Region.code, Region.level, Region.parent_id).where(Region.id == region_id)
    ).one()
    if row.level == "district" and row.parent_id is not None:
        return session.scalar(select(Region.code).where(Region.id == row.parent_id))
    return row.code


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
    region_code = _map_region(session, outlet["region_id"])
    region_name = (
        session.scalar(select(Region.name).where(Region.code == region_code))
        if region_code
        else None
    )
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
    region = None
    if outlet["region_id"] is not None:
        region = session.execute(
            select(Region.code, Region.name, Region.name_en).where(Region.id == outlet["region_id"])
        ).one()
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


_FACE_SQL_BUDGET = 7  # issue 12: SQL lines left in this face; goes to 0
