"""What pages say in the reader's language where they used to show a code or an English message
(issue 17, item 10): a review flag's reason with its detail, a distance in metres (米 in
Chinese), the form's label for a field in error, and an error page's sentence."""

from __future__ import annotations

import re

from ..i18n import Translator, add_messages

# a review flag (``code:detail`` as geotag_events.flags keeps it) as a sentence with its detail
REASONS = {
    "outside_region": "The point lies outside the outlet's region {detail}.",
    "jump": "The point is {detail} from the outlet's current location.",
    "possible_duplicate": "An outlet with a similar name lies nearby ({detail}): possibly the "
    "same shop.",
}
REASONS_BARE = {
    "outside_region": "The point lies outside the outlet's region.",
    "jump": "The point is far from the outlet's current location.",
    "possible_duplicate": "An outlet with a similar name lies nearby: possibly the same shop.",
}
UNKNOWN_REASON = "Flagged for review ({detail})."

# the region page's form: query parameter -> its label on the form (templates/region.html)
FORM_LABELS = {
    "query.tier": "Tiers",
    "query.distributor": "Distributor",
    "query.product": "Product",
    "query.from": "From",
    "query.to": "To",
    "query.radius_km": "Radius (km)",
    "query.cell_km": "Cell size (km)",
    "query.measure": "Measure",
}

# what an error page says when the message itself is not in the reader's language
STATUS_SENTENCES = {
    400: "The request could not be read.",
    401: "Please sign in.",
    403: "You may not open this page.",
    404: "Not found.",
    405: "This address does not take that method.",
    409: "Someone changed this in the meantime; reload and try again.",
    413: "The upload is too large.",
    415: "This address does not take that kind of content.",
    422: "Some values are not valid.",
    429: "Too many attempts; wait a little and try again.",
    500: "Something went wrong; it has been logged.",
    503: "The database is unavailable; try again in a few seconds.",
}
# an object the URL names that does not exist (auth.policy's 404), by the kind of object
NOT_FOUND = {
    "region": "Region {value} not found.",
    "outlet": "Outlet {value} not found.",
    "distributor": "Distributor {value} not found.",
    "sale": "Sales record {value} not found.",
    "geotag_event": "Geotag {value} not found.",
    "plan": "Sales plan {value} not found.",
}
NOT_FOUND_OTHER = "{value} not found."
# flask-wtf's reasons for refusing a form, as auth.policy words them
_AGAIN = " Reload the page and try again."
CSRF_REASONS = {
    "The CSRF token is missing.": "表单缺少 CSRF 令牌。",
    "The CSRF session token is missing.": "会话中缺少 CSRF 令牌。",
    "The CSRF token has expired.": "CSRF 令牌已过期。",
    "The CSRF token is invalid.": "CSRF 令牌无效。",
    "The CSRF tokens do not match.": "CSRF 令牌不匹配。",
}

add_messages(
    "page_words",
    {
        REASONS["outside_region"]: "位置不在网点原所属区域{detail}内。",
        REASONS["jump"]: "位置与网点当前位置相距 {detail}。",
        REASONS["possible_duplicate"]: "附近有名称相近的网点（{detail}），可能重复。",
        UNKNOWN_REASON: "已标记待审核（{detail}）。",
        "{n} m": "{n} 米",
        "Tiers": "层级",
        "Outlets outside every region": "不在任何区域内的网点",
        STATUS_SENTENCES[400]: "无法读取该请求。",
        STATUS_SENTENCES[401]: "请先登录。",
        STATUS_SENTENCES[403]: "您无权打开此页面。",
        STATUS_SENTENCES[404]: "未找到。",
        STATUS_SENTENCES[405]: "此地址不接受该请求方法。",
        STATUS_SENTENCES[409]: "其他人已修改了此内容；请刷新后重试。",
        STATUS_SENTENCES[413]: "上传的文件过大。",
        STATUS_SENTENCES[415]: "此地址不接受该类型的内容。",
        STATUS_SENTENCES[422]: "部分数值无效。",
        STATUS_SENTENCES[429]: "尝试次数过多；请稍候再试。",
        STATUS_SENTENCES[500]: "出现了错误；已记录。",
        STATUS_SENTENCES[503]: "数据库暂时不可用；请几秒后重试。",
        NOT_FOUND["region"]: "未找到区域 {value}。",
        NOT_FOUND["outlet"]: "未找到网点 {value}。",
        NOT_FOUND["distributor"]: "未找到总经销 {value}。",
        NOT_FOUND["sale"]: "未找到销售记录 {value}。",
        NOT_FOUND["geotag_event"]: "未找到定位记录 {value}。",
        NOT_FOUND["plan"]: "未找到销售计划 {value}。",
        NOT_FOUND_OTHER: "未找到 {value}。",
        **{en + _AGAIN: zh + "请刷新页面后重试。" for en, zh in CSRF_REASONS.items()},
    },
)

_CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")


def metres(t: Translator, value: float | None) -> str:
    """A distance in whole metres: ``4,186 m``, in Chinese ``4,186 米``."""
    return "–" if value is None else t("{n} m", n=t.number(value))


def reason(t: Translator, flag: str) -> str:
    """One stored review flag (``jump:4186``, ``possible_duplicate:W2000150``) as a sentence
    in ``t``'s language, its detail in it (a distance in metres, a region or outlet code)."""
    code, _, detail = flag.partition(":")
    if code not in REASONS:
        return t(UNKNOWN_REASON, detail=flag)
    if not detail:
        return t(REASONS_BARE[code])
    if code == "jump":
        try:
            detail = metres(t, float(detail))
        except ValueError:
            return t(REASONS_BARE[code])
    return t(REASONS[code], detail=detail)


def field_label(t: Translator, field: str) -> str:
    """The form's label for a field in error (``query.radius_km`` -> "Radius (km)")."""
    label = FORM_LABELS.get(field)
    return t(label) if label else field.rpartition(".")[2]


def page_message(
    t: Translator, status: int, message: str, fields: dict | None, kinds: dict[str, str]
) -> str:
    """An error page's sentence in ``t``'s language: the message when it already is in it (a
    page's own, translated words, or a catalogued phrase), an object the URL names that does not
    exist by its kind (``kinds``: URL argument -> kind of object; the value from the URL), or
    else the status's sentence."""
    if t.lang == "en" or _CJK.search(message or ""):
        return message
    if status == 404 and fields:
        from flask import request

        for key, problem in fields.items():
            arg = key.removeprefix("path.")
            value = (request.view_args or {}).get(arg)
            if problem == "not found" and value is not None:
                template = NOT_FOUND.get(kinds.get(arg, ""), NOT_FOUND_OTHER)
                return t(template, value=value)
    translated = t(message)
    if translated != message:
        return translated
    return t(STATUS_SENTENCES.get(status, STATUS_SENTENCES[500 if status >= 500 else 400]))


def error_page_fields(status: int, fields: dict | None) -> dict[str, str]:
    """The fields an error page lists beside its sentence, by their form labels, each problem
    in the page's language (left out when the catalogue has no words for it); none on a 404,
    whose sentence already names what is missing."""
    from .locale import current_translator

    t = current_translator()
    if status == 404 or not fields:
        return {}
    out = {}
    for name, problem in fields.items():
        text = t(problem) if isinstance(problem, str) else ""
        if t.lang != "en" and text == problem and not _CJK.search(text):
            text = ""
        out[field_label(t, name)] = text
    return out


def error_page_message(status: int, message: str, fields: dict | None) -> str:
    """:func:`page_message` for the request being answered (http_errors' HTML error page)."""
    from flask import request

    from ..auth.policy import rule_for
    from .locale import current_translator

    rule = rule_for(request.endpoint) if request.endpoint else None
    kinds = dict(rule.objects) if rule is not None else {}
    return page_message(current_translator(), status, message, fields, kinds)
