"""The landing map in headless Debian Chromium: the regions vector tiles draw coloured by a
figure with a legend, the search jumps to an outlet, a click on a region opens its page, and
the page fits a 375 px phone. No network beyond loopback (basemap tiles off)."""

from __future__ import annotations

import os
import re

import pytest
from auth_helpers import PASSWORD
from browser_helpers import ARGS, CHROMIUM, serving
from sqlalchemy.orm import sessionmaker

from geo_crm import auth, create_app

pytest_plugins = ["auth_fixtures"]  # auth_app, aapp, aclient, world

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no Debian chromium"),
]


@pytest.fixture
def live_server(pg_cluster, engine, connection):
    """The app on a loopback port, single-threaded, its sessions on this test's connection."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": pg_cluster.url,
            "SECRET_KEY": "browser",
            "GEO_CRM_AUTH_REQUIRED": True,
            "GEO_CRM_BASEMAP": "none",
        }
    )
    auth.init_app(app)
    db = app.extensions["geo_crm_db"]
    db.use_engine(engine)
    db.sessionmaker = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    with serving(app) as url:
        yield url


def _sign_in(page, base, username, path="/"):
    page.goto(f"{base}{path}")  # sent to sign in, then back to ``path``
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(f"{base}{path}", wait_until="commit")


def test_landing_map_draws_figures_searches_and_drills_down(live_server, world):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
            page.set_default_timeout(20_000)
            expect.set_options(timeout=20_000)
            errors, outside = [], []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "request",
                lambda r: outside.append(r.url) if not r.url.startswith(live_server) else None,
            )
            _sign_in(page, live_server, "admin1")  # lands on / in English (Accept-Language)
            legend = page.locator("#landing-legend")
            expect(legend.locator("strong")).to_have_text("Outlets")
            expect(legend).to_contain_text("as of")
            # in the display zone (GEO_CRM_TIMEZONE, Asia/Shanghai) with its offset, not UTC
            expect(legend).to_contain_text(re.compile(r"as of \d{4}-\d\d-\d\d \d\d:\d\d UTC\+8"))
            # the vector tiles are drawn on canvases in the map
            page.wait_for_function(
                "document.querySelectorAll('#landing-map canvas.leaflet-tile-loaded').length > 0"
            )
            # and the page says when they are all in, coloured by the figures (the benchmark)
            page.wait_for_selector("html[data-map-drawn]", state="attached")
            assert page.evaluate("window.geoCrmDrawn") > 0
            assert page.locator("#figure").is_enabled()
            page.select_option("#figure", "coverage")
            expect(legend.locator("strong")).to_have_text("Coverage %")
            expect(page.locator("#figure")).to_be_enabled()

            page.fill("#search", "好又多")
            hit = page.locator('#search-results button[data-code="A1"]')
            hit.click()
            popup = page.locator(".leaflet-popup-content a")
            expect(popup).to_have_attribute("href", "/outlets/A1")
            page.keyboard.press("Escape")
            page.locator(".leaflet-popup-close-button").click()
            # a click beside the outlet, inside city C1, opens the region's page
            box = page.locator("#landing-map").bounding_box()
            page.mouse.click(box["x"] + box["width"] / 2 + 120, box["y"] + box["height"] / 2)
            page.wait_for_url(f"{live_server}/regions/**", wait_until="commit")
            assert page.url.split("/regions/")[1].split("?")[0] in ("C1", "P1")
            assert not errors, errors
            assert not outside, outside  # nothing from a CDN or the network
        finally:
            browser.close()


def test_landing_page_fits_a_phone_and_filters_the_table(live_server, world):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 375, "height": 740}, is_mobile=True, locale="zh-CN"
            )
            page = context.new_page()
            page.set_default_timeout(20_000)
            expect.set_options(timeout=20_000)
            _sign_in(page, live_server, "admin1")
            expect(page.locator("#landing-legend strong")).to_have_text("网点")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, width
            # groups start closed; the filter box opens the one holding a match
            c2 = page.locator('#regions tr[data-code="C2"]')
            expect(c2).to_be_hidden()
            page.fill("#region-filter", "c2")
            expect(c2).to_be_visible()
            expect(page.locator('#regions tr[data-code="C1"]')).to_be_hidden()
            expect(page.locator('#regions tbody[data-group="P2"]')).to_be_hidden()
            page.fill("#region-filter", "")
            expect(c2).to_be_hidden()
            page.locator('#regions tr[data-code="P1"] button.toggle').click()
            expect(c2).to_be_visible()
        finally:
            browser.close()


def test_region_page_shows_progress_and_holds_apply_while_a_map_loads(live_server, world):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
            page.set_default_timeout(20_000)
            expect.set_options(timeout=20_000)
            _sign_in(page, live_server, "admin1", "/regions/P1")
            apply, busy = page.locator("#apply"), page.locator("#map-busy")
            expect(apply).to_be_enabled()  # the first map has drawn
            expect(busy).to_be_hidden()
            held = page.evaluate(
                "() => { const b = document.getElementById('apply'); b.click();"
                " return [b.disabled, !document.getElementById('map-busy').hidden,"
                " document.getElementById('mapbox').getAttribute('aria-busy')]; }"
            )
            assert held == [True, True, "true"]
            expect(apply).to_be_enabled()
            expect(busy).to_be_hidden()
            expect(page.locator("#mapbox")).to_have_attribute("aria-busy", "false")
        finally:
            browser.close()


def test_review_queue_map_shows_old_and_new_positions(live_server, aapp, connection, world):
    from auth_helpers import add_token, outlet_row, tag_body, token_client
    from playwright.sync_api import expect, sync_playwright

    rep1 = token_client(aapp, add_token(connection, world["r1"]))
    body = tag_body(30.25, 120.25, outlet_row(connection, "A1").version)  # a 7 km jump: flagged
    assert rep1.put("/api/v1/outlets/A1/location", json=body).get_json()["event"]["state"] == (
        "flagged"
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
            page.set_default_timeout(20_000)
            expect.set_options(timeout=20_000)
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            _sign_in(page, live_server, "manager1", "/review")
            # old marker, the line, new marker
            expect(page.locator("#review-map path.leaflet-interactive")).to_have_count(3)
            row = page.locator("#reviews tr[data-event]").first
            row.locator("td").first.click()
            expect(row).to_have_class("picked")
            assert not errors, errors
        finally:
            browser.close()


# counts the circles drawn on a canvas for a region's feature (VectorGrid's points use Leaflet's
# Canvas._updateCircle; a region's features carry its level, an outlet its tier): wrapped the
# moment Leaflet defines window.L, before any tile is drawn
COUNT_CIRCLES = """
(function () {
  var value;
  window.gcCircles = 0;
  Object.defineProperty(window, "L", {
    configurable: true,
    get: function () { return value; },
    set: function (x) {
      value = x;
      if (x && x.Canvas && !x.Canvas.prototype.gcCounted) {
        var draw = x.Canvas.prototype._updateCircle;
        x.Canvas.prototype._updateCircle = function (layer) {
          if (layer.properties && layer.properties.level) { window.gcCircles++; }
          return draw.apply(this, arguments);
        };
        x.Canvas.prototype.gcCounted = true;
      }
    }
  });
})();
"""


@pytest.mark.parametrize(
    "width, height, locale", [(1400, 900, "en-US"), (375, 740, "zh-CN")], ids=["desk", "phone"]
)
def test_landing_map_draws_no_circle_at_the_region_label_points(
    live_server, world, connection, width, height, locale
):
    """The regions tiles carry one label point per region (MVT layer ``region_labels``), which
    the landing map does not draw: no circle shows there, neither on the first tiles nor on the
    tiles fetched after the figures recoloured the regions (they shared the regions' feature
    ids, so the recolouring drew each label point as a filled circle)."""
    from playwright.sync_api import expect, sync_playwright
    from sqlalchemy import text

    connection.execute(text("UPDATE regions SET label_point = ST_PointOnSurface(boundary)"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height},
                is_mobile=width < 600,
                locale=locale,
            )
            context.add_init_script(COUNT_CIRCLES)
            page = context.new_page()
            page.set_default_timeout(20_000)
            expect.set_options(timeout=20_000)
            _sign_in(page, live_server, "admin1")
            page.wait_for_selector("html[data-map-drawn]", state="attached")
            tiles = "#landing-map .leaflet-tile-container canvas"
            settled = (
                f"document.querySelectorAll('{tiles}.leaflet-tile-loaded').length > 0 && "
                f"!document.querySelector('{tiles}:not(.leaflet-tile-loaded)')"
            )
            _until(page, settled)
            shot = f"/tmp/w6polish-landing-labels-{width}-{locale}"
            page.screenshot(path=f"{shot}-start.png")
            for _ in range(2):  # new tiles, styled after the figures came
                page.locator("#landing-map .leaflet-control-zoom-in").click()
                page.wait_for_timeout(400)
                _until(page, settled)
            page.wait_for_timeout(300)
            page.screenshot(path=f"{shot}-zoomed.png")
            assert page.evaluate("window.gcCircles") == 0
        finally:
            browser.close()


def _until(page, expression: str, seconds: float = 20.0) -> None:
    """Poll a JavaScript expression from outside the page (its CSP forbids the eval behind
    ``wait_for_function``'s polling)."""
    import time

    end = time.monotonic() + seconds
    while not page.evaluate(expression):
        assert time.monotonic() < end, f"timed out waiting for {expression}"
        page.wait_for_timeout(100)
