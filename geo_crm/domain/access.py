"""Object-level scoping as SQL clauses: who may see which outlets, regions and geotag events.

- admin: everything;
- manager: outlets whose region lies inside one of the manager's regions (``user_regions``),
  walking the region tree down recursively; outlets not yet geotagged have no region and are
  therefore outside every manager's scope (admins and their reps see them);
- rep: outlets assigned to them (``rep_id``) or created by them (``created_by_id``); they
  also *read* the distributors above those outlets (:func:`distributor_scope`).

Every helper returns a SQLAlchemy clause (or ``select``) to put in a ``where``; callers never
filter in Python, so lists, counts and maps of millions of outlets stay one query.
"""

from __future__ import annotations

import functools

from sqlalchemy import (
    CTE,
    BigInteger,
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors

from ..models import GeotagEvent, Outlet, Region, RegionPart, UserRegion
from .principal import Principal
from .regions import region_tree


def scoped(user: Principal | None) -> bool:
    """Whether reads for ``user`` are narrowed to a scope (None is the system; admins see all)."""
    return user is not None and not user.is_admin


def managed_region_ids(user_id: int, name: str = "managed_regions") -> Select:
    """Ids of the manager's regions and of every region below them (recursive CTE ``name``:
    give each use in one statement its own name)."""
    roots = select(UserRegion.region_id.label("id")).where(UserRegion.user_id == user_id)
    return select(region_tree(roots, name=name, distinct=True).c.id)


def outlet_scope(user: Principal, outlet=Outlet) -> ColumnElement[bool]:
    """The outlets ``user`` may see or change; ``outlet`` may be an alias of the outlets table."""
    outlet = getattr(outlet, "__table__", outlet)  # the mapped class -> its table
    name = outlet.name  # one CTE name per table alias in a statement
    outlet = outlet.c
    if user.role == "admin":
        return true()
    if user.id is None:
        return false()
    if user.role == "manager":
        return outlet.region_id.in_(managed_region_ids(user.id, f"managed_regions_{name}"))
    if user.role == "rep":
        return or_(outlet.rep_id == user.id, outlet.created_by_id == user.id)
    return false()


def distributor_scope(user: Principal, outlet=Outlet) -> ColumnElement[bool]:
    """The outlets whose business ``user`` may *read* as distributors (scorecard, evaluation
    history, the distributor page and its tabs): those of :func:`outlet_scope`, and for a rep
    also every distributor upstream of an outlet in their scope (the supply chain above it:
    reps are read-only on their outlets' distributors). Reads only: every write stays on
    :func:`outlet_scope`, so a rep changes nothing of a distributor this admits."""
    seen = outlet_scope(user, outlet)
    if user.role != "rep" or user.id is None:
        return seen
    from .network import outlet_tree  # network builds on this module

    table = getattr(outlet, "__table__", outlet)
    chain = outlet_tree(
        outlet_scope(user), up=True, depth=False, distinct=True, name=f"rep_chain_{table.name}"
    )
    upstream = and_(table.c.tier == "distributor", table.c.id.in_(select(chain.c.id)))
    return or_(seen, upstream)


def region_scope(user: Principal, region=Region) -> ColumnElement[bool]:
    """The regions ``user`` may see: a manager's subtrees; for a rep, the regions holding their
    outlets and those regions' ancestors (so a rep's map has its context)."""
    region = getattr(region, "__table__", region)
    name = region.name
    region = region.c
    if user.role == "admin":
        return true()
    if user.id is None:
        return false()
    if user.role == "manager":
        return region.id.in_(managed_region_ids(user.id, f"managed_regions_{name}"))
    if user.role == "rep":
        held = (
            select(Outlet.region_id.label("id"))
            .where(outlet_scope(user), Outlet.region_id.is_not(None))
            .distinct()
        )
        up = region_tree(held, up=True, distinct=True, name="rep_regions")
        return region.id.in_(select(up.c.id))
    return false()


def point_in_scope(user: Principal, point) -> ColumnElement[bool]:
    """Whether a WGS-84 point lies in the user's territory (managers: inside one of their
    regions)."""
    if user.role == "admin":
        return true()
    if user.role != "manager" or user.id is None:
        return false()
    return exists(
        select(literal(1))
        .select_from(RegionPart)
        .where(
            RegionPart.region_id.in_(managed_region_ids(user.id, "managed_regions_point")),
            func.ST_Intersects(RegionPart.geom, point),
        )
    )


def geotag_event_scope(user: Principal, event=GeotagEvent) -> ColumnElement[bool]:
    """Events a user may see: those of outlets in scope; for managers also events whose
    previous location lay in their regions (a tag that moved an outlet out of a manager's
    territory must still reach that manager's review queue)."""
    if user.role == "admin":
        return true()
    event = getattr(event, "__table__", event).c
    owner = Outlet.__table__.alias("event_outlet")
    in_scope = exists(
        select(literal(1))
        .select_from(owner)
        .where(owner.c.id == event.outlet_id, outlet_scope(user, owner))
    )
    if user.role == "manager" and user.id is not None:
        came_from = and_(
            event.old_location.is_not(None),
            func.geo_crm_region_for_point(event.old_location).in_(
                managed_region_ids(user.id, "managed_regions_before")
            ),
        )
        return or_(in_scope, came_from)
    return in_scope


# Per-request checks run often (every guarded request): their statements are built once per role
# with the user id as a bind parameter, then executed with values only.
SCOPE_UID = bindparam("scope_uid", type_=Integer)

# object kinds a URL argument may name: "outlet", "distributor" (an outlet read as a
# distributor: distributor_scope) and "region" by code (the natural keys users know; a code is
# only ever a code, never read as an id), "sale", "geotag_event" and "plan" by id
OBJECT_KINDS = ("outlet", "distributor", "region", "sale", "geotag_event", "plan")
_BY_CODE = frozenset({"outlet", "distributor", "region"})


def template(role: str) -> Principal:
    """A principal of ``role`` whose id is the bind parameter ``scope_uid`` (for cached
    statements)."""
    return Principal(id=SCOPE_UID, username=f"<{role}>", role=role)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=64)
