"""The printed report: HTML + CSS paged media laid out by WeasyPrint, maps as SVG.

Why WeasyPrint: it lays out pages from HTML/CSS (``@page`` sizes per section — portrait
tables, landscape maps — running headers, ``counter(page)``/``counter(pages)`` footers, a
table of contents from ``target-counter``, PDF bookmarks from headings), finds fonts through
fontconfig and embeds a *subset* of the CFF-based Noto Sans CJK (OpenType/TTC), which
ReportLab cannot embed. Its SVG renderer keeps matplotlib's text as PDF text, so Chinese in
maps and tables can be searched and copied. It needs Pango ≥ 1.44 (Debian 12:
libpango-1.0-0, libpangoft2-1.0-0, libharfbuzz0b, libfontconfig1) and fonts-noto-cjk.

User text reaches the page only through autoescaped Jinja (HTML) and the maps' SVG, which is
embedded as an image (``data:`` URI): a name can never become markup of the page.
"""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from . import charts, render, tables
from .data import Progress, ReportData

LOGGER = logging.getLogger(__name__)

PRINTED_DISTRIBUTORS = 40  # a page of the ranking; the workbook and the HTML hold every row


@dataclass
class MapImage:
    anchor: str
    title: str
    src: str


def _page_css(t) -> str:
    """``Page {page} of {pages}`` as a CSS ``content`` value with live counters."""
    text = t("Page {page} of {pages}", page="\x00page\x00", pages="\x00pages\x00")
    out = []
    for part in text.split("\x00"):
        if part == "page":
            out.append("counter(page)")
        elif part == "pages":
            out.append("counter(pages)")
        elif part:
            out.append('"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return " ".join(out)


def html_for_pdf(data: ReportData, progress: Progress | None = None) -> str:
    """The paged HTML WeasyPrint lays out (exposed for tests and for debugging layouts)."""
    step = progress or (lambda percent, stage: None)
    t = render.translator(data)
    maps = []
    for n, (kind, anchor, label) in enumerate(
        (
            ("coverage", "map-coverage", "Coverage map"),
            ("gaps", "map-gaps", "Gap map"),
            ("density", "map-density", "Sales density map"),
        )
    ):
        step(88 + n * 3, f"map {kind}")
        svg = charts.MAPS[kind](data, t)
        src = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode()
        maps.append(MapImage(anchor, t(label), src))
    contents = [
        ("figures", t("Key figures")),
        ("map-coverage", t("Coverage map")),
        ("map-gaps", t("Gap map")),
        ("gaps", t("Worst gaps")),
        ("map-density", t("Sales density map")),
        ("sub-regions", t("Sub-regions")),
        ("distributors", t("Distributor ranking")),
    ]
    template = render.environment().get_template("reports/report_pdf.html")
    return template.render(
        t=t,
        data=data,
        title=render.title(t, data),
        facts=render.facts(t, data),
        as_of=render.as_of(t, data),
        page_css=_page_css(t),
        contents=contents,
        figures=tables.key_figures(t, data),
        maps=maps,
        gaps=tables.gaps(t, data),
        subs=tables.sub_regions(t, data),
        dists=tables.distributors(t, data, limit=PRINTED_DISTRIBUTORS),
    )


def write_pdf(data: ReportData, path: Path, progress: Progress | None = None) -> Path:
    import weasyprint

    started = time.perf_counter()
    html = html_for_pdf(data, progress)
    if progress:
        progress(97, "layout")
    document = weasyprint.HTML(string=html, base_url=None)
    document.write_pdf(
        path,
        pdf_variant=None,
        uncompressed_pdf=False,
        optimize_images=False,  # matplotlib's PNGs are already compressed
        custom_metadata=True,
    )
    LOGGER.info("pdf %s: %.2f s", path.name, time.perf_counter() - started)
    return path
