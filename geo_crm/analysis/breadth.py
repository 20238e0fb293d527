"""Territory breadth: the share of a distributor's territory that its network reaches.

Two measures over the same territory (docs/analyses.md):

- *sub-regions*: the territory's smallest loaded regions (the leaves below its regions:
  districts 区县 where they are loaded, else the lowest level present) holding at least one
  outlet of the network below the distributor (of the status asked, default active) / all of
  them. An outlet holds the region the database placed it in (``outlets.region_id``, its
  smallest region). A drawn polygon's sub-regions are the leaves whose interior point
  (``ST_PointOnSurface``) lies inside it, or, for a polygon smaller than any of them, those it
  touches.
- *hexagons*: equal-area hexagons (the analyses' one grid, ``geometry.hexgrid``) in a Lambert
  equal-area frame centred on the territory; the territory's cells are those whose centre lies
  inside it, and a cell is reached when a located outlet of the network lies in it. The cell
  size is a parameter (the analyses' limits); by default it is chosen from the territory's
  area for about ``TARGET_CELLS`` cells, so that a network of some dozens of outlets does not
  read as 0 % on a grid of thousands.

The territory is the assigned one (``distributor_territories``), else a region the caller
names, else the smallest region holding the network (what depth reported before territories
existed). A named region overrides the assigned territory.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import BigInteger, Select, String, bindparam, func, select, text
from sqlalchemy.orm import Session

from .. import i18n
from ..domain.network import OUTLETS, outlet_tree
from ..domain.regions import REGIONS, region_codes
from ..models import DistributorTerritory
from .frame import MetricFrame
from .geometry.hexgrid import HexGrid
from .geometry.sphere import frame_centre
from .params import AnalysisParams, auto_cell_km

TERRITORIES = DistributorTerritory.__table__
TARGET_CELLS = 100  # hexagons over a territory when the cell size is left to choose
BASES = ("assigned", "named", "network")  # where the territory comes from

i18n.add_messages(
    "breadth",
    {
        "Territory breadth": "经销区域广度",
        "Sub-regions reached": "覆盖的下级区域",
        "Hexagons reached": "覆盖的六边形网格",
        "Assigned territory": "已分配的经销区域",
        "Region asked for": "所选区域",
        "Region of the network (no territory assigned)": "网络所在区域（未分配经销区域）",
    },
)
BASIS_WORDS = {  # basis -> what a page calls it
    "assigned": "Assigned territory",
    "named": "Region asked for",
    "network": "Region of the network (no territory assigned)",
}


@dataclass
class BreadthUnit:
    code: str
    name: str
    level: str
    outlets: int

    @property
    def reached(self) -> bool:
        return self.outlets > 0


@dataclass
class TerritoryBreadth:
    basis: str  # one of BASES
    kind: str  # "regions" | "polygon"
    regions: list[str]  # the territory's region codes (empty: a drawn polygon)
    area_m2: float
    units: list[BreadthUnit]
    cell_km: float
    cells: int
    reached_cells: int

    @property
    def reached_units(self) -> int:
        return sum(u.reached for u in self.units)

    @property
    def unit_share(self) -> float | None:
        return self.reached_units / len(self.units) if self.units else None

    @property
    def cell_share(self) -> float | None:
        return self.reached_cells / self.cells if self.cells else None

    @property
    def level(self) -> str | None:
        """The level of the sub-regions (the most frequent one when they mix)."""
        levels = [u.level for u in self.units]
        return max(set(levels), key=levels.count) if levels else None

    def to_dict(self) -> dict:
        return {
            "basis": self.basis,
            "kind": self.kind,
            "regions": self.regions,
            "area_km2": self.area_m2 / 1e6,
            "sub_regions": {
                "level": self.level,
                "units": len(self.units),
                "reached": self.reached_units,
                "share": self.unit_share,
                "detail": [
                    {
                        "code": u.code,
                        "name": u.name,
                        "level": u.level,
                        "outlets": u.outlets,
                        "reached": u.reached,
                    }
                    for u in self.units
                ],
            },
            "hexagons": {
                "cell_km": self.cell_km,
                "cell_area_km2": HexGrid(self.cell_km * 1000.0).cell_area_m2 / 1e6,
                "cells": self.cells,
                "reached": self.reached_cells,
                "share": self.cell_share,
            },
        }


@dataclass
class Territory:
    basis: str
    kind: str
    region_ids: list[int]
    geom: shapely.Geometry  # WGS-84 (Multi)Polygon
    area_m2: float


def assigned_territory(session: Session, distributor_id: int) -> Territory | None:
    """The distributor's assigned territory, or None."""
    t = TERRITORIES
    row = session.execute(
        select(t.c.region_ids, func.ST_AsBinary(t.c.geom), t.c.area_m2).where(
            t.c.distributor_id == distributor_id
        )
    ).first()
    if row is None:
        return None
    ids, wkb, area = row
    return Territory(
        "assigned",
        "regions" if ids else "polygon",
        list(ids or []),
        shapely.from_wkb(bytes(wkb)),
        float(area or 0.0),
    )


def region_territory(session: Session, region_id: int, basis: str) -> Territory:
    """One region as a territory (a named one, or the network's region)."""
    wkb, area = session.execute(
        select(func.ST_AsBinary(REGIONS.c.boundary), REGIONS.c.area_m2).where(
            REGIONS.c.id == region_id
        )
    ).one()
    return Territory(basis, "regions", [region_id], shapely.from_wkb(bytes(wkb)), float(area))


