"""What the scorecard's evaluation form says beside a field in error, in the page's language.

The domain (domain/evaluations.check_evaluation) words its problems for the API, in English and
with the value it got ("must be a whole number from 1 to 5 (got 9)"); the Chinese form showed
those sentences as they were. The form shows instead one sentence per field and kind of problem,
catalogued in both languages; a problem it does not know keeps the domain's words (translated
when the catalogue has them).
"""

from __future__ import annotations

from ..domain.evaluations import MAX_BRANDS, MAX_TEXT, SMALLINT_MAX
from ..i18n import Translator, add_messages

WHOLE = "Enter a whole number from {low} to {high}"  # also business_pages' words
FUTURE = "May not be after today"
DATE = "Enter a date (YYYY-MM-DD)"  # also business_pages' words
YUAN = "Enter a number of yuan ≥ 0"
YUAN_LIMIT = "Must be below {limit} yuan"
AREA = "Enter a number of m² ≥ 0"
BRANDS = "At most {n} brands"
BRAND = "Each brand a name of 1 to 100 characters"
TEXT = "At most {n} characters"  # also business_pages' words

add_messages(
    "evaluation_form",
    {
        FUTURE: "不能晚于今天",
        YUAN: "请输入 ≥ 0 的金额（元）",
        YUAN_LIMIT: "必须小于 {limit} 元",
        AREA: "请输入 ≥ 0 的面积（㎡）",
        BRANDS: "最多 {n} 个品牌",
        BRAND: "每个品牌名称 1 至 100 个字符",
    },
)


def problem_words(t: Translator, name: str, problem: str) -> str:
    """The form's sentence for the problem the domain found with field ``name``."""
    if name in ("initiative", "credit"):
        return t(WHOLE, low=1, high=5)
    if name in ("warehouses", "vehicles", "staff"):
        return t(WHOLE, low=0, high=t.number(SMALLINT_MAX))
    if name == "evaluated_on":
        return t(FUTURE) if "after today" in problem else t(DATE)
    if name == "capital":
        if "below" in problem:
            return t(YUAN_LIMIT, limit=t.number(10**12))
        return t(YUAN)
    if name == "warehouse_area_m2":
        return t(AREA)
    if name == "brands_carried":
        return t(BRANDS, n=MAX_BRANDS) if "at most" in problem else t(BRAND)
    if name in ("social_relations", "notes"):
        return t(TEXT, n=t.number(MAX_TEXT))
    return t(problem)


def form_problems(t: Translator, problems: dict[str, str]) -> dict[str, str]:
    """Each field's problem as the form shows it (``body.x`` and ``x`` both name field x)."""
    return {
        name.removeprefix("body."): problem_words(t, name.removeprefix("body."), str(problem))
        for name, problem in problems.items()
    }
