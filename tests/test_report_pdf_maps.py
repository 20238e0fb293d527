"""The printed maps drawn with fewer SVG points (#15: the province PDF under 5 s) look and read
as before: hexagon cells merged per colour class, the three maps sharing one projected frame,
the maps handed to WeasyPrint from memory. Same classes, same legend, same figures, the same
pixels; and the printed report fetches nothing but its own maps."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import shapely
from report_helpers import PERIOD

from geo_crm.domain.principal import SYSTEM
from geo_crm.reports import charts, pdf, render
from geo_crm.reports.data import ReportFilters, report_data

pytest_plugins = ["report_fixtures"]

needs_poppler = pytest.mark.skipif(
    not shutil.which("pdftotext"), reason="poppler-utils (pdftotext, pdftoppm) not installed"
)
FILTERS = ReportFilters(date_from=PERIOD[0], date_to=PERIOD[1], cell_km=4)
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _hexagons(n: int, size: float = 1000.0) -> np.ndarray:
    """A row of ``n`` flat-topped hexagons of one grid, touching along shared edges (rounded,
    as the analyses' outlines are, so that a shared vertex is the same number twice)."""
    angles = np.radians(np.arange(0, 360, 60))
    ring = np.column_stack([np.cos(angles), np.sin(angles)]) * size
    ring = np.vstack([ring, ring[:1]])  # closed: 7 points
    step = np.array([1.5 * size, np.sqrt(3) / 2 * size])
    return np.round(np.stack([ring + step * [i, i % 2] for i in range(n)]), 3)


def _area(path) -> float:
    """Area filled by a matplotlib path under the non-zero rule (signed shoelace per ring)."""
    total, ring = 0.0, []
    for (x, y), code in zip(path.vertices, path.codes, strict=True):
        if code == path.MOVETO and ring:
            total += _signed(ring)
            ring = []
        if code != path.CLOSEPOLY:
            ring.append((x, y))
    return abs(total + _signed(ring))


def _signed(ring) -> float:
    a = np.asarray(ring)
    a = np.vstack([a, a[:1]])
    return 0.5 * float(np.sum(a[:-1, 0] * a[1:, 1] - a[1:, 0] * a[:-1, 1]))


def test_cells_of_a_class_are_merged_into_one_outline_of_the_same_area():
    cells = _hexagons(12)
    merged = charts._class_path(cells)
    assert len(merged.vertices) < 0.7 * cells.shape[0] * cells.shape[1]  # shared edges drop out
    area = float(shapely.area(shapely.polygons(cells)).sum())
    assert _area(merged) == pytest.approx(area, rel=1e-9)


def test_a_hole_where_another_class_lies_stays_a_hole():
    """Six cells around a seventh: the ring's outline has a hole, wound against its shell, so
    the SVG's non-zero fill leaves the middle cell to its own class."""
    size = 1000.0
    angles = np.radians(np.arange(0, 360, 60))
    ring = np.column_stack([np.cos(angles), np.sin(angles)]) * size
    ring = np.vstack([ring, ring[:1]])
    centres = [
        np.array([np.cos(a), np.sin(a)]) * np.sqrt(3) * size for a in np.radians(range(30, 390, 60))
    ]
    around = np.round(np.stack([ring + c for c in centres]), 3)
    merged = charts._class_path(around)
    one = float(shapely.area(shapely.polygons(ring)))
    assert _area(merged) == pytest.approx(6 * one, rel=1e-6)  # not 7: the middle is open
    assert (merged.codes == merged.MOVETO).sum() == 2  # a shell and its hole


def test_cells_that_do_not_share_edges_are_drawn_one_ring_each():
    cells = _hexagons(3)
    cells[1] += 37.0  # a cell off the grid: its edges overlap its neighbours'
    path = charts._class_path(cells)
    assert (path.codes == path.MOVETO).sum() == 3 and len(path.vertices) == 21


@needs_poppler
def test_the_pdf_reads_and_looks_the_same_with_merged_cells(
    session, report_world, tmp_path, monkeypatch
):
    data = report_data(session, SYSTEM, "RP", FILTERS, lang="zh", now=NOW)
    assert len(data.density.cells) > 10  # enough cells to merge

    def write(merge: bool) -> Path:
        monkeypatch.setattr(charts, "MERGE_CELLS", merge)
        return pdf.write_pdf(data, tmp_path / f"merge-{merge}.pdf")

    merged, each = write(True), write(False)
    text = [_text(p) for p in (merged, each)]
    assert text[0] == text[1]
    density_page = int(re.search(r"销售密度地图\s*\.+\s*(\d+)", text[0]).group(1))
    for title in ("每格销售额", "下级区域边界", "区域边界"):  # the legend
        assert title in text[0].split("\f")[density_page - 1], title
    a, b = (_page(p, density_page, tmp_path / p.stem) for p in (merged, each))
    assert (np.abs(a.astype(int) - b.astype(int)) > 48).mean() < 0.001  # antialiasing seams
    assert (a < 230).mean() > 0.01  # cells drawn

    # the same classes, legend and paths per class in the SVG: merged, fewer points
    t = render.translator(data)
    monkeypatch.setattr(charts, "MERGE_CELLS", True)
    svg_merged = charts.density_svg(data, t)
    monkeypatch.setattr(charts, "MERGE_CELLS", False)
    svg_each = charts.density_svg(data, t)
    assert _fills(svg_merged) == _fills(svg_each)
    assert _points(svg_merged) < _points(svg_each)


def test_the_printed_report_fetches_its_maps_and_nothing_else(session, report_world):
    data = report_data(session, SYSTEM, "RP", FILTERS, lang="en", now=NOW)
    html, maps = pdf.paged_html(data)
    assert sorted(maps) == ["geo-crm-map:coverage", "geo-crm-map:density", "geo-crm-map:gaps"]
    assert all(f'src="{url}"' in html for url in maps) and "base64" not in html
    fetch = pdf.map_fetcher(maps)
    response = fetch("geo-crm-map:gaps")
    assert response.read().startswith(b"<?xml") and response.content_type == "image/svg+xml"
    assert fetch("data:text/plain;base64,aGk=").read() == b"hi"  # a map's raster layer
    for url in ("http://example.com/x.png", "file:///etc/passwd", "geo-crm-map:other"):
        with pytest.raises(ValueError):
            fetch(url)
    inline = pdf.html_for_pdf(data)  # the same page, standing alone
    assert inline.count("data:image/svg+xml;base64,") == 3 and "geo-crm-map:" not in inline


def test_the_three_maps_share_one_frame(session, report_world, monkeypatch):
    data = report_data(session, SYSTEM, "RP", FILTERS, lang="en", now=NOW)
    made = []
    real = charts.MapFrame

    class Counting(real):
        def __init__(self, d):
            made.append(d)
            super().__init__(d)

    monkeypatch.setattr(charts, "MapFrame", Counting)
    pdf.paged_html(data)
    assert len(made) == 1


def _text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _page(path: Path, page: int, out: Path) -> np.ndarray:
    from PIL import Image

    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", "-f", str(page), "-l", str(page), "-singlefile",
         str(path), str(out)],
        check=True,
    )  # fmt: skip
    return np.asarray(Image.open(f"{out}.png").convert("L"))


def _fills(svg: str) -> list[str]:
    return re.findall(r"fill: (#[0-9a-f]{6})", svg)


def _points(svg: str) -> int:
    return sum(len(re.findall(r"[-\d.]+ [-\d.]+", d)) for d in re.findall(r' d="([^"]*)"', svg))
