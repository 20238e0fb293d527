"""Products, sales records, payments and debt over HTTP."""

from __future__ import annotations

import pytest
from auth_helpers import add_token, add_user, token_client

API = "/api/v1"


def add_region(sql, code, box, parent=None, level="province"):
    sql(
        "INSERT INTO regions (code, name, level, parent_id, boundary) VALUES (:c, :name, :l, "
        "(SELECT id FROM regions WHERE code = :p), ST_Multi(ST_MakeEnvelope(:x0, :y0, :x1, "
        ":y1, 4326)))",
        c=code,
        name=code,
        l=level,
        p=parent,
        x0=box[0],
        y0=box[1],
        x1=box[2],
        y1=box[3],
    )


def add_outlet(sql, code, tier, parent=None, lon=None, lat=None):
    location = f"ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)" if lon is not None else "NULL"
    sql(
        f"INSERT INTO outlets (code, name, tier, parent_id, location) VALUES (:c, :n, :t, "
        f"(SELECT id FROM outlets WHERE code = :p), {location})",
        c=code,
        n=f"店 {code}",
        t=tier,
        p=parent,
    )


def add_sale(sql, seller, buyer, sku, day, amount, paid="0", quantity="1"):
    sale_id = sql(
        "INSERT INTO sales_records (seller_id, buyer_id, product_id, sale_date, quantity, amount) "
        "SELECT s.id, b.id, p.id, CAST(:d AS date), CAST(:q AS numeric), CAST(:a AS numeric) "
        "FROM outlets s, outlets b, products p WHERE s.code = :s AND b.code = :b AND p.sku = "
        ":sku RETURNING id",
        s=seller,
        b=buyer,
        sku=sku,
        d=day,
        q=quantity,
        a=amount,
    ).scalar_one()
    if paid != "0":
        sql(
            "INSERT INTO payments (sales_record_id, paid_on, amount) VALUES (:i, CAST(:d AS date), "
            "CAST(:a AS numeric))",
            i=sale_id,
            d=day,
            a=paid,
        )
    return sale_id


@pytest.fixture
def shop(sql):
    add_region(sql, "P", (100, 20, 102, 22))
    add_region(sql, "C", (100, 20, 101, 21), parent="P", level="city")
    add_region(sql, "Q", (110, 30, 111, 31))
    add_outlet(sql, "D", "distributor", None, 100.5, 20.5)
    add_outlet(sql, "W", "wholesaler_2", "D", 101.5, 21.5)
    add_outlet(sql, "R1", "retail", "W", 100.6, 20.6)  # in C (so in P)
    add_outlet(sql, "R2", "retail", "W", 110.5, 30.5)  # in Q
    add_outlet(sql, "R3", "retail", "W")  # not geotagged
    for sku, name in (("BEER-500", "啤酒 500ml"), ("TEA-1", "Green tea")):
        sql(
            "INSERT INTO products (sku, name, unit, spec) VALUES (:s, :n, '箱', '12×500ml')",
            s=sku,
            n=name,
        )
    ids = {
        "a": add_sale(sql, "D", "W", "BEER-500", "2024-01-05", "1000.00", paid="1000.00"),
        "b": add_sale(sql, "W", "R1", "BEER-500", "2024-02-10", "300.00", paid="100.00"),
        "c": add_sale(sql, "W", "R1", "TEA-1", "2024-03-01", "50.50"),
        "d": add_sale(sql, "W", "R2", "TEA-1", "2024-03-15", "80.00"),
        "e": add_sale(sql, "D", "R3", "BEER-500", "2024-04-01", "20.00"),
    }
    return ids


