"""The self-contained HTML report in headless Chromium, opened from disk with every request that
is not the file itself aborted: the three maps draw, nothing is asked of any server, and a
hostile region name shows as text (no script runs from it)."""

from __future__ import annotations

import pytest
from browser_helpers import ARGS, CHROMIUM
from report_helpers import HOSTILE, PERIOD

from geo_crm.domain.principal import SYSTEM
from geo_crm.reports import build_report
from geo_crm.reports.data import ReportFilters

pytestmark = pytest.mark.browser
pytest_plugins = ["report_fixtures"]

STATE_JS = """() => {
  let paths = 0;  // vector layers projected into view (Leaflet fills _parts when drawing)
  window.geoCrmMap.eachLayer(l => { if (l._parts && l._parts.length) paths++; });
  return { ready: document.documentElement.getAttribute('data-geo-crm-ready'), paths,
           labels: Array.from(document.querySelectorAll('.gc-label')).map(e => e.textContent),
           scripts: Array.from(document.scripts).map(s => s.src).filter(Boolean),
           links: Array.from(document.querySelectorAll('link[href]')).map(l => l.href) };
}"""


def _drawn_share(png: bytes) -> float:
    """Share of the screenshot's pixels that differ from its most common colour."""
    import io

    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    _, counts = np.unique(pixels, axis=0, return_counts=True)
    return 1.0 - counts.max() / len(pixels)


def test_html_report_works_offline_from_disk(session, report_world, tmp_path):
    from playwright.sync_api import sync_playwright

    out = build_report(
        session, SYSTEM, "RP", ReportFilters(date_from=PERIOD[0], date_to=PERIOD[1], cell_km=5),
        ["html"], tmp_path, lang="zh", company="<b>示例</b>酒业",
    )  # fmt: skip
    path = out.files[0].path
    html = path.read_text(encoding="utf-8")
    assert "<b>示例</b>" not in html and "&lt;b&gt;示例&lt;/b&gt;" in html
    requests, dialogs = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def route(r):
                requests.append(r.request.url)
                (r.continue_ if r.request.url.startswith("file://") else r.abort)()

            page.route("**/*", route)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(path.as_uri())
            page.wait_for_selector("html[data-maps-unpacked='1']", timeout=20_000)
            frames = [
                page.locator("iframe.map").nth(n).element_handle().content_frame() for n in range(3)
            ]
            assert len(frames) == 3
            for frame in frames:
                frame.wait_for_selector("html[data-geo-crm-ready='1']", timeout=20_000)
            states, drawn = [], []
            for n, frame in enumerate(frames):
                # Chromium paints an iframe only once it is on screen, as a reader scrolls
                element = page.locator("iframe.map").nth(n)
                element.scroll_into_view_if_needed()
                page.wait_for_timeout(1000)
                states.append(frame.evaluate(STATE_JS))
                drawn.append(_drawn_share(element.screenshot()))
            assert page.title().startswith("区域地图报告")
            nav = page.locator("nav a").all_inner_texts()
        finally:
            browser.close()
    assert requests == [path.as_uri()]  # the file itself, nothing else
    assert dialogs == []
    assert nav[:4] == ["关键指标", "覆盖地图", "空白点地图", "销售密度地图"]
    assert min(drawn) > 0.05, drawn  # boundaries, cells, shading and dots on the map
    for state in states:
        assert state["ready"] == "1" and state["paths"] > 3, state
        assert state["scripts"] == [] and state["links"] == []  # everything inlined
        assert HOSTILE in state["labels"]  # shown as text
