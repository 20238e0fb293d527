"""The self-contained HTML report: one file that opens from disk or an e-mail attachment.

The interactive maps are the region page's own Folium builders (``maps.coverage``, ``gaps``,
``density``) with no basemap (tiles would be requests), each in a sandboxed ``<iframe
srcdoc>``. Leaflet's script and stylesheet (from the installed xstatic-leaflet, as
``maps/assets.py`` serves them) are inlined into every map document, the stylesheet's images
as ``data:`` URIs, so the file asks no server for anything. Each map document is stored
gzip-compressed (base64) and unpacked by the browser when the page opens. Tables and text come
from the same :mod:`~geo_crm.reports.tables` as the PDF, through autoescaped Jinja; map labels
and popups go through ``maps.safe`` as on the page.
"""

from __future__ import annotations

import base64
import functools
import gzip
import re
from pathlib import Path

import numpy as np

from ..domain.outlet_layers import OutletCoords, OutletRows, plan_tiers
from ..maps import assets
from ..maps.base import MapSettings, RegionShape, render
from ..maps.coverage import CoverageData, coverage_map
from ..maps.density import DensityData, density_map
from ..maps.gaps import GapData, gap_map
from ..models import TIERS
from . import render as common
from . import tables
from .data import Progress, ReportData

POINT_LIMIT = 3000  # outlets drawn one by one (with a popup); the rest counted per hexagon
_SOURCE_MAP = re.compile(r"//# sourceMappingURL=\S+")
_CSS_URL = re.compile(r"url\((['\"]?)images/([A-Za-z0-9_.-]+)\1\)")


@functools.lru_cache(maxsize=8)
def _asset_text(name: str) -> str:
    asset = assets.ASSETS[name]
    path = assets.vendor_file(asset.vendor, asset.path)
    if path is None:
        raise assets.UnservedAsset(f"{asset.vendor}/{asset.path} is not installed")
    text = _SOURCE_MAP.sub("", path.read_text(encoding="utf-8"))
    if asset.kind == "css":
        folder = path.parent / "images"

        def inline(m: re.Match) -> str:
            image = folder / m.group(2)
            if not image.is_file():
                return "url(data:,)"
            data = base64.b64encode(image.read_bytes()).decode()
            return f"url(data:image/png;base64,{data})"

        text = _CSS_URL.sub(inline, text)
    return text


def inline_assets(document: str) -> str:
    """Replace every served Leaflet/plugin file link by the file's content."""
    for name, asset in assets.ASSETS.items():
        url = assets.asset_url(name)
        if url not in document:
            continue
        body = _asset_text(name).replace("</", "<\\/") if asset.kind == "js" else _asset_text(name)
        if asset.kind == "js":
            document = re.sub(
                r'<script src="' + re.escape(url) + r'"></script>',
                lambda m, b=body: f"<script>{b}</script>",
                document,
            )
        else:
            document = re.sub(
                r'<link rel="stylesheet" href="' + re.escape(url) + r'"\s*/?>',
                lambda m, b=body: f"<style>{b}</style>",
                document,
            )
    return document


def _shapes(data: ReportData) -> tuple[RegionShape, list[RegionShape]]:
    def shape(s) -> RegionShape:
        return RegionShape(s.code, s.name, s.boundary, s.level, s.label)

    return shape(data.region), [shape(s) for s in data.sub_regions]


def _outlets(data: ReportData) -> tuple[OutletRows | None, OutletCoords | None]:
    o = data.outlets
    if not len(o):
        return None, None
    counts = {t: int((o.tier == i).sum()) for i, t in enumerate(TIERS)}
    points, counted = plan_tiers(counts, POINT_LIMIT if o.code is not None else 0)
    rows = coords = None
    if points:
        keep = np.flatnonzero(np.isin(o.tier, [TIERS.index(t) for t in points]))
        idx = keep.tolist()
        rows = OutletRows(
            lon=o.lon[keep],
            lat=o.lat[keep],
            tier=[TIERS[o.tier[i]] for i in idx],
            code=[o.code[i] for i in idx],
            name=[o.name[i] for i in idx],
            parent=[o.parent[i] for i in idx],
            region=[o.region[i] for i in idx],
            last_geotag=[None] * len(idx),
            sales=[None] * len(idx),
            debt=[None] * len(idx),
        )
    if counted:
        keep = np.isin(o.tier, [TIERS.index(t) for t in counted])
        coords = OutletCoords(o.lon[keep], o.lat[keep], o.tier[keep])
    return rows, coords


def map_documents(data: ReportData, t) -> dict[str, str]:
    """The three interactive maps as standalone documents with their assets inlined."""
    settings = MapSettings(
        translator=t, basemap="none", assets="local", region_href="#", outlet_href="#"
    )
    region, subs = _shapes(data)
    rows, coords = _outlets(data)
    cov = data.coverage
    covered = {"all": cov.geometry} if cov.geometry is not None else {}
    coverage = CoverageData(
        covered=covered,
        ratio={x.tier: x.ratio for x in cov.by_tier} | {"all": cov.region.ratio},
        subregion_ratio={s.code: s.ratio for s in cov.sub_regions},
        radii=dict(cov.radius_m),
    )
    gaps = GapData.from_result(data.gaps)
    density = DensityData.from_result(data.density, measure=data.filters.measure)
    docs = {
        "coverage": coverage_map(
            region, subs, settings, coverage=coverage, rows=rows, coords=coords
        ),
        "gaps": gap_map(region, subs, settings, gaps=gaps, rows=rows, coords=coords),
        # sales cells, not outlet counts, are what this map shows (distributors stay as points)
        "density": density_map(region, subs, settings, density=density, rows=rows),
    }
    return {kind: inline_assets(render(m)) for kind, m in docs.items()}


def packed(document: str) -> str:
    """A map document gzip-compressed and base64-encoded: the page's loader unpacks it with
    the browser's own ``DecompressionStream`` into the map's ``<iframe srcdoc>``. Three maps
    each carrying Leaflet, the boundaries and thousands of cells shrink about fivefold."""
    raw = gzip.compress(document.encode("utf-8"), compresslevel=9, mtime=0)
    return base64.b64encode(raw).decode("ascii")


def html_document(data: ReportData, progress: Progress | None = None) -> str:
    step = progress or (lambda percent, stage: None)
    t = common.translator(data)
    step(88, "maps")
    docs = map_documents(data, t)
    maps = [
        ("map-coverage", t("Coverage map"), packed(docs["coverage"])),
        ("map-gaps", t("Gap map"), packed(docs["gaps"])),
        ("map-density", t("Sales density map"), packed(docs["density"])),
    ]
    step(95, "page")
    template = common.environment().get_template("reports/report.html")
    return template.render(
        t=t,
        data=data,
        title=common.title(t, data),
        facts=common.facts(t, data),
        as_of=common.as_of(t, data),
        figures=tables.key_figures(t, data),
        maps=maps,
        gaps=tables.gaps(t, data),
        subs=tables.sub_regions(t, data),
        dists=tables.distributors(t, data),
    )


def write_html(data: ReportData, path: Path, progress: Progress | None = None) -> Path:
    path.write_text(html_document(data, progress), encoding="utf-8")
    return path
