"""How things look on every map: tier colours and sizes, palettes, classed colour scales.

Tier styling (documented in docs/maps.md) — colour from dark to light down the network, size
shrinking with the tier, so the few distributors stand out above thousands of retail dots:

=============  ========  ==========  ==========================
tier           colour    radius px   service radius (default)
=============  ========  ==========  ==========================
distributor    #b2182b   8           30 km
wholesaler_2   #e08214   6           10 km
wholesaler_3   #1b7837   4.5         5 km
retail         #2166ac   3           1 km
=============  ========  ==========  ==========================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from branca.utilities import color_brewer

from ..models import TIERS

TIER_COLOURS = {
    "distributor": "#b2182b",
    "wholesaler_2": "#e08214",
    "wholesaler_3": "#1b7837",
    "retail": "#2166ac",
}
TIER_RADIUS_PX = {"distributor": 8.0, "wholesaler_2": 6.0, "wholesaler_3": 4.5, "retail": 3.0}
TIER_INDEX = {tier: i for i, tier in enumerate(TIERS)}

BOUNDARY_COLOUR = "#333333"
SUBREGION_COLOUR = "#777777"
LINK_COLOUR = "#555555"
NO_DATA_COLOUR = "#dddddd"

# Leaflet panes (z-index) that fix the drawing order: shading (choropleths, covered areas) under
# the overlay pane (400), where outlets and the hexagon counts' outlines share one canvas; the
# counts written in the hexagons above it (runtime.js, never catching the pointer). Counts never
# cover the shading with a fill of their own, so its colours stay true.
SHADE_PANE, SHADE_Z = "gcShade", 350
COUNT_PANE, COUNT_Z = "gcCounts", 450

# ColorBrewer schemes (via branca): sequential, light = low
COVERAGE_SCHEME = "YlGn"  # more coverage = greener
GAP_SCHEME = "YlOrRd"  # farther from any outlet = redder
DENSITY_SCHEME = "PuBu"  # more sales = darker blue
COUNT_SCHEME = "Purples"  # outlets per hexagon


def palette(scheme: str, n: int) -> list[str]:
    """``n`` colours of a ColorBrewer scheme (branca pads/trims to the requested count)."""
    n = max(1, n)
    colours = color_brewer(scheme, max(3, n))
    if n < 3:
        colours = [colours[0], colours[-1]][-n:] if n == 2 else [colours[-1]]
    return colours[:n]


@dataclass(frozen=True)
class Classes:
    """A classed colour scale: ``breaks[i] <= v < breaks[i+1]`` gets ``colours[i]``."""

    breaks: tuple[float, ...]  # len(colours) + 1 ascending edges; the last one includes the max
    colours: tuple[str, ...]

    def index(self, values) -> np.ndarray:
        """Class index of each value; NaN gets -1 (no data)."""
        v = np.asarray(values, dtype=np.float64)
        inner = np.asarray(self.breaks[1:-1], dtype=np.float64)
        idx = np.searchsorted(inner, v, side="right").astype(np.int64)
        idx[~np.isfinite(v)] = -1
        return idx

    def colour(self, value) -> str:
        i = int(self.index([value])[0])
        return NO_DATA_COLOUR if i < 0 else self.colours[i]

    def ranges(self) -> list[tuple[float, float, str]]:
        return [(self.breaks[i], self.breaks[i + 1], c) for i, c in enumerate(self.colours)]


def quantile_classes(values, scheme: str, k: int = 5) -> Classes:
    """Quantile classes over the finite values; fewer classes when values repeat.

    Quantiles suit skewed figures like sales per cell or gap distance: each colour covers about
    the same number of features, so a few extreme cells do not wash out the rest.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return Classes((0.0, 1.0), (palette(scheme, 1)[0],))
    edges = np.unique(np.quantile(v, np.linspace(0.0, 1.0, k + 1)))
    if edges.size == 1:
        edges = np.array([edges[0], edges[0]])
    colours = palette(scheme, edges.size - 1)
    return Classes(tuple(float(e) for e in edges), tuple(colours))


def fixed_classes(breaks, scheme: str) -> Classes:
    """Classes with edges chosen by us (e.g. coverage ratio 0–20–40–60–80–100 %)."""
    edges = tuple(float(b) for b in breaks)
    return Classes(edges, tuple(palette(scheme, len(edges) - 1)))
