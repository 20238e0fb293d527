"""The 窜货 detection's write and a record whose pair changes meanwhile: the flags of a record
are worked out for the (seller, buyer) pair it had when it was read; if another transaction
changes its seller or buyer before the write, the recording trigger has judged it again for its
new pair, and the detection's write leaves it as that trigger set it (in both reading paths:
one session, and helper sessions on the detection's snapshot)."""

from __future__ import annotations

import pytest
from cross_parallel_fixtures import committed_engine, committed_template  # noqa: F401
from sqlalchemy import event, text
from sqlalchemy.orm import Session
from test_cross_parallel import _flags, _network

from geo_crm.analysis.cross_selling import detect_all

PAIRS = "SELECT seller_id, buyer_id, records, other_network, outside_territory FROM sales_pairs"
EXPECTED_PAIRS = (
    "SELECT seller_id, buyer_id, count(*), count(*) FILTER (WHERE flags @> '{other_network}'), "
    "count(*) FILTER (WHERE flags @> '{outside_territory}') FROM sales_records "
    "WHERE seller_id IS NOT NULL GROUP BY 1, 2"
)


@pytest.mark.parametrize("workers", [1, 2], ids=["one-session", "two-sessions"])
def test_a_record_whose_buyer_changes_before_the_write_is_left_as_the_trigger_set_it(
    committed_engine,  # noqa: F811
    workers,
):
    """W1 → R2 (twice) lies outside D1's territory and W2 → R1 crosses into D1's network: the
    reading finds three records to flag. Between the reading and the write another connection
    moves one W1 → R2 record to the buyer R1, inside the territory and in W1's own network: the
    trigger finds nothing to flag. The write then flags the two others only."""
    _network(committed_engine)
    with committed_engine.connect() as conn:
        moved = conn.execute(
            text(
                "SELECT min(s.id) FROM sales_records s JOIN outlets b ON b.id = s.buyer_id "
                "WHERE b.code = 'R2'"
            )
        ).scalar_one()
    done: list[bool] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if "UPDATE sales_records s" in statement and not done:
            done.append(True)
            with committed_engine.begin() as other:
                other.execute(
                    text(
                        "UPDATE sales_records SET buyer_id = (SELECT id FROM outlets "
                        "WHERE code = 'R1') WHERE id = :id"
                    ),
                    {"id": moved},
                )

    event.listen(committed_engine, "before_cursor_execute", before)
    try:
        with Session(committed_engine) as session:
            found = detect_all(session, workers=workers)
            session.commit()
    finally:
        event.remove(committed_engine, "before_cursor_execute", before)
    assert done and found.sessions == workers
    assert (found.changed, found.outside_territory, found.other_network) == (2, 2, 1)
    flags = _flags(committed_engine)
    assert flags.pop(moved) == ([], None)  # as the trigger judged it for W1 → R1
    assert sorted(f for f, _ in flags.values()) == [
        [],
        ["other_network", "outside_territory"],
        ["outside_territory"],
    ]
    with committed_engine.connect() as conn:
        pairs = {tuple(r) for r in conn.execute(text(PAIRS))}
        assert pairs == {tuple(r) for r in conn.execute(text(EXPECTED_PAIRS))}
        assert conn.execute(text("SELECT count(*) FROM sales_flagged")).scalar_one() == 2
    with Session(committed_engine) as session:  # nothing left over for the next run
        assert detect_all(session, workers=workers).changed == 0
        session.commit()


@pytest.mark.parametrize("workers", [1, 2], ids=["one-session", "two-sessions"])
def test_without_a_change_meanwhile_every_record_read_is_written(committed_engine, workers):  # noqa: F811
    _network(committed_engine)
    with Session(committed_engine) as session:
        found = detect_all(session, workers=workers)
        session.commit()
    assert (found.changed, found.outside_territory, found.other_network) == (3, 3, 1)
