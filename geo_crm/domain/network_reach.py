"""How far a distributor's network reaches, counted the ways its page and its map count it.

The distributor page used to show three retail counts that disagreed with no word on why: the
outlets below it of every status, the points its network map draws, and the supply links the
map draws. Each is a fair answer to another question, so one query answers all of them per
tier, and the page and the map's legend name each the same way:

- *reached*: active outlets buying from the distributor, directly or through wholesalers (at
  any depth; an inactive wholesaler does not hide the active outlets below it);
- *on the map*: the reached outlets with coordinates (what the network map draws);
- *linked*: those on the map whose own supplier is on the map too (a supply link is drawn
  between two points, so an outlet whose supplier has no coordinates or is inactive has none);
- *inactive*: outlets below the distributor that are not active (counted nowhere else).

Scope: only the outlets ``user`` may see count, and a link counts only when its supplier is
one the user may see (the map draws nothing else), as in ``domain.network``'s rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select, true
from sqlalchemy.orm import Session

from ..models import TIERS, Outlet
from .access import outlet_scope, scoped
from .network import downstream_cte
from .principal import Principal

OUTLETS = Outlet.__table__


@dataclass(frozen=True)
class TierReach:
    reached: int = 0
    on_map: int = 0
    linked: int = 0
    inactive: int = 0

    @property
    def without_coordinates(self) -> int:
        return self.reached - self.on_map

    @property
    def without_link(self) -> int:
        """On the map without a supply link: their supplier is not on the map."""
        return self.on_map - self.linked


@dataclass(frozen=True)
class NetworkReach:
    by_tier: dict[str, TierReach]  # every tier below the distributor, in TIERS order

    def total(self) -> TierReach:
        rows = self.by_tier.values()
        return TierReach(*(sum(getattr(r, f) for r in rows) for f in TierReach.__annotations__))

    @property
    def deepest(self) -> str | None:
        """The lowest tier with a reached outlet."""
        return next(
            (t for t in reversed(TIERS) if t in self.by_tier and self.by_tier[t].reached), None
        )


def network_reach(session: Session, outlet_id: int, user: Principal | None = None) -> NetworkReach:
    """Reached, on the map, linked and inactive outlets per tier below outlet ``outlet_id``
    (see the module's definitions), in one aggregate query."""
    o = OUTLETS
    supplier = OUTLETS.alias("supplier")
    tree = downstream_cte(outlet_id, name="reach")
    active = o.c.status == "active"
    on_map = and_(active, o.c.location.is_not(None))
    supplier_on_map = and_(
        supplier.c.status == "active",
        supplier.c.location.is_not(None),
        outlet_scope(user, supplier) if scoped(user) else true(),
    )
    stmt = (
        select(
            o.c.tier,
            func.count().filter(active),
            func.count().filter(on_map),
            func.count().filter(and_(on_map, supplier_on_map)),
            func.count().filter(~active),
        )
        .select_from(
            tree.join(o, o.c.id == tree.c.id).outerjoin(supplier, supplier.c.id == o.c.parent_id)
        )
        .where(tree.c.depth > 0)
        .group_by(o.c.tier)
    )
    if scoped(user):
        stmt = stmt.where(outlet_scope(user, o))
    found = {tier: TierReach(*map(int, counts)) for tier, *counts in session.execute(stmt)}
    return NetworkReach({tier: found.get(tier, TierReach()) for tier in TIERS[1:]})
