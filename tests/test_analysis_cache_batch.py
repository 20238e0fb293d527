"""The analysis cache's batched read (:func:`geo_crm.analysis.cache.cached_many`): the same
answers as one :func:`~geo_crm.analysis.cache.cached` per region, in a fixed number of
statements however many regions are asked for."""

from __future__ import annotations

import pytest
from analysis_helpers import add_region, box_wkt
from sqlalchemy import event
from test_analysis_cache import computes, queued, world  # noqa: F401  (fixtures)

from geo_crm.analysis import cache
from geo_crm.analysis.params import MapFilters

F = MapFilters()


def _regions(session, codes):
    return [(c, cache.get_region(session, c).area_m2) for c in codes]


@pytest.fixture
def statements(connection):
    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(connection, "before_cursor_execute", count)
    yield seen
    event.remove(connection, "before_cursor_execute", count)


@pytest.mark.parametrize("kind", ["coverage", "gaps"])
def test_the_batch_answers_as_one_read_per_region(session, world, computes, queued, kind):  # noqa: F811
    regions = _regions(session, ["K", "K1", "K2"])
    first = cache.cached_many(session, kind, regions, F, enqueue=queued)
    assert sorted(first) == ["K", "K1", "K2"] and computes == [kind] * 3
    assert all(c.state == "fresh" and c.wrote for c in first.values())
    again = cache.cached_many(session, kind, regions, F, enqueue=queued)
    assert computes == [kind] * 3 and not queued.jobs
    for code, area in regions:
        one = cache.cached(
            session, kind, code, cache.page_params(kind, F, area), cells=False, enqueue=queued
        )
        assert again[code].state == one.state == "fresh"
        assert again[code].result.to_dict() == one.result.to_dict()
        assert again[code].computed_at == one.computed_at


def test_stale_large_regions_are_served_as_of_and_queued_once(session, sql, world, queued):  # noqa: F811
    regions = _regions(session, ["K1", "K2"])
    kept = cache.cached_many(session, "gaps", regions, F, enqueue=queued)
    sql("UPDATE outlets SET name = name || '.' WHERE code = 'KR1'")
    stale = cache.cached_many(session, "gaps", regions, F, enqueue=queued, inline_outlets=0)
    assert {c.state for c in stale.values()} == {"stale"}
    assert stale["K1"].computed_at == kept["K1"].computed_at
    assert stale["K1"].result.gap_cells == kept["K1"].result.gap_cells
    assert sorted(job[1] for job in queued.jobs) == ["K1", "K2"]
    assert all(c.wrote for c in stale.values())
    # a region with nothing kept yet is "computing"
    add_region(sql, "K3", box_wkt(110.4, 30.0, 110.5, 30.3), level="city", parent="K")
    got = cache.cached_many(
        session, "gaps", _regions(session, ["K3"]), F, enqueue=queued, inline_outlets=-1
    )
    assert got["K3"].state == "computing" and got["K3"].result is None


def test_fresh_regions_cost_the_same_statements_however_many(session, sql, world, statements):  # noqa: F811
    for n in range(4):
        add_region(sql, f"KX{n}", box_wkt(111.0 + n, 31.0, 111.5 + n, 31.5), level="city")
    few, many = ["K1"], ["K1", "K2", "KX0", "KX1", "KX2", "KX3"]
    cache.cached_many(session, "coverage", _regions(session, many), F, enqueue=None)  # kept
    counts = []
    for codes in (few, many):
        regions = _regions(session, codes)
        statements.clear()
        got = cache.cached_many(session, "coverage", regions, F, enqueue=None)
        assert {c.state for c in got.values()} == {"fresh"}
        counts.append(len(statements))
    assert counts[0] == counts[1] == 2  # the counter, then every region's kept row at once
