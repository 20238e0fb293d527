"""Chinese for the sign-in, tagging and review pages (English source strings are the keys).

Kept here rather than in geo_crm/i18n.py's catalogue so the pages of this subsystem own their
words; :class:`PageText` falls back to that catalogue (tier names, numbers) and picks the
language as every page does: ``?lang=``, else the user's own setting, else the ``lang``
cookie, else ``Accept-Language``.
"""

from __future__ import annotations

from flask import request

from .. import i18n
from ..domain.principal import Principal

ZH: dict[str, str] = {
    "Sign in": "登录",
    "Sign out": "退出登录",
    "Username": "用户名",
    "Password": "密码",
    "Invalid username or password.": "用户名或密码错误。",
    "Too many failed sign-ins for this user from your address. Try again in {minutes} min.": "该用户在您的网络地址登录失败次数过多，请 {minutes} 分钟后再试。",
    "Do you want to sign out?": "确定要退出登录吗？",
    "Signed in as {name}": "当前用户：{name}",
    "Sign out on every device": "在所有设备上退出登录",
    "Ends every session of this account, on phones and other computers too.": "结束此账号在所有设备（包括手机和其他电脑）上的登录。",
    "Tag outlets": "网点定位",
    "My outlets": "我的网点",
    "Search name or code": "搜索名称或代码",
    "Not geotagged": "未定位",
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
    "Name": "名称",
    "Tier": "层级",
    "Supplier (parent)": "上级供货商",
    "Type to search": "输入以搜索",
    "None": "无",
    "Notes": "备注",
    "Create outlet": "创建网点",
    "Cancel": "取消",
    "Outlet {code} created.": "网点 {code} 已创建。",
    "No outlets.": "没有网点。",
    "Current position": "当前位置",
    "My position": "我的位置",
    "New position": "新位置",
    "Geotag review": "定位审核",
    "Nothing awaits review.": "没有待审核的定位。",
    "Outlet": "网点",
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
    "Language": "语言",
}

# what each geotag flag code means, in words (the tag page and the review queue say this)
FLAG_SENTENCES = {
    "outside_region": "The point lies outside the outlet's region.",
    "jump": "The point is far from the outlet's current location.",
    "possible_duplicate": "An outlet with a similar name lies nearby: possibly the same shop.",
}


def choose_lang(user: Principal | None) -> str:
    return i18n.negotiate(
        request.args.get("lang"),
        (user.locale if user else None) or request.cookies.get("lang"),
        request.headers.get("Accept-Language"),
    )


class PageText:
    """``t("Sign in")`` in the page's language; ``t.tier("retail")`` etc. from geo_crm.i18n."""

    def __init__(self, lang: str):
        self.lang = i18n.normalise_lang(lang) or i18n.DEFAULT_LANG
        self.base = i18n.Translator(self.lang)
        self.html_lang = self.base.html_lang

    def __call__(self, message: str, /, **values) -> str:
        if self.lang == "zh" and message in ZH:
            text = ZH[message]
        elif self.lang == "zh":
            text = i18n.ZH.get(message, message)
        else:
            text = message
        return text.format(**values) if values else text

    def tier(self, tier: str) -> str:
        return self.base.tier(tier)

    def catalogue(self, keys) -> dict[str, str]:
        """The strings a page's script needs, for a ``<script type="application/json">`` block."""
        return {k: self(k) for k in keys}


def page_text(user: Principal | None) -> PageText:
    return PageText(choose_lang(user))
