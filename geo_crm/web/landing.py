"""The landing map's two JSON helpers (the page itself is ``home.index``):

- ``GET /landing/figures?figure=…&level=…[&bbox=w,s,e,n]``: one figure per region of a map
  level (coverage and gaps: those in the map's view), by code
  (:func:`geo_crm.analysis.landing.landing_figures`), to colour the regions vector tiles;
- ``GET /landing/search?q=…``: regions and outlets by name, code or pinyin initials
  (:func:`geo_crm.domain.search.search`), to jump to them on the map;
- ``GET /landing/rows[?group=<code>]``: the region table's rows below each group's head (or
  one group's), as HTML by group head code, for the groups the page writes closed.

Both answer errors as JSON in the one error shape (the page's script reads them).
"""

from __future__ import annotations

from flask import Blueprint, get_template_attribute, jsonify, request

from ..analysis.landing import landing_figures, region_groups
from ..auth.policy import current_user
from ..db import get_session
from ..domain.search import search
from ..errors import GeoCrmError, ValidationError
from ..i18n import add_messages
from .analysis_jobs import page_enqueue
from .locale import current_translator

bp = Blueprint("landing", __name__)

add_messages(
    "landing",
    {
        "Map of regions": "区域地图",
        "Colour by": "着色依据",
        "Coverage %": "覆盖率",
        "Sales this year": "本年销售额",
        "Plan achievement to date": "计划达成（截至今日）",
        "Search outlets, distributors, regions": "搜索网点、经销商、区域",
        "No results": "无结果",
        "Loading…": "加载中…",
        "Filter regions": "筛选区域",
        "Zoom in to see this figure": "请放大地图以查看此指标",
        "No data": "无数据",
        "Click a region to open its page": "点击区域打开其页面",
        "as of {time}": "截至 {time}",
        "Open the region page": "打开区域页面",
        "Open the outlet page": "打开网点页面",
        "Regions shown": "显示区域",
        "Active outlets": "营业网点",
        "Plan (year)": "全年计划",
        "Sell-in this year": "本年进货",
        "Could not load the figures": "无法加载指标",
        "{n} regions": "{n} 个区域",
        "Figures as of {time}; being recomputed": "截至 {time} 的指标；正在重新计算",
        "Figures as of {time}; the analyses are busy, they are recomputed later": (
            "截至 {time} 的指标；分析任务繁忙，稍后重新计算"
        ),
        "Being computed; the analyses are busy, open the map again later": (
            "正在计算；分析任务繁忙，请稍后再打开地图"
        ),
    },
)


@bp.errorhandler(GeoCrmError)
def _json_error(exc: GeoCrmError):
    """The page's script reads JSON errors, whatever the browser accepts."""
    return jsonify(exc.to_dict()), exc.status


@bp.get("/landing/figures")
def figures():
    """One figure for every region of a map level the caller may see."""
    args = request.args
    answer = landing_figures(
        get_session(),
        current_user(),
        args.get("figure"),
        args.get("level"),
        bbox=args.get("bbox"),
        enqueue=page_enqueue(),
    )
    get_session().commit()  # a cached analysis stored or its recomputation queued
    response = jsonify(answer.to_dict())
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


@bp.get("/landing/search", endpoint="search")
def find():
    """Regions and outlets the caller may see matching ``q`` (name, code, pinyin initials)."""
    raw = request.args.get("limit", "8")
    try:
        limit = int(raw)
    except ValueError:
        raise ValidationError("invalid search", fields={"query.limit": "a number"}) from None
    hits = search(get_session(), request.args.get("q"), user=current_user(), limit=limit)
    return jsonify({"results": [hit.to_dict() for hit in hits]})


@bp.get("/landing/rows")
def rows():
    """The rows below each group's head in the home page's region table (all groups, or the
    one ``group`` names: none when the caller sees no such group), formatted as the page
    formats them."""
    from .home import table_row

    t = current_translator()
    sub_rows = get_template_attribute("_landing_rows.html", "sub_rows")
    groups = region_groups(get_session(), current_user(), request.args.get("group") or None)
    body = {g.head.code: str(sub_rows([table_row(r, t) for r in g.rows])) for g in groups}
    response = jsonify({"groups": body})
    response.headers["Cache-Control"] = "private, max-age=60"
    return response
