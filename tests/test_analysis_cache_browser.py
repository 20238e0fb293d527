"""The region page in headless Chromium while its analyses are being updated: the figures say
as of when, at 375 px and on a desk, the page polls the analyses' state and draws the figures
and the map again once a newer result is kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_helpers import ARGS, CHROMIUM, serving
from test_maps_data import PROVINCE, build_network

from geo_crm.analysis import cache
from geo_crm.web import regions as region_pages

pytestmark = pytest.mark.browser

PERIOD = "from=2025-12-01&to=2026-06-30"


@pytest.fixture
def stale(app, sql, session, settings_override, monkeypatch):
    """The province's analyses kept, then an outlet changed: stale, and the region is taken
    for a large one (no recomputation in the request)."""
    settings_override(app, auth_required=False)
    build_network(sql)
    with app.test_client() as c:
        assert c.get(f"/regions/{PROVINCE}?{PERIOD}").status_code == 200
    monkeypatch.setattr(cache, "INLINE_OUTLETS", 0)
    sql("UPDATE outlets SET name = name || ' ' WHERE id = (SELECT min(id) FROM outlets)")
    with serving(app) as url:
        yield url


def test_figures_as_of_while_updated_then_drawn_again(stale, monkeypatch):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it)")
    # the state the page polls: stale twice, then a newer result kept (no database: the
    # server thread alone uses the test's connection)
    answers = [
        {"state": "stale", "as_of": "2026-01-01T08:00:00+00:00"},
        {"state": "stale", "as_of": "2026-01-01T08:00:00+00:00"},
        {"state": "fresh", "as_of": "2026-01-01T08:05:00+00:00"},
    ]
    polls = []

    def polled(session, code, f, kind):
        polls.append(kind)
        state = answers[min(len(polls), len(answers)) - 1]
        return {"region": code, "updating": state["state"] != "fresh",
                "analyses": {"coverage": state, "gaps": state}}  # fmt: skip

    monkeypatch.setattr(region_pages, "region_status", polled)
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for width, lang, words in ((375, "zh", "数据截至"), (1400, "en", "Figures as of")):
                polls.clear()
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.set_default_timeout(30_000)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(f"{stale}/regions/{PROVINCE}?lang={lang}&{PERIOD}")
                note = page.wait_for_selector("#fig-as-of")
                assert words in note.inner_text()
                box = note.bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1
                page.screenshot(path=f"/tmp/h16c-region-stale-{width}.png", full_page=False)
                # a newer result: the figures are asked for again and the map redrawn
                with page.expect_request(lambda r: "/figures?" in r.url, timeout=30_000):
                    page.wait_for_function("() => true")
                assert len(polls) >= 3
                page.close()
        finally:
            browser.close()
    assert not errors, errors