_LEAVES_BELOW = """
WITH RECURSIVE below AS (
    SELECT id FROM regions WHERE id = ANY(CAST(:roots AS int[]))
    UNION
    SELECT c.id FROM regions c JOIN below b ON c.parent_id = b.id)
SELECT r.id, r.code, r.name, r.level FROM regions r JOIN below b ON b.id = r.id
 WHERE NOT EXISTS (SELECT 1 FROM regions c WHERE c.parent_id = r.id)
 ORDER BY r.code"""

_LEAVES_IN_POLYGON = """
WITH shape AS (SELECT ST_GeomFromWKB(:wkb, 4326) AS g),
leaves AS (
    SELECT r.id, r.code, r.name, r.level, r.boundary FROM regions r, shape s
     WHERE ST_Intersects(r.boundary, s.g)
       AND NOT EXISTS (SELECT 1 FROM regions c WHERE c.parent_id = r.id))
SELECT l.id, l.code, l.name, l.level,
       ST_Intersects(ST_PointOnSurface(l.boundary), s.g) AS inside
  FROM leaves l, shape s ORDER BY l.code"""


def territory_units(session: Session, territory: Territory) -> list[tuple[int, str, str, str]]:
    """(id, code, name, level) of the territory's sub-regions (module docstring)."""
    if territory.region_ids:
        rows = session.execute(text(_LEAVES_BELOW), {"roots": territory.region_ids}).all()
        return [tuple(r) for r in rows]
    rows = session.execute(text(_LEAVES_IN_POLYGON), {"wkb": shapely.to_wkb(territory.geom)}).all()
    inside = [tuple(r[:4]) for r in rows if r.inside]
    return inside or [tuple(r[:4]) for r in rows]


@functools.lru_cache(maxsize=2)
def _network_statement(status: bool) -> Select:
    """Region id, lon and lat of every outlet below distributor ``distributor_id`` (of
    ``status`` when given)."""
    o = OUTLETS
    network = outlet_tree(o.c.id == bindparam("distributor_id", type_=BigInteger))
    where = [network.c.depth > 0]
    if status:
        where.append(o.c.status == bindparam("status", type_=String))
    return (
        select(o.c.region_id, func.ST_X(o.c.location), func.ST_Y(o.c.location))
        .select_from(network.join(o, o.c.id == network.c.id))
        .where(*where)
    )


def choose_cell_km(territory: Territory, cell_km: float | None, params: AnalysisParams) -> float:
    """The cell size asked for (checked against the analyses' limits and the cell budget of
    ``params.max_cells``), or one chosen from the territory's area."""
    if cell_km is None:
        cell = auto_cell_km(territory.area_m2, target=TARGET_CELLS)
    else:
        cell = cell_km
    checked = params.with_(cell_km=cell).check()
    checked.check_cells(territory.area_m2, "of the territory")
    return cell


def territory_breadth(
    session: Session,
    distributor_id: int,
    territory: Territory,
    params: AnalysisParams,
    *,
    cell_km: float | None = None,
) -> TerritoryBreadth:
    """Both breadths of the network of ``distributor_id`` over ``territory``."""
    cell = choose_cell_km(territory, cell_km, params)
    rows = session.execute(
        _network_statement(params.status is not None),
        {"distributor_id": distributor_id, "status": params.status},
    ).all()
    per_region: dict[int, int] = {}
    lon, lat = [], []
    for region_id, x, y in rows:
        if region_id is not None:
            per_region[region_id] = per_region.get(region_id, 0) + 1
        if x is not None:
            lon.append(x)
            lat.append(y)
    units = [
        BreadthUnit(code, name, level, per_region.get(rid, 0))
        for rid, code, name, level in territory_units(session, territory)
    ]
    cells, reached = hexagon_reach(territory.geom, np.array(lon), np.array(lat), cell * 1000.0)
    return TerritoryBreadth(
        basis=territory.basis,
        kind=territory.kind,
        regions=region_codes(session, territory.region_ids),
        area_m2=territory.area_m2,
        units=units,
        cell_km=cell,
        cells=cells,
        reached_cells=reached,
    )


def hexagon_reach(geom, lon: np.ndarray, lat: np.ndarray, width_m: float) -> tuple[int, int]:
    """(cells of the territory, cells holding at least one of the points): hexagons of
    ``width_m`` across flats in a Lambert equal-area frame centred on the territory, a cell
    being the territory's when its centre lies inside it."""
    c = geom.centroid
    frame = MetricFrame(*(round(v, 6) for v in frame_centre(geom, c.x, c.y)))
    shape_m = shapely.make_valid(frame.geom_to_m(geom))
    grid = HexGrid(width_m)
    row, col = grid.cells_in(shape_m)
    if not len(row):
        return 0, 0
    if not len(lon):
        return len(row), 0
    x, y = frame.to_m(lon, lat)
    prow, pcol = grid.cell_of(np.asarray(x), np.asarray(y))
    mine = np.unique(row.astype(np.int64) * (1 << 32) + (col.astype(np.int64) & 0xFFFFFFFF))
    held = np.unique(prow.astype(np.int64) * (1 << 32) + (pcol.astype(np.int64) & 0xFFFFFFFF))
    return len(mine), int(np.isin(held, mine).sum())
