"""Outlets as the maps draw them: packed points, popup rows, and the layer of a region or network.

Statements are built on the outlet list's own builder (``select_outlets(OutletFilters)``), so
every filter means what the API says, and only add what a popup shows (parent and region
names, last geotag, sales in the period, debt).

Outlets come in two shapes (drawn by ``geo_crm.maps.points``): full rows for the tiers drawn
as points, and bare coordinates for the tiers counted per hexagon, so a region of 100,000
outlets never loads 100,000 names. Which tiers are which follows from the counts per tier and
the map's point limit (:func:`plan_tiers`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    any_,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..db.hotpath import Field, fetch_records
from ..models import TIERS, GeotagEvent, Outlet, Region, SalesRecord
from .access import outlet_scope
from .outlets import OutletFilters, select_outlets
from .principal import Principal

OUTLETS = Outlet.__table__
REGIONS = Region.__table__
SALES = SalesRecord.__table__
EVENTS = GeotagEvent.__table__


# -- what the maps draw --------------------------------------------------------------------


@dataclass
class OutletRows:
    """Outlets drawn one by one, with what their popup shows (WGS-84 lon/lat)."""

    lon: np.ndarray
    lat: np.ndarray
    tier: Sequence[str]
    code: Sequence[str]
    name: Sequence[str]
    parent: Sequence[str | None]  # the parent's name (and code), as shown
    region: Sequence[str | None]
    last_geotag: Sequence[dt.date | dt.datetime | None]
    sales: Sequence[object]  # amount in the period (Decimal/float) or None
    debt: Sequence[object]

    def __len__(self) -> int:
        return len(self.code)


@dataclass
class OutletCoords:
    """Outlets only counted per hexagon: coordinates and tier (names, or indexes into TIERS)."""

    lon: np.ndarray
    lat: np.ndarray
    tier: Sequence[str] | np.ndarray

    def __len__(self) -> int:
        return len(self.lon)


@dataclass
class OutletPoints:
    """Located outlets as arrays (what maps and analyses fetch in bulk)."""

    ids: np.ndarray | None  # None when not fetched (``fields``)
    lon: np.ndarray
    lat: np.ndarray
    tier: np.ndarray  # index into models.TIERS
    region_id: np.ndarray | None  # 0 when the point lies in no region; None when not fetched
    # the lon/lat box the fetch was limited to; None: every outlet passing the filters
    envelope: tuple[float, float, float, float] | None = None

    def __len__(self) -> int:
        return len(self.lon)

    def take(self, mask) -> OutletPoints:
        return OutletPoints(
            self.ids[mask] if self.ids is not None else None,
            self.lon[mask],
            self.lat[mask],
            self.tier[mask],
            self.region_id[mask] if self.region_id is not None else None,
            self.envelope,
        )


@dataclass
class OutletLayer:
    """A map's outlets: rows of the tiers drawn as points, coordinates of the tiers counted per
    hexagon, and how many outlets each tier has."""

    rows: OutletRows | None
    coords: OutletCoords | None
    counts: dict[str, int]


def plan_tiers(counts: Mapping[str, int], limit: int) -> tuple[list[str], list[str]]:
    """Which tiers are drawn as points and which are counted, top tier first."""
    points, counted, total = [], [], 0
    for tier in TIERS:
        n = int(counts.get(tier, 0))
        if not counted and total + n <= limit:
            points.append(tier)
            total += n
        elif n:
            counted.append(tier)
    return points, counted


# -- reads ---------------------------------------------------------------------------------


def _scope(user: Principal | None) -> ColumnElement[bool] | None:
    """The condition on ``outlets`` limiting what ``user`` sees; None: everything."""
    return None if user is None or user.is_admin else outlet_scope(user, OUTLETS)


def _filtered(filters: OutletFilters, scope: ColumnElement | None) -> Select:
    stmt = select_outlets(filters).order_by(None)
    return stmt.where(scope) if scope is not None else stmt


def outlet_points(
    session: Session, filters: OutletFilters, *, user: Principal | None = None
) -> OutletPoints:
    """Id, lon, lat and tier index of every located outlet passing the filters that ``user``
    (None: the system) may see."""
    return _points(session, filters, _scope(user))


def _points(session: Session, filters: OutletFilters, scope: ColumnElement | None) -> OutletPoints:
    # one packed record per outlet in one byte string, read by numpy as it is: Python tuples
    # per outlet would cost more than the query (db.hotpath.fetch_records)
    sub = _filtered(filters, scope).subquery("o")
    fields = [
        Field("id", sub.c.id, "i8"),
        Field("lon", sub.c.lon, "f8"),
        Field("lat", sub.c.lat, "f8"),
        Field("tier", func.geo_crm_tier_rank(sub.c.tier), "i2"),
    ]
    data = fetch_records(session, fields, from_=sub, where=[sub.c.lon.is_not(None)])
    return OutletPoints(
        data["id"].astype(np.int64),
        data["lon"].astype(np.float64),
        data["lat"].astype(np.float64),
        data["tier"].astype(np.int64) - 1,
        None,
    )


def popup_rows(
    session: Session,
    ids: Sequence[int],
    *,
    date_from: dt.date | None,
    date_to: dt.date | None,
    product_id: int | None = None,
) -> tuple[OutletRows, list[int], list[int | None]]:
    """The outlets ``ids`` (located ones, in id order) with popup fields; also their ids and
    parent ids. Scope is the caller's: ``ids`` come from a scoped read.

    By id: index look-ups, instead of joins the planner may turn into hash joins over the
    whole outlets table."""
    ids = list(ids)
    wanted = any_(literal(ids, ARRAY(BigInteger)))
    o, s = OUTLETS, SALES
    sales_conds = [s.c.buyer_id == wanted]
    if date_from is not None:
        sales_conds.append(s.c.sale_date >= date_from)
    if date_to is not None:
        sales_conds.append(s.c.sale_date <= date_to)
    if product_id is not None:
        sales_conds.append(s.c.product_id == product_id)
    sales = (
        select(s.c.buyer_id, func.sum(s.c.amount).label("amount"))
        .where(*sales_conds)
        .group_by(s.c.buyer_id)
        .subquery("sales")
    )
    debt = (
        select(s.c.buyer_id, func.sum(s.c.debt).label("debt"))
        .where(s.c.buyer_id == wanted, s.c.amount_paid < s.c.amount)
        .group_by(s.c.buyer_id)
        .subquery("debt")
    )
    tagged = (
        select(EVENTS.c.outlet_id, func.max(EVENTS.c.created_at).label("at"))
        .where(EVENTS.c.outlet_id == wanted, EVENTS.c.state != "rejected")
        .group_by(EVENTS.c.outlet_id)
        .subquery("tagged")
    )
    parent = OUTLETS.alias("popup_parent")
    reg = REGIONS.alias("popup_region")
    stmt = (
        select(
            o.c.id,
            o.c.parent_id,
            func.ST_X(o.c.location).label("lon"),
            func.ST_Y(o.c.location).label("lat"),
            o.c.tier,
            o.c.code,
            o.c.name,
            parent.c.name.label("parent_name"),
            parent.c.code.label("parent_code"),
            reg.c.name.label("region_name"),
            tagged.c.at,
            sales.c.amount,
            debt.c.debt,
        )
        .select_from(
            o.outerjoin(parent, parent.c.id == o.c.parent_id)
            .outerjoin(reg, reg.c.id == o.c.region_id)
            .outerjoin(tagged, tagged.c.outlet_id == o.c.id)
            .outerjoin(sales, sales.c.buyer_id == o.c.id)
            .outerjoin(debt, debt.c.buyer_id == o.c.id)
        )
        .where(o.c.id == wanted)
        .order_by(o.c.id)
    )
    rows = session.execute(stmt).all() if ids else []
    out = OutletRows(
        lon=np.array([r.lon for r in rows], dtype=np.float64),
        lat=np.array([r.lat for r in rows], dtype=np.float64),
        tier=[r.tier for r in rows],
        code=[r.code for r in rows],
        name=[r.name for r in rows],
        parent=[f"{r.parent_name} ({r.parent_code})" if r.parent_code else None for r in rows],
        region=[r.region_name for r in rows],
        last_geotag=[r.at for r in rows],
        sales=[r.amount for r in rows],
        debt=[r.debt for r in rows],
    )
    return out, [r.id for r in rows], [r.parent_id for r in rows]


def _rows(
    session: Session,
    filters: OutletFilters,
    scope: ColumnElement | None,
    *,
    date_from: dt.date | None,
    date_to: dt.date | None,
    product_id: int | None = None,
) -> tuple[OutletRows, list[int], list[int | None]]:
    """Located outlets passing the filters, with popup fields, ids and parent ids. Two steps:
    the ids from ``select_outlets``, then the popup columns by id (:func:`popup_rows`)."""
    sub = _filtered(filters, scope).subquery("o")
    ids = list(session.scalars(select(sub.c.id).where(sub.c.lon.is_not(None)).order_by(sub.c.id)))
    return popup_rows(session, ids, date_from=date_from, date_to=date_to, product_id=product_id)


def outlet_layer(
    session: Session,
    filters: OutletFilters,
    *,
    user: Principal | None = None,
    limit: int,
    date_from: dt.date | None,
    date_to: dt.date | None,
    product_id: int | None = None,
    prefetched: OutletPoints | None = None,
) -> OutletLayer:
    """The outlets of a region map: rows for the tiers that fit ``limit`` (top tier first),
    coordinates for the rest. ``prefetched``: the same outlets already fetched (ids,
    coordinates, tier; e.g. by the coverage analysis), so only the popup rows of the tiers
    drawn as points are read; otherwise the located outlets passing ``filters`` that ``user``
    may see."""
    if prefetched is None:
        located = OutletFilters(**{**filters.__dict__, "geotagged": True})
        prefetched = _points(session, located, _scope(user))
    return _layer(session, prefetched, limit, date_from, date_to, product_id)


def _layer(
    session: Session,
    points: OutletPoints,
    limit: int,
    date_from: dt.date | None,
    date_to: dt.date | None,
    product_id: int | None,
) -> OutletLayer:
    ids, lon, lat, tier = points.ids, points.lon, points.lat, points.tier
    per_tier = np.bincount(tier, minlength=len(TIERS)) if tier.size else np.zeros(len(TIERS), int)
    counts = {t: int(n) for t, n in zip(TIERS, per_tier.tolist(), strict=True)}
    point_tiers, counted_tiers = plan_tiers(counts, limit)
    rows = coords = None
    if point_tiers and any(counts[t] for t in point_tiers):
        drawn = np.isin(tier, [TIERS.index(t) for t in point_tiers])
        rows, _, _ = popup_rows(
            session,
            np.sort(ids[drawn]).tolist(),
            date_from=date_from,
            date_to=date_to,
            product_id=product_id,
        )
    if counted_tiers:
        keep = np.isin(tier, [TIERS.index(t) for t in counted_tiers])
        coords = OutletCoords(lon[keep], lat[keep], tier[keep])
    return OutletLayer(rows, coords, counts)


def network_layer(
    session: Session,
    distributor: str,
    *,
    user: Principal | None = None,
    date_from: dt.date | None,
    date_to: dt.date | None,
    product_id: int | None = None,
) -> tuple[OutletRows, list[int | None]]:
    """The located active outlets of a distributor's network that ``user`` may see, with popup
    fields, and for each the index of its supplier among them (None: not drawn)."""
    rows, ids, parent_ids = _rows(
        session,
        OutletFilters(distributor=distributor, geotagged=True, status=["active"]),
        _scope(user),
        date_from=date_from,
        date_to=date_to,
        product_id=product_id,
    )
    return rows, parent_index(ids, parent_ids)


def parent_index(ids: Sequence[int], parent_ids: Sequence[int | None]) -> list[int | None]:
    """For each parent id, its position in ``ids`` (None: not among them)."""
    pos = {i: k for k, i in enumerate(ids)}
    return [pos.get(p) if p is not None else None for p in parent_ids]