def ids_of(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def fields(response) -> dict:
    return response.get_json()["error"].get("fields", {})


# -- products -------------------------------------------------------------------------------


def test_create_and_list_products(client, shop):
    response = client.post(
        f"{API}/products",
        json={"sku": "COLA-330", "name": "可乐", "unit": "罐", "spec": "330ml×24"},
    )
    assert response.status_code == 201
    assert response.get_json() == {
        "id": response.get_json()["id"],
        "sku": "COLA-330",
        "name": "可乐",
        "unit": "罐",
        "spec": "330ml×24",
        "active": True,
    }
    page = client.get(f"{API}/products").get_json()
    assert [p["sku"] for p in page["items"]] == ["BEER-500", "TEA-1", "COLA-330"] and page[
        "total"
    ] == 3
    assert [p["sku"] for p in client.get(f"{API}/products?q=啤酒").get_json()["items"]] == [
        "BEER-500"
    ]
    assert [p["sku"] for p in client.get(f"{API}/products?q=tea&limit=1").get_json()["items"]] == [
        "TEA-1"
    ]
    assert client.get(f"{API}/products?active=false").get_json()["total"] == 0


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"sku": "BEER-500"}, 409, "body.sku"),
        ({"sku": ""}, 422, "body.sku"),
        ({"unit": ""}, 422, "body.unit"),
        ({"price": 3}, 422, "body.price"),
    ],
)
def test_product_errors(client, shop, payload, status, field):
    response = client.post(
        f"{API}/products", json={"sku": "NEW", "name": "n", "unit": "箱", **payload}
    )
    assert response.status_code == status and field in fields(response), response.get_json()


# -- sales records --------------------------------------------------------------------------


def test_create_sale(client, shop):
    response = client.post(
        f"{API}/sales",
        json={
            "seller_code": "W",
            "buyer_code": "R2",
            "product_sku": "TEA-1",
            "sale_date": "2024-05-02",
            "quantity": "10.5",
            "amount": 123.4,
            "reference": "INV-9",
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["amount"] == "123.40" and body["quantity"] == "10.500" and body["debt"] == "123.40"
    assert (
        body["settlement"] == "unpaid"
        and body["seller_code"] == "W"
        and body["sale_date"] == "2024-05-02"
    )
    assert response.headers["Location"].endswith(f"/api/v1/sales/{body['id']}")
    assert client.get(f"{API}/sales/{body['id']}").get_json()["payments"] == []


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        (
            {"seller_code": "R1", "buyer_code": "W"},
            422,
            "body.seller_code",
        ),  # retail cannot sell upstream
        ({"seller_code": "NOPE"}, 422, "body.seller_code"),
        ({"buyer_code": "NOPE"}, 422, "body.buyer_code"),
        ({"product_sku": "NOPE"}, 422, "body.product_sku"),
        ({"amount": "-1"}, 422, "body.amount"),
        ({"amount": "1.234"}, 422, "body.amount"),
        ({"amount": "NaN"}, 422, "body.amount"),
        ({"amount": True}, 422, "body.amount"),
        ({"quantity": "abc"}, 422, "body.quantity"),
        ({"sale_date": "2024-13-01"}, 422, "body.sale_date"),
        ({"sale_date": 1704067200}, 422, "body.sale_date"),
        ({"sale_date": "1/2/2024"}, 422, "body.sale_date"),
        ({"reference": "INV-1"}, 409, "body.reference"),
    ],
)
def test_sale_errors_name_the_field_and_write_nothing(client, shop, sql, payload, status, field):
    client.post(
        f"{API}/sales",
        json={
            "seller_code": "W",
            "buyer_code": "R1",
            "product_sku": "TEA-1",
            "sale_date": "2024-05-01",
            "quantity": 1,
            "amount": 1,
            "reference": "INV-1",
        },
    )
    before = sql("SELECT count(*) FROM sales_records").scalar()
    body = {
        "seller_code": "W",
        "buyer_code": "R1",
        "product_sku": "TEA-1",
        "sale_date": "2024-05-01",
        "quantity": 1,
        "amount": "9.99",
        **payload,
    }
    response = client.post(f"{API}/sales", json=body)
    assert response.status_code == status and field in fields(response), response.get_json()
    assert sql("SELECT count(*) FROM sales_records").scalar() == before


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", "abcde"),
        ("date_from=2024-02-10", "bcde"),
        ("date_to=2024-03-01", "abc"),
        ("date_from=2024-02-01&date_to=2024-03-10", "bc"),
        ("seller=D", "ae"),
        ("buyer=R1", "bc"),
        ("product=TEA-1", "cd"),
        ("region=P", "abc"),  # buyers W (in P) and R1 (in C, inside P)
        ("region=C", "bc"),
        ("region=Q", "d"),
        ("unpaid=true", "bcde"),
        ("unpaid=true&seller=W&product=TEA-1&date_from=2024-03-10", "d"),
        ("region=P&unpaid=true&buyer=R1&product=BEER-500", "b"),
        ("seller=W&buyer=W", ""),
    ],
)
def test_sales_filters_combine(client, shop, query, expected):
    assert ids_of(client.get(f"{API}/sales?{query}")) == [shop[k] for k in expected]


