"""The home page: the landing map of the caller's regions (coloured by a chosen figure, key
figures beside it, a search box) above every region they may see, grouped by province."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template, url_for

from ..analysis.landing import FIGURES, LEVELS, MAX_ANALYSED_REGIONS, landing_page
from ..auth.policy import current_user
from ..db import get_db, get_session, health
from ..errors import ServiceUnavailable, error_body
from ..models import TIERS
from .locale import current_translator

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    """The landing map of the caller's scope, their key figures, and their regions by province."""
    from . import landing  # noqa: F401  (its words)
    from .tag import _basemap, leaflet_urls

    t = current_translator()
    page = landing_page(get_session(), current_user())
    js, css = leaflet_urls()
    config = {
        "lang": t.lang,
        "zone": t.zone.key,  # GEO_CRM_TIMEZONE: the figures' "as of" time is shown in it
        "basemap": _basemap(),
        "figures": list(FIGURES),
        "levels": list(LEVELS),
        "level_names": {level: t.level(level) for level in ("country", *LEVELS)},
        "max_analysed": MAX_ANALYSED_REGIONS,
        "tiers": {tier: t.tier(tier) for tier in TIERS},
        "urls": {
            "tilejson": url_for("tiles.tilejson", layer="regions"),
            "tiles": url_for("tiles.tilejson", layer="regions").removesuffix(".json")
            + "/{z}/{x}/{y}.mvt",
            "figures": url_for("landing.figures"),
            "search": url_for("landing.search"),
            "rows": url_for("landing.rows"),
            "region": url_for("region_pages.region_page", code="__CODE__"),
            "outlet": url_for("network_pages.outlet_page", code="__CODE__"),
        },
        "strings": t.catalogue(
            (
                "Coverage %",
                "Sales this year",
                "Plan achievement to date",
                "Outlets",
                "Gap cells",
                "No results",
                "Loading…",
                "Zoom in to see this figure",
                "No data",
                "as of {time}",
                "Open the region page",
                "Open the outlet page",
                "Not geotagged",
                "Could not load the figures",
                "Figures as of {time}; being recomputed",
                "Figures as of {time}; the analyses are busy, they are recomputed later",
                "Being computed; the analyses are busy, open the map again later",
            )
        ),
    }
    return render_template(
        "home.html",
        page=page,
        regions=page.regions,
        groups=page.groups,
        table=table_groups(page.groups, t),
        key=page.key,
        tiers=TIERS,
        config=config,
        leaflet_js=js,
        leaflet_css=css,
    )


def table_groups(groups, t) -> list[tuple]:
    """(group, rows to write, regions below the head, whether they come later) per group. With
    several groups (they start closed) only their heads are written: the country's 3,600 rows
    made a 1.1 MB page whose parsing held up the map; a group's rows come from
    ``/landing/rows`` when it is opened or the filter box is used (``static/landing.js``)."""
    lazy = len(groups) > 1
    out = []
    for g in groups:
        rows = [table_row(r, t) for r in ((g.head,) if lazy else (g.head, *g.rows))]
        out.append((g, rows, len(g.rows), lazy and bool(g.rows)))
    return out


@dataclass
class TableRow:
    """A region's row of the home page's table, formatted once in Python: over a country's
    ~3,600 regions the template's own calls (a number per tier, the label, the level) took
    most of the page's time."""

    code: str
    level: str
    label: str
    level_name: str
    search: str
    numbers: list[str]  # per tier, then the total


def table_row(row, t) -> TableRow:
    numbers = [t.number(row.by_tier[tier]) for tier in TIERS]
    numbers.append(t.number(row.total))
    return TableRow(
        row.code,
        row.level,
        row.label(t),
        t.level(row.level),
        f"{row.code} {row.name} {row.name_en or ''}".lower(),
        numbers,
    )


@bp.get("/healthz")
def healthz():
    """Report whether the app's dependencies answer: 200 when all do, else 503; with each
    configured replica's state and replay lag (``replicas``; one down does not fail the check:
    the primary serves its reads)."""
    checks = {"database": health.database_status(get_session)}
    replicas = health.replica_status(get_db().router)  # built with the engine, just above
    extra = {"replicas": replicas} if replicas else {}
    if all(state == "ok" for state in checks.values()):
        return {"status": "ok", "checks": checks, **extra}
    down = ", ".join(name for name, state in checks.items() if state != "ok")
    body = {
        "status": "unavailable",
        "checks": checks,
        **extra,
        **error_body(ServiceUnavailable.code, f"unavailable: {down}"),
    }
    return body, 503, {"Retry-After": str(ServiceUnavailable.retry_after_s)}
