"""Each outlet's root distributor (the distributor at the top of its supply chain, itself for a
distributor, NULL when the chain ends below that tier) kept in ``outlet_roots`` by migration
0023's statement triggers stays equal to a walk up the chain after every kind of write: an
insert (one by one, in bulk, a chain inserted in one statement), a re-parented wholesaler with
retailers below, a bulk re-parenting, a tier change, a delete, a truncate, a write that moves
no chain (a geotag), the API and the import a user goes through; ``geo_crm_root_distributor``
answers from it as its walk did; ``geo_crm_outlet_roots_rebuild()`` repairs a load made with
triggers off."""

from __future__ import annotations

import csv
import io

from analysis_helpers import add_outlet

from geo_crm.io.imports import import_outlets
from geo_crm.io.imports.outlets import OUTLET_COLUMNS

pytest_plugins = ["auth_fixtures"]  # world

# the chain walked up one hop at a time, as migration 0012's function walked it (nine hops)
WALKED = """
WITH RECURSIVE up(start, id, tier, parent_id, hops) AS (
    SELECT o.id, o.id, o.tier, o.parent_id, 0 FROM outlets o
    UNION ALL
    SELECT up.start, p.id, p.tier, p.parent_id, up.hops + 1
      FROM up JOIN outlets p ON p.id = up.parent_id
     WHERE up.tier <> 'distributor' AND up.hops < 8
)
SELECT o.id, (SELECT up.id FROM up WHERE up.start = o.id AND up.tier = 'distributor')
  FROM outlets o
"""


def roots(sql) -> dict[int, int | None]:
    return dict(sql("SELECT outlet_id, root_id FROM outlet_roots").all())


def assert_exact(sql) -> dict[int, int | None]:
    """outlet_roots holds one row per outlet, equal to the walk; the function answers alike."""
    walked = dict(sql(WALKED).all())
    assert roots(sql) == walked
    looked_up = dict(sql("SELECT id, geo_crm_root_distributor(id) FROM outlets").all())
    assert looked_up == walked
    return walked


def ids(sql, *codes: str) -> list[int]:
    found = dict(sql("SELECT code, id FROM outlets WHERE code = ANY(:c)", c=list(codes)).all())
    return [found[c] for c in codes]


def network(sql) -> None:
    """Two distributors; D1 → W1 → (W3 → R3), R1, R2; D2 → W2 → R4; an orphan wholesaler OW
    with a retailer; a retailer without a supplier."""
    add_outlet(sql, "D1", "distributor", 120.1, 30.1)
    add_outlet(sql, "D2", "distributor", 121.1, 30.1)
    add_outlet(sql, "W1", "wholesaler_2", 120.2, 30.2, parent="D1")
    add_outlet(sql, "W2", "wholesaler_2", 121.2, 30.2, parent="D2")
    add_outlet(sql, "W3", "wholesaler_3", 120.3, 30.3, parent="W1")
    add_outlet(sql, "R1", "retail", 120.4, 30.4, parent="W1")
    add_outlet(sql, "R2", "retail", None, None, parent="W1")
    add_outlet(sql, "R3", "retail", 120.5, 30.5, parent="W3")
    add_outlet(sql, "R4", "retail", 121.4, 30.4, parent="W2")
    add_outlet(sql, "OW", "wholesaler_2", 122.0, 30.0)
    add_outlet(sql, "OR", "retail", 122.1, 30.1, parent="OW")
    add_outlet(sql, "LR", "retail", 122.2, 30.2)


def test_the_upgrade_fills_every_outlet_and_inserts_keep_it(session, sql):
    network(sql)
    walked = assert_exact(sql)
    d1, d2, r3, r4, orr, lr = ids(sql, "D1", "D2", "R3", "R4", "OR", "LR")
    assert (walked[r3], walked[r4], walked[orr], walked[lr]) == (d1, d2, None, None)
    assert sql("SELECT geo_crm_root_distributor(-1)").scalar() is None  # no such outlet


def test_a_chain_inserted_in_one_statement(session, sql):
    d, w, w3, r = sql("SELECT nextval('outlets_id_seq') FROM generate_series(1, 4)").scalars()
    sql(
        "INSERT INTO outlets (id, code, name, tier, parent_id) VALUES "
        "(:d, 'SD', 'SD', 'distributor', NULL), (:w, 'SW', 'SW', 'wholesaler_2', :d), "
        "(:w3, 'SW3', 'SW3', 'wholesaler_3', :w), (:r, 'SR', 'SR', 'retail', :w3)",
        d=d,
        w=w,
        w3=w3,
        r=r,
    )
    walked = assert_exact(sql)
    assert {walked[i] for i in (d, w, w3, r)} == {d}


