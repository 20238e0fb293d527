"""Distributor territories (经销区域): a set of regions, or a drawn polygon.

The territory is stored as one shape (``distributor_territories.geom``): the drawn polygon, or
the union of the chosen regions' boundaries as they are when it is set (set it again after
reloading boundaries). An invalid or self-crossing polygon, a polygon with coordinates outside
WGS-84, unknown regions or regions outside the writer's scope are a 422 naming the field and
nothing is stored; the table's CHECK refuses an invalid shape whatever the writer.

The sales trigger of migration 0012 reads the shape: a sell-out to a buyer outside the seller's
distributor's territory is flagged ``outside_territory`` with its distance.
"""

from __future__ import annotations

import json
import math

import shapely
from shapely.geometry import shape
from shapely.validation import explain_validity
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from ..errors import NotFound, ValidationError
from ..models import DistributorTerritory, Region, User
from . import network
from .access import region_scope
from .principal import Principal
from .regions import region_codes

TERRITORIES = DistributorTerritory.__table__
REGIONS = Region.__table__
USERS = User.__table__
MAX_VERTICES = 100_000  # a drawn polygon; region sets are unions of stored boundaries


def _subject(session: Session, code: str, user: Principal | None) -> network.DistributorRef:
    """The distributor a territory belongs to: a missing one (or one outside the scope, or an
    outlet of another tier) is a 404, since it names the subject."""
    try:
        return network.distributor(session, code, user=user, field="distributor")
    except network.DistributorError as exc:
        raise NotFound(exc.message, fields=exc.fields) from None


def parse_polygon(value: object, field: str = "polygon"):
    """A GeoJSON Polygon or MultiPolygon (a Feature's geometry too) as a valid shapely
    MultiPolygon in WGS-84; anything else is a 422 naming ``field`` and what is wrong."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValidationError(
                f"{field}: not JSON", fields={field: "a GeoJSON Polygon or MultiPolygon"}
            ) from None
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise ValidationError(
            f"{field}: a GeoJSON Polygon or MultiPolygon",
            fields={field: "a GeoJSON Polygon or MultiPolygon"},
        )
    try:
        geom = shape(value)
    except Exception:  # shapely's errors on malformed coordinate lists vary by version
        raise ValidationError(
            f"{field}: malformed coordinates", fields={field: "malformed coordinates"}
        ) from None
    coords = shapely.get_coordinates(geom)
    if len(coords) == 0 or geom.is_empty:
        raise ValidationError(f"{field}: empty", fields={field: "empty polygon"})
    if len(coords) > MAX_VERTICES:
        raise ValidationError(
            f"{field}: at most {MAX_VERTICES} vertices",
            fields={field: f"at most {MAX_VERTICES} vertices"},
        )
    if not all(math.isfinite(c) for c in coords.ravel()) or not (
        (abs(coords[:, 0]) <= 180).all() and (abs(coords[:, 1]) <= 90).all()
    ):
        raise ValidationError(
            f"{field}: coordinates are lon/lat in WGS-84",
            fields={field: "coordinates outside lon [-180, 180] / lat [-90, 90]"},
        )
    if not geom.is_valid:
        reason = explain_validity(geom)
        raise ValidationError(
            f"{field}: invalid polygon ({reason})",
            fields={field: f"invalid polygon: {reason}"},
        )
    if geom.area == 0:
        raise ValidationError(f"{field}: no area", fields={field: "the polygon has no area"})
    if geom.geom_type == "Polygon":
        geom = shapely.MultiPolygon([geom])
    return geom


def _region_ids(session: Session, codes: list[str], user: Principal | None) -> list[int]:
    wanted = list(dict.fromkeys(c.strip() for c in codes if c and c.strip()))
    if not wanted:
        raise ValidationError("regions: none given", fields={"regions": "at least one region"})
    stmt = select(REGIONS.c.code, REGIONS.c.id).where(REGIONS.c.code.in_(wanted))
    if user is not None and not user.is_admin:
        stmt = stmt.where(region_scope(user, REGIONS))
    found = dict(session.execute(stmt).all())
    missing = [c for c in wanted if c not in found]
    if missing:
        message = f"no region with code {', '.join(repr(c) for c in missing)}"
        raise ValidationError(message, fields={"regions": message})
    return [found[c] for c in wanted]


def set_territory(
    session: Session,
    distributor_code: str,
    *,
    regions: list[str] | None = None,
    polygon: object | None = None,
    user: Principal | None = None,
) -> dict:
    """Assign the distributor's territory: ``regions`` (codes) or ``polygon`` (GeoJSON), not
    both. Replaces the one before; returns it as :func:`get_territory` does."""
    ref = _subject(session, distributor_code, user)
    if (regions is None) == (polygon is None):
        message = "give either regions or a polygon"
        raise ValidationError(message, fields={"regions": message, "polygon": message})
    uid = user.id if user is not None else None
    if polygon is not None:
        geom = parse_polygon(polygon)
        region_ids: list[int] = []
        shape_sql = func.ST_GeomFromText(geom.wkt, 4326)
    else:
        region_ids = _region_ids(session, list(regions or []), user)
        shape_sql = (
            select(func.ST_Multi(func.ST_Union(REGIONS.c.boundary)))
            .where(REGIONS.c.id.in_(region_ids))
            .scalar_subquery()
        )
    values = {
        "distributor_id": ref.id,
        "region_ids": region_ids,
        "geom": shape_sql,
        "updated_by_id": uid,
    }
    stmt = insert(TERRITORIES).values(**values, area_m2=0.0)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[TERRITORIES.c.distributor_id],
            set_={
                "region_ids": stmt.excluded.region_ids,
                "geom": stmt.excluded.geom,
                "updated_by_id": stmt.excluded.updated_by_id,
                "updated_at": func.now(),
            },
        )
    )
    session.execute(
        TERRITORIES.update()
        .where(TERRITORIES.c.distributor_id == ref.id)
        .values(area_m2=func.ST_Area(func.geography(TERRITORIES.c.geom)))
    )
    return get_territory(session, ref.code, user=user)


def get_territory(
    session: Session, distributor_code: str, *, user: Principal | None = None
) -> dict:
    """The distributor's territory: kind (regions | polygon; None while none is set), region
    codes, GeoJSON shape, area in km², who set it and when."""
    ref = _subject(session, distributor_code, user)
    t = TERRITORIES
    row = session.execute(
        select(
            t.c.region_ids,
            func.ST_AsGeoJSON(t.c.geom, 6).label("geojson"),
            t.c.area_m2,
            t.c.updated_at,
            USERS.c.username,
        )
        .select_from(t.outerjoin(USERS, USERS.c.id == t.c.updated_by_id))
        .where(t.c.distributor_id == ref.id)
    ).first()
    if row is None:
        return {
            "distributor_code": ref.code,
            "distributor_name": ref.name,
            "kind": None,
            "regions": [],
            "geometry": None,
            "area_km2": None,
            "updated_at": None,
            "updated_by": None,
        }
    return {
        "distributor_code": ref.code,
        "distributor_name": ref.name,
        "kind": "regions" if row.region_ids else "polygon",
        "regions": region_codes(session, row.region_ids or []),
        "geometry": json.loads(row.geojson),
        "area_km2": round(float(row.area_m2) / 1e6, 3),
        "updated_at": row.updated_at,
        "updated_by": row.username,
    }
