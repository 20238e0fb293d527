"""Find an outlet, a distributor or a region by name, code or pinyin initials: the landing
map's search box ("hdz" finds 华东总经销, "A1" the outlet A1, "杭州" the city).

Outlets match on ``outlet_search.search_text`` (code, name and the name's pinyin initials in
lower case, kept by the triggers of migration 0019 with a trigram index over every outlet),
every word of the query somewhere in it; exact codes come first, then distributors and
wholesalers before retail, then the closest names (pg_trgm ``similarity``). Regions match on
code, Chinese or English name. Only what ``user`` may see is searched.
"""

from __future__ import annotations

from dataclasses import dataclass

from geoalchemy2 import functions as gf
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from ..errors import ValidationError
from ..models import TIERS, Outlet, OutletSearch, Region
from .access import outlet_scope, region_scope, scoped
from .principal import Principal

MAX_QUERY = 100
MAX_RESULTS = 20
OUTLETS = Outlet.__table__
SEARCH = OutletSearch.__table__
REGIONS = Region.__table__


@dataclass
class Hit:
    kind: str  # "outlet" or "region"
    code: str
    name: str
    tier: str | None  # outlets
    level: str | None  # regions
    lon: float | None  # an outlet's location (None: not geotagged)
    lat: float | None
    bbox: tuple[float, float, float, float] | None = None  # a region's outline, lon/lat

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "code": self.code,
            "name": self.name,
            "tier": self.tier,
            "level": self.level,
            "lon": self.lon,
            "lat": self.lat,
            "bbox": list(self.bbox) if self.bbox else None,
        }


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(
    session: Session, q: str | None, *, user: Principal | None, limit: int = 10
) -> list[Hit]:
    """Regions then outlets matching ``q`` that ``user`` may see, at most ``limit`` of each
    (422 naming ``query.q`` / ``query.limit`` for an empty or too long query or a bad limit)."""
    text = (q or "").strip()
    problems = {}
    if not text:
        problems["query.q"] = "required"
    elif len(text) > MAX_QUERY:
        problems["query.q"] = f"at most {MAX_QUERY} characters"
    if not 1 <= limit <= MAX_RESULTS:
        problems["query.limit"] = f"between 1 and {MAX_RESULTS}"
    if problems:
        raise ValidationError("invalid search", fields=problems)
    words = text.lower().split()
    return _regions(session, text, words, user, limit) + _outlets(session, text, words, user, limit)


def _outlets(session, text, words, user, limit) -> list[Hit]:
    o, s = OUTLETS, SEARCH
    conds = [s.c.search_text.like(f"%{_escape_like(w)}%", escape="\\") for w in words]
    if scoped(user):
        conds.append(outlet_scope(user, o))
    tier_rank = case({tier: i for i, tier in enumerate(TIERS)}, value=o.c.tier, else_=9)
    stmt = (
        select(o.c.code, o.c.name, o.c.tier, gf.ST_X(o.c.location), gf.ST_Y(o.c.location))
        .select_from(s.join(o, o.c.id == s.c.outlet_id))
        .where(*conds)
        .order_by(
            (func.lower(o.c.code) == text.lower()).desc(),
            (o.c.status == "active").desc(),
            tier_rank,
            func.similarity(s.c.search_text, text.lower()).desc(),
            o.c.code,
        )
        .limit(limit)
    )
    return [
        Hit("outlet", code, name, tier, None, lon, lat)
        for code, name, tier, lon, lat in session.execute(stmt)
    ]


def _regions(session, text, words, user, limit) -> list[Hit]:
    r = REGIONS
    conds = []
    for w in words:
        pattern = f"%{_escape_like(w)}%"
        conds.append(
            or_(
                func.lower(r.c.code).like(pattern, escape="\\"),
                func.lower(r.c.name).like(pattern, escape="\\"),
                func.lower(func.coalesce(r.c.name_en, "")).like(pattern, escape="\\"),
            )
        )
    if scoped(user):
        conds.append(region_scope(user, r))
    level_rank = case(
        {"country": 0, "province": 1, "city": 2, "district": 3}, value=r.c.level, else_=9
    )
    stmt = (
        select(
            r.c.code,
            r.c.name,
            r.c.level,
            gf.ST_XMin(r.c.boundary),
            gf.ST_YMin(r.c.boundary),
            gf.ST_XMax(r.c.boundary),
            gf.ST_YMax(r.c.boundary),
        )
        .where(*conds)
        .order_by((func.lower(r.c.code) == text.lower()).desc(), level_rank, r.c.code)
        .limit(limit)
    )
    return [
        Hit("region", code, name, None, level, None, None, (x0, y0, x1, y1) if x0 else None)
        for code, name, level, x0, y0, x1, y1 in session.execute(stmt)
    ]
