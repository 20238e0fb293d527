"""Spreadsheet and GeoJSON upload (import) and outlet export over HTTP.

Uploads are ``multipart/form-data`` with the file in a ``file`` field and the options as form
fields; the request size limit (``GEO_CRM_MAX_UPLOAD_BYTES``) answers 413. Invalid rows answer
422 with the whole row report in ``error.detail`` and nothing written. Exports are built in
batches into a spooled temporary file, then sent.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from typing import IO, Literal

from flask import Response, jsonify, request
from pydantic import Field, create_model
from pydantic import ValidationError as PydanticValidationError
from werkzeug.exceptions import UnsupportedMediaType

from ..analysis.judging import network_reach
from ..auth.policy import current_user
from ..db import get_session
from ..errors import NUL_PROBLEM, ValidationError
from ..io.business_exports import export_debt, export_plans, export_sales
from ..io.exports import MEDIA_TYPES, export_outlets
from ..io.imports import IMPORTERS, ImportReport
from .distributors import AgeingQuery
from .framework import Out, Query, field_errors, nul_fields, operation
from .outlets import OutletListQuery, filters_from
from .plans import PlanListQuery
from .plans import filters_of as plan_filters
from .sales import SalesListQuery, sales_filters
from .schemas import field_names

LOGGER = logging.getLogger(__name__)

TAGS = ["import / export"]
SPOOL_IN_MEMORY = 8 * 1024 * 1024  # an export larger than this is spooled to a temp file
MAX_FIELDS = 100  # row problems listed in error.fields; error.detail.problems has all of them


class ImportForm(Query):
    skip_invalid: bool = Field(False, description="write the valid rows and report the others")
    dry_run: bool = Field(False, description="validate and count only; write nothing")
    format: Literal["csv", "xlsx", "geojson"] | None = Field(
        None, description="default: from the file name, else detected"
    )
    encoding: str | None = Field(
        None, max_length=32, description="CSV text encoding (default: UTF-8, else GB18030)"
    )


class OutletImportForm(ImportForm):
    crs: Literal["wgs84", "gcj02", "bd09"] | None = Field(
        None, description="coordinate system of rows without a crs cell (default wgs84)"
    )


class ProblemOut(Out):
    row: int = Field(description="spreadsheet row (header = 1); GeoJSON: feature number")
    column: str
    message: str


class ImportReportOut(Out):
    kind: str
    fmt: str
    encoding: str | None
    rows: int
    inserted: int
    updated: int
    unchanged: int
    skipped: int
    geotag_events: int
    dry_run: bool
    skip_invalid: bool
    written: bool
    ok: bool
    invalid_rows: int
    summary: str
    seconds: float
    ignored_columns: list[str]
    problems: list[ProblemOut]


def _form_schema(model: type[Query]) -> dict:
    """The multipart body for the OpenAPI document: the file plus the form fields."""
    schema = model.model_json_schema()
    schema.pop("title", None)
    schema["properties"] = {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "CSV (UTF-8 or GB18030), XLSX or GeoJSON; columns in "
            "docs/import-export.md",
        },
        **schema["properties"],
    }
    for prop in schema["properties"].values():  # a form field is text: it cannot be null
        options = prop.pop("anyOf", None)
        if options is not None:
            prop.update(next(o for o in options if o.get("type") != "null"))
            prop.pop("default", None)
    schema["required"] = ["file"]
    return schema


def _acting_user_id() -> int | None:
    from ..auth.policy import signed_in_user

    user = signed_in_user()
    return user.id if user is not None else None


def _upload(kind: str, form_model: type[ImportForm]):
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("send the file as multipart/form-data in a field named 'file'")
    upload = request.files.get("file")  # parsing the body: 413 past MAX_CONTENT_LENGTH
    if upload is None or not upload.filename:
        raise ValidationError(
            "no file: send it in a multipart field named 'file'", fields={"form.file": "required"}
        )
    problems = nul_fields(request.form.to_dict(), "form")
    if problems:
        raise ValidationError(f"{', '.join(problems)}: {NUL_PROBLEM}", fields=problems)
    try:
        form = form_model.model_validate(request.form.to_dict())
    except PydanticValidationError as exc:
        raise ValidationError("invalid form fields", fields=field_errors(exc, "form")) from exc
    options = form.model_dump(exclude={"format"})
    if kind == "outlets":
        options["user_id"] = _acting_user_id()
    if kind == "plans":
        options["user"] = current_user()
    if kind == "evaluations":
        options["user"] = current_user()
        options["reach_of"] = network_reach
    session = get_session()
    report: ImportReport = IMPORTERS[kind](
        session, upload.stream, name=upload.filename, fmt=form.format, **options
    )
    if not report.written:
        session.rollback()
    if report.failed:
        fields: dict[str, str] = {}
        for p in report.problems:
            key = f"rows.{p.row}.{p.column}"
            fields[key] = f"{fields[key]}; {p.message}" if key in fields else p.message
        if len(fields) > MAX_FIELDS:
            more = len(fields) - MAX_FIELDS
            fields = dict(list(fields.items())[:MAX_FIELDS])
            fields["rows"] = f"and {more} more cells: see error.detail.problems"
        raise ValidationError(report.summary(), fields=fields, detail=report.to_dict())
    if report.written:
        session.commit()
    return jsonify(report.to_dict())


_RESPONSES = {200: ImportReportOut, 413: None, 415: None, 422: None}


@operation(
    "/imports/outlets",
    "POST",
    summary="Import outlets from a file",
    tags=TAGS,
    body=_form_schema(OutletImportForm),
    body_content_types=["multipart/form-data"],
    responses=_RESPONSES,
)
def import_outlets():
    """Insert or update outlets by code from CSV, XLSX or GeoJSON; unchanged rows stay as they are.

    All or nothing unless ``skip_invalid``: invalid rows answer 422 with every problem (row,
    column, message) in ``error.detail.problems`` and nothing written.
    """
    return _upload("outlets", OutletImportForm)


@operation(
    "/imports/products",
    "POST",
    summary="Import products from a file",
    tags=TAGS,
    body=_form_schema(ImportForm),
    body_content_types=["multipart/form-data"],
    responses=_RESPONSES,
)
def import_products():
    """Insert or update products by sku from CSV or XLSX."""
    return _upload("products", ImportForm)


@operation(
    "/imports/sales",
    "POST",
    summary="Import sales records from a file",
    tags=TAGS,
    body=_form_schema(ImportForm),
    body_content_types=["multipart/form-data"],
    responses=_RESPONSES,
)
def import_sales():
    """Insert sales records (update them by reference) from CSV or XLSX."""
    return _upload("sales", ImportForm)


@operation(
    "/imports/plans",
    "POST",
    summary="Import sales plans from a file",
    tags=TAGS,
    body=_form_schema(ImportForm),
    body_content_types=["multipart/form-data"],
    responses=_RESPONSES,
)
def import_plans():
    """Insert or update monthly plans by distributor, month and product from CSV or XLSX (with
    the schedule by the 10th and 20th and a support line when the file has those columns).
    Distributors must be in the caller's scope; a closed month is an admin's to change."""
    return _upload("plans", ImportForm)


@operation(
    "/imports/evaluations",
    "POST",
    summary="Import evaluations of distributors from a file",
    tags=TAGS,
    body=_form_schema(ImportForm),
    body_content_types=["multipart/form-data"],
    responses=_RESPONSES,
)
def import_evaluations():
    """One new evaluation per row from CSV or XLSX, each with its network's reach now; the
    importer is the evaluator. All or nothing unless ``skip_invalid``."""
    return _upload("evaluations", ImportForm)


def _drain(spool: IO[bytes], size: int = 1 << 16) -> Iterator[bytes]:
    """The spooled file in chunks, closed when sent (or when the client goes away)."""
    try:
        while chunk := spool.read(size):
            yield chunk
    finally:
        spool.close()


def _send(export) -> Response:
    """The export as an attachment. Spooled inside the view: the request's session (and its
    server-side cursor) ends with the request, before a streamed body would be read; memory
    stays bounded all the same."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    for chunk in export.chunks:
        spool.write(chunk)
    size = spool.tell()
    spool.seek(0)
    LOGGER.info("exported %d rows as %s (%d bytes)", export.rows, export.fmt, size)
    return Response(
        _drain(spool),
        content_type=export.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "Content-Length": str(size),
        },
    )


