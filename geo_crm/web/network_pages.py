"""Distributor and outlet pages: the network map, depth and breadth, plan achievement and debt;
an outlet's details with its location history on a small map."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from ..analysis.breadth import BASIS_WORDS
from ..analysis.overviews import NotADistributor, distributor_overview, outlet_overview
from ..auth.policy import current_user, object_id
from ..db import get_session
from ..errors import NotFound
from ..i18n import add_messages
from ..models import TIERS
from .filters import parse_filters
from .locale import current_translator

bp = Blueprint("network_pages", __name__)

# the distributor page's reach figures (domain/network_reach), worded as the network map's legend
add_messages(
    "distributor_reach",
    {
        "Outlets reached": "覆盖网点",
        "Reached": "覆盖",
        "On the map": "地图上",
        "Reached: active outlets buying from this distributor, directly or through wholesalers.": (
            "覆盖：直接或经批发商从该经销商进货、正在营业的网点。"
        ),
        "On the map: reached outlets with coordinates, as the network map's legend counts them.": (
            "地图上：有坐标的覆盖网点，与网络地图图例的计数一致。"
        ),
        "{n} have no coordinates yet.": "其中 {n} 家尚无坐标。",
        "Supply links: outlets on the map whose supplier is on the map too.": (
            "供货关系：本身及其供货方都在地图上的网点。"
        ),
        "{n} have none: their supplier has no coordinates or is not active.": (
            "{n} 家没有：其供货方无坐标或未营业。"
        ),
        "{n} outlets below this distributor that are inactive or closed are not counted.": (
            "该经销商下 {n} 家停用或已关闭的网点未计入。"
        ),
    },
)


@bp.get("/distributors/<code>")
def distributor_page(code: str):
    """Show a distributor's network map, depth and breadth, plan achievement and debt; with
    ``?tab=purchases|plans|payments|debt`` one of its business tabs (web/distributor_tabs)."""
    tab = request.args.get("tab") or "overview"
    if tab != "overview":
        from .distributor_tabs import render_tab

        return render_tab(code, tab)
    t = current_translator()
    f = parse_filters(request.args, t)
    try:
        page = distributor_overview(get_session(), current_user(), object_id(), f)
    except NotADistributor:
        raise NotFound(t("{code} is not a distributor", code=code)) from None
    return render_template(
        "distributor.html",
        **vars(page),
        breadth=page.breadth,
        deepest=page.deepest,
        basis_words=BASIS_WORDS,
        f=f,
        map_query=f.query(distributor=page.outlet["code"], lang=t.lang),
        tiers=TIERS,
    )


@bp.get("/outlets/<code>")
def outlet_page(code: str):
    """Show one outlet: details, supply chain, sales and debt, and its location history; for
    managers and admins with its edit form (web/outlet_form)."""
    user = current_user()
    if user.role in ("admin", "manager"):
        from .outlet_form import render_outlet

        return render_outlet()
    f = parse_filters(request.args, current_translator())
    page = outlet_overview(get_session(), user, object_id(), f)
    return render_template("outlet.html", **vars(page), f=f, tiers=TIERS)
