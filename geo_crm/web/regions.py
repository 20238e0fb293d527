"""Region pages: the maps as tabs, the filter form, key figures, breadcrumb and sub-regions."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from ..analysis.cache import region_status
from ..analysis.overviews import region_overview
from ..analysis.params import LIMITS, MEASURES
from ..analysis.region_maps import KINDS
from ..auth.policy import current_user
from ..db import get_session
from ..models import TIERS
from .analysis_jobs import page_enqueue
from .filters import form_errors, parse_filters
from .locale import current_translator
from .page_words_cache import CACHE_WORDS  # noqa: F401 -- registers the cache's words

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
        page = region_overview(get_session(), current_user(), code, f, enqueue=page_enqueue())
    get_session().commit()  # a cached analysis stored or its recomputation queued
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
        # ?draw=embedded reaches the map: everything in its page (the benchmark's baseline)
        map_query=f.query(lang=t.lang, draw=request.args.get("draw")),
        tiers=TIERS,
    )


@bp.get("/regions/<code>/figures")
def region_figures(code: str):
    """Return the key-figures panel for the filters (an HTML fragment the page swaps in)."""
    t = current_translator()
    f = parse_filters(request.args, t)
    with form_errors(t, f):
        page = region_overview(
            get_session(), current_user(), code, f, figures_only=True, enqueue=page_enqueue()
        )
    get_session().commit()
    return render_template("_region_figures.html", region=page.region, figures=page.figures, f=f)


@bp.get("/regions/<code>/analysis-status")
def analysis_status(code: str):
    """Return the state of the page's cached analyses (the figures' and the map's) as JSON:
    what the page polls while they are being computed or updated."""
    t = current_translator()
    f = parse_filters(request.args, t)
    kind = request.args.get("map", "coverage")
    with form_errors(t, f):
        states = region_status(get_session(), code, f, kind)
    return jsonify(states)
