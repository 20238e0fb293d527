"""The OGC API – Features collection ``gaps``: the gap cells of every kept gaps analysis
(:mod:`.cache`) of the regions the caller may see, as GeoJSON polygons in CRS84.

One feature per gap cell (id ``<analysis>-<rank>``, rank 0 the worst of its analysis) with
its region, the analysis's cell size, tiers and radii, the distance from the cell's centre to
the nearest outlet of those tiers and the shortfall beyond its radius (metres), the nearest
outlet's code and tier, when the analysis was computed and whether it is still fresh (the
change counter has not moved since). A region page viewed with several filters keeps several
analyses: filter on ``region_code`` and ``cell_km`` in the client. Its time is the instant
``computed_at``.

Access: the region pages' — admins, and managers for the regions they manage; a rep sees no
gap cells (they name outlets across the whole region).
"""

from __future__ import annotations

from ..domain import features
from ..domain.gis import region_scope_sql, scoped_bounds

_ROWS = (
    "(SELECT c.id, ar.id || '-' || c.rank AS code, c.rank, c.row, c.col, c.distance_m, "
    "c.shortfall_m, c.nearest_outlet, c.nearest_tier, c.geom, ar.computed_at, "
    "ar.change_count, ar.filters, ar.region_id, gr.code AS region_code "
    "FROM analysis_gap_cells c JOIN analysis_results ar ON ar.id = c.result_id "
    "JOIN regions gr ON gr.id = ar.region_id) t JOIN regions r ON r.id = t.region_id"
)
_PROPERTIES = {
    "region_code": "t.region_code",
    "rank": "t.rank",
    "distance_m": "t.distance_m",
    "shortfall_m": "t.shortfall_m",
    "nearest_outlet": "t.nearest_outlet",
    "nearest_tier": "t.nearest_tier",
    "cell_km": "(t.filters->>'cell_km')::float8",
    "tiers": "t.filters->'tiers'",
    "radius_m": "t.filters->'radius_m'",
    "distributor": "t.filters->>'distributor'",
    "computed_at": features.utc_text("t.computed_at"),
    "fresh": "t.change_count = (SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
    "FROM analysis_changes)",
}


def _scope(role: str) -> str:
    return region_scope_sql(role, "r") if role in ("admin", "manager") else "false"


def _bounds(session, user):
    if user.role not in ("admin", "manager"):
        return None
    return scoped_bounds(session, "regions", user)


GAPS = features.register(
    features.Collection(
        id="gaps",
        title="Coverage gaps",
        description=(
            "Gap cells of the kept gaps analyses of the regions the caller may see: hexagons "
            "whose centre has no outlet of the analysis's tiers within reach (id: "
            "<analysis>-<rank>, rank 0 the worst; filter on region_code and cell_km)."
        ),
        properties={
            "region_code": "string",
            "rank": "integer",
            "distance_m": "number",
            "shortfall_m": "number",
            "nearest_outlet": "string",
            "nearest_tier": "string",
            "cell_km": "number",
            "tiers": "array",
            "radius_m": "object",
            "distributor": "string",
            "computed_at": "string",
            "fresh": "boolean",
        },  # fmt: skip
        rows=_ROWS,
        feature=features.feature_sql("t.code", "ST_AsGeoJSON(t.geom, 6)", _PROPERTIES),
        scope=_scope,
        spatial=f"t.geom && {features.BOX}",
        time_from="t.computed_at",
        time_to="t.computed_at",
        bounds=_bounds,
        temporal="a gap cell's time is the instant its analysis was computed",
    )
)