def test_bulk_inserts_of_each_tier(session, sql):
    sql(
        "INSERT INTO outlets (code, name, tier) SELECT 'BD' || g, 'BD', 'distributor' "
        "FROM generate_series(1, 50) g"
    )
    sql(
        "INSERT INTO outlets (code, name, tier, parent_id) "
        "SELECT 'BW' || d.code || '-' || k, 'BW', 'wholesaler_2', d.id "
        "FROM outlets d, generate_series(1, 3) k WHERE d.code LIKE 'BD%'"
    )
    sql(  # every third wholesaler's retailers, and retailers of no one
        "INSERT INTO outlets (code, name, tier, parent_id) "
        "SELECT 'BR' || w.code || '-' || k, 'BR', 'retail', "
        "       CASE WHEN w.id % 3 = 0 THEN NULL ELSE w.id END "
        "FROM outlets w, generate_series(1, 4) k WHERE w.code LIKE 'BW%'"
    )
    walked = assert_exact(sql)
    assert len(walked) == 50 + 150 + 600
    assert sum(1 for r in walked.values() if r is None) == 4 * 50  # a third of 150 wholesalers


def test_a_wholesaler_re_parented_takes_its_chain_along(session, sql):
    network(sql)
    d2, w1, w3, r1, r2, r3 = ids(sql, "D2", "W1", "W3", "R1", "R2", "R3")
    sql("UPDATE outlets SET parent_id = :d2 WHERE id = :w1", d2=d2, w1=w1)
    walked = assert_exact(sql)
    assert {walked[i] for i in (w1, w3, r1, r2, r3)} == {d2}
    sql("UPDATE outlets SET parent_id = NULL WHERE id = :w1", w1=w1)  # cut off: no root
    walked = assert_exact(sql)
    assert {walked[i] for i in (w1, w3, r1, r2, r3)} == {None}
    ow, orr = ids(sql, "OW", "OR")
    sql("UPDATE outlets SET parent_id = :d2 WHERE id = :ow", d2=d2, ow=ow)  # the orphan joins
    assert assert_exact(sql)[orr] == d2


def test_a_retailer_moved_between_chains_of_different_depth(session, sql):
    network(sql)
    w2, w3, r3, r4, d1, d2 = ids(sql, "W2", "W3", "R3", "R4", "D1", "D2")
    sql("UPDATE outlets SET parent_id = :w2 WHERE id = :r3", w2=w2, r3=r3)
    sql("UPDATE outlets SET parent_id = :w3 WHERE id = :r4", w3=w3, r4=r4)
    walked = assert_exact(sql)
    assert (walked[r3], walked[r4]) == (d2, d1)


def test_a_bulk_re_parenting_in_one_statement(session, sql):
    network(sql)
    d1, d2 = ids(sql, "D1", "D2")
    sql(  # D1's and D2's wholesalers swap distributors in one UPDATE
        "UPDATE outlets SET parent_id = CASE parent_id WHEN :d1 THEN :d2 ELSE :d1 END "
        "WHERE parent_id IN (:d1, :d2)",
        d1=d1,
        d2=d2,
    )
    walked = assert_exact(sql)
    r3, r4 = ids(sql, "R3", "R4")
    assert (walked[r3], walked[r4]) == (d2, d1)


def test_a_tier_change_makes_or_unmakes_a_root(session, sql):
    network(sql)
    ow, orr = ids(sql, "OW", "OR")
    sql("UPDATE outlets SET tier = 'distributor' WHERE id = :ow", ow=ow)
    walked = assert_exact(sql)
    assert (walked[ow], walked[orr]) == (ow, ow)
    sql("UPDATE outlets SET tier = 'wholesaler_2' WHERE id = :ow", ow=ow)
    walked = assert_exact(sql)
    assert (walked[ow], walked[orr]) == (None, None)
    r1, d1 = ids(sql, "R1", "D1")  # a tier change that keeps the chain's top
    sql("UPDATE outlets SET tier = 'wholesaler_3' WHERE id = :r1", r1=r1)
    assert assert_exact(sql)[r1] == d1


def test_writes_that_move_no_chain_change_no_root(session, sql):
    network(sql)
    before = assert_exact(sql)
    r1, w1 = ids(sql, "R1", "W1")
    sql(  # a geotag and a rename
        "UPDATE outlets SET location = ST_SetSRID(ST_MakePoint(120.45, 30.45), 4326) "
        "WHERE id = :r1",
        r1=r1,
    )
    sql("UPDATE outlets SET name = 'renamed', status = 'inactive' WHERE id = :w1", w1=w1)
    sql("UPDATE outlets SET parent_id = parent_id")  # every row, no change
    assert assert_exact(sql) == before


