"""Page views queue at most ``GEO_CRM_ANALYSIS_JOBS_PER_USER`` analysis recomputations per
user: beyond it, through HTTP, the pages answer 200 with what is kept ("as of" its time) and
say the analyses are busy; nothing more is queued until the worker takes some."""

from __future__ import annotations

import pytest
from auth_helpers import add_token, token_client
from sqlalchemy import text

from geo_crm.analysis import cache

pytest_plugins = ["auth_fixtures"]

CITIES = "/landing/figures?figure=gaps&level=city"


def _as(aapp, connection, world, who):
    return token_client(aapp, add_token(connection, world[who]))


def jobs_by(connection, user_id) -> int:
    return connection.execute(
        text(
            "SELECT count(*) FROM jobs.procrastinate_jobs WHERE task_name = 'geo_crm.analysis' "
            "AND status = 'todo' AND args->>'by' = :by"
        ),
        {"by": str(user_id)},
    ).scalar_one()


@pytest.fixture
def capped(aapp, settings_override, monkeypatch):
    settings_override(aapp, GEO_CRM_ANALYSIS_JOBS_PER_USER=1)
    monkeypatch.setattr(cache, "INLINE_OUTLETS", 0)  # every region counts as large


def test_views_past_the_cap_queue_nothing_and_say_busy(aapp, connection, world, capped):
    admin = _as(aapp, connection, world, "admin")
    first = admin.get(CITIES)
    assert first.status_code == 200
    body = first.get_json()
    assert set(body["values"]) == {"C1", "C2", "P2"}
    assert all(v is None for v in body["values"].values())  # nothing kept yet
    assert body["updating"] is True and body["busy"] is True
    assert jobs_by(connection, world["admin"]) == 1
    # asked again, and on the region pages: still one waiting job, pages answer
    for url in (CITIES, "/regions/C2", "/regions/C2/figures", "/maps/gaps/C2"):
        assert admin.get(url).status_code == 200, url
    assert jobs_by(connection, world["admin"]) == 1
    # another user's views have a queue of their own
    m1 = _as(aapp, connection, world, "m1")
    assert m1.get("/landing/figures?figure=coverage&level=city").status_code == 200
    assert jobs_by(connection, world["m1"]) == 1
    # once the worker has taken the admin's job, their next view queues another
    connection.execute(
        text(
            "UPDATE jobs.procrastinate_jobs SET status = 'doing' "
            "WHERE status = 'todo' AND args->>'by' = :by"
        ),
        {"by": str(world["admin"])},
    )
    assert admin.get(CITIES).status_code == 200
    assert jobs_by(connection, world["admin"]) == 1


def test_stale_figures_are_served_as_of_while_busy(aapp, connection, world, settings_override):
    admin = _as(aapp, connection, world, "admin")
    kept = admin.get(CITIES).get_json()  # small regions: computed in the request and kept
    assert kept["updating"] is False and kept["busy"] is False
    assert jobs_by(connection, world["admin"]) == 0
    settings_override(aapp, GEO_CRM_ANALYSIS_JOBS_PER_USER=1)
    cache_inline = cache.INLINE_OUTLETS
    try:
        cache.INLINE_OUTLETS = 0
        connection.execute(text("UPDATE outlets SET name = name || ' ' WHERE code = 'A1'"))
        stale = admin.get(CITIES).get_json()
    finally:
        cache.INLINE_OUTLETS = cache_inline
    assert stale["values"] == kept["values"]  # the kept figures, as of their time
    assert stale["updating"] is True and stale["busy"] is True
    assert stale["as_of"] <= kept["as_of"]
    assert jobs_by(connection, world["admin"]) == 1
