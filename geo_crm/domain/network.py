"""The buying network: a distributor's downstream tree, any outlet's upstream chain.

Both walks are recursive CTEs over ``outlets.parent_id`` (indexed). The tier rule makes every
chain strictly descend in tier, so a chain is at most four outlets long; the depth guard only
protects the query should that rule ever be bypassed.

What a user sees of the chain around their outlets (the same rule everywhere: trees, lists,
maps, exports): **below** an outlet, only the outlets in their own scope (an outlet outside it
is left out, and those below it hang from their nearest visible ancestor); **above** it, every
supplier up to the distributor by code, name and tier — who supplies whom is what a rep or
manager works with — but no location, status or figures of a supplier outside their scope.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import CTE, ColumnElement, Select, func, literal, select, true
from sqlalchemy.orm import Session

from ..errors import ValidationError
from ..models import TIERS, Outlet
from .access import distributor_scope, outlet_scope
from .principal import Principal
from .regions import region_subtree

LOGGER = logging.getLogger(__name__)

OUTLETS = Outlet.__table__
MAX_NETWORK_DEPTH = 16  # tiers allow 3; anything deeper means the rules were bypassed


def outlet_tree(
    where: ColumnElement[bool],
    *,
    up: bool = False,
    name: str = "network",
    depth: bool = True,
    distinct: bool = False,
) -> CTE:
    """(id, parent_id[, depth]) of the outlets matching ``where`` (a condition on ``outlets``;
    depth 0) and of every outlet below them through ``parent_id`` (their buyers, at any depth;
    default) or above them (their sellers up to the top, ``up``).

    With ``depth`` the walk counts steps and stops below ``MAX_NETWORK_DEPTH`` (UNION ALL: a
    loop the tier rule should make impossible cannot run away); without it, only UNION
    (``distinct``) ends a loop, so one of the two is required. ``distinct`` also lists an
    outlet once when several starts share a chain. The recursive part aliases ``outlets`` as
    ``{name}_child`` (down) or ``{name}_parent`` (up). Returns the CTE; callers select from
    it. Give each use in one statement its own ``name``.
    """
    if not depth and not distinct:
        raise ValueError("an outlet walk needs the depth guard or UNION (distinct=True)")
    t = OUTLETS
    cols = [t.c.id, t.c.parent_id] + ([literal(0).label("depth")] if depth else [])
    tree = select(*cols).where(where).cte(name, recursive=True)
    if up:
        step_t = t.alias(f"{name}_parent")
        link = step_t.c.id == tree.c.parent_id
    else:
        step_t = t.alias(f"{name}_child")
        link = step_t.c.parent_id == tree.c.id
    step = select(step_t.c.id, step_t.c.parent_id).where(link)
    if depth:
        step = step.add_columns((tree.c.depth + 1).label("depth")).where(
            tree.c.depth < MAX_NETWORK_DEPTH
        )
    return tree.union(step) if distinct else tree.union_all(step)


def downstream_cte(
    root_id: int | ColumnElement | None = None,
    *,
    root_code: str | ColumnElement | None = None,
    name: str = "downstream",
) -> CTE:
    """(id, parent_id, depth) of an outlet (depth 0) and everyone buying from it, at any depth."""
    t = OUTLETS
    start = t.c.id == root_id if root_id is not None else t.c.code == root_code
    return outlet_tree(start, name=name)


def upstream_cte(outlet_id: int | ColumnElement, *, name: str = "upstream") -> CTE:
    """(id, parent_id, depth) of an outlet (depth 0), its parent (1), and so on to the top."""
    return outlet_tree(OUTLETS.c.id == outlet_id, up=True, name=name)


def _sees_all(user: Principal | None) -> bool:
    return user is None or user.is_admin


def _node_columns(tree: CTE, user: Principal | None = None) -> Select:
    """The nodes of a walk, each with ``in_scope``: whether ``user`` (None: the system) may see
    that outlet itself."""
    t = Outlet.__table__
    parent = t.alias("node_parent")
    in_scope = true() if _sees_all(user) else outlet_scope(user, t)
    return select(
        t.c.id,
        t.c.code,
        t.c.name,
        t.c.tier,
        t.c.status,
        parent.c.code.label("parent_code"),
        tree.c.depth,
        func.ST_X(t.c.location).label("lon"),
        func.ST_Y(t.c.location).label("lat"),
        in_scope.label("in_scope"),
    ).select_from(tree.join(t, t.c.id == tree.c.id).outerjoin(parent, parent.c.id == t.c.parent_id))


@dataclass
class Downstream:
    """A network below ``root``: flat nodes (depth ≥ 1) in tree order plus the counts."""

    root: dict
    nodes: list[dict]
    by_tier: dict[str, int] = field(default_factory=dict)
    by_depth: dict[int, int] = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return max(self.by_depth, default=0)

    def tree(self) -> dict:
        """The root with nested ``children`` lists (ordered by code)."""
        by_id: dict[int, dict] = {self.root["id"]: {**self.root, "children": []}}
        for node in self.nodes:
            by_id[node["id"]] = {**node, "children": []}
        for node in self.nodes:  # nodes come parents first (ordered by depth)
            parent = by_id.get(node["_parent_id"])
            if parent is not None:
                parent["children"].append(by_id[node["id"]])
        for node in by_id.values():
            node.pop("_parent_id", None)
        return by_id[self.root["id"]]


def downstream(
    session: Session,
    outlet_id: int,
    *,
    max_depth: int | None = None,
    statuses: list[str] | None = None,
    user: Principal | None = None,
    nodes: bool = True,
) -> Downstream:
    """The outlet and its downstream network, optionally cut at ``max_depth`` or filtered by status.

    A status filter drops non-matching outlets but keeps walking below them, so an inactive
    wholesaler does not hide the active retail outlets that still buy through it; outlets
    outside ``user``'s scope are dropped the same way (see the module's rule). ``nodes=False``:
    only the root and the counts, aggregated in SQL however large the network (no ``nodes``).
    """
    if not nodes:
        root = upstream(session, outlet_id, user)[0]
        root.pop("restricted")
        by_tier, by_depth = downstream_summary(
            session, outlet_id, max_depth=max_depth, statuses=statuses, user=user
        )
        return Downstream(root=root, nodes=[], by_tier=by_tier, by_depth=by_depth)
    tree = downstream_cte(outlet_id)
    t = Outlet.__table__
    stmt = _node_columns(tree, user).add_columns(t.c.parent_id.label("_parent_id"))
    stmt = stmt.order_by(tree.c.depth, t.c.code)
    if max_depth is not None:
        stmt = stmt.where(tree.c.depth <= max_depth)
    rows = [dict(r) for r in session.execute(stmt).mappings()]
    root = next(r for r in rows if r["depth"] == 0)
    root.pop("_parent_id")
    root.pop("in_scope")
    nodes = [r for r in rows if r["depth"] > 0]
    if statuses or not all(r["in_scope"] for r in nodes):
        kept = {
            r["id"] for r in nodes if r["in_scope"] and (not statuses or r["status"] in statuses)
        }
        nodes = _reattach(nodes, kept, root["id"])
    for node in nodes:
        node.pop("in_scope")
    by_tier = dict.fromkeys(TIERS, 0)
    by_depth: dict[int, int] = {}
    for node in nodes:
        by_tier[node["tier"]] += 1
        by_depth[node["depth"]] = by_depth.get(node["depth"], 0) + 1
    return Downstream(root=root, nodes=nodes, by_tier=by_tier, by_depth=by_depth)


def _reattach(nodes: list[dict], kept: set[int], root_id: int) -> list[dict]:
    """Drop nodes not in ``kept``; a kept node hangs from its nearest kept ancestor."""
    parent_of = {n["id"]: n["_parent_id"] for n in nodes}
    out = []
    for node in nodes:
        if node["id"] not in kept:
            continue
        parent = node["_parent_id"]
        while parent != root_id and parent not in kept and parent in parent_of:
            parent = parent_of[parent]
        out.append({**node, "_parent_id": parent})
    return out


def upstream(session: Session, outlet_id: int, user: Principal | None = None) -> list[dict]:
    """The outlet (depth 0) and each seller above it, up to the distributor at the top. A
    seller outside ``user``'s scope comes with code, name and tier only (``restricted``)."""
    chain = upstream_cte(outlet_id)
    stmt = _node_columns(chain, user).order_by(chain.c.depth)
    out = []
    for row in session.execute(stmt).mappings():
        node = dict(row)
        node["restricted"] = not node.pop("in_scope")
        if node["restricted"]:
            node.update(id=None, status=None, lon=None, lat=None)
        out.append(node)
    return out


