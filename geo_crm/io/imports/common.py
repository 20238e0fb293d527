"""What every importer shares: the report, the file's rows under canonical column names, the
accepted words, staging by COPY and the upsert by key.

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

import logging
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import IO, Any, TypedDict

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ... import i18n
from ...coords import CRS_NAMES
from ...db.translate import translate
from ...errors import NUL, NUL_PROBLEM, ValidationError
from ...models import OUTLET_STATUSES, TIERS
from ..tabular import SPREADSHEET_FORMATS, Progress, Table, cell_text, read_table, unquote

LOGGER = logging.getLogger(__name__)

Source = str | bytes | IO[bytes]  # a path, the file's bytes, or an open binary file


def fold(name: str) -> str:
    """Header and code-word normal form: NFKC, lower case, no spaces, underscores or hyphens."""
    folded = unicodedata.normalize("NFKC", name).strip().lower()
    return "".join(ch for ch in folded if ch not in " _-\u3000")


# -- accepted words --------------------------------------------------------------------------------
def accepted_words(
    display: Mapping[str, Sequence[str]], synonyms: Mapping[str, str] | None = None
) -> dict[str, str]:
    """word -> code: each code itself, its display names in every language (what the pages
    show, so a value copied from a page imports back) and the ``synonyms`` people also write.
    Words are compared ``fold``-ed; one word meaning two codes is a programming error."""
    pairs = [(code, code) for code in display]
    pairs += [(name, code) for code, names in display.items() for name in names]
    pairs += list((synonyms or {}).items())
    meaning: dict[str, str] = {}
    for word, code in pairs:
        if meaning.setdefault(fold(word), code) != code:
            raise ValueError(f"the word {word!r} would mean both {meaning[fold(word)]} and {code}")
    return dict(pairs)


TIER_WORDS = accepted_words(
    i18n.TIER_NAMES,
    {
        "总经销商": "distributor",
        "经销商": "distributor",
        "二批商": "wholesaler_2",
        "三批商": "wholesaler_3",
        "零售": "retail",
        "终端": "retail",
        "零售店": "retail",
    },
)
STATUS_WORDS = accepted_words(
    i18n.STATUS_NAMES,
    {
        "正常": "active",
        "启用": "active",
        "暂停": "inactive",
        "关闭": "closed",
        "关停": "closed",
        "注销": "closed",
        "倒闭": "closed",
    },
)
CRS_WORDS = accepted_words(
    {c: () for c in CRS_NAMES},
    {
        "epsg4326": "wgs84",
        "gps": "wgs84",
        "amap": "gcj02",
        "高德": "gcj02",
        "腾讯": "gcj02",
        "火星坐标": "gcj02",
        "baidu": "bd09",
        "百度": "bd09",
    },
)
RANK = {t: i for i, t in enumerate(TIERS)}
TIER_HINT = f"{', '.join(TIERS)} (or {', '.join(i18n.TIER_NAMES[t][0] for t in TIERS)})"
STATUS_HINT = f"{', '.join(OUTLET_STATUSES[:-1])} or {OUTLET_STATUSES[-1]}"
CRS_HINT = f"{', '.join(CRS_NAMES[:-1])} or {CRS_NAMES[-1]}"


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


class Rows:
    """The file's cells under canonical column names, and the problems found so far."""

    def __init__(
        self,
        table: Table,
        columns: dict[str, tuple[str, ...]],
        kind: str,
        progress: Progress | None = None,
        *,
        skip_invalid: bool = False,
    ):
        self.table = table
        self.progress = progress
        self.skip_invalid = skip_invalid  # invalid rows are skipped, not fatal
        self.n = len(table)
        self.numbers = table.row_numbers
        self.spreadsheet = table.fmt in SPREADSHEET_FORMATS
        self.problems: list[Problem] = [Problem(r, c, m) for r, c, m in table.problems]
        self.bad: set[int] = set()
        position = {number: i for i, number in enumerate(self.numbers)}
        self.bad.update(position[r] for r, _, _ in table.problems)
        canonical = {fold(alias): col for col, aliases in columns.items() for alias in aliases}
        self.index: dict[str, int] = {}
        self.ignored: list[str] = []
        clashes: dict[str, str] = {}
        for j, header in enumerate(table.header):
            col = canonical.get(fold(header)) if header else None
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
        if table.may_hold_nul:
            self._refuse_nul()

    def _refuse_nul(self) -> None:
        """A cell holding a NUL character (PostgreSQL text cannot) is a problem of its row and
        column; the character is dropped so that validation's look-ups can run on the rest
        (the row is invalid: it is never written)."""
        for column, j in self.index.items():
            cells = self.table.columns[j]
            for i, value in enumerate(cells):
                if isinstance(value, str) and NUL in value:
                    self.add(i, column, NUL_PROBLEM)
                    cells[i] = value.replace(NUL, "")

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
        keyed = {fold(k): v for k, v in names.items()}
        seen: dict[str, str | None] = {}  # a column holds few distinct words
        out: list[str | None] = []
        for i, value in enumerate(self.text(column)):
            if value is None:
                out.append(None)
                continue
            if value not in seen:
                seen[value] = keyed.get(fold(value))
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


