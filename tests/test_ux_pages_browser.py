"""A manager's pages on a phone (375 px) and on a desk (1,400 px), in both languages, in
headless Chromium: nothing sticks out sideways, wide tables scroll in their own box, and their
names and headers are not squeezed to one character per line."""

from __future__ import annotations

import pytest
from browser_helpers import ARGS, CHROMIUM, serving
from sqlalchemy import text

pytestmark = pytest.mark.browser
pytest_plugins = ["auth_fixtures"]

OVERFLOW_JS = "() => document.scrollingElement.scrollWidth - window.innerWidth"
WIDE_JS = """() => Array.from(document.querySelectorAll('body *'))
  .filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > window.innerWidth + 1)
  .slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className)"""
# the number of lines the text of each matched cell takes
LINES_JS = """(selector) => Array.from(document.querySelectorAll(selector)).map(el => {
  const range = document.createRange(); range.selectNodeContents(el);
  const tops = new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top)));
  return [el.textContent.trim(), tops.size];
})"""


@pytest.fixture
def served(app, world, connection, settings_override):
    settings_override(app, auth_required=False)
    # a city's name as long as real ones (石家庄市), so that a squeezed column shows
    connection.execute(text("UPDATE regions SET name = '石家庄市长安区' WHERE code = 'C1'"))
    with serving(app) as url:
        yield url


def _browser(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def _offline(page, served):
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(served) else r.abort())


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("width", [375, 1400])
def test_the_region_page_fits_the_window(served, lang, width):
    """At 375 px the region page overflowed sideways in English (the tier checkboxes, the map
    tabs and the sub-region table, 689 px), and in Chinese the sub-region names stood one
    character per line; the table now scrolls in its own box, the rest wraps."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": width, "height": 900})
        _offline(page, served)
        page.goto(f"{served}/regions/P1?lang={lang}", wait_until="domcontentloaded")
        page.screenshot(path=f"/tmp/ux-region-{lang}-{width}.png", full_page=True)
        assert page.evaluate(OVERFLOW_JS) <= 0, page.evaluate(WIDE_JS)
        names = page.evaluate(LINES_JS, "#subregions tbody td:nth-child(2)")
        heads = page.evaluate(LINES_JS, "#subregions thead th")
        browser.close()
    assert names and all(lines == 1 for _, lines in names), names
    assert all(lines <= 2 for _, lines in heads), heads


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_outlet_changes_page_fits_a_phone(served, lang):
    """The 客户变动 page's map and month table stuck out of a 375 px window in English (438 px):
    the one-column layout of a narrow window now lets its table scroll in its box."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 375, "height": 900})
        _offline(page, served)
        page.goto(f"{served}/regions/P1/changes?lang={lang}", wait_until="domcontentloaded")
        page.screenshot(path=f"/tmp/ux-changes-{lang}-375.png", full_page=True)
        assert page.evaluate(OVERFLOW_JS) <= 0, page.evaluate(WIDE_JS)
        browser.close()


