"""The printed maps: coverage, gaps and sales density drawn with matplotlib as SVG.

Each map is drawn in the region's own Lambert azimuthal equal-area frame (metres, north up at
its centre), so the scale bar is true across a province and shapes keep their areas. Every map
has the region's and sub-regions' boundaries, the sub-regions' names, a legend, a scale bar
and a north arrow. Everything is vector (SVG ``<path>`` and ``<text>``; the PDF keeps text
as text, so it can be searched and copied) except a dense outlet layer: above
``RASTER_POINTS`` dots it is embedded as one image inside the SVG, which keeps a province of
100,000 outlets to a few hundred kilobytes instead of 100,000 paths.

Names come from users (regions are loaded from files, outlets typed): every label is drawn
with ``parse_math=False`` (a ``$`` is not TeX) and matplotlib escapes XML in the SVG.
"""

from __future__ import annotations

import io
import math
import threading

import matplotlib

matplotlib.use("svg")  # no display; a module-level choice before pyplot loads

import numpy as np  # noqa: E402
import shapely  # noqa: E402
from matplotlib import patheffects  # noqa: E402
from matplotlib.collections import PatchCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import FancyArrow, Patch, PathPatch, Rectangle  # noqa: E402
from matplotlib.path import Path  # noqa: E402
from pyproj import Transformer  # noqa: E402

from ..maps.coverage import RATIO_BREAKS  # noqa: E402
from ..maps.style import (  # noqa: E402
    BOUNDARY_COLOUR,
    COVERAGE_SCHEME,
    DENSITY_SCHEME,
    GAP_SCHEME,
    NO_DATA_COLOUR,
    SUBREGION_COLOUR,
    TIER_COLOURS,
    fixed_classes,
    quantile_classes,
)
from ..models import TIERS  # noqa: E402
from .data import ReportData  # noqa: E402

FONT_FAMILY = ["Noto Sans CJK SC", "Noto Sans CJK JP", "DejaVu Sans"]
FIG_SIZE_IN = (10.4, 6.2)  # fits an A4 landscape page under a heading
RASTER_POINTS = 4000  # above this, the outlet dots are one embedded image
RASTER_DPI = 200
SIMPLIFY_SHARE = 1 / 1000  # outline simplification: ~0.2 mm on the printed map
MERGE_CELLS = True  # cells of a class as one merged outline (False: one ring each; the bench)
_RC = {
    "svg.fonttype": "none",  # text stays text (searchable in the PDF); the page embeds the font
    "svg.hashsalt": "geo_crm",  # stable ids: the same data gives the same file
    "font.family": FONT_FAMILY,
    "font.size": 8,
    "axes.unicode_minus": False,
}
_LOCK = threading.Lock()  # matplotlib's rcParams are global: one map at a time per process


