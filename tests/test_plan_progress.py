"""Plan against actual early in a month (issue 14): the ratio on the plans tab is sell-in against
the month's whole plan, and the ratio to date is against what the schedule expects by the day,
also when the schedule gives only quantities (it used to expect no amount at all)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text

from geo_crm.analysis.plans import plan_against_actual

pytest_plugins = ["auth_fixtures"]


def _plan(connection, steps, *, quantity=100, amount=10000):
    plan_id = connection.execute(
        text(
            "INSERT INTO sales_plans (distributor_id, month, product_id, target_quantity, "
            "target_amount) SELECT d.id, DATE '2025-06-01', p.id, :q, :a FROM outlets d, "
            "products p WHERE d.code = 'D1' AND p.sku = 'SKU1' RETURNING id"
        ),
        {"q": quantity, "a": amount},
    ).scalar_one()
    for day, qty, money in steps:
        connection.execute(
            text(
                "INSERT INTO sales_plan_schedule (plan_id, by_day, target_quantity, "
                "target_amount) VALUES (:p, :d, :q, :a)"
            ),
            {"p": plan_id, "d": day, "q": qty, "a": money},
        )


@pytest.fixture
def sold(connection, world):
    """D1 bought 45 cases for ¥4,500 on 5 June 2025."""
    connection.execute(
        text("INSERT INTO products (sku, name, unit) VALUES ('SKU1', '啤酒', 'case')")
    )
    connection.execute(
        text(
            "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
            "amount) SELECT NULL, d.id, DATE '2025-06-05', p.id, 45, 4500 FROM outlets d, "
            "products p WHERE d.code = 'D1'"
        )
    )
    return world


def _total(session, day: int) -> tuple[dict, str]:
    result = plan_against_actual(
        session, user=None, distributor="D1", period="2025-06", as_of=dt.date(2025, 6, day)
    )
    return result.total.to_dict(), result.summary()


QUANTITIES = [(10, 30, None), (20, 65, None), (30, 100, None)]
AMOUNTS = [(10, None, 3000), (20, None, 6500), (30, None, 10000)]


@pytest.mark.parametrize("steps", [QUANTITIES, AMOUNTS], ids=["quantities", "amounts"])
def test_the_schedule_expects_amount_and_quantity_in_the_same_share(session, sold, steps):
    _plan(session.connection(), steps)
    total, summary = _total(session, 15)
    assert total["expected_amount"] == Decimal("3000.00")
    assert total["expected_quantity"] == Decimal("30.000")
    assert total["achievement_in"] == pytest.approx(0.45)  # of the month's whole plan
    assert total["to_expected_in"] == pytest.approx(1.5)  # of what is expected by the 15th
    assert "sell-in 45 % of the month's plan" in summary
    assert "to date 150 % of the 3000.00 expected" in summary


def test_before_the_first_step_nothing_is_expected_and_the_line_says_so(session, sold):
    _plan(session.connection(), QUANTITIES)
    total, summary = _total(session, 6)
    assert total["expected_amount"] == 0 and total["to_expected_in"] is None
    assert summary.startswith("day 6 of 30: sell-in 45 % of the month's plan")
    assert summary.endswith("to date nothing expected yet")


def test_a_mixed_schedule_takes_the_last_step_whatever_it_gives(session, sold):
    _plan(session.connection(), [(10, None, 2000), (20, 65, None)])
    total, _ = _total(session, 25)
    assert total["expected_amount"] == Decimal("6500.00")
    assert total["expected_quantity"] == Decimal("65.000")


def test_the_plans_tab_words_both_ratios(aapp, connection, sold):
    from auth_helpers import signed_in_client

    _plan(connection, QUANTITIES)
    client = signed_in_client(aapp, "admin1")
    for lang, whole, to_date in (
        ("en", "sell-in is 45.0% of the whole month", "expects by today: 45.0%"),
        ("zh-CN", "进货已达全月计划的 45.0%", "实际完成其 45.0%"),
    ):
        page = client.get(f"/distributors/D1?tab=plans&month=2025-06&lang={lang}")
        html = page.get_data(as_text=True)
        progress = html.split('id="progress"')[1].split("</p>")[0]
        assert whole in progress and to_date in progress, progress