def downstream_summary(
    session: Session,
    outlet_id: int,
    *,
    max_depth: int | None = None,
    statuses: list[str] | None = None,
    user: Principal | None = None,
) -> tuple[dict[str, int], dict[int, int]]:
    """Outlets below an outlet per tier and per depth, aggregated in SQL (no rows fetched);
    only those in ``user``'s scope count."""
    tree = downstream_cte(outlet_id)
    t = Outlet.__table__
    stmt = (
        select(t.c.tier, tree.c.depth, func.count())
        .select_from(tree.join(t, t.c.id == tree.c.id))
        .where(tree.c.depth > 0)
        .group_by(t.c.tier, tree.c.depth)
    )
    if max_depth is not None:
        stmt = stmt.where(tree.c.depth <= max_depth)
    if statuses:
        stmt = stmt.where(t.c.status.in_(statuses))
    if not _sees_all(user):
        stmt = stmt.where(outlet_scope(user, t))
    by_tier = dict.fromkeys(TIERS, 0)
    by_depth: dict[int, int] = {}
    for tier, depth, n in session.execute(stmt):
        by_tier[tier] += n
        by_depth[depth] = by_depth.get(depth, 0) + n
    return by_tier, by_depth


def downstream_counts(
    session: Session, outlet_id: int, user: Principal | None = None
) -> dict[str, int]:
    """Outlets per tier below an outlet (not counting itself) that ``user`` may see, in one
    aggregate query."""
    return downstream_summary(session, outlet_id, user=user)[0]


