"""Simplified Chinese and English for every page, map and message: the one catalogue and the
one translator, with tier names, numbers and dates.

A dict catalogue rather than gettext/Flask-Babel: two languages and a few hundred short strings
need no extraction or compile step, no ``.mo`` files to ship in the wheel, and maps (which know
no Flask) can take a :class:`Translator` as a plain argument. English source strings are the
keys, as with gettext; :data:`ZH` holds the Chinese, in sections (:func:`add_messages`; a
module with words of its own adds its section there). Numbers and dates are formatted by
Babel's CLDR data for the chosen locale. Pages get their request's translator from
``geo_crm.web.locale.current_translator``.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from decimal import Decimal

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers

LOGGER = logging.getLogger(__name__)

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"  # most users are Chinese sales managers
LOCALES = {"zh": "zh_Hans_CN", "en": "en"}
HTML_LANG = {"zh": "zh-CN", "en": "en"}
DISPLAY_ZONE = "Asia/Shanghai"  # GEO_CRM_TIMEZONE's default: the zone times are shown in

TIER_NAMES = {
    "distributor": ("总经销", "Distributor"),
    "wholesaler_2": ("二批", "2nd-tier wholesaler"),
    "wholesaler_3": ("三批", "3rd-tier wholesaler"),
    "retail": ("零售终端", "Retail outlet"),
}
LEVEL_NAMES = {
    "country": ("国家", "Country"),
    "province": ("省", "Province"),
    "city": ("市", "City"),
    "district": ("区县", "District"),
}
STATUS_NAMES = {
    "active": ("营业", "active"),
    "inactive": ("停用", "inactive"),
    "closed": ("已关闭", "closed"),
}
SOURCE_NAMES = {
    "gps": ("GPS", "GPS"),
    "map": ("地图选点", "map"),
    "import": ("导入", "import"),
    "geocode": ("地址解析", "geocode"),
}

# what each geotag flag code means, in words (the tag page and the review queue say this; the
# sentences are phrases of the catalogue)
FLAG_SENTENCES = {
    "outside_region": "The point lies outside the outlet's region.",
    "jump": "The point is far from the outlet's current location.",
    "possible_duplicate": "An outlet with a similar name lies nearby: possibly the same shop.",
}

# The one catalogue: English source string -> Simplified Chinese. Filled by add_messages, one
# section per part of the application; a module with words of its own adds its section the same
# way (see add_messages).
ZH: dict[str, str] = {}
SECTIONS: dict[str, tuple[str, ...]] = {}  # section -> its phrases (as it added them)


def add_messages(section: str, zh: Mapping[str, str]) -> None:
    """Add a section of phrases to the one catalogue :data:`ZH`.

    A module with words of its own keeps them beside its code and adds them when imported::

        i18n.add_messages("reports", {"Debt ageing": "账龄分析", ...})

    A phrase already in the catalogue must carry the same Chinese (one English phrase, one
    translation, whoever uses it) and every ``{placeholder}`` must survive translation; else the
    import stops with the phrase named. Adding the same section again with other phrases is an
    error too (two modules claiming one name).
    """
    if section in SECTIONS and SECTIONS[section] != tuple(zh):
        raise ValueError(f"message section {section!r} is already in the catalogue")
    for english, chinese in zh.items():
        have = ZH.get(english)
        if have is not None and have != chinese:
            raise ValueError(
                f"{english!r} is translated {have!r} already; section {section!r} says {chinese!r}"
            )
        if set(_PLACEHOLDER.findall(english)) != set(_PLACEHOLDER.findall(chinese)):
            raise ValueError(f"{english!r}: the Chinese {chinese!r} loses or adds a placeholder")
    ZH.update(zh)
    SECTIONS[section] = tuple(zh)


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


add_messages(
    "pages",
    {
        "Regions": "区域",
        "Sign out": "退出登录",
        "Review queue": "定位审核",
        "Tag outlets": "网点定位",
        "No regions loaded yet": "尚未加载区域",
        "Region": "区域",
        "Distribution network map": "经销网络地图",
        "Language": "语言",
        "Home": "首页",
        "Sub-regions": "下级区域",
        "No sub-regions": "无下级区域",
        "Key figures": "关键指标",
        "Filters": "筛选",
        "Apply": "应用",
        "Reset": "重置",
        "All": "全部",
        "Tier": "层级",
        "Tiers": "层级",
        "Distributor": "经销商",
        "Product": "产品",
        "Period": "期间",
        "From": "自",
        "To": "至",
        "Radius (km)": "半径（公里）",
        "Cell size (km)": "网格大小（公里）",
        "Measure": "指标",
        "Amount": "金额",
        "Quantity": "数量",
        "Open the map alone": "单独打开地图",
        "Coverage": "覆盖",
        "Gaps": "空白点",
        "Sales density": "销售密度",
        "Network": "网络",
        "Coverage map": "覆盖地图",
        "Gap map": "空白点地图",
        "Sales density map": "销售密度地图",
        "Network map": "网络地图",
        "Coverage ratio": "覆盖率",
        "Coverage ratio by tier": "各层级覆盖率",
        "Whole network": "整个网络",
        "Number of gaps": "空白网格数",
        "White-space sub-regions": "空白下级区域",
        "Sales": "销售额",
        "Sales quantity": "销量",
        "Sales per km²": "每平方公里销售额",
        "Distribution rate": "铺货率",
        "Choose a product": "请选择产品",
        "Choose a distributor to see its network map": "请选择经销商以查看其网络地图",
        "Territory": "区域范围",
        "{n} km cells": "{n} 公里网格",
        "Active outlets": "营业网点",
        "Outlets": "网点",
        "Outlets not yet geotagged": "未定位网点",
        "not available": "暂无",
        "Not available yet: {what}": "暂不可用：{what}",
        "Distributors": "经销商",
        "Depth and breadth": "分销深度与广度",
        "Outlets reached per tier": "各层级覆盖网点",
        "Deepest tier": "最深层级",
        "Sub-regions reached at retail": "零售覆盖的下级区域",
        "Breadth": "广度",
        "Plan achievement": "计划达成",
        "Month": "月份",
        "Plan": "计划",
        "Actual": "实际",
        "Achievement": "达成率",
        "Year to date": "本年累计",
        "Debt": "欠款",
        "Outstanding debt": "未结欠款",
        "Outlet": "网点",
        "Code": "代码",
        "Name": "名称",
        "Level": "级别",
        "Total": "合计",
        "Parent": "上级",
        "Address": "地址",
        "Contact": "联系人",
        "Phone": "电话",
        "Status": "状态",
        "Notes": "备注",
        "Location": "位置",
        "Not geotagged": "未定位",
        "Last geotag": "最近定位",
        "Location history": "位置历史",
        "Date": "日期",
        "Source": "来源",
        "Accuracy": "精度",
        "State": "状态",
        "No location history": "无位置记录",
        "Downstream": "下游",
        "Buyers": "下级客户",
        "Upstream chain": "上游链",
        "Sales in the period": "期间销售额",
        "Open outlet page": "打开网点页面",
        "Open region page": "打开区域页面",
        "Not found": "未找到",
        "Unknown region {code}": "未知区域 {code}",
        "Unknown outlet {code}": "未知网点 {code}",
        "Unknown distributor {code}": "未知经销商 {code}",
        "{code} is not a distributor": "{code} 不是经销商",
        "Unknown map {kind}": "未知地图类型 {kind}",
        "Unknown product {sku}": "未知产品 {sku}",
        "{field}: {problem}": "{field}：{problem}",
        "must be a number": "必须是数字",
        "must be greater than 0": "必须大于 0",
        "must be at most {limit}": "不能超过 {limit}",
        "must be at least {limit}": "不能小于 {limit}",
        "must be a date (YYYY-MM-DD)": "必须是日期（YYYY-MM-DD）",
        "must not be before the start": "不能早于开始日期",
        "unknown tier": "未知层级",
    },
)

add_messages(
    "maps",
    {
        "Basemap": "底图",
        "OpenStreetMap": "OpenStreetMap",
        "AMap (GCJ-02)": "高德地图（GCJ-02）",
        "Boundaries": "边界",
        "Region boundary": "区域边界",
        "Sub-region boundary": "下级区域边界",
        "Outlets by tier": "各层级网点",
        "Outlets (aggregated)": "网点（汇总）",
        "Outlets per cell": "每格网点数",
        "{n} outlets shown as counts per hexagon; zoom in for detail": (
            "共 {n} 个网点，按六边形汇总显示；放大查看详情"
        ),
        "Covered area": "覆盖范围",
        "{tiers}: discs too small to draw at this scale; open a smaller region": (
            "{tiers}：服务圆在此比例下过小，未绘制；请打开下级区域"
        ),
        "Covered area · {tier}": "覆盖范围 · {tier}",
        "Service discs · {tier}": "服务半径 · {tier}",
        "Service radius": "服务半径",
        "Sub-regions by coverage ratio": "下级区域覆盖率",
        "Distributor catchments": "经销商辐射范围",
        "Catchment": "辐射范围",
        "Gap cells": "空白网格",
        "Gap cells by distance to the nearest outlet": "空白网格（距最近网点）",
        "Distance to the nearest outlet": "距最近网点距离",
        "Worst gaps": "最大空白点",
        "No gaps": "无空白点",
        "Click a gap to zoom to it": "点击空白点以缩放至该处",
        "{n} more gap cells not listed": "另有 {n} 个空白网格未列出",
        "Sales per cell": "每格销售额",
        "Sales per cell ({unit})": "每格销售额（{unit}）",
        "Sales per km² by sub-region": "下级区域每平方公里销售额",
        "Heat map": "热力图",
        "Supply links": "供货关系",
        "no data": "无数据",
        "Cells": "网格",
        "Area": "面积",
        "Distance": "距离",
        "outlets": "个网点",
        "Geotagged": "已定位",
        "yes": "是",
        "no": "否",
        "Map": "地图",
        "Tier colours and sizes": "层级颜色与大小",
        "quantile classes": "分位数分级",
        "Zoom in to see outlets": "放大以查看网点",
        "Page {page}": "第 {page} 页",
    },
)

add_messages(
    "units",
    {
        "km": "公里",
        "m": "米",
        "km²": "平方公里",
        "yuan": "元",
        "yuan/km²": "元/平方公里",
        "cases": "箱",
    },
)

add_messages(
    "sign-in, tagging and review",
    {
        "Sign in": "登录",
        "Username": "用户名",
        "Password": "密码",
        "Invalid username or password.": "用户名或密码错误。",
        "Too many failed sign-ins for this user from your address. Try again in {minutes} min.": "该用户在您的网络地址登录失败次数过多，请 {minutes} 分钟后再试。",
        "Do you want to sign out?": "确定要退出登录吗？",
        "Signed in as {name}": "当前用户：{name}",
        "Sign out on every device": "在所有设备上退出登录",
        "Ends every session of this account, on phones and other computers too.": "结束此账号在所有设备（包括手机和其他电脑）上的登录。",
        "Search name or code": "搜索名称或代码",
        "Back": "返回",
        "Use my location": "使用我的位置",
        "Locating…": "正在定位…",
        "Submit location": "提交位置",
        "Sending…": "正在提交…",
        "Saved.": "已保存。",
        "Saved, flagged for review:": "已保存，待审核：",
        "Tap the map or drag the pin to correct the point.": "点击地图或拖动图钉以修正位置。",
        "Location unavailable: {reason}": "无法获取位置：{reason}",
        "Location permission denied. Tap the map to place the point.": "未授予定位权限，请点击地图选点。",
        "Accuracy {m} m": "精度 {m} 米",
        "Someone changed this outlet meanwhile. The list was reloaded; check and submit again.": "该网点已被他人修改，列表已刷新，请核对后重新提交。",
        "Network error: check the connection and try again.": "网络错误，请检查网络后重试。",
        "New outlet here": "在此新建网点",
        "Supplier (parent)": "上级供货商",
        "Type to search": "输入以搜索",
        "None": "无",
        "Create outlet": "创建网点",
        "Outlet {code} created.": "网点 {code} 已创建。",
        "No outlets.": "没有网点。",
        "Current position": "当前位置",
        "New position": "新位置",
        "Geotag review": "定位审核",
        "Nothing awaits review.": "没有待审核的定位。",
        "Moved": "移动距离",
        "Why": "原因",
        "By": "提交人",
        "When": "时间",
        "Accept": "接受",
        "Reject": "拒绝",
        "Accepted.": "已接受。",
        "Rejected; the previous location was restored.": "已拒绝，已恢复原位置。",
        "Rejected; the location was not restored because a later tag moved the outlet.": "已拒绝；该网点之后已被重新定位，位置未恢复。",
        "The point lies outside the outlet's region.": "位置不在网点原所属区域内。",
        "The point is far from the outlet's current location.": "位置与网点当前位置相距过远。",
        "An outlet with a similar name lies nearby: possibly the same shop.": "附近有名称相近的网点，可能重复。",
        "Old": "原位置",
        "New": "新位置",
    },
)


def normalise_lang(value: str | None) -> str | None:
    """Map what users send (``zh-CN``, ``zh_Hans``, ``EN-us``) to a supported language, or None."""
    if not value:
        return None
    head = value.strip().replace("_", "-").split("-")[0].lower()
    return head if head in LANGS else None


def negotiate(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The ``?lang=`` switch, else the ``lang`` cookie, else the best Accept-Language match."""
    for candidate in (query, cookie):
        lang = normalise_lang(candidate)
        if lang:
            return lang
    if accept_language:
        ranked: list[tuple[float, int, str]] = []
        for i, part in enumerate(accept_language.split(",")):
            bits = part.strip().split(";")
            q = 1.0
            for bit in bits[1:]:
                key, _, val = bit.strip().partition("=")
                if key == "q":
                    try:
                        q = float(val)
                    except ValueError:
                        q = 0.0
            lang = normalise_lang(bits[0])
            if lang and q > 0 and math.isfinite(q):
                ranked.append((-q, i, lang))
        if ranked:
            return min(ranked)[2]
    return DEFAULT_LANG