def test_sales_totals_and_cursor(client, shop):
    page = client.get(f"{API}/sales?limit=2&unpaid=true").get_json()
    assert page["totals"] == {"records": 4, "amount": "450.50", "paid": "100.00", "debt": "350.50"}
    seen = [i["id"] for i in page["items"]]
    while page["next_cursor"]:
        page = client.get(
            f"{API}/sales?limit=2&unpaid=true&cursor={page['next_cursor']}"
        ).get_json()
        seen += [i["id"] for i in page["items"]]
    assert seen == [shop[k] for k in "bcde"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("seller=NOPE", "query.seller"),
        ("buyer=NOPE", "query.buyer"),
        ("product=NOPE", "query.product"),
        ("region=NOPE", "query.region"),
        ("date_from=2024-05-01&date_to=2024-01-01", "query.date_to"),
        ("date_from=yesterday", "query.date_from"),
        ("unpaid=perhaps", "query.unpaid"),
        ("page=2", "query.page"),
    ],
)
def test_sales_list_rejects_bad_filters(client, shop, query, field):
    response = client.get(f"{API}/sales?{query}")
    assert response.status_code == 422 and field in fields(response), response.get_json()


# -- payments and debt ----------------------------------------------------------------------


def test_payments_settle_a_record(client, shop, sql):
    sale = shop["b"]  # 300.00, 100.00 paid
    response = client.post(
        f"{API}/sales/{sale}/payments",
        json={"amount": "150.00", "paid_on": "2024-03-01", "note": "现金"},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["payment"]["amount"] == "150.00" and body["payment"]["paid_on"] == "2024-03-01"
    assert body["sale"]["amount_paid"] == "250.00" and body["sale"]["debt"] == "50.00"
    assert body["sale"]["settlement"] == "partial"
    done = client.post(f"{API}/sales/{sale}/payments", json={"amount": 50}).get_json()
    assert done["sale"]["settlement"] == "paid" and done["sale"]["debt"] == "0.00"
    detail = client.get(f"{API}/sales/{sale}").get_json()
    assert [p["amount"] for p in detail["payments"]] == ["100.00", "150.00", "50.00"]


def test_overpayment_is_422_and_changes_nothing(client, shop, sql):
    sale = shop["c"]  # 50.50 unpaid
    response = client.post(f"{API}/sales/{sale}/payments", json={"amount": "50.51"})
    assert response.status_code == 422
    assert "body.amount" in fields(response)
    assert sql("SELECT amount_paid FROM sales_records WHERE id = :i", i=sale).scalar() == 0
    assert sql("SELECT count(*) FROM payments WHERE sales_record_id = :i", i=sale).scalar() == 0


@pytest.mark.parametrize("amount", ["0", "-5", "0.001", "lots"])
def test_bad_payment_amounts(client, shop, amount):
    response = client.post(f"{API}/sales/{shop['c']}/payments", json={"amount": amount})
    assert response.status_code == 422 and "body.amount" in fields(response)


def test_payment_to_unknown_record_is_404(client, shop):
    assert client.post(f"{API}/sales/999999/payments", json={"amount": "1"}).status_code == 404
    assert client.get(f"{API}/sales/999999").status_code == 404


def test_buyer_debt(client, shop):
    body = client.get(f"{API}/outlets/R1/debt").get_json()
    assert body["outlet"]["code"] == "R1"
    assert (
        body["debt"] == "250.50"
        and body["unpaid_records"] == 2
        and body["oldest_unpaid"] == "2024-02-10"
    )
    assert body["by_seller"] == [
        {"seller_code": "W", "records": 2, "debt": "250.50", "oldest_unpaid": "2024-02-10"}
    ]
    clean = client.get(f"{API}/outlets/W/debt").get_json()
    assert clean["debt"] == "0.00" and clean["by_seller"] == [] and clean["oldest_unpaid"] is None
    assert client.get(f"{API}/outlets/NOPE/debt").status_code == 404


def test_managers_list_only_sales_touching_their_regions(app, connection, shop):
    manager = add_user(connection, "mgr-q", "manager", regions=("Q",))
    as_manager = token_client(app, add_token(connection, manager))
    page = as_manager.get(f"{API}/sales").get_json()
    assert [i["id"] for i in page["items"]] == [shop["d"]]  # W → R2, and R2 lies in Q
    assert page["totals"]["records"] == 1 and page["totals"]["amount"] == "80.00"
