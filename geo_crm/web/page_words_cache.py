"""The words of the analysis cache's notes on the region pages (zh-CN beside the English)."""

from __future__ import annotations

from .. import i18n

CACHE_WORDS = {
    "Figures as of {time}, being updated": "数据截至 {time}，正在更新",
    "Being computed": "正在计算",
    "The analysis of this region is being computed; the map appears when it is ready.": (
        "正在计算该区域的分析，完成后将显示地图。"
    ),
}
i18n.add_messages("analysis_cache", CACHE_WORDS)
