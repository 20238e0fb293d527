"""Why a report job failed or expired, stored as a key and values and read in the reader's
language.

A worker has no request and no reader: it cannot know in which language the message will be
read (the same job is polled by the page in the user's language, and read by an admin in
theirs). So ``jobs.tasks`` stores a :class:`Failure` — a key of :data:`MESSAGES` and its
values, in ``report_jobs.error_key`` / ``error_params`` — with the English sentence in
``error`` for logs, and :func:`message` translates it when the job is read. Values are codes
and numbers (a region code, field names, hours), never a sentence: field names are named by
their labels in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Forbidden, NotFound, ValidationError
from ..i18n import Translator, add_messages

# key -> English source (the catalogue's key; its Chinese is added below)
MESSAGES: dict[str, str] = {
    "owner_gone": ("The user who asked for this report no longer exists or is disabled."),
    "forbidden": "Your role may no longer build reports.",
    "not_found": (
        "{what} {code} is no longer there or no longer in your scope: ask for another report."
    ),
    "invalid": ("The report's filters are no longer valid ({fields}): change them and ask again."),
    "internal": (
        "The report could not be built because of an internal error: ask again later, or "
        "tell an administrator."
    ),
    "expired": (
        "This report's file was deleted {hours} hours after it was built: ask for the report again."
    ),
    "worker_lost": (
        "The background worker building this report stopped before it finished: ask for the "
        "report again."
    ),
}

add_messages(
    "report_jobs",
    {
        MESSAGES["owner_gone"]: "申请此报告的用户已不存在或已停用。",
        MESSAGES["forbidden"]: "您的角色已无权生成报告。",
        MESSAGES["not_found"]: "{what} {code} 已不存在或已不在您的权限范围内：请申请其他报告。",
        MESSAGES["invalid"]: "报告的筛选条件已失效（{fields}）：请修改后重新申请。",
        MESSAGES["internal"]: "内部错误，报告未能生成：请稍后重试，或联系管理员。",
        MESSAGES["expired"]: "此报告文件已在生成 {hours} 小时后删除：请重新申请报告。",
        MESSAGES["worker_lost"]: "生成此报告的后台任务进程在完成前已停止：请重新申请报告。",
        "Region": "区域",
        "Distributor": "经销商",
        "Product": "产品",
        "Tiers": "层级",
        "Period": "期间",
        "Radius": "半径",
        "Cell size": "网格大小",
        "Measure": "指标",
        "Report format": "报告格式",
    },
)

# a failing field (ValidationError.fields key) -> its label
FIELD_LABELS = {
    "region": "Region",
    "distributor": "Distributor",
    "product": "Product",
    "tier": "Tiers",
    "date_from": "Period",
    "date_to": "Period",
    "radius_km": "Radius",
    "cell_km": "Cell size",
    "measure": "Measure",
    "format": "Report format",
}
_WHAT = {"region": "Region", "distributor": "Distributor"}


class OwnerGone(NotFound):
    """The user a job belongs to was deleted or disabled before it ran."""


@dataclass(frozen=True)
class Failure:
    key: str
    params: dict = field(default_factory=dict)

    def english(self) -> str:
        return message(self.key, self.params, Translator("en")) or self.key


def of_error(
    exc: BaseException, region_code: str | None = None, territory_of: str | None = None
) -> Failure:
    """The failure a job (of ``region_code``, or of ``territory_of``'s territory) records for
    ``exc``; anything but a known :class:`GeoCrmError` is an internal error."""
    if isinstance(exc, OwnerGone):
        return Failure("owner_gone")
    if isinstance(exc, Forbidden):
        return Failure("forbidden")
    if isinstance(exc, NotFound):
        what = next((k for k in exc.fields if k in _WHAT), "region")
        code = region_code if what == "region" else territory_of
        return Failure("not_found", {"what": what, "code": code or ""})
    if isinstance(exc, ValidationError):
        names = [k.rsplit(".", 1)[-1] for k in exc.fields] or ["filters"]
        return Failure("invalid", {"fields": list(dict.fromkeys(names))})
    return Failure("internal")


def message(key: str | None, params: dict | None, t: Translator) -> str | None:
    """The stored failure in ``t``'s language; None for an unknown key (the caller falls back
    to the stored English)."""
    template = MESSAGES.get(key or "")
    if template is None:
        return None
    p = dict(params or {})
    try:
        if key == "not_found":
            p["what"] = t(_WHAT.get(p.get("what"), "Region"))
            p["code"] = p.get("code") or ""
        elif key == "invalid":
            labels = [t(FIELD_LABELS[f]) if f in FIELD_LABELS else f for f in p.get("fields", [])]
            p["fields"] = ("、" if t.lang == "zh" else ", ").join(dict.fromkeys(labels))
        elif key == "expired":
            p["hours"] = t.number(p.get("hours", 0), 0 if float(p.get("hours", 0)) >= 1 else 1)
        return t(template, **p)
    except (KeyError, TypeError, ValueError):
        return None
