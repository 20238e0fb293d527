"""Counts of outlets per tier for every region, rolled up through the region tree.

Outlets carry only their smallest region, so a region's count is that of every region of its
subtree. Both roll-ups here are one statement on :func:`domain.regions.region_tree`: the home
page's (every region, through a closure of each region with the regions below it) and the
region page's (one region, split by direct child with :func:`domain.regions.subtree_by_child`).
Scope: what ``user`` may see of the outlets is counted, and only their regions are listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from sqlalchemy import (
    ARRAY,
    Integer,
    Text,
    any_,
    bindparam,
    func,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..models import TIERS, Outlet, Region, RegionOutletTotal
from .access import outlet_scope, region_scope, scoped
from .outlets import region_known
from .principal import Principal
from .regions import get_region, region_label, region_tree, subregions, subtree_by_child

OUTLETS = Outlet.__table__
REGIONS = Region.__table__


@dataclass
class RegionCounts:
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    by_tier: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TIERS, 0))
    not_geotagged: int = 0
    name_en: str | None = None

    @property
    def total(self) -> int:
        return sum(self.by_tier.values())

    def label(self, t) -> str:
        """The name in the language of translator ``t`` (English when it has one)."""
        return region_label(self.name, self.name_en, t)


def region_outlet_counts(
    session: Session,
    *,
    user: Principal | None = None,
    active_only: bool = True,
) -> list[RegionCounts]:
    """Every region ``user`` may see (None: all), by code, with the outlets they may see inside
    it or any of its sub-regions, per tier."""
    o, r = OUTLETS, REGIONS
    outlet_conds = [o.c.region_id.is_not(None)]
    region_conds = []
    if active_only:
        outlet_conds.append(o.c.status == "active")
    if scoped(user):
        outlet_conds.append(outlet_scope(user, o))
        region_conds.append(region_scope(user, r))
    # every region with itself and each region below it: hundreds of regions, depth ≤ 4
    closure = region_tree(select(r.c.id, r.c.id.label("top")), name="closure", depth=True)
    counted = (
        select(o.c.region_id, o.c.tier, func.count().label("n"))
        .where(*outlet_conds)
        .group_by(o.c.region_id, o.c.tier)
        .subquery("counted")
    )
    rolled = (
        select(closure.c.top, counted.c.tier, func.sum(counted.c.n))
        .join(counted, counted.c.region_id == closure.c.id)
        .group_by(closure.c.top, counted.c.tier)
    )
    regions = {
        row.id: RegionCounts(
            row.id, row.code, row.name, row.level, row.parent_id, name_en=row.name_en
        )
        for row in session.execute(
            select(r.c.id, r.c.code, r.c.name, r.c.level, r.c.parent_id, r.c.name_en)
            .where(*region_conds)
            .order_by(r.c.code)
        )
    }
    for top, tier, n in session.execute(rolled):
        if top in regions:
            regions[top].by_tier[tier] = int(n)
    return list(regions.values())


def untagged_count(session: Session, *, user: Principal | None = None) -> int:
    """How many outlets ``user`` may see (None: all) have no location yet."""
    stmt = select(func.count()).where(OUTLETS.c.location.is_(None))
    if scoped(user):
        stmt = stmt.where(outlet_scope(user, OUTLETS))
    return session.scalar(stmt) or 0


def outside_regions_count(
    session: Session,
    *,
    user: Principal | None = None,
    active_only: bool = True,
) -> int:
    """How many located outlets ``user`` may see (None: all) lie outside every loaded region:
    they count in no region's figures (``region_outlet_counts``), so the home page names them
    beside the regions ("outside every region"), as ``untagged_count`` names the ones without
    a location. ``active_only`` as in ``region_outlet_counts``."""
    stmt = select(func.count()).where(
        OUTLETS.c.location.is_not(None), OUTLETS.c.region_id.is_(None)
    )
    if active_only:
        stmt = stmt.where(OUTLETS.c.status == "active")
    if scoped(user):
        stmt = stmt.where(outlet_scope(user, OUTLETS))
    return session.scalar(stmt) or 0


_REGION_ID = bindparam("region_id", type_=Integer)
_STATUSES = bindparam("statuses", type_=ARRAY(Text))


def _tier_counts_statement():
    """Outlets of ``:statuses`` per (direct child of ``:region_id``, tier): the region's own
    outlets under a NULL child."""
    o, r = OUTLETS, REGIONS
    below = subtree_by_child(_REGION_ID)
    places = union_all(
        select(r.c.id, null().label("child_id")).where(r.c.id == _REGION_ID),
        select(below.c.id, below.c.child_id),
    ).subquery("places")
    return (
        select(places.c.child_id, o.c.tier, func.count())
        .join(o, o.c.region_id == places.c.id)
        .where(o.c.status == any_(_STATUSES))
        .group_by(places.c.child_id, o.c.tier)
    )


_TIER_COUNTS = _tier_counts_statement()


def region_tier_counts(
    session: Session, region_id: int, statuses: Sequence[str]
) -> dict[int | None, dict[str, int]]:
    """Outlets per tier in a region, split by its direct sub-regions.

    Keys: a child region's id (that child and everything below it), or None for outlets whose
    smallest region is the region itself. Every outlet of the region counts: scope is the
    caller's object rule on the region (a region's page shows its whole market).
    """
    out: dict[int | None, dict[str, int]] = {}
    params = {"region_id": region_id, "statuses": list(statuses)}
    for child, tier, n in session.execute(_TIER_COUNTS, params):
        out.setdefault(child, dict.fromkeys(TIERS, 0))[tier] = n
    return out


def active_tier_counts(session: Session, region_id: int) -> dict[int | None, dict[str, int]]:
    """:func:`region_tier_counts` of the active outlets, read from the totals the triggers keep
    (``region_outlet_totals``, migration 0007: active located outlets per region subtree; an
    outlet's region is found from its location, so every outlet with a region is located):
    one row per tier of the region and of each direct sub-region, whatever the outlets' number
    (counting them took seconds at 1,000,000). The region's own outlets: its total less its
    sub-regions'."""
    t = RegionOutletTotal.__table__.c
    rows = session.execute(
        select(REGIONS.c.id, t.tier, t.outlets)
        .join(REGIONS, REGIONS.c.id == t.region_id)
        .where((REGIONS.c.id == region_id) | (REGIONS.c.parent_id == region_id))
    ).all()
    whole = dict.fromkeys(TIERS, 0)
    out: dict[int | None, dict[str, int]] = {}
    for rid, tier, n in rows:
        if rid == region_id:
            whole[tier] = n
        else:
            out.setdefault(rid, dict.fromkeys(TIERS, 0))[tier] = n
    own = dict(whole)
    for counts in out.values():
        for tier, n in counts.items():
            own[tier] -= n
    if any(own.values()):
        out[None] = own
    return {k: v for k, v in out.items() if any(v.values())}


def active_tier_totals(session: Session, region_id: int) -> dict[str, int]:
    """Active located outlets per tier of the region and everything below it, from the kept
    totals (``region_outlet_totals``): one indexed read giving both a region's number of
    outlets (their sum) and its counts per tier, every tier present (0 when it has none)."""
    t = RegionOutletTotal.__table__.c
    out = dict.fromkeys(TIERS, 0)
    for tier, n in session.execute(select(t.tier, t.outlets).where(t.region_id == region_id)).all():
        out[tier] = n
    return out


@dataclass
class TierCounts:
    """Outlets per tier in a region and everything below it."""

    code: str
    name: str
    level: str
    by_tier: dict[str, int]
    total: int


@dataclass
class TierSummary(TierCounts):
    """A region's outlets per tier: in all (``by_tier``), in the region itself (``own``: whose
    smallest region it is) and per direct sub-region (``children``, by code)."""

    own: dict[str, int]
    children: list[TierCounts]

    def to_dict(self) -> dict:
        return asdict(self)


def region_tier_summary(
    session: Session, code: str, statuses: Sequence[str], *, user: Principal | None = None
) -> TierSummary:
    """Outlets of ``statuses`` per tier in the region ``code``, in itself and per direct
    sub-region. 404 when there is no such region, or (``user`` given) it lies outside their
    regions; the counts cover every outlet of the region, as the region's page shows them."""
    if user is not None and not region_known(session, code, user):
        raise NotFound(f"no region with code {code!r}")
    region = get_region(session, code, field=None)
    counts = region_tier_counts(session, region.id, list(statuses))
    empty = dict.fromkeys(TIERS, 0)
    own = counts.get(None, empty)
    total_by_tier = dict(own)
    children = []
    for child in subregions(session, region.id):
        by_tier = counts.get(child.id, empty)
        for tier, n in by_tier.items():
            total_by_tier[tier] += n
        children.append(
            TierCounts(child.code, child.name, child.level, by_tier, sum(by_tier.values()))
        )
    return TierSummary(
        region.code,
        region.name,
        region.level,
        total_by_tier,
        sum(total_by_tier.values()),
        own,
        children,
    )