def _resolve_stmt(kind: str, role: str) -> Select:
    """``SELECT id`` of the object the URL names, only if it lies in the scope of ``role``."""
    from ..models import SalesPlan, SalesRecord

    user = template(role)
    ref = bindparam("ref", type_=String)
    ident = bindparam("ident", type_=BigInteger)
    if kind == "outlet":
        return select(Outlet.id).where(Outlet.code == ref, outlet_scope(user))
    if kind == "distributor":
        return select(Outlet.id).where(Outlet.code == ref, distributor_scope(user))
    if kind == "region":
        return select(Region.id).where(Region.code == ref, region_scope(user))
    if kind == "geotag_event":
        return select(GeotagEvent.id).where(GeotagEvent.id == ident, geotag_event_scope(user))
    if kind == "plan":
        owner = Outlet.__table__.alias("plan_distributor")
        return (
            select(SalesPlan.id)
            .select_from(SalesPlan)
            .join(owner, owner.c.id == SalesPlan.distributor_id)
            .where(SalesPlan.id == ident, outlet_scope(user, owner))
        )
    if kind == "sale":
        # no seller: sell-in, the manufacturer's sale to a distributor (seen with the buyer)
        seller, buyer = Outlet.__table__.alias("seller"), Outlet.__table__.alias("buyer")
        return (
            select(SalesRecord.id)
            .select_from(SalesRecord)
            .outerjoin(seller, seller.c.id == SalesRecord.seller_id)
            .join(buyer, buyer.c.id == SalesRecord.buyer_id)
            .where(
                SalesRecord.id == ident, or_(outlet_scope(user, seller), outlet_scope(user, buyer))
            )
        )
    raise ValueError(f"unknown object kind {kind!r}")


def resolve_subquery(kind: str, role: str, user_id: ColumnElement) -> ColumnElement | None:
    """The id the URL names if it is in scope, else 0, as a scalar subquery whose user id comes
    from ``user_id`` (a column of an enclosing query, e.g. the token lookup's ``users.id``); or
    None when the check needs a CTE (manager regions, a rep's regions): a CTE would be hoisted
    to the top of the enclosing statement, out of reach of the correlation. Only the one-level
    outlet check qualifies: a nested EXISTS (geotag events) would not correlate to the outer
    query but pull ``users`` into its own FROM."""
    if kind != "outlet":
        return None
    stmt = _resolve_stmt(kind, role)
    if any(isinstance(element, CTE) for element in visitors.iterate(stmt)):
        return None

    def swap(element):
        if isinstance(element, BindParameter) and element.key == SCOPE_UID.key:
            return user_id
        return None

    found = visitors.replacement_traverse(stmt, {}, swap).scalar_subquery()
    return func.coalesce(found, literal(0, BigInteger))


def resolve_params(kind: str, value) -> dict:
    """The bound values of kind's resolution for the URL argument ``value``."""
    if kind in _BY_CODE:
        return {"ref": value, "ident": None}
    return {"ref": None, "ident": value}


@functools.lru_cache(maxsize=64)
def _resolve_hot(kind: str, role: str):
    from ..db.hotpath import HotStatement

    return HotStatement(_resolve_stmt(kind, role), read_only=True)


def resolve(session: Session, kind: str, user: Principal, value) -> int | None:
    """One indexed lookup: the id of the object ``value`` of ``kind`` if it exists in the
    user's scope, else None (missing and out of scope look the same). Runs on every
    object-guarded request: compiled once per kind and role, values bound."""
    if value is None:
        return None
    params = {**resolve_params(kind, value), "scope_uid": user.id}
    row = _resolve_hot(kind, user.role).run(session, params).fetchone()
    return None if row is None else row[0]


def outlet_visible(session: Session, user: Principal, code: str) -> bool:
    """Does an outlet with this code exist inside the user's scope?"""
    return resolve(session, "outlet", user, code) is not None
