"""What a manager reads on the pages, over HTTP: words that say something once, in the page's
language."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from auth_helpers import signed_in_client
from sqlalchemy import text

pytest_plugins = ["auth_fixtures"]  # aapp, world


@pytest.fixture
def manager(aapp, world):
    return signed_in_client(aapp, "manager1")


def _text(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    assert match, element_id
    return re.sub(r"<[^>]+>|\s+", " ", match.group(1)).strip()


@pytest.mark.parametrize(("lang", "heading"), [("zh", "进货"), ("en", "Purchases (Sell-in)")])
def test_the_purchases_heading_says_it_once(manager, lang, heading):
    """In Chinese the purchases tab's table was headed "进货 (进货)": both words are 进货."""
    page = manager.get(f"/distributors/D1?tab=purchases&lang={lang}").get_data(as_text=True)
    assert _text(page, "purchases-heading") == heading


def _href(page: str, element_id: str) -> str:
    match = re.search(rf'<a href="([^"]*)" id="{element_id}"', page)
    assert match, element_id
    return match.group(1)


def test_home_is_the_tagging_page_for_a_rep(aapp, world):
    """A rep's "home" (the header's geo_crm and an error page's 首页) led to the landing map,
    which answers a rep 403: from one error page to the next. It is their tagging page now, as
    after signing in; a manager's stays the landing map."""
    rep = signed_in_client(aapp, "rep1")
    refused = rep.get("/distributors?lang=zh")
    assert refused.status_code == 403
    page = refused.get_data(as_text=True)
    assert _href(page, "error-home") == "/tag"
    assert _href(page, "home-link") == "/tag"
    assert rep.get("/tag").status_code == 200
    manager = signed_in_client(aapp, "manager1")
    page = manager.get("/no-such-page?lang=en").get_data(as_text=True)
    assert _href(page, "error-home") == "/" and _href(page, "home-link") == "/"


def test_a_reps_outlet_page_links_to_no_region(aapp, world):
    """A rep's own outlet page linked its breadcrumb and its region to region pages, which
    answer a rep 403; the region is named, the breadcrumb leads to the tagging page."""
    rep = signed_in_client(aapp, "rep1")
    response = rep.get("/outlets/A1?lang=zh")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'href="/regions/' not in page
    assert "区域 C1" in _text(page, "outlet-region")
    for target in re.findall(r'href="(/[^"?]*)', page):
        if target.startswith(("/static/", "/logout", "/maps/")):
            continue
        assert rep.get(target).status_code == 200, target


class _Controls(HTMLParser):
    """The form controls of a page that no label names (a <label for>, an enclosing <label>,
    aria-label or aria-labelledby, a button's text or title)."""

    def __init__(self):
        super().__init__()
        self.labelled_ids: set[str] = set()
        self.controls: list[tuple[str, dict]] = []
        self.depth = 0  # inside a <label>

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label":
            self.depth += 1
            if attrs.get("for"):
                self.labelled_ids.add(attrs["for"])
        elif tag in ("input", "select", "textarea"):
            if attrs.get("type") in ("hidden", "submit", "button"):
                return
            self.controls.append((tag, {**attrs, "_in_label": self.depth > 0}))

    def handle_endtag(self, tag):
        if tag == "label":
            self.depth = max(0, self.depth - 1)

    def unlabelled(self) -> list[str]:
        return [
            f"{tag} {a.get('id') or a.get('name')}"
            for tag, a in self.controls
            if not (
                a["_in_label"]
                or a.get("aria-label")
                or a.get("aria-labelledby")
                or a.get("title")
                or a.get("id") in self.labelled_ids
            )
        ]


def _unlabelled(page: str) -> list[str]:
    parser = _Controls()
    parser.feed(page)
    return parser.unlabelled()


def test_every_control_of_the_reps_tagging_page_has_a_label(aapp, world):
    """The new outlet's supplier list had no name a screen reader could say."""
    rep = signed_in_client(aapp, "rep1")
    for lang in ("zh", "en"):
        page = rep.get(f"/tag?lang={lang}").get_data(as_text=True)
        assert _unlabelled(page) == [], lang


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/regions/C1",
        "/regions/C1/changes",
        "/regions/C1/cross-selling",
        "/regions/C1/ranking",
        "/distributors",
        "/distributors/D1?tab=purchases",
        "/distributors/D1?tab=plans",
        "/distributors/D1?tab=payments",
        "/distributors/D1/scorecard",
        "/outlets/A1",
        "/sales",
        "/review",
    ],
)
def test_every_control_of_a_managers_pages_has_a_label(manager, url):
    response = manager.get(url)
    assert response.status_code == 200, url
    assert _unlabelled(response.get_data(as_text=True)) == []


def test_the_cross_selling_list_reads_in_the_pages_language(session, world, app):
    """The 窜货 list showed its review state as stored ("pending" on the Chinese page too), the
    amount unformatted (637.74) and the distributors as bare codes; now 待审核 / Pending, ¥ with
    cents as on the sales list, and each distributor's code links to its scorecard."""
    import datetime as dt
    from decimal import Decimal

    from geo_crm.domain import sales, territories
    from geo_crm.domain.principal import Principal

    session.execute(text("INSERT INTO products (sku, name, unit) VALUES ('SKU1', '啤酒', 'case')"))
    admin = Principal(world["admin"], "admin1", "admin")
    territories.set_territory(session, "D1", regions=["C1"], user=admin)
    sales.create_sale(session, seller_code="D1", buyer_code="B2", product_sku="SKU1",
                      sale_date=dt.date.today(), quantity=Decimal("1"),
                      amount=Decimal("1234.50"))  # fmt: skip
    manager = signed_in_client(app, "manager2")
    for lang, state in (("zh-CN", "待审核"), ("en", "Pending")):
        page = manager.get(f"/regions/P2/cross-selling?lang={lang}").get_data(as_text=True)
        row = re.search(r'<table id="sales">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
        cells = [
            re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        assert cells[-1] == state, cells
        assert cells[-2] == "¥1,234.50", cells
        assert 'href="/distributors/D1/scorecard"' in row


@pytest.mark.parametrize(
    ("lang", "sentence"), [("zh", "半径（公里）：必须大于 0"), ("en", "Radius (km)")]
)
def test_an_error_page_says_a_fields_problem_once(manager, lang, sentence):
    """A region page asked with a negative radius answered a 422 page saying "半径（公里）：必须大于
    0" and, below it, "半径（公里）: 必须大于 0" again; it is said once, with the way back."""
    response = manager.get(f"/regions/C1?radius_km=-5&lang={lang}")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    body = re.sub(r"<[^>]+>", " ", page.split("<main>")[1])
    assert sentence in body
    assert body.count("Radius (km)" if lang == "en" else "半径（公里）") == 1, body
    assert _href(page, "error-back") == "/regions/C1"
