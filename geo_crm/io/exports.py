"""Export outlets, filtered like the list and scoped to the user, as CSV, XLSX or GeoJSON that
imports back unchanged.

The columns are the import columns (``EXPORT_COLUMNS``), so an exported file re-imports to the
same rows ("0 inserted, 0 updated, N unchanged"). Rows stream from a server-side cursor in
batches and leave as byte chunks, so a million-outlet export never sits in memory whole.

Spreadsheet programs run a text cell that begins with ``=``, ``+``, ``-``, ``@``, tab or CR as
a formula; CSV and XLSX text cells like that get a leading ``'`` (``tabular.neutralise``),
which the importer strips again. Coordinates are numbers and are never touched (XLSX cells hold
every digit).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..domain.access import outlet_scope
from ..domain.outlets import OutletFilters, check_filters, select_outlets
from ..domain.principal import Principal
from ..errors import ValidationError
from ..models import User
from .imports.outlets import OUTLET_COLUMNS
from .tabular import neutralise, ooxml_escape

LOGGER = logging.getLogger(__name__)

EXPORT_COLUMNS = tuple(OUTLET_COLUMNS)  # the import's columns: an export imports back
FORMATS = ("csv", "xlsx", "geojson")
CSV_ENCODINGS = {
    "utf-8": "utf-8-sig",
    "utf-8-sig": "utf-8-sig",
    "utf8": "utf-8-sig",
    "gb18030": "gb18030",
    "gbk": "gb18030",
}
MEDIA_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
}
BATCH = 2000
_NUMERIC = ("lat", "lon")
_USERS = User.__table__


@dataclass
class Export:
    """A file to send or save: its media type, a file name and the bytes, chunk by chunk.

    ``rows`` counts the outlets written so far (final once ``chunks`` is exhausted).
    """

    fmt: str
    media_type: str
    filename: str
    chunks: Iterator[bytes] = field(default_factory=lambda: iter(()))
    rows: int = 0


def export_statement(
    filters: OutletFilters | None = None, *, user: Principal | None = None
) -> Select:
    """The rows to export, in the list's order: ``select_outlets`` plus the rep's username,
    narrowed to the outlets ``user`` may see (``domain.access.outlet_scope``; None: all)."""
    listed = select_outlets(filters or OutletFilters())
    if user is not None and not user.is_admin:
        listed = listed.where(outlet_scope(user))
    sub = listed.subquery("listed")
    return (
        select(
            sub.c.code,
            sub.c.name,
            sub.c.tier,
            sub.c.parent_code,
            sub.c.lat,
            sub.c.lon,
            sub.c.address,
            sub.c.contact,
            sub.c.phone,
            sub.c.status,
            _USERS.c.username.label("rep"),
            sub.c.notes,
        )
        .select_from(sub.outerjoin(_USERS, _USERS.c.id == sub.c.rep_id))
        .order_by(sub.c.distance_m, sub.c.id)
    )


def iter_rows(session: Session, stmt: Select, batch: int | None = None) -> Iterator[list[dict]]:
    """Export rows as dicts keyed by EXPORT_COLUMNS, a batch at a time (server-side cursor).

    The statement runs now, so a bad query fails before a response starts streaming.
    """
    result = session.execute(stmt, execution_options={"yield_per": batch or BATCH})
    return ([_row(m) for m in part] for part in result.mappings().partitions())


def _row(m) -> dict:
    row = {c: m.get(c) for c in EXPORT_COLUMNS if c != "crs"}
    row["crs"] = "wgs84" if m["lon"] is not None else None
    return row


def export_outlets(
    session: Session,
    fmt: str,
    *,
    filters: OutletFilters | None = None,
    user: Principal | None = None,
    encoding: str | None = None,
    stmt: Select | None = None,
) -> Export:
    """Outlets matching ``filters`` that ``user`` may see (None: every outlet) as an Export;
    ``stmt`` replaces the filtered statement.

    A filter naming a region or distributor that does not exist (or lies outside ``user``'s
    scope) is a ValidationError naming the filter (``region``, ``distributor``), as the list's.
    ``encoding`` (CSV only): utf-8 (default, written with a BOM so Excel reads Chinese text) or
    gb18030.
    """
    export, codec = new_export("outlets", fmt, encoding)

    if stmt is None:
        problems = check_filters(session, filters, user) if filters is not None else {}
        if problems:
            raise ValidationError("unknown filter value", fields=problems)
        stmt = export_statement(filters, user=user)
    batches = iter_rows(session, stmt)

    def counted() -> Iterator[list[dict]]:
        for batch in batches:
            export.rows += len(batch)
            yield batch

    if fmt == "csv":
        export.chunks = csv_chunks(counted(), codec)
    elif fmt == "xlsx":
        export.chunks = xlsx_chunks(counted())
    else:
        export.chunks = geojson_chunks(counted())
    return export


def new_export(
    kind: str, fmt: str, encoding: str | None, formats: Sequence[str] = FORMATS
) -> tuple[Export, str | None]:
    """An empty :class:`Export` of ``kind`` (the file name's start) in ``fmt``, and the CSV
    codec; an unknown format or encoding is a ValidationError naming it."""
    fmt = fmt.lower()
    if fmt not in formats:
        raise ValidationError(
            f"unknown export format {fmt!r}: use {', '.join(formats)}",
            fields={"format": f"must be one of {', '.join(formats)}"},
        )
    codec = _csv_encoding(encoding) if fmt == "csv" else None
    media = MEDIA_TYPES[fmt]
    if codec is not None:
        media += f"; charset={'utf-8' if codec == 'utf-8-sig' else codec}"
    return Export(fmt, media, f"{kind}-{dt.date.today():%Y%m%d}.{fmt}"), codec


def _csv_encoding(encoding: str | None) -> str:
    if encoding is None:
        return "utf-8-sig"
    codec = CSV_ENCODINGS.get(encoding.lower())
    if codec is None:
        raise ValidationError(
            f"unknown CSV encoding {encoding!r}: use utf-8 or gb18030",
            fields={"encoding": "must be utf-8 or gb18030"},
        )
    return codec


def _cell(column: str, value):
    """A spreadsheet cell: numbers stay numbers (coordinates as floats, money and quantities
    as exact decimals), text that a program would evaluate is quoted."""
    if value is None:
        return None
    if column in _NUMERIC:
        return float(value)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    return neutralise(str(value))


def csv_chunks(
    batches: Iterator[list[dict]],
    encoding: str = "utf-8-sig",
    columns: Sequence[str] = EXPORT_COLUMNS,
) -> Iterator[bytes]:
    """CSV bytes: header, then one chunk per batch. ``utf-8-sig`` writes the BOM once."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    yield buffer.getvalue().encode(encoding)
    body = "utf-8" if encoding == "utf-8-sig" else encoding  # the BOM only at the start
    for batch in batches:
        buffer.seek(0)
        buffer.truncate()
        for row in batch:
            writer.writerow([_csv_value(c, row[c]) for c in columns])
        yield buffer.getvalue().encode(body)


def _csv_value(column: str, value) -> str:
    cell = _cell(column, value)
    if cell is None:
        return ""
    if isinstance(cell, float):
        return repr(cell)  # repr: the shortest exact float
    return str(cell)


def xlsx_chunks(
    batches: Iterator[list[dict]],
    chunk_size: int = 1 << 16,
    columns: Sequence[str] = EXPORT_COLUMNS,
    sheet_name: str = "outlets",
) -> Iterator[bytes]:
    """An XLSX workbook (openpyxl write-only: rows go to a temp file as they come).

    Two things openpyxl would lose are kept: coordinates are written with every digit (its
    ``%.16g`` drops the 17th, so a re-import would move thousands of points by 1e-15°), and
    control characters, which XML either cannot carry or turns into LF (a CR), are written as
    OOXML's ``_xHHHH_`` escapes (what Excel writes too; ``tabular`` reads them back).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_name)
    sheet.append(list(columns))

    def exact(value: float):
        cell = WriteOnlyCell(sheet, value)
        cell._value = repr(value)  # the shortest text that reads back as the same double
        return cell

    numeric = [c in _NUMERIC for c in columns]
    for batch in batches:
        for row in batch:
            cells = [_cell(c, row[c]) for c in columns]
            sheet.append(
                [
                    (exact(v) if number else ooxml_escape(v)) if v is not None else None
                    for v, number in zip(cells, numeric, strict=True)
                ]
            )
    with tempfile.TemporaryFile() as out:
        workbook.save(out)
        out.seek(0)
        while chunk := out.read(chunk_size):
            yield chunk


def geojson_chunks(batches: Iterator[list[dict]]) -> Iterator[bytes]:
    """A FeatureCollection; outlets without a location have ``geometry: null``."""
    yield b'{"type": "FeatureCollection", "features": ['
    first = True
    for batch in batches:
        parts = []
        for row in batch:
            parts.append(json.dumps(_feature(row), ensure_ascii=False, allow_nan=False))
        if parts:
            yield (("" if first else ",\n") + ",\n".join(parts)).encode("utf-8")
            first = False
    yield b"]}\n"


def _feature(row: dict) -> dict:
    geometry = None
    if row["lon"] is not None:
        geometry = {"type": "Point", "coordinates": [float(row["lon"]), float(row["lat"])]}
    props = {c: row[c] for c in EXPORT_COLUMNS if c not in ("lat", "lon", "crs")}
    return {"type": "Feature", "id": row["code"], "geometry": geometry, "properties": props}
