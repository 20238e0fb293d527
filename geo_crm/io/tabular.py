"""Read CSV, XLSX and GeoJSON files into plain columns, and convert spreadsheet cells.

Chinese Excel users save CSV as GB18030 (or its subset GBK) as often as UTF-8, so the
encoding is detected: strict UTF-8 (with or without BOM) first, GB18030 when that fails; the
table says which was used. Rows keep the spreadsheet's own row numbers (header = row 1, blank
rows counted), so a report can point at the cell a user sees.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import math
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import NUL, GeoCrmError, ValidationError

LOGGER = logging.getLogger(__name__)

FORMATS = ("csv", "xlsx", "geojson")
SPREADSHEET_FORMATS = ("csv", "xlsx")
_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".geojson": "geojson",
    ".json": "geojson",
}
_NOT_SUPPORTED = {
    ".xls": "old binary .xls workbooks are not supported: save the sheet as .xlsx or CSV",
    ".ods": "OpenDocument sheets are not supported: save the sheet as .xlsx or CSV",
}

# a text cell beginning with one of these is a formula to spreadsheet programs
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_QUOTED_FORMULA = re.compile(r"^'+[=+\-@\t\r]")
_NEEDS_QUOTE = re.compile(r"^'*[=+\-@\t\r]")

Progress = Callable[[str, int, "int | None"], None]


class UnsupportedFormat(GeoCrmError):
    """The file is of a type geo_crm does not import (HTTP 415)."""

    status = 415
    code = "unsupported_media_type"


@dataclass
class Table:
    """A file's header and its cells, column by column, with the spreadsheet row numbers."""

    fmt: str
    header: list[str]
    columns: list[list[Any]]
    row_numbers: list[int]
    encoding: str | None = None
    # problems found while reading (GeoJSON geometry): (row, column, message)
    problems: list[tuple[int, str, str]] = field(default_factory=list)
    # False when the file surely holds no NUL character (a cheap look at the whole text):
    # importers then skip looking for one cell by cell
    may_hold_nul: bool = True

    def __len__(self) -> int:
        return len(self.row_numbers)


# -- reading ---------------------------------------------------------------------------------------
def detect_format(name: str | None, data: bytes, fmt: str | None = None) -> str:
    """The declared format, else the file extension, else a look at the first bytes."""
    if fmt:
        fmt = fmt.lower().lstrip(".")
        if fmt not in FORMATS:
            raise UnsupportedFormat(
                f"unsupported format {fmt!r}: use one of {', '.join(FORMATS)}",
                fields={"format": f"must be one of {', '.join(FORMATS)}"},
            )
        return fmt
    suffix = Path(name).suffix.lower() if name else ""
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if suffix:
        message = _NOT_SUPPORTED.get(suffix) or (
            f"cannot import {suffix} files: send CSV, XLSX or GeoJSON "
            f"({', '.join(sorted(_EXTENSIONS))}) or name the format"
        )
        raise UnsupportedFormat(message, fields={"file": message})
    # no name to go by (a pipe, an upload without a file name): look at the bytes
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise UnsupportedFormat(_NOT_SUPPORTED[".xls"], fields={"file": _NOT_SUPPORTED[".xls"]})
    if data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "geojson"
    return "csv"


def read_table(
    source: str | Path | IO[bytes] | bytes,
    *,
    fmt: str | None = None,
    encoding: str | None = None,
    name: str | None = None,
    progress: Progress | None = None,
) -> Table:
    """Read a CSV, XLSX or GeoJSON file (path, bytes or binary file object) into a Table."""
    data, name = _read_bytes(source, name)
    fmt = detect_format(name, data, fmt)
    if fmt == "csv":
        table = _read_csv(data, encoding)
    elif fmt == "xlsx":
        table = _read_xlsx(data, progress)
    else:
        table = _read_geojson(data, encoding)
    if progress:
        progress("read", len(table), len(table))
    LOGGER.info(
        "read %d rows from %s (%s%s)",
        len(table),
        name or "upload",
        fmt,
        f", {table.encoding}" if table.encoding else "",
    )
    return table


def _read_bytes(source, name: str | None) -> tuple[bytes, str | None]:
    if isinstance(source, bytes | bytearray):
        return bytes(source), name
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            return path.read_bytes(), name or path.name
        except OSError as exc:
            raise GeoCrmError(
                f"cannot read {path}: {exc.strerror or exc}", fields={"file": str(path)}
            ) from exc
    data = source.read()
    return data, name or getattr(source, "filename", None) or getattr(source, "name", None)


