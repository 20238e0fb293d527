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


MAP_SCHEME = "geo-crm-map"  # the maps' URLs in the paged HTML, served by map_fetcher


def map_fetcher(maps: dict):
    """WeasyPrint's URL fetcher for the printed report: the maps from memory, ``data:`` URIs
    (the raster layer inside a map) as WeasyPrint reads them, and nothing else — no file and
    no network, whatever a template or a map might name."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class MapFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if url in maps:
                return URLFetcherResponse(url, maps[url], {"Content-Type": "image/svg+xml"})
            return super().fetch(url, headers)

    return MapFetcher(allowed_protocols=("data",))


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
    """The paged HTML WeasyPrint lays out, each map inline as a ``data:`` URI (a file that
    opens on its own: for tests and for debugging layouts)."""
    html, maps = paged_html(data, progress)
    for url, svg in maps.items():
        inline = "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
        html = html.replace(f'"{url}"', f'"{inline}"')
    return html


def paged_html(data: ReportData, progress: Progress | None = None) -> tuple[str, dict]:
    """The paged HTML and the maps it names (``geo-crm-map:<kind>`` → SVG bytes), which
    :func:`map_fetcher` hands to WeasyPrint: three maps of up to a megabyte each would
    otherwise be base64 text in the HTML, which WeasyPrint's HTML parser tokenizes in
    Python before the SVG parser reads them again."""
    step = progress or (lambda percent, stage: None)
    t = render.translator(data)
    maps, images = [], {}
    frame = charts.MapFrame(data)  # projected and simplified once for the three maps
    for n, (kind, anchor, label) in enumerate(
        (
            ("coverage", "map-coverage", "Coverage map"),
            ("gaps", "map-gaps", "Gap map"),
            ("density", "map-density", "Sales density map"),
        )
    ):
        step(88 + n * 3, f"map {kind}")
        src = f"{MAP_SCHEME}:{kind}"
        images[src] = charts.MAPS[kind](data, t, frame).encode("utf-8")
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
    html = template.render(
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
    return html, images


def write_pdf(data: ReportData, path: Path, progress: Progress | None = None) -> Path:
    import weasyprint

    started = time.perf_counter()
    html, maps = paged_html(data, progress)
    if progress:
        progress(97, "layout")
    document = weasyprint.HTML(string=html, base_url=None, url_fetcher=map_fetcher(maps))
    document.write_pdf(
        path,
        pdf_variant=None,
        uncompressed_pdf=False,
        optimize_images=False,  # matplotlib's PNGs are already compressed
        custom_metadata=True,
    )
    LOGGER.info("pdf %s: %.2f s", path.name, time.perf_counter() - started)
    return path
