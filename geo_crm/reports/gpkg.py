"""The report's layers for GIS: a GeoPackage (one file, five layers) and the same layers as
GeoJSON files in a zip, written with pyogrio (GDAL) from WKB arrays, no GeoPandas.

Layers (WGS-84, EPSG:4326; field names in ASCII so every GIS reads them):

- ``outlets``      points: code, name, tier, parent, region
- ``coverage``     multipolygon: the area within reach of the filtered network, with its ratio
- ``gap_cells``    polygons: the worst gap cells with distance and shortfall (metres)
- ``density_cells`` polygons: buyers, records, amount, quantity, amount_per_km2 per cell
- ``sub_regions``  multipolygons: the sub-region table (outlets, coverage, sales …)
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import shapely
from pyogrio.raw import write

from ..models import TIERS
from .data import Progress, ReportData

LAYERS = ("outlets", "coverage", "gap_cells", "density_cells", "sub_regions")


def _str(values) -> np.ndarray:
    return np.array(["" if v is None else str(v) for v in values], dtype=object)


def _f(values) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _i(values) -> np.ndarray:
    return np.array([int(v) for v in values], dtype=np.int64)


def layers(data: ReportData) -> dict[str, tuple[str, list, dict[str, np.ndarray]]]:
    """layer -> (geometry type, shapely geometries, fields)."""
    out = {}
    o = data.outlets
    n = len(o)
    out["outlets"] = (
        "Point",
        list(shapely.points(o.lon, o.lat)) if n else [],
        {
            "code": _str(o.code if o.code is not None else [None] * n),
            "name": _str(o.name if o.name is not None else [None] * n),
            "tier": _str(TIERS[i] for i in o.tier.tolist()),
            "parent": _str(o.parent if o.parent is not None else [None] * n),
            "region": _str(o.region if o.region is not None else [None] * n),
        },
    )
    cov = data.coverage
    geoms, ratio, km2 = [], [], []
    if cov.geometry is not None:
        geoms.append(shapely.from_geojson(json.dumps(cov.geometry)))
        ratio.append(cov.region.ratio)
        km2.append(cov.region.covered_m2 / 1e6)
    out["coverage"] = (
        "MultiPolygon",
        geoms,
        {
            "region": _str([cov.region.code] * len(geoms)),
            "ratio": _f(ratio),
            "covered_km2": _f(km2),
        },
    )
    cells = [c for c in data.gaps.worst if c.outline]
    out["gap_cells"] = (
        "Polygon",
        [shapely.Polygon(c.outline) for c in cells],
        {
            "rank": _i(range(1, len(cells) + 1)),
            "row": _i(c.row for c in cells),
            "col": _i(c.col for c in cells),
            "distance_m": _f(c.distance_m for c in cells),
            "shortfall_m": _f(c.shortfall_m for c in cells),
            "nearest": _str(c.nearest_code for c in cells),
        },
    )
    den = [c for c in data.density.cells if c.outline]
    area = data.density.cell_area_km2
    out["density_cells"] = (
        "Polygon",
        [shapely.Polygon(c.outline) for c in den],
        {
            "row": _i(c.row for c in den),
            "col": _i(c.col for c in den),
            "buyers": _i(c.buyers for c in den),
            "records": _i(c.totals.records for c in den),
            "amount": _f(c.totals.amount for c in den),
            "quantity": _f(c.totals.quantity for c in den),
            "amount_per_km2": _f(float(c.totals.amount) / area if area else None for c in den),
        },
    )
    rows = {r.code: r for r in data.sub_region_rows}
    subs = [s for s in data.sub_regions if s.code in rows]
    out["sub_regions"] = (
        "MultiPolygon",
        [s.boundary for s in subs],
        {
            "code": _str(s.code for s in subs),
            "name": _str(s.name for s in subs),
            "area_km2": _f(rows[s.code].area_m2 / 1e6 for s in subs),
            "outlets": _i(rows[s.code].total_outlets for s in subs),
            "coverage": _f(rows[s.code].coverage_ratio for s in subs),
            "white_space": _i(int(rows[s.code].white_space) for s in subs),
            "buyers": _i(rows[s.code].buyers for s in subs),
            "sales": _f(rows[s.code].sales_amount for s in subs),
            "sales_km2": _f(rows[s.code].sales_per_km2 for s in subs),
        },
    )
    return out


def _multi(geom) -> shapely.MultiPolygon:
    """A valid MultiPolygon of the polygons in ``geom`` (one row stays one row)."""
    parts = shapely.get_parts(shapely.get_parts(shapely.make_valid(geom)))
    return shapely.MultiPolygon([p for p in parts if p.geom_type == "Polygon"])


def _write_layer(path: Path, driver: str, name: str, kind: str, geoms, fields, **kw) -> None:
    if kind == "MultiPolygon":
        geoms = [_multi(g) for g in geoms]
    wkb = np.array([shapely.to_wkb(g) for g in geoms], dtype=object)
    names = list(fields)
    values = [fields[k] for k in names]
    write(
        str(path), wkb, values, names, layer=name, driver=driver, geometry_type=kind,
        crs="EPSG:4326", encoding="UTF-8", **kw,
    )  # fmt: skip


def write_gpkg(data: ReportData, path: Path, progress: Progress | None = None) -> Path:
    if progress:
        progress(92, "layers")
    path.unlink(missing_ok=True)
    for name, (kind, geoms, fields) in layers(data).items():
        if path.exists():
            _write_layer(path, "GPKG", name, kind, geoms, fields, append=True)
        else:  # GeoPackage 1.3: what GDAL 3.6 (Debian 12) and QGIS 3.x read without a warning
            _write_layer(
                path, "GPKG", name, kind, geoms, fields, dataset_options={"VERSION": "1.3"}
            )
    return path


def write_geojson_zip(data: ReportData, path: Path, progress: Progress | None = None) -> Path:
    """One RFC 7946 GeoJSON file per layer, in a zip named like the report."""
    if progress:
        progress(92, "layers")
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for name, (kind, geoms, fields) in layers(data).items():
            target = Path(tmp) / f"{name}.geojson"
            _write_layer(
                target, "GeoJSON", name, kind, geoms, fields, layer_options={"RFC7946": "YES"}
            )
            files.append(target)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for f in files:
                zf.write(f, f.name)
    return path
