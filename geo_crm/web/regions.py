"""Region pages: the maps as tabs, the filter form, key figures, breadcrumb and sub-regions."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from ..analysis.overviews import region_overview
from ..analysis.params import LIMITS, MEASURES
from ..analysis.region_maps import KINDS
from ..auth.policy import current_user
from ..db import get_session
from ..models import TIERS
from .filters import form_errors, parse_filters
from .locale import current_translator

bp = Blueprint("region_pages", __name__)

KIND_TITLES = {
    "coverage": "Coverage",
    "gaps": "Gaps",
    "density": "Sales density",
    "network": "Network",
}


@bp.get("/regions/<code>")
def region_page(code: str):
    """Show a region's maps with filters, key figures, breadcrumb and sub-regions."""
    t = current_translator()
    f = parse_filters(request.args, t)
    with form_errors(t, f):
        page = region_overview(get_session(), current_user(), code, f)
    kind = request.args.get("map", "coverage")
    if kind not in KINDS or (kind == "network" and not f.distributor):
        kind = "coverage"
    return render_template(
        "region.html",
        **vars(page),
        f=f,
        kind=kind,
        kinds=KINDS,
        kind_titles=KIND_TITLES,
        measures=MEASURES,
        limits=LIMITS,
        map_query=f.query(lang=t.lang),
        tiers=TIERS,
    )


@bp.get("/regions/<code>/figures")
def region_figures(code: str):
    """Return the key-figures panel for the filters (an HTML fragment the page swaps in)."""
    t = current_translator()
    f = parse_filters(request.args, t)
    with form_errors(t, f):
        page = region_overview(get_session(), current_user(), code, f, figures_only=True)
    return render_template("_region_figures.html", region=page.region, figures=page.figures, f=f)