class Projector:
    """WGS-84 → the region's LAEA frame (metres)."""

    def __init__(self, geom: shapely.Geometry):
        c = geom.centroid
        self.proj = f"+proj=laea +lat_0={c.y:.4f} +lon_0={c.x:.4f} +ellps=WGS84 +units=m +no_defs"
        self._t = Transformer.from_crs("EPSG:4326", self.proj, always_xy=True)

    def xy(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        return self._t.transform(np.asarray(lon, float), np.asarray(lat, float))

    def geom(self, g):
        dense = shapely.segmentize(g, 0.05)
        return shapely.transform(dense, lambda a: np.column_stack(self.xy(a[:, 0], a[:, 1])))


def _path(geom) -> Path | None:
    """A matplotlib Path of a (Multi)Polygon, holes included (even-odd rings)."""
    verts, codes = [], []
    for poly in shapely.get_parts(geom):
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        for ring in [poly.exterior, *poly.interiors]:
            xy = np.asarray(ring.coords)
            if len(xy) < 3:
                continue
            verts.append(xy)
            c = np.full(len(xy), Path.LINETO, dtype=np.uint8)
            c[0], c[-1] = Path.MOVETO, Path.CLOSEPOLY
            codes.append(c)
    if not verts:
        return None
    return Path(np.concatenate(verts), np.concatenate(codes))


class MapFrame:
    """What every map of one report draws in: the projection, and the region's and
    sub-regions' outlines projected and simplified — computed once for the three maps (the
    simplification of a coastal province's outlines is a tenth of a second each time)."""

    def __init__(self, data: ReportData):
        self.proj = Projector(data.region.boundary)
        region_m = self.proj.geom(data.region.boundary)
        self.bounds = region_m.bounds
        x0, y0, x1, y1 = self.bounds
        self.extent = max(x1 - x0, y1 - y0) or 1.0
        self.tolerance = self.extent * SIMPLIFY_SHARE
        self.region_m = shapely.simplify(region_m, self.tolerance)
        self.subs_m = [
            shapely.simplify(self.proj.geom(s.boundary), self.tolerance) for s in data.sub_regions
        ]


def _class_path(polys: np.ndarray) -> Path:
    """One path for hexagons of one class (``polys``: (n, 7, 2) closed rings in metres).

    Cells of one grid share their edges vertex for vertex, so a coverage union merges them
    exactly; the merged outline is checked (valid, same area to a millionth) and the cells
    are drawn one ring each when it is not (cells of another grid, or edges that do not
    meet), which looks the same. Rings are oriented (shells counter-clockwise, holes
    clockwise) so that the SVG's non-zero fill leaves a hole where another class's cells lie.
    """
    if MERGE_CELLS and len(polys) > 1:
        cells = shapely.polygons(polys)
        merged = shapely.coverage_union_all(cells)
        area = float(shapely.area(cells).sum())
        if shapely.is_valid(merged) and abs(shapely.area(merged) - area) <= 1e-6 * area:
            path = _path(shapely.orient_polygons(merged))
            if path is not None:
                return path
    ring = np.full(polys.shape[1], Path.LINETO, dtype=np.uint8)
    ring[0], ring[-1] = Path.MOVETO, Path.CLOSEPOLY
    return Path(polys.reshape(-1, 2), np.tile(ring, len(polys)))


class _Canvas:
    """One figure: the map axes on the left, legend and notes on the right."""

    def __init__(self, data: ReportData, t, frame: MapFrame | None = None):
        self.t = t
        self.data = data
        frame = frame or MapFrame(data)
        self.proj = frame.proj
        x0, y0, x1, y1 = frame.bounds
        self.extent = frame.extent
        self.tolerance = frame.tolerance
        self.region_m = frame.region_m
        self.subs_m = frame.subs_m
        self.fig = Figure(figsize=FIG_SIZE_IN)
        self.ax = self.fig.add_axes((0.0, 0.0, 0.74, 1.0))
        self.ax.set_aspect("equal")
        self.ax.set_axis_off()
        pad = self.extent * 0.03
        self.ax.set_xlim(x0 - pad, x1 + pad)
        self.ax.set_ylim(y0 - pad, y1 + pad)
        self.handles: list = []
        self.labels: list[str] = []

    # --- layers ------------------------------------------------------------------------------
    def add(self, patch: PathPatch) -> None:
        """Add a large path without ``add_patch``'s data-limit update, which walks every
        vertex in Python (a third of a second for a province's density cells); the view's
        limits are fixed in ``__init__`` anyway."""
        self.ax.add_artist(patch)

    def fill(self, geoms, colours, *, alpha=1.0, zorder=1, edge="none", hatch=None) -> None:
        patches, faces = [], []
        for g, c in zip(geoms, colours, strict=True):
            p = _path(g)
            if p is not None:
                patches.append(PathPatch(p))
                faces.append(c)
        if patches:
            coll = PatchCollection(
                patches, facecolor=faces, edgecolor=edge, linewidth=0.3, alpha=alpha,
                zorder=zorder, hatch=hatch,
            )  # fmt: skip
            self.ax.add_collection(coll)

    def cells(self, rings_lonlat, colours, *, zorder=2) -> None:
        """Hexagon cells (closed WGS-84 rings) filled with ``colours``: the cells of one colour
        merged into one outline (edges shared by two cells of a class drop out), drawn as
        one path per colour — a province's 4,440 density cells are five paths of ~19,000
        points instead of 26,640 (WeasyPrint reads SVG path data point by point in Python)."""
        if not rings_lonlat:
            return
        arr = np.asarray(rings_lonlat, dtype=float)  # (n, 7, 2)
        x, y = self.proj.xy(arr[..., 0].ravel(), arr[..., 1].ravel())
        polys = np.stack([x, y], axis=-1).reshape(arr.shape)
        colours = np.asarray(colours)
        for colour in dict.fromkeys(colours.tolist()):
            path = _class_path(polys[colours == colour])
            self.add(PathPatch(path, facecolor=colour, edgecolor="none", zorder=zorder))
        self.mask_outside(zorder + 0.5)

    def mask_outside(self, zorder: float) -> None:
        """Paint white outside the region, over cells whose centre lies inside but whose edge
        crosses the boundary: one path, where a clip path would be repeated for every cell
        (PDF renderers redraw a clip per element: 5,000 cells × a province's outline)."""
        x0, x1 = self.ax.get_xlim()
        y0, y1 = self.ax.get_ylim()
        pad = self.extent
        frame = shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        outside = _path(shapely.difference(frame, self.region_m))
        if outside is not None:
            self.add(PathPatch(outside, facecolor="white", edgecolor="none", zorder=zorder))

    def boundaries(self) -> None:
        sub_paths = [p for p in (_path(g) for g in self.subs_m) if p is not None]
        if sub_paths:
            self.ax.add_collection(
                PatchCollection(
                    [PathPatch(p) for p in sub_paths],
                    facecolor="none",
                    edgecolor=SUBREGION_COLOUR,
                    linewidth=0.6,
                    linestyle=(0, (4, 2)),
                    zorder=5,
                )  # fmt: skip
            )
        p = _path(self.region_m)
        if p is not None:
            self.add(
                PathPatch(p, facecolor="none", edgecolor=BOUNDARY_COLOUR, linewidth=1.4, zorder=6)
            )
        self.legend_line(BOUNDARY_COLOUR, self.t("Region boundary"), 1.4, "-")
        if sub_paths:
            self.legend_line(SUBREGION_COLOUR, self.t("Sub-region boundary"), 0.8, "--")

    def names(self) -> None:
        """Sub-region names at their label points (the region's own when it has none)."""
        shapes = self.data.sub_regions or [self.data.region]
        geoms = self.subs_m if self.data.sub_regions else [self.region_m]
        size = 7 if len(shapes) <= 20 else 5.5 if len(shapes) <= 60 else 4.5
        halo = [patheffects.withStroke(linewidth=2.2, foreground="white")]
        for s, g in zip(shapes, geoms, strict=True):
            if s.label is not None:
                x, y = self.proj.xy([s.label[0]], [s.label[1]])
                x, y = float(x[0]), float(y[0])
            elif not g.is_empty:
                p = shapely.point_on_surface(g)
                x, y = p.x, p.y
            else:
                continue
            self.ax.text(
                x, y, s.name, ha="center", va="center", fontsize=size, color="#222222",
                zorder=9, parse_math=False, path_effects=halo, clip_on=True,
            )  # fmt: skip

    def outlets(self, tiers=None, *, size_scale=1.0) -> None:
        o = self.data.outlets
        if not len(o):
            return
        x, y = self.proj.xy(o.lon, o.lat)
        raster = len(o) > RASTER_POINTS
        if len(o) > 20 * RASTER_POINTS:  # a province of 100,000: smaller dots stay legible
            size_scale *= 0.45
        for i in reversed(range(len(TIERS))):  # retail first, distributors on top
            tier = TIERS[i]
            if tiers is not None and tier not in tiers:
                continue
            mask = o.tier == i
            n = int(mask.sum())
            if not n:
                continue
            size = {0: 14, 1: 8, 2: 4, 3: 1.5}[i] * size_scale
            if raster and i == 3:
                size = 0.6 * size_scale
            self.ax.scatter(
                x[mask], y[mask], s=size, c=TIER_COLOURS[tier], linewidths=0,
                zorder=7 + (3 - i) * 0.01, rasterized=raster,
            )  # fmt: skip
            self.handles.append(
                Line2D(
                    [],
                    [],
                    marker="o",
                    linestyle="none",
                    markersize=math.sqrt(size) + 2,
                    markerfacecolor=TIER_COLOURS[tier],
                    markeredgewidth=0,
                )  # fmt: skip
            )
            self.labels.append(f"{self.t.tier(tier)} ({self.t.number(n)})")

    # --- legend and furniture ----------------------------------------------------------------
    def legend_patch(self, colour: str, label: str, **kw) -> None:
        self.handles.append(Patch(facecolor=colour, edgecolor="#999999", linewidth=0.3, **kw))
        self.labels.append(label)

    def legend_line(self, colour: str, label: str, width: float, style: str) -> None:
        self.handles.append(Line2D([], [], color=colour, lw=width, ls=style))
        self.labels.append(label)

    def legend_title(self, label: str) -> None:
        self.handles.append(Patch(facecolor="none", edgecolor="none"))
        self.labels.append(label)

    def scale_bar(self) -> None:
        ax = self.ax
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        target = (x1 - x0) / 5
        exp = 10 ** math.floor(math.log10(target))
        length = max(n * exp for n in (1, 2, 5) if n * exp <= target)
        bx, by = x0 + (x1 - x0) * 0.03, y0 + (y1 - y0) * 0.04
        h = (y1 - y0) * 0.008
        ax.add_patch(  # a white card so cells and outlets never hide the bar
            Rectangle(
                (bx - (x1 - x0) * 0.015, by - h * 1.5),
                length + (x1 - x0) * 0.05,
                h * 7,
                facecolor="white",
                edgecolor="#999999",
                linewidth=0.4,
                alpha=0.9,
                zorder=9.5,
            )  # fmt: skip
        )
        for k in range(4):  # alternating black/white quarters
            ax.add_patch(
                Rectangle(
                    (bx + k * length / 4, by),
                    length / 4,
                    h,
                    facecolor="#222222" if k % 2 == 0 else "white",
                    edgecolor="#222222",
                    linewidth=0.5,
                    zorder=10,
                )  # fmt: skip
            )
        ax.text(bx, by + 2.2 * h, "0", fontsize=6, ha="center", zorder=10)
        ax.text(
            bx + length, by + 2.2 * h, self.t.km(length, 0 if length >= 1000 else 1),
            fontsize=6, ha="center", zorder=10, parse_math=False,
        )  # fmt: skip

    def north_arrow(self) -> None:
        ax = self.ax
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        w, h = x1 - x0, y1 - y0
        x, y = x0 + w * 0.04, y1 - h * 0.16
        ax.add_patch(
            Rectangle(
                (x - w * 0.025, y - h * 0.015),
                w * 0.05,
                h * 0.16,
                facecolor="white",
                edgecolor="#999999",
                linewidth=0.4,
                alpha=0.9,
                zorder=9.5,
            )  # fmt: skip
        )
        ax.add_patch(
            FancyArrow(
                x,
                y,
                0,
                h * 0.09,
                width=w * 0.006,
                head_width=w * 0.022,
                head_length=h * 0.04,
                length_includes_head=True,
                color="#222222",
                zorder=10,
            )  # fmt: skip
        )
        ax.text(
            x, y + h * 0.105, self.t("N"), ha="center", va="bottom", fontsize=9,
            fontweight="bold", zorder=10, parse_math=False,
        )  # fmt: skip

    def finish(self, notes: list[str]) -> str:
        self.scale_bar()
        self.north_arrow()
        leg = self.fig.legend(
            self.handles, self.labels, loc="upper left", bbox_to_anchor=(0.745, 0.98),
            frameon=False, fontsize=7, handlelength=1.6, borderaxespad=0.0,
        )  # fmt: skip
        for text in leg.get_texts():
            text.set_parse_math(False)
        y = 0.04
        for note in reversed(notes):
            self.fig.text(
                0.745, y, note, fontsize=6.5, color="#555555", wrap=True, parse_math=False
            )
            y += 0.05
        out = io.StringIO()
        self.fig.savefig(out, format="svg", dpi=RASTER_DPI)
        return out.getvalue()


def _render(build) -> str:
    with _LOCK, matplotlib.rc_context(_RC):
        return build()


def coverage_svg(data: ReportData, t, frame: MapFrame | None = None) -> str:
    """Sub-regions shaded by coverage ratio, the covered area, outlets by tier."""

    def build() -> str:
        c = _Canvas(data, t, frame)
        classes = fixed_classes(RATIO_BREAKS, COVERAGE_SCHEME)
        ratio = {s.code: s.coverage_ratio for s in data.sub_region_rows}
        if data.sub_regions:
            colours = [
                classes.colour(ratio[s.code]) if ratio.get(s.code) is not None else NO_DATA_COLOUR
                for s in data.sub_regions
            ]
            c.fill(c.subs_m, colours, zorder=1)
            c.legend_title(t("Sub-regions by coverage ratio"))
            for lo, hi, colour in classes.ranges():
                c.legend_patch(colour, f"{t.percent(lo, 0)} – {t.percent(hi, 0)}")
        if data.coverage.geometry is not None:
            covered = c.proj.geom(shapely.from_geojson(_json(data.coverage.geometry)))
            covered = shapely.simplify(covered, c.tolerance)
            c.fill([covered], ["#1b7837"], alpha=0.35, zorder=3, edge="#1b7837")
            c.legend_patch("#1b783759", t("Covered area"))
        c.boundaries()
        c.names()
        c.outlets()
        ratio_all = t.percent(data.figures.coverage.get("all"), 1)
        return c.finish([f"{t('Coverage ratio (whole network)')}: {ratio_all}"])

    return _render(build)


def gaps_svg(data: ReportData, t, frame: MapFrame | None = None) -> str:
    """Gap cells by distance to the nearest outlet, white space hatched, worst gaps numbered."""

    def build() -> str:
        c = _Canvas(data, t, frame)
        cells = [g for g in data.gaps.worst if g.outline]
        white = {w.code for w in data.gaps.white_space}
        if white:
            geoms = [g for s, g in zip(data.sub_regions, c.subs_m, strict=True) if s.code in white]
            c.fill(geoms, ["#f7f7f7"] * len(geoms), zorder=1, edge="#bbbbbb", hatch="////")
            c.legend_patch("#f7f7f7", t("White space"), hatch="////")
        if cells:
            dist = np.array([g.distance_m if g.distance_m is not None else np.inf for g in cells])
            classes = quantile_classes(dist, GAP_SCHEME)
            idx = classes.index(dist)
            colours = [classes.colours[i] if i >= 0 else classes.colours[-1] for i in idx]
            c.cells([g.outline for g in cells], colours)
            c.legend_title(t("Gap cells by distance to the nearest outlet"))
            for lo, hi, colour in classes.ranges():
                c.legend_patch(colour, f"{_km(t, lo)} – {_km(t, hi)}")
        c.boundaries()
        c.names()
        c.outlets(size_scale=0.7)
        for h in data.holes:
            x, y = c.proj.xy([h.lon], [h.lat])
            c.ax.text(
                float(x[0]), float(y[0]), str(h.rank), ha="center", va="center", fontsize=6.5,
                color="white", fontweight="bold", zorder=11,
                bbox={"boxstyle": "circle,pad=0.25", "fc": "#7f0000", "ec": "white", "lw": 0.6},
            )  # fmt: skip
        notes = []
        if data.gaps.gap_cells > len(cells):
            notes.append(
                t("The worst {n} of {total} gap cells are drawn",
                  n=t.number(len(cells)), total=t.number(data.gaps.gap_cells))
            )  # fmt: skip
        notes.append(f"{t('Cell size')}: {t.number(data.gaps.cell_km, 1)} {t('km')}")
        return c.finish(notes)

    return _render(build)


def density_svg(data: ReportData, t, frame: MapFrame | None = None) -> str:
    """Sales per hexagon cell (quantile classes), distributors on top."""

    def build() -> str:
        c = _Canvas(data, t, frame)
        quantity = data.filters.measure == "quantity"
        cells = [cell for cell in data.density.cells if cell.outline]
        if cells:
            values = np.array(
                [float(x.totals.quantity if quantity else x.totals.amount) for x in cells]
            )
            classes = quantile_classes(values, DENSITY_SCHEME)
            idx = classes.index(values)
            colours = [classes.colours[max(i, 0)] for i in idx]
            c.cells([x.outline for x in cells], colours)
            unit = t("cases") if quantity else t("yuan")
            title = "Quantity per cell ({unit})" if quantity else "Sales per cell ({unit})"
            c.legend_title(t(title, unit=unit))
            for lo, hi, colour in classes.ranges():
                c.legend_patch(colour, f"{t.number(lo)} – {t.number(hi)}")
        c.boundaries()
        c.names()
        c.outlets(tiers=("distributor",))
        notes = []
        if data.density.cell_count > len(cells):
            notes.append(
                t("The {n} cells with the most sales of {total} are drawn",
                  n=t.number(len(cells)), total=t.number(data.density.cell_count))
            )  # fmt: skip
        notes.append(f"{t('Sales amount')}: {t.money(data.figures.sales_amount)}")
        return c.finish(notes)

    return _render(build)


def _km(t, metres: float) -> str:
    if not math.isfinite(metres):
        return "–"
    return t.km(metres, 1 if metres < 100_000 else 0)


def _json(geometry) -> str:
    import json

    return json.dumps(geometry)


MAPS = {"coverage": coverage_svg, "gaps": gaps_svg, "density": density_svg}
