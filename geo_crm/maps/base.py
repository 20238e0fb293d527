"""The skeleton every region map shares: basemap, boundaries with labels, scale, layer control.

Inputs are plain data (``RegionShape``: a code, a name and a GeoJSON-like WGS-84 geometry), so
this module knows no SQL. ``RegionMap`` owns a ``Frame`` that turns WGS-84 into what the basemap
needs: with the AMap basemap (GCJ-02) *every* drawn coordinate — boundaries, cells, outlets,
links, fit bounds — is converted by ``geo_crm.coords.wgs84_to_gcj02``; for a region crossing the
antimeridian, negative longitudes are shifted by +360° so the region draws (and fits) as one
piece instead of spanning the whole world.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import folium
import numpy as np
import shapely

from ..analysis.geometry.geodesy import display_tolerance
from ..analysis.geometry.sphere import crosses_antimeridian as crosses_antimeridian
from ..coords import wgs84_to_gcj02
from ..i18n import Translator
from . import assets as asset_files
from . import words  # noqa: F401 -- registers the maps' own words
from .elements import FitAround, FitView, Labels, Legend, Pane, ReadySignal, Runtime, ScaleBar
from .safe import safe_link, safe_text
from .style import (
    BOUNDARY_COLOUR,
    NO_DATA_COLOUR,
    SHADE_PANE,
    SHADE_Z,
    SUBREGION_COLOUR,
    Classes,
)

if TYPE_CHECKING:
    from ..domain.regions import RegionInfo
    from ..settings import Settings
    from .vector_tiles import TileSource

LOGGER = logging.getLogger(__name__)

BASEMAPS = ("osm", "none", "amap")
BASEMAP_CRS = {"osm": "wgs84", "none": "wgs84", "amap": "gcj02"}
TILES = {
    "osm": (
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
        None,
        19,
    ),
    "amap": (
        "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
        "&x={x}&y={y}&z={z}",
        "&copy; AMap 高德地图",
        "1234",
        18,
    ),
}
FIT_NAME = "gc_fit_bounds"
COORD_DIGITS = 5  # ~1 m: enough for display, and it keeps pages small


@dataclass
class RegionShape:
    """A region as maps need it: code, name and a WGS-84 (Multi)Polygon as a GeoJSON dict."""

    code: str
    name: str
    geometry: Mapping | shapely.Geometry
    level: str | None = None
    label: tuple[float, float] | None = None  # lon, lat of the label (inside the region)

    def shapely(self) -> shapely.Geometry:
        return as_shapely(self.geometry)

    @classmethod
    def from_info(cls, info: RegionInfo, t: Translator | None = None) -> RegionShape:
        """The region read with its boundary (``domain.regions.get_region(boundary=True)``),
        named in ``t``'s language."""
        name = info.label(t) if t is not None else info.name
        return cls(info.code, name, info.boundary, info.level, info.label_point)


