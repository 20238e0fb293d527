"""The sales rollups (buyer: migration 0003, seller: 0009, one statement per write: 0014) stay
equal to a from-scratch recomputation under bulk INSERT, UPDATE and DELETE of many rows, and an
UPDATE of columns they do not read (flags, review, payments) writes no rollup row at all."""

from __future__ import annotations

import pytest
from test_sales_rollup import assert_rollup_exact, ids
from test_sales_rollup import network as network  # noqa: F401 (the fixture)

EXPECTED_SELLER = """
    SELECT seller_id, date_trunc('month', sale_date)::date, product_id, count(*),
           sum(amount * 100)::int8, sum(quantity * 1000)::int8
      FROM sales_records WHERE seller_id IS NOT NULL GROUP BY 1, 2, 3"""
SELLER = (
    "SELECT seller_id, month, product_id, records, amount_fen, quantity_milli "
    "FROM sales_seller_months"
)
ROWS = 6_000


def assert_all_exact(sql) -> None:
    assert_rollup_exact(sql)
    assert {tuple(r) for r in sql(SELLER).all()} == {tuple(r) for r in sql(EXPECTED_SELLER).all()}
    assert sql("SELECT count(*) FROM sales_seller_months WHERE records <= 0").scalar_one() == 0


def physical(sql) -> dict[str, set]:
    """Every rollup row's place and writing transaction: an UPDATE that rewrote a row, even to
    the same values, changes them."""
    return {
        table: {tuple(r) for r in sql(f"SELECT ctid::text, xmin::text FROM {table}").all()}
        for table in ("sales_buyer_months", "sales_buyer_years", "sales_seller_months")
    }


@pytest.fixture
def bulk(network):  # noqa: F811
    """``ROWS`` records over sell-in and sell-out pairs, two products, three years, written by
    one INSERT … SELECT."""
    sql = network
    d1, w1, w2, r1, r2, r3 = ids(sql, "D1", "W1", "W2", "R1", "R2", "R3")
    sql(
        "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, amount) "
        "SELECT (ARRAY[NULL, :d1, :d1, :w1, :w1, :w1, :w2]::int8[])[g % 7 + 1], "
        "       (ARRAY[:d1, :w1, :w2, :r1, :r2, :r3, :r1]::int8[])[g % 7 + 1], "
        "       DATE '2022-01-01' + (g * 37) % 1000, "
        "       (SELECT id FROM products WHERE sku = CASE WHEN g % 5 < 2 THEN 'A' ELSE 'B' END), "
        "       g % 11 + 0.125, (g % 97 * 3.21)::numeric(14, 2) "
        "  FROM generate_series(1, :n) g",
        d1=d1,
        w1=w1,
        w2=w2,
        r1=r1,
        r2=r2,
        r3=r3,
        n=ROWS,
    )
    assert sql("SELECT count(*) FROM sales_records").scalar_one() == ROWS
    assert_all_exact(sql)
    return sql


@pytest.mark.parametrize(
    "change, where",
    [
        ("amount = amount + 1.01", "id % 3 = 0"),
        ("quantity = quantity * 2, amount = 0", "id % 2 = 0"),
        ("sale_date = sale_date + 45", "true"),  # every record, into other months and years
        ("sale_date = sale_date - 400", "id % 4 <> 0"),
        (
            "product_id = (SELECT min(id) + max(id) FROM products) - product_id",  # A <-> B
            "id % 5 < 3",
        ),
        (  # R1 <-> R2 (both W1's): the same keys lose and gain
            "buyer_id = (SELECT sum(id) FROM outlets WHERE code IN ('R1', 'R2')) - buyer_id",
            "buyer_id IN (SELECT id FROM outlets WHERE code IN ('R1', 'R2'))",
        ),
        (  # W2 takes over R1 from W1: the seller rollup moves, the buyer rollup stays
            "seller_id = (SELECT id FROM outlets WHERE code = 'W2')",
            "buyer_id = (SELECT id FROM outlets WHERE code = 'R1')",
        ),
        ("amount = 0, quantity = 0", "sale_date < '2023-01-01'"),
        ("amount = amount", "true"),  # touches every row, changes nothing
    ],
)
def test_bulk_update_equals_recomputation(bulk, change, where):
    sql = bulk
    written = sql(f"UPDATE sales_records SET {change} WHERE {where}").rowcount
    assert written > ROWS // 10
    assert_all_exact(sql)


def test_small_writes_then_bulk_ones_on_one_connection(bulk):
    """A one-row write first (whatever a function caches from it), then bulk writes: the sums
    stay exact either way round."""
    sql = bulk
    for step in (
        "UPDATE sales_records SET amount = amount + 1 "
        "WHERE id = (SELECT min(id) FROM sales_records)",
        "UPDATE sales_records SET quantity = quantity + 1 WHERE id % 2 = 1",
        "DELETE FROM sales_records WHERE id = (SELECT max(id) FROM sales_records)",
        "UPDATE sales_records SET sale_date = sale_date + 1 WHERE id % 3 = 1",
    ):
        sql(step)
        assert_all_exact(sql)


def test_bulk_delete_leaves_no_empty_rows(bulk):
    sql = bulk
    sql("DELETE FROM sales_records WHERE id % 3 <> 0")
    assert_all_exact(sql)
    sql("DELETE FROM sales_records WHERE sale_date >= '2023-06-01'")
    assert_all_exact(sql)
    sql("DELETE FROM sales_records")
    assert_all_exact(sql)
    for table in ("sales_buyer_months", "sales_buyer_years", "sales_seller_months"):
        assert sql(f"SELECT count(*) FROM {table}").scalar_one() == 0


def test_flag_and_payment_updates_write_no_rollup_row(bulk):
    sql = bulk
    before = physical(sql)
    assert all(before.values())
    flagged = sql(
        "UPDATE sales_records SET flags = flags || ARRAY['other_network'], "
        "flag_detail = flag_detail || '{\"other_network\": {}}', review_state = 'pending' "
        "WHERE seller_id IS NOT NULL AND id % 2 = 0"
    ).rowcount
    assert flagged > ROWS // 4
    sql("UPDATE sales_records SET review_state = 'accepted' WHERE review_state = 'pending'")
    sql("UPDATE sales_records SET amount_paid = amount, spec = '500ml', reference = 'R-' || id")
    assert physical(sql) == before
    assert_all_exact(sql)
