"""Small hand-built fixtures for the analysis tests: regions, outlets, products and sales by SQL.

Expected answers in the tests are computed independently of geo_crm (pyproj's geodesics,
analytic circle formulas, shapely at high resolution), never with the code under test.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Geod

GEOD = Geod(ellps="WGS84")


def box_wkt(x0: float, y0: float, x1: float, y1: float, step: float = 0.01) -> str:
    """A lon/lat box with an edge vertex every ``step`` degrees (so every edge reading agrees)."""
    return shapely.segmentize(shapely.box(x0, y0, x1, y1), step).wkt


def add_region(
    sql,
    code: str,
    wkt: str,
    level: str = "province",
    parent: str | None = None,
    name: str | None = None,
) -> int:
    return sql(
        "INSERT INTO regions (code, name, level, parent_id, boundary) "
        "VALUES (:code, :name, :level, (SELECT id FROM regions WHERE code = :parent), "
        "ST_Multi(ST_GeomFromText(:wkt, 4326))) RETURNING id",
        code=code,
        name=name or f"区域{code}",
        level=level,
        parent=parent,
        wkt=wkt,
    ).scalar_one()


def add_outlet(
    sql,
    code: str,
    tier: str,
    lon: float | None,
    lat: float | None,
    *,
    parent: str | None = None,
    status: str = "active",
) -> int:
    return sql(
        "INSERT INTO outlets (code, name, tier, status, parent_id, location) "
        "VALUES (:code, :name, :tier, "
        ":status, (SELECT id FROM outlets WHERE code = :parent), "
        "CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL "
        "ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END) RETURNING id",
        code=code,
        name=code,
        tier=tier,
        status=status,
        parent=parent,
        lon=lon,
        lat=lat,
    ).scalar_one()


def add_product(sql, sku: str) -> int:
    return sql(
        "INSERT INTO products (sku, name, unit) VALUES (:sku, :name, '箱') RETURNING id",
        sku=sku,
        name=f"产品{sku}",
    ).scalar_one()


def add_sale(sql, seller: str, buyer: str, day: str, sku: str, quantity, amount) -> None:
    sql(
        "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, amount) "
        "VALUES "
        "((SELECT id FROM outlets WHERE code = :s), (SELECT id FROM outlets WHERE code = :b), "
        "CAST(:d AS date), (SELECT id FROM products WHERE sku = :p), :q, :a)",
        s=seller,
        b=buyer,
        d=day,
        p=sku,
        q=quantity,
        a=amount,
    )


def offset(lon: float, lat: float, azimuth: float, metres: float) -> tuple[float, float]:
    """The point ``metres`` along the geodesic from (lon, lat) at ``azimuth`` degrees."""
    lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth, metres)
    return float(lon2), float(lat2)


def geodesic_area(geojson_or_geom) -> float:
    geom = (
        shapely.geometry.shape(geojson_or_geom)
        if isinstance(geojson_or_geom, dict)
        else geojson_or_geom
    )
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def lens_union_area(r: float, d: float) -> float:
    """Area of the union of two discs of radius r whose centres are d apart (d < 2r)."""
    lens = 2 * r * r * np.arccos(d / (2 * r)) - 0.5 * d * np.sqrt(4 * r * r - d * d)
    return 2 * np.pi * r * r - lens


def segment_area(r: float, h: float) -> float:
    """Area of the part of a disc of radius r beyond a straight line h from its centre."""
    return r * r * np.arccos(h / r) - h * np.sqrt(r * r - h * h)