def decode_text(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Decode with the given encoding, else UTF-8 (BOM or not), else GB18030."""
    if encoding:
        try:
            return data.decode(encoding), encoding
        except LookupError as exc:
            raise ValidationError(
                f"unknown encoding {encoding!r}", fields={"encoding": "unknown encoding"}
            ) from exc
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"the file is not valid {encoding} (byte {exc.start})",
                fields={"encoding": f"the file is not valid {encoding}"},
            ) from exc
    try:
        text = data.decode("utf-8-sig")
        return text, "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise ValidationError(
            "the file is neither UTF-8 nor GB18030 text: save it as CSV UTF-8 or give --encoding",
            fields={"encoding": "not UTF-8 or GB18030"},
        ) from exc


def _read_csv(data: bytes, encoding: str | None) -> Table:
    text, used = decode_text(data, encoding)
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first_line.count) if first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise ValidationError(
            f"the CSV file is malformed near row {reader.line_num}: {exc}",
            fields={"file": str(exc)},
        ) from exc
    table = _from_records("csv", enumerate(records, start=1), used)
    table.may_hold_nul = NUL in text
    return table


def _read_xlsx(data: bytes, progress: Progress | None) -> Table:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ValidationError(
            "the file is not a readable .xlsx workbook",
            fields={"file": "not a readable .xlsx workbook"},
        ) from exc
    try:
        sheet = workbook.worksheets[0]

        def numbered():
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                if progress and number % 5000 == 0:
                    progress("read", number, None)
                yield number, row

        table = _from_records("xlsx", numbered(), None)
    finally:
        workbook.close()
    for column in table.columns:
        for i, value in enumerate(column):
            if type(value) is str and "_x" in value:
                column[i] = ooxml_unescape(value)
    return table


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _from_records(fmt: str, records, encoding: str | None) -> Table:
    """Header = first non-blank row; rows wholly blank are dropped, numbers kept."""
    header: list[str] | None = None
    numbers: list[int] = []
    rows: list[tuple] = []
    textual = fmt == "csv"  # every CSV cell is a str: one join beats a call per cell
    for number, record in records:
        if (not "".join(record).strip()) if textual else all(_blank(v) for v in record):
            continue
        if header is None:
            header = ["" if v is None else str(v).strip() for v in record]
            continue
        numbers.append(number)
        rows.append(tuple(record))
    if header is None:
        raise ValidationError(
            "the file is empty: expected a header row and data rows", fields={"file": "empty"}
        )
    width = len(header)
    while width and not header[width - 1]:
        width -= 1
    header = header[:width]
    if any(len(r) != width for r in rows):
        rows = [r[:width] + (None,) * (width - len(r)) for r in rows]
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]
    return Table(fmt, header, columns, numbers, encoding)


def _read_geojson(data: bytes, encoding: str | None) -> Table:
    """Point features; properties become columns, the point becomes lat/lon (row = feature no.)."""
    text, _ = decode_text(data, encoding or "utf-8-sig")
    try:
        doc = json.loads(text, parse_constant=_NotJson)
    except ValueError as exc:
        raise ValidationError(
            f"the file is not valid JSON: {exc}", fields={"file": "invalid JSON"}
        ) from exc
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        features = doc.get("features")
    elif isinstance(doc, dict) and doc.get("type") == "Feature":
        features = [doc]
    else:
        features = None
    if not isinstance(features, list):
        raise ValidationError(
            "expected a GeoJSON FeatureCollection of Point features",
            fields={"file": "not a FeatureCollection"},
        )
    header: list[str] = []
    seen: set[str] = set()
    records: list[dict] = []
    problems: list[tuple[int, str, str]] = []
    for number, feature in enumerate(features, start=1):
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append((number, "geometry", "not a GeoJSON Feature"))
            props = {}
        record = dict(props) if isinstance(props, dict) else {}
        for key, value in record.items():
            constant = _not_json(value)
            if constant is not None:
                problems.append((number, key, f"{constant} is not a number JSON allows"))
                record[key] = None
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if geometry is not None:
            lon_lat, problem = _point(geometry)
            if problem:
                problems.append((number, "geometry", problem))
                record["lat"] = record["lon"] = None
            else:
                record["lon"], record["lat"] = lon_lat
        for key in record:
            if key not in seen:
                seen.add(key)
                header.append(key)
        records.append(record)
    columns = [[rec.get(key) for rec in records] for key in header]
    table = Table("geojson", header, columns, list(range(1, len(records) + 1)), None)
    table.problems = problems
    table.may_hold_nul = "\\u0000" in text  # JSON strings hold NUL only escaped
    return table


class _NotJson(str):
    """NaN, Infinity or -Infinity where a GeoJSON file has one: Python's json reads them, JSON
    has none. Kept as a marker so the feature holding it is the one reported (its number and
    column), not the whole file."""


def _not_json(value: Any) -> str | None:
    """The first NaN/Infinity inside a parsed JSON value, or None."""
    if isinstance(value, _NotJson):
        return str(value)
    if isinstance(value, list):
        return next((c for c in map(_not_json, value) if c is not None), None)
    if isinstance(value, dict):
        return next((c for c in map(_not_json, value.values()) if c is not None), None)
    return None


def _point(geometry: Any) -> tuple[tuple[Any, Any] | None, str | None]:
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        return None, f"only Point geometries can be imported, not {kind}"
    coords = geometry.get("coordinates")
    if not isinstance(coords, list | tuple) or len(coords) < 2:
        return None, "a Point needs [longitude, latitude] coordinates"
    constant = _not_json(coords)
    if constant is not None:
        return None, f"the coordinates hold {constant}, which is not a number JSON allows"
    return (coords[0], coords[1]), None


# -- cells -----------------------------------------------------------------------------------------
# OOXML text escapes a character as _xHHHH_ (its code in hex) and a literal "_x" that would read
# as one as _x005F_x: XML cannot carry most control characters, and turns a CR into LF
_OOXML_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_OOXML_TO_ESCAPE = re.compile(r"[\x00-\x08\x0b-\x1f]|_(?=x[0-9A-Fa-f]{4}_)")


def ooxml_escape(value: Any) -> Any:
    """Text for an XLSX cell that reads back (``ooxml_unescape``) as ``value``."""
    if type(value) is not str:
        return value
    return _OOXML_TO_ESCAPE.sub(lambda m: f"_x{ord(m.group()):04X}_", value)


def ooxml_unescape(value: str) -> str:
    """An XLSX cell's text with its _xHHHH_ escapes decoded (Excel writes them too)."""
    return _OOXML_ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), value)


