"""Which kept analysis a gaps or density tile draws (``analysis.cache_tiles.entry``): the
region page's key, with the cell size the form names or, when it names none, the one chosen
from the region's area — read in one statement with the region's area."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from test_cache_tiles import keep

from geo_crm.analysis import cache, cache_tiles
from geo_crm.analysis.params import MapFilters, auto_cell_km
from geo_crm.domain.principal import SYSTEM

pytest_plugins = ["auth_fixtures"]


@pytest.mark.parametrize("kind", ["gaps", "density"])
def test_the_default_form_finds_the_result_its_page_kept(session, world, kind):
    region = cache.get_region(session, "C1")
    area = region.area_m2
    f = MapFilters()
    got = cache.cached(session, kind, "C1", cache.page_params(kind, f, area), enqueue=None)
    assert got.state == "fresh"
    found = cache_tiles.entry(session, SYSTEM, kind, "C1", f)
    kept = session.execute(
        cache.select(cache.RESULTS.c.id).where(
            cache.RESULTS.c.kind == kind, cache.RESULTS.c.region_id == region.id
        )
    ).scalar_one()
    assert found.result_id == kept and found.region_code == "C1"
    # another cell size names another (here: missing) result; the area's own is found again
    other = 20.0 if auto_cell_km(area) != 20 else 50.0
    assert (
        cache_tiles.entry(session, SYSTEM, kind, "C1", MapFilters(cell_km=other)).result_id is None
    )
    explicit = MapFilters(cell_km=float(auto_cell_km(area)))
    assert cache_tiles.entry(session, SYSTEM, kind, "C1", explicit).result_id == kept


def test_an_explicit_cell_size_finds_its_result_in_two_statements(session, world, connection):
    result = keep(session, "gaps")  # cell_km=10, radius 2 km
    assert result is not None
    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(connection, "before_cursor_execute", count)
    try:
        found = cache_tiles.entry(
            session, SYSTEM, "gaps", "C1", MapFilters(cell_km=10.0, radius_km=2.0)
        )
    finally:
        event.remove(connection, "before_cursor_execute", count)
    assert found.result_id is not None and found.computed_at is not None
    assert len(seen) <= 2  # the access check, then the area with the kept row
