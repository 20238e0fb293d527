"""The workbook: one sheet per table (key figures, sub-regions, distributors, gaps, plan against
actual), from :mod:`~geo_crm.reports.tables` — the numbers the PDF shows, unformatted, with
number formats, frozen headers and Chinese sheet names in zh-CN. Text that a spreadsheet
would run as a formula is quoted (``io.tabular.neutralise``, as the outlet export does) and
characters XML cannot carry are dropped."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from ..io.tabular import neutralise
from . import render, tables
from .data import Progress, ReportData

FORMATS = {
    tables.INT: "#,##0",
    tables.MONEY: "#,##0.00",
    tables.RATIO: "0.0%",
    tables.KM: "#,##0.0",
    tables.KM2: "#,##0.0",
    tables.NUMBER: "#,##0.00",
    tables.DEG: "0.00000",
    tables.DATE: "yyyy-mm-dd",
    tables.MONTH: "yyyy-mm",
}
HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")
# Excel's limit on sheet names, and characters it refuses in them
_SHEET_NAME_MAX = 31
_SHEET_BAD = str.maketrans({c: "_" for c in "[]:*?/\\"})


def _text(value: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", neutralise(value))


def _cell(value, kind: str):
    value = tables.as_number(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def _sheet(wb: Workbook, table: tables.Table, t) -> None:
    name = table.title.translate(_SHEET_BAD)[:_SHEET_NAME_MAX]
    ws = wb.create_sheet(name)
    ws.append([_text(c.label) for c in table.columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    widths = [max(8, min(40, len(c.label) * 2 + 2)) for c in table.columns]
    for i, row in enumerate(table.rows):
        values = [_cell(v, table.kind(i, j)) for j, v in enumerate(row)]
        if any(isinstance(v, bool) for v in values):
            values = [(t("yes") if v else t("no")) if isinstance(v, bool) else v for v in values]
        ws.append(values)
        for j, v in enumerate(values):
            fmt = FORMATS.get(table.kind(i, j))
            if fmt and v is not None and not isinstance(v, str):
                ws.cell(row=i + 2, column=j + 1).number_format = fmt
            if isinstance(v, str):
                widths[j] = max(widths[j], min(48, sum(2 if ord(ch) > 0x2E80 else 1 for ch in v)))
    for j, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(j)].width = w + 2
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions if table.rows else None


def workbook(data: ReportData) -> Workbook:
    t = render.translator(data)
    wb = Workbook()
    wb.remove(wb.active)
    figures = tables.key_figures(t, data)
    # what the figures are of: region, period and filters above the figures themselves
    about = tables.Table(figures.key, figures.title, figures.columns)
    about.rows = [[label, value] for label, value in render.facts(t, data)]
    about.rows.append([t("Data as of"), render.as_of(t, data)])
    if data.company:
        about.rows.append([t("Company"), data.company])
    about.rows += figures.rows
    about.value_kinds = [tables.TEXT] * (len(about.rows) - len(figures.rows)) + list(
        figures.value_kinds or []
    )
    for table in (
        about,
        tables.sub_regions(t, data),
        tables.distributors(t, data),
        tables.gap_cells(t, data),
        tables.plan_actual(t, data),
    ):
        _sheet(wb, table, t)
    wb.properties.title = f"{render.title(t, data)} · {data.region.name}"[:255]
    wb.properties.creator = "geo_crm"
    return wb


def write_xlsx(data: ReportData, path: Path, progress: Progress | None = None) -> Path:
    if progress:
        progress(92, "workbook")
    workbook(data).save(path)
    return path
