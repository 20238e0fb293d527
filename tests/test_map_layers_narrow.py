"""A map's layer list on a phone: Leaflet's control starts as its button on a narrow map (it
used to open over most of the map), opens on a tap and closes on a tap on the map; on a desk it
stays open. Headless Chromium, the network cut off."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_helpers import ARGS, CHROMIUM, serving
from test_maps_data import PROVINCE, build_network

pytestmark = pytest.mark.browser

STATE_JS = """() => {
  const c = document.querySelector('.leaflet-control-layers');
  const list = c.querySelector('.leaflet-control-layers-list');
  const box = c.getBoundingClientRect();
  return { expanded: c.classList.contains('leaflet-control-layers-expanded'),
           listShown: getComputedStyle(list).display !== 'none',
           width: box.width, height: box.height };
}"""


@pytest.fixture
def served(app, sql, settings_override):
    settings_override(app, auth_required=False)
    build_network(sql)
    with serving(app) as url:
        yield url


def test_the_layer_list_is_a_button_on_a_phone_and_open_on_a_desk(served):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it)")
    errors, outside = [], []
    url = f"{served}/maps/coverage/{PROVINCE}?lang=zh&from=2025-01-01&to=2025-12-31"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for width, height in ((375, 700), (1400, 900)):
                page = browser.new_page(viewport={"width": width, "height": height})
                page.set_default_timeout(60_000)
                page.on("pageerror", lambda e: errors.append(str(e)))

                def route(r):
                    if r.request.url.startswith(served + "/"):
                        return r.continue_()
                    outside.append(r.request.url)
                    return r.abort()

                page.route("**/*", route)
                page.goto(url)
                page.wait_for_function("() => window.geoCrmReady === true")
                state = page.evaluate(STATE_JS)
                page.screenshot(path=f"/tmp/map-layers-{width}.png")
                if width == 375:
                    assert not state["expanded"] and not state["listShown"], state
                    assert state["width"] < 60 and state["height"] < 60, state  # the button
                    page.click(".leaflet-control-layers-toggle")
                    opened = page.evaluate(STATE_JS)
                    assert opened["expanded"] and opened["listShown"], opened
                    page.screenshot(path="/tmp/map-layers-375-open.png")
                    page.mouse.click(60, height - 250)  # the map, away from every control
                    assert not page.evaluate(STATE_JS)["expanded"]
                else:
                    assert state["expanded"] and state["listShown"], state
                page.close()
        finally:
            browser.close()
    assert not errors, errors
    assert all("tile.openstreetmap.org" in u for u in outside), outside[:5]
