"""The analysis cache (issue 16.5) on real PostGIS: the change counter, fresh/stale/missing,
queued recomputations, separate filters, and figures equal to the uncached analyses."""

from __future__ import annotations

import dataclasses
import json

import pytest
from analysis_helpers import add_outlet, add_product, add_region, add_sale, box_wkt

from geo_crm.analysis import cache
from geo_crm.analysis.coverage import coverage
from geo_crm.analysis.density import density
from geo_crm.analysis.gaps import gaps
from geo_crm.analysis.params import AnalysisParams, MapFilters
from geo_crm.errors import NotFound
from geo_crm.jobs.analyses import enqueue_analysis


@pytest.fixture
def world(sql):
    add_region(sql, "K", box_wkt(110.0, 30.0, 110.4, 30.3))
    add_region(sql, "K1", box_wkt(110.0, 30.0, 110.2, 30.3), level="city", parent="K")
    add_region(sql, "K2", box_wkt(110.2, 30.0, 110.4, 30.3), level="city", parent="K")
    add_outlet(sql, "KD", "distributor", 110.1, 30.1)
    add_outlet(sql, "KW", "wholesaler_2", 110.3, 30.2, parent="KD")
    add_outlet(sql, "KR1", "retail", 110.31, 30.21, parent="KW")
    add_outlet(sql, "KR2", "retail", 110.05, 30.25, parent="KW")
    add_product(sql, "P1")
    add_sale(sql, "KW", "KR1", "2026-03-05", "P1", 10, "120.50")
    add_sale(sql, "KD", "KW", "2026-04-15", "P1", 3, "999.99")


COVERAGE = AnalysisParams(tiers=("retail", "wholesaler_2"))
GAPS = AnalysisParams(tiers=("retail",), cell_km=4.0).with_(radius_m={"retail": 3000.0})
DENSITY = AnalysisParams(status=None, cell_km=5.0)


def plain(d: dict) -> dict:
    """As JSON has it (GeoJSON coordinates as lists, not tuples)."""
    return json.loads(json.dumps(d))


@pytest.fixture
def computes(monkeypatch):
    """Count the analyses the cache runs."""
    calls = []
    real = cache.compute

    def counting(session, kind, region, params):
        calls.append(kind)
        return real(session, kind, region, params)

    monkeypatch.setattr(cache, "compute", counting)
    return calls


@pytest.fixture
def queued():
    """An enqueue that records what it was asked."""
    jobs = []

    def enqueue(session, kind, code, filters, lock):
        jobs.append((kind, code, filters, lock))
        return True

    enqueue.jobs = jobs
    return enqueue


def test_writes_to_outlets_sales_and_regions_bump_the_counter(session, sql, world):
    before = cache.change_count(session)
    sql("UPDATE outlets SET name = 'x' WHERE code = 'KR1'")
    after_outlet = cache.change_count(session)
    assert after_outlet > before
    add_sale(sql, "KW", "KR2", "2026-05-01", "P1", 1, "1.00")
    after_sale = cache.change_count(session)
    assert after_sale > after_outlet
    sql("UPDATE regions SET name = 'y' WHERE code = 'K2'")
    assert cache.change_count(session) > after_sale
    # once per statement, not per row
    start = cache.change_count(session)
    sql("UPDATE outlets SET name = name || '.' WHERE code LIKE 'K%'")
    assert cache.change_count(session) - start in (1, 2)  # region triggers may add one


def test_the_second_request_does_not_recompute(session, world, computes, queued):
    first = cache.cached(session, "coverage", "K", COVERAGE, enqueue=queued)
    second = cache.cached(session, "coverage", "K", COVERAGE, enqueue=queued)
    assert computes == ["coverage"]
    assert (first.state, second.state) == ("fresh", "fresh")
    assert second.result.to_dict() == plain(first.result.to_dict())
    assert not queued.jobs


@pytest.mark.parametrize(
    "kind, params, uncached",
    [
        ("coverage", COVERAGE, None),
        ("gaps", GAPS, lambda s, p: gaps(s, "K", p, limit=5000)),
        ("density", DENSITY, lambda s, p: density(s, "K", p, limit=5000)),
    ],
)
def test_cached_figures_equal_uncached(session, world, computes, queued, kind, params, uncached):
    cache.cached(session, kind, "K", params, enqueue=queued)
    served = cache.cached(session, kind, "K", params, enqueue=queued)
    assert computes == [kind] and served.state == "fresh"
    if kind == "coverage":
        region = cache.get_region(session, "K", boundary=True)
        expected = plain(cache.compute(session, kind, region, params).to_dict())
        bare = coverage(session, "K", params, geometry=False)
        assert served.result.region.ratio == bare.region.ratio
        assert [t.ratio for t in served.result.by_tier] == [t.ratio for t in bare.by_tier]
    else:
        expected = plain(uncached(session, params).to_dict())
    assert served.result.to_dict() == expected


def test_after_a_write_the_stale_result_is_served_and_a_job_queued(
    session, sql, world, computes, queued
):
    fresh = cache.cached(session, "gaps", "K", GAPS, enqueue=queued)
    add_outlet(sql, "KR3", "retail", 110.2, 30.15)
    stale = cache.cached(session, "gaps", "K", GAPS, enqueue=queued, inline_outlets=0)
    assert stale.state == "stale" and stale.updating and stale.wrote
    assert stale.computed_at is not None
    assert stale.result.gap_cells == fresh.result.gap_cells  # the figures before the write
    assert computes == ["gaps"]
    ((kind, code, filters, lock),) = queued.jobs
    assert (kind, code) == ("gaps", "K") and lock.startswith("analysis:gaps:")
    assert cache.status(session, "gaps", "K", GAPS).state == "stale"
    # the job runs: the entry is fresh and holds the new figures
    assert cache.refresh(session, kind, code, filters) is True
    assert cache.refresh(session, kind, code, filters) is False  # fresh: nothing to do
    now = cache.cached(session, "gaps", "K", GAPS, enqueue=queued, inline_outlets=0)
    assert now.state == "fresh"
    assert now.result.to_dict() == plain(gaps(session, "K", GAPS, limit=5000).to_dict())
    assert now.result.gap_cells < fresh.result.gap_cells
    assert cache.status(session, "gaps", "K", GAPS).state == "fresh"


