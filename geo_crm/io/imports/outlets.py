"""Import outlets, products and sales records from CSV, XLSX or GeoJSON files.

The whole file is validated before anything is written, and the report names the spreadsheet
row, the column and the problem. By default one bad row means nothing is written; with
``skip_invalid`` the good rows are written (and rows whose parent row was skipped are skipped
too). Writing is set-based: the rows are COPied into a temporary staging table on the
session's own connection (so it stays in the caller's transaction) and one
``INSERT … ON CONFLICT … DO UPDATE … WHERE … IS DISTINCT FROM …`` statement upserts them, so
a row that did not change is not rewritten (the outlets' ``version`` stays). Nothing here
commits: the caller does, when the report says rows were written.
"""

from __future__ import annotations

import heapq
import logging
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import IO, Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ...coords import CRS_NAMES, to_wgs84
from ...db.translate import translate
from ...errors import ValidationError
from ...models import OUTLET_STATUSES, TIERS
from ..tabular import (
    SPREADSHEET_FORMATS,
    Progress,
    Table,
    cell_date,
    cell_decimal,
    cell_text,
    float_column,
    read_table,
    unquote,
)

LOGGER = logging.getLogger(__name__)

# column -> accepted header names (compared after NFKC, lower case, without spaces, _ and -)
OUTLET_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("code", "outlet_code", "编码", "代码", "编号", "客户编码", "网点编码"),
    "name": ("name", "名称", "客户名称", "网点名称"),
    "tier": ("tier", "级别", "类型", "层级"),
    "parent_code": ("parent_code", "parent", "上级编码", "上级代码", "上级"),
    "lat": ("lat", "latitude", "纬度"),
    "lon": ("lon", "lng", "long", "longitude", "经度"),
    "crs": ("crs", "坐标系"),
    "address": ("address", "地址"),
    "contact": ("contact", "联系人"),
    "phone": ("phone", "tel", "telephone", "电话", "联系电话", "手机"),
    "status": ("status", "状态"),
    "rep": ("rep", "rep_username", "业务员"),
    "notes": ("notes", "note", "remarks", "备注"),
}
PRODUCT_COLUMNS: dict[str, tuple[str, ...]] = {
    "sku": ("sku", "编码", "产品编码", "商品编码", "货号"),
    "name": ("name", "名称", "产品名称", "商品名称"),
    "spec": ("spec", "规格"),
    "unit": ("unit", "单位"),
}
SALES_COLUMNS: dict[str, tuple[str, ...]] = {
    "reference": ("reference", "ref", "单号", "单据号", "订单号"),
    "date": ("date", "sale_date", "日期", "销售日期"),
    "seller_code": ("seller_code", "seller", "卖方编码", "供货方编码", "销售方编码"),
    "buyer_code": ("buyer_code", "buyer", "买方编码", "购货方编码", "客户编码"),
    "sku": ("sku", "产品编码", "商品编码", "货号"),
    "spec": ("spec", "规格"),
    "quantity": ("quantity", "qty", "数量"),
    "amount": ("amount", "金额"),
    "amount_paid": ("amount_paid", "paid", "已付金额", "已付", "实收金额"),
}

TIER_NAMES: dict[str, str] = {
    **{t: t for t in TIERS},
    "总经销": "distributor",
    "总经销商": "distributor",
    "经销商": "distributor",
    "wholesaler2": "wholesaler_2",
    "二批": "wholesaler_2",
    "二批商": "wholesaler_2",
    "wholesaler3": "wholesaler_3",
    "三批": "wholesaler_3",
    "三批商": "wholesaler_3",
    "零售": "retail",
    "终端": "retail",
    "零售终端": "retail",
    "零售店": "retail",
}
STATUS_NAMES: dict[str, str] = {
    **{s: s for s in OUTLET_STATUSES},
    "正常": "active",
    "启用": "active",
    "营业": "active",
    "停用": "inactive",
    "暂停": "inactive",
    "关闭": "closed",
    "关停": "closed",
    "注销": "closed",
    "倒闭": "closed",
}
CRS_ALIASES: dict[str, str] = {
    **{c: c for c in CRS_NAMES},
    "epsg4326": "wgs84",
    "gps": "wgs84",
    "amap": "gcj02",
    "高德": "gcj02",
    "腾讯": "gcj02",
    "火星坐标": "gcj02",
    "baidu": "bd09",
    "百度": "bd09",
}
_RANK = {t: i for i, t in enumerate(TIERS)}
_TIER_HINT = "distributor, wholesaler_2, wholesaler_3, retail (or 总经销, 二批, 三批, 零售)"


def _key(name: str) -> str:
    """Header and code-word normal form: NFKC, lower case, no spaces, underscores or hyphens."""
    folded = unicodedata.normalize("NFKC", name).strip().lower()
    return "".join(ch for ch in folded if ch not in " _-\u3000")


# -- report ----------------------------------------------------------------------------------------
@dataclass
class Problem:
    """One problem of one cell: the spreadsheet row (header = 1; GeoJSON: feature number)."""

    row: int
    column: str
    message: str


