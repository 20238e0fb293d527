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


def test_a_payment_goes_only_to_this_distributors_sell_in(manager, connection):
    sell_out = scalar(connection, "SELECT id FROM sales_records WHERE amount = 240")
    response = post(manager, "/distributors/D1/payments?lang=en",
                    {"sale_id": sell_out, "pay_amount": "1"})  # fmt: skip
    assert response.status_code == 422 and error_beside(html(response), "sale_id")
    assert (
        scalar(connection, "SELECT amount_paid FROM sales_records WHERE id = :i", i=sell_out) == 0
    )


def test_a_payment_to_a_sale_outside_my_scope_is_refused(manager, connection):
    other = scalar(connection, "SELECT id FROM sales_records WHERE reference = 'SECRET-INV'")
    response = post(manager, "/distributors/D1/payments?lang=en",
                    {"sale_id": other, "pay_amount": "1"})  # fmt: skip
    assert response.status_code == 422
    assert error_beside(html(response), "sale_id")
    assert scalar(connection, "SELECT amount_paid FROM sales_records WHERE id = :i", i=other) == 0


# -- plans ----------------------------------------------------------------------------------


def plan_form(**over):
    form = {
        "month": MONTH, "product": "QQ-002", "target_quantity": "200", "target_amount": "20000",
        "step-0-day": "10", "step-0-quantity": "60", "step-0-amount": "6000",
        "step-1-day": "20", "step-1-quantity": "130", "step-1-amount": "",
        "step-2-day": "", "step-2-quantity": "200", "step-2-amount": "20000",
        "support_rows": "3", "support-0-kind": "promotion", "support-0-description": "买十送一",
        "support-0-amount": "500", "support_notes": "新品上市",
    }  # fmt: skip
    form.update(over)
    return form


def test_the_plans_tab_shows_plan_against_actual_and_the_plans(manager, biz):
    page = html(manager.get(f"/distributors/D1?tab=plans&month={MONTH}&lang=en"))
    assert 'id="plan-actual"' in page and 'id="progress"' in page
    assert re.search(r"Day \d+ of \d+: sell-in is 10\.0% of the whole month", page), page.split(
        'id="progress"'
    )[1][:200]
    assert f'data-plan="{biz["plan_d1"]}"' in page
    assert 'id="plan-form"' in page and 'name="version"' not in page  # a new plan's form
    zh = html(manager.get(f"/distributors/D1?tab=plans&month={MONTH}&lang=zh"))
    assert "计划与实际" in zh and "进货" in zh and "出货" in zh and "销售支援" in zh


