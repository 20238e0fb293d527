"""Distributor and outlet pages: the network map, depth and breadth, plan achievement and debt;
an outlet's details with its location history on a small map."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from ..analysis.breadth import BASIS_WORDS
from ..analysis.overviews import NotADistributor, distributor_overview, outlet_overview
from ..auth.policy import current_user, object_id
from ..db import get_session
from ..errors import NotFound
from ..models import TIERS
from .filters import parse_filters
from .locale import current_translator

bp = Blueprint("network_pages", __name__)


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
