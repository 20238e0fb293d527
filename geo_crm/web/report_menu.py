"""The "Download report" menu of the region and distributor pages (templates/reports/_menu.html,
static/report_menu.js): its words, in the catalogue's "report_menu" section.

The menu queues a background job through the API (``POST /api/v1/regions/<code>/report-jobs``
or ``/distributors/<code>/report-jobs``) with the page's current filters, polls the job and
shows its percent and stage, then the file's link. Jobs finish only while ``geo-crm worker``
runs; a job still waiting after a while says so.
"""

from __future__ import annotations

from ..i18n import add_messages

add_messages(
    "report_menu",
    {
        "Download report": "下载报告",
        "Report format": "报告格式",
        "PDF (print)": "PDF（打印）",
        "HTML (interactive, offline)": "HTML（可交互，离线打开）",
        "Excel workbook (XLSX)": "Excel 工作簿（XLSX）",
        "GeoPackage (GIS layers)": "GeoPackage（GIS 图层）",
        "GeoJSON (zip)": "GeoJSON（zip）",
        "Build report": "生成报告",
        "The current filters apply.": "应用当前筛选条件。",
        "Reports are built in the background by geo-crm worker.": (
            "报告由后台 geo-crm worker 生成。"
        ),
        "Waiting for a worker": "等待后台任务",
        "Started": "已开始",
        "Coverage analysis": "覆盖分析",
        "Gap analysis": "空白分析",
        "Density analysis": "密度分析",
        "Distributor ranking": "经销商排名",
        "Outlets": "网点",
        "Worst gaps": "最大空白点",
        "Drawing maps": "绘制地图",
        "Writing the page": "生成页面",
        "Laying out the pages": "排版页面",
        "Coverage map": "覆盖地图",
        "Gap map": "空白点地图",
        "Density map": "密度地图",
        "Done": "完成",
        "Failed": "失败",
        "Expired": "已过期",
        "Report ready: {name}": "报告已生成：{name}",
        "Report failed: {error}": "报告生成失败：{error}",
        "Still waiting: is geo-crm worker running?": "仍在等待：geo-crm worker 是否在运行？",
        "Could not reach the server; try again.": "无法连接服务器，请重试。",
    },
)


def stage_words(t) -> dict[str, str]:
    """The job stages (``jobs.tasks``, ``reports``) as the menu names them, in ``t``'s language."""
    return {
        "queued": t("Waiting for a worker"),
        "started": t("Started"),
        "coverage": t("Coverage analysis"),
        "gaps": t("Gap analysis"),
        "density": t("Density analysis"),
        "distributors": t("Distributor ranking"),
        "outlets": t("Outlets"),
        "gaps listed": t("Worst gaps"),
        "maps": t("Drawing maps"),
        "page": t("Writing the page"),
        "layout": t("Laying out the pages"),
        "map coverage": t("Coverage map"),
        "map gaps": t("Gap map"),
        "map density": t("Density map"),
        "done": t("Done"),
        "failed": t("Failed"),
        "expired": t("Expired"),
    }