@functools.lru_cache(maxsize=8)
def _plain_digits(locale: str) -> bool:
    symbols = Locale.parse(locale).number_symbols["latn"]
    return symbols["group"] == "," and symbols["decimal"] == "."


@functools.lru_cache(maxsize=16)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def zone_label(moment: dt.datetime) -> str:
    """A zone-aware moment's offset as people read it: ``UTC+8``, ``UTC-3:30``, ``UTC``."""
    offset = moment.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


class Translator:
    """Messages, names and locale-aware number/date formatting for one language; times in one
    display zone (``zone``: GEO_CRM_TIMEZONE, an IANA name)."""

    def __init__(self, lang: str = DEFAULT_LANG, zone: str | None = None):
        self.lang = normalise_lang(lang) or DEFAULT_LANG
        self.zone = _zone(zone or DISPLAY_ZONE)
        self.locale = LOCALES[self.lang]
        self.html_lang = HTML_LANG[self.lang]
        self._plain_digits = _plain_digits(self.locale)

    # --- messages ------------------------------------------------------------------------
    def gettext(self, message: str, /, **values) -> str:
        text = ZH.get(message, message) if self.lang == "zh" else message
        if self.lang == "zh" and message not in ZH:
            LOGGER.debug("no Chinese for %r", message)
        return text.format(**values) if values else text

    __call__ = gettext

    def catalogue(self, keys: Iterable[str]) -> dict[str, str]:
        """These phrases in this language, e.g. for a page script's JSON block."""
        return {key: self.gettext(key) for key in keys}

    def _pick(self, table: dict[str, tuple[str, str]], key: str | None) -> str:
        if key is None:
            return ""
        pair = table.get(key)
        if pair is None:
            return key
        return pair[0] if self.lang == "zh" else pair[1]

    def tier(self, tier: str | None) -> str:
        return self._pick(TIER_NAMES, tier)

    def level(self, level: str | None) -> str:
        return self._pick(LEVEL_NAMES, level)

    def status(self, status: str | None) -> str:
        return self._pick(STATUS_NAMES, status)

    def source(self, source: str | None) -> str:
        return self._pick(SOURCE_NAMES, source)

    # --- numbers and dates ---------------------------------------------------------------
    def number(self, value, digits: int = 0) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "–"
        if self._plain_digits:  # "," and "." as CLDR says for both languages: no Babel call needed
            return f"{value:,.{max(0, digits)}f}"
        pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
        return babel_numbers.format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, ratio, digits: int = 1) -> str:
        if ratio is None or (isinstance(ratio, float) and not math.isfinite(ratio)):
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "") + "%"
        return babel_numbers.format_percent(ratio, format=pattern, locale=self.locale)

    def money(self, amount, digits: int = 0) -> str:
        """Amounts in yuan (CNY): ``¥12,346`` in both languages."""
        if amount is None:
            return "–"
        value = Decimal(str(amount)) if not isinstance(amount, Decimal) else amount
        # "¥" in both languages (CLDR's English symbol would be "CN¥")
        return "¥" + self.number(value, digits)

    def km(self, metres, digits: int = 1) -> str:
        return "–" if metres is None else f"{self.number(metres / 1000.0, digits)} {self('km')}"

    def km2(self, square_metres, digits: int = 1) -> str:
        return (
            "–"
            if square_metres is None
            else (f"{self.number(square_metres / 1e6, digits)} {self('km²')}")
        )

    def local(self, value: dt.datetime) -> dt.datetime:
        """A stored moment in the display zone (a naive one is taken as UTC, as stored)."""
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(self.zone)

    def date(self, value: dt.date | dt.datetime | None, fmt: str = "medium") -> str:
        """A date as it is (a sale date, a plan month); a moment's date in the display zone."""
        if value is None:
            return "–"
        if isinstance(value, dt.datetime):
            value = self.local(value).date()
        return babel_dates.format_date(value, format=fmt, locale=self.locale)

    def datetime(self, value: dt.datetime | None, fmt: str = "medium", *, zone: bool = True) -> str:
        """The one way a stored moment is shown: in the display zone, with its offset
        (``2026年12月7日 10:14:05 UTC+8``) unless ``zone`` is off (a column headed by it)."""
        if value is None:
            return "–"
        local = self.local(value)
        text = babel_dates.format_datetime(local, format=fmt, tzinfo=self.zone, locale=self.locale)
        return f"{text} {zone_label(local)}" if zone else text

    def zone_name(self, moment: dt.datetime | None = None) -> str:
        """The display zone's offset now (or at ``moment``), for a column heading."""
        return zone_label(self.local(moment or dt.datetime.now(dt.UTC)))

    def month(self, value: dt.date | None) -> str:
        if value is None:
            return "–"
        return babel_dates.format_skeleton("yMMM", value, locale=self.locale)


