"""Pages speak the reader's language where they showed English or a code (issue 17, item 10):
the error page of a missing region, English region names on English pages, the form's label in
a form error, review reasons as sentences with their detail, metres as 米 in Chinese."""

from __future__ import annotations

import re

import pytest
from auth_helpers import (
    API,
    add_outlet,
    add_token,
    outlet_row,
    signed_in_client,
    tag_body,
    token_client,
)
from sqlalchemy import text

from geo_crm.i18n import Translator
from geo_crm.web.page_words import metres, reason

pytest_plugins = ["auth_fixtures"]  # aapp, world


def _main(response) -> str:
    page = response.get_data(as_text=True)
    return re.sub(r"\s+", " ", page[page.find("<main") :])


@pytest.fixture
def admin(aapp, world):
    return signed_in_client(aapp, "admin1")


@pytest.fixture
def english_names(connection, world):
    for code, name in (("P1", "Province One"), ("C1", "City One"), ("P2", "Province Two")):
        connection.execute(
            text("UPDATE regions SET name_en = :n WHERE code = :c"), {"n": name, "c": code}
        )


@pytest.mark.parametrize(
    ("lang", "said", "not_said"),
    [
        ("zh-CN", "未找到区域 NOPE。", "not found"),
        ("en", "region NOPE not found", "未找到"),
    ],
)
def test_a_missing_region_says_so_in_the_page_language(admin, lang, said, not_said):
    response = admin.get(f"/regions/NOPE?lang={lang}")
    assert response.status_code == 404
    main = _main(response)
    assert said in main and not_said not in main


def test_an_error_page_without_chinese_words_says_the_status_in_chinese(admin):
    main = _main(admin.post("/regions/P1?lang=zh-CN", data={}))  # a GET-only page
    assert "此地址不接受该请求方法。" in main and "Method" not in main


def test_english_pages_show_english_region_names(admin, english_names):
    home = _main(admin.get("/?lang=en"))
    assert "Province One" in home and "区域 P1" not in home
    # the cities are the rows of P1's group, fetched when it is opened
    rows = admin.get("/landing/rows?group=P1&lang=en").get_json()["groups"]["P1"]
    assert "City One" in rows
    assert "区域 C2" in rows  # no English name: the name it has
    crumbs = _main(admin.get("/regions/C1?lang=en"))
    crumbs = crumbs[crumbs.find('id="breadcrumb"') :][:400]
    assert "Province One" in crumbs and "区域" not in crumbs
    chinese = _main(admin.get("/?lang=zh-CN"))
    assert "区域 P1" in chinese and "Province One" not in chinese


@pytest.mark.parametrize(
    ("lang", "said"),
    [("en", "Radius (km): must be a number"), ("zh-CN", "半径（公里）：必须是数字")],
)
def test_a_form_error_names_the_forms_label(admin, lang, said):
    response = admin.get(f"/regions/P1?radius_km=abc&lang={lang}")
    assert response.status_code == 422
    main = _main(response)
    assert said in main and "query.radius_km" not in main
    # the JSON answer of the figures panel keeps the field's name for the script
    figures = admin.get(
        f"/regions/P1/figures?radius_km=abc&lang={lang}", headers={"Accept": "application/json"}
    )
    assert "query.radius_km" in figures.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("lang", "flag", "sentence"),
    [
        ("en", "jump:4186", "The point is 4,186 m from the outlet's current location."),
        ("zh", "jump:4186", "位置与网点当前位置相距 4,186 米。"),
        (
            "en",
            "possible_duplicate:W2000150",
            "An outlet with a similar name lies nearby (W2000150): possibly the same shop.",
        ),
        ("zh", "possible_duplicate:W2000150", "附近有名称相近的网点（W2000150），可能重复。"),
        ("zh", "outside_region:C1", "位置不在网点原所属区域C1内。"),
        ("en", "jump", "The point is far from the outlet's current location."),
    ],
)
def test_review_reasons_are_sentences_with_their_detail(lang, flag, sentence):
    assert reason(Translator(lang), flag) == sentence


def test_the_review_page_writes_reasons_and_metres_in_the_readers_language(aapp, connection, world):
    rep = token_client(aapp, add_token(connection, world["r1"]))
    body = tag_body(30.23, 120.2, outlet_row(connection, "A1").version)
    flagged = rep.put(f"{API}/outlets/A1/location", json=body).get_json()
    assert flagged["event"]["state"] == "flagged"
    manager = signed_in_client(aapp, "manager1")
    zh = _main(manager.get("/review?lang=zh-CN"))
    assert "位置与网点当前位置相距" in zh and " 米" in zh
    assert "jump" not in zh and not re.search(r"\d m\b", zh)
    en = _main(manager.get("/review?lang=en"))
    assert re.search(r"The point is [\d,]+ m from the outlet", en)
    assert "(" not in en.split("The point is ")[1][:40]  # no raw code in brackets
    assert metres(Translator("zh"), 3300.4) == "3,300 米"


def test_the_home_page_names_the_outlets_outside_every_region(admin, connection):
    """Located outlets in no loaded region count in no region's row (issue 17, item 8): the
    home page says how many there are, beside those not yet geotagged."""
    assert 'id="outside"' not in _main(admin.get("/?lang=en"))
    add_outlet(connection, "FAR1", lon=10.0, lat=10.0)
    add_outlet(connection, "FAR2", lon=11.0, lat=10.0)
    add_outlet(connection, "FAR3", lon=12.0, lat=10.0, status="closed")  # not counted
    assert "Outlets outside every region: 2" in _main(admin.get("/?lang=en"))
    assert "不在任何区域内的网点: 2" in _main(admin.get("/?lang=zh-CN"))
