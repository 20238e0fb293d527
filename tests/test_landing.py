"""The landing page (``/``): the map's figures per region, the search box, the region table
grouped by province, in the caller's scope."""

from __future__ import annotations

from decimal import Decimal

import pytest
from auth_helpers import add_outlet, add_region, add_token, token_client
from sqlalchemy import text

from geo_crm.analysis import landing

pytest_plugins = ["auth_fixtures"]


def _as(aapp, connection, world, who):
    return token_client(aapp, add_token(connection, world[who]))


def test_landing_page_has_the_map_key_figures_search_and_grouped_table(aapp, connection, world):
    page = _as(aapp, connection, world, "admin").get("/?lang=en").get_data(as_text=True)
    for marker in (
        'id="landing-map"',
        'id="figure"',
        'id="search"',
        'id="key"',
        'id="region-filter"',
    ):
        assert marker in page
    assert "/static/vectorgrid/Leaflet.VectorGrid.bundled.min.js" in page
    assert "/static/landing.js" in page
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()
    # provinces head their groups (closed: the cities of P1 come with its rows, later)
    p1 = page.split('data-group="P1"')[1].split("</tbody>")[0]
    assert 'class="head" data-code="P1"' in p1 and 'data-lazy="2"' in p1
    assert 'data-code="C1"' not in page
    assert 'data-group="P2"' in page
    # key figures: the admin's located active outlets (D1, A1, B1, B2, N1) and the untagged A2
    key = page.split('id="key"')[1].split("</aside>")[0]
    assert ">5<" in key and ">1<" in key


def test_landing_page_speaks_chinese(aapp, connection, world):
    page = _as(aapp, connection, world, "admin").get("/?lang=zh").get_data(as_text=True)
    for word in ("着色依据", "关键指标", "筛选区域", "搜索网点、经销商、区域"):
        assert word in page


def test_a_manager_lands_on_their_regions_only(aapp, connection, world):
    page = _as(aapp, connection, world, "m1").get("/").get_data(as_text=True)
    assert 'data-code="C1"' in page
    assert 'data-code="P1"' not in page and 'data-code="P2"' not in page
    assert "SECRET-B2" not in page


def test_figures_outlets_per_level_rolled_up(aapp, connection, world):
    client = _as(aapp, connection, world, "admin")
    body = client.get("/landing/figures?figure=outlets&level=province").get_json()
    assert body["unit"] == "count" and body["level"] == "province"
    assert body["values"] == {"P1": 4.0, "P2": 1.0}
    cities = client.get("/landing/figures?figure=outlets&level=city").get_json()["values"]
    # a province without cities stands in for them, as on the tiles
    assert cities == {"C1": 3.0, "C2": 1.0, "P2": 1.0}


def test_figures_keep_to_the_managers_regions(aapp, connection, world):
    client = _as(aapp, connection, world, "m1")
    assert client.get("/landing/figures?figure=outlets&level=city").get_json()["values"] == {
        "C1": 3.0
    }
    assert client.get("/landing/figures?figure=outlets&level=province").get_json()["values"] == {}


def test_coverage_and_gaps_per_region_in_view(aapp, connection, world):
    client = _as(aapp, connection, world, "admin")
    cov = client.get("/landing/figures?figure=coverage&level=city").get_json()
    assert cov["unit"] == "ratio" and set(cov["values"]) == {"C1", "C2", "P2"}
    assert all(0 <= v <= 1 for v in cov["values"].values())
    assert cov["values"]["C1"] > cov["values"]["C2"] > 0  # three outlets against one
    # the map's view: P2 only
    gaps = client.get("/landing/figures?figure=gaps&level=city&bbox=121.9,29.9,123.1,31.1")
    assert set(gaps.get_json()["values"]) == {"P2"}