@dataclass
class ImportReport:
    kind: str
    fmt: str
    encoding: str | None
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    geotag_events: int = 0
    dry_run: bool = False
    skip_invalid: bool = False
    written: bool = False
    seconds: float = 0.0
    ignored_columns: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every row was valid."""
        return not self.problems

    @property
    def failed(self) -> bool:
        """True when invalid rows stopped the import (all-or-nothing), so nothing was written."""
        return bool(self.problems) and not self.skip_invalid

    @property
    def invalid_rows(self) -> int:
        return len({p.row for p in self.problems})

    def summary(self) -> str:
        verb = "would be " if self.dry_run else ""
        counts = (
            f"{self.inserted} {verb}inserted, {self.updated} {verb}updated, "
            f"{self.unchanged} unchanged"
        )
        if self.skip_invalid:
            counts += f", {self.skipped} skipped"
        if self.kind == "outlets":
            counts += f", {self.geotag_events} location changes"
        if self.failed:
            return (
                f"{self.invalid_rows} of {self.rows} rows invalid "
                f"({len(self.problems)} problems): nothing was written"
            )
        return counts + (" (dry run: nothing written)" if self.dry_run else "")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["ok"] = self.ok
        out["invalid_rows"] = self.invalid_rows
        out["summary"] = self.summary()
        out["seconds"] = round(self.seconds, 3)
        return out


class _Rows:
    """The file's cells under canonical column names, and the problems found so far."""

    def __init__(self, table: Table, columns: dict[str, tuple[str, ...]], kind: str):
        self.table = table
        self.n = len(table)
        self.numbers = table.row_numbers
        self.spreadsheet = table.fmt in SPREADSHEET_FORMATS
        self.problems: list[Problem] = [Problem(r, c, m) for r, c, m in table.problems]
        self.bad: set[int] = set()
        position = {number: i for i, number in enumerate(self.numbers)}
        self.bad.update(position[r] for r, _, _ in table.problems)
        lookup = {_key(alias): col for col, aliases in columns.items() for alias in aliases}
        self.index: dict[str, int] = {}
        self.ignored: list[str] = []
        clashes: dict[str, str] = {}
        for j, header in enumerate(table.header):
            col = lookup.get(_key(header)) if header else None
            if col is None:
                if header:
                    self.ignored.append(header)
            elif col in self.index:
                clashes[header] = f"means {col}, like column {table.header[self.index[col]]!r}"
            else:
                self.index[col] = j
        if clashes:
            raise ValidationError(
                f"the {kind} file has two columns for the same field",
                fields={f"header.{h}": m for h, m in clashes.items()},
            )
        if self.ignored:
            LOGGER.info("ignored unknown columns: %s", ", ".join(self.ignored))

    def require(self, *columns: str) -> None:
        missing = [c for c in columns if c not in self.index]
        if missing:
            raise ValidationError(
                f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                f"(found: {', '.join(h for h in self.table.header if h) or 'none'})",
                fields={f"header.{c}": "missing column" for c in missing},
            )

    def has(self, column: str) -> bool:
        return column in self.index

    def raw(self, column: str) -> list[Any]:
        if column not in self.index:
            return [None] * self.n
        return self.table.columns[self.index[column]]

    def text(self, column: str, *, max_len: int | None = None) -> list[str | None]:
        """Trimmed text cells; a spreadsheet's injection-guard quote is removed."""
        values = [(v.strip() or None) if type(v) is str else cell_text(v) for v in self.raw(column)]
        if self.spreadsheet:
            values = [unquote(v) if v is not None and v[0] == "'" else v for v in values]
        if max_len is not None:
            for i, v in enumerate(values):
                if v is not None and len(v) > max_len:
                    self.add(i, column, f"at most {max_len} characters (got {len(v)})")
        return values

    def words(self, column: str, names: dict[str, str], what: str, hint: str) -> list[str | None]:
        """Cells translated through a table of accepted words (tier, status, crs names)."""
        keyed = {_key(k): v for k, v in names.items()}
        seen: dict[str, str | None] = {}  # a column holds few distinct words
        out: list[str | None] = []
        for i, value in enumerate(self.text(column)):
            if value is None:
                out.append(None)
                continue
            if value not in seen:
                seen[value] = keyed.get(_key(value))
            word = seen[value]
            if word is None:
                self.add(i, column, f"unknown {what} {value!r}: use {hint}")
            out.append(word)
        return out

    def add(self, i: int, column: str, message: str) -> None:
        self.problems.append(Problem(self.numbers[i], column, message))
        self.bad.add(i)

    def required(self, i: int, column: str) -> None:
        self.add(i, column, f"{column} is required")


def _report(kind: str, rows: _Rows, *, dry_run: bool, skip_invalid: bool) -> ImportReport:
    return ImportReport(
        kind=kind,
        fmt=rows.table.fmt,
        encoding=rows.table.encoding,
        rows=rows.n,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        ignored_columns=rows.ignored,
    )


def _finish(report: ImportReport, rows: _Rows, started: float) -> ImportReport:
    report.problems = sorted(rows.problems, key=lambda p: (p.row, p.column))
    report.seconds = time.perf_counter() - started
    LOGGER.info("%s import: %s (%.2f s)", report.kind, report.summary(), report.seconds)
    return report


def _duplicates(rows: _Rows, column: str, values: Sequence[str | None]) -> None:
    """Flag every row of a key that appears more than once: which one is meant is unclear."""
    present = [v for v in values if v is not None]
    if len(set(present)) == len(present):
        return
    where: dict[str, list[int]] = defaultdict(list)
    for i, v in enumerate(values):
        if v is not None:
            where[v].append(i)
    for value, idx in where.items():
        if len(idx) > 1:
            numbers = [rows.numbers[i] for i in idx]
            for i in idx:
                others = ", ".join(str(n) for n in numbers if n != rows.numbers[i])
                rows.add(i, column, f"duplicate {column} {value!r} (also on row {others})")


# -- staging ---------------------------------------------------------------------------------------
def _stage(
    session: Session,
    name: str,
    ddl: str,
    columns: Sequence[str],
    records: Iterable[tuple],
    total: int,
    progress: Progress | None,
    *,
    analyze: bool = True,
) -> None:
    """COPY rows into a TEMP table on the session's connection (inside its transaction).

    ANALYZE gives the planner the staged row count for the joins against stored rows.
    """
    session.flush()
    session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{name}"))
    session.execute(text(f"CREATE TEMP TABLE {name} ({ddl}) ON COMMIT DROP"))
    raw = session.connection().connection.driver_connection
    done = 0
    with raw.cursor() as cur, cur.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
        for record in records:
            copy.write_row(record)
            done += 1
            if progress and done % 10000 == 0:
                progress("write", done, total)
    if analyze:
        session.execute(text(f"ANALYZE {name}"))


def _drop(session: Session, name: str) -> None:
    session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{name}"))


def _new_ids(session: Session, table: str, n: int) -> list[int]:
    if n == 0:
        return []
    return list(
        session.execute(
            text(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, "
                ":n)"
            ),
            {"n": n},
        ).scalars()
    )


@contextmanager
def _refused() -> Iterator[None]:
    """A rule the database enforces, broken after all (a race, a case validation missed),
    becomes the domain error naming it; the transaction is then aborted: nothing is written."""
    try:
        yield
    except DBAPIError as exc:
        error = translate(exc)
        if error is None:
            raise
        raise type(error)(
            f"the database refused the import (nothing was written): {error.message}",
            fields=error.fields,
        ) from exc


