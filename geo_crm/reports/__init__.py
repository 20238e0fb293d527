"""Region reports in four formats from one :class:`~geo_crm.reports.data.ReportData`:
PDF (print), self-contained HTML (interactive, offline), XLSX (tables) and GeoPackage /
GeoJSON (layers for GIS). See docs/reports.md.

``build_report`` is what the command line and the background job call: gather the data once
(:func:`~geo_crm.reports.data.report_data`), then write each format asked for.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from ..domain.principal import Principal
from ..errors import ValidationError
from .data import Progress, ReportData, ReportFilters, report_data

LOGGER = logging.getLogger(__name__)

FORMATS = ("pdf", "html", "xlsx", "gpkg", "geojson")
EXTENSIONS = {
    "pdf": ".pdf",
    "html": ".html",
    "xlsx": ".xlsx",
    "gpkg": ".gpkg",
    "geojson": ".geojson.zip",
}
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/zip",
}
# formats whose layers or popups name each outlet (the PDF and workbook draw/count only)
_DETAIL = frozenset({"html", "gpkg", "geojson"})
_NAME_BYTES = 150  # well under the 255-byte file-name limit of common file systems
_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')
_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.I)


def writer(fmt: str) -> Callable[[ReportData, Path, Progress | None], Path]:
    if fmt == "pdf":
        from .pdf import write_pdf

        return write_pdf
    if fmt == "html":
        from .html import write_html

        return write_html
    if fmt == "xlsx":
        from .xlsx import write_xlsx

        return write_xlsx
    if fmt == "gpkg":
        from .gpkg import write_gpkg

        return write_gpkg
    if fmt == "geojson":
        from .gpkg import write_geojson_zip

        return write_geojson_zip
    raise ValidationError(
        f"unknown report format {fmt!r}", fields={"format": f"use {', '.join(FORMATS)}"}
    )


def parse_formats(value: str | Sequence[str]) -> tuple[str, ...]:
    """``pdf,html`` (or a list) → known formats in order, without repeats (422 otherwise)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in (i.strip().lower() for i in items):
        if not item:
            continue
        if item not in FORMATS:
            raise ValidationError(
                f"unknown report format {item!r}", fields={"format": f"use {', '.join(FORMATS)}"}
            )
        if item not in out:
            out.append(item)
    if not out:
        raise ValidationError("name a report format", fields={"format": "required"})
    return tuple(out)


def safe_part(text: str) -> str:
    """A piece of a file name from user text: no path separators, control characters, leading
    dots or reserved device names; whitespace and shell-unfriendly characters become ``_``."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))
    text = _UNSAFE.sub("_", text).strip("._- ")
    while text.encode("utf-8")[:_NAME_BYTES] != text.encode("utf-8"):
        text = text[:-1]
    text = text.rstrip("._- ")
    if _RESERVED.match(text):
        text = "_" + text
    return text


def file_name(data: ReportData, fmt: str) -> str:
    """``<code>_<name>_<from>_<to>.<ext>``, safe on every common file system."""
    f = data.filters
    parts = [safe_part(data.region.code), safe_part(data.region.name)]
    if f.distributor:
        parts.append(safe_part(f.distributor))
    parts.append(f"{f.date_from:%Y%m%d}-{f.date_to:%Y%m%d}")
    stem = "_".join(p for p in parts if p) or "report"
    return stem + EXTENSIONS[fmt]


@dataclass
class Written:
    fmt: str
    path: Path
    bytes: int
    seconds: float


@dataclass
class Outcome:
    region: str
    data_seconds: float
    files: list[Written] = field(default_factory=list)


def write_formats(
    data: ReportData,
    formats: Sequence[str],
    out_dir: Path,
    progress: Progress | None = None,
    *,
    name: Callable[[ReportData, str], str] = file_name,
) -> list[Written]:
    """Write ``data`` in each format into ``out_dir``; a file appears whole or not at all."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        started = time.perf_counter()
        target = out_dir / name(data, fmt)
        partial = target.with_name(f".part-{target.name}")  # keeps the extension GDAL checks
        try:
            writer(fmt)(data, partial, progress)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        written.append(Written(fmt, target, target.stat().st_size, time.perf_counter() - started))
    return written


def build_report(
    session: Session,
    user: Principal,
    region_code: str,
    filters: ReportFilters | None,
    formats: Sequence[str],
    out_dir: Path,
    *,
    lang: str = "zh",
    company: str = "",
    progress: Progress | None = None,
    territory_of: str | None = None,
    now: dt.datetime | None = None,
    zone: str | None = None,
) -> Outcome:
    """Gather one region's figures as ``user`` sees them and write them in ``formats``."""
    formats = parse_formats(formats)
    started = time.perf_counter()
    data = report_data(
        session,
        user,
        region_code,
        filters,
        lang=lang,
        company=company,
        outlet_detail=bool(_DETAIL & set(formats)),
        progress=progress,
        territory_of=territory_of,
        now=now,
        zone=zone,
    )
    outcome = Outcome(data.region.code, time.perf_counter() - started)
    outcome.files = write_formats(data, formats, out_dir, progress)
    if progress:
        progress(100, "done")
    return outcome


__all__ = [
    "FORMATS",
    "Outcome",
    "ReportData",
    "ReportFilters",
    "Written",
    "build_report",
    "file_name",
    "parse_formats",
    "report_data",
    "safe_part",
    "write_formats",
]


def company_name(settings) -> str:
    """The company named on reports (``GEO_CRM_COMPANY_NAME``)."""
    return settings.company_name


def reports_dir(settings) -> Path:
    """Where background jobs put reports: ``<GEO_CRM_VAR_DIR>/reports``."""
    return Path(settings.var_dir) / "reports"
