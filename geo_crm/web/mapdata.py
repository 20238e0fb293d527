"""What the map pages read, moved to the domain in issue 12: regions to ``domain.regions``,
outlets as maps draw them to ``domain.outlet_layers``, distributors to ``domain.network``, the
location track to ``domain.geotagging``, a seller's figures to ``domain.sales``.

This shim keeps the pages' calls (and their ``scope`` clauses) working until the pages call the
domain themselves; then it goes. It runs no SQL of its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

import numpy as np
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from ..domain import outlet_layers
from ..domain import regions as domain_regions
from ..domain.geotagging import history_points as history_points
from ..domain.network import distributors_in as distributors_in
from ..domain.outlet_layers import OutletLayer as OutletLayer
from ..domain.outlet_layers import OutletPoints, OutletRows, parent_index
from ..domain.outlet_layers import popup_rows as popup_rows
from ..domain.outlets import OutletFilters
from ..domain.regions import ancestors as ancestors
from ..domain.sales import seller_summary
from ..i18n import Translator
from ..maps.base import RegionShape

ids_to_index = parent_index


@dataclass
class RegionInfo(domain_regions.RegionInfo):
    """The domain's region with the shape the map builders draw (named in ``t``'s language)."""

    shape: RegionShape | None = None


def _drawable(info: domain_regions.RegionInfo, t: Translator | None) -> RegionInfo:
    shape = None
    if info.boundary is not None:
        name = info.label(t) if t else info.name
        shape = RegionShape(info.code, name, info.boundary, info.level, info.label_point)
    values = {f.name: getattr(info, f.name) for f in fields(domain_regions.RegionInfo)}
    return RegionInfo(**values, shape=shape)


def region(
    session: Session, code: str, t: Translator | None = None, *, boundary: bool = True
) -> RegionInfo:
    return _drawable(domain_regions.get_region(session, code, boundary=boundary), t)


def subregions(
    session: Session, region_id: int, t: Translator | None = None, *, boundary: bool = True
) -> list[RegionInfo]:
    return [
        _drawable(info, t)
        for info in domain_regions.subregions(session, region_id, boundary=boundary)
    ]


def outlet_layer(
    session: Session,
    filters: OutletFilters,
    *,
    limit: int,
    date_from: dt.date | None,
    date_to: dt.date | None,
    product_id: int | None = None,
    scope: ColumnElement | None = None,
) -> OutletLayer:
    located = OutletFilters(**{**filters.__dict__, "geotagged": True})
    points = outlet_layers._points(session, located, scope)
    return outlet_layers._layer(session, points, limit, date_from, date_to, product_id)


def outlet_layer_of(
    session: Session,
    ids: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    tier: np.ndarray,
    *,
    limit: int,
    date_from: dt.date | None,
    date_to: dt.date | None,
    product_id: int | None = None,
) -> OutletLayer:
    points = OutletPoints(ids, lon, lat, tier, None)
    return outlet_layers._layer(session, points, limit, date_from, date_to, product_id)


def outlet_rows(
    session: Session,
    filters: OutletFilters,
    *,
    date_from: dt.date | None,
    date_to: dt.date | None,
    product_id: int | None = None,
    scope: ColumnElement | None = None,
) -> tuple[OutletRows, list[int], list[int | None]]:
    return outlet_layers._rows(
        session, filters, scope, date_from=date_from, date_to=date_to, product_id=product_id
    )


def sales_by_seller(
    session: Session, seller_id: int, date_from: dt.date | None, date_to: dt.date | None
) -> dict:
    return seller_summary(session, seller_id, date_from=date_from, date_to=date_to)