def _diff(pairs: Sequence[tuple[str, str]]) -> str:
    """``(old…) IS DISTINCT FROM (new…)``; FALSE when the file sets no comparable column."""
    if not pairs:
        return "FALSE"
    old = ", ".join(o for o, _ in pairs)
    new = ", ".join(n for _, n in pairs)
    return f"ROW({old}) IS DISTINCT FROM ROW({new})"


# == outlets =======================================================================================
@dataclass
class _Known:
    """An outlet as stored: what validation needs of the file's outlets, parents and ancestors."""

    id: int
    tier: str
    parent_code: str | None
    name: str
    status: str


_OUTLET_STAGE = "geo_crm_outlet_stage"
_OUTLET_STAGE_DDL = (
    "rn integer, ord integer, id bigint, code text, name text, tier text, parent_id bigint,"
    " lon double precision, lat double precision, crs text, address text, contact text,"
    " phone text, status text, rep_id integer, notes text"
)
_OUTLET_STAGE_COLUMNS = (
    "rn",
    "ord",
    "id",
    "code",
    "name",
    "tier",
    "parent_id",
    "lon",
    "lat",
    "crs",
    "address",
    "contact",
    "phone",
    "status",
    "rep_id",
    "notes",
)
# file column -> stored column (lat/lon -> location is handled apart)
_OUTLET_TARGET = {
    "name": "name",
    "tier": "tier",
    "parent_code": "parent_id",
    "address": "address",
    "contact": "contact",
    "phone": "phone",
    "status": "status",
    "rep": "rep_id",
    "notes": "notes",
}


