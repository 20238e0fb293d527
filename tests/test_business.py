"""The distributor business (issue 13): sell-in, credit limits and review flags, plans with
schedules, support, closed months and history, the distributor list, debt ageing and plan
against actual — in the domain and in the database rules under it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from geo_crm.analysis.plans import parse_period, plan_against_actual
from geo_crm.domain import credit, debt, distributors, plans, sales
from geo_crm.domain.principal import Principal
from geo_crm.errors import Conflict, ValidationError

pytest_plugins = ["auth_fixtures"]

TODAY = dt.date.today()
THIS_MONTH = TODAY.replace(day=1)
LAST_MONTH = plans.next_month(THIS_MONTH, -1)


@pytest.fixture
def biz(session, world):
    session.execute(
        text(
            "INSERT INTO products (sku, name, unit) VALUES ('SKU1', '啤酒', 'case'), "
            "('SKU2', '白酒', 'case')"
        )
    )
    session.execute(
        text(
            "INSERT INTO outlets (code, name, tier, location, rep_id) VALUES "
            "('D2', '重庆总经销', 'distributor', ST_SetSRID(ST_MakePoint(122.4, 30.4), 4326), :r)"
        ),
        {"r": world["r2"]},
    )
    users = {
        "admin": Principal(world["admin"], "admin1", "admin"),
        "m1": Principal(world["m1"], "manager1", "manager"),
        "m2": Principal(world["m2"], "manager2", "manager"),
    }
    return users


def _constraint(exc) -> str:
    return exc.orig.diag.constraint_name


def _sale(session, **kw):
    values = {"buyer_code": "D1", "product_sku": "SKU1", "sale_date": TODAY,
              "quantity": Decimal("10"), "amount": Decimal("1000.00")}  # fmt: skip
    values.update(kw)
    return sales.create_sale(session, **values)


# -- sell-in --------------------------------------------------------------------------------


def test_a_distributor_buys_from_the_manufacturer(session, biz):
    sale = _sale(session, seller_code=None, user=biz["m1"])
    assert sale["seller_code"] is None and sale["buyer_code"] == "D1"
    assert sale["settlement"] == "unpaid" and sale["flags"] == []
    by_word = _sale(session, seller_code="厂家", reference="INV-2")
    assert by_word["seller_code"] is None
    debt_of = sales.buyer_debt(
        session, session.scalar(text("SELECT id FROM outlets WHERE code='D1'"))
    )
    assert debt_of["debt"] == Decimal("2000.00")
    assert debt_of["by_seller"][0]["seller_code"] is None


@pytest.mark.parametrize(
    "seller, buyer, field",
    [(None, "A1", "seller"), ("D1", "D2", "seller"), ("A1", "D1", "seller")],
)
def test_only_distributors_buy_from_the_manufacturer_and_only_from_it(
    session, biz, seller, buyer, field
):
    with pytest.raises(DBAPIError) as err:
        _sale(session, seller_code=seller, buyer_code=buyer)
    assert _constraint(err.value) == "sales_record_seller_tier"


def test_a_sale_in_the_future_or_without_amount_is_refused(session, biz):
    with pytest.raises(ValidationError) as err:
        _sale(session, sale_date=TODAY + dt.timedelta(days=1))
    assert "sale_date" in err.value.fields
    with pytest.raises(ValidationError) as err:
        _sale(session, amount=None)
    assert "amount" in err.value.fields
    with pytest.raises(DBAPIError) as err:  # the database refuses it too
        session.execute(
            text(
                "INSERT INTO sales_records (buyer_id, sale_date, product_id, quantity, amount) "
                "SELECT o.id, current_date + 1, p.id, 1, 1 FROM outlets o, products p "
                "WHERE o.code = 'D1' AND p.sku = 'SKU1'"
            )
        )
    assert _constraint(err.value) == "sales_record_date_not_future"


def test_unit_price_gives_the_amount_and_must_agree_with_it(session, biz):
    sale = _sale(session, amount=None, unit_price=Decimal("12.35"), quantity=Decimal("3.333"))
    assert sale["amount"] == Decimal("41.16") and sale["unit_price"] == Decimal("12.35")
    with pytest.raises(ValidationError) as err:
        _sale(session, amount=Decimal("41.00"), unit_price=Decimal("12.35"),
              quantity=Decimal("3.333"))  # fmt: skip
    assert "amount" in err.value.fields


def test_nan_and_negative_amounts_are_refused_by_the_database(session, biz):
    for column, value in (("quantity", "'NaN'"), ("amount", "-1")):
        session.execute(text("SAVEPOINT s"))
        with pytest.raises(DBAPIError):
            session.execute(
                text(
                    "INSERT INTO sales_records (buyer_id, sale_date, product_id, quantity, "
                    f"amount) SELECT o.id, current_date, p.id, "
                    f"{value if column == 'quantity' else 1}, {value if column == 'amount' else 1}"
                    " FROM outlets o, products p WHERE o.code = 'D1' AND p.sku = 'SKU1'"
                )
            )
        session.execute(text("ROLLBACK TO SAVEPOINT s"))


def test_a_payment_over_what_is_owed_is_refused(session, biz):
    sale = _sale(session)
    sales.add_payment(session, sale["id"], amount=Decimal("600.00"), paid_on=TODAY)
    with pytest.raises(DBAPIError) as err:
        sales.add_payment(session, sale["id"], amount=Decimal("400.01"), paid_on=TODAY)
    assert _constraint(err.value) == "sales_record_paid_not_above_amount"


# -- credit limit and review ----------------------------------------------------------------


def test_over_the_credit_limit_warns_and_lands_in_the_review_list(session, biz):
    credit.set_credit_limit(session, "D1", Decimal("1500.00"), user=biz["admin"])
    first = _sale(session)
    assert first["flags"] == [] and first["review_state"] is None
    second = _sale(session)
    assert second["flags"] == ["over_credit_limit"] and second["review_state"] == "pending"
    assert sales.warnings_of(second)[0]["detail"] == {"credit_limit": "1500.00", "debt": "2000.00"}
    page = sales.sale_reviews(session, user=biz["m1"])
    assert [r["id"] for r in page.rows] == [second["id"]]
    assert sales.sale_reviews(session, user=biz["m2"]).total == 0  # D1 is not in P2
    done = sales.review_sale(session, second["id"], "accept", user=biz["m1"], note="ok")
    assert done["review_state"] == "accepted" and done["reviewed_by"] == "manager1"
    with pytest.raises(Conflict):
        sales.review_sale(session, first["id"], "accept", user=biz["m1"])
    assert credit.credit_of(
        session, session.scalar(text("SELECT id FROM outlets WHERE code='D1'"))
    )["over_limit"]


def test_the_refuse_policy_refuses_a_sale_over_the_limit_naming_the_amount(session, biz):
    credit.set_setting(session, "credit_policy", "refuse", user=biz["admin"])
    credit.set_credit_limit(session, "D1", Decimal("1500.00"), user=biz["admin"])
    _sale(session)
    with pytest.raises(DBAPIError) as err:
        _sale(session)
    assert _constraint(err.value) == "sales_record_credit_limit"
    from geo_crm.db.translate import translate

    assert "amount" in translate(err.value).fields
    with pytest.raises(ValidationError):
        credit.set_setting(session, "credit_policy", "maybe", user=biz["admin"])


def test_a_credit_limit_is_for_a_distributor_in_scope(session, biz):
    with pytest.raises(ValidationError):
        credit.set_credit_limit(session, "A1", Decimal("1"), user=biz["admin"])
    with pytest.raises(ValidationError):
        credit.set_credit_limit(session, "D2", Decimal("1"), user=biz["m1"])


# -- plans ----------------------------------------------------------------------------------


def _plan(session, user=None, **kw):
    values = {
        "distributor_code": "D1",
        "month": THIS_MONTH,
        "product_sku": "SKU1",
        "target_quantity": Decimal("100"),
        "target_amount": Decimal("10000.00"),
        "schedule": [plans.Step(10, None, Decimal("3000")), plans.Step(20, None, Decimal("6000")),
                     plans.Step(None, None, Decimal("10000"))],
        "support": [plans.Support("promotion", "买十送一", Decimal("500.00"))],
    }  # fmt: skip
    values.update(kw)
    return plans.create_plan(session, user=user, **values)


def test_a_plan_with_schedule_support_and_history(session, biz):
    plan = _plan(session, user=biz["m1"])
    assert plan["version"] == 1 and not plan["closed"]
    assert [s["by_day"] for s in plan["schedule"]][-1] == plans.month_days(THIS_MONTH)
    assert plan["support"][0]["description"] == "买十送一"
    changed = plans.update_plan(
        session, plan["id"], version=1, target_amount=Decimal("12000.00"), user=biz["m1"]
    )
    assert changed["version"] == 2
    with pytest.raises(Conflict) as err:
        plans.update_plan(
            session, plan["id"], version=1, target_amount=Decimal("1"), user=biz["m1"]
        )
    assert err.value.detail["version"] == 2
    history = plans.plan_history(session, plan["id"])
    assert [(h["table_name"], h["action"]) for h in history][:1] == [("sales_plans", "insert")]
    update = [h for h in history if h["action"] == "update"]
    assert update[0]["user"] == "manager1"
    assert (
        update[0]["old"]["target_amount"] == 10000.0
        and update[0]["new"]["target_amount"] == 12000.0
    )


def test_plan_input_rules(session, biz):
    with pytest.raises(ValidationError) as err:
        _plan(session, distributor_code="A1")
    assert "distributor_code" in err.value.fields
    with pytest.raises(ValidationError) as err:
        plans.parse_month("2025-13")
    assert "month" in err.value.fields
    with pytest.raises(ValidationError):
        _plan(session, target_quantity=Decimal("-1"))
    with pytest.raises(ValidationError):
        _plan(
            session,
            schedule=[plans.Step(10, None, Decimal("6000")), plans.Step(20, None, Decimal("3000"))],
        )
    with pytest.raises(ValidationError):
        _plan(session, product_sku="NOPE")
    with pytest.raises(ValidationError):
        _plan(session, user=biz["m2"])  # D1 is not in P2: like a missing one


def test_a_closed_month_is_for_admins_only(session, biz):
    plan = _plan(session, month=LAST_MONTH, user=biz["m1"])
    plans.close_month(session, LAST_MONTH, user=biz["admin"])
    with pytest.raises(DBAPIError) as err:
        plans.update_plan(
            session, plan["id"], version=1, target_amount=Decimal("12000"), user=biz["m1"]
        )
    assert _constraint(err.value) == "sales_plan_month_closed"
    session.rollback()


def test_an_admin_may_change_a_closed_month(session, biz):
    plan = _plan(session, month=LAST_MONTH, user=biz["m1"])
    plans.close_month(session, LAST_MONTH, user=biz["admin"])
    done = plans.update_plan(
        session, plan["id"], version=1, target_amount=Decimal("12000.00"), user=biz["admin"]
    )
    assert done["closed"] and done["target_amount"] == Decimal("12000.00")
    with pytest.raises(DBAPIError):  # the children of a closed month too
        plans.acting_as(session, biz["m1"])
        session.execute(
            text("DELETE FROM sales_plan_support WHERE plan_id = :p"), {"p": plan["id"]}
        )


def test_copy_last_months_plans_skips_products_already_planned(session, biz):
    _plan(session, month=LAST_MONTH)
    _plan(session, month=LAST_MONTH, product_sku="SKU2")
    _plan(session, month=THIS_MONTH, product_sku="SKU2", schedule=[], support=[])
    report = plans.copy_plans(session, to_month=THIS_MONTH, user=biz["m1"])
    assert report.copied == 1
    assert report.skipped == [{"distributor_code": "D1", "product_sku": "SKU2"}]
    page = plans.plan_page(session, plans.PlanFilters(month_from=THIS_MONTH), user=biz["m1"])
    copied = next(r for r in page.rows if r["product_sku"] == "SKU1")
    assert copied["support"][0]["kind"] == "promotion"
    assert copied["schedule"][-1]["by_day"] == plans.month_days(THIS_MONTH)


# -- search, list, ageing, plan against actual ----------------------------------------------


@pytest.mark.parametrize("q", ["hdz", "华东", "d1", "HDZJX"])
def test_the_distributor_search_finds_names_codes_and_pinyin_initials(session, biz, q):
    page = distributors.distributor_list(session, distributors.DistributorQuery(q=q), user=None)
    assert [r["code"] for r in page.rows] == ["D1"]


def test_a_polyphone_is_found_by_either_reading(session, biz):
    for q in ("zqzjx", "cqzjx"):
        page = distributors.distributor_list(session, distributors.DistributorQuery(q=q), user=None)
        assert [r["code"] for r in page.rows] == ["D2"], q


def test_the_distributor_list_shows_the_months_figures_in_scope(session, biz):
    _plan(session)
    _sale(session)
    session.execute(
        text(
            "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity,"
            " amount) SELECT s.id, b.id, current_date, p.id, 4, 600"
            " FROM outlets s, outlets b, products p "
            "WHERE s.code = 'D1' AND b.code = 'A1' AND p.sku = 'SKU1'"
        )
    )
    page = distributors.distributor_list(
        session, distributors.DistributorQuery(sort="sell_in", desc=True), user=biz["admin"]
    )
    row = page.rows[0]
    assert row["code"] == "D1"
    assert row["sell_in_amount"] == Decimal("1000.00") and row["sell_out_amount"] == Decimal(
        "600.00"
    )
    assert row["plan_amount"] == Decimal("10000.00") and row["achievement"] == pytest.approx(0.1)
    assert row["debt"] == Decimal("1000.00") and row["oldest_unpaid"] == TODAY
    assert page.total == 2
    mine = distributors.distributor_list(session, distributors.DistributorQuery(), user=biz["m1"])
    assert [r["code"] for r in mine.rows] == ["D1"]


def test_debt_ageing_buckets_and_regions(session, biz):
    old = TODAY - dt.timedelta(days=75)
    _sale(session, sale_date=old, reference="OLD-1")
    _sale(session)
    session.execute(
        text(
            "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity,"
            " amount) SELECT s.id, b.id, current_date - 40, p.id, 4, 600"
            " FROM outlets s, outlets b, products p "
            "WHERE s.code = 'D1' AND b.code = 'A1' AND p.sku = 'SKU1'"
        )
    )
    result = debt.debt_ageing(session, user=biz["m1"], level="city").to_dict()
    row = result["distributors"][0]
    assert row["code"] == "D1" and row["owed"]["total"] == Decimal("2000.00")
    assert row["owed"]["buckets"]["61-90"] == Decimal("1000.00")
    assert row["oldest_invoice"] == "OLD-1" and row["owed"]["oldest_days"] == 75
    assert row["receivable"]["buckets"]["31-60"] == Decimal("600.00")
    assert result["by_region"][0]["code"] == "C1"
    assert debt.debt_ageing(session, user=biz["m2"]).rows == []


def test_plan_against_actual_with_time_gone(session, biz):
    _plan(session)
    _sale(session, amount=Decimal("5800.00"))
    result = plan_against_actual(session, user=biz["m1"], distributor="D1", as_of=TODAY)
    total = result.total.to_dict()
    assert total["plan_amount"] == Decimal("10000.00")
    assert total["sell_in_amount"] == Decimal("5800.00")
    assert total["achievement_in"] == pytest.approx(0.58)
    assert result.elapsed["day"] == TODAY.day
    assert f"day {TODAY.day} of " in result.summary()
    line = result.lines[0].to_dict()
    assert line["month"] == THIS_MONTH.isoformat()[:7] and line["product_sku"] == "SKU1"
    expected = {True: Decimal("10000"), False: None}
    if TODAY.day >= 20:
        assert line["expected_amount"] in (Decimal("6000"), expected[True])
    year = plan_against_actual(session, user=biz["m1"], region="C1", period=str(TODAY.year))
    assert year.period.kind == "year" and year.distributors == 1
    with pytest.raises(ValidationError):
        plan_against_actual(session, user=biz["m2"], distributor="D1")
    with pytest.raises(ValidationError):
        parse_period("2025-13")


def test_a_schedule_day_must_lie_in_its_month(session, biz):
    plan = _plan(session, month=dt.date(2024, 2, 1), schedule=[], support=[])
    with pytest.raises(DBAPIError) as err:
        session.execute(
            text(
                "INSERT INTO sales_plan_schedule (plan_id, by_day, target_amount)"
                " VALUES (:p, 30, 1)"
            ),
            {"p": plan["id"]},
        )
    assert _constraint(err.value) == "sales_plan_schedule_day_range"


def test_plan_against_actual_with_nothing_planned_or_sold(session, biz):
    result = plan_against_actual(session, user=None, period="2024").to_dict()
    assert result["lines"] == [] and result["total"]["plan_amount"] == 0
    assert result["total"]["achievement_in"] is None