class FileOptions(TypedDict, total=False):
    """What every importer takes besides the session and the file (all optional)."""

    fmt: str | None  # csv, xlsx or geojson; default: from ``name``'s extension, else detected
    encoding: str | None  # of a CSV file; default: UTF-8 with or without BOM, else GB18030
    name: str | None  # the original file name (an upload's), to guess the format
    skip_invalid: bool  # write the valid rows and report the others (default: all or nothing)
    dry_run: bool  # validate and count only; write nothing
    progress: Progress | None  # called with (stage, rows done, rows in all)


def open_rows(
    kind: str,
    source: Source,
    columns: dict[str, tuple[str, ...]],
    required: Sequence[str],
    *,
    fmt: str | None = None,
    encoding: str | None = None,
    name: str | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> tuple[Rows, ImportReport, float]:
    """Every importer's start: read the file, find its ``columns`` (a missing ``required`` one
    is a file error) and open the report. Returns the rows, the report and the start time
    (for ``finish``)."""
    started = time.perf_counter()
    table = read_table(source, fmt=fmt, encoding=encoding, name=name, progress=progress)
    rows = Rows(table, columns, kind, progress, skip_invalid=skip_invalid)
    rows.require(*required)
    report = ImportReport(
        kind=kind,
        fmt=table.fmt,
        encoding=table.encoding,
        rows=rows.n,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        ignored_columns=rows.ignored,
    )
    return rows, report, started


def to_write(rows: Rows, report: ImportReport) -> list[int] | None:
    """After validation: the rows to write (all but the invalid ones), or None when invalid
    rows stop an all-or-nothing import."""
    if rows.progress:
        rows.progress("validate", rows.n, rows.n)
    if rows.problems and not report.skip_invalid:
        return None
    keep = [i for i in range(rows.n) if i not in rows.bad]
    report.skipped = rows.n - len(keep)
    return keep


def finish(report: ImportReport, rows: Rows, started: float) -> ImportReport:
    report.problems = sorted(rows.problems, key=lambda p: (p.row, p.column))
    report.seconds = time.perf_counter() - started
    LOGGER.info("%s import: %s (%.2f s)", report.kind, report.summary(), report.seconds)
    return report


def duplicates(rows: Rows, column: str, values: Sequence[str | None]) -> None:
    """A key that appears more than once. All or nothing: every occurrence is flagged (which
    one is meant is for the user to say). With ``skip_invalid`` the first occurrence is the
    one imported, and the later ones are flagged, so skipping keeps a row of each key."""
    present = [v for v in values if v is not None]
    if len(set(present)) == len(present):
        return
    where: dict[str, list[int]] = defaultdict(list)
    for i, v in enumerate(values):
        if v is not None:
            where[v].append(i)
    for value, idx in where.items():
        if len(idx) < 2:
            continue
        numbers = [rows.numbers[i] for i in idx]
        if rows.skip_invalid:
            for i in idx[1:]:
                rows.add(
                    i,
                    column,
                    f"duplicate {column} {value!r}: row {numbers[0]} has it already "
                    f"(that row is imported, this one skipped)",
                )
            continue
        for i in idx:
            others = ", ".join(str(n) for n in numbers if n != rows.numbers[i])
            rows.add(i, column, f"duplicate {column} {value!r} (also on row {others})")


# -- staging ---------------------------------------------------------------------------------------
def stage_rows(
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


def drop_stage(session: Session, name: str) -> None:
    session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{name}"))


def new_ids(session: Session, table: str, n: int) -> list[int]:
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
def refused() -> Iterator[None]:
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


def is_distinct(pairs: Sequence[tuple[str, str]]) -> str:
    """``(old…) IS DISTINCT FROM (new…)``; FALSE when the file sets no comparable column."""
    if not pairs:
        return "FALSE"
    old = ", ".join(o for o, _ in pairs)
    new = ", ".join(n for _, n in pairs)
    return f"ROW({old}) IS DISTINCT FROM ROW({new})"


def upsert_by_key(
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
        distinct = is_distinct([(f"t.{c}", f"s.{c}") for c in targets])
        counts = session.execute(
            text(
                f"SELECT count(*) FILTER (WHERE t.id IS NULL), count(*) FILTER (WHERE t.id IS NOT"
                f" NULL AND {distinct}) FROM {stage} s LEFT JOIN {table} t ON t.{key} = s.{key}"
            )
        ).one()
    else:
        distinct = is_distinct([(f"t.{c}", f"excluded.{c}") for c in targets])
        sets = ", ".join(f"{c} = excluded.{c}" for c in targets)
        action = f"DO UPDATE SET {sets} WHERE {distinct}" if targets else "DO NOTHING"
        with refused():
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
    drop_stage(session, stage)


def cells(rows: Rows, column: str, parse: Callable[[Any], tuple[Any, str | None]]) -> list[Any]:
    out = []
    for i, value in enumerate(rows.raw(column)):
        parsed, problem = parse(value)
        if problem:
            rows.add(i, column, problem)
        out.append(parsed)
    return out


def lookup(session: Session, sql: str, keys: Iterable[str | None]) -> dict[str, tuple]:
    wanted = sorted({k for k in keys if k is not None})
    if not wanted:
        return {}
    return {row[0]: tuple(row[1:]) for row in session.execute(text(sql), {"k": wanted})}