@dataclass
class MapSettings:
    """What a map needs from the app's configuration and the request (language)."""

    translator: Translator = field(default_factory=Translator)
    basemap: str = "osm"
    assets: str = "local"
    asset_prefix: str = asset_files.URL_PREFIX
    tile_url: str | None = None  # overrides the basemap's tile URL (e.g. an intranet mirror)
    tile_attribution: str | None = None
    point_limit: int = 10_000  # outlets drawn one by one; above it, counted per hexagon
    region_href: str = "/regions/"
    outlet_href: str = "/outlets/"
    map_href: str = "/maps/"
    # a region's analysis cells come from the vector tiles of ``tiles`` (None: embedded GeoJSON)
    # when there are more than ``tile_cells`` of them (``maps.vector_tiles``)
    tiles: TileSource | None = None
    tile_cells: int = 1_000
    tile_outlets: int = 20_000  # a region's outlets above it come from the outlet tiles

    def __post_init__(self):
        if self.basemap not in BASEMAPS:
            raise ValueError(
                f"GEO_CRM_BASEMAP must be one of {', '.join(BASEMAPS)}, not {self.basemap!r}"
            )
        if self.assets not in asset_files.MODES:
            raise ValueError(
                f"GEO_CRM_MAP_ASSETS must be one of {', '.join(asset_files.MODES)}, "
                f"not {self.assets!r}"
            )

    @property
    def crs(self) -> str:
        return BASEMAP_CRS[self.basemap]

    def tile_layer(self) -> dict | None:
        """The basemap's tiles: ``url`` template, ``attribution``, ``subdomains`` (None: the
        URL has none), ``max_zoom``, ``crs`` they are drawn in and the layer's ``name`` in the
        map's language; None without a basemap. ``tile_url``/``tile_attribution`` override
        the basemap's (an intranet mirror serves the same tiles under its own host)."""
        if self.basemap == "none":
            return None
        url, attribution, subdomains, max_zoom = TILES[self.basemap]
        return {
            "url": self.tile_url or url,
            "attribution": self.tile_attribution or attribution,
            "subdomains": subdomains if subdomains and not self.tile_url else None,
            "max_zoom": max_zoom,
            "crs": self.crs,
            "name": self.translator("OpenStreetMap" if self.basemap == "osm" else "AMap (GCJ-02)"),
        }

    @classmethod
    def from_settings(cls, settings: Settings, translator: Translator, **overrides) -> MapSettings:
        """The map settings of the app's :class:`~geo_crm.settings.Settings` (checked when
        the app was built), in ``translator``'s language; ``overrides`` replace any field."""
        values = dict(
            translator=translator,
            basemap=settings.basemap,
            assets=settings.map_assets,
            tile_url=settings.tile_url,
            tile_attribution=settings.tile_attribution,
            point_limit=settings.map_point_limit,
            tile_cells=settings.map_tile_cells,
            tile_outlets=settings.map_tile_outlets,
        )
        values.update(overrides)
        return cls(**values)


