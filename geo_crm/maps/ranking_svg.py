"""A small inline SVG map: a region, its sub-regions and points coloured by a figure.

Used by the ranking page (distributors coloured by the figure they are ranked by): a page of
its own, no script, no tiles, nothing fetched. Longitude is scaled by the cosine of the
region's middle latitude (an equirectangular view true to shape near the middle), which is
enough for a province. Every user-typed text (names) is escaped; the SVG is built from
numbers and escaped text only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import shapely
from markupsafe import Markup, escape

from .style import BOUNDARY_COLOUR, NO_DATA_COLOUR, SUBREGION_COLOUR, Classes, quantile_classes

WIDTH = 640.0
RANK_SCHEME = "RdYlGn"  # red = worst, green = best


@dataclass(frozen=True)
class MapPoint:
    lon: float
    lat: float
    value: float | None
    label: str  # shown as the point's tooltip (escaped)
    href: str | None = None


@dataclass(frozen=True)
class PointMap:
    svg: Markup
    classes: Classes
    ascending: bool  # lower is better: the scale's colours run the other way

    def legend(self) -> list[tuple[float, float, str]]:
        return self.classes.ranges()


def _path(geom, to_xy) -> str:
    parts = []
    for poly in shapely.get_parts(geom):
        if poly.geom_type != "Polygon":
            continue
        for ring in (poly.exterior, *poly.interiors):
            coords = [to_xy(x, y) for x, y in ring.coords]
            if len(coords) < 3:
                continue
            parts.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in coords) + " Z")
    return " ".join(parts)


def point_map(
    region: shapely.Geometry,
    children: Sequence[shapely.Geometry],
    points: Sequence[MapPoint],
    *,
    ascending: bool = False,
    title: str = "",
) -> PointMap:
    """The SVG of ``region`` (outline), ``children`` (thin lines) and ``points`` coloured in
    quantile classes of their values (None: no data grey)."""
    minx, miny, maxx, maxy = shapely.bounds(region)
    for p in points:
        minx, maxx = min(minx, p.lon), max(maxx, p.lon)
        miny, maxy = min(miny, p.lat), max(maxy, p.lat)
    k = math.cos(math.radians((miny + maxy) / 2))
    span_x = max((maxx - minx) * k, 1e-9)
    span_y = max(maxy - miny, 1e-9)
    scale = (WIDTH - 20) / span_x
    height = span_y * scale + 20

    def to_xy(lon: float, lat: float) -> tuple[float, float]:
        return 10 + (lon - minx) * k * scale, 10 + (maxy - lat) * scale

    tolerance = span_y / 800
    values = [p.value for p in points if p.value is not None]
    classes = quantile_classes(values, RANK_SCHEME)
    if ascending:  # low values are good: reverse the colours
        classes = Classes(classes.breaks, tuple(reversed(classes.colours)))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:.0f} {height:.0f}" '
        f'role="img" aria-label="{escape(title)}" class="pointmap">'
    ]
    for child in children:
        d = _path(shapely.simplify(child, tolerance), to_xy)
        out.append(f'<path d="{d}" fill="#f7f7f7" stroke="{SUBREGION_COLOUR}" stroke-width="0.6"/>')
    d = _path(shapely.simplify(region, tolerance), to_xy)
    out.append(f'<path d="{d}" fill="none" stroke="{BOUNDARY_COLOUR}" stroke-width="1.4"/>')
    # the best last, so they are drawn on top
    order = sorted(
        points,
        key=lambda p: (
            p.value is not None,
            (-p.value if ascending else p.value) if p.value is not None else 0,
        ),
    )
    for p in order:
        x, y = to_xy(p.lon, p.lat)
        colour = NO_DATA_COLOUR if p.value is None else classes.colour(p.value)
        circle = (
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{colour}" stroke="#333" '
            f'stroke-width="0.8"><title>{escape(p.label)}</title></circle>'
        )
        if p.href:
            circle = f'<a href="{escape(p.href)}">{circle}</a>'
        out.append(circle)
    out.append("</svg>")
    return PointMap(Markup("".join(out)), classes, ascending)
