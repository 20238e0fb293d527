"""Judging distributors in the browser: the scorecard page with its evaluation form, and the
ranking of a region's distributors with a map coloured by the figure ranked by."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from flask import Blueprint, redirect, render_template, request, url_for

from .. import i18n
from ..analysis import ranking as ranking_svc
from ..analysis.breadth import BASIS_WORDS
from ..analysis.growth import month_before
from ..analysis.judging import record_evaluation, scorecard
from ..analysis.ranking import ASCENDING, FIGURES
from ..auth.policy import current_user
from ..db import get_session
from ..domain import evaluations as ev
from ..errors import ValidationError
from ..maps.ranking_svg import MapPoint, point_map
from ..models import TIERS
from .evaluation_words import form_problems
from .locale import current_translator
from .svg_charts import monthly_chart, trend_chart

bp = Blueprint("judging_pages", __name__)

i18n.add_messages(
    "judging",
    {
        "Scorecard": "经销商评分卡",
        "Class": "等级",
        "Score": "评分",
        "Evaluations": "经销商评估",
        "Evaluation": "评估",
        "Add an evaluation": "新增评估",
        "Evaluation date": "评估日期",
        "Initiative": "积极性",
        "Business capability": "经营能力",
        "Credit": "信誉",
        "Reach": "覆盖",
        "Capital (yuan)": "资金（元）",
        "Best-selling brands carried": "经营畅销品牌",
        "one per line or separated by commas": "每行一个或用逗号分隔",
        "Warehouses": "仓库数",
        "Warehouse area (m²)": "仓库面积（㎡）",
        "Vehicles": "车辆数",
        "Staff": "人员",
        "Social relations": "社会关系",
        "Evaluator": "评估人",
        "1 (poor) to 5 (excellent)": "1（差）至 5（优）",
        "Record only the business: never health, religion or family.": (
            "只记录经营情况：不得记录健康、宗教或家庭等个人敏感信息。"
        ),
        "Save evaluation": "保存评估",
        "Evaluation saved.": "评估已保存。",
        "The evaluation was not saved: see the fields marked.": "评估未保存：请查看标出的字段。",
        "Sell-in": "进货",
        "Sell-out": "出货",
        "Sell-in and sell-out against plan, last 12 months": "近 12 个月进货、出货与计划对比",
        "Growth": "增长",
        "Month over month": "环比",
        "Year over year": "同比",
        "Debt ageing": "账龄分析",
        "Owed to the manufacturer": "欠厂家款",
        "Owed by its buyers": "下游欠款",
        "Oldest unpaid": "最早未付",
        "days": "天",
        "No debt.": "无欠款。",
        "Trend per criterion": "各项评分趋势",
        "No evaluation yet.": "尚无评估。",
        "Outlets reached": "覆盖网点",
        "Covered area": "覆盖范围",
        "Depth and breadth now": "当前深度与广度",
        "Breadth": "广度",
        "Depth and breadth at each evaluation": "历次评估时的深度与广度",
        "Scorecard of the distributor": "经销商评分卡",
        "Ranking": "排名",
        "Ranking of distributors": "经销商排名",
        "Rank by": "排名依据",
        "Rank": "排名",
        "Plan achievement": "计划达成",
        "Distribution rate": "铺货率",
        "Debt age": "欠款账龄",
        "Show": "显示",
        "No distributor in this region.": "该区域没有经销商。",
        "lower is better": "越低越好",
        "Map of distributors coloured by {figure}": "按{figure}着色的经销商地图",
        "no data": "无数据",
        "Month": "月份",
        "Plan": "计划",
        "Period": "期间",
        "Distributor": "经销商",
        "Achievement": "达成率",
        "Network map": "网络地图",
        "Outlets reached per tier": "各层级覆盖网点",
        "Sub-regions reached at retail": "零售覆盖的下级区域",
        "not available": "暂无",
        "Territory": "区域范围",
    },
)

i18n.add_messages(
    "growth_comparison",  # which days a growth figure compares (analysis/growth.py)
    {
        "Growth compares {now} with {before}, day for day: the period is still running.": (
            "增长按相同天数对比：{now} 对比 {before}（本期尚未结束）。"
        ),
        "Growth compares {now} with {before}.": "增长对比：{now} 对比 {before}。",
        "Compare growth with": "增长对比方式",
        "Show the last complete month": "查看上一个完整月份",
        "Growth of {now}, day for day: against {mom} (month over month) and {yoy} (year over "
        "year).": "{now} 的增长按相同天数对比：环比 {mom}，同比 {yoy}。",
        "Growth of whole months: against the month before and the same month a year "
        "earlier.": "整月增长：环比上月，同比去年同月。",
        "to date": "截至今天",
    },
)

i18n.add_messages(
    "distributor_reading",  # what reps see on the distributors above their outlets
    {
        "Read only: a distributor above your outlets. Managers and admins record its "
        "purchases, payments and plans.": (
            "只读：您所负责网点的上级经销商。其进货、付款和计划由经理和管理员录入。"
        ),
        "The network map is for managers and admins.": "网络地图仅供经理和管理员查看。",
        "your outlets": "您负责的网点",
    },
)

FIGURE_TITLES = {
    "achievement": "Plan achievement",
    "growth": "Growth",
    "sell_out": "Sell-out",
    "distribution_rate": "Distribution rate",
    "breadth": "Breadth",
    "debt_age": "Debt age",
    "score": "Score",
}
_FORM_INTS = ("initiative", "credit", "warehouses", "vehicles", "staff")


def _render_scorecard(code: str, *, form: dict | None = None, errors: dict | None = None,
                      status: int = 200):  # fmt: skip
    t = current_translator()
    card = scorecard(get_session(), code, user=current_user())
    labels = {"title": t("Sell-in and sell-out against plan, last 12 months"),
              "sell_in": t("Sell-in"), "sell_out": t("Sell-out"), "plan": t("Plan")}  # fmt: skip
    trend_labels = {"title": t("Trend per criterion"), "initiative": t("Initiative"),
                    "capability": t("Business capability"), "credit": t("Credit"),
                    "reach": t("Reach"), "score": t("Score")}  # fmt: skip
    return render_template(
        "scorecard.html",
        card=card,
        data=card.to_dict(),
        months_chart=monthly_chart(card.months, labels, lambda v: t.money(v)),
        trend=trend_chart(card.evaluations, trend_labels) if card.evaluations else None,
        form=form or {},
        errors=errors or {},
        done=request.args.get("done") == "1",
        tiers=TIERS,
        basis_words=BASIS_WORDS,
        today=dt.date.today(),
    ), status


@bp.get("/distributors/<code>/scorecard")
def scorecard_page(code: str):
    """Show a distributor's scorecard: class, chart against plan, growth, debt ageing, the
    evaluations' trend, depth and breadth, its network map and the evaluation form."""
    return _render_scorecard(code)


