"""Input no statement can use is refused up front, naming where it was (issue 17, items 2, 8):
a NUL character (PostgreSQL text cannot hold U+0000) in a body, a query parameter, a path or
a form; a path id larger than any stored id; a method a route does not answer."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from auth_helpers import API, csrf_from

NUL = "\x00"


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    text = json.dumps(body)
    for leak in ("Traceback", "SELECT", "INSERT", "psycopg", "sqlalchemy", "NUL (0x00)"):
        assert leak not in text
    return body["error"]


# -- NUL characters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/outlets", {"code": f"A{NUL}B", "name": "n", "tier": "distributor"}, "body.code"),
        ("/outlets", {"code": "AB", "name": f"n{NUL}", "tier": "distributor"}, "body.name"),
        (
            "/outlets",
            {"code": "AB", "name": "n", "tier": "distributor", "phone": NUL},
            "body.phone",
        ),
        ("/products", {"sku": f"S{NUL}1", "name": "p", "unit": "箱"}, "body.sku"),
        ("/products", {"sku": "S1", "name": "p", "unit": f"箱{NUL}"}, "body.unit"),
        (
            "/sales",
            {
                "seller_code": "D1",
                "buyer_code": "W1",
                "product_sku": "S1",
                "sale_date": "2024-01-01",
                "quantity": "1",
                "amount": "1",
                "reference": f"INV{NUL}1",
            },
            "body.reference",
        ),
        (
            "/tag/outlets",
            {
                "name": f"店{NUL}",
                "tier": "retail",
                "lat": 30.0,
                "lon": 120.0,
                "source": "gps",
                "captured_at": dt.datetime.now(dt.UTC).isoformat(),
            },
            "body.name",
        ),
    ],
    ids=["outlet code", "outlet name", "outlet phone", "sku", "unit", "reference", "tag name"],
)
def test_a_nul_character_in_a_body_is_422_naming_the_field(client, path, body, field):
    error = _error(client.post(f"{API}{path}", json=body), 422)
    assert field in error["fields"], error
    assert "NUL" in error["fields"][field]


def test_a_nul_character_in_a_nested_key_or_list_is_named(client):
    error = _error(client.post(f"{API}/outlets", json={"code": "A", f"x{NUL}": 1}), 422)
    assert any(key.startswith("body.x") for key in error["fields"]), error


@pytest.mark.parametrize(
    "url, field",
    [
        ("/outlets?q=a%00b", "query.q"),
        ("/outlets?region=%00", "query.region"),
        ("/outlets?distributor=D%001", "query.distributor"),
        ("/outlets?tier=retail&status=act%00ive", "query.status"),
        ("/products?q=%00", "query.q"),
        ("/sales?seller=%00", "query.seller"),
        ("/regions?root=%00", "query.root"),
        ("/tag/outlets?q=%00", "query.q"),
    ],
)
def test_a_nul_character_in_a_query_parameter_is_400_naming_it(client, url, field):
    error = _error(client.get(f"{API}{url}"), 400)
    assert field in error["fields"], error


@pytest.mark.parametrize(
    "url, field",
    [
        ("/outlets/A%00B", "path.code"),
        ("/outlets/A%00B/downstream", "path.code"),
        ("/regions/A%00B", "path.code"),
        ("/regions/A%00B/coverage", "path.code"),
    ],
)
def test_a_nul_character_in_a_path_is_404_naming_it(client, url, field):
    error = _error(client.get(f"{API}{url}"), 404)
    assert field in error["fields"], error


def test_a_nul_character_in_a_page_url_or_form_is_a_4xx_page(app):
    browser = app.test_client()
    assert browser.get("/regions/A%00B").status_code == 404
    assert browser.get("/login?next=%00").status_code == 400
    page = browser.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    response = browser.post(
        "/login", data={"username": f"ad{NUL}min", "password": "x", "csrf_token": token}
    )
    assert response.status_code == 422  # no user is named so: the form again
    assert 'name="username"' in response.get_data(as_text=True)


def test_a_nul_character_in_an_upload_form_field_is_422_naming_it(client):
    response = client.post(
        f"{API}/imports/outlets",
        data={"file": (io.BytesIO(b"code,name,tier\r\n"), "o.csv"), "encoding": f"utf{NUL}8"},
        content_type="multipart/form-data",
    )
    assert "form.encoding" in _error(response, 422)["fields"]


# -- path ids, methods ---------------------------------------------------------------------------

HUGE = [10**30, 2**63, 2**31]


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize(
    "method, template, field",
    [
        ("get", "/sales/{}", "path.sale_id"),
        ("post", "/sales/{}/payments", "path.sale_id"),
        ("post", "/geotag-reviews/{}/accept", "path.event_id"),
        ("post", "/geotag-reviews/{}/reject", "path.event_id"),
        ("delete", "/tokens/{}", "path.token_id"),
    ],
)
def test_a_path_id_no_row_can_have_is_404_naming_the_parameter(
    client, method, template, field, value
):
    body = {"amount": "1"} if "payments" in template else None
    response = getattr(client, method)(f"{API}{template.format(value)}", json=body)
    error = _error(response, 404)
    assert list(error.get("fields", {})) == [field], error


def test_a_405_answer_names_the_allowed_methods(client):
    response = client.put(f"{API}/outlets", json={})
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    page = client.delete("/login")
    assert page.status_code == 405 and "POST" in page.headers["Allow"]


def test_every_integer_url_argument_has_its_id_column(app):
    from werkzeug.routing import IntegerConverter

    from geo_crm.http_errors import _id_columns

    integers = {
        arg
        for rule in app.url_map.iter_rules()
        for arg, converter in rule._converters.items()
        if isinstance(converter, IntegerConverter)
    }
    assert integers and integers <= set(_id_columns())


def test_a_nul_character_no_check_caught_is_still_no_500(session):
    """The last guard: psycopg refuses to send a NUL; the translation says why (422)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from geo_crm.db.translate import translate

    with pytest.raises(DBAPIError) as info:
        session.execute(text("SELECT CAST(:v AS text)"), {"v": f"a{NUL}"})
    error = translate(info.value)
    assert error is not None and error.status == 422 and "NUL" in error.message
