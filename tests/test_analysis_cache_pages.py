"""The analysis cache on the region pages: figures as of a time while they are updated, the
state the page polls, a map being computed, and the CLI's warm and status."""

from __future__ import annotations

import pytest
from test_maps_data import PROVINCE, build_network

from geo_crm.analysis import cache

PERIOD = "from=2025-12-01&to=2026-06-30"


@pytest.fixture
def web(client, app, sql, settings_override):
    settings_override(app, auth_required=False)
    build_network(sql)
    return client


def get(client, url, **kw):
    response = client.get(url, **kw)
    response.close()
    return response


def queued_jobs(sql) -> int:
    return sql(
        "SELECT count(*) FROM jobs.procrastinate_jobs "
        "WHERE task_name = 'geo_crm.analysis' AND status = 'todo'"
    ).scalar_one()


def test_a_small_region_is_computed_in_the_request_and_kept(web, sql):
    page = get(web, f"/regions/{PROVINCE}?lang=en&{PERIOD}").get_data(as_text=True)
    assert 'data-updating="false"' in page and "being updated" not in page
    kept = sql("SELECT kind FROM analysis_results ORDER BY kind").scalars().all()
    assert kept == ["coverage", "gaps"]
    assert get(web, f"/maps/density/{PROVINCE}?{PERIOD}").status_code == 200
    assert "density" in sql("SELECT array_agg(kind) FROM analysis_results").scalar_one()
    state = get(web, f"/regions/{PROVINCE}/analysis-status?map=density&{PERIOD}").get_json()
    assert state["updating"] is False
    assert {k: v["state"] for k, v in state["analyses"].items()} == dict.fromkeys(
        ("coverage", "gaps", "density"), "fresh"
    )
    assert queued_jobs(sql) == 0


def test_after_a_write_a_large_region_shows_figures_as_of_and_queues_once(
    web, sql, session, monkeypatch
):
    first = get(web, f"/regions/{PROVINCE}?lang=zh&{PERIOD}").get_data(as_text=True)
    assert 'data-updating="false"' in first
    monkeypatch.setattr(cache, "INLINE_OUTLETS", 0)  # from now on the region counts as large
    sql("UPDATE outlets SET name = name || ' ' WHERE id = (SELECT min(id) FROM outlets)")
    for lang, words in (("zh", "数据截至"), ("en", "Figures as of")):
        page = get(web, f"/regions/{PROVINCE}?lang={lang}&{PERIOD}").get_data(as_text=True)
        assert 'data-updating="true"' in page and words in page
        assert 'id="fig-as-of"' in page
    state = get(web, f"/regions/{PROVINCE}/analysis-status?{PERIOD}").get_json()
    assert state["updating"] is True
    assert state["analyses"]["gaps"]["state"] == "stale"
    assert state["analyses"]["gaps"]["as_of"]
    assert queued_jobs(sql) == 2  # coverage and gaps, once each however often the page is seen
    # the jobs run: fresh again, and the page says nothing more
    jobs = sql(
        "SELECT args->>'kind', args->>'region', args->'filters' FROM jobs.procrastinate_jobs "
        "WHERE task_name = 'geo_crm.analysis'"
    ).all()
    for kind, region, filters in jobs:
        assert cache.refresh(session, kind, region, filters) is True
    state = get(web, f"/regions/{PROVINCE}/analysis-status?{PERIOD}").get_json()
    assert state["updating"] is False
    page = get(web, f"/regions/{PROVINCE}?lang=en&{PERIOD}").get_data(as_text=True)
    assert 'data-updating="false"' in page and "Figures as of" not in page


def test_a_large_region_map_is_computed_in_the_background(web, sql, monkeypatch):
    monkeypatch.setattr(cache, "INLINE_OUTLETS", 0)
    for lang, words in (("zh", "正在计算该区域的分析"), ("en", "is being computed")):
        r = get(web, f"/maps/gaps/{PROVINCE}?cell_km=7&lang={lang}")
        page = r.get_data(as_text=True)
        assert r.status_code == 200 and words in page
        assert '<meta http-equiv="refresh" content="5">' in page
    assert queued_jobs(sql) == 1
    figures = get(web, f"/regions/{PROVINCE}/figures?cell_km=7&lang=en").get_data(as_text=True)
    assert "Being computed" in figures and 'data-updating="true"' in figures
    state = get(web, f"/regions/{PROVINCE}/analysis-status?cell_km=7&map=gaps").get_json()
    assert state["analyses"]["gaps"] == {"state": "computing", "as_of": None}


def test_bad_filters_on_the_status_are_422_naming_the_field(web):
    json = {"Accept": "application/json"}  # as the page asks
    r = get(web, f"/regions/{PROVINCE}/analysis-status?cell_km=abc", headers=json)
    assert r.status_code == 422
    assert "cell_km" in str(r.get_json()["error"]["fields"])
    missing = get(web, "/regions/NOPE/analysis-status", headers=json)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"]


def test_cli_warm_and_status(cli, sql):
    build_network(sql)
    empty = cli.invoke(args=["analyse", "cache", "status"])
    assert empty.exit_code == 0 and "no analyses kept" in empty.output
    warm = cli.invoke(args=["analyse", "cache", "warm", "--level", "province"])
    assert warm.exit_code == 0, warm.output
    assert f"{PROVINCE} gaps: computed" in warm.output
    again = cli.invoke(args=["analyse", "cache", "warm", "--level", "province", "--kind", "gaps"])
    assert f"{PROVINCE} gaps: fresh" in again.output and "0 computed" in again.output
    status = cli.invoke(args=["analyse", "cache", "status"])
    assert status.exit_code == 0
    assert f"{PROVINCE}" in status.output and "stale" in status.output.splitlines()[-1]
    assert " fresh " in status.output
    bad = cli.invoke(args=["analyse", "cache", "warm", "--level", "planet"])
    assert bad.exit_code != 0 and "level" in bad.output


def test_the_queued_task_recomputes_the_entry(web, app, sql, monkeypatch):
    """``geo_crm.analysis`` as a worker runs it (its own session, committed): the entry the
    page queued is fresh afterwards; a region deleted since is dropped, not an error."""
    from geo_crm.db import get_db
    from geo_crm.jobs import runtime
    from geo_crm.jobs.analyses import run_analysis
    from geo_crm.settings import settings_of

    monkeypatch.setattr(cache, "INLINE_OUTLETS", 0)
    assert get(web, f"/maps/gaps/{PROVINCE}?cell_km=7").status_code == 200
    ((kind, region, filters),) = sql(
        "SELECT args->>'kind', args->>'region', args->'filters' FROM jobs.procrastinate_jobs "
        "WHERE task_name = 'geo_crm.analysis'"
    ).all()
    monkeypatch.setattr(runtime, "_current", None)
    runtime.configure(get_db(app), settings_of(app))
    run_analysis(kind, region, filters)
    state = get(web, f"/regions/{PROVINCE}/analysis-status?cell_km=7&map=gaps").get_json()
    assert state["analyses"]["gaps"]["state"] == "fresh"
    page = get(web, f"/maps/gaps/{PROVINCE}?cell_km=7").get_data(as_text=True)
    assert "is being computed" not in page and "geoCrmMap" in page
    run_analysis(kind, "NOPE", filters)  # logged and dropped
