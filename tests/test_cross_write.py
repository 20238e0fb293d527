"""The write of the cross-territory detection (analysis.cross_selling.detect_all) after
migration 0021: the flagged records are listed in ``sales_flagged`` (kept by statement
triggers) instead of two partial indexes on ``flags`` / ``review_state``, so that a flag write
can be a HOT update; the buyer and seller rollups net only the records whose rolled-up columns
an UPDATE changed. A detection leaves every rollup equal to a rebuild, and ``sales_flagged``
equals the records through every kind of write."""

from __future__ import annotations

import datetime as dt

import shapely
from analysis_helpers import add_outlet
from test_rollup_bulk import ROWS, assert_all_exact, physical
from test_rollup_bulk import bulk as bulk  # noqa: F401 (the fixture)
from test_sales_rollup import ids
from test_sales_rollup import network as network  # noqa: F401 (the fixture)

from geo_crm.analysis.cross_selling import cross_selling, detect_all
from geo_crm.domain import territories
from geo_crm.domain.sales import SalesFilters, review_sale, sale_reviews, select_sales

FLAGGED = "SELECT id, review_state FROM sales_flagged"
EXPECTED_FLAGGED = "SELECT id, review_state FROM sales_records WHERE review_state IS NOT NULL"
ROLLUPS = {
    "sales_buyer_months": "buyer_id, month, product_id, records, amount_fen, quantity_milli",
    "sales_buyer_years": "buyer_id, year, records, amount_fen, quantity_milli",
    "sales_seller_months": "seller_id, month, product_id, records, amount_fen, quantity_milli",
    "sales_pairs": "seller_id, buyer_id, records, other_network, outside_territory",
    "sales_flagged": "id, review_state",
}
REBUILDS = (
    "geo_crm_sales_rollup_rebuild",
    "geo_crm_sales_seller_rollup_rebuild",
    "geo_crm_sales_pairs_rebuild",
    "geo_crm_sales_flagged_rebuild",
)

# D1's territory: a disc around W1 that leaves out R1, R2 and W2 (R3 is untagged)
SMALL = shapely.geometry.mapping(shapely.Point(120.2, 30.2).buffer(0.2, quad_segs=16))


def assert_flagged_exact(sql) -> None:
    assert {tuple(r) for r in sql(FLAGGED).all()} == {tuple(r) for r in sql(EXPECTED_FLAGGED).all()}


def rollups(sql) -> dict[str, set]:
    return {t: {tuple(r) for r in sql(f"SELECT {c} FROM {t}").all()} for t, c in ROLLUPS.items()}


def hot_updates(sql) -> tuple[int, int]:
    return tuple(
        sql(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
            "WHERE relname = 'sales_records'"
        ).one()
    )


def test_detection_leaves_every_rollup_equal_to_a_rebuild(bulk, session):  # noqa: F811
    sql = bulk
    territories.set_territory(session, "D1", polygon=SMALL)
    kept = physical(sql)
    found = detect_all(session)
    assert found.changed > ROWS // 3 and found.outside_territory == found.changed
    assert_all_exact(sql)  # buyer, seller and pair rollups equal their GROUP BY
    assert_flagged_exact(sql)
    assert physical(sql) == kept  # a flag-only write rewrote no buyer or seller rollup row
    written = rollups(sql)
    for rebuild in REBUILDS:
        sql(f"SELECT {rebuild}()")
    assert rollups(sql) == written
    assert len(written["sales_flagged"]) == found.changed
    assert detect_all(session).changed == 0
    kept = physical(sql)  # the rebuilds rewrote them

    # a wider territory clears them again: the side table empties, the rollups stay exact
    territories.set_territory(
        session, "D1", polygon=shapely.geometry.mapping(shapely.Point(120.5, 30.5).buffer(1.0))
    )
    assert detect_all(session).changed == found.changed
    assert sql("SELECT count(*) FROM sales_flagged").scalar_one() == 0
    assert_all_exact(sql)
    assert physical(sql) == kept


def test_a_flag_write_stays_on_its_page(network, session):  # noqa: F811
    """A detection that flags a few records spread over the table rewrites none of
    sales_records' indexes: each flagged record's new version is a HOT update (fillfactor 90
    leaves the room on every page)."""
    sql = network
    w1, r1, r2 = ids(sql, "W1", "R1", "R2")
    sql(
        "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, amount) "
        "SELECT :w1, CASE WHEN g % 40 = 0 THEN :r2 ELSE :r1 END, DATE '2024-01-01' + g % 300, "
        "(SELECT min(id) FROM products), 1, 10 FROM generate_series(1, 400) g",
        w1=w1,
        r1=r1,
        r2=r2,
    )
    territories.set_territory(
        session, "D1", polygon=shapely.geometry.mapping(shapely.Point(120.6, 30.6).buffer(0.3))
    )
    before = hot_updates(sql)
    found = detect_all(session)
    after = hot_updates(sql)
    assert found.changed == 10  # the records sold to R2, outside the disc
    assert (after[0] - before[0], after[1] - before[1]) == (10, 10)
    assert_flagged_exact(sql)
    index_columns = sql(
        "SELECT string_agg(pg_get_indexdef(indexrelid), ' ') FROM pg_index "
        "WHERE indrelid = 'sales_records'::regclass"
    ).scalar_one()
    assert "flags" not in index_columns and "review_state" not in index_columns