@pytest.fixture
def business(served, connection):
    """A product whose name and spec are as long as real ones, and an unpaid sell-in to D1."""
    connection.execute(
        text(
            "INSERT INTO products (sku, name, unit, spec) VALUES "
            "('QQ-001', '清泉天然矿泉水家庭装特惠组合', '箱', '550ml×24')"
        )
    )
    connection.execute(
        text(
            "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
            "amount, reference) SELECT NULL, b.id, current_date, p.id, 10, 1000, "
            "'INV-2026-000123' FROM outlets b, products p WHERE b.code = 'D1'"
        )
    )
    return served


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("tab", ["purchases", "payments"])
def test_the_distributor_business_tabs_fit_a_phone(business, lang, tab):
    """The purchases and payments tabs were 414–435 px wide at 375 px: a select as wide as its
    longest option (a product with its spec, an unpaid sale), and in one column the payments
    table's minimum width widened the column instead of scrolling in its box."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 375, "height": 900})
        _offline(page, business)
        page.goto(f"{business}/distributors/D1?tab={tab}&lang={lang}")
        page.screenshot(path=f"/tmp/ux-distributor-{tab}-{lang}-375.png", full_page=True)
        assert page.evaluate(OVERFLOW_JS) <= 0, page.evaluate(WIDE_JS)
        browser.close()


@pytest.fixture
def flagged(served, connection, world):
    """A rep's tag of A1, 18 km from where it was and outside its region: in the queue."""
    connection.execute(
        text(
            "INSERT INTO geotag_events (outlet_id, old_location, new_location, source, state, "
            "flags, user_id) SELECT id, location, ST_SetSRID(ST_MakePoint(120.35, 30.3), 4326), "
            "'gps', 'flagged', ARRAY['outside_region:C2', 'jump:17747'], :rep "
            "FROM outlets WHERE code = 'A1'"
        ),
        {"rep": world["r1"]},
    )
    return served


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_review_queue_is_usable_on_a_phone(flagged, lang):
    """At 375 px the queue's table was 828 px wide inside its box: the reasons stood one word
    per line and Accept / Reject were two screens to the right. On a phone each tag is now a
    card with its reasons readable and both buttons in reach."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 375, "height": 900})
        _offline(page, flagged)
        page.goto(f"{flagged}/review?lang={lang}", wait_until="domcontentloaded")
        page.screenshot(path=f"/tmp/ux-review-{lang}-375.png", full_page=True)
        assert page.evaluate(OVERFLOW_JS) <= 0, page.evaluate(WIDE_JS)
        wrap = page.evaluate(
            "() => { const w = document.querySelector('.table-wrap');"
            " return w.scrollWidth - w.clientWidth; }"
        )
        assert wrap <= 0
        for button in ("button.accept", "button.reject"):
            box = page.locator(button).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 375, (button, box)
        why = page.locator("#reviews td.why").bounding_box()
        assert why["width"] > 250, why
        browser.close()


LEGEND_JS = """() => Array.from(document.querySelectorAll('#landing-legend > div'))
  .map(d => d.textContent.trim())"""


def _legend(served, connection, figure):
    from playwright.sync_api import sync_playwright

    connection.execute(
        text(
            "INSERT INTO regions (code, name, level, boundary) VALUES ('P3', '区域 P3', "
            "'province', ST_Multi(ST_MakeEnvelope(124, 30, 125, 31, 4326)))"
        )
    )  # a province without outlets: 0
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        _offline(page, served)
        page.goto(f"{served}/?lang=en")
        page.select_option("#figure", figure)
        page.wait_for_function(
            "() => !document.getElementById('figure').disabled"
            " && document.querySelectorAll('#landing-legend > div').length >= 2"
        )
        values = page.evaluate(
            f"() => fetch('/landing/figures?figure={figure}&level=province')"
            ".then(r => r.json()).then(b => b.values)"
        )
        rows = page.evaluate(LEGEND_JS)
        browser.close()
    return rows, values


def test_the_landing_legend_opens_with_a_class_something_is_in(served, connection):
    """The legend's first class was "< 0" outlets (or "< ¥0") whenever some regions had none,
    and "< 1" here (P2 has one outlet, P1 four, P3 none): a class no region can be in, while
    the smallest regions shared the next class. A break is never the smallest value now."""
    rows, values = _legend(served, connection, "outlets")
    smallest = min(v for v in values.values() if v is not None)
    first = rows[0]
    assert first.startswith("<"), rows
    assert float(first.lstrip("< ").replace(",", "")) > smallest, (rows, values)


def test_a_figure_every_region_shares_is_one_class_of_the_legend(served, connection):
    """No sales anywhere: every region's figure is ¥0, one class "¥0" (it was "< ¥0", "≥ ¥0")."""
    rows, values = _legend(served, connection, "sales")
    assert {v for v in values.values() if v is not None} == {0}, values
    assert rows[:2] == ["¥0", "No data"], rows


def test_the_figure_stays_choosable_while_one_is_computed(served):
    """While a figure loaded (a country's coverage took over 30 s under load in the demo) the
    select was disabled: a manager could not go back to another figure. It stays usable; the
    figure chosen last is the one drawn, an older answer is dropped."""
    from playwright.sync_api import sync_playwright

    held = []
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        _offline(page, served)
        page.goto(f"{served}/?lang=en")
        page.wait_for_function("() => document.querySelectorAll('#landing-legend > div').length")

        def hold(route):  # coverage never answers while the test looks
            held.append(route)

        page.route("**/landing/figures?figure=coverage*", hold)
        page.select_option("#figure", "coverage")
        page.wait_for_function("() => document.getElementById('map-status').textContent")
        assert page.locator("#figure").is_enabled()
        page.select_option("#figure", "sales")
        page.wait_for_function(
            "() => document.querySelector('#landing-legend strong').textContent"
            " === 'Sales this year'"
        )
        assert held  # coverage was asked for, and is still on its way
        for route in held:
            route.continue_()
        page.wait_for_timeout(500)
        title = page.locator("#landing-legend strong").text_content()
        browser.close()
    assert title == "Sales this year"
