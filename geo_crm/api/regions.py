"""Regions over HTTP: the tree, one region's boundary as GeoJSON, outlets per tier inside it.

Each view calls one domain function: ``domain.regions.region_forest`` and ``region_feature``,
``domain.region_counts.region_tier_summary``.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from flask import jsonify
from pydantic import Field

from ..db import get_session
from ..domain import regions
from ..domain.region_counts import region_tier_summary
from .framework import Out, Query, operation
from .schemas import Status, field_names

LOGGER = logging.getLogger(__name__)

TAGS = ["regions"]


class RegionNode(Out):
    code: str
    name: str
    name_en: str | None
    level: str
    children: list[RegionNode]


class RegionTreeQuery(Query):
    root: str | None = Field(
        None, min_length=1, max_length=32, description="start at this region (default: all roots)"
    )


class RegionFeature(Out):
    type: Literal["Feature"]
    id: str
    bbox: list[float]
    geometry: dict[str, Any] = Field(description="GeoJSON MultiPolygon, WGS-84")
    properties: dict[str, Any]


class RegionQuery(Query):
    simplify_m: float | None = Field(
        None, gt=0, le=100_000, description="simplification tolerance in metres"
    )


class TierCounts(Out):
    code: str
    name: str
    level: str
    by_tier: dict[str, int]
    total: int


class RegionCounts(TierCounts):
    own: dict[str, int] = Field(description="outlets whose smallest region is this one itself")
    children: list[TierCounts]


class RegionCountsQuery(Query):
    status: list[Status] = Field(["active"], description="statuses counted (default active)")


@operation(
    "/regions",
    "GET",
    summary="The region tree",
    tags=TAGS,
    query=RegionTreeQuery,
    responses={200: list[RegionNode], 422: None},
)
def region_tree(query: RegionTreeQuery):
    """Regions nested by parent (country → province → city → district), by code."""
    session = get_session()
    with field_names(session, prefix="query"):
        return jsonify(regions.region_forest(session, query.root))


@operation(
    "/regions/<code>",
    "GET",
    summary="One region with its boundary (GeoJSON Feature)",
    tags=TAGS,
    query=RegionQuery,
    responses={200: RegionFeature, 404: None},
    produces=["application/geo+json"],
)
def get_region(code: str, query: RegionQuery):
    """The region as a GeoJSON Feature; ``simplify_m`` simplifies the boundary (metres)."""
    feature = regions.region_feature(get_session(), code, simplify_m=query.simplify_m)
    response = jsonify(feature)
    response.mimetype = "application/geo+json"
    return response


@operation(
    "/regions/<code>/outlet-counts",
    "GET",
    summary="Outlets per tier in a region",
    tags=TAGS,
    query=RegionCountsQuery,
    responses={200: RegionCounts, 404: None},
)
def region_counts(code: str, query: RegionCountsQuery):
    """Outlets per tier inside the region and its sub-regions, and per direct sub-region."""
    summary = region_tier_summary(get_session(), code, list(query.status))
    return jsonify(summary.to_dict())