def test_sales_flagged_follows_every_write(bulk, session):  # noqa: F811
    sql = bulk
    territories.set_territory(session, "D1", polygon=SMALL)
    detect_all(session)
    assert_flagged_exact(sql)
    # reviews: accepted and rejected stay listed with their state, the queue reads them
    first, second = sql(
        "SELECT id FROM sales_records WHERE review_state = 'pending' ORDER BY id LIMIT 2"
    ).scalars()
    review_sale(session, first, "accept", user=None)
    review_sale(session, second, "reject", user=None)
    assert_flagged_exact(sql)
    pending = sql("SELECT count(*) FROM sales_records WHERE review_state = 'pending'").scalar_one()
    page = sale_reviews(session, user=None, state="pending", limit=5)
    assert page.total == pending and [r["id"] for r in page.rows][:1] != [first]
    accepted = sale_reviews(session, user=None, state="accepted")
    assert [r["id"] for r in accepted.rows] == [first]
    listed = session.execute(select_sales(SalesFilters(review="rejected"))).all()
    assert [r.id for r in listed] == [second]
    # flags cleared by hand, a flag set by hand, amounts, an id moved, deletes, a truncate
    sql(
        "UPDATE sales_records SET flags = '{}', flag_detail = '{}', review_state = NULL "
        "WHERE id % 5 = 0 AND review_state IS NOT NULL"
    )
    assert_flagged_exact(sql)
    sql(
        "UPDATE sales_records SET flags = '{over_credit_limit}', review_state = 'pending' "
        "WHERE id % 7 = 0 AND review_state IS NULL"
    )
    assert_flagged_exact(sql)
    sql("UPDATE sales_records SET amount = amount + 1 WHERE id % 3 = 0")
    assert_flagged_exact(sql)
    sql("UPDATE sales_records SET id = id + 1000000 WHERE id % 4 = 0")
    assert_flagged_exact(sql)
    assert_all_exact(sql)
    sql("DELETE FROM sales_records WHERE id % 6 = 1")
    assert_flagged_exact(sql)
    assert_all_exact(sql)
    sql("TRUNCATE sales_records CASCADE")
    assert sql("SELECT count(*) FROM sales_flagged").scalar_one() == 0


def test_region_list_reads_the_flagged_records(bulk, session):  # noqa: F811
    """The region's list of cross-territory sales starts from sales_flagged and finds the same
    records as the flags themselves say."""
    sql = bulk
    add_outlet(sql, "X1", "retail", 120.9, 30.1)  # an outlet nobody sells to
    territories.set_territory(session, "D1", polygon=SMALL)
    detect_all(session)
    listed = cross_selling(session, "D", date_from=dt.date(2020, 1, 1), limit=10_000)
    expected = sql(
        "SELECT count(*) FROM sales_records s JOIN outlets b ON b.id = s.buyer_id "
        "WHERE s.flags && '{outside_territory,other_network}' AND s.sale_date >= '2020-01-01' "
        "AND s.sale_date <= current_date AND b.region_id IS NOT NULL"
    ).scalar_one()
    assert listed.total == expected > 0


def test_a_detection_rewrites_the_pair_counts_in_place(network, session):  # noqa: F811
    """Migration 0024: the pair rollup keeps room on its pages (fillfactor 50), so that a
    detection that flags every pair on a page rewrites their counts as HOT updates, without a
    new primary-key entry each (at the default fillfactor the page is full and none is HOT);
    no pair's record count changes, and the counts equal the records."""
    sql = network
    (w1,) = ids(sql, "W1")
    sql(  # 600 buyers east of W1's distributor's territory, each its own pair with W1
        "INSERT INTO outlets (code, name, tier, parent_id, location) "
        "SELECT 'X' || g, 'X' || g, 'retail', :w1, "
        "ST_SetSRID(ST_MakePoint(120.95 - g * 0.0001, 30.95), 4326) FROM generate_series(1, 600) g",
        w1=w1,
    )
    sql(
        "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, amount) "
        "SELECT :w1, o.id, DATE '2024-01-01', (SELECT min(id) FROM products), 1, 10 "
        "FROM outlets o WHERE o.code LIKE 'X%'",
        w1=w1,
    )
    pages = sql("SELECT pg_relation_size('sales_pairs') / 8192").scalar_one()
    assert pages >= 6  # at 50 % a page holds about sixty pairs
    assert sql("SELECT reloptions FROM pg_class WHERE relname = 'sales_pairs'").scalar_one() == [
        "fillfactor=50"
    ]
    territories.set_territory(session, "D1", polygon=SMALL)
    before = sql(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
        "WHERE relname = 'sales_pairs'"
    ).one()
    found = detect_all(session)
    after = sql(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
        "WHERE relname = 'sales_pairs'"
    ).one()
    assert found.changed >= 600
    updated, hot = after[0] - before[0], after[1] - before[1]
    assert updated >= 600 and hot == updated
    assert_all_exact(sql)
    assert_flagged_exact(sql)