def test_too_many_regions_to_analyse_is_a_422_naming_the_level(
    aapp, connection, world, monkeypatch
):
    monkeypatch.setattr(landing, "MAX_ANALYSED_REGIONS", 1)
    r = _as(aapp, connection, world, "admin").get("/landing/figures?figure=coverage&level=city")
    assert r.status_code == 422
    assert "query.level" in r.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    "query, status, field",
    [
        ("figure=nope", 422, "query.figure"),
        ("level=country", 422, "query.level"),
        ("figure=coverage&bbox=1,2,x,4", 400, "query.bbox"),
        ("figure=gaps&bbox=10,0,5,1", 400, "query.bbox"),
        ("figure=coverage&bbox=nan,0,1,1", 400, "query.bbox"),
    ],
)
def test_bad_figures_queries_name_the_field(aapp, connection, world, query, status, field):
    r = _as(aapp, connection, world, "admin").get(f"/landing/figures?{query}")
    assert r.status_code == status
    assert field in r.get_json()["error"]["fields"]


def test_sales_and_plan_figures_answer_every_region_shown(aapp, connection, world):
    client = _as(aapp, connection, world, "admin")
    sales = client.get("/landing/figures?figure=sales&level=province").get_json()
    assert sales["unit"] == "yuan" and sales["values"] == {"P1": 0.0, "P2": 0.0}
    plan = client.get("/landing/figures?figure=plan&level=province").get_json()
    assert plan["unit"] == "ratio" and plan["values"] == {"P1": None, "P2": None}  # no plans


def test_search_finds_outlets_by_code_name_and_pinyin_initials(aapp, connection, world):
    client = _as(aapp, connection, world, "admin")

    def codes(q):
        r = client.get("/landing/search", query_string={"q": q})
        assert r.status_code == 200
        return [hit["code"] for hit in r.get_json()["results"]]

    assert codes("A1")[0] == "A1"
    assert codes("好又多") == ["A1"]
    assert codes("hdz") == ["D1"]  # 华东总经销
    hit = client.get("/landing/search?q=A1").get_json()["results"][0]
    assert hit["kind"] == "outlet" and hit["lon"] == pytest.approx(120.2)
    assert codes("老王")[0] == "A2"  # not geotagged: found, without a position
    assert client.get("/landing/search?q=老王").get_json()["results"][0]["lat"] is None


def test_search_finds_regions_with_their_box(aapp, connection, world):
    add_region(connection, "HZ9", "city", (119, 29, 120, 30), parent="P2")
    hits = _as(aapp, connection, world, "admin").get("/landing/search?q=HZ9").get_json()
    region = hits["results"][0]
    assert region["kind"] == "region" and region["bbox"] == pytest.approx([119, 29, 120, 30])


def test_search_stays_in_the_callers_scope(aapp, connection, world):
    client = _as(aapp, connection, world, "m1")
    found = [h["code"] for h in client.get("/landing/search?q=SECRET").get_json()["results"]]
    assert found == ["B1"]  # B2 lies in P2
    assert client.get("/landing/search?q=P2").get_json()["results"] == []


@pytest.mark.parametrize(
    "query, field",
    [("q=", "query.q"), ("q=" + "x" * 101, "query.q"), ("q=a&limit=0", "query.limit"),
     ("q=a&limit=x", "query.limit"), ("q=a&limit=99", "query.limit")],
)  # fmt: skip
def test_bad_searches_name_the_field(aapp, connection, world, query, field):
    r = _as(aapp, connection, world, "admin").get(f"/landing/search?{query}")
    assert r.status_code == 422
    assert field in r.get_json()["error"]["fields"]


def test_search_escapes_like_wildcards(aapp, connection, world):
    add_outlet(connection, "PCT1", lon=120.2, lat=30.2, name="百分之百%店")
    client = _as(aapp, connection, world, "admin")
    assert [h["code"] for h in client.get("/landing/search?q=%25").get_json()["results"]] == [
        "PCT1"
    ]
    assert client.get("/landing/search?q=_").get_json()["results"] == []


def test_reps_have_no_landing_helpers(aapp, connection, world):
    client = _as(aapp, connection, world, "r1")
    assert client.get("/landing/figures").status_code == 403
    assert client.get("/landing/search?q=A").status_code == 403


