"""The distributor business through the API, the CLI, the plan import and the exports."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
from auth_helpers import add_token, token_client
from sqlalchemy import text

from geo_crm.domain.plans import month_days, next_month

pytest_plugins = ["auth_fixtures"]

API = "/api/v1"
TODAY = dt.date.today()
MONTH = TODAY.strftime("%Y-%m")
LAST = next_month(TODAY.replace(day=1), -1).strftime("%Y-%m")


@pytest.fixture
def biz(connection, world):
    connection.execute(
        text("INSERT INTO products (sku, name, unit) VALUES ('SKU1', '啤酒', 'case'), "
             "('SKU2', '白酒', 'case')")
    )  # fmt: skip
    connection.execute(
        text(
            "INSERT INTO outlets (code, name, tier, location, rep_id) VALUES "
            "('D2', 'SECRET-D2', 'distributor', ST_SetSRID(ST_MakePoint(122.4, 30.4), 4326), :r)"
        ),
        {"r": world["r2"]},
    )
    return world


@pytest.fixture
def manager(aapp, connection, biz):
    return token_client(aapp, add_token(connection, biz["m1"]))


@pytest.fixture
def admin(aapp, connection, biz):
    return token_client(aapp, add_token(connection, biz["admin"]))


def _count(connection, sql: str) -> int:
    return connection.execute(text(sql)).scalar_one()


def test_sell_in_over_the_credit_limit_warns_and_is_reviewed(admin, manager, connection):
    limit = admin.put(f"{API}/distributors/D1/credit", json={"credit_limit": "1500.00"})
    assert limit.status_code == 200, limit.get_json()
    body = {"buyer_code": "D1", "product_sku": "SKU1", "sale_date": TODAY.isoformat(),
            "quantity": "10", "unit_price": "100.00"}  # fmt: skip
    first = manager.post(f"{API}/sales", json=body)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["seller_code"] is None and first.get_json()["amount"] == "1000.00"
    assert first.get_json()["warnings"] == []
    second = manager.post(f"{API}/sales", json=body).get_json()
    assert second["warnings"][0]["code"] == "over_credit_limit"
    reviews = manager.get(f"{API}/sales-reviews").get_json()
    assert [r["id"] for r in reviews["items"]] == [second["id"]]
    done = manager.post(f"{API}/sales-reviews/{second['id']}/accept", json={"note": "ok"})
    assert done.get_json()["review_state"] == "accepted"
    assert admin.put(f"{API}/settings/credit_policy", json={"value": "refuse"}).status_code == 200
    refused = manager.post(f"{API}/sales", json=body)
    assert refused.status_code == 422 and "body.amount" in refused.get_json()["error"]["fields"]
    assert manager.put(f"{API}/settings/credit_policy", json={"value": "warn"}).status_code == 403


@pytest.mark.parametrize(
    "change, field",
    [
        ({"sale_date": (TODAY + dt.timedelta(days=3)).isoformat()}, "body.sale_date"),
        ({"quantity": "-1"}, "body.quantity"),
        ({"quantity": "NaN"}, "body.quantity"),
        ({"product_sku": "NOPE"}, "body.product_sku"),
        ({"buyer_code": "A1"}, "body.seller_code"),
        ({"unit_price": "3.00", "amount": "1.00"}, "body.amount"),
    ],
)
def test_bad_sales_name_the_field_and_write_nothing(manager, connection, change, field):
    body = {"buyer_code": "D1", "product_sku": "SKU1", "sale_date": TODAY.isoformat(),
            "quantity": "10", "amount": "100.00", **change}  # fmt: skip
    before = _count(connection, "SELECT count(*) FROM sales_records")
    response = manager.post(f"{API}/sales", json=body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"], response.get_json()
    assert _count(connection, "SELECT count(*) FROM sales_records") == before


def test_a_payment_over_what_is_owed_is_refused(manager):
    sale = manager.post(
        f"{API}/sales",
        json={"buyer_code": "D1", "product_sku": "SKU1", "sale_date": TODAY.isoformat(),
              "quantity": "1", "amount": "100.00"},
    ).get_json()  # fmt: skip
    over = manager.post(f"{API}/sales/{sale['id']}/payments", json={"amount": "100.01"})
    assert over.status_code == 422 and "body.amount" in over.get_json()["error"]["fields"]
    ok = manager.post(f"{API}/sales/{sale['id']}/payments", json={"amount": "100.00"})
    assert ok.get_json()["sale"]["settlement"] == "paid"


def _plan_body(**kw):
    body = {"distributor_code": "D1", "month": MONTH, "product_sku": "SKU1",
            "target_quantity": "100", "target_amount": "10000.00",
            "schedule": [{"by_day": 10, "target_amount": "3000"},
                         {"by_day": 20, "target_amount": "6000"}],
            "support": [{"kind": "promotion", "description": "买十送一",
                         "amount": "500"}]}  # fmt: skip
    body.update(kw)
    return body


def test_plans_over_http_with_versions_history_and_closed_months(admin, manager, connection):
    created = manager.post(f"{API}/plans", json=_plan_body())
    assert created.status_code == 201, created.get_json()
    plan = created.get_json()
    assert plan["month"] == MONTH and plan["support"][0]["kind"] == "promotion"
    url = f"{API}/plans/{plan['id']}"
    changed = manager.patch(url, json={"version": 1, "target_amount": "12000.00"})
    assert changed.status_code == 200 and changed.get_json()["version"] == 2
    stale = manager.patch(url, json={"version": 1, "target_amount": "1.00"})
    assert stale.status_code == 409
    assert stale.get_json()["error"]["detail"]["target_amount"] == "12000.00"
    history = manager.get(f"{url}/history").get_json()["items"]
    assert {h["user"] for h in history} == {"manager1"}
    assert manager.post(f"{API}/closed-months", json={"month": MONTH}).status_code == 403
    assert admin.post(f"{API}/closed-months", json={"month": MONTH}).status_code == 201
    closed = manager.patch(url, json={"version": 2, "target_amount": "13000.00"})
    assert closed.status_code == 422 and "body.month" in closed.get_json()["error"]["fields"]
    assert admin.patch(url, json={"version": 2, "target_amount": "13000.00"}).status_code == 200
    bad = manager.post(f"{API}/plans", json=_plan_body(month="2025-13"))
    assert bad.status_code == 422 and "body.month" in bad.get_json()["error"]["fields"]
    retail = manager.post(f"{API}/plans", json=_plan_body(distributor_code="A1", month=LAST))
    assert "body.distributor_code" in retail.get_json()["error"]["fields"]
    hidden = manager.post(f"{API}/plans", json=_plan_body(distributor_code="D2", month=LAST))
    assert hidden.status_code == 422 and "SECRET" not in hidden.get_data(as_text=True)
    gone = manager.delete(f"{url}?version=3")
    assert gone.status_code == 422  # closed: the manager may not delete it either


def test_copy_last_month(manager, connection):
    manager.post(f"{API}/plans", json=_plan_body(month=LAST))
    copied = manager.post(f"{API}/plans/copy", json={"to_month": MONTH}).get_json()
    assert copied["copied"] == 1 and copied["skipped"] == []
    again = manager.post(f"{API}/plans/copy", json={"to_month": MONTH}).get_json()
    assert again["copied"] == 0 and len(again["skipped"]) == 1


def test_the_list_the_ageing_and_plan_against_actual(manager, connection):
    manager.post(f"{API}/plans", json=_plan_body())
    manager.post(
        f"{API}/sales",
        json={"buyer_code": "D1", "product_sku": "SKU1", "sale_date": TODAY.isoformat(),
              "quantity": "58", "amount": "5800.00"},
    )  # fmt: skip
    listed = manager.get(f"{API}/distributors?q=hdz&sort=achievement&desc=true").get_json()
    assert [r["code"] for r in listed["items"]] == ["D1"]
    assert listed["items"][0]["achievement"] == pytest.approx(0.58)
    assert listed["items"][0]["debt"] == "5800.00"
    ageing = manager.get(f"{API}/debt/ageing?level=city").get_json()
    assert ageing["distributors"][0]["owed"]["buckets"]["0-30"] == "5800.00"
    result = manager.get(f"{API}/plan-actual?distributor=D1&period={MONTH}").get_json()
    assert result["total"]["achievement_in"] == pytest.approx(0.58)
    assert result["summary"].startswith(f"day {TODAY.day} of {month_days(TODAY.replace(day=1))}")
    bad = manager.get(f"{API}/plan-actual?distributor=D2")
    assert bad.status_code == 422 and "query.distributor" in bad.get_json()["error"]["fields"]


def _plan_csv(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["经销商编码", "月份", "产品编码", "目标数量", "目标金额", "10日累计金额",
                     "20日累计金额", "支援类型", "支援内容", "支援金额"])  # fmt: skip
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def test_plan_import_all_or_nothing_with_row_numbers(manager, connection):
    good = ["D1", f"{TODAY.year}年{TODAY.month}月", "SKU1", "100", "10000", "3000", "6000",
            "促销", "买十送一", "500"]  # fmt: skip
    bad = ["D1", "2025-13", "NOPE", "-1", "abc", "", "", "", "", ""]
    hidden = ["D2", MONTH, "SKU2", "1", "1", "", "", "", "", ""]
    data = _plan_csv([good, bad, hidden], "gb18030")
    response = manager.post(
        f"{API}/imports/plans", data={"file": (io.BytesIO(data), "plans.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert {"rows.3.month", "rows.3.sku", "rows.3.target_quantity", "rows.3.target_amount",
            "rows.4.distributor_code"} <= set(fields)  # fmt: skip
    assert "SECRET" not in response.get_data(as_text=True)
    assert _count(connection, "SELECT count(*) FROM sales_plans") == 0
    ok = manager.post(
        f"{API}/imports/plans", data={"file": (io.BytesIO(_plan_csv([good])), "plans.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["inserted"] == 1
    plan = manager.get(f"{API}/plans?distributor=D1").get_json()["items"][0]
    assert [s["by_day"] for s in plan["schedule"]] == [10, 20]
    assert plan["support"] == [{"kind": "promotion", "description": "买十送一", "amount": "500.00"}]
    again = manager.post(
        f"{API}/imports/plans", data={"file": (io.BytesIO(_plan_csv([good])), "plans.csv")},
        content_type="multipart/form-data",
    ).get_json()  # fmt: skip
    assert again["unchanged"] == 1 and again["inserted"] == again["updated"] == 0


def test_plan_import_from_xlsx(manager):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["经销商编码", "月份", "产品编码", "计划数量", "计划金额"])
    sheet.append(["D1", TODAY.replace(day=1), "SKU2", 5, 500.5])
    data = io.BytesIO()
    workbook.save(data)
    data.seek(0)
    response = manager.post(
        f"{API}/imports/plans", data={"file": (data, "plans.xlsx")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["inserted"] == 1


def test_exports_are_scoped_guarded_and_open_in_excel(manager, connection):
    manager.post(
        f"{API}/sales",
        json={"buyer_code": "D1", "product_sku": "SKU1", "sale_date": TODAY.isoformat(),
              "quantity": "1", "amount": "10.00", "reference": "=HYPERLINK(1)"},
    )  # fmt: skip
    csv_file = manager.get(f"{API}/sales/export?format=csv&sell_in=true")
    assert csv_file.status_code == 200
    raw = csv_file.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:4] == ["reference", "date", "seller_code", "buyer_code"]
    assert rows[1][0].startswith("'=") and rows[1][2] == ""
    xlsx = manager.get(f"{API}/sales/export?format=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.get_data())).active
    assert sheet.cell(2, 1).value.startswith("'=")
    manager.post(f"{API}/plans", json=_plan_body())
    plans_csv = manager.get(f"{API}/plans/export").get_data().decode("utf-8-sig")
    assert "D1" in plans_csv and "3000" in plans_csv
    debt_csv = manager.get(f"{API}/debt/ageing/export?format=csv").get_data().decode("utf-8-sig")
    assert debt_csv.splitlines()[1].startswith("D1,")
    hidden = manager.get(f"{API}/sales/export?distributor=D2")
    assert hidden.status_code == 422 and "query.distributor" in hidden.get_json()["error"]["fields"]


# -- the command line -----------------------------------------------------------------------


def test_the_business_on_the_command_line(aapp, connection, biz, tmp_path):
    cli = aapp.test_cli_runner()
    out = cli.invoke(args=["sales", "add", "--buyer", "D1", "--product", "SKU1", "--quantity",
                           "2", "--unit-price", "50", "--reference", "INV-1"])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "manufacturer → D1" in out.output
    sale_id = connection.execute(text("SELECT id FROM sales_records WHERE reference = 'INV-1'"))
    sale_id = sale_id.scalar_one()
    over = cli.invoke(args=["payments", "add", str(sale_id), "--amount", "100.01"])
    assert over.exit_code == 1 and over.output.startswith("error:"), over.output
    assert "Traceback" not in over.output
    wrong = cli.invoke(args=["sales", "add", "--buyer", "A1", "--product", "SKU1",
                             "--quantity", "1", "--amount", "1"])  # fmt: skip
    assert wrong.exit_code == 1 and "error:" in wrong.output
    plan = cli.invoke(args=["plans", "set", "--distributor", "D1", "--month", LAST, "--product",
                            "SKU1", "--quantity", "10", "--amount", "100", "--by", "10=30",
                            "--support", "materials:海报:20", "--as", "manager1"])  # fmt: skip
    assert plan.exit_code == 0, plan.output
    assert cli.invoke(args=["plans", "copy", "--to", MONTH]).exit_code == 0
    assert cli.invoke(args=["plans", "close", LAST]).exit_code == 0
    refused = cli.invoke(args=["plans", "set", "--distributor", "D1", "--month", LAST,
                               "--product", "SKU1", "--quantity", "11", "--amount", "110",
                               "--as", "manager1"])  # fmt: skip
    assert refused.exit_code == 1 and "closed" in refused.output, refused.output
    assert cli.invoke(args=["settings", "set", "credit_policy", "refuse"]).exit_code == 0
    assert cli.invoke(args=["settings", "set", "credit_policy", "maybe"]).exit_code == 1
    assert cli.invoke(args=["credit", "set", "D1", "5000"]).exit_code == 0
    debt = cli.invoke(args=["debt", "--level", "city"])
    assert debt.exit_code == 0 and "D1" in debt.output, debt.output
    listed = cli.invoke(args=["distributors", "list", "--q", "hdz"])
    assert "D1" in listed.output
    actual = cli.invoke(args=["analyse", "plan-actual", "--distributor", "D1", "--period",
                              str(TODAY.year)])  # fmt: skip
    assert actual.exit_code == 0 and "'s plan" in actual.output, actual.output
    target = tmp_path / "plans.csv"
    exported = cli.invoke(args=["export", "plans", "-o", str(target)])
    assert exported.exit_code == 0, exported.output
    imported = cli.invoke(args=["import", "plans", str(target), "--dry-run", "--no-progress"])
    assert imported.exit_code == 0, imported.output
    assert "0 would be inserted" in imported.output


def test_the_sales_import_takes_sell_in(manager, aapp, connection):
    data = (
        "日期,卖方编码,买方编码,产品编码,数量,单价,金额\n"
        f"{TODAY.isoformat()},,D1,SKU1,3,12.50,\n"
        f"{TODAY.isoformat()},厂家,D1,SKU1,1,,9.99\n"
        f"{TODAY.isoformat()},,A1,SKU1,1,,1\n"
        f"{(TODAY + dt.timedelta(days=2)).isoformat()},D1,A1,SKU1,1,2,3\n"
    ).encode("gb18030")
    cli = aapp.test_cli_runner()
    path = aapp.config.get("TESTING") and None
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".csv") as f:
        f.write(data)
        f.flush()
        out = cli.invoke(args=["import", "sales", f.name, "--no-progress"])
        assert out.exit_code == 1, out.output
        assert "only distributors buy from the manufacturer" in out.output
        assert "in the future" in out.output and "quantity × unit_price" in out.output
    assert path is None
    good = b"date,seller_code,buyer_code,sku,quantity,unit_price\n" + (
        f"{TODAY.isoformat()},,D1,SKU1,3,12.50\n".encode()
    )
    with tempfile.NamedTemporaryFile(suffix=".csv") as f:
        f.write(good)
        f.flush()
        out = cli.invoke(args=["import", "sales", f.name, "--no-progress"])
        assert out.exit_code == 0, out.output
    row = connection.execute(text("SELECT seller_id, amount, unit_price FROM sales_records")).one()
    assert row.seller_id is None and row.amount == 37.5