def test_a_manager_creates_a_plan_with_schedule_and_support(manager, connection):
    response = post(manager, "/distributors/D1/plans", plan_form())
    assert response.status_code == 302, html(response)
    plan = connection.execute(
        text(
            "SELECT p.id, p.target_amount, p.support_notes FROM sales_plans p JOIN products r "
            "ON r.id = p.product_id WHERE r.sku = 'QQ-002'"
        )
    ).one()
    assert plan.target_amount == 20000 and plan.support_notes == "新品上市"
    steps = connection.execute(
        text("SELECT by_day, target_quantity FROM sales_plan_schedule WHERE plan_id = :p "
             "ORDER BY by_day"), {"p": plan.id}
    ).all()  # fmt: skip
    last = (TODAY.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    assert [(s.by_day, s.target_quantity) for s in steps] == [(10, 60), (20, 130), (last.day, 200)]
    assert scalar(connection, "SELECT count(*) FROM sales_plan_support WHERE plan_id = :p",
                  p=plan.id) == 1  # fmt: skip
    page = html(manager.get(response.headers["Location"] + "&lang=en"))
    assert 'id="done"' in page and 'name="version"' in page and 'id="history"' in page


@pytest.mark.parametrize(
    "over, field",
    [
        ({"target_quantity": "-5"}, "target_quantity"),
        ({"target_amount": "abc"}, "target_amount"),
        ({"product": "NOPE"}, "product"),
        ({"step-0-day": "32"}, "step-0-day"),
        ({"step-1-quantity": "300"}, "step-1-quantity"),
        ({"support-0-amount": "-1"}, "support-0-amount"),
        ({"month": "2025-13"}, "month"),
    ],
)
def test_bad_plan_input_is_shown_beside_the_field(manager, connection, over, field):
    before = scalar(connection, "SELECT count(*) FROM sales_plans")
    response = post(manager, "/distributors/D1/plans?lang=zh", plan_form(**over))
    assert response.status_code == 422, html(response)[:300]
    assert error_beside(html(response), field)
    assert scalar(connection, "SELECT count(*) FROM sales_plans") == before


def test_a_plan_for_a_product_already_planned_is_refused(manager, connection):
    response = post(manager, "/distributors/D1/plans?lang=en", plan_form(product="QQ-001"))
    assert response.status_code == 422
    assert "already" in error_beside(html(response), "month")


def edit_form(version, **over):
    form = plan_form(**over)
    form.pop("product")
    form["version"] = str(version)
    return form


def test_two_managers_edit_the_same_plan_the_second_gets_a_conflict(aapp, biz, connection):
    from auth_helpers import add_user

    add_user(connection, "manager3", "manager", regions=("C1",))
    first, second = signed_in_client(aapp, "manager1"), signed_in_client(aapp, "manager3")
    plan = biz["plan_d1"]
    url = f"/distributors/D1/plans/{plan}"
    form_page = html(second.get(f"/distributors/D1?tab=plans&month={MONTH}&plan={plan}"))
    version = re.search(r'name="version" id="version" value="(\d+)"', form_page).group(1)
    ok = post(first, url, edit_form(version, target_amount="25000"))
    assert ok.status_code == 302, html(ok)
    stale = post(second, url + "?lang=en", edit_form(version, target_amount="99999"))
    assert stale.status_code == 409
    page = html(stale)
    assert 'id="conflict"' in page and "Someone else changed" in page
    assert 'value="25000.00"' in page  # the form shows what is stored now, at its new version
    assert f'value="{int(version) + 1}"' in page
    assert (
        scalar(connection, "SELECT target_amount FROM sales_plans WHERE id = :p", p=plan) == 25000
    )
    zh = post(second, url + "?lang=zh", edit_form(version, target_amount="1"))
    assert "已被他人修改" in html(zh)


def test_a_plan_of_another_distributor_is_not_edited_through_this_one(aapp, biz, connection):
    from auth_helpers import add_outlet as add

    add(connection, "D3", "distributor", lon=120.15, lat=30.15, name="城东总经销")
    manager = signed_in_client(aapp, "manager1")
    response = post(manager, f"/distributors/D3/plans/{biz['plan_d1']}", edit_form(1))
    assert response.status_code == 404


def test_a_closed_month_refuses_managers_and_lets_an_admin_edit(aapp, biz, connection):
    connection.execute(text("INSERT INTO closed_months (month) VALUES (:m)"),
                       {"m": TODAY.replace(day=1)})  # fmt: skip
    plan = biz["plan_d1"]
    manager = signed_in_client(aapp, "manager1")
    page = html(manager.get(f"/distributors/D1?tab=plans&month={MONTH}&plan={plan}&lang=en"))
    assert 'id="closed-month"' in page and "<fieldset disabled>" in page
    refused = post(manager, f"/distributors/D1/plans/{plan}?lang=en",
                   edit_form(1, target_amount="20001"))  # fmt: skip
    assert refused.status_code == 422, html(refused)
    assert error_beside(html(refused), "month")
    assert (
        scalar(connection, "SELECT target_amount FROM sales_plans WHERE id = :p", p=plan) == 10000
    )
    admin = signed_in_client(aapp, "admin1")
    admin_page = html(admin.get(f"/distributors/D1?tab=plans&month={MONTH}&plan={plan}&lang=en"))
    assert "<fieldset disabled>" not in admin_page
    ok = post(admin, f"/distributors/D1/plans/{plan}", edit_form(1, target_amount="20001"))
    assert ok.status_code == 302, html(ok)
    amount = scalar(connection, "SELECT target_amount FROM sales_plans WHERE id = :p", p=plan)
    assert amount == Decimal("20001")


def test_copy_last_months_plans(manager, connection):
    following = (TODAY.replace(day=28) + dt.timedelta(days=4)).strftime("%Y-%m")
    response = post(manager, "/distributors/D1/plans/copy", {"month": following})
    assert response.status_code == 302, html(response)
    assert "copied=1" in response.headers["Location"]
    again = post(manager, "/distributors/D1/plans/copy", {"month": following})
    assert "skipped=1" in again.headers["Location"]
    page = html(manager.get(again.headers["Location"] + "&lang=en"))
    assert "0 copied, 1 already planned" in page


# -- debt and credit ------------------------------------------------------------------------


def test_the_debt_tab_and_the_admins_credit_limit(aapp, biz, connection):
    manager = signed_in_client(aapp, "manager1")
    page = html(manager.get("/distributors/D1?tab=debt&lang=en"))
    assert 'id="ageing"' in page and "INV-1" in page and 'id="credit-form"' not in page
    assert post(manager, "/distributors/D1/credit", {"credit_limit": "1"}).status_code == 403
    admin = signed_in_client(aapp, "admin1")
    bad = post(admin, "/distributors/D1/credit?lang=en", {"credit_limit": "-3"})
    assert bad.status_code == 422 and error_beside(html(bad), "credit_limit")
    ok = post(admin, "/distributors/D1/credit", {"credit_limit": "500"})
    assert ok.status_code == 302
    page = html(admin.get("/distributors/D1?tab=debt&lang=en"))
    assert 'id="over-limit"' in page


def test_a_sale_over_the_credit_limit_is_recorded_with_a_warning(admin, connection):
    connection.execute(
        text("INSERT INTO distributor_credit (distributor_id, credit_limit) "
             "SELECT id, 1000 FROM outlets WHERE code = 'D1'")
    )  # fmt: skip
    response = post(admin, "/distributors/D1/sales", sale_form())
    assert response.status_code == 302 and "done=sale_flagged" in response.headers["Location"]
    page = html(admin.get(response.headers["Location"] + "&lang=en"))
    assert "put up for review" in page


def test_other_managers_do_not_see_the_tabs(aapp, biz):
    other = signed_in_client(aapp, "manager2")
    for tab in ("purchases", "plans", "payments", "debt"):
        response = other.get(f"/distributors/D1?tab={tab}")
        assert response.status_code == 404
        assert "华东总经销" not in html(response)
    assert post(other, "/distributors/D1/sales", sale_form()).status_code == 404


# -- the outlet edit form -------------------------------------------------------------------


def outlet_form(version, **over):
    form = {"version": str(version), "name": "好又多超市（新）", "address": "西湖路 1 号",
            "contact": "王经理", "phone": "0571-1234567", "status": "active",
            "parent_code": "D1", "parent_was": "D1", "rep_id": ""}  # fmt: skip
    form.update(over)
    return form


def outlet_version(connection, code):
    return scalar(connection, "SELECT version FROM outlets WHERE code = :c", c=code)


def test_a_manager_edits_an_outlet(manager, biz, connection):
    page = html(manager.get("/outlets/A1?lang=en"))
    assert 'id="outlet-form"' in page
    version = outlet_version(connection, "A1")
    response = post(manager, "/outlets/A1/edit", outlet_form(version, rep_id=str(biz["r2"])))
    assert response.status_code == 302, html(response)
    row = connection.execute(
        text("SELECT name, phone, rep_id, version FROM outlets WHERE code = 'A1'")
    ).one()
    assert row.name == "好又多超市（新）" and row.phone == "0571-1234567"
    assert row.rep_id == biz["r2"] and row.version == version + 1
    stale = post(manager, "/outlets/A1/edit?lang=en", outlet_form(version, name="旧的"))
    assert stale.status_code == 409 and 'id="conflict"' in html(stale)
    assert scalar(connection, "SELECT name FROM outlets WHERE code = 'A1'") == "好又多超市（新）"


def test_outlet_edit_errors_beside_the_field(manager, connection):
    version = outlet_version(connection, "A1")
    blank = post(manager, "/outlets/A1/edit?lang=zh", outlet_form(version, name=" "))
    assert blank.status_code == 422 and error_beside(html(blank), "name")
    parent = post(manager, "/outlets/A1/edit?lang=en", outlet_form(version, parent_code="B2"))
    assert parent.status_code == 422 and "B2" in error_beside(html(parent), "parent_code")
    assert "SECRET" not in html(parent)
    assert outlet_version(connection, "A1") == version


def test_a_parent_outside_my_scope_is_kept_when_the_rest_is_saved(aapp, biz, connection):
    from auth_helpers import add_outlet as add

    add(connection, "W9", "wholesaler_2", lon=120.3, lat=30.3, name="本区二批", parent="D2")
    manager = signed_in_client(aapp, "manager1")
    page = html(manager.get("/outlets/W9"))
    assert 'name="parent_was" value="D2"' in page
    version = outlet_version(connection, "W9")
    form = outlet_form(version, name="本区二批（改）", parent_code="D2", parent_was="D2")
    assert post(manager, "/outlets/W9/edit", form).status_code == 302
    parent = "SELECT p.code FROM outlets o JOIN outlets p ON p.id = o.parent_id WHERE o.code = 'W9'"
    assert scalar(connection, parent) == "D2"


def test_an_outlet_name_is_shown_as_text(manager, connection):
    xss = "<img src=x onerror=alert(1)>"
    version = outlet_version(connection, "A1")
    assert post(manager, "/outlets/A1/edit", outlet_form(version, name=xss)).status_code == 302
    page = html(manager.get("/outlets/A1"))
    assert xss not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_reps_see_no_edit_form_and_may_not_post(aapp, biz, connection):
    rep = signed_in_client(aapp, "rep1")
    assert 'id="outlet-form"' not in html(rep.get("/outlets/A1"))
    version = outlet_version(connection, "A1")
    assert post(rep, "/outlets/A1/edit", outlet_form(version)).status_code == 403
    assert rep.get("/distributors").status_code == 403
    assert rep.get("/sales").status_code == 403


# -- words ----------------------------------------------------------------------------------

PAGE_TEMPLATES = ("distributors.html", "sales.html", "distributor_business.html",
                  "_business.html", "_distributor_tabnav.html", "_outlet_edit.html")  # fmt: skip
PAGE_MODULES = ("forms.py", "business_lists.py", "distributor_tabs.py", "outlet_form.py")


def test_every_phrase_of_the_business_pages_has_chinese():
    from pathlib import Path

    import geo_crm.reports.messages  # noqa: F401 - another section: no phrase translated twice
    from geo_crm.i18n import ZH
    from geo_crm.web import distributor_tabs, forms

    root = Path(__file__).resolve().parent.parent
    found: set[str] = set()
    for name in PAGE_TEMPLATES:
        source = (root / "templates" / name).read_text(encoding="utf-8")
        found |= set(re.findall(r'\b_\("((?:[^"\\]|\\.)+)"', source))
        found |= set(re.findall(r"\b_\('((?:[^'\\]|\\.)+)'", source))
    for name in PAGE_MODULES:
        source = (root / "geo_crm" / "web" / name).read_text(encoding="utf-8")
        found |= set(re.findall(r'\bt\(\s*"((?:[^"\\]|\\.)+)"', source))
    found |= set(distributor_tabs.DONE.values()) | {forms.CONFLICT_MESSAGE}
    found |= {phrase for _, phrase in forms._PATTERNS}
    assert len(found) > 100
    missing = sorted(m for m in found if m not in ZH)
    assert not missing, missing


@pytest.mark.parametrize(
    "message, chinese",
    [
        ("no product with SKU 'X9'", "没有编码为 X9 的产品"),
        ("2099-01-01 is in the future", "2099-01-01 是将来的日期"),
        ("negative", "不能为负数"),
        ("something new", "something new"),
    ],
)
def test_domain_problems_in_the_pages_language(message, chinese):
    from geo_crm.i18n import Translator
    from geo_crm.web.forms import problem_text

    assert problem_text(Translator("zh"), message) == chinese
    assert problem_text(Translator("en"), message) == message
