"""Coverage of a region: the area within each active outlet's service radius, in square metres.

Covered area = region ∩ (union of discs), one disc per outlet of radius ``radius_m[tier]``.
Outlets outside the region count where their discs reach into it (a shop across the border
serves this side too). Areas are measured in the region's equal-area frame
(``analysis_frame``) with the exact arc method of ``disc_union``; the region's own area is
measured the same way, so a fully covered region has a ratio of exactly 1.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import shapely
import shapely.geometry
from sqlalchemy.orm import Session

from ..domain.principal import Principal
from ..models import TIERS
from .frame import OutletPoints, RegionFrame, fetch_outlets, load_region
from .geometry import disc_union
from .geometry.geodesy import envelope_around
from .params import AnalysisParams, resolve

LOGGER = logging.getLogger(__name__)

OUTLINE_DECIMALS = 6  # ~0.1 m in WGS-84 degrees


@dataclass
class AreaShare:
    code: str
    name: str
    area_m2: float
    covered_m2: float

    @property
    def ratio(self) -> float:
        return self.covered_m2 / self.area_m2 if self.area_m2 > 0 else 0.0

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "area_m2": self.area_m2,
            "area_km2": self.area_m2 / 1e6,
            "covered_m2": self.covered_m2,
            "covered_km2": self.covered_m2 / 1e6,
            "ratio": self.ratio,
        }


@dataclass
class TierCoverage:
    tier: str
    radius_m: float
    outlets: int  # outlets of the tier whose discs were considered (inside or near the region)
    covered_m2: float
    ratio: float
    geometry: dict | None = None  # the tier's own covered area, when asked for (``tier_geometry``)

    def to_dict(self) -> dict:
        out = {
            "tier": self.tier,
            "radius_m": self.radius_m,
            "outlets": self.outlets,
            "covered_m2": self.covered_m2,
            "covered_km2": self.covered_m2 / 1e6,
            "ratio": self.ratio,
        }
        if self.geometry is not None:
            out["geometry"] = self.geometry
        return out


@dataclass
class CoverageResult:
    region: AreaShare
    tiers: list[str]
    radius_m: dict[str, float]
    outlets: int
    by_tier: list[TierCoverage]
    sub_regions: list[AreaShare]
    geometry: dict | None = None  # GeoJSON MultiPolygon (WGS-84), simplified
    simplify_m: float | None = None
    # the fetched outlets that lie in the region (``keep_outlets``): what a map of the region
    # draws, without asking the database again
    region_outlets: OutletPoints | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        out = self.region.to_dict()
        out.update(
            {
                "tiers": self.tiers,
                "radius_m": self.radius_m,
                "outlets": self.outlets,
                "by_tier": [t.to_dict() for t in self.by_tier],
                "sub_regions": [s.to_dict() for s in self.sub_regions],
                "geometry": self.geometry,
                "simplify_m": self.simplify_m,
            }
        )
        return out


@dataclass
class _Union:
    """One union of discs clipped to the region: its discs, boundary pieces and covered m²."""

    discs: disc_union.Discs
    pieces: disc_union.Pieces
    covered_m2: float
    outline: tuple[dict, float] | None = None  # GeoJSON and simplification, when asked for


def coverage(
    session: Session,
    region_code: str,
    params: AnalysisParams | None = None,
    *,
    sub_regions: bool = True,
    per_tier: bool = True,
    geometry: bool = True,
    simplify_m: float | None = None,
    tier_geometry: Mapping[str, int] | None = None,
    keep_outlets: bool = False,
    user: Principal | None = None,
) -> CoverageResult:
    """Covered area and ratio of ``region_code`` for the whole filtered network, per tier and per
    direct sub-region; optionally the covered area as a simplified GeoJSON MultiPolygon.

    ``tier_geometry``: tier -> the most outlets for which that tier's own covered area is also
    returned (in ``by_tier``); tiers left out get none. ``keep_outlets``: also return the
    outlets fetched that lie in the region (``region_outlets``).

    The outlets are fetched once; each union of discs (one per tier, one for the whole network)
    is built once and serves its ratio, its outline and the sub-regions. The unions, the
    sub-region clips and the outlines are independent numpy/Qhull/GEOS work that releases the
    GIL, so they run in threads. ``user``: whose scope a distributor filter is looked up in
    (:func:`~geo_crm.analysis.params.resolve`; None: the system).
    """
    params = params or AnalysisParams()
    resolved = resolve(session, params, region_code=region_code, user=user)
    region = load_region(session, region_code)
    tiers = tuple(t for t in TIERS if t in params.tiers)
    radius = {t: params.radius(t) for t in tiers}
    envelope = envelope_around(shapely.bounds(region.boundary), max(radius.values()))
    fields = ("id", "region_id") if keep_outlets else ()
    points = fetch_outlets(session, resolved, tiers, envelope, fields=fields)
    children = region.child_boundaries_m(session) if sub_regions and region.children else []
    x, y = region.frame.to_m(points.lon, points.lat)
    tier_radius = np.array([radius.get(t, 0.0) for t in TIERS])
    r = tier_radius[points.tier]
    boundary_m = region.boundary_m
    region_area = float(shapely.area(boundary_m))
    masks = {t: points.tier == TIERS.index(t) for t in tiers}
    counts = {t: int(m.sum()) for t, m in masks.items()}
    limits = tier_geometry or {}
    outlined = [t for t in tiers if 0 < counts[t] <= limits.get(t, 0)]
    own = [t for t in tiers if per_tier or t in outlined] if len(tiers) > 1 else []

    def union(mask, radii: dict[str, float] | None = None) -> _Union:
        """One union of discs clipped to the region, and its outline when ``radii`` are given
        (in the same task: an outline need not wait for other unions)."""
        # a clip of its own per thread: GEOS builds a prepared polygon's indexes lazily
        clip = disc_union.Clip.of(_copy(boundary_m))
        discs = disc_union.prepare(x[mask], y[mask], r[mask])
        pieces = disc_union.clip_pieces(discs, clip)
        u = _Union(discs, pieces, min(disc_union.pieces_area(discs, pieces), region_area))
        if radii is not None:
            u.outline = outline(u, radii)
        return u

    def outline(u: _Union, tier_radii: dict[str, float]) -> tuple[dict, float]:
        tolerance = simplify_m
        if tolerance is None:
            tolerance = default_simplify_m(tier_radii, region_area)
        shape = disc_union.build_outline(u.discs, u.pieces, _copy(boundary_m), tolerance)
        return outline_geojson(region, shape), tolerance

    with ThreadPoolExecutor(max_workers=disc_union.WORKERS) as pool:
        # the biggest unions first: they take longest
        pending = {
            t: pool.submit(union, masks[t], {t: radius[t]} if t in outlined else None)
            for t in sorted(own, key=lambda t: -counts[t])
        }
        whole_job = pool.submit(union, slice(None))
        whole = whole_job.result()
        sub_jobs = [pool.submit(disc_union.covered_area, whole.discs, c) for c in children]
        whole_outline = pool.submit(outline, whole, radius) if geometry else None
        unions = {t: job.result() for t, job in pending.items()}
        if len(tiers) == 1:
            unions = {tiers[0]: whole}
            if outlined:
                whole.outline = (whole_outline or pool.submit(outline, whole, radius)).result()
        tier_outlines = {t: unions[t].outline for t in outlined}
        covered_subs = [job.result() for job in sub_jobs]
        by_tier = []
        for t in (t for t in tiers if per_tier or t in tier_outlines):
            u = unions[t]
            by_tier.append(
                TierCoverage(
                    t,
                    radius[t],
                    counts[t],
                    u.covered_m2,
                    u.covered_m2 / region_area if region_area else 0.0,
                    tier_outlines[t][0] if t in tier_outlines else None,
                )
            )
        subs = []
        kids = region.children if children else []
        for child, child_m, covered_m2 in zip(kids, children, covered_subs, strict=True):
            area = float(shapely.area(child_m))
            subs.append(AreaShare(child.code, child.name, area, min(covered_m2, area)))
        result = CoverageResult(
            region=AreaShare(region.code, region.name, region_area, whole.covered_m2),
            tiers=list(tiers),
            radius_m=radius,
            outlets=len(points),
            by_tier=by_tier,
            sub_regions=subs,
        )
        if whole_outline is not None:
            result.geometry, result.simplify_m = whole_outline.result()
    if keep_outlets:
        result.region_outlets = points.take(region.in_subtree(points.region_id))
    LOGGER.debug(
        "coverage %s: %d outlets, %.1f%%", region.code, len(points), 100 * result.region.ratio
    )
    return result


def _copy(geom):
    """A new geometry object equal to ``geom`` (prepared indexes are per object)."""
    return shapely.from_wkb(shapely.to_wkb(geom))


def default_simplify_m(radius: dict[str, float], area_m2: float) -> float:
    """Outline simplification: 1/500 of the smallest radius (arcs keep ~64 vertices), or a
    5000th of the region's size when coarser (a map of a province needs no 2 m detail);
    between 1 and 100 m."""
    size = math.sqrt(max(area_m2, 0.0)) / 5000.0
    return float(min(100.0, max(1.0, min(radius.values()) / 500.0, size)))


def outline_geojson(region: RegionFrame, outline) -> dict:
    """The covered outline as a WGS-84 GeoJSON MultiPolygon."""
    lonlat = region.frame.geom_to_lonlat(outline) if not shapely.is_empty(outline) else outline
    lonlat = shapely.transform(lonlat, lambda xy: np.round(xy, OUTLINE_DECIMALS))
    if lonlat.geom_type == "Polygon":
        lonlat = shapely.MultiPolygon([lonlat])
    if lonlat.geom_type != "MultiPolygon":
        parts = [g for g in shapely.get_parts(lonlat) if g.geom_type == "Polygon"]
        lonlat = shapely.MultiPolygon(parts)
    return shapely.geometry.mapping(lonlat)