class Frame:
    """Turns WGS-84 coordinates into the drawn ones: GCJ-02 for AMap, antimeridian unwrapped."""

    def __init__(self, crs: str = "wgs84", *, unwrap: bool = False, digits: int = COORD_DIGITS):
        self.crs = crs
        self.unwrap = unwrap
        self.digits = digits

    @classmethod
    def for_geometry(cls, geom: shapely.Geometry, crs: str) -> Frame:
        return cls(crs, unwrap=crosses_antimeridian(geom))

    def xy(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        if self.crs == "gcj02":
            lon, lat = wgs84_to_gcj02(lon, lat)
        elif self.crs != "wgs84":
            raise ValueError(f"cannot draw in {self.crs!r}")
        if self.unwrap:
            lon = np.where(lon < 0, lon + 360.0, lon)
        return np.round(lon, self.digits), np.round(lat, self.digits)

    def _coords(self, coords: np.ndarray) -> np.ndarray:
        lon, lat = self.xy(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    def geometry(self, geom):
        """A shapely geometry (or array of them) in drawn coordinates."""
        return shapely.transform(geom, self._coords)

    def latlng(self, lon: float, lat: float) -> list[float]:
        x, y = self.xy([lon], [lat])
        return [float(y[0]), float(x[0])]

    def bounds(self, geom: shapely.Geometry) -> list[list[float]]:
        """``[[south, west], [north, east]]`` of a geometry in drawn coordinates."""
        xmin, ymin, xmax, ymax = shapely.bounds(self.geometry(geom)).tolist()
        return [[ymin, xmin], [ymax, xmax]]


def as_shapely(geometry) -> shapely.Geometry:
    """A shapely geometry from a GeoJSON-like dict (GEOS's reader: fast on large outlines)."""
    if isinstance(geometry, shapely.Geometry):
        return geometry
    return shapely.from_geojson(json.dumps(geometry))


def simplify_for_display(geoms: list[shapely.Geometry], tolerance: float) -> list[shapely.Geometry]:
    """Simplify neighbouring regions together so their shared borders stay shared."""
    if not geoms or tolerance <= 0:
        return list(geoms)
    arr = np.asarray(geoms, dtype=object)
    try:
        out = shapely.coverage_simplify(arr, tolerance)
    except Exception:  # not a clean coverage (overlaps in real data): simplify one by one
        LOGGER.debug("coverage_simplify failed; simplifying regions one by one", exc_info=True)
        out = shapely.simplify(arr, tolerance, preserve_topology=True)
    return [g if not g.is_empty else o for g, o in zip(out.tolist(), geoms, strict=True)]


def feature(
    geom: shapely.Geometry | None, properties: dict, fid: str | int, *, shared: str | None = None
) -> dict:
    """A GeoJSON feature. ``shared``: the key of a shape drawn by two layers, embedded once
    (``runtime.js``, ``L.GeoJSON.addData``): the first feature with the key carries the
    geometry (``geom``), a later one ``geom=None`` and borrows it in the browser."""
    out = {
        "type": "Feature",
        "id": str(fid),
        "properties": properties,
        "geometry": None if geom is None else json.loads(shapely.to_geojson(geom)),
    }
    if shared is not None:
        out["gc"] = shared
    return out


class RegionMap:
    """A Folium map of one region: basemap, boundaries and labels, then the caller's layers."""

    def __init__(
        self,
        region: RegionShape,
        subregions: Iterable[RegionShape],
        settings: MapSettings,
        *,
        title: str | None = None,
    ):
        self.settings = settings
        self.t = settings.translator
        self.region = region
        self.subregions = list(subregions)
        self.legends: list[Legend] = []
        region_geom = region.shapely()
        self.frame = Frame.for_geometry(region_geom, settings.crs)
        tol = display_tolerance(region_geom)
        self.tolerance = tol
        # a tenth of the simplification tolerance is plenty: ~100 m for China, ~1 m for a city
        self.frame.digits = (
            int(min(COORD_DIGITS, max(3, math.ceil(-math.log10(tol)) + 1)))
            if tol > 0
            else COORD_DIGITS
        )
        simplified = simplify_for_display([region_geom], tol)[0]
        self.region_geom = self.frame.geometry(simplified)
        subs = simplify_for_display([s.shapely() for s in self.subregions], tol)
        self.sub_geoms = {
            s.code: self.frame.geometry(g) for s, g in zip(self.subregions, subs, strict=True)
        }
        self.fit = self.frame.bounds(region_geom)

        self.map = new_map(settings, self.fit, title)
        # the sub-regions' outlines are embedded once, in the boundaries layer; a choropleth of
        # the same shapes (coverage, density, gaps by sub-region) borrows them by key
        self._shared = {
            id(g): f"{self.map.get_name()}:{code}" for code, g in self.sub_geoms.items()
        }
        self._add_boundaries()

    # --- skeleton ---------------------------------------------------------------------------
    def _add_boundaries(self) -> None:
        t = self.t
        region = self.region
        outline = folium.GeoJson(
            {
                "type": "FeatureCollection",
                "features": [
                    feature(self.region_geom, {"name": str(safe_text(region.name))}, region.code)
                ],
            },
            name=t("Region boundary"),
            control=False,
            interactive=False,
            style_function=lambda f: {"color": BOUNDARY_COLOUR, "weight": 2.5, "fill": False},
        )
        self.map.add_child(outline, name="gc_region_boundary")
        if self.sub_geoms:
            feats = [
                feature(
                    self.sub_geoms[s.code],
                    {
                        "name": str(safe_text(s.name)),
                        "link": str(safe_link(self.settings.region_href, s.code, s.name)),
                    },
                    s.code,
                    shared=self._shared.get(id(self.sub_geoms[s.code])),
                )
                for s in self.subregions
            ]
            subs = folium.GeoJson(
                {"type": "FeatureCollection", "features": feats},
                name=t("Sub-region boundary"),
                control=False,
                style_function=lambda f: {
                    "color": SUBREGION_COLOUR,
                    "weight": 1,
                    "dashArray": "4 3",
                    "fillOpacity": 0,
                    "fill": True,
                },
                tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False, sticky=True),
                popup=folium.GeoJsonPopup(fields=["link"], labels=False),
            )
            self.map.add_child(subs, name="gc_subregion_boundaries")
            self.map.add_child(Labels(self._label_items(self.subregions, self.sub_geoms)))
        else:
            self.map.add_child(
                Labels(
                    self._label_items([region], {region.code: self.region_geom}),
                    css_class="gc-main",
                )
            )

    def _label_items(self, shapes: list[RegionShape], geoms: Mapping[str, shapely.Geometry]):
        items = []
        for s in shapes:
            if s.label is not None:
                lat, lon = self.frame.latlng(*s.label)
            else:
                p = shapely.point_on_surface(geoms[s.code])
                lat, lon = p.y, p.x
            items.append((lat, lon, s.name))
        return items

    # --- helpers for the map builders -------------------------------------------------------
    def _feature(self, geom: shapely.Geometry, properties: dict, fid: str) -> dict:
        """A feature of a layer drawn after the boundaries: a sub-region's outline (one of
        ``sub_geoms``) is borrowed from the boundaries layer by key, not embedded again."""
        shared = self._shared.get(id(geom))
        return feature(None if shared else geom, properties, fid, shared=shared)

    def shade_pane(self) -> str:
        """The pane for shading (choropleths, covered areas): under outlets and hexagon counts
        whatever order the layers come in (``style.SHADE_PANE``); made once per map."""
        if not getattr(self, "_shade_pane", False):
            self.map.add_child(Pane(SHADE_PANE, SHADE_Z))
            self._shade_pane = True
        return SHADE_PANE

    def add_legend(
        self, title: str, items, *, layer=None, note: str | None = None, row_layers=None
    ) -> Legend:
        legend = Legend(title, items, layer=layer, note=note, row_layers=row_layers)
        self.map.add_child(legend)
        self.legends.append(legend)
        return legend

    def geometry_layer(
        self,
        features: list[dict],
        *,
        name: str,
        style: Callable[[dict], dict],
        tooltip: list[str | tuple[str, str]] | None = None,
        popup: list[str] | None = None,
        show: bool = True,
        control: bool = True,
        pane: str | None = None,
    ) -> folium.GeoJson:
        """A GeoJSON overlay of features already in drawn coordinates, escaped properties only.

        ``tooltip`` lists property names, or (name, label) pairs to show labelled rows;
        ``pane``: a pane made by :meth:`shade_pane` (default: Leaflet's overlay pane).
        """
        kwargs = {"pane": pane} if pane else {}
        if tooltip:
            fields = [f if isinstance(f, str) else f[0] for f in tooltip]
            aliases = [str(safe_text("" if isinstance(f, str) else f[1])) for f in tooltip]
            kwargs["tooltip"] = folium.GeoJsonTooltip(
                fields=fields, aliases=aliases, labels=any(aliases), sticky=True
            )
        if popup:
            kwargs["popup"] = folium.GeoJsonPopup(fields=popup, labels=False)
        layer = folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=str(safe_text(name)),
            style_function=style,
            show=show,
            control=control,
            overlay=True,
            **kwargs,
        )
        self.map.add_child(layer)
        return layer

    def choropleth(
        self,
        geoms: Sequence[shapely.Geometry],
        values,
        classes: Classes,
        *,
        name: str,
        text: Callable[[float], str],
        tooltip: str,
        style: Mapping[str, object],
        legend: str,
        legend_range: Callable[[float, float], str],
        ids: Sequence[str] | None = None,
        names: Sequence[str] | None = None,
        no_data_class: int | None = None,
        merge_above: int | None = None,
        note: str | None = None,
        show: bool = True,
    ) -> folium.GeoJson:
        """Shapes (drawn coordinates) filled by the class of their value, toggleable, with a
        legend of the class ranges.

        ``text`` shows a value in the tooltip under the label ``tooltip`` (after the shape's
        name from ``names``, when given); ``style`` holds everything but the fill colour.
        A value in no class (NaN, inf) is filled grey, or as class ``no_data_class`` (e.g. -1:
        the last). Past ``merge_above`` shapes each class becomes one merged shape (its
        tooltip the class range), so a page grows with the classes' outline, not the count.
        """
        values = np.asarray(values, dtype=np.float64)
        k = classes.index(values)
        if no_data_class is not None:
            k[k < 0] = no_data_class % len(classes.colours)
        ids = [str(i) for i in (ids if ids is not None else range(len(values)))]
        if merge_above is not None and len(values) > merge_above:
            geoms = np.asarray(geoms, dtype=object)
            feats = []
            for c, (lo, hi, _colour) in enumerate(classes.ranges()):
                chosen = k == c
                if not chosen.any():
                    continue
                merged = shapely.coverage_union_all(geoms[chosen])
                merged = shapely.simplify(merged, self.tolerance / 2, preserve_topology=True)
                props = {"v": str(safe_text(f"{text(lo)} – {text(hi)}")), "k": c}
                feats.append(feature(merged, props, f"k{c}"))
        else:
            feats = []
            for i, (g, v, c) in enumerate(zip(geoms, values.tolist(), k.tolist(), strict=True)):
                props = {"name": str(safe_text(names[i]))} if names is not None else {}
                props |= {"v": str(safe_text(text(v))), "k": int(c)}
                feats.append(self._feature(g, props, ids[i]))
        colours = classes.colours

        def fill(f: dict) -> dict:
            c = f["properties"]["k"]
            return {"fillColor": colours[c] if c >= 0 else NO_DATA_COLOUR, **style}

        layer = self.geometry_layer(
            feats,
            name=name,
            style=fill,
            tooltip=(["name"] if names is not None else []) + [("v", tooltip)],
            show=show,
            pane=self.shade_pane(),
        )
        items = [("box", c, None, legend_range(lo, hi)) for lo, hi, c in classes.ranges()]
        self.add_legend(legend, items, layer=layer, note=note)
        return layer

    def tiled_cells(self, count: int) -> bool:
        """Whether ``count`` analysis cells are drawn from vector tiles (``settings.tiles``)."""
        s = self.settings
        # tiles are WGS-84: an AMap (GCJ-02) or antimeridian-unwrapped frame keeps GeoJSON
        plain = self.frame.crs == "wgs84" and not self.frame.unwrap
        return s.tiles is not None and plain and count > s.tile_cells

    def tile_choropleth(
        self,
        layer: str,
        field: str,
        classes: Classes,
        *,
        name: str,
        tooltip: str,
        fmt: Mapping[str, str],
        style: Mapping[str, object],
        legend: str,
        legend_range: Callable[[float, float], str],
        no_data_class: int | None = None,
        positive: bool = False,
        note: str | None = None,
        show: bool = True,
    ):
        """:meth:`choropleth` of the cells of the tile layer ``layer`` (``settings.tiles``)
        by their property ``field``: the same classes, colours, legend and tooltip label, the
        shapes fetched by the browser as vector tiles (``maps.vector_tiles``)."""
        from .vector_tiles import CellTiles

        tiles = CellTiles(
            name,
            self.settings.tiles.url(layer),
            layer=layer,
            field=field,
            breaks=classes.breaks,
            colours=classes.colours,
            label=tooltip,
            fmt=fmt,
            style=style,
            missing=no_data_class,
            positive=positive,
            pane=self.shade_pane(),
            show=show,
        )
        self.map.add_child(tiles)
        items = [("box", c, None, legend_range(lo, hi)) for lo, hi, c in classes.ranges()]
        self.add_legend(legend, items, layer=tiles, note=note)
        return tiles

    def outline_layer(
        self,
        geoms: Sequence[shapely.Geometry],
        *,
        name: str,
        ids: Sequence[str],
        names: Sequence[str],
        colours: str | Sequence[str],
        weight: float,
        dash: str,
        fill_opacity: float,
        codes: Sequence[str] | None = None,
        code_label: str | None = None,
        show: bool = True,
    ) -> folium.GeoJson:
        """Dashed outlines (drawn coordinates), lightly filled in their own colour (one for all,
        or one per shape): white space, catchments. The tooltip names the shape (and its
        ``codes`` under ``code_label``, when given)."""
        colour_of = dict(
            zip(ids, [colours] * len(ids) if isinstance(colours, str) else colours, strict=True)
        )
        feats = []
        for i, g in enumerate(geoms):
            props = {"name": str(safe_text(names[i]))}
            if codes is not None:
                props["code"] = str(safe_text(codes[i]))
            feats.append(self._feature(g, props, ids[i]))

        def outline(f: dict) -> dict:
            colour = colour_of[f["id"]]
            return {
                "color": colour,
                "weight": weight,
                "dashArray": dash,
                "fillColor": colour,
                "fillOpacity": fill_opacity,
            }

        return self.geometry_layer(
            feats,
            name=name,
            style=outline,
            tooltip=["name"] + ([("code", code_label or "")] if codes is not None else []),
            show=show,
        )

    def shapes(self, geometries) -> list[shapely.Geometry]:
        """GeoJSON dicts or shapely geometries (WGS-84) → simplified, in drawn coordinates."""
        geoms = [as_shapely(g) for g in geometries]
        if not geoms:
            return []
        # Douglas-Peucker without topology repair: fast on outlines of 10^5 vertices, and a
        # self-touching ring still draws correctly (display only, nothing is measured here)
        arr = shapely.simplify(
            np.asarray(geoms, dtype=object), self.tolerance, preserve_topology=False
        )
        return [g for g in self.frame.geometry(arr)]

    def finish(self) -> folium.Map:
        """Layer control, ready flag and local (or CDN) assets; returns the Folium map."""
        return finish_map(self.map, self.settings)