def test_deletes_and_a_truncate(session, sql):
    network(sql)
    r1, w3, r3 = ids(sql, "R1", "W3", "R3")
    sql("DELETE FROM outlets WHERE id = :r1", r1=r1)
    sql("DELETE FROM outlets WHERE id IN (:w3, :r3)", w3=w3, r3=r3)  # a chain's end at once
    walked = assert_exact(sql)
    assert not {r1, w3, r3} & set(walked)
    sql("TRUNCATE geotag_events, outlets CASCADE")
    assert roots(sql) == {}
    add_outlet(sql, "D9", "distributor", 120.0, 30.0)
    assert list(assert_exact(sql).values()) == ids(sql, "D9")


def test_the_rebuild_repairs_a_load_made_with_triggers_off(session, sql):
    network(sql)
    w1, d2 = ids(sql, "W1", "D2")
    sql("SET LOCAL session_replication_role = replica")
    add_outlet(sql, "XW", "wholesaler_2", 120.0, 30.0, parent="D1")
    add_outlet(sql, "XR", "retail", 120.0, 30.0, parent="XW")
    sql("UPDATE outlets SET parent_id = :d2 WHERE id = :w1", d2=d2, w1=w1)
    sql("SET LOCAL session_replication_role = origin")
    assert roots(sql) != dict(sql(WALKED).all())
    sql("SELECT geo_crm_outlet_roots_rebuild()")
    assert_exact(sql)


def test_a_sale_recorded_after_a_move_is_judged_by_the_new_root(session, sql):
    """The recording trigger (0012/0017) asks geo_crm_root_distributor: after W1 moved to D2,
    W1 selling to D2's retailer R4 is no longer into another network."""
    network(sql)
    w1, r4, d2 = ids(sql, "W1", "R4", "D2")
    sql("INSERT INTO products (sku, name, unit) VALUES ('RT1', 'p', 'case')")
    sale = (
        "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
        "amount) VALUES (:s, :b, current_date, (SELECT id FROM products WHERE sku = 'RT1'), "
        "1, 1) RETURNING flags"
    )
    assert sql(sale, s=w1, b=r4).scalar() == ["other_network"]
    sql("UPDATE outlets SET parent_id = :d2 WHERE id = :w1", d2=d2, w1=w1)
    assert sql(sale, s=w1, b=r4).scalar() == []


# -- through the paths a user takes ---------------------------------------------------------


def test_through_the_api_create_move_and_retier(client, world, sql):
    api = "/api/v1/outlets"
    made = client.post(api, json={"code": "AW", "name": "二批", "tier": "wholesaler_2"})
    assert made.status_code == 201, made.get_json()
    made = client.post(
        api, json={"code": "AR", "name": "终端", "tier": "retail", "parent_code": "AW"}
    )
    assert made.status_code == 201, made.get_json()
    aw, ar, d1 = ids(sql, "AW", "AR", "D1")
    assert assert_exact(sql)[ar] is None
    moved = client.patch(f"{api}/AW", json={"version": 1, "parent_code": "D1"})
    assert moved.status_code == 200, moved.get_json()
    assert assert_exact(sql)[ar] == d1
    retiered = client.patch(
        f"{api}/AW", json={"version": 2, "tier": "distributor", "parent_code": None}
    )
    assert retiered.status_code == 200, retiered.get_json()
    walked = assert_exact(sql)
    assert (walked[aw], walked[ar]) == (aw, aw)


def _csv(rows) -> bytes:
    header = [c for c in OUTLET_COLUMNS if c != "crs"]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    for values in rows:
        writer.writerow([values.get(h, "") for h in header])
    return buf.getvalue().encode()


def test_through_the_import_insert_then_move(session, sql):
    first = [
        {"code": "ID1", "name": "总经销一", "tier": "总经销"},
        {"code": "ID2", "name": "总经销二", "tier": "总经销"},
        {"code": "IW", "name": "二批", "tier": "二批", "parent_code": "ID1"},
        {"code": "IR1", "name": "终端一", "tier": "终端", "parent_code": "IW"},
        {"code": "IR2", "name": "终端二", "tier": "终端", "parent_code": "IW"},
    ]
    report = import_outlets(session, _csv(first), name="outlets.csv")
    assert report.ok, report.problems
    id1, id2, ir1, ir2 = ids(sql, "ID1", "ID2", "IR1", "IR2")
    walked = assert_exact(sql)
    assert (walked[ir1], walked[ir2]) == (id1, id1)
    first[2]["parent_code"] = "ID2"  # the wholesaler moves to the other distributor
    report = import_outlets(session, _csv(first), name="outlets.csv")
    assert report.ok, report.problems
    assert report.updated == 1
    walked = assert_exact(sql)
    assert (walked[ir1], walked[ir2]) == (id2, id2)