def test_error_pages_lead_back_to_the_form(aapp, connection, world):
    client = _as(aapp, connection, world, "admin")
    html = {"Accept": "text/html"}
    # from the form's page: back to it, with what was typed
    r = client.get(
        "/regions/P1?distributor=NOPE",
        headers={**html, "Referer": "http://localhost/regions/P1?radius_km=2"},
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'href="/regions/P1?radius_km=2" id="error-back"' in page
    assert '<ul id="error-fields">\n  <li>经销商' in page  # the field named by its form label
    assert 'id="error-home"' in page
    # no referrer: the same page without its query (the form reset)
    page = client.get("/regions/P1?distributor=NOPE", headers=html).get_data(as_text=True)
    assert 'href="/regions/P1" id="error-back"' in page
    # never a way off the site
    for referrer in ("http://evil.example/x", "http://localhost//evil.example/x"):
        page = client.get(
            "/regions/P1?distributor=NOPE", headers={**html, "Referer": referrer}
        ).get_data(as_text=True)
        assert "evil" not in page


def test_the_table_rows_of_closed_groups_come_later(aapp, connection, world):
    client = _as(aapp, connection, world, "admin")
    groups = client.get("/landing/rows?lang=en").get_json()["groups"]
    assert set(groups) == {"P1", "P2"} and groups["P2"].strip() == ""  # P2 has no cities
    assert 'class="sub city" data-code="C1"' in groups["P1"]
    assert 'data-code="C2"' in groups["P1"] and "/regions/C2" in groups["P1"]
    one = client.get("/landing/rows?group=P1").get_json()["groups"]
    assert set(one) == {"P1"} and one["P1"] == groups["P1"]
    assert client.get("/landing/rows?group=NOPE").get_json()["groups"] == {}


def test_the_table_rows_keep_to_the_managers_regions(aapp, connection, world):
    client = _as(aapp, connection, world, "m1")
    # one group (C1, the top of the manager's scope): written whole in the page
    page = client.get("/").get_data(as_text=True)
    assert 'data-code="C1"' in page and "data-lazy" not in page
    assert client.get("/landing/rows?group=P1").get_json()["groups"] == {}
    assert "P2" not in client.get("/landing/rows").get_data(as_text=True)


def test_region_names_in_the_table_rows_are_escaped(aapp, connection, world):
    add_region(connection, "C9", "city", (120.0, 30.0, 120.1, 30.1), parent="P1")
    connection.execute(
        text("UPDATE regions SET name = '<img src=x onerror=alert(1)>' WHERE code = 'C9'")
    )
    groups = _as(aapp, connection, world, "admin").get("/landing/rows?group=P1").get_json()
    assert "<img" not in groups["groups"]["P1"] and "&lt;img" in groups["groups"]["P1"]


def test_key_figures_plan_is_the_sum_over_the_distributors(session, connection, world):
    import datetime as dt

    today = dt.date.today()
    connection.execute(text("INSERT INTO products (sku, name, unit) VALUES ('LP1', '产品', '箱')"))
    connection.execute(
        text(
            "INSERT INTO sales_plans (distributor_id, month, product_id, target_quantity, "
            "target_amount) SELECT d.id, make_date(:y, m, 1), p.id, 10, 1000 * m "
            "FROM outlets d, products p, generate_series(1, 12) m "
            "WHERE d.code = 'D1' AND p.sku = 'LP1'"
        ),
        {"y": today.year},
    )
    connection.execute(
        text(
            "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
            "amount) SELECT NULL, d.id, make_date(:y, 1, 2), p.id, 3, 777.5 "
            "FROM outlets d, products p WHERE d.code = 'D1' AND p.sku = 'LP1'"
        ),
        {"y": today.year},
    )
    total = landing._plan_total(session, None, today)
    by_distributor = landing._key_plan(
        landing._year_plan(session, None, today, ("distributor",)).total
    )
    assert total == by_distributor
    assert total.plan_amount == 78000 and total.sell_in_amount == Decimal("777.50")