def new_map(settings: MapSettings, fit: list[list[float]], title: str | None = None) -> folium.Map:
    """An empty geo_crm map: canvas rendering, basemap, metric scale, fitted to ``fit``."""
    center = [(fit[0][0] + fit[1][0]) / 2, (fit[0][1] + fit[1][1]) / 2]
    m = folium.Map(
        location=center,
        zoom_start=5,
        tiles=None,
        control_scale=False,
        prefer_canvas=True,
        zoom_snap=0.5,
        world_copy_jump=False,
    )
    if title:
        m.get_root().title = str(safe_text(title))
    m.add_child(Runtime())
    m.add_child(ScaleBar())
    tiles = settings.tile_layer()
    if tiles is not None:
        kwargs = {"subdomains": tiles["subdomains"]} if tiles["subdomains"] else {}
        folium.TileLayer(
            tiles["url"],
            attr=tiles["attribution"],
            name=tiles["name"],
            max_zoom=tiles["max_zoom"],
            overlay=False,
            control=True,
            **kwargs,
        ).add_to(m)
    m.add_child(FitView(fit), name=FIT_NAME)
    return m


def refit(m: folium.Map, fit: list[list[float]]) -> None:
    """Change the bounds a map opens on (``[[south, west], [north, east]]``, drawn coordinates)."""
    m._children[FIT_NAME].bounds = fit


def finish_map(m: folium.Map, settings: MapSettings, *, layer_control: bool = True) -> folium.Map:
    """Layer control, ready flag and local (or CDN) assets; returns the Folium map."""
    if layer_control:
        folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.add_child(FitAround(settings.translator("Legend")))
    m.add_child(ReadySignal())
    asset_files.apply_assets(m, mode=settings.assets, prefix=settings.asset_prefix)
    return m


def render(m: folium.Map) -> str:
    """The full standalone HTML document of a map."""
    return m.get_root().render()


def fmt_km(t: Translator, metres: float | None) -> str:
    if metres is None or not math.isfinite(metres):
        return "–"
    return t.km(metres, 1 if metres < 100_000 else 0)
