"""The distributor page's territory breadth in headless Chromium, on a phone and a desk."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_helpers import ARGS, CHROMIUM, serving
from test_breadth import city  # noqa: F401

from geo_crm.domain.territories import set_territory

SHOTS = Path("/tmp")


@pytest.fixture
def served(app, session, city, settings_override):  # noqa: F811
    settings_override(app, auth_required=False)
    set_territory(session, "D", regions=["C"])
    with serving(app) as url:
        yield url


@pytest.mark.parametrize("width", [375, 1280])
def test_distributor_page_shows_territory_breadth_and_fits(served, width):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900}, locale="zh-CN")
            page.set_default_timeout(20_000)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route(
                "**/*",
                lambda r: r.continue_() if r.request.url.startswith(served + "/") else r.abort(),
            )
            page.goto(f"{served}/distributors/D?lang=zh-CN")
            assert "50" in page.inner_text("#breadth-regions")
            assert "2 /" in page.inner_text("#breadth-hexagons")
            assert "已分配的经销区域" in page.inner_text("#breadth-basis")
            assert page.is_visible("#breadth-hexagons")
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, overflow
            page.screenshot(path=str(SHOTS / f"territory-breadth-{width}.png"), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
