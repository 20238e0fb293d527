"""The region's cross-territory sales page (窜货): the flagged sell-out records into the region
with their distance from the territory, and a map of seller→buyer lines
(``/maps/cross-selling/<code>``). One analysis call per view."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request

from ..analysis.cross_selling import FLAGS, cross_selling
from ..analysis.params import find_region
from ..auth.policy import current_user
from ..db import get_session
from ..errors import ValidationError
from ..maps.cross_selling import FLAG_COLOURS, FLAG_TITLES, cross_selling_map
from .context import map_settings
from .locale import current_translator
from .maps import html_response

bp = Blueprint("cross_selling_pages", __name__)

PAGE_SALES = 500


def _date(name: str, t) -> dt.date | None:
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        message = t("a date is YYYY-MM-DD")
        raise ValidationError(message, fields={name: message}) from None


def _result(code: str, t, limit: int, *, defaults: bool = False):
    return cross_selling(
        get_session(),
        code,
        date_from=None if defaults else _date("date_from", t),
        date_to=None if defaults else _date("date_to", t),
        limit=limit,
        user=current_user(),
    )


@bp.get("/regions/<code>/cross-selling")
def cross_selling_page(code: str):
    """Show the cross-territory sales into the region, with a map of seller→buyer lines."""
    t = current_translator()
    errors: dict[str, str] = {}
    try:
        result = _result(code, t, PAGE_SALES)
    except ValidationError as exc:  # beside the field, with the default period below
        errors = exc.fields
        result = _result(code, t, PAGE_SALES, defaults=True)
    query = urlencode(
        {"date_from": result.date_from.isoformat(), "date_to": result.date_to.isoformat(),
         "lang": t.lang}
    )  # fmt: skip
    return render_template(
        "cross_selling.html",
        region=find_region(get_session(), code),
        result=result,
        errors=errors,
        flags=FLAGS,
        flag_titles=FLAG_TITLES,
        flag_colours=FLAG_COLOURS,
        map_query=query,
    ), (422 if errors else 200)


@bp.get("/maps/cross-selling/<code>")
def cross_selling_map_page(code: str):
    """Serve the map of the region's cross-territory sales: a line from seller to buyer."""
    t = current_translator()
    settings = map_settings(t)
    result = _result(code, t, min(settings.point_limit, 10_000))
    name = find_region(get_session(), code).label(t)
    m = cross_selling_map(result.sales, settings, title=f"{name} · {t('Cross-territory sales')}")
    if m is None:
        return Response(
            f"<!doctype html><meta charset=utf-8><p>{t('No cross-territory sales to map')}</p>",
            mimetype="text/html",
        )
    return html_response(m)
