"""The outlet changes page (客户变动) in headless Chromium, offline: on a phone (375 px) and a
desk the page fits, the map draws a layer per kind, an outlet named like markup stays text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_helpers import ARGS, CHROMIUM, serving
from sqlalchemy import text
from test_outlet_changes import M, _buy, _id, changes  # noqa: F401 - the fixture

from geo_crm.domain.outlets import update_outlet
from geo_crm.domain.plans import next_month

pytestmark = pytest.mark.browser
pytest_plugins = ["auth_fixtures"]

SHOTS = Path("/tmp")
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def served(app, session, changes, settings_override):  # noqa: F811
    settings_override(app, auth_required=False)
    _buy(session, "A1", next_month(M, -1))
    _buy(session, "N1", next_month(M, -6))
    session.execute(text("UPDATE outlets SET name = :n WHERE code = 'A1'"), {"n": XSS})
    update_outlet(session, _id(session, "B1"), version=None, changes={"status": "closed"})
    with serving(app) as url:
        yield url


@pytest.mark.parametrize("width", [375, 1280])
def test_the_page_fits_and_its_map_draws_a_layer_per_kind(served, width):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    dialogs, errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900}, locale="zh-CN")
            page.set_default_timeout(20_000)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route(
                "**/*",
                lambda r: r.continue_() if r.request.url.startswith(served + "/") else r.abort(),
            )
            page.goto(f"{served}/regions/P1/changes?lang=zh-CN")
            frame = page.query_selector("iframe#map").content_frame()
            frame.wait_for_url(re.compile("/maps/outlet-changes/"))
            frame.wait_for_function("() => window.geoCrmReady === true")
            legend = frame.inner_text(".gc-legend")
            assert "新开户（首次进货）" in legend and "已关闭" in legend
            overlays = frame.evaluate(
                "() => document.querySelectorAll('.leaflet-control-layers-overlays label').length"
            )
            assert overlays == 3  # started, stopped (N1), closed
            assert XSS in page.inner_text("#events")
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, overflow
            page.screenshot(path=str(SHOTS / f"outlet-changes-{width}.png"), full_page=True)
        finally:
            browser.close()
    assert not dialogs and not errors, (dialogs, errors)
