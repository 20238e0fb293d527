"""Counts of outlets per tier for every region, rolled up through the region tree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..models import TIERS, Outlet, Region
from .outlets import region_known, region_tier_counts
from .principal import Principal
from .regions import get_region, subregions


@dataclass
class RegionCounts:
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    by_tier: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TIERS, 0))
    not_geotagged: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_tier.values())


def region_outlet_counts(
    session: Session,
    *,
    active_only: bool = True,
    outlet_clause: ColumnElement[bool] | None = None,
    region_clause: ColumnElement[bool] | None = None,
) -> list[RegionCounts]:
    """Every region (matching ``region_clause``) with the outlets (matching ``outlet_clause``)
    inside it or any of its sub-regions, per tier.

    Outlets carry only their smallest region; the roll-up walks parents in memory, which is
    cheap because regions number in the hundreds while outlets number in the millions.
    """
    # every region takes part in the roll-up; only those in ``region_clause`` are returned
    regions = {
        r.id: RegionCounts(r.id, r.code, r.name, r.level, r.parent_id)
        for r in session.execute(
            select(Region.id, Region.code, Region.name, Region.level, Region.parent_id).order_by(
                Region.code
            )
        )
    }
    stmt = select(Outlet.region_id, Outlet.tier, func.count()).group_by(
        Outlet.region_id, Outlet.tier
    )
    if active_only:
        stmt = stmt.where(Outlet.status == "active")
    if outlet_clause is not None:
        stmt = stmt.where(outlet_clause)
    for region_id, tier, count in session.execute(stmt):
        seen: set[int] = set()
        node = regions.get(region_id) if region_id is not None else None
        while node is not None and node.id not in seen:
            seen.add(node.id)
            node.by_tier[tier] += count
            node = regions.get(node.parent_id) if node.parent_id is not None else None
    if region_clause is not None:
        shown = set(session.scalars(select(Region.id).where(region_clause)))
        return [r for r in regions.values() if r.id in shown]
    return list(regions.values())


def untagged_count(session: Session, outlet_clause: ColumnElement[bool] | None = None) -> int:
    stmt = select(func.count()).where(Outlet.location.is_(None))
    if outlet_clause is not None:
        stmt = stmt.where(outlet_clause)
    return session.scalar(stmt) or 0


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