def test_a_large_region_without_a_result_is_queued_not_computed(session, world, computes, queued):
    pending = cache.cached(session, "density", "K", DENSITY, enqueue=queued, inline_outlets=0)
    assert pending.state == "computing" and pending.result is None and pending.wrote
    assert computes == [] and len(queued.jobs) == 1
    assert cache.status(session, "density", "K", DENSITY).to_dict() == {
        "state": "computing",
        "as_of": None,
    }


def test_filters_are_separate_entries_and_ignored_ones_shared(session, world, computes, queued):
    cache.cached(session, "coverage", "K", COVERAGE, enqueue=queued)
    cache.cached(session, "coverage", "K", COVERAGE.with_(tiers=("retail",)), enqueue=queued)
    cache.cached(session, "coverage", "K", COVERAGE.with_(distributor="KD"), enqueue=queued)
    assert computes == ["coverage"] * 3
    # a period or a cell size does not change coverage: the same entry
    same = COVERAGE.with_(date_from=DENSITY.date_from, cell_km=7.0, product="P1")
    assert cache.cached(session, "coverage", "K", same, enqueue=queued).state == "fresh"
    assert computes == ["coverage"] * 3
    # tiers listed in another order are the same filter
    again = COVERAGE.with_(tiers=("wholesaler_2", "retail"))
    cache.cached(session, "coverage", "K", again, enqueue=queued)
    assert computes == ["coverage"] * 3
    assert len(cache.entries(session)) == 3
    # each entry keeps its own figures
    one = cache.cached(session, "coverage", "K", COVERAGE.with_(tiers=("retail",)), enqueue=queued)
    assert [t.tier for t in one.result.by_tier] == ["retail"]


def test_cells_are_rows_with_their_hexagons(session, sql, world, queued):
    served = cache.cached(session, "gaps", "K", GAPS, enqueue=queued)
    n = sql(
        "SELECT count(*) FROM analysis_gap_cells c JOIN analysis_results r ON r.id = c.result_id "
        "WHERE r.kind = 'gaps' AND ST_SRID(c.geom) = 4326 AND ST_NPoints(c.geom) = 7"
    ).scalar_one()
    assert n == len(served.result.worst) > 0
    figures = cache.cached(session, "gaps", "K", GAPS, enqueue=queued, cells=False)
    assert figures.result.worst == [] and figures.result.gap_cells == served.result.gap_cells
    dense = cache.cached(session, "density", "K", DENSITY, enqueue=queued)
    amounts = sql("SELECT sum(amount) FROM analysis_density_cells").scalar_one()
    assert amounts == sum(c.totals.amount for c in dense.result.cells)


def test_an_unknown_region_is_404(session, world, queued):
    with pytest.raises(NotFound):
        cache.cached(session, "gaps", "NOPE", GAPS, enqueue=queued)


def test_a_recomputation_is_queued_once(session, world, monkeypatch):
    key, filters = cache.filter_key("gaps", GAPS)
    lock = cache.lock_of("gaps", 1, key)
    assert enqueue_analysis(session, "gaps", "K", filters, lock) is True
    assert enqueue_analysis(session, "gaps", "K", filters, lock) is False
    jobs = session.execute(
        cache.text(
            "SELECT count(*) FROM jobs.procrastinate_jobs "
            "WHERE queueing_lock = :lock AND status = 'todo'"
        ),
        {"lock": lock},
    ).scalar_one()
    assert jobs == 1
    # a concurrent request queued it between the check and the deferral: the lock refuses the
    # second job and the request's transaction goes on
    from geo_crm.jobs import analyses

    monkeypatch.setattr(analyses, "_QUEUED", cache.text("SELECT false"))
    assert enqueue_analysis(session, "gaps", "K", filters, lock) is False
    assert cache.change_count(session) >= 0
    path = session.execute(cache.text("SELECT current_setting('search_path')")).scalar_one()
    assert not path.startswith("jobs")
    assert enqueue_analysis(session, "gaps", "K", filters, lock + "x") is True
    path = session.execute(cache.text("SELECT current_setting('search_path')")).scalar_one()
    assert not path.startswith("jobs")


def test_warm_computes_what_is_not_fresh(session, world):
    f = MapFilters()
    done, fresh = cache.warm(session, f, level="city")
    assert (done, fresh) == (6, 0)
    assert cache.warm(session, f, level="city") == (0, 6)
    statuses = {(e.kind, e.region_code): e.fresh for e in cache.entries(session)}
    assert statuses == {(k, c): True for k in cache.KINDS for c in ("K1", "K2")}


def test_the_stored_key_stands_for_the_same_parameters():
    for kind, params in (("coverage", COVERAGE), ("gaps", GAPS), ("density", DENSITY)):
        key, filters = cache.filter_key(kind, params)
        assert cache.filter_key(kind, cache.params_of(kind, filters)) == (key, filters)
    assert dataclasses.replace(GAPS).radius("retail") == 3000.0