def neutralise(value: str) -> str:
    """Prefix a quote to text a spreadsheet would run as a formula (undone by ``unquote``).

    Text that already starts with quotes before a formula character gets one more, so that
    ``unquote(neutralise(v)) == v`` for every string.
    """
    return "'" + value if _NEEDS_QUOTE.match(value) else value


def unquote(value: str) -> str:
    """Strip the one quote ``neutralise`` added (only before a formula character)."""
    return value[1:] if _QUOTED_FORMULA.match(value) else value


def cell_text(value: Any) -> str | None:
    """A cell as trimmed text, None when blank; whole floats lose their '.0' (Excel numbers)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value).strip() or None


def cell_float(value: Any) -> tuple[float | None, str | None]:
    """(number, None), (None, None) when blank, or (None, problem)."""
    if _blank(value):
        return None, None
    if isinstance(value, bool):
        return None, f"{value!r} is not a number"
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip().replace("\u2212", "-")  # a typographic minus from Word
        try:
            number = float(text)
        except ValueError:
            return None, f"{str(value).strip()!r} is not a number"
    if not math.isfinite(number):
        return None, f"{value!r} is not a finite number"
    return number, None


def float_column(values: list[Any]) -> tuple[list[float | None], dict[int, str]]:
    """``cell_float`` over a column: numbers (None when blank) and problems by position.

    A column of plain decimal text (a CSV) is parsed by numpy in one go; anything else, or a
    column with a bad cell, falls back to the cell-by-cell rules.
    """
    if all(type(v) is str for v in values):
        try:
            cells = np.array([v if v.strip() else "nan" for v in values], dtype=np.float64)
        except ValueError:
            cells = None
        if cells is not None:
            blank = np.array([not v.strip() for v in values], dtype=bool)
            if np.isfinite(cells[~blank]).all():
                pairs = zip(blank.tolist(), cells.tolist(), strict=True)
                return [None if b else c for b, c in pairs], {}
    out: list[float | None] = []
    problems: dict[int, str] = {}
    for i, value in enumerate(values):
        number, problem = cell_float(value)
        if problem:
            problems[i] = problem
        out.append(number)
    return out, problems


def cell_decimal(value: Any, places: int) -> tuple[Decimal | None, str | None]:
    """A decimal with at most ``places`` fractional digits and 14 digits in all."""
    if _blank(value):
        return None, None
    if isinstance(value, bool):
        return None, f"{value!r} is not a number"
    if isinstance(value, float):
        number = Decimal(repr(value))
    else:
        text = str(value).strip().replace(",", "").replace("\u2212", "-").lstrip("¥￥")
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None, f"{str(value).strip()!r} is not a number"
    if not number.is_finite():
        return None, f"{value!r} is not a finite number"
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        return None, f"{value} has more than {places} decimal places"
    if abs(number) >= Decimal(10) ** (14 - places):
        return None, f"{value} is too large"
    return number, None


_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$")


def cell_date(value: Any) -> tuple[dt.date | None, str | None]:
    """ISO, 2024/3/5, 2024.3.5 or 2024年3月5日 (a time part is ignored); Excel date cells."""
    if _blank(value):
        return None, None
    if isinstance(value, dt.datetime):
        return value.date(), None
    if isinstance(value, dt.date):
        return value, None
    match = _DATE.match(str(value).strip())
    if match:
        try:
            return dt.date(*(int(g) for g in match.groups())), None
        except ValueError:
            pass
    return None, f"{str(value).strip()!r} is not a date (use YYYY-MM-DD)"
