"""The region page in headless Chromium with the network cut off: Leaflet loads from geo_crm,
the vector layers draw, the XSS probe shows as text, tabs and the worst-gap list work.

The app is served from a thread on a loopback port by werkzeug's single-threaded server, bound
(like every test) to this test's rolled-back connection: requests run one at a time, so the
connection is never used by two threads at once, and the test thread leaves it alone meanwhile.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_helpers import ARGS, CHROMIUM, serving
from test_maps_data import ODD_NAME, PROVINCE, XSS_NAME, build_network

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"

LAYERS_JS = """() => {
  const m = window.geoCrmMap;
  let layers = 0, points = 0;
  m.eachLayer(l => { layers++; if (l.options && l.options.gcIndex !== undefined) points++; });
  const canvas = document.querySelector('.leaflet-overlay-pane canvas');
  let painted = 0;
  if (canvas) {
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 3; i < d.length; i += 4) { if (d[i]) painted++; }
  }
  return { layers, points, painted, canvas: !!canvas,
           labels: Array.from(document.querySelectorAll('.gc-label')).map(e => e.textContent),
           legends: document.querySelectorAll('.gc-legend').length,
           scripts: Array.from(document.scripts).map(s => s.src).filter(Boolean) };
}"""

# the screen position (inside the map frame) of the outlet whose popup row starts with ``name``
FIND_JS = """(name) => {
  const m = window.geoCrmMap;
  let found = null;
  m.eachLayer(l => { if (l.options && l.options.gcIndex !== undefined && !found) {
    l.fire('click', { latlng: l.getLatLng() }, true);
    // the newest popup (a closed one fades out for 200 ms before it leaves the DOM)
    const c = Array.from(document.querySelectorAll('.leaflet-popup-content caption')).pop();
    if (c && c.textContent === name) { found = l; }
    m.closePopup();
  } });
  if (!found) { return null; }
  m.setView(found.getLatLng(), 13, { animate: false });
  const p = m.latLngToContainerPoint(found.getLatLng());
  return [p.x, p.y];
}"""


@pytest.fixture
def served(app, sql, settings_override):
    settings_override(app, auth_required=False)
    build_network(sql)
    with serving(app) as url:
        yield url


def _map_frame(page, kind: str):
    page.wait_for_function(
        f"() => !!document.querySelector('iframe#map') && "
        f"document.querySelector('iframe#map').src.includes('/maps/{kind}/')"
    )
    handle = page.query_selector("iframe#map")
    frame = handle.content_frame()
    frame.wait_for_url(re.compile(f"/maps/{kind}/"), timeout=20_000)  # not the previous document
    frame.wait_for_function("() => window.geoCrmReady === true", timeout=20_000)
    frame.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return handle, frame


def test_region_page_draws_offline_and_shows_user_text_as_text(served):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it)")
    ARTIFACTS.mkdir(exist_ok=True)
    dialogs, errors, blocked = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
            page.set_default_timeout(20_000)  # CI machines may be busy; failures still fail
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))

            def route(r):
                if r.request.url.startswith(served + "/"):
                    return r.continue_()
                blocked.append(r.request.url)
                return r.abort()

            page.route("**/*", route)
            page.goto(f"{served}/regions/{PROVINCE}?lang=zh&from=2025-12-01&to=2026-06-30")
            handle, frame = _map_frame(page, "coverage")

            drawn = frame.evaluate(LAYERS_JS)
            assert drawn["canvas"] and drawn["painted"] > 500, drawn
            assert drawn["points"] == 8  # every located outlet, as a canvas circle
            assert drawn["layers"] > 8 and drawn["legends"] >= 2
            assert sorted(drawn["labels"]) == sorted(
                ["甲市", "乙<b>市"]
            )  # an odd region name as text
            assert all(s.startswith(served + "/static/vendor/") for s in drawn["scripts"]), drawn[
                "scripts"
            ]
            assert blocked and all("tile.openstreetmap.org" in u for u in blocked), blocked[:5]

            # a real click on the canvas circle of the XSS outlet opens its popup, as text
            xy = frame.evaluate(FIND_JS, XSS_NAME)
            assert xy is not None
            frame.wait_for_function(
                "() => !document.querySelector('.leaflet-popup')", timeout=15_000
            )
            # the whole map in view: a press focuses the map, and the browser would scroll a
            # map that sticks out of the window into view between the press and the release
            handle.evaluate("e => e.scrollIntoView()")
            box = handle.bounding_box()
            page.mouse.move(box["x"] + xy[0], box["y"] + xy[1])
            frame.wait_for_selector(".leaflet-tooltip", timeout=15_000)
            assert frame.inner_text(".leaflet-tooltip") == XSS_NAME
            page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])
            frame.wait_for_selector(".leaflet-popup-content", timeout=15_000)
            popup = frame.evaluate(
                "() => { const e = document.querySelector('.leaflet-popup-content'); "
                "return { text: e.textContent, imgs: e.querySelectorAll('img').length, "
                "href: e.querySelector('a.gc-link').getAttribute('href') }; }"
            )
            assert XSS_NAME in popup["text"] and popup["imgs"] == 0
            assert popup["href"] == "/outlets/TR1"
            page.screenshot(path=str(ARTIFACTS / "region-map-popup.png"))

            # the name made of quotes, backticks, ${}, </script> and U+2028 did not break the script
            assert frame.evaluate(FIND_JS, ODD_NAME) is not None

            # the gap tab: the map re-renders in the frame, the worst gaps beside it zoom the map
            page.click('#map-tabs a[data-kind="gaps"]')
            handle, frame = _map_frame(page, "gaps")
            assert "map=gaps" in page.url
            items = frame.query_selector_all(".gc-side li[data-b]")
            zoom = frame.evaluate("() => window.geoCrmMap.getZoom()")
            assert items, "the worst gaps are listed beside the map"
            before = frame.evaluate("() => window.geoCrmMap.getBounds().toBBoxString()")
            items[-1].click()  # the last listed hole is the smallest: the map zooms in on it
            frame.wait_for_function(
                "(b) => window.geoCrmMap.getBounds().toBBoxString() !== b && "
                "!!window.geoCrmMap._gcMark",
                arg=before,
                timeout=15_000,
            )
            assert frame.evaluate(f"() => window.geoCrmMap.getZoom() > {zoom}")
            page.screenshot(path=str(ARTIFACTS / "region-map-gaps.png"))

            # the filter form re-renders map and figures without reloading the page
            page.evaluate("() => { window.__kept = 1; }")
            page.fill('input[name="radius_km"]', "40")
            page.click('#filters button[type="submit"]')
            _map_frame(page, "gaps")
            assert "radius_km=40" in page.query_selector("iframe#map").get_attribute("src")
            assert page.evaluate("() => window.__kept") == 1
        finally:
            browser.close()
    assert dialogs == [], dialogs
    assert errors == [], errors
    assert re.search(r"\.png$", str(ARTIFACTS / "region-map-popup.png"))
