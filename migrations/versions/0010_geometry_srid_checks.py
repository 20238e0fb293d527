"""geometries without a coordinate system are refused, not relabelled as WGS-84

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08

A column typed ``geometry(Point,4326)`` relabels a geometry written without an SRID
(``ST_GeomFromText('POINT(10 10)')``, SRID 0) as 4326 while the value is converted to the
column's type — before any CHECK constraint or trigger sees it, so no rule could refuse it.
Every geometry column now keeps its geometry type in its type (``geometry(Point)``) and its
SRID in a CHECK constraint ``ST_SRID(column) = 4326``: an SRID-0 geometry stays SRID 0 and is
refused, as one in another SRID already was (for an outlet, by ``outlet_location_srid`` rather
than by the region look-up of the outlets' row trigger, which runs first and now finds no
region for a point in another SRID instead of failing on mixed SRIDs). PostGIS's ``geometry_columns`` reads the SRID
from such a constraint, so tools still see 4326.

Changing the types rewrites the tables once (and rebuilds their indexes).
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# table -> [(column, geometry type, constraint)]
COLUMNS = {
    "regions": [
        ("boundary", "MultiPolygon", "region_boundary_srid"),
        ("label_point", "Point", "region_label_point_srid"),
    ],
    "region_parts": [("geom", "Polygon", "region_part_geom_srid")],
    "outlets": [("location", "Point", "outlet_location_srid")],
    "geotag_events": [
        ("old_location", "Point", "geotag_old_location_srid"),
        ("new_location", "Point", "geotag_new_location_srid"),
    ],
}

# geo_crm_region_for_point of migration 0004, with ``guard`` before the look-up
_REGION_FOR_POINT = """
CREATE OR REPLACE FUNCTION geo_crm_region_for_point(pt geometry) RETURNS integer
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  IF {guard} THEN
    RETURN NULL;
  END IF;
  RETURN (SELECT rp.region_id
            FROM region_parts rp JOIN regions r ON r.id = rp.region_id
           WHERE ST_Intersects(rp.geom, pt)
           ORDER BY rp.depth DESC, r.area_m2 ASC, r.id
           LIMIT 1);
END $$;
"""


def upgrade() -> None:
    op.execute(_REGION_FOR_POINT.format(guard="pt IS NULL OR ST_SRID(pt) <> 4326"))
    for table, columns in COLUMNS.items():
        changes = [f"ALTER COLUMN {c} TYPE geometry({kind})" for c, kind, _ in columns]
        changes += [f"ADD CONSTRAINT {name} CHECK (ST_SRID({c}) = 4326)" for c, _, name in columns]
        op.execute(f"ALTER TABLE {table} {', '.join(changes)}")  # one rewrite per table


def downgrade() -> None:
    op.execute(_REGION_FOR_POINT.format(guard="pt IS NULL"))
    for table, columns in COLUMNS.items():
        changes = [f"DROP CONSTRAINT {name}" for _, _, name in columns]
        changes += [f"ALTER COLUMN {c} TYPE geometry({kind},4326)" for c, kind, _ in columns]
        op.execute(f"ALTER TABLE {table} {', '.join(changes)}")
