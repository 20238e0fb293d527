"""The buying network over HTTP: downstream tree, upstream chain, moving an outlet."""

from __future__ import annotations

import logging

from flask import jsonify
from pydantic import Field

from ..auth.policy import current_user, object_id
from ..db import get_session
from ..domain import network as svc
from ..domain import outlets
from .framework import Body, Out, Query, operation
from .schemas import (
    Code,
    OutletOut,
    Status,
    Version,
    client_version,
    conflict_detail,
    field_names,
    jsonable,
    outlet_json,
    with_etag,
)

LOGGER = logging.getLogger(__name__)

TAGS = ["network"]


class NetworkNode(Out):
    id: int | None = Field(description="null for a supplier outside your scope")
    code: str
    name: str
    tier: str
    status: str | None = Field(description="null for a supplier outside your scope")
    parent_code: str | None
    depth: int = Field(
        description="0 for the outlet asked about, 1 for its direct buyers/seller, …"
    )
    lat: float | None
    lon: float | None


class ChainNode(NetworkNode):
    restricted: bool = Field(
        description="a supplier outside your scope: code, name and tier only (no location)"
    )


class TreeNode(NetworkNode):
    children: list[TreeNode]


class DownstreamOut(Out):
    outlet: NetworkNode
    depth: int = Field(description="deepest level reached below the outlet")
    by_tier: dict[str, int] = Field(description="outlets below the outlet, per tier")
    by_depth: dict[str, int] = Field(description="outlets below the outlet, per depth")
    total: int
    tree: TreeNode | None = Field(description="nested children (omitted with tree=false)")


class DownstreamQuery(Query):
    max_depth: int | None = Field(None, ge=0, le=16, description="stop this many levels below")
    status: list[Status] | None = Field(
        None, description="keep only these statuses (walk continues below others)"
    )
    tree: bool = Field(True, description="false returns only the counts")


class UpstreamOut(Out):
    chain: list[ChainNode] = Field(description="the outlet first, then each seller up to the top")


class ParentMove(Body):
    parent_code: Code | None = Field(description="the new seller's code; null: buys from nobody")
    version: Version | None = None


def _node(row) -> dict:
    return jsonable(row, drop=("_parent_id",))


def _nest(node: dict) -> dict:
    out = _node(node)
    out["children"] = [_nest(c) for c in node["children"]]
    return out


@operation(
    "/outlets/<code>/downstream",
    "GET",
    summary="An outlet's downstream network",
    tags=TAGS,
    query=DownstreamQuery,
    responses={200: DownstreamOut, 404: None},
)
def downstream(code: str, query: DownstreamQuery):
    """Everyone buying from the outlet, directly or further down, that you may see: counts and
    the tree (an outlet outside your scope is left out; its buyers hang from the nearest one
    you see)."""
    result = svc.downstream(
        get_session(),
        object_id(),
        max_depth=query.max_depth,
        statuses=query.status or None,
        user=current_user(),
        nodes=query.tree,  # false: counts only, aggregated in SQL however large the network
    )
    tree = _nest(result.tree()) if query.tree else None
    return jsonify(_summary(result.root, result.by_tier, result.by_depth, tree))


def _summary(root: dict, by_tier: dict, by_depth: dict, tree: dict | None) -> dict:
    return {
        "outlet": _node(root),
        "depth": max(by_depth, default=0),
        "by_tier": by_tier,
        "by_depth": {str(k): v for k, v in sorted(by_depth.items())},
        "total": sum(by_depth.values()),
        "tree": tree,
    }


@operation(
    "/outlets/<code>/upstream",
    "GET",
    summary="An outlet's upstream chain",
    tags=TAGS,
    responses={200: UpstreamOut, 404: None},
)
def upstream(code: str):
    """The outlet and every seller above it, up to its distributor; a seller outside your
    scope shows its code, name and tier only."""
    chain = svc.upstream(get_session(), object_id(), current_user())
    return jsonify({"chain": [_node(r) for r in chain]})


@operation(
    "/outlets/<code>/parent",
    "PUT",
    summary="Move an outlet to another parent",
    tags=TAGS,
    body=ParentMove,
    responses={200: OutletOut, 404: None, 409: None, 422: None},
)
@conflict_detail
def move_outlet(code: str, body: ParentMove):
    """Make the outlet buy from ``parent_code``: only from a higher tier, never in a loop."""
    session = get_session()
    with field_names(session, renames={"parent": "parent_code", "tier": "parent_code"}):
        version = client_version(body.version, required=True)
        row = outlets.move_outlet(
            session,
            object_id(),
            parent_code=body.parent_code,
            version=version,
            user=current_user(),
        )
        session.commit()
    return with_etag(jsonify(outlet_json(row)), row["version"])
