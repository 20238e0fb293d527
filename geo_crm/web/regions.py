"""Region pages: the maps as tabs, the filter form, key figures, breadcrumb and sub-regions."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from ..db import get_session
from ..domain.sales import list_products
from ..models import TIERS
from . import mapdata
from .context import acting_user
from .figures import key_figures
from .filters import MEASURES, parse_filters
from .locale import current_translator
from .maps import KINDS, check_distributor

bp = Blueprint("region_pages", __name__)

KIND_TITLES = {
    "coverage": "Coverage",
    "gaps": "Gaps",
    "density": "Sales density",
    "network": "Network",
}


def _page_context(code: str):
    session = get_session()
    t = current_translator()
    f = parse_filters(request.args, t)
    info = mapdata.region(session, code, t, boundary=False)
    check_distributor(session, f.distributor)
    return session, t, f, info


@bp.get("/regions/<code>")
def region_page(code: str):
    """Show a region's maps with filters, key figures, breadcrumb and sub-regions."""
    session, t, f, info = _page_context(code)
    kind = request.args.get("map", "coverage")
    if kind not in KINDS:
        kind = "coverage"
    if kind == "network" and not f.distributor:
        kind = "coverage"
    figures = key_figures(session, info, f)
    children = mapdata.subregions(session, info.id, t, boundary=False)
    products = list_products(session, active=True)
    distributors = mapdata.distributors_in(session, code, user=acting_user())
    return render_template(
        "region.html",
        region=info,
        crumbs=mapdata.ancestors(session, info.id),
        children=children,
        figures=figures,
        f=f,
        kind=kind,
        kinds=KINDS,
        kind_titles=KIND_TITLES,
        measures=MEASURES,
        products=products,
        distributors=distributors,
        map_query=f.query(lang=t.lang),
        tiers=TIERS,
    )


@bp.get("/regions/<code>/figures")
def region_figures(code: str):
    """Return the key-figures panel for the filters (an HTML fragment the page swaps in)."""
    session, t, f, info = _page_context(code)
    figures = key_figures(session, info, f)
    children = mapdata.subregions(session, info.id, t, boundary=False)
    return render_template(
        "_region_figures.html", region=info, figures=figures, f=f, children=children
    )