def _parse_form(code: str, form) -> tuple[ev.EvaluationIn, dict[str, str]]:
    problems: dict[str, str] = {}
    values: dict = {}
    for name in _FORM_INTS:
        raw = (form.get(name) or "").strip()
        if raw:
            try:
                values[name] = int(raw)
            except ValueError:
                problems[name] = "must be a whole number"
    raw = (form.get("capital") or "").strip().replace(",", "")
    if raw:
        try:
            values["capital"] = Decimal(raw)
        except InvalidOperation:
            problems["capital"] = "must be a number of yuan"
    raw = (form.get("warehouse_area_m2") or "").strip()
    if raw:
        try:
            values["warehouse_area_m2"] = float(raw)
        except ValueError:
            problems["warehouse_area_m2"] = "must be a number of m²"
    raw = (form.get("evaluated_on") or "").strip()
    if raw:
        try:
            values["evaluated_on"] = dt.date.fromisoformat(raw)
        except ValueError:
            problems["evaluated_on"] = "use YYYY-MM-DD"
    brands = (form.get("brands_carried") or "").replace("，", ",").replace("、", ",")
    values["brands_carried"] = [
        b.strip() for b in brands.replace("\n", ",").split(",") if b.strip()
    ]
    for name in ("social_relations", "notes"):
        values[name] = (form.get(name) or "").strip() or None
    return ev.EvaluationIn(distributor=code, **values), problems


@bp.post("/distributors/<code>/evaluations")
def add_evaluation(code: str):
    """Record an evaluation from the scorecard's form; errors beside the fields."""
    t = current_translator()
    item, problems = _parse_form(code, request.form)
    if problems:  # every problem at once: those of the values that did parse too
        problems = ev.check_evaluation(item) | problems
    session = get_session()
    if not problems:
        try:
            record_evaluation(session, item, user=current_user())
            session.commit()
            return redirect(url_for("judging_pages.scorecard_page", code=code, done=1,
                                    lang=t.lang) + "#evaluations")  # fmt: skip
        except ValidationError as exc:
            session.rollback()
            problems = dict(exc.fields)
    errors = form_problems(t, problems)  # in the page's language, beside each field
    return _render_scorecard(code, form=request.form.to_dict(), errors=errors, status=422)


@bp.get("/regions/<code>/ranking")
def ranking_page(code: str):
    """Show the ranking of a region's distributors by one figure, with a map coloured by it."""
    t = current_translator()
    by = request.args.get("by", "achievement")
    period = request.args.get("period") or None
    compare = request.args.get("compare") or "mom"
    page = ranking_svc.ranking_page(
        get_session(), code, by=by, period=period, user=current_user(), compare=compare
    )
    figure = t(FIGURE_TITLES[by])
    points = [
        MapPoint(
            r["lon"], r["lat"], None if r[by] is None else float(r[by]),
            f"{r['rank']}. {r['name']} ({r['code']})",
            url_for("judging_pages.scorecard_page", code=r["code"], lang=t.lang),
        )
        for r in page.ranking.rows
        if r["lon"] is not None
    ]  # fmt: skip
    drawn = point_map(
        page.region.boundary,
        [c.boundary for c in page.children],
        points,
        ascending=by in ASCENDING,
        title=t("Map of distributors coloured by {figure}", figure=figure),
    )
    return render_template(
        "ranking.html",
        page=page,
        result=page.ranking,
        by=by,
        figure=figure,
        figures=FIGURES,
        figure_titles=FIGURE_TITLES,
        ascending=by in ASCENDING,
        drawn=drawn,
        period=page.ranking.period.label(),
        compare=compare,
        growth=page.ranking.growth,
        last_complete=f"{month_before(page.ranking.period.start):%Y-%m}",
    )
