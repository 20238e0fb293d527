"""The sales rollups (migration 0003, and 0017's (seller, buyer) pairs with their
cross-territory flag counts) stay equal to the records under every kind of write, and sales
density read through them equals a direct sum over sales_records."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from decimal import Decimal

import pytest
from analysis_helpers import add_outlet, add_product, add_region, add_sale, box_wkt

from geo_crm.analysis.density import density, split_period
from geo_crm.analysis.params import AnalysisParams

# the rollups by definition: one GROUP BY over sales_records
EXPECTED_MONTHS = """
    SELECT buyer_id, date_trunc('month', sale_date)::date AS month, product_id,
           count(*) AS records, sum(amount * 100)::int8 AS amount_fen,
           sum(quantity * 1000)::int8 AS quantity_milli
      FROM sales_records GROUP BY 1, 2, 3"""
EXPECTED_YEARS = """
    SELECT buyer_id, extract(year FROM sale_date)::int AS year, count(*) AS records,
           sum(amount * 100)::int8 AS amount_fen, sum(quantity * 1000)::int8 AS quantity_milli
      FROM sales_records GROUP BY 1, 2"""
EXPECTED_PAIRS = """
    SELECT seller_id, buyer_id, count(*) AS records,
           count(*) FILTER (WHERE 'other_network' = ANY(flags)) AS other_network,
           count(*) FILTER (WHERE 'outside_territory' = ANY(flags)) AS outside_territory
      FROM sales_records WHERE seller_id IS NOT NULL GROUP BY 1, 2"""


def rollup_rows(sql) -> tuple[set, set]:
    months = sql(
        "SELECT buyer_id, month, product_id, records, amount_fen, quantity_milli "
        "FROM sales_buyer_months"
    ).all()
    years = sql(
        "SELECT buyer_id, year, records, amount_fen, quantity_milli FROM sales_buyer_years"
    ).all()
    return {tuple(r) for r in months}, {tuple(r) for r in years}


def assert_rollup_exact(sql) -> None:
    months, years = rollup_rows(sql)
    assert months == {tuple(r) for r in sql(EXPECTED_MONTHS).all()}
    assert years == {tuple(r) for r in sql(EXPECTED_YEARS).all()}
    assert all(r[3] > 0 for r in months) and all(r[2] > 0 for r in years)  # no empty rows
    assert_pairs_exact(sql)


def pair_rows(sql) -> set:
    return {
        tuple(r)
        for r in sql(
            "SELECT seller_id, buyer_id, records, other_network, outside_territory FROM sales_pairs"
        ).all()
    }


def assert_pairs_exact(sql) -> None:
    assert pair_rows(sql) == {tuple(r) for r in sql(EXPECTED_PAIRS).all()}


@pytest.fixture
def network(sql):
    add_region(sql, "D", box_wkt(120, 30, 121, 31))
    add_region(sql, "DW", box_wkt(120, 30, 120.5, 31), level="city", parent="D")
    add_region(sql, "DE", box_wkt(120.5, 30, 121, 31), level="city", parent="D")
    add_product(sql, "A")
    add_product(sql, "B")
    add_outlet(sql, "D1", "distributor", 120.5, 30.5)
    add_outlet(sql, "W1", "wholesaler_2", 120.2, 30.2, parent="D1")
    add_outlet(sql, "W2", "wholesaler_3", 120.7, 30.3, parent="D1")
    add_outlet(sql, "R1", "retail", 120.8, 30.8, parent="W1")
    add_outlet(sql, "R2", "retail", 120.1, 30.9, parent="W1")
    add_outlet(sql, "R3", "retail", None, None, parent="W1")  # untagged
    add_outlet(sql, "R4", "retail", 120.6, 30.6, parent="W2", status="closed")
    return sql


def ids(sql, *codes) -> list[int]:
    return [sql("SELECT id FROM outlets WHERE code = :c", c=c).scalar_one() for c in codes]


def test_backfill_and_single_inserts(network):
    sql = network
    add_sale(sql, "D1", "W1", "2024-01-05", "A", "10", "1000.00")
    add_sale(sql, "W1", "R1", "2024-01-31", "A", "2.5", "275.50")
    add_sale(sql, "W1", "R1", "2024-01-01", "A", "1.125", "0.01")  # same buyer, month, product
    add_sale(sql, "W1", "R1", "2024-02-01", "B", "1", "99.99")
    add_sale(sql, "W1", "R2", "2023-12-31", "A", "7", "770.00")
    assert_rollup_exact(sql)
    months, _ = rollup_rows(sql)
    (r1,) = ids(sql, "R1")
    jan = next(r for r in months if r[0] == r1 and r[1] == dt.date(2024, 1, 1))
    assert jan[3:] == (2, 27551, 3625)


def test_bulk_insert_select_and_copy(network, connection):
    sql = network
    w1, r1, r2, r3 = ids(sql, "W1", "R1", "R2", "R3")
    product = sql("SELECT id FROM products WHERE sku = 'A'").scalar_one()
    sql(
        "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, amount) "
        "SELECT :w, CASE g % 3 WHEN 0 THEN :r1 WHEN 1 THEN :r2 ELSE :r3 END, "
        "DATE '2023-11-20' + g, :p, g % 7 + 0.5, (g * 13.37)::numeric(14, 2) "
        "FROM generate_series(1, 400) g",
        w=w1,
        r1=r1,
        r2=r2,
        r3=r3,
        p=product,
    )
    assert_rollup_exact(sql)
    raw = connection.connection.driver_connection
    lines = "".join(
        f"{w1}\t{(r1, r2)[i % 2]}\t2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}\t{product}\t{i}.125\t"
        f"{i}.99\n"
        for i in range(300)
    )
    with (
        raw.cursor() as cur,
        cur.copy(
            "COPY sales_records (seller_id, buyer_id, sale_date, product_id, quantity, amount) "
            "FROM STDIN"
        ) as copy,
    ):
        copy.write(lines)
    assert_rollup_exact(sql)
    assert sql("SELECT sum(records) FROM sales_buyer_years").scalar_one() == 700


@pytest.mark.parametrize(
    "change",
    [
        "amount = amount + 1.01",
        "quantity = quantity * 2",
        "sale_date = sale_date + 40",  # into another month
        "sale_date = sale_date - 400",  # into another year
        "product_id = (SELECT id FROM products WHERE sku = 'B')",
        "buyer_id = (SELECT id FROM outlets WHERE code = 'R2')",
        "amount = 0, quantity = 0",
    ],
)
def test_updates_move_the_sums(network, change):
    sql = network
    for day in ("2024-01-05", "2024-01-20", "2024-03-01", "2024-12-31"):
        add_sale(sql, "W1", "R1", day, "A", "3", "300.00")
    add_sale(sql, "W1", "R2", "2024-01-10", "A", "1", "10.00")
    sql(
        f"UPDATE sales_records SET {change} "
        "WHERE buyer_id = (SELECT id FROM outlets WHERE code = 'R1') AND sale_date < '2024-02-01'"
    )
    assert_rollup_exact(sql)


def test_delete_and_truncate(network):
    sql = network
    for day in ("2024-01-05", "2024-01-20", "2024-03-01", "2025-01-01"):
        add_sale(sql, "W1", "R1", day, "A", "3", "300.00")
    add_sale(sql, "W1", "R2", "2024-01-10", "B", "1", "10.00")
    sql("DELETE FROM sales_records WHERE sale_date = '2024-01-20'")
    assert_rollup_exact(sql)
    sql("DELETE FROM sales_records WHERE buyer_id = (SELECT id FROM outlets WHERE code = 'R1')")
    assert_rollup_exact(sql)  # R1's rows are gone, not left at zero
    sql("TRUNCATE sales_records CASCADE")
    assert rollup_rows(sql) == (set(), set())
    assert pair_rows(sql) == set()


def test_pairs_follow_flags_sellers_and_buyers(network):
    """The pair rollup counts each pair's records and its cross-territory flags through bulk
    flag updates, moves between pairs, sell-in beside sell-out, and deletes."""
    sql = network
    d1, w1, w2, r1, r2 = ids(sql, "D1", "W1", "W2", "R1", "R2")
    product = sql("SELECT id FROM products WHERE sku = 'A'").scalar_one()
    sql(
        "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, amount) "
        "SELECT CASE g % 5 WHEN 0 THEN NULL WHEN 1 THEN :w2 ELSE :w1 END, "
        "CASE WHEN g % 5 = 0 THEN :d1 WHEN g % 2 = 0 THEN :r1 ELSE :r2 END, "
        "DATE '2024-01-01' + g, :p, 1, 10 FROM generate_series(1, 200) g",
        d1=d1,
        w1=w1,
        w2=w2,
        r1=r1,
        r2=r2,
        p=product,
    )
    assert_rollup_exact(sql)
    flagged = "review_state = 'pending', flags = flags || CAST(:f AS text[])"
    sql(f"UPDATE sales_records SET {flagged} WHERE id % 3 = 0", f=["other_network"])
    assert_pairs_exact(sql)
    sql(f"UPDATE sales_records SET {flagged} WHERE id % 4 = 0", f=["outside_territory"])
    sql(f"UPDATE sales_records SET {flagged} WHERE id % 7 = 0", f=["over_credit_limit"])
    assert_pairs_exact(sql)
    assert sql("SELECT sum(other_network) FROM sales_pairs").scalar_one() > 0
    before = sql("SELECT seller_id, buyer_id, xmin::text FROM sales_pairs").all()
    sql("UPDATE sales_records SET amount = amount + 1, review_note = 'seen'")  # no pair change
    assert sql("SELECT seller_id, buyer_id, xmin::text FROM sales_pairs").all() == before
    sql(
        "UPDATE sales_records SET flags = array_remove(flags, 'other_network'), "
        "review_state = CASE WHEN flags = '{other_network}' THEN NULL ELSE review_state END "
        "WHERE id % 2 = 0"
    )
    assert_pairs_exact(sql)
    sql(
        "UPDATE sales_records SET seller_id = :w2 WHERE seller_id = :w1 AND id % 3 = 1",
        w1=w1,
        w2=w2,
    )
    assert_pairs_exact(sql)
    sql("UPDATE sales_records SET buyer_id = :r1 WHERE buyer_id = :r2", r1=r1, r2=r2)
    assert_pairs_exact(sql)
    assert {r[1] for r in pair_rows(sql)} == {r1}  # R2's pairs are gone, not left at zero
    sql("DELETE FROM sales_records WHERE id % 2 = 0")
    assert_pairs_exact(sql)
    sql("DELETE FROM sales_records WHERE seller_id = :w2", w2=w2)
    assert_pairs_exact(sql)
    assert {r[0] for r in pair_rows(sql)} == {w1}


def test_pairs_rebuild_equals_the_triggers(network):
    sql = network
    add_sale(sql, "W1", "R1", "2024-01-05", "A", "3", "300.00")
    add_sale(sql, "W1", "R1", "2024-02-05", "A", "3", "300.00")
    add_sale(sql, "D1", "W1", "2024-01-05", "A", "3", "300.00")
    add_sale(sql, "W2", "R4", "2024-01-05", "B", "1", "10.00")
    sql("UPDATE sales_records SET flags = '{other_network}', review_state = 'pending' WHERE id = "
        "(SELECT min(id) FROM sales_records)")  # fmt: skip
    kept = pair_rows(sql)
    sql("SELECT geo_crm_sales_pairs_rebuild()")
    assert pair_rows(sql) == kept
    assert_pairs_exact(sql)


def test_payments_and_unrelated_columns_leave_the_rollup_alone(network, client):
    sql = network
    add_sale(sql, "W1", "R1", "2024-01-05", "A", "3", "300.00")
    record = sql("SELECT id FROM sales_records").scalar_one()
    before = rollup_rows(sql)
    response = client.post(
        f"/api/v1/sales/{record}/payments", json={"amount": "120.50", "paid_on": "2024-02-01"}
    )
    assert response.status_code == 201, response.get_json()
    assert sql("SELECT amount_paid FROM sales_records").scalar_one() == Decimal("120.50")
    sql("UPDATE sales_records SET spec = '500ml', reference = 'X-1'")
    assert rollup_rows(sql) == before
    assert_rollup_exact(sql)


def test_downgrade_base_leaves_no_rollup_function():
    from pathlib import Path

    down = (
        Path(__file__).resolve().parent.parent / "migrations/sql/0003_sales_rollup_down.sql"
    ).read_text()
    up = (
        Path(__file__).resolve().parent.parent / "migrations/sql/0003_sales_rollup.sql"
    ).read_text()
    for name in (
        "geo_crm_sales_rollup_apply",
        "geo_crm_sales_rollup_truncate",
        "geo_crm_sales_rollup_rebuild",
    ):
        assert f"FUNCTION {name}()" in up and f"FUNCTION IF EXISTS {name}()" in down


# -- the period cut --------------------------------------------------------------------------


def _covered(parts, day: dt.date) -> int:
    def inside(value, bounds):
        lo, hi = bounds
        return (lo is None or value >= lo) and (hi is None or value < hi)

    n = int(parts.years is not None and inside(day.year, parts.years))
    n += sum(inside(day.replace(day=1), m) for m in parts.months)
    n -= sum(inside(day.replace(day=1), m) for m in parts.minus_months)
    n += sum(inside(day, r) for r in parts.days)
    return n - sum(inside(day, r) for r in parts.minus_days)


def test_split_period_counts_every_day_once():
    start = dt.date(2022, 11, 1)
    days = [start + dt.timedelta(i) for i in range(800)]
    edges = [None] + [start + dt.timedelta(i) for i in range(20, 780, 3)]
    rng = random.Random(4)
    pairs = [(rng.choice(edges), rng.choice(edges)) for _ in range(1500)]
    pairs += list(
        itertools.product(
            [dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 31), dt.date(2023, 12, 31)],
            [
                dt.date(2024, 1, 1),
                dt.date(2024, 1, 30),
                dt.date(2024, 2, 29),
                dt.date(2024, 12, 31),
            ],
        )
    )
    for a, b in pairs:
        if a and b and a > b:
            a, b = b, a
        for whole_years in (True, False):
            parts = split_period(a, b, whole_years=whole_years)
            for day in days:
                want = (a is None or day >= a) and (b is None or day <= b)
                assert _covered(parts, day) == want, (a, b, whole_years, day, parts)


def test_split_period_reads_few_records():
    parts = split_period(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert (parts.years, parts.months, parts.days, parts.minus_days) == ((2024, 2025), (), (), ())
    # most of a year: the year minus its first and last months, minus the days after the end
    parts = split_period(dt.date(2024, 2, 1), dt.date(2024, 11, 20))
    assert parts.years == (2024, 2025) and parts.months == () and parts.days == ()
    assert parts.minus_months == (
        (dt.date(2024, 1, 1), dt.date(2024, 2, 1)),
        (dt.date(2024, 12, 1), dt.date(2025, 1, 1)),
    )
    # a period ending today: the current month from the rollup, minus the days still to come
    parts = split_period(dt.date(2025, 12, 1), dt.date(2026, 11, 26))
    assert parts.minus_days == ((dt.date(2026, 11, 27), dt.date(2026, 12, 1)),)
    assert parts.days == ()
    parts = split_period(dt.date(2024, 1, 10), dt.date(2024, 1, 12), whole_years=False)
    assert parts.days == ((dt.date(2024, 1, 10), dt.date(2024, 1, 13)),) and not parts.months


# -- density through the rollup = a direct sum over sales_records ------------------------------

SALES = [
    ("D1", "W1", "2023-12-31", "A", "10", "1000.00"),
    ("D1", "W1", "2024-01-01", "B", "1", "1.00"),
    ("W1", "R1", "2024-01-10", "A", "2.5", "275.50"),
    ("W1", "R1", "2024-01-11", "A", "1", "10.10"),
    ("W1", "R1", "2024-01-31", "B", "1", "99.99"),
    ("W1", "R2", "2024-02-01", "A", "3", "330.00"),
    ("W1", "R2", "2024-02-15", "B", "4", "440.40"),
    ("W1", "R3", "2024-01-15", "A", "4", "440.00"),
    ("D1", "W2", "2024-06-30", "A", "6", "600.00"),
    ("W2", "R4", "2024-07-01", "B", "1.125", "123.45"),
    ("W2", "R4", "2025-01-02", "A", "2", "20.00"),
    ("W1", "R1", "2025-03-31", "A", "1", "1.00"),
]

DIRECT = """
    SELECT o.code, count(*), coalesce(sum(s.amount), 0), coalesce(sum(s.quantity), 0)
      FROM sales_records s JOIN outlets o ON o.id = s.buyer_id
      JOIN products p ON p.id = s.product_id
     WHERE (CAST(:d0 AS date) IS NULL OR s.sale_date >= :d0)
       AND (CAST(:d1 AS date) IS NULL OR s.sale_date <= :d1)
       AND (CAST(:sku AS text) IS NULL OR p.sku = :sku) AND o.tier = ANY(:tiers)
     GROUP BY o.code"""


@pytest.fixture
def sales(network):
    for rec in SALES:
        add_sale(network, *rec)
    return network


PERIODS = [
    (None, None),
    ("2024-01-01", "2024-12-31"),  # a whole year
    ("2024-01-10", "2024-01-11"),  # inside one month, few days
    ("2024-01-02", "2024-01-31"),  # inside one month, most of it
    ("2023-12-31", "2024-01-10"),  # across a year end
    ("2024-01-11", "2024-02-15"),  # both ends inside months
    ("2024-02-01", None),
    (None, "2024-06-30"),
    ("2024-01-02", "2025-01-01"),  # most of a year, each end one day off
]


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"product": "A"},
        {"product": "B"},
        {"tiers": ("retail",)},
        {"tiers": ("wholesaler_2", "wholesaler_3"), "product": "A"},
    ],
)
def test_density_equals_direct_sums(sales, session, period, filters):
    d0, d1 = (dt.date.fromisoformat(d) if d else None for d in period)
    params = AnalysisParams(status=None, date_from=d0, date_to=d1, cell_km=2.0, **filters)
    result = density(session, "D", params)
    tiers = list(filters.get("tiers", ("distributor", "wholesaler_2", "wholesaler_3", "retail")))
    direct = {
        code: (n, amount, quantity)
        for code, n, amount, quantity in sales(
            DIRECT, d0=d0, d1=d1, sku=filters.get("product"), tiers=tiers
        )
    }
    located = [c for c in direct if c != "R3"]
    want = [sum(direct[c][i] for c in located) for i in range(3)]
    got = result.total
    assert (got.records, got.amount, got.quantity) == (want[0], want[1] or 0, want[2] or 0)
    assert result.buyers == len(located)
    assert sum(c.totals.amount for c in result.cells) == got.amount
    assert sum(s.totals.records for s in result.sub_regions) == got.records
    n, amount, quantity = direct.get("R3", (0, 0, 0))
    assert (result.unlocated.records, result.unlocated.amount, result.unlocated.quantity) == (
        n,
        amount,
        quantity,
    )


def test_upsert_by_reference_as_the_importer_writes(network):
    """INSERT … ON CONFLICT DO UPDATE fires both the insert and the update trigger."""
    sql = network
    add_sale(sql, "W1", "R1", "2024-01-05", "A", "3", "300.00")
    sql("UPDATE sales_records SET reference = 'S-1'")
    sql(
        "INSERT INTO sales_records AS t (reference, seller_id, buyer_id, sale_date, product_id, "
        "quantity, amount) SELECT v.ref, w.id, r.id, v.day, p.id, v.q, v.a "
        "FROM (VALUES ('S-1', DATE '2024-02-10', 4.5, 450.25), ('S-2', DATE '2024-01-06', 1, 1))"
        " AS v(ref, day, q, a), outlets w, outlets r, products p "
        "WHERE w.code = 'W1' AND r.code = 'R1' AND p.sku = 'B' "
        "ON CONFLICT (reference) DO UPDATE SET sale_date = excluded.sale_date, "
        "product_id = excluded.product_id, quantity = excluded.quantity, amount = excluded.amount"
    )
    assert sql("SELECT count(*) FROM sales_records").scalar_one() == 2
    assert_rollup_exact(sql)


def test_demo_generator_and_clear_keep_the_rollup(session, sql):
    from geo_crm.demo.generator import clear_network, generate_network

    sql(
        "INSERT INTO regions (code, name, level, boundary) VALUES ('T0', '测试省', 'province', "
        "ST_Multi(ST_MakeEnvelope(100, 20, 102, 22, 4326)))"
    )
    report = generate_network(session, outlets=400, seed=5, months=3, end_month=dt.date(2024, 6, 1))
    assert report.sales_records > 0
    assert_rollup_exact(sql)
    clear_network(session)
    assert rollup_rows(sql) == (set(), set())
    assert pair_rows(sql) == set()
