"""The scorecard and ranking pages in headless Chromium, offline, on a phone and on a desk:
the SVG charts and map draw, nothing is fetched from elsewhere, nothing overflows sideways."""

from __future__ import annotations

import pytest
from browser_helpers import ARGS, CHROMIUM, serving
from sqlalchemy import text
from test_ranking import ranked  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser
pytest_plugins = ["auth_fixtures"]

OVERFLOW_JS = "() => document.documentElement.scrollWidth - window.innerWidth"
WIDE_JS = """() => Array.from(document.querySelectorAll('body *'))
  .filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > window.innerWidth + 1)
  .slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className)"""


@pytest.fixture
def served(app, connection, settings_override, ranked):  # noqa: F811
    settings_override(app, auth_required=False)
    connection.execute(
        text(
            "INSERT INTO evaluations (distributor_id, evaluated_on, initiative, credit, staff) "
            "SELECT id, DATE '2025-09-01', 3, 4, 12 FROM outlets WHERE code = 'D1'"
        )
    )
    with serving(app) as url:
        yield url


@pytest.mark.parametrize("width", [375, 1280])
def test_scorecard_and_ranking_pages_draw_offline(served, width):
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": width, "height": 900})

        def route(r):
            if r.request.url.startswith(served):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(f"{served}/regions/P1/ranking?by=breadth&period=2025-06&lang=zh-CN")
        assert page.locator("svg.pointmap circle").count() == 2
        assert page.locator("#ranking tbody tr").count() == 2
        assert page.evaluate(OVERFLOW_JS) <= 1
        page.screenshot(path=f"/tmp/i14a-ranking-{width}.png", full_page=True)

        page.goto(f"{served}/distributors/D1/scorecard?lang=en")
        assert page.locator("svg.chart").count() == 2  # the months and the trend
        assert page.locator("#months tbody tr").count() == 12
        wide = page.evaluate(WIDE_JS)
        assert page.evaluate(OVERFLOW_JS) <= 1, wide
        page.screenshot(path=f"/tmp/i14a-scorecard-{width}.png", full_page=True)
        browser.close()
    # only the network map's basemap tiles (the maps' configured tile server, as on the
    # distributor page) are asked of another host; the pages themselves fetch nothing
    assert all("tile" in u for u in outside), outside


HEADER_LINES_JS = """() => Array.from(document.querySelectorAll('#ranking thead th')).map(th => {
  const range = document.createRange(); range.selectNodeContents(th);
  const tops = new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top)));
  return [th.textContent.trim(), tops.size];
})"""
BOX_JS = """() => { const box = document.querySelector('#ranking').closest('.scroll');
  return [box.scrollWidth > box.clientWidth, getComputedStyle(box).overflowX]; }"""


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_ranking_headers_stay_on_one_line_on_a_phone(served, lang):
    """At 375 px the ranking's headers keep one line each (they wrapped one character per line
    in zh-CN): the table scrolls sideways inside its own box, the page does not."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 375, "height": 800})
        page.goto(f"{served}/regions/P1/ranking?by=growth&period=2025-06&lang={lang}")
        lines = page.evaluate(HEADER_LINES_JS)
        assert lines and all(n <= 1 for _, n in lines), lines
        assert page.evaluate(BOX_JS) == [True, "auto"]
        assert page.evaluate(OVERFLOW_JS) <= 1
        page.screenshot(path=f"/tmp/h14f-ranking-375-{lang}.png", full_page=True)
        browser.close()