def _export(write, query, **filters) -> Response:
    """Write the file as the caller (a filter naming nothing they may see is a 422 on its query
    parameter) and send it."""
    session = get_session()
    with field_names(session, prefix="query"):
        export = write(
            session, query.format, user=current_user(), encoding=query.encoding, **filters
        )
    return _send(export)


# the list's filters, without its paging: "exported like the list" stays true as filters grow
_LIST_ONLY = {"limit", "offset", "cursor", "count", "format"}
OutletExportQuery = create_model(
    "OutletExportQuery",
    __base__=Query,
    format=(Literal["csv", "xlsx", "geojson"], Field("csv", description="file format")),
    encoding=(
        Literal["utf-8", "gb18030"],
        Field("utf-8", description="CSV encoding (UTF-8 is written with a BOM)"),
    ),
    **{
        name: (info.annotation, info)
        for name, info in OutletListQuery.model_fields.items()
        if name not in _LIST_ONLY
    },
)


@operation(
    "/outlets/export",
    "GET",
    summary="Export outlets as CSV, XLSX or GeoJSON",
    tags=TAGS,
    query=OutletExportQuery,
    responses={200: None, 422: None},
    produces=[MEDIA_TYPES["csv"], MEDIA_TYPES["xlsx"], MEDIA_TYPES["geojson"]],
)
def export_outlets_file(query):
    """Outlets matching the list's filters, as a file with the import's columns (re-importable).

    Text cells of CSV/XLSX that a spreadsheet would run as a formula start with a ``'``, which
    the import strips again.
    """
    return _export(export_outlets, query, filters=filters_from(query))


