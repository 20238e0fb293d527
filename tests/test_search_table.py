"""The outlets' search text lives in ``outlet_search`` (migration 0019): written when an
outlet is added, renamed, recoded or changes tier, never by a geotag, and read through its
trigram indexes by the landing search and the distributor list."""

from __future__ import annotations

import pytest
from auth_helpers import API, add_outlet, add_token, outlet_row, tag_body, token_client
from sqlalchemy import event, text

from geo_crm.domain import distributors
from geo_crm.domain import search as outlet_search

pytest_plugins = ["auth_fixtures"]  # auth_app, aapp, aclient, world


def search_row(connection, code):
    """The outlet's search row with its tuple id: any UPDATE of the row moves it."""
    return connection.execute(
        text(
            "SELECT s.ctid::text AS ctid, s.search_text, s.is_distributor FROM outlet_search s "
            "JOIN outlets o ON o.id = s.outlet_id WHERE o.code = :c"
        ),
        {"c": code},
    ).one()


def expected(connection, code):
    """What 0009's function makes of the outlet's code and name (both readings of polyphones)."""
    return connection.execute(
        text("SELECT geo_crm_outlet_search_text(code, name) FROM outlets WHERE code = :c"),
        {"c": code},
    ).scalar()


def test_every_new_outlet_gets_its_search_text_from_one_statement(connection, world):
    d1 = search_row(connection, "D1")
    assert d1.search_text == "d1 华东总经销 hdzjx" and d1.is_distributor
    a1 = search_row(connection, "A1")
    assert a1.search_text == expected(connection, "A1") and not a1.is_distributor
    connection.execute(
        text(
            "INSERT INTO outlets (code, name, tier) "
            "SELECT 'BULK' || i, '重庆小店' || i, 'retail' FROM generate_series(1, 3) i"
        )
    )
    assert search_row(connection, "BULK2").search_text == expected(connection, "BULK2")
    assert search_row(connection, "BULK2").search_text.startswith("bulk2 重庆小店2 zqxd")
    missing = connection.execute(
        text(
            "SELECT count(*) FROM outlets o LEFT JOIN outlet_search s ON s.outlet_id = o.id "
            "WHERE s.outlet_id IS NULL"
        )
    ).scalar()
    assert missing == 0


def test_a_geotag_leaves_the_search_row_alone(aapp, connection, world):
    before = search_row(connection, "A1")
    rep1 = token_client(aapp, add_token(connection, world["r1"]))
    version = outlet_row(connection, "A1").version
    response = rep1.put(f"{API}/outlets/A1/location", json=tag_body(30.2005, 120.2004, version))
    assert response.status_code == 200, response.get_json()
    assert outlet_row(connection, "A1").version == version + 1
    assert search_row(connection, "A1") == before  # same tuple: not even rewritten
    # an UPDATE naming code, name and tier unchanged (the ORM, an import's ON CONFLICT)
    connection.execute(
        text(
            "UPDATE outlets SET code = code, name = name, tier = tier, "
            "location = ST_SetSRID(ST_MakePoint(120.2006, 30.2006), 4326) WHERE code = 'A1'"
        )
    )
    assert search_row(connection, "A1") == before


def test_a_rename_a_new_code_and_a_new_tier_rewrite_the_search_row(session, connection, world):
    before = search_row(connection, "N1")
    connection.execute(text("UPDATE outlets SET name = '华南批发部' WHERE code = 'N1'"))
    renamed = search_row(connection, "N1")
    assert renamed.ctid != before.ctid
    assert renamed.search_text == expected(connection, "N1")
    assert renamed.search_text.startswith("n1 华南批发部 hnpfb")
    hits = outlet_search.search(session, "hnpfb", user=None)
    assert [h.code for h in hits if h.kind == "outlet"] == ["N1"]
    assert not [h for h in outlet_search.search(session, "新发现", user=None) if h.kind == "outlet"]

    connection.execute(text("UPDATE outlets SET code = 'N9' WHERE code = 'N1'"))
    assert search_row(connection, "N9").search_text == expected(connection, "N9")
    assert search_row(connection, "N9").search_text.startswith("n9 华南批发部")

    connection.execute(text("UPDATE outlets SET tier = 'distributor' WHERE code = 'N9'"))
    assert search_row(connection, "N9").is_distributor
    page = distributors.distributor_list(
        session, distributors.DistributorQuery(q="hnpfb"), user=None
    )
    assert [r["code"] for r in page.rows] == ["N9"]


def test_deleting_an_outlet_deletes_its_search_row(connection, world):
    outlet = add_outlet(connection, "GONE", name="临时网点")
    connection.execute(text("DELETE FROM outlets WHERE id = :i"), {"i": outlet})
    left = connection.execute(
        text("SELECT count(*) FROM outlet_search WHERE outlet_id = :i"), {"i": outlet}
    ).scalar()
    assert left == 0


def _plans(connection, run, marker):
    """EXPLAIN of the statements ``run`` sends that mention ``marker``. Sequential scans off:
    a few thousand rows are still read faster whole; what matters is that the query can use
    the index (operator class, the partial index's predicate implied by the query)."""
    sent = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        if marker in statement:
            sent.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", on_execute)
    try:
        run()
    finally:
        event.remove(connection, "before_cursor_execute", on_execute)
    assert sent
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    return [
        "\n".join(connection.exec_driver_sql("EXPLAIN " + sql, params).scalars())
        for sql, params in sent
    ]


@pytest.mark.parametrize(
    ("name", "index"),
    [("landing", "ix_outlet_search_text"), ("distributors", "ix_outlet_search_distributor")],
)
def test_the_searches_read_their_trigram_index(session, connection, world, name, index):
    # enough outlets that reading every search row costs more than the index
    connection.execute(
        text(
            "INSERT INTO outlets (code, name, tier) "
            "SELECT 'R' || i, '零售网点' || i, 'retail' FROM generate_series(1, 5000) i"
        )
    )
    # as VACUUM would: the new rows out of the GIN pending list, then statistics
    for trigram in ("ix_outlet_search_text", "ix_outlet_search_distributor"):
        connection.execute(
            text("SELECT gin_clean_pending_list(CAST(:i AS regclass))"), {"i": trigram}
        )
    connection.execute(text("ANALYZE outlet_search"))
    if name == "landing":

        def run():
            outlet_search.search(session, "hdz", user=None)
    else:

        def run():
            distributors.distributor_list(
                session, distributors.DistributorQuery(q="hdz"), user=None
            )

    plans = _plans(connection, run, "outlet_search")
    assert any(index in plan for plan in plans), "\n\n".join(plans)
