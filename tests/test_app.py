"""The app factory and the home page."""

from __future__ import annotations

import pytest


def test_home_page_lists_regions_with_counts(client, sql):
    sql(
        "INSERT INTO regions (code, name, level, boundary) VALUES ('T1', '测试省', 'province', "
        "ST_Multi(ST_MakeEnvelope(100, 20, 101, 21, 4326)))"
    )
    sql(
        "INSERT INTO outlets (code, name, tier, location) VALUES ('D1', '经销商一', 'distributor', "
        "ST_SetSRID(ST_MakePoint(100.5, 20.5), 4326))"
    )
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "测试省" in page
    row = page.split('data-code="T1"')[1].split("</tr>")[0]
    assert '<td class="num">1</td>' in row


def test_unknown_page_is_404_json_for_api_clients(client):
    response = client.get("/nope", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_unknown_page_is_404_html_for_browsers(client):
    response = client.get("/nope", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "<h1>404</h1>" in response.get_data(as_text=True)


def test_home_page_shows_a_manager_only_their_regions_and_outlets(app, connection):
    from auth_helpers import add_outlet, add_region, add_token, add_user, token_client

    add_region(connection, "HP1", "province", (120, 30, 121, 31))
    add_region(connection, "HC1", "city", (120, 30, 120.5, 31), parent="HP1")
    add_region(connection, "HC2", "city", (120.5, 30, 121, 31), parent="HP1")
    add_outlet(connection, "HD1", "distributor", lon=120.1, lat=30.1, name="甲")
    add_outlet(connection, "HD2", "distributor", lon=120.7, lat=30.1, name="乙")
    manager = add_user(connection, "hmanager", "manager", regions=("HC1",))
    page = token_client(app, add_token(connection, manager)).get("/").get_data(as_text=True)
    assert 'data-code="HC1"' in page
    assert 'data-code="HC2"' not in page and 'data-code="HP1"' not in page
    row = page.split('data-code="HC1"')[1].split("</tr>")[0]
    assert row.count('<td class="num">1</td>') == 2  # one distributor, total one


@pytest.mark.parametrize(
    "lang, words",
    [
        ("zh", ("区域", "总经销", "零售终端", "合计", "退出登录", "定位审核")),
        ("en", ("Regions", "Distributor", "Retail outlet", "Total", "Sign out", "Review queue")),
    ],
)
def test_home_page_speaks_the_chosen_language(client, sql, lang, words):
    sql(
        "INSERT INTO regions (code, name, level, boundary) VALUES ('T1', '测试省', 'province', "
        "ST_Multi(ST_MakeEnvelope(100, 20, 101, 21, 4326)))"
    )
    page = client.get(f"/?lang={lang}").get_data(as_text=True)
    for word in words:
        assert word in page
    assert 'href="/regions/T1"' in page


def test_the_server_entry_point_freezes_what_start_up_built(engine, pg_cluster):
    """gunicorn's app (README): the app itself, with start-up's objects out of the collector's
    reach, so a full collection under load does not walk them again."""
    import gc

    from geo_crm.wsgi import create_server_app

    gc.unfreeze()
    try:
        app = create_server_app({"DATABASE_URL": pg_cluster.url, "SECRET_KEY": "x"})
        assert gc.get_freeze_count() > 10_000
        app.extensions["geo_crm_db"].use_engine(engine)
        assert app.test_client().get("/healthz").status_code == 200
    finally:
        gc.unfreeze()
