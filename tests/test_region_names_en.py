"""The pages of issue 14 name regions in the reader's language (issue 17, item 10): outlet
changes, ranking, cross-territory sales and the scorecard showed the Chinese name in their
English titles and breadcrumbs, while the home and region pages used the English one."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from auth_helpers import signed_in_client
from sqlalchemy import text

pytest_plugins = ["auth_fixtures"]  # aapp, world

ENGLISH = {"P1": "Province One", "C1": "City One", "C2": "City Two", "P2": "Province Two"}


@pytest.fixture
def admin(aapp, world, connection):
    for code, name in ENGLISH.items():
        connection.execute(
            text("UPDATE regions SET name_en = :n WHERE code = :c"), {"n": name, "c": code}
        )
    return signed_in_client(aapp, "admin1")


def _page(client, url: str) -> tuple[str, str, str]:
    """(title, breadcrumb, h1) of a page, whitespace collapsed."""
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    page = re.sub(r"\s+", " ", response.get_data(as_text=True))
    title = re.search(r"<title>(.*?)</title>", page).group(1)
    crumbs = re.search(r'<nav class="crumbs".*?</nav>', page).group(0)
    h1 = re.search(r"<h1.*?</h1>", page).group(0)
    return title, crumbs, h1


@pytest.mark.parametrize("page", ["changes", "ranking", "cross-selling"])
def test_region_pages_of_issue_14_name_the_region_in_english(admin, page):
    title, crumbs, h1 = _page(admin, f"/regions/C1/{page}?lang=en")
    for where in (title, crumbs, h1):
        assert "City One" in where and "区域 C1" not in where
    if page == "ranking":  # the chain above the region too
        assert "Province One" in crumbs and "区域 P1" not in crumbs


@pytest.mark.parametrize("page", ["changes", "ranking", "cross-selling"])
def test_and_in_chinese_on_a_chinese_page(admin, page):
    title, crumbs, h1 = _page(admin, f"/regions/C1/{page}?lang=zh-CN")
    for where in (title, crumbs, h1):
        assert "区域 C1" in where and "City One" not in where


@pytest.mark.parametrize(
    ("lang", "said", "not_said"), [("en", "City One", "区域 C1"), ("zh-CN", "区域 C1", "City One")]
)
def test_the_outlet_changes_map_is_titled_in_the_page_language(
    admin, connection, lang, said, not_said
):
    connection.execute(text("INSERT INTO products (sku, name, unit) VALUES ('SKU1', '啤酒', '箱')"))
    month = dt.date.today().replace(day=1) - dt.timedelta(days=20)
    connection.execute(
        text(
            "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
            "amount) SELECT s.id, b.id, :d, p.id, 1, 10 FROM outlets s, outlets b, products p "
            "WHERE s.code = 'D1' AND b.code = 'A1' AND p.sku = 'SKU1'"
        ),
        {"d": month},
    )
    response = admin.get(f"/maps/outlet-changes/C1?lang={lang}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert said in page and not_said not in page


def test_the_scorecard_names_the_territory_in_english(admin):
    response = admin.get("/distributors/D1/scorecard?lang=en")
    assert response.status_code == 200
    page = re.sub(r"\s+", " ", response.get_data(as_text=True))
    territory = re.search(r"Territory: ([^<]*)<", page)
    assert territory is not None and territory.group(1).strip() == "City One"
    assert "区域 C1" not in page
    chinese = re.sub(r"\s+", " ", admin.get("/distributors/D1/scorecard?lang=zh-CN").get_data(True))
    assert "区域 C1" in chinese and "City One" not in chinese
