"""Distributor territories (经销区域) over HTTP: get and set, one call to
``domain.territories`` each."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import jsonify
from pydantic import Field

from ..analysis import cross_selling
from ..auth.policy import current_user
from ..db import get_session
from ..domain import territories as service
from .analysis import _answer
from .framework import Body, Out, Query, operation
from .schemas import field_names, jsonable

TAGS = ["distributors"]


class TerritoryIn(Body):
    regions: list[str] | None = Field(
        None, max_length=500, description="region codes whose union is the territory"
    )
    polygon: dict[str, Any] | None = Field(
        None,
        description="a drawn territory: GeoJSON Polygon or MultiPolygon (WGS-84), valid and "
        "not crossing itself",
    )


class TerritoryOut(Out):
    distributor_code: str
    distributor_name: str
    kind: str | None = Field(description="regions | polygon; null while none is set")
    regions: list[str]
    geometry: dict[str, Any] | None = Field(description="GeoJSON MultiPolygon, WGS-84")
    area_km2: float | None
    updated_at: dt.datetime | None
    updated_by: str | None


@operation(
    "/distributors/<code>/territory",
    "GET",
    summary="A distributor's territory (经销区域)",
    tags=TAGS,
    responses={200: TerritoryOut, 404: None},
)
def get_territory(code: str):
    """The territory's regions or drawn polygon, its shape and area (kind null: none set)."""
    return jsonify(jsonable(service.get_territory(get_session(), code, user=current_user())))


@operation(
    "/distributors/<code>/territory",
    "PUT",
    summary="Assign a distributor's territory",
    tags=TAGS,
    body=TerritoryIn,
    responses={200: TerritoryOut, 404: None, 422: None},
)
def put_territory(code: str, body: TerritoryIn):
    """Set the territory to a set of regions or a drawn polygon (replacing the one before); an
    invalid or self-crossing polygon is a 422 naming ``body.polygon`` and nothing is stored.
    Sales recorded from then on are checked against it (flag ``outside_territory``)."""
    session = get_session()
    with field_names(session):
        result = service.set_territory(
            session, code, regions=body.regions, polygon=body.polygon, user=current_user()
        )
        session.commit()
    return jsonify(jsonable(result))


class CrossSellingQuery(Query):
    date_from: dt.date | None = Field(None, description="first day (default: 364 days before to)")
    date_to: dt.date | None = Field(None, description="last day (default: today)")
    limit: int = Field(
        cross_selling.DEFAULT_LIMIT, ge=1, le=cross_selling.MAX_LIMIT, description="newest listed"
    )


class CrossSaleOut(Out):
    id: int
    sale_date: str
    flags: list[str]
    review_state: str | None
    amount: str
    seller_code: str
    seller_name: str
    seller_lon: float | None
    seller_lat: float | None
    buyer_code: str
    buyer_name: str
    buyer_lon: float | None
    buyer_lat: float | None
    distributor: str | None = Field(description="the seller's distributor")
    buyer_distributor: str | None = Field(description="other_network: the buyer's distributor")
    distance_m: float | None = Field(
        description="outside_territory: metres from the territory to the buyer"
    )


class CrossSellingOut(Out):
    region: dict[str, str]
    date_from: str
    date_to: str
    counts: dict[str, int] = Field(description="records per flag in the period")
    sales: list[CrossSaleOut]
    total: int
    truncated: bool


@operation(
    "/regions/<code>/cross-selling",
    "GET",
    summary="Cross-territory sales (窜货) into a region",
    tags=["analyses"],
    query=CrossSellingQuery,
    responses={200: CrossSellingOut, 404: None, 422: None},
)
def region_cross_selling(code: str, query: CrossSellingQuery):
    """Sell-out records whose buyer lies in the region and outside the territory of the
    seller's distributor, or in another distributor's network, newest first."""
    return _answer(
        cross_selling.cross_selling,
        code,
        date_from=query.date_from,
        date_to=query.date_to,
        limit=query.limit,
    )