def import_outlets(
    session: Session,
    source: str | bytes | IO[bytes],
    *,
    fmt: str | None = None,
    crs: str | None = None,
    encoding: str | None = None,
    name: str | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    user_id: int | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate and upsert outlets by ``code``; location changes are kept as geotag events.

    ``crs`` is the coordinate system of rows whose ``crs`` cell is blank (default wgs84).
    ``name`` is the original file name, used to guess the format of an uploaded file.
    """
    started = time.perf_counter()
    default_crs = _crs_option(crs)
    table = read_table(source, fmt=fmt, encoding=encoding, name=name, progress=progress)
    rows = _Rows(table, OUTLET_COLUMNS, "outlets")
    rows.require("code")
    report = _report("outlets", rows, dry_run=dry_run, skip_invalid=skip_invalid)
    cols = _parse_outlets(session, rows, default_crs)
    known = _known_outlets(session, cols)
    _check_required(rows, cols, known)
    children = _stored_children(session, rows, cols, known)
    _check_network(rows, cols, known, children, skip_invalid)
    if progress:
        progress("validate", rows.n, rows.n)
    if rows.problems and not skip_invalid:
        return _finish(report, rows, started)
    keep = [i for i in range(rows.n) if i not in rows.bad]
    report.skipped = rows.n - len(keep)
    order = _write_order(rows, cols, known, children, keep)
    _write_outlets(session, rows, cols, known, keep, order, report, user_id, progress)
    return _finish(report, rows, started)


def _crs_option(crs: str | None) -> str:
    if crs is None or not crs.strip():
        return "wgs84"
    found = {_key(k): v for k, v in CRS_ALIASES.items()}.get(_key(crs))
    if found is None:
        raise ValidationError(
            f"unknown coordinate system {crs!r}: use wgs84, gcj02 or bd09",
            fields={"crs": "must be one of wgs84, gcj02, bd09"},
        )
    return found


@dataclass
class _OutletCols:
    code: list[str | None]
    name: list[str | None]
    tier: list[str | None]
    parent: list[str | None]
    lon: np.ndarray  # WGS-84, NaN when blank or bad
    lat: np.ndarray
    crs: list[str]
    address: list[str | None]
    contact: list[str | None]
    phone: list[str | None]
    status: list[str | None]
    rep_id: list[int | None]
    notes: list[str | None]


def _parse_outlets(session: Session, rows: _Rows, default_crs: str) -> _OutletCols:
    code = rows.text("code", max_len=64)
    for i, c in enumerate(code):
        if c is None:
            rows.required(i, "code")
    _duplicates(rows, "code", code)
    parent = rows.text("parent_code", max_len=64)
    crs = [
        c or default_crs
        for c in rows.words("crs", CRS_ALIASES, "coordinate system", "wgs84, gcj02 or bd09")
    ]
    lon, lat = _coordinates(session, rows, crs)
    return _OutletCols(
        code=code,
        name=rows.text("name"),
        parent=parent,
        lon=lon,
        lat=lat,
        crs=crs,
        tier=rows.words("tier", TIER_NAMES, "tier", _TIER_HINT),
        address=rows.text("address"),
        contact=rows.text("contact"),
        phone=rows.text("phone", max_len=32),
        status=rows.words("status", STATUS_NAMES, "status", "active, inactive or closed"),
        rep_id=_reps(session, rows),
        notes=rows.text("notes"),
    )


def _coordinates(session: Session, rows: _Rows, crs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Parse lat/lon, catch ranges and swaps, convert to WGS-84; NaN where blank or invalid."""
    n = rows.n
    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    if not (rows.has("lat") or rows.has("lon")):
        return lon, lat
    ys, y_problems = float_column(rows.raw("lat"))
    xs, x_problems = float_column(rows.raw("lon"))
    for i, (y, x) in enumerate(zip(ys, xs, strict=True)):
        y_problem, x_problem = y_problems.get(i), x_problems.get(i)
        if y_problem:
            rows.add(i, "lat", f"latitude {y_problem}")
        if x_problem:
            rows.add(i, "lon", f"longitude {x_problem}")
        if y_problem or x_problem:
            continue
        if (x is None) != (y is None):
            rows.add(
                i,
                "lat" if y is None else "lon",
                f"{'latitude' if y is None else 'longitude'} is missing: give both or neither",
            )
        elif x is not None:
            lat[i], lon[i] = y, x
    given = ~np.isnan(lat)
    lat_out = given & (np.abs(lat) > 90)
    lon_out = given & (np.abs(lon) > 180)
    swapped = lat_out & (np.abs(lon) <= 90) & (np.abs(lat) <= 180)
    for i in np.flatnonzero(lat_out | lon_out).tolist():
        if swapped[i]:
            rows.add(
                i,
                "lat",
                f"latitude {lat[i]:g} is outside [-90, 90] but the longitude "
                f"{lon[i]:g} would fit: lat and lon look swapped",
            )
        elif lat_out[i]:
            rows.add(i, "lat", f"latitude {lat[i]:g} is outside [-90, 90]")
        if lon_out[i]:
            rows.add(i, "lon", f"longitude {lon[i]:g} is outside [-180, 180]")
    bad = lat_out | lon_out
    lat[bad] = lon[bad] = np.nan
    crs_arr = np.array(crs, dtype=object)
    for name in ("gcj02", "bd09"):
        mask = (crs_arr == name) & ~np.isnan(lat)
        if mask.any():
            lon[mask], lat[mask] = to_wgs84(lon[mask], lat[mask], name)
    _swapped_by_region(session, rows, lon, lat)
    return lon, lat


def _swapped_by_region(session: Session, rows: _Rows, lon: np.ndarray, lat: np.ndarray) -> None:
    """A point in no known region whose swapped twin lies in one was probably typed swapped."""
    candidates = np.flatnonzero(~np.isnan(lat) & (np.abs(lon) <= 90))
    if (
        not len(candidates)
        or not session.execute(text("SELECT EXISTS (SELECT 1 FROM region_parts)")).scalar()
    ):
        return
    found = session.execute(
        text(
            "SELECT t.i, r.name FROM unnest(CAST(:i AS integer[]), CAST(:x AS float8[]),"
            " CAST(:y AS float8[])) AS t(i, x, y)"
            " CROSS JOIN LATERAL (SELECT rp.region_id FROM region_parts rp"
            "   WHERE ST_Intersects(rp.geom, ST_SetSRID(ST_MakePoint(t.y, t.x), 4326))"
            "   ORDER BY rp.depth DESC LIMIT 1) AS hit JOIN regions r ON r.id = hit.region_id"
            " WHERE NOT EXISTS (SELECT 1 FROM region_parts rp"
            "   WHERE ST_Intersects(rp.geom, ST_SetSRID(ST_MakePoint(t.x, t.y), 4326)))"
        ),
        {"i": candidates.tolist(), "x": lon[candidates].tolist(), "y": lat[candidates].tolist()},
    ).all()
    for i, region in found:
        rows.add(
            i,
            "lat",
            f"the point (lat {lat[i]:g}, lon {lon[i]:g}) lies in no known region "
            f"but swapped it falls in {region}: lat and lon look swapped",
        )
        lat[i] = lon[i] = np.nan


def _reps(session: Session, rows: _Rows) -> list[int | None]:
    names = rows.text("rep", max_len=64)
    wanted = sorted({n for n in names if n is not None})
    ids = (
        dict(
            session.execute(
                text("SELECT username, id FROM users WHERE username = ANY(:names)"),
                {"names": wanted},
            ).all()
        )
        if wanted
        else {}
    )
    out: list[int | None] = []
    for i, n in enumerate(names):
        if n is not None and n not in ids:
            rows.add(i, "rep", f"unknown rep {n!r}: no user has this username")
        out.append(ids.get(n) if n is not None else None)
    return out


def _known_outlets(session: Session, cols: _OutletCols) -> dict[str, _Known]:
    """The stored outlets the file names (as rows or parents) and all their stored ancestors
    (a file usually holds the parents too, so the recursive part rarely has work)."""
    codes = sorted({c for c in (*cols.code, *cols.parent) if c is not None})
    if not codes:
        return {}
    select_known = (
        "SELECT o.code, o.id, o.tier, p.code, o.name, o.status FROM outlets o"
        " LEFT JOIN outlets p ON p.id = o.parent_id"
    )
    result = session.execute(text(f"{select_known} WHERE o.code = ANY(:codes)"), {"codes": codes})
    known = {
        code: _Known(id_, tier, parent, name, status)
        for code, id_, tier, parent, name, status in result
    }
    outside = sorted({k.parent_code for k in known.values() if k.parent_code} - known.keys())
    if outside:
        result = session.execute(
            text(
                "WITH RECURSIVE up AS ("
                "  SELECT id, parent_id FROM outlets WHERE code = ANY(:codes)"
                "  UNION SELECT o.id, o.parent_id FROM outlets o JOIN up ON o.id = up.parent_id)"
                f" {select_known} JOIN up ON up.id = o.id"
            ),
            {"codes": outside},
        )
        for code, id_, tier, parent, name, status in result:
            known.setdefault(code, _Known(id_, tier, parent, name, status))
    return known


def _check_required(rows: _Rows, cols: _OutletCols, known: dict[str, _Known]) -> None:
    """Name and tier: a present column may not be blank; an absent one is needed for new rows."""
    for column, values in (("name", cols.name), ("tier", cols.tier)):
        present = rows.has(column)
        raw = rows.raw(column)
        for i, code in enumerate(cols.code):
            if code is None or values[i] is not None:
                continue
            if present and cell_text(raw[i]) is not None:
                continue  # an unknown word, already reported
            if present or code not in known:
                why = "" if present else " for a new outlet (no such column)"
                rows.add(i, column, f"{column} is required{why}")


def _check_network(
    rows: _Rows,
    cols: _OutletCols,
    known: dict[str, _Known],
    children: dict[str, list[tuple]],
    skip_invalid: bool,
) -> None:
    """Parents exist, buy from nobody of the same or lower tier, and never loop.

    All-or-nothing: checked once over every row. With ``skip_invalid`` rows found bad are left
    out (their stored state stands) and the rest checked again, until nothing new turns up;
    a row whose parent's row is skipped is skipped too.
    """
    included = [
        i
        for i in range(rows.n)
        if cols.code[i] is not None and not (skip_invalid and i in rows.bad)
    ]
    while True:
        before = len(rows.problems)
        skipped = {
            cols.code[i]: rows.numbers[i]
            for i in range(rows.n)
            if skip_invalid and i in rows.bad and cols.code[i] is not None
        }
        in_file = {}
        for i in included:
            in_file.setdefault(cols.code[i], i)
        _check_parents(rows, cols, known, included, in_file, skipped)
        _check_children(rows, cols, known, children, in_file)
        _check_cycles(rows, cols, known, included, in_file)
        if not skip_invalid or len(rows.problems) == before:
            return
        included = [i for i in included if i not in rows.bad]


def _tier_of(i: int, cols: _OutletCols, known: dict[str, _Known]) -> str | None:
    if cols.tier[i] is not None:
        return cols.tier[i]
    stored = known.get(cols.code[i])
    return stored.tier if stored else None


def _parent_of(i: int, rows: _Rows, cols: _OutletCols, known: dict[str, _Known]) -> str | None:
    if rows.has("parent_code"):
        return cols.parent[i]
    stored = known.get(cols.code[i])
    return stored.parent_code if stored else None


def _check_parents(rows, cols, known, included, in_file, skipped) -> None:
    column = "parent_code" if rows.has("parent_code") else "tier"
    for i in included:
        parent = _parent_of(i, rows, cols, known)
        tier = _tier_of(i, cols, known)
        if parent is None:
            continue
        if parent == cols.code[i]:
            rows.add(i, column, "an outlet cannot be its own parent")
            continue
        if tier == "distributor":
            rows.add(
                i,
                column,
                f"a distributor buys from nobody: leave parent_code empty (got {parent!r})",
            )
            continue
        if parent in skipped and parent not in in_file:
            rows.add(
                i,
                column,
                f"its parent {parent!r} (row {skipped[parent]}) is invalid and was skipped",
            )
            continue
        if parent in in_file:
            parent_tier = _tier_of(in_file[parent], cols, known)
        elif parent in known:
            parent_tier = known[parent].tier
        else:
            rows.add(i, column, f"unknown parent {parent!r}: not in this file or the database")
            continue
        if tier is not None and parent_tier is not None and _RANK[parent_tier] >= _RANK[tier]:
            rows.add(
                i,
                column,
                f"a {tier} outlet may not buy from {parent!r}, a {parent_tier}: "
                f"the parent must be of a higher tier",
            )


def _stored_children(session, rows: _Rows, cols: _OutletCols, known) -> dict[str, list[tuple]]:
    """Stored buyers of outlets whose tier the file changes; and their plans/evaluations."""
    changed = {
        cols.code[i]: known[cols.code[i]].id
        for i in range(rows.n)
        if cols.code[i] in known
        and cols.tier[i] is not None
        and cols.tier[i] != known[cols.code[i]].tier
    }
    if not changed:
        return {}
    out: dict[str, list[tuple]] = defaultdict(list)
    for parent, code, tier in session.execute(
        text(
            "SELECT p.code, c.code, c.tier FROM outlets c JOIN outlets p ON p.id = c.parent_id"
            " WHERE c.parent_id = ANY(:ids)"
        ),
        {"ids": list(changed.values())},
    ):
        out[parent].append((code, tier))
    for (code,) in session.execute(
        text(
            "SELECT o.code FROM outlets o WHERE o.id = ANY(:ids) AND o.tier = 'distributor'"
            " AND (EXISTS (SELECT 1 FROM sales_plans p WHERE p.distributor_id = o.id)"
            "   OR EXISTS (SELECT 1 FROM evaluations e WHERE e.distributor_id = o.id))"
        ),
        {"ids": list(changed.values())},
    ):
        out[code].append((None, "distributor"))
    return out


def _check_children(rows, cols, known, children, in_file) -> None:
    """A tier change must leave the stored buyers that stay put of a lower tier."""
    for code, kids in children.items():
        i = in_file.get(code)
        if i is None:
            continue
        tier = cols.tier[i]
        for kid, kid_tier in kids:
            if kid is None:
                rows.add(
                    i,
                    "tier",
                    f"cannot become {tier}: it has sales plans or evaluations as "
                    f"a distributor and must stay one",
                )
                continue
            if kid in in_file:
                continue  # the buyer's own row checks its (new) parent's tier
            if _RANK[kid_tier] <= _RANK[tier]:
                rows.add(
                    i,
                    "tier",
                    f"cannot become {tier}: its buyer {kid!r} is a {kid_tier} and "
                    f"would no longer buy from a higher tier",
                )


def _check_cycles(rows, cols, known, included, in_file) -> None:
    def parent_of(code: str) -> str | None:
        if code in in_file:
            parent = _parent_of(in_file[code], rows, cols, known)
        else:
            parent = known[code].parent_code if code in known else None
        return None if parent == code else parent

    column = "parent_code" if rows.has("parent_code") else "tier"
    done: set[str] = set()
    for i in included:
        path: list[str] = []
        on_path: dict[str, int] = {}
        node: str | None = cols.code[i]
        while node is not None and node not in done and node not in on_path:
            on_path[node] = len(path)
            path.append(node)
            node = parent_of(node)
        if node is not None and node in on_path:
            loop = path[on_path[node] :]
            shown = " → ".join([*loop, loop[0]])
            for code in loop:
                if code in in_file:
                    rows.add(in_file[code], column, f"parent cycle: {shown}")
        done.update(path)


def _write_outlets(
    session,
    rows: _Rows,
    cols: _OutletCols,
    known: dict[str, _Known],
    keep: list[int],
    order: dict[int, int],
    report: ImportReport,
    user_id: int | None,
    progress: Progress | None,
) -> None:
    new = [i for i in keep if cols.code[i] not in known]
    if report.dry_run:
        fresh = [-(k + 1) for k in range(len(new))]  # placeholders: never stored
    else:
        fresh = _new_ids(session, "outlets", len(new))
    ids = {cols.code[i]: known[cols.code[i]].id for i in keep if cols.code[i] in known}
    ids.update({cols.code[i]: id_ for i, id_ in zip(new, fresh, strict=True)})

    def record(i: int) -> tuple:
        code = cols.code[i]
        stored = known.get(code)
        parent = _parent_of(i, rows, cols, known)
        parent_id = (ids.get(parent) or known[parent].id) if parent is not None else None
        lon, lat = cols.lon[i], cols.lat[i]
        return (
            rows.numbers[i],
            order[i],
            ids[code],
            code,
            cols.name[i] if cols.name[i] is not None else stored.name,
            _tier_of(i, cols, known),
            parent_id,
            None if np.isnan(lon) else float(lon),
            None if np.isnan(lat) else float(lat),
            cols.crs[i],
            cols.address[i],
            cols.contact[i],
            cols.phone[i],
            cols.status[i] or (stored.status if stored else "active"),
            cols.rep_id[i],
            cols.notes[i],
        )

    all_new = len(new) == len(keep)  # a first load: nothing stored to join against
    _stage(
        session,
        _OUTLET_STAGE,
        _OUTLET_STAGE_DDL,
        _OUTLET_STAGE_COLUMNS,
        (record(i) for i in keep),
        len(keep),
        progress,
        analyze=not all_new,
    )
    present = [c for c in _OUTLET_TARGET if rows.has(c)]
    has_location = rows.has("lat") or rows.has("lon")
    if report.dry_run:
        counts = _count_outlets(session, present, has_location)
    else:
        with _refused():
            counts = _upsert_outlets(session, present, has_location, user_id, all_new=all_new)
    report.inserted, report.updated, report.geotag_events = counts
    report.unchanged = len(keep) - report.inserted - report.updated
    report.written = not report.dry_run and bool(report.inserted or report.updated)
    _drop(session, _OUTLET_STAGE)
    if progress:
        progress("write", len(keep), len(keep))


def _write_order(
    rows: _Rows,
    cols: _OutletCols,
    known: dict[str, _Known],
    children: dict[str, list[tuple]],
    keep: list[int],
) -> dict[int, int]:
    """Each row's position in the upsert, which the tier trigger checks row by row against
    the rows written before it (rows are checked only in their final state by validation).

    By tier, parents first, then row number; but a row comes after its stored parent when
    that parent's old tier would refuse it, and a demoted outlet after those of its stored
    buyers in the file that its new tier would block until they have changed.
    """
    at = {cols.code[i]: i for i in keep}
    follow: dict[int, list[int]] = defaultdict(list)
    waits: dict[int, int] = defaultdict(int)
    for i in keep:
        parent = _parent_of(i, rows, cols, known)
        j = at.get(parent) if parent in known else None
        stored = known.get(cols.code[i])
        checked = (
            stored is None
            or stored.parent_code != parent
            or stored.tier != _tier_of(i, cols, known)
        )
        if (
            j is not None
            and checked
            and _RANK[known[parent].tier] >= _RANK[_tier_of(i, cols, known)]
        ):
            follow[j].append(i)
            waits[i] += 1
    for code, kids in children.items():
        i = at.get(code)
        for kid, kid_tier in kids:
            k = at.get(kid) if kid is not None else None
            if i is not None and k is not None and _RANK[kid_tier] <= _RANK[cols.tier[i]]:
                follow[k].append(i)
                waits[i] += 1

    def base(i: int) -> tuple[int, int]:
        return _RANK[_tier_of(i, cols, known)], rows.numbers[i]

    if not follow:
        return {i: base(i)[0] for i in keep}  # the usual case; ties go by row number in SQL
    ready = [(base(i), i) for i in keep if not waits[i]]
    heapq.heapify(ready)
    out: dict[int, int] = {}
    while ready:
        _, i = heapq.heappop(ready)
        out[i] = len(out)
        for t in follow[i]:
            waits[t] -= 1
            if not waits[t]:
                heapq.heappush(ready, (base(t), t))
    for i in sorted((i for i in keep if i not in out), key=base):
        out[i] = len(out)  # a loop no order can satisfy: the database names the broken rule
    return out


_POINT = "ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)"


def _outlet_changes(
    present: list[str], has_location: bool, new: str, point: str
) -> list[tuple[str, str, str]]:
    """(stored column, old value, new value) for every column the file sets."""
    out = [
        (_OUTLET_TARGET[c], f"o.{_OUTLET_TARGET[c]}", f"{new}.{_OUTLET_TARGET[c]}") for c in present
    ]
    if has_location:  # a blank lat/lon keeps the stored location: an import never erases one
        out.append(("location", "o.location", f"coalesce({point}, o.location)"))
    return out


def _count_outlets(
    session: Session, present: list[str], has_location: bool
) -> tuple[int, int, int]:
    diff = _diff([(o, n) for _, o, n in _outlet_changes(present, has_location, "s", _POINT)])
    moved = (
        f"{_POINT} IS NOT NULL AND {_POINT} IS DISTINCT FROM o.location"
        if has_location
        else "FALSE"
    )
    row = session.execute(
        text(
            f"SELECT count(*) FILTER (WHERE o.id IS NULL),"
            f" count(*) FILTER (WHERE o.id IS NOT NULL AND {diff}),"
            f" count(*) FILTER (WHERE {moved})"
            f" FROM {_OUTLET_STAGE} s LEFT JOIN outlets o ON o.code = s.code"
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def _upsert_outlets(
    session: Session, present: list[str], has_location: bool, user_id: int | None, *, all_new: bool
) -> tuple[int, int, int]:
    """One statement: upsert in write order, geotag events for new or moved points.

    Every part of a WITH statement sees the table as it was before the statement, so ``prev``
    is the stored state: no row there means inserted, and its location is the old one. When
    nothing in the file is stored yet (a first load) there is no stored state to consult: a
    plain INSERT (a concurrent insert of the same code then fails the import instead of
    being updated), and no look-ups of previous rows.
    """
    if all_new:
        source, conflict, prev, previous = "", "", "", "NULL"
        inserted, updated = "count(*)", "0"
    else:
        changes = _outlet_changes(present, has_location, "excluded", "excluded.location")
        sets = ", ".join(f"{t} = {n}" for t, _, n in changes)
        update = (
            f"DO UPDATE SET {sets} WHERE {_diff([(o, n) for _, o, n in changes])}"
            if changes
            else "DO NOTHING"
        )
        conflict = f"ON CONFLICT (code) {update}"
        # unchanged rows never reach the INSERT: its row trigger would run for them all the same
        same = _diff([(o, n) for _, o, n in _outlet_changes(present, has_location, "s", _POINT)])
        source = (
            f"WHERE NOT EXISTS (SELECT 1 FROM outlets o WHERE o.code = s.code AND NOT ({same}))"
        )
        prev, previous = " LEFT JOIN outlets prev ON prev.id = up.id", "prev.location"
        inserted, updated = (
            "count(*) FILTER (WHERE prev.id IS NULL)",
            "count(*) FILTER (WHERE prev.id IS NOT NULL)",
        )
    row = session.execute(
        text(
            f"WITH up AS ("
            " INSERT INTO outlets AS o (id, code, name, tier, parent_id, location, address, "
            "contact,"
            f"  phone, status, rep_id, notes, created_by_id)"
            f" SELECT s.id, s.code, s.name, s.tier, s.parent_id, {_POINT}, s.address, s.contact,"
            f"  s.phone, s.status, s.rep_id, s.notes, CAST(:user_id AS integer)"
            f"  FROM {_OUTLET_STAGE} s {source} ORDER BY s.ord, s.rn {conflict}"
            f" RETURNING o.id, o.location),"
            f" ev AS ("
            " INSERT INTO geotag_events (outlet_id, old_location, new_location, source, crs, "
            "user_id)"
            f" SELECT up.id, {previous}, up.location, 'import', s.crs, CAST(:user_id AS integer)"
            f"  FROM up JOIN {_OUTLET_STAGE} s ON s.id = up.id{prev}"
            f"  WHERE up.location IS NOT NULL AND up.location IS DISTINCT FROM {previous}"
            f" RETURNING 1)"
            f" SELECT {inserted}, {updated}, (SELECT count(*) FROM ev) FROM up{prev}"
        ),
        {"user_id": user_id},
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


# == products ======================================================================================
_PRODUCT_STAGE = "geo_crm_product_stage"


def import_products(
    session: Session,
    source: str | bytes | IO[bytes],
    *,
    fmt: str | None = None,
    encoding: str | None = None,
    name: str | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate and upsert products by ``sku``."""
    started = time.perf_counter()
    table = read_table(source, fmt=fmt, encoding=encoding, name=name, progress=progress)
    rows = _Rows(table, PRODUCT_COLUMNS, "products")
    rows.require("sku")
    report = _report("products", rows, dry_run=dry_run, skip_invalid=skip_invalid)
    sku = rows.text("sku", max_len=64)
    names, spec, unit = rows.text("name"), rows.text("spec"), rows.text("unit", max_len=16)
    _duplicates(rows, "sku", sku)
    wanted = sorted({s for s in sku if s is not None})
    stored = (
        set(
            session.execute(
                text("SELECT sku FROM products WHERE sku = ANY(:s)"), {"s": wanted}
            ).scalars()
        )
        if wanted
        else set()
    )
    for i, s in enumerate(sku):
        if s is None:
            rows.required(i, "sku")
            continue
        for column, values in (("name", names), ("unit", unit)):
            if values[i] is None and (rows.has(column) or s not in stored):
                rows.add(
                    i,
                    column,
                    f"{column} is required"
                    + ("" if rows.has(column) else " for a new product (no such column)"),
                )
    if progress:
        progress("validate", rows.n, rows.n)
    if rows.problems and not skip_invalid:
        return _finish(report, rows, started)
    keep = [i for i in range(rows.n) if i not in rows.bad]
    report.skipped = rows.n - len(keep)
    _stage(
        session,
        _PRODUCT_STAGE,
        "rn integer, sku text, name text, spec text, unit text",
        ("rn", "sku", "name", "spec", "unit"),
        ((rows.numbers[i], sku[i], names[i], spec[i], unit[i]) for i in keep),
        len(keep),
        progress,
    )
    # absent columns keep the stored value; a new product needs name and unit (checked)
    values = [
        f"s.{c}" if c == "sku" or rows.has(c) else f"(SELECT {c} FROM products WHERE sku = s.sku)"
        for c in ("sku", "name", "spec", "unit")
    ]
    _upsert_by_key(
        session,
        report,
        len(keep),
        stage=_PRODUCT_STAGE,
        table="products",
        key="sku",
        columns=("sku", "name", "spec", "unit"),
        values=values,
        targets=[c for c in ("name", "spec", "unit") if rows.has(c)],
    )
    return _finish(report, rows, started)


# == sales records =================================================================================
_SALES_STAGE = "geo_crm_sales_stage"
_SALES_TARGET = {
    "date": "sale_date",
    "seller_code": "seller_id",
    "buyer_code": "buyer_id",
    "sku": "product_id",
    "spec": "spec",
    "quantity": "quantity",
    "amount": "amount",
    "amount_paid": "amount_paid",
}


def import_sales(
    session: Session,
    source: str | bytes | IO[bytes],
    *,
    fmt: str | None = None,
    encoding: str | None = None,
    name: str | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate and write sales records; rows with a ``reference`` are upserted by it.

    Rows without a reference are always inserted: re-importing such a file adds them again.
    A blank spec takes the product's; a blank ``amount_paid`` is 0.
    """
    started = time.perf_counter()
    table = read_table(source, fmt=fmt, encoding=encoding, name=name, progress=progress)
    rows = _Rows(table, SALES_COLUMNS, "sales")
    rows.require("date", "seller_code", "buyer_code", "sku", "quantity", "amount")
    report = _report("sales", rows, dry_run=dry_run, skip_invalid=skip_invalid)
    ref = rows.text("reference", max_len=64)
    _duplicates(rows, "reference", ref)
    seller, buyer = rows.text("seller_code"), rows.text("buyer_code")
    sku, spec = rows.text("sku"), rows.text("spec")
    dates = _cells(rows, "date", cell_date)
    quantity = _cells(rows, "quantity", lambda v: cell_decimal(v, 3))
    amount = _cells(rows, "amount", lambda v: cell_decimal(v, 2))
    paid = _cells(rows, "amount_paid", lambda v: cell_decimal(v, 2))
    outlets = _lookup(
        session, "SELECT code, id, tier FROM outlets WHERE code = ANY(:k)", [*seller, *buyer]
    )
    products = _lookup(session, "SELECT sku, id, spec FROM products WHERE sku = ANY(:k)", sku)
    paid_by_payments = _lookup(
        session,
        "SELECT r.reference, r.id, r.amount_paid FROM sales_records r WHERE r.reference"
        " = ANY(:k) AND EXISTS (SELECT 1 FROM payments p WHERE p.sales_record_id = r.id)",
        ref,
    )
    for i in range(rows.n):
        for column, values in (
            ("date", dates),
            ("seller_code", seller),
            ("buyer_code", buyer),
            ("sku", sku),
            ("quantity", quantity),
            ("amount", amount),
        ):
            if values[i] is None and cell_text(rows.raw(column)[i]) is None:
                rows.required(i, column)
        for column, values in (("quantity", quantity), ("amount", amount), ("amount_paid", paid)):
            if values[i] is not None and values[i] < 0:
                rows.add(i, column, f"{column} may not be negative ({values[i]})")
        if paid[i] is None and cell_text(rows.raw("amount_paid")[i]) is None:
            paid[i] = Decimal(0)
        if amount[i] is not None and paid[i] is not None and 0 <= amount[i] < paid[i]:
            rows.add(i, "amount_paid", f"paid {paid[i]} is more than the amount {amount[i]}")
        for column, code, what in (
            ("seller_code", seller[i], "seller"),
            ("buyer_code", buyer[i], "buyer"),
        ):
            if code is not None and code not in outlets:
                rows.add(i, column, f"unknown {what} {code!r}: no outlet has this code")
        if seller[i] is not None and seller[i] == buyer[i]:
            rows.add(i, "buyer_code", "seller and buyer must differ")
        elif seller[i] in outlets and buyer[i] in outlets:
            s_tier, b_tier = outlets[seller[i]][1], outlets[buyer[i]][1]
            if _RANK[s_tier] >= _RANK[b_tier]:
                rows.add(
                    i,
                    "seller_code",
                    f"a {b_tier} outlet may not buy from {seller[i]!r}, a "
                    f"{s_tier}: the seller must be of a higher tier",
                )
        if sku[i] is not None and sku[i] not in products:
            rows.add(i, "sku", f"unknown sku {sku[i]!r}: import the product first")
        if (
            ref[i] in paid_by_payments
            and rows.has("amount_paid")
            and paid[i] != paid_by_payments[ref[i]][1]
        ):
            rows.add(
                i,
                "amount_paid",
                "this record has payments: record a payment instead of changing amount_paid",
            )
    if progress:
        progress("validate", rows.n, rows.n)
    if rows.problems and not skip_invalid:
        return _finish(report, rows, started)
    keep = [i for i in range(rows.n) if i not in rows.bad]
    report.skipped = rows.n - len(keep)
    _stage(
        session,
        _SALES_STAGE,
        "rn integer, reference text, sale_date date, seller_id bigint, buyer_id bigint,"
        " product_id integer, spec text, quantity numeric(14, 3), amount numeric(14, 2),"
        " amount_paid numeric(14, 2)",
        (
            "rn",
            "reference",
            "sale_date",
            "seller_id",
            "buyer_id",
            "product_id",
            "spec",
            "quantity",
            "amount",
            "amount_paid",
        ),
        (
            (
                rows.numbers[i],
                ref[i],
                dates[i],
                outlets[seller[i]][0],
                outlets[buyer[i]][0],
                products[sku[i]][0],
                spec[i] if spec[i] is not None else products[sku[i]][1],
                quantity[i],
                amount[i],
                paid[i],
            )
            for i in keep
        ),
        len(keep),
        progress,
    )
    columns = (
        "reference",
        "sale_date",
        "seller_id",
        "buyer_id",
        "product_id",
        "spec",
        "quantity",
        "amount",
        "amount_paid",
    )
    _upsert_by_key(
        session,
        report,
        len(keep),
        stage=_SALES_STAGE,
        table="sales_records",
        key="reference",
        columns=columns,
        values=[f"s.{c}" for c in columns],
        targets=[t for c, t in _SALES_TARGET.items() if rows.has(c)],
    )
    return _finish(report, rows, started)


def _upsert_by_key(
    session: Session,
    report: ImportReport,
    kept: int,
    *,
    stage: str,
    table: str,
    key: str,
    columns: Sequence[str],
    values: Sequence[str],
    targets: Sequence[str],
) -> None:
    """Count (dry run) or upsert the staged rows by ``key``, updating only rows that differ.

    Rows whose key is NULL never conflict, so they are always inserted.
    """
    if report.dry_run:
        diff = _diff([(f"t.{c}", f"s.{c}") for c in targets])
        counts = session.execute(
            text(
                f"SELECT count(*) FILTER (WHERE t.id IS NULL), count(*) FILTER (WHERE t.id IS NOT"
                f" NULL AND {diff}) FROM {stage} s LEFT JOIN {table} t ON t.{key} = s.{key}"
            )
        ).one()
    else:
        diff = _diff([(f"t.{c}", f"excluded.{c}") for c in targets])
        sets = ", ".join(f"{c} = excluded.{c}" for c in targets)
        action = f"DO UPDATE SET {sets} WHERE {diff}" if targets else "DO NOTHING"
        with _refused():
            counts = session.execute(
                text(
                    f"WITH up AS (INSERT INTO {table} AS t ({', '.join(columns)})"
                    f" SELECT {', '.join(values)} FROM {stage} s ORDER BY s.rn"
                    f" ON CONFLICT ({key}) {action} RETURNING t.id)"
                    f" SELECT count(*) FILTER (WHERE prev.id IS NULL),"
                    f" count(*) FILTER (WHERE prev.id IS NOT NULL)"
                    f" FROM up LEFT JOIN {table} prev ON prev.id = up.id"
                )
            ).one()
    report.inserted, report.updated = int(counts[0]), int(counts[1])
    report.unchanged = kept - report.inserted - report.updated
    report.written = not report.dry_run and bool(report.inserted or report.updated)
    _drop(session, stage)


def _cells(rows: _Rows, column: str, parse: Callable[[Any], tuple[Any, str | None]]) -> list[Any]:
    out = []
    for i, value in enumerate(rows.raw(column)):
        parsed, problem = parse(value)
        if problem:
            rows.add(i, column, problem)
        out.append(parsed)
    return out


def _lookup(session: Session, sql: str, keys: Iterable[str | None]) -> dict[str, tuple]:
    wanted = sorted({k for k in keys if k is not None})
    if not wanted:
        return {}
    return {row[0]: tuple(row[1:]) for row in session.execute(text(sql), {"k": wanted})}


IMPORTERS: dict[str, Callable[..., ImportReport]] = {
    "outlets": import_outlets,
    "products": import_products,
    "sales": import_sales,
}
