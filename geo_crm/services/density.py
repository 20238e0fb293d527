"""Sales density: amount and quantity of sales records, by the buyer's location, per hexagon
cell and per sub-region, absolute and per km².

Records are summed per buyer in PostgreSQL (amounts as integer fen, quantities as integer
thousandths, so the sums are exact) and come back packed in a few byte strings; the cells are
computed in numpy. A record counts for the region when its buyer's smallest region lies in the
region's subtree. Records whose buyer has no location cannot be placed: they are reported as
``unlocated`` (for the whole network passing the filters), never dropped silently.

Cells are those holding at least one buyer of the region; a border cell counts its whole
hexagon area in "per km²". Sub-region density divides by the sub-region's geodesic area.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from sqlalchemy.orm import Session

from ..models import TIERS
from .analysis_frame import fetch_columns, load_region, outlet_filter_sql
from .analysis_params import AnalysisParams, Resolved, resolve
from .hexgrid import HexGrid

LOGGER = logging.getLogger(__name__)

DEFAULT_LIMIT = 2000
MAX_LIMIT = 5000
CENT = Decimal("0.01")
MILLI = Decimal("0.001")
_OFFSET = 2**24  # cell rows/cols fit in ±2^24 (16 M cells of >= 50 m: 800,000 km)
_SPAN = 2**25


@dataclass
class Totals:
    records: int = 0
    amount_fen: int = 0  # 1/100 of the currency unit
    quantity_milli: int = 0

    @property
    def amount(self) -> Decimal:
        return Decimal(self.amount_fen) * CENT

    @property
    def quantity(self) -> Decimal:
        return Decimal(self.quantity_milli) * MILLI

    def to_dict(self, area_km2: float | None = None) -> dict:
        out = {
            "records": self.records,
            "amount": float(self.amount),
            "quantity": float(self.quantity),
        }
        if area_km2 is not None:
            out["area_km2"] = area_km2
            out["amount_per_km2"] = float(self.amount) / area_km2 if area_km2 > 0 else None
            out["quantity_per_km2"] = float(self.quantity) / area_km2 if area_km2 > 0 else None
        return out


@dataclass
class DensityCell:
    row: int
    col: int
    buyers: int
    totals: Totals
    outline: list | None = None

    def feature(self, area_km2: float) -> dict:
        return {
            "type": "Feature",
            "id": f"{self.row}:{self.col}",
            "geometry": {"type": "Polygon", "coordinates": [self.outline]}
            if self.outline
            else None,
            "properties": {
                "row": self.row,
                "col": self.col,
                "buyers": self.buyers,
                **self.totals.to_dict(area_km2),
            },
        }


@dataclass
class SubRegionDensity:
    code: str | None
    name: str | None
    area_m2: float
    buyers: int
    totals: Totals

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "buyers": self.buyers,
            **self.totals.to_dict(self.area_m2 / 1e6 if self.area_m2 else None),
        }


@dataclass
class DensityResult:
    region_code: str
    region_name: str
    area_m2: float
    tiers: list[str]
    cell_km: float
    cell_area_km2: float
    total: Totals
    buyers: int
    cell_count: int
    cells: list[DensityCell]  # the first ``limit`` cells by amount
    sub_regions: list[SubRegionDensity]  # last entry: the region outside every child, when any
    unlocated: Totals
    unlocated_buyers: int
    filters: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "region": {"code": self.region_code, "name": self.region_name},
            "filters": self.filters,
            "tiers": self.tiers,
            "cell_km": self.cell_km,
            "cell_area_km2": self.cell_area_km2,
            "buyers": self.buyers,
            "total": self.total.to_dict(self.area_m2 / 1e6),
            "cell_count": self.cell_count,
            "returned": len(self.cells),
            "cells": {
                "type": "FeatureCollection",
                "features": [c.feature(self.cell_area_km2) for c in self.cells],
            },
            "sub_regions": [s.to_dict() for s in self.sub_regions],
            "unlocated": {"buyers": self.unlocated_buyers, **self.unlocated.to_dict()},
        }


def _record_conditions(resolved: Resolved) -> tuple[str, dict]:
    conds, args = ["TRUE"], {}
    p = resolved.params
    if resolved.product_id is not None:
        conds.append("s.product_id = %(product_id)s")
        args["product_id"] = resolved.product_id
    if p.date_from is not None:
        conds.append("s.sale_date >= %(date_from)s")
        args["date_from"] = p.date_from
    if p.date_to is not None:
        conds.append("s.sale_date <= %(date_to)s")
        args["date_to"] = p.date_to
    return " AND ".join(conds), args


def buyer_sums(
    session: Session, resolved: Resolved, tiers: tuple[str, ...], region_ids: list[int] | None
) -> dict[str, np.ndarray]:
    """Per buyer passing the filters: location, region and exact sums of its records.

    ``region_ids=None`` selects the buyers without a location instead.
    """
    prefix, where, args = outlet_filter_sql(resolved, tiers)
    rec_where, rec_args = _record_conditions(resolved)
    args.update(rec_args)
    if region_ids is None:
        where += " AND o.location IS NULL"
    else:
        where += " AND o.region_id = ANY(CAST(%(region_ids)s AS int[])) AND o.location IS NOT NULL"
        args["region_ids"] = region_ids
    # per buyer through the buyer index: a region's buyers find their records without a scan
    # (or a hash) of every record in the country
    query = f"""{prefix} /*SELECT*/
        SELECT o.id::int8 AS id, coalesce(ST_X(o.location), 0)::float8 AS lon,
               coalesce(ST_Y(o.location), 0)::float8 AS lat,
               coalesce(o.region_id, 0)::int8 AS region_id, s.records, s.fen, s.milli
          FROM outlets o CROSS JOIN LATERAL (
                SELECT count(*)::int8 AS records,
                       coalesce(sum((s.amount * 100)::int8), 0)::int8 AS fen,
                       coalesce(sum((s.quantity * 1000)::int8), 0)::int8 AS milli
                  FROM sales_records s WHERE s.buyer_id = o.id AND {rec_where}) s
         WHERE {where} AND s.records > 0"""
    columns = [("id", "int8"), ("lon", "float8"), ("lat", "float8"), ("region_id", "int8")]
    sums = [("records", "int8"), ("fen", "int8"), ("milli", "int8")]
    return fetch_columns(session, query, args, columns + sums)


def _group_sums(keys: np.ndarray, *values: np.ndarray):
    """Unique keys and exact int64 sums of each value array per key."""
    if not len(keys):
        return keys, [np.empty(0, np.int64) for _ in values]
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    return k[starts], [np.add.reduceat(v[order], starts) for v in values]


def density(
    session: Session,
    region_code: str,
    params: AnalysisParams | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    geometry: bool = True,
) -> DensityResult:
    """Sales per hexagon cell and per sub-region of ``region_code`` for the filtered records."""
    params = params or AnalysisParams(status=None)
    resolved = resolve(session, params, region_code=region_code)
    region = load_region(session, region_code)
    params.check_cells(region.area_m2, region.code)
    tiers = tuple(t for t in TIERS if t in params.tiers)
    grid = HexGrid(params.cell_km * 1000.0)
    b = buyer_sums(session, resolved, tiers, region.subtree_ids)
    x, y = region.frame.to_m(b["lon"], b["lat"])
    row, col = grid.cell_of(x, y)
    key = (row + _OFFSET) * _SPAN + (col + _OFFSET)
    ones = np.ones(len(key), np.int64)
    ukey, (n_buyers, n_rec, fen, milli) = _group_sums(key, ones, b["records"], b["fen"], b["milli"])
    order = np.lexsort((ukey, -fen))[: max(0, min(limit, MAX_LIMIT))]
    cells = []
    c_row = (ukey // _SPAN - _OFFSET)[order]
    c_col = (ukey % _SPAN - _OFFSET)[order]
    outlines = _outlines(region, grid, c_row, c_col) if geometry else [None] * len(order)
    for n, i in enumerate(order.tolist()):
        cells.append(
            DensityCell(
                int(c_row[n]),
                int(c_col[n]),
                int(n_buyers[i]),
                Totals(int(n_rec[i]), int(fen[i]), int(milli[i])),
                outlines[n],
            )
        )
    child = region.child_index(b["region_id"])
    subs = []
    if region.children:
        ckey, (cb, cr, cf, cm) = _group_sums(child, ones, b["records"], b["fen"], b["milli"])
        found = dict(
            zip(
                ckey.tolist(),
                zip(cb.tolist(), cr.tolist(), cf.tolist(), cm.tolist(), strict=True),
                strict=True,
            )
        )
        for i, c in enumerate(region.children):
            nb, nr, nf, nm = found.get(i, (0, 0, 0, 0))
            subs.append(SubRegionDensity(c.code, c.name, c.area_m2, nb, Totals(nr, nf, nm)))
        if -1 in found:
            nb, nr, nf, nm = found[-1]
            own = region.area_m2 - sum(c.area_m2 for c in region.children)
            subs.append(SubRegionDensity(None, None, max(own, 0.0), nb, Totals(nr, nf, nm)))
    u = buyer_sums(session, resolved, tiers, None)
    p = params
    return DensityResult(
        region_code=region.code,
        region_name=region.name,
        area_m2=region.area_m2,
        tiers=list(tiers),
        cell_km=params.cell_km,
        cell_area_km2=grid.cell_area_m2 / 1e6,
        total=Totals(int(b["records"].sum()), int(b["fen"].sum()), int(b["milli"].sum())),
        buyers=len(b["id"]),
        cell_count=len(ukey),
        cells=cells,
        sub_regions=subs,
        unlocated=Totals(int(u["records"].sum()), int(u["fen"].sum()), int(u["milli"].sum())),
        unlocated_buyers=len(u["id"]),
        filters={
            "product": p.product,
            "date_from": p.date_from and p.date_from.isoformat(),
            "date_to": p.date_to and p.date_to.isoformat(),
            "status": p.status,
            "distributor": p.distributor,
        },
    )


def _outlines(region, grid: HexGrid, row, col) -> list:
    if not len(row):
        return []
    rings = grid.outlines(np.asarray(row), np.asarray(col))
    lon, lat = region.frame.to_lonlat(rings[..., 0].ravel(), rings[..., 1].ravel())
    return np.round(np.stack([lon, lat], axis=-1).reshape(rings.shape), 6).tolist()
