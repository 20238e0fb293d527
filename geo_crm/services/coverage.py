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
from dataclasses import dataclass

import numpy as np
import shapely
import shapely.geometry
from sqlalchemy.orm import Session

from ..models import TIERS
from . import disc_union
from .analysis_frame import RegionFrame, expand_envelope, fetch_outlets, load_region
from .analysis_params import AnalysisParams, resolve

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

    def to_dict(self) -> dict:
        return {
            "tier": self.tier,
            "radius_m": self.radius_m,
            "outlets": self.outlets,
            "covered_m2": self.covered_m2,
            "covered_km2": self.covered_m2 / 1e6,
            "ratio": self.ratio,
        }


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


def coverage(
    session: Session,
    region_code: str,
    params: AnalysisParams | None = None,
    *,
    sub_regions: bool = True,
    per_tier: bool = True,
    geometry: bool = True,
    simplify_m: float | None = None,
) -> CoverageResult:
    """Covered area and ratio of ``region_code`` for the whole filtered network, per tier and per
    direct sub-region; optionally the covered area as a simplified GeoJSON MultiPolygon."""
    params = params or AnalysisParams()
    resolved = resolve(session, params, region_code=region_code)
    region = load_region(session, region_code)
    tiers = tuple(t for t in TIERS if t in params.tiers)
    radius = {t: params.radius(t) for t in tiers}
    envelope = expand_envelope(shapely.bounds(region.boundary), max(radius.values()))
    points = fetch_outlets(session, resolved, tiers, envelope)
    x, y = region.frame.to_m(points.lon, points.lat)
    tier_radius = np.array([radius.get(t, 0.0) for t in TIERS])
    r = tier_radius[points.tier]
    polygon = disc_union.Clip.of(region.boundary_m)
    region_area = float(shapely.area(region.boundary_m))

    discs = disc_union.prepare(x, y, r)
    pieces = disc_union.clip_pieces(discs, polygon)
    covered = min(disc_union.pieces_area(discs, pieces), region_area)
    by_tier = []
    if per_tier:
        for t in tiers:
            mask = points.tier == TIERS.index(t)
            if len(tiers) == 1:
                tier_cov = covered
            else:
                tier_cov = min(
                    disc_union.covered_area(disc_union.prepare(x[mask], y[mask], r[mask]), polygon),
                    region_area,
                )
            by_tier.append(
                TierCoverage(
                    t,
                    radius[t],
                    int(mask.sum()),
                    tier_cov,
                    tier_cov / region_area if region_area else 0.0,
                )
            )
    subs = []
    if sub_regions and region.children:
        for child, child_m in zip(region.children, region.child_boundaries_m(session), strict=True):
            area = float(shapely.area(child_m))
            subs.append(
                AreaShare(
                    child.code, child.name, area, min(disc_union.covered_area(discs, child_m), area)
                )
            )
    result = CoverageResult(
        region=AreaShare(region.code, region.name, region_area, covered),
        tiers=list(tiers),
        radius_m=radius,
        outlets=len(points),
        by_tier=by_tier,
        sub_regions=subs,
    )
    if geometry:
        tolerance = simplify_m
        if tolerance is None:
            tolerance = default_simplify_m(radius, region_area)
        outline = disc_union.build_outline(discs, pieces, polygon, tolerance)
        result.geometry = outline_geojson(region, outline)
        result.simplify_m = tolerance
    LOGGER.debug(
        "coverage %s: %d outlets, %.1f%%", region.code, len(points), 100 * result.region.ratio
    )
    return result


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