@dataclass(frozen=True)
class DistributorRef:
    id: int
    code: str
    name: str


class DistributorError(ValidationError):
    """422 on the field naming a distributor; the subclass (and ``reason``) says why, for faces
    that word the problem themselves."""

    reason = ""


class UnknownDistributor(DistributorError):
    """No outlet with that code that the user may see."""

    reason = "unknown"


class NotADistributor(DistributorError):
    """The outlet is of another tier."""

    reason = "not_distributor"


def distributor(
    session: Session,
    code: str,
    *,
    user: Principal | None = None,
    field: str = "distributor",
    reading: bool = False,
) -> DistributorRef:
    """The distributor with this code that ``user`` (None: the system) may see; a 422 naming
    ``field`` when there is none or the outlet is of another tier (an outlet outside the
    user's scope gets exactly the answer of a missing one). ``reading``: to read its business
    only (:func:`~geo_crm.domain.access.distributor_scope`: a rep reads their outlets'
    distributors); otherwise to act on it (:func:`~geo_crm.domain.access.outlet_scope`)."""
    t = OUTLETS
    stmt = select(t.c.id, t.c.code, t.c.name, t.c.tier).where(t.c.code == code)
    if not _sees_all(user):
        stmt = stmt.where((distributor_scope if reading else outlet_scope)(user, t))
    row = session.execute(stmt).first()
    if row is None:
        message = f"no outlet with code {code!r}"
        raise UnknownDistributor(message, fields={field: message})
    if row.tier != "distributor":
        message = f"outlet {code!r} is a {row.tier}, not a distributor"
        raise NotADistributor(message, fields={field: message})
    return DistributorRef(row.id, row.code, row.name)


def distributors_in(
    session: Session, region_code: str, *, user: Principal | None = None, limit: int = 500
) -> list[tuple[str, str]]:
    """(code, name) of the active distributors in the region or below it that ``user`` may
    see, by name (the filter form's choices)."""
    t = OUTLETS
    tree = region_subtree(region_code)
    stmt = (
        select(t.c.code, t.c.name)
        .where(
            t.c.tier == "distributor",
            t.c.status == "active",
            t.c.region_id.in_(select(tree.c.id)),
        )
        .order_by(t.c.name)
        .limit(limit)
    )
    if not _sees_all(user):
        stmt = stmt.where(outlet_scope(user, t))
    return [tuple(r) for r in session.execute(stmt)]
