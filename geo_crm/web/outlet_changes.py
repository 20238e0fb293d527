"""The region's outlet changes page (客户变动): months × kinds, the newest events, and a map
with a layer per kind (``/maps/outlet-changes/<code>``). One analysis call per view."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request

from ..analysis.outlet_changes import KINDS, outlet_changes
from ..analysis.params import find_region
from ..auth.policy import current_user
from ..db import get_session
from ..errors import ValidationError
from ..maps.outlet_changes import KIND_COLOURS, KIND_TITLES, outlet_changes_map
from .context import map_settings
from .locale import current_translator
from .maps import html_response

bp = Blueprint("outlet_changes_pages", __name__)

PAGE_EVENTS = 500  # events listed on the page (the API and CLI list up to 10,000)


def _args() -> dict:
    kinds = [k for k in request.args.getlist("kind") if k]
    months = request.args.get("months", "").strip()
    return {
        "month_from": request.args.get("from_month") or None,
        "month_to": request.args.get("to_month") or None,
        "months": months,
        "kinds": kinds or list(KINDS),
    }


def _months(value: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError(
            "months: a whole number", fields={"months": "a whole number from 1 to 24"}
        ) from None


def _result(code: str, args: dict, limit: int):
    return outlet_changes(
        get_session(),
        code,
        month_from=args["month_from"],
        month_to=args["month_to"],
        stopped_months=_months(args["months"]),
        kinds=args["kinds"],
        limit=limit,
        user=current_user(),
    )


@bp.get("/regions/<code>/changes")
def changes_page(code: str):
    """Show the region's outlets that started or stopped buying, changed supplier or closed."""
    t = current_translator()
    args = _args()
    errors: dict[str, str] = {}
    try:
        result = _result(code, args, PAGE_EVENTS)
    except ValidationError as exc:  # shown beside the field, with the default period below
        errors = exc.fields
        result = _result(code, {**args, "month_from": None, "month_to": None, "months": "",
                                "kinds": list(KINDS)}, PAGE_EVENTS)  # fmt: skip
    query = urlencode(
        [(k, v) for k, v in (("from_month", args["month_from"]), ("to_month", args["month_to"]),
                             ("months", args["months"])) if v and not errors]
        + [("kind", k) for k in (result.kinds if not errors else KINDS)]
        + [("lang", t.lang)]
    )  # fmt: skip
    return render_template(
        "outlet_changes.html",
        region=find_region(get_session(), code),
        result=result,
        args=args,
        errors=errors,
        kinds=KINDS,
        kind_titles=KIND_TITLES,
        kind_colours=KIND_COLOURS,
        map_query=query,
    ), (422 if errors else 200)


@bp.get("/maps/outlet-changes/<code>")
def changes_map(code: str):
    """Serve the map of the region's outlet changes, a layer per kind."""
    t = current_translator()
    settings = map_settings(t)
    result = _result(code, _args(), min(settings.point_limit, 10_000))
    name = find_region(get_session(), code).label(t)
    m = outlet_changes_map(result.events, settings, title=f"{name} · {t('Outlet changes')}")
    if m is None:
        return Response(
            f"<!doctype html><meta charset=utf-8><p>{t('No located outlet changes to map')}</p>",
            mimetype="text/html",
        )
    return html_response(m)
