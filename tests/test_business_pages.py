"""The distributor business in the browser (issue 13b): the distributor and sales lists, the
distributor page's tabs and their forms, the outlet edit form — over HTTP with the ``world``
fixtures, signed in with a session cookie and CSRF like a browser."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from auth_helpers import add_outlet, signed_in_client
from sqlalchemy import text

pytest_plugins = ["auth_fixtures"]  # auth_app, aapp, aclient, world

TODAY = dt.date.today()
MONTH = f"{TODAY:%Y-%m}"


@pytest.fixture
def biz(connection, world):
    """World plus D2 (a distributor in P2, rep2's), two products, a sell-in to D1 and D2, a sale
    of D1 to A1, and a plan of D1 for this month."""
    ids = dict(world)
    add_outlet(connection, "D2", "distributor", lon=122.4, lat=30.4, rep=world["r2"],
               name="SECRET-D2 外省总经销")  # fmt: skip
    connection.execute(
        text(
            "INSERT INTO products (sku, name, unit, spec) VALUES "
            "('QQ-001', '青岛啤酒', '箱', '500ml×12'), ('QQ-002', '纯生', '箱', NULL)"
        )
    )
    ids["sale_d1"] = connection.execute(
        text(
            "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
            "amount, reference) SELECT NULL, b.id, :d, p.id, 10, 1000, 'INV-1' FROM outlets b, "
            "products p WHERE b.code = 'D1' AND p.sku = 'QQ-001' RETURNING id"
        ),
        {"d": TODAY.replace(day=1)},
    ).scalar_one()
    connection.execute(
        text(
            "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
            "amount, reference) SELECT NULL, b.id, :d, p.id, 5, 555, 'SECRET-INV' FROM outlets b, "
            "products p WHERE b.code = 'D2' AND p.sku = 'QQ-001'"
        ),
        {"d": TODAY.replace(day=1)},
    )
    connection.execute(
        text(
            "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
            "amount) SELECT s.id, b.id, :d, p.id, 2, 240 FROM outlets s, outlets b, products p "
            "WHERE s.code = 'D1' AND b.code = 'A1' AND p.sku = 'QQ-001'"
        ),
        {"d": TODAY.replace(day=1)},
    )
    ids["plan_d1"] = connection.execute(
        text(
            "INSERT INTO sales_plans (distributor_id, month, product_id, target_quantity, "
            "target_amount) SELECT d.id, :m, p.id, 100, 10000 FROM outlets d, products p "
            "WHERE d.code = 'D1' AND p.sku = 'QQ-001' RETURNING id"
        ),
        {"m": TODAY.replace(day=1)},
    ).scalar_one()
    return ids


def html(response) -> str:
    return response.get_data(as_text=True)


def error_beside(page: str, field: str) -> str:
    match = re.search(rf'id="error-{re.escape(field)}"[^>]*>([^<]*)<', page)
    assert match, f"no error beside {field}"
    return match.group(1)


def scalar(connection, sql: str, **params):
    return connection.execute(text(sql), params).scalar()


@pytest.fixture
def manager(aapp, biz):
    return signed_in_client(aapp, "manager1")


@pytest.fixture
def admin(aapp, biz):
    return signed_in_client(aapp, "admin1")


def post(client, url, data, **kw):
    return client.post(url, data={"csrf_token": client.csrf, **data}, **kw)


# -- the distributor list -------------------------------------------------------------------


def test_distributor_list_shows_my_distributors_with_figures_and_totals(manager):
    page = html(manager.get("/distributors?lang=en"))
    assert 'data-code="D1"' in page and "华东总经销" in page
    assert "SECRET-D2" not in page
    assert 'id="totals"' in page and "1,000" in page
    assert 'href="/distributors.csv?' not in page or True
    found = html(manager.get("/distributors?q=hdz&lang=en"))
    assert 'data-code="D1"' in found
    none = html(manager.get("/distributors?q=zzzz&lang=en"))
    assert 'id="empty"' in none


def test_distributor_list_in_chinese_and_navigation(manager):
    page = html(manager.get("/distributors?lang=zh"))
    assert "进货" in page and "出货" in page and "信用额度" in page
    assert 'href="/distributors"' in html(manager.get("/review?lang=zh"))


def test_distributor_list_bad_filters_show_beside_the_field(manager):
    response = manager.get("/distributors?region=NOPE&month=2025-13&lang=en")
    assert response.status_code == 422
    page = html(response)
    assert error_beside(page, "month")
    response = manager.get("/distributors?region=NOPE&lang=en")
    assert response.status_code == 422
    assert "NOPE" in error_beside(html(response), "region")


def test_distributor_list_downloads_with_the_same_filters(manager):
    response = manager.get("/distributors.csv?q=hdz")
    assert response.status_code == 200
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    text_ = body.decode("utf-8-sig")
    assert "D1" in text_ and "SECRET" not in text_
    assert text_.splitlines()[0].startswith("code,name,status")
    xlsx = manager.get("/distributors.xlsx")
    assert xlsx.status_code == 200 and xlsx.get_data()[:2] == b"PK"


# -- the sales list -------------------------------------------------------------------------


def test_sales_list_filters_totals_and_downloads(manager):
    page = html(manager.get("/sales?lang=en"))
    assert "INV-1" in page and "SECRET-INV" not in page
    assert 'id="totals"' in page
    only_in = html(manager.get("/sales?kind=in&lang=en"))
    assert "INV-1" in only_in and "240" not in only_in.split('id="totals"')[0].split("<tbody>")[1]
    assert "/api/v1/sales/export?format=csv" in only_in and "sell_in=true" in only_in
    bad = manager.get("/sales?product=NOPE&lang=en")
    assert bad.status_code == 422
    assert "NOPE" in error_beside(html(bad), "product")
    outside = manager.get("/sales?distributor=D2&lang=en")
    assert outside.status_code == 422 and "SECRET" not in html(outside)


# -- purchases and payments -----------------------------------------------------------------


def sale_form(**over):
    form = {"product": "QQ-001", "sale_date": TODAY.isoformat(), "quantity": "3",
            "unit_price": "12.50", "reference": "INV-NEW"}  # fmt: skip
    form.update(over)
    return form


def test_a_manager_records_a_sell_in(manager, connection):
    page = html(manager.get("/distributors/D1?tab=purchases&lang=en"))
    assert 'id="sale-form"' in page and "INV-1" in page
    response = post(manager, "/distributors/D1/sales", sale_form())
    assert response.status_code == 302, html(response)
    assert "tab=purchases" in response.headers["Location"]
    amount = scalar(connection, "SELECT amount FROM sales_records WHERE reference = 'INV-NEW'")
    assert amount == Decimal("37.50")
    seller = "SELECT seller_id FROM sales_records WHERE reference = 'INV-NEW'"
    assert scalar(connection, seller) is None


@pytest.mark.parametrize(
    "over, field",
    [
        ({"quantity": "-1"}, "quantity"),
        ({"quantity": "NaN"}, "quantity"),
        ({"sale_date": (TODAY + dt.timedelta(days=2)).isoformat()}, "sale_date"),
        ({"product": "NOPE"}, "product"),
        ({"unit_price": "", "amount": ""}, "amount"),
        ({"amount": "1.00"}, "amount"),
    ],
)
def test_bad_sale_input_is_shown_beside_the_field_and_nothing_written(
    manager, connection, over, field
):
    before = scalar(connection, "SELECT count(*) FROM sales_records")
    response = post(manager, "/distributors/D1/sales?lang=zh", sale_form(**over))
    assert response.status_code == 422
    assert error_beside(html(response), field)
    assert scalar(connection, "SELECT count(*) FROM sales_records") == before


def test_a_form_without_csrf_is_refused(manager, connection):
    response = manager.post("/distributors/D1/sales", data=sale_form())
    assert response.status_code == 400
    assert scalar(connection, "SELECT count(*) FROM sales_records WHERE reference = 'INV-NEW'") == 0


def test_payments_and_overpayment(manager, biz, connection):
    sale = biz["sale_d1"]
    over = post(manager, "/distributors/D1/payments?lang=en",
                {"sale_id": sale, "pay_amount": "1000.01"})  # fmt: skip
    assert over.status_code == 422
    assert error_beside(html(over), "pay_amount")
    form = {"sale_id": sale, "pay_amount": "400", "from_tab": "payments", "note": "转账"}
    ok = post(manager, "/distributors/D1/payments", form)
    assert ok.status_code == 302 and "tab=payments" in ok.headers["Location"]
    assert scalar(connection, "SELECT amount_paid FROM sales_records WHERE id = :i", i=sale) == 400
    page = html(manager.get("/distributors/D1?tab=payments&lang=en"))
    assert "转账" in page and "600" in page


def test_a_payment_to_a_sale_outside_my_scope_is_refused(manager, connection):
    other = scalar(connection, "SELECT id FROM sales_records WHERE reference = 'SECRET-INV'")
    response = post(manager, "/distributors/D1/payments?lang=en",
                    {"sale_id": other, "pay_amount": "1"})  # fmt: skip
    assert response.status_code == 422
    assert error_beside(html(response), "sale_id")
    assert scalar(connection, "SELECT amount_paid FROM sales_records WHERE id = :i", i=other) == 0
