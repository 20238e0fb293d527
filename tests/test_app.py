"""The app factory and the home page."""

from __future__ import annotations


def test_home_page_lists_regions_with_counts(client, sql):
    sql("INSERT INTO regions (code, name, level, boundary) VALUES ('T1', '测试省', 'province', "
        "ST_Multi(ST_MakeEnvelope(100, 20, 101, 21, 4326)))")
    sql("INSERT INTO outlets (code, name, tier, location) VALUES ('D1', '经销商一', 'distributor', "
        "ST_SetSRID(ST_MakePoint(100.5, 20.5), 4326))")
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