add_messages(
    "business",
    {
        "Sell-in": "进货",
        "Sell-out": "出货",
        "Manufacturer": "厂家",
        "Sales plan": "销售计划",
        "Sales plans": "销售计划",
        "Sales support": "销售支援",
        "Schedule": "进度安排",
        "By day {day}": "截至{day}日",
        "End of month": "月底",
        "Target quantity": "目标数量",
        "Target amount": "目标金额",
        "Plan against actual": "计划与实际",
        "Detail": "明细",
        "Total": "合计",
        "Cumulative": "累计",
        "Achievement": "达成率",
        "Expected to date": "进度目标",
        "Day {day} of {days}: {done} of plan, {gone} of the period gone": "第 {day}/{days} 天：完成计划 {done}，时间进度 {gone}",
        "Copy last month's plans": "复制上月计划",
        "Closed month": "已关账月份",
        "Close month": "关账",
        "Reopen month": "重新开账",
        "History": "修改记录",
        "Debt": "欠款",
        "Debt ageing": "账龄分析",
        "Receivables": "应收账款",
        "Oldest unpaid": "最早未付",
        "0–30 days": "0–30天",
        "31–60 days": "31–60天",
        "61–90 days": "61–90天",
        "Over 90 days": "90天以上",
        "Credit limit": "信用额度",
        "Credit policy": "信用政策",
        "Warn": "警告",
        "Refuse": "拒绝",
        "This sale takes the distributor over its credit limit": "此笔销售使经销商超出信用额度",
        "Review": "审核",
        "Pending": "待审核",
        "Accepted": "已通过",
        "Rejected": "已驳回",
        "Unpaid": "未付款",
        "Partly paid": "部分付款",
        "Paid": "已付清",
        "Unit price": "单价",
        "Invoice no.": "单号",
        "Promotion": "促销",
        "Materials": "物料",
        "Staff": "人员",
        "Other": "其他",
    },
)
