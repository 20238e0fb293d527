"""What the map pages read: regions with boundaries, and outlets as the maps draw them.

Statements are built on the services' own builders (``select_outlets(OutletFilters)``,
``region_subtree``) and only add what a popup shows (parent and region names, last geotag,
sales in the period, debt). They live beside the pages because nothing else needs them; they
would move to ``services/`` unchanged if a report ever does.

Outlets come in two shapes (see ``geo_crm.maps.points``): full rows for the tiers drawn as
points, and bare coordinates for the tiers counted per hexagon, so a region of 100,000 outlets
never loads 100,000 names.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    LargeBinary,
    Select,
    SmallInteger,
    and_,
    any_,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..domain.outlets import OutletFilters, select_outlets
from ..errors import NotFound
from ..i18n import Translator
from ..maps.base import RegionShape
from ..maps.points import OutletCoords, OutletRows, plan_tiers
from ..models import TIERS, GeotagEvent, Outlet, Region, SalesRecord

LOGGER = logging.getLogger(__name__)

OUTLETS = Outlet.__table__
REGIONS = Region.__table__
SALES = SalesRecord.__table__
EVENTS = GeotagEvent.__table__


@dataclass
class RegionInfo:
    id: int
    code: str
    name: str
    name_en: str | None
    level: str
    parent_id: int | None
    area_m2: float
    shape: RegionShape | None = None

    def label(self, t: Translator) -> str:
        return self.name_en if t.lang == "en" and self.name_en else self.name


def _region_columns(with_boundary: bool):
    r = REGIONS
    cols = [r.c.id, r.c.code, r.c.name, r.c.name_en, r.c.level, r.c.parent_id, r.c.area_m2]
    if with_boundary:
        cols += [
            func.ST_AsBinary(r.c.boundary).label("wkb"),
            func.ST_X(r.c.label_point).label("lx"),
            func.ST_Y(r.c.label_point).label("ly"),
        ]
    return cols


def _infos(rows, t: Translator | None, with_boundary: bool) -> list[RegionInfo]:
    rows = list(rows)
    geoms = (
        shapely.from_wkb([bytes(r.wkb) for r in rows])
        if with_boundary and rows
        else [None] * len(rows)
    )
    out = []
    for r, g in zip(rows, geoms, strict=True):
        info = RegionInfo(r.id, r.code, r.name, r.name_en, r.level, r.parent_id, r.area_m2)
        if with_boundary:
            name = info.label(t) if t else info.name
            label = (r.lx, r.ly) if r.lx is not None else None
            info.shape = RegionShape(r.code, name, g, r.level, label)
        out.append(info)
    return out


def region(
    session: Session, code: str, t: Translator | None = None, *, boundary: bool = True
) -> RegionInfo:
    rows = session.execute(select(*_region_columns(boundary)).where(REGIONS.c.code == code)).all()
    if not rows:
        raise NotFound(f"no region with code {code!r}", fields={"code": "not found"})
    return _infos(rows, t, boundary)[0]


def subregions(
    session: Session, region_id: int, t: Translator | None = None, *, boundary: bool = True
) -> list[RegionInfo]:
    rows = session.execute(
        select(*_region_columns(boundary))
        .where(REGIONS.c.parent_id == region_id)
        .order_by(REGIONS.c.code)
    ).all()
    return _infos(rows, t, boundary)


def ancestors(session: Session, region_id: int) -> list[RegionInfo]:
    """The chain above a region, top (country) first, without the region itself."""
    r = REGIONS
    chain = (
        select(r.c.id, r.c.parent_id, literal(0).label("depth"))
        .where(r.c.id == region_id)
        .cte("chain", recursive=True)
    )
    up = r.alias("up")
    chain = chain.union_all(
        select(up.c.id, up.c.parent_id, chain.c.depth + 1).where(
            up.c.id == chain.c.parent_id, chain.c.depth < 8
        )
    )
    rows = session.execute(
        select(*_region_columns(False))
        .join(chain, chain.c.id == r.c.id)
        .where(chain.c.depth > 0)
        .order_by(chain.c.depth.desc())
    ).all()
    return _infos(rows, None, False)


# -- outlets -------------------------------------------------------------------------------


@dataclass
class OutletLayer:
    rows: OutletRows | None
    coords: OutletCoords | None
    counts: dict[str, int]


def _filtered(filters: OutletFilters, scope: ColumnElement | None) -> Select:
    stmt = select_outlets(filters).order_by(None)
    return stmt.where(scope) if scope is not None else stmt


def outlet_points(
    session: Session, filters: OutletFilters, scope: ColumnElement | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """id, lon, lat and tier index of every located outlet passing the filters.

    The database packs each column into one byte string (``string_agg`` of the values' binary
    send form) and numpy reads it as it is: a million outlets in ~0.7 s, where a million
    Python tuples take seconds.
    """
    sub = _filtered(filters, scope).subquery("o")
    sep = literal(b"", LargeBinary)
    rank = cast(func.geo_crm_tier_rank(sub.c.tier), SmallInteger)
    ids, lon, lat, tier = session.execute(
        select(
            func.string_agg(func.int8send(sub.c.id), sep),
            func.string_agg(func.float8send(sub.c.lon), sep),
            func.string_agg(func.float8send(sub.c.lat), sep),
            func.string_agg(func.int2send(rank), sep),
        ).where(sub.c.lon.is_not(None))
    ).one()
    if lon is None:
        return np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0, dtype=np.int64)
    return (
        np.frombuffer(bytes(ids), ">i8").astype(np.int64),
        np.frombuffer(bytes(lon), ">f8").astype(np.float64),
        np.frombuffer(bytes(lat), ">f8").astype(np.float64),
        np.frombuffer(bytes(tier), ">i2").astype(np.int64) - 1,
    )


def outlet_rows(
    session: Session,
    filters: OutletFilters,
    *,
    date_from: dt.date | None,
    date_to: dt.date | None,
    product_id: int | None = None,
    scope: ColumnElement | None = None,
) -> tuple[OutletRows, list[int], list[int | None]]:
    """Located outlets with popup fields; also their ids and parent ids (for supply links).

    Two steps: the ids from ``select_outlets`` (so every filter means what the API says), then
    the popup columns by id — index look-ups, instead of joins the planner may turn into hash
    joins over the whole outlets table.
    """
    sub = _filtered(filters, scope).subquery("o")
    ids = list(session.scalars(select(sub.c.id).where(sub.c.lon.is_not(None)).order_by(sub.c.id)))
    return popup_rows(session, ids, date_from=date_from, date_to=date_to, product_id=product_id)


def popup_rows(
    session: Session,
    ids: list[int],
    *,
    date_from: dt.date | None,
    date_to: dt.date | None,
    product_id: int | None = None,
) -> tuple[OutletRows, list[int], list[int | None]]:
    """The outlets ``ids`` (located ones, in id order) with popup fields; also their ids and
    parent ids."""
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
    """Rows for the tiers that fit ``limit`` (top tier first), coordinates for the rest."""
    located = OutletFilters(**{**filters.__dict__, "geotagged": True})
    ids, lon, lat, tier = outlet_points(session, located, scope)
    return outlet_layer_of(
        session,
        ids,
        lon,
        lat,
        tier,
        limit=limit,
        date_from=date_from,
        date_to=date_to,
        product_id=product_id,
    )


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
    """Rows for the tiers that fit ``limit`` (top tier first), coordinates for the rest, from
    outlets already fetched (ids, coordinates, tier index): only the popup rows of the tiers
    drawn as points are read, by id."""
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


def distributors_in(
    session: Session, region_code: str, scope: ColumnElement | None = None, limit: int = 500
) -> list[tuple[str, str]]:
    """(code, name) of the region's distributors, for the filter form."""
    sub = _filtered(
        OutletFilters(tier=["distributor"], region=region_code, status=["active"]), scope
    )
    sub = sub.subquery("d")
    return [
        tuple(r)
        for r in session.execute(select(sub.c.code, sub.c.name).order_by(sub.c.name).limit(limit))
    ]


