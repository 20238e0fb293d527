"""The distance from the territory kept in a record flagged ``outside_territory`` follows the
territory: when the territory changes and the buyer stays outside, the flags stay right but
the distance measured from the old shape went stale. Migration 0020 lists the distributors
whose territory was written; the detection over the whole history re-measures their flagged
records (only those), writes the ones whose distance changed (their review kept: the flags did
not change) and empties the list. The values equal the per-record check's (the recording
trigger of migrations 0012/0017)."""

from __future__ import annotations

import shapely
from analysis_helpers import add_outlet, add_product, add_region, box_wkt
from cross_parallel_fixtures import (  # noqa: F401 (fixtures: each test in one session and two)
    committed_engine,
    committed_template,
    connection,
    detect_workers,
    detections,
    one_or_two_sessions,
)

from geo_crm.analysis.cross_selling import detect_all
from geo_crm.domain import territories


def _disc(lon: float, lat: float, radius: float) -> dict:
    return shapely.geometry.mapping(shapely.Point(lon, lat).buffer(radius, quad_segs=64))


def _sell(sql, seller: str, buyer: str) -> None:
    sql(
        "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
        "amount) SELECT (SELECT id FROM outlets WHERE code = :s), "
        "(SELECT id FROM outlets WHERE code = :b), DATE '2025-03-01', "
        "(SELECT id FROM products WHERE sku = 'A'), 1, 10",
        s=seller,
        b=buyer,
    )


def _outside(sql) -> dict:
    """seller code → (distance_m, review_state) of every record flagged outside_territory"""
    rows = sql(
        "SELECT s.id, so.code, (s.flag_detail #>> '{outside_territory,distance_m}')::float8 "
        "AS m, s.review_state FROM sales_records s JOIN outlets so ON so.id = s.seller_id "
        "WHERE 'outside_territory' = ANY(s.flags) ORDER BY s.id"
    ).all()
    return {r.id: (r.code, r.m, r.review_state) for r in rows}


def _network(sql) -> None:
    add_region(sql, "P", box_wkt(119, 29, 124, 32))
    add_product(sql, "A")
    add_outlet(sql, "D1", "distributor", 120.2, 30.2)
    add_outlet(sql, "W1", "wholesaler_2", 120.3, 30.3, parent="D1")
    add_outlet(sql, "R1", "retail", 120.1, 30.1, parent="W1")
    add_outlet(sql, "R2", "retail", 121.5, 30.9, parent="W1")  # outside both of D1's discs
    add_outlet(sql, "D2", "distributor", 122.5, 31.5)
    add_outlet(sql, "W2", "wholesaler_2", 122.4, 31.4, parent="D2")
    add_outlet(sql, "R3", "retail", 119.5, 29.5, parent="W2")  # outside D2's disc


def test_a_changed_territory_refreshes_the_distance_of_records_that_stay_flagged(session, sql):
    _network(sql)
    territories.set_territory(session, "D1", polygon=_disc(120.25, 30.25, 0.25))
    territories.set_territory(session, "D2", polygon=_disc(122.5, 31.5, 0.3))
    for seller, buyer in (("W1", "R1"), ("W1", "R2"), ("W1", "R2"), ("W2", "R3")):
        _sell(sql, seller, buyer)  # flagged as recorded, distances from the current shapes
    before = _outside(sql)
    assert sorted(code for code, _, _ in before.values()) == ["W1", "W1", "W2"]
    first = detect_all(session)  # the territories just set: measured again, nothing differs
    assert (first.changed, first.refreshed) == (0, 0)
    assert sql("SELECT count(*) FROM territory_distances_stale").scalar_one() == 0
    reviewed = min(i for i, (code, _, _) in before.items() if code == "W1")
    sql("UPDATE sales_records SET review_state = 'accepted' WHERE id = :i", i=reviewed)

    # D1's territory grows towards R2, which stays outside: nearer now
    territories.set_territory(session, "D1", polygon=_disc(120.4, 30.4, 0.5))
    stale = sql("SELECT distributor_id FROM territory_distances_stale").scalars().all()
    assert stale == [sql("SELECT id FROM outlets WHERE code = 'D1'").scalar_one()]
    found = detect_all(session)
    assert (found.changed, found.refreshed) == (0, 2)
    assert found.flagged_total == {"outside_territory": 3, "other_network": 0}
    after = _outside(sql)
    for i, (code, m, review) in after.items():
        if code == "W1":
            assert 0 < m < before[i][1]  # nearer the grown territory
            assert review == ("accepted" if i == reviewed else "pending")  # review kept
        else:
            assert (code, m, review) == before[i]  # D2's territory did not change
    assert sql("SELECT count(*) FROM territory_distances_stale").scalar_one() == 0

    # the per-record check (the recording trigger, each record judged again) agrees
    state = "SELECT id, flags, flag_detail, review_state FROM sales_records ORDER BY id"
    detected = [tuple(r) for r in sql(state).all()]
    sql("UPDATE sales_records SET seller_id = seller_id WHERE seller_id IS NOT NULL")
    assert [tuple(r) for r in sql(state).all()] == detected

    again = detect_all(session)  # nothing listed: nothing measured, nothing written
    assert (again.changed, again.refreshed) == (0, 0)
    # the write's join settings are the transaction's again
    assert sql("SHOW enable_hashjoin").scalar_one() == "on"
    assert sql("SHOW enable_mergejoin").scalar_one() == "on"


def test_a_territory_no_longer_covering_nor_listing_writes_only_what_changed(session, sql):
    """A territory written again with the same shape is listed but writes no record; one that
    now covers the buyer clears the flag (a flag change: back to review as before)."""
    _network(sql)
    territories.set_territory(session, "D1", polygon=_disc(120.25, 30.25, 0.25))
    _sell(sql, "W1", "R2")
    detect_all(session)
    territories.set_territory(session, "D1", polygon=_disc(120.25, 30.25, 0.25))
    same = detect_all(session)
    assert (same.changed, same.refreshed) == (0, 0)
    territories.set_territory(session, "D1", polygon=_disc(121.0, 30.5, 0.7))  # covers R2
    cleared = detect_all(session)
    assert (cleared.changed, cleared.refreshed, cleared.outside_territory) == (1, 0, 0)
    assert _outside(sql) == {}