# -- the business lists: sales, plans, debt ageing ------------------------------------------

_SPREADSHEET = (
    Literal["csv", "xlsx"],
    Field("csv", description="file format (CSV: UTF-8 with a BOM, or GB18030)"),
)
_ENCODING = (
    Literal["utf-8", "gb18030"],
    Field("utf-8", description="CSV encoding (UTF-8 is written with a BOM)"),
)


def _export_query(name: str, source: type[Query], drop: set[str]):
    return create_model(
        name,
        __base__=Query,
        format=_SPREADSHEET,
        encoding=_ENCODING,
        **{
            field: (info.annotation, info)
            for field, info in source.model_fields.items()
            if field not in drop | {"format", "encoding"}
        },
    )


_SPREADSHEET_TYPES = [MEDIA_TYPES["csv"], MEDIA_TYPES["xlsx"]]
SalesExportQuery = _export_query("SalesExportQuery", SalesListQuery, _LIST_ONLY)
PlansExportQuery = _export_query("PlansExportQuery", PlanListQuery, {"limit", "offset"})
DebtExportQuery = _export_query("DebtExportQuery", AgeingQuery, {"level"})


@operation(
    "/sales/export",
    "GET",
    summary="Export sales records as CSV or XLSX",
    tags=TAGS,
    query=SalesExportQuery,
    responses={200: None, 422: None},
    produces=_SPREADSHEET_TYPES,
)
def export_sales_file(query):
    """Sales records matching the list's filters; the first columns are the sales import's."""
    return _export(export_sales, query, filters=sales_filters(query))


@operation(
    "/plans/export",
    "GET",
    summary="Export sales plans as CSV or XLSX",
    tags=TAGS,
    query=PlansExportQuery,
    responses={200: None, 422: None},
    produces=_SPREADSHEET_TYPES,
)
def export_plans_file(query):
    """Plans matching the list's filters, with the plan import's columns first."""
    return _export(export_plans, query, filters=plan_filters(query))


@operation(
    "/debt/ageing/export",
    "GET",
    summary="Export debt ageing as CSV or XLSX",
    tags=TAGS,
    query=DebtExportQuery,
    responses={200: None, 422: None},
    produces=_SPREADSHEET_TYPES,
)
def export_debt_file(query):
    """The debt ageing list, one row per distributor, with the list's filters."""
    return _export(
        export_debt, query, as_of=query.as_of, region=query.region, distributor=query.distributor
    )