def history_points(session: Session, outlet_id: int) -> list[dict]:
    """The outlet's geotag events, oldest first, with the new position of each."""
    e = EVENTS
    stmt = (
        select(
            func.ST_X(e.c.new_location).label("lon"),
            func.ST_Y(e.c.new_location).label("lat"),
            e.c.created_at,
            e.c.captured_at,
            e.c.source,
            e.c.accuracy_m,
            e.c.state,
        )
        .where(e.c.outlet_id == outlet_id)
        .order_by(e.c.created_at, e.c.id)
    )
    return [dict(r) for r in session.execute(stmt).mappings()]


def sales_by_seller(
    session: Session, seller_id: int, date_from: dt.date | None, date_to: dt.date | None
) -> dict:
    """What an outlet sold in the period and what its buyers still owe it (all time)."""
    s = SALES
    period = [s.c.seller_id == seller_id]
    if date_from is not None:
        period.append(s.c.sale_date >= date_from)
    if date_to is not None:
        period.append(s.c.sale_date <= date_to)
    amount, quantity = session.execute(
        select(
            func.coalesce(func.sum(s.c.amount), 0), func.coalesce(func.sum(s.c.quantity), 0)
        ).where(*period)
    ).one()
    owed = session.scalar(
        select(func.coalesce(func.sum(s.c.debt), 0)).where(
            and_(s.c.seller_id == seller_id, s.c.amount_paid < s.c.amount)
        )
    )
    return {"amount": amount, "quantity": quantity, "receivable": owed}


def ids_to_index(ids: Sequence[int], parent_ids: Sequence[int | None]) -> list[int | None]:
    pos = {i: k for k, i in enumerate(ids)}
    return [pos.get(p) if p is not None else None for p in parent_ids]


_FACE_SQL_BUDGET = 21  # issue 12: SQL lines left in this face; goes to 0
