"""One JSON error body everywhere; HTML or JSON chosen by content negotiation.

Input no statement could use is refused before anything reads it, naming where it was: a NUL
character (PostgreSQL text cannot hold U+0000) in a query parameter answers 400, in a URL
argument 404 (nothing can be named so); a URL id larger than its column can hold answers 404
naming the argument. JSON bodies and upload forms are checked by ``api.framework``, the
sign-in form by its page. A 405 names the allowed methods in ``Allow``.

A database that cannot be reached (refused, closed, shut down: :func:`~geo_crm.db.translate.
outage_reason`) answers 503 ``service_unavailable`` with ``Retry-After``, whichever statement
found out — the policy's session or token check, a view's query, the engine's first connect.
"""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, render_template, request
from sqlalchemy import BigInteger
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from .db.translate import outage_reason, summary, translate
from .errors import (
    NUL,
    NUL_PROBLEM,
    DatabaseSetupError,
    GeoCrmError,
    NotFound,
    ServiceUnavailable,
    error_body,
)

LOGGER = logging.getLogger(__name__)

UNAVAILABLE = "the database is unavailable; try again in a few seconds"


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _respond(
    status: int,
    code: str,
    message: str,
    fields: dict | None = None,
    detail=None,
    headers: dict | None = None,
):
    if status == 503:
        headers = {"Retry-After": str(ServiceUnavailable.retry_after_s), **(headers or {})}
    if _wants_json():
        return jsonify(error_body(code, message, fields, detail)), status, headers or {}
    from .web.page_words import error_page_fields, error_page_message

    message = error_page_message(status, message, fields)  # in the page's language
    page = render_template(
        "error.html",
        status=status,
        message=message,
        fields=error_page_fields(status, fields),
        back=_way_back(),
    )
    return page, status, headers or {}


def _way_back() -> str | None:
    """Where an error page's "back" link leads: the page that sent the browser here when it is
    one of ours (the form with what was typed), else this page without its query (the form
    reset); None when that is where the error happened too."""
    from urllib.parse import urlsplit

    referrer = request.referrer
    if referrer:
        ref, here = urlsplit(referrer), urlsplit(request.url)
        if ref.netloc == here.netloc and ref.scheme in ("http", "https"):
            back = ref.path + (f"?{ref.query}" if ref.query else "")
            if back != request.full_path.rstrip("?") and not back.startswith("//"):
                return back
    if request.query_string and request.method == "GET":
        return request.path
    return None


def _rollback() -> None:
    session = g.get("db_session")
    if session is not None:
        try:
            session.rollback()
        except DBAPIError:  # the connection is gone: close() discards it
            LOGGER.debug("rollback failed on a broken connection", exc_info=True)


def _unavailable(reason: str, exc: BaseException):
    _rollback()
    LOGGER.warning(
        "database unavailable on %s %s: %s (%s)", request.method, request.path, reason, summary(exc)
    )
    return _respond(503, ServiceUnavailable.code, UNAVAILABLE)


def _id_columns() -> dict:
    """The id column each integer URL argument names (tests/test_hostile_input.py checks that
    every ``<int:…>`` argument of the app is here)."""
    from .jobs.store import REPORT_JOBS
    from .models import ApiToken, GeotagEvent, SalesPlan, SalesRecord

    return {
        "job_id": REPORT_JOBS.c.id,
        "sale_id": SalesRecord.id,
        "event_id": GeotagEvent.id,
        "token_id": ApiToken.id,
        "plan_id": SalesPlan.id,
    }


def id_limit(arg: str) -> int:
    """The largest id the column behind URL argument ``arg`` can hold."""
    column = _id_columns().get(arg)
    big = column is None or isinstance(column.type, BigInteger)
    return 2**63 - 1 if big else 2**31 - 1


def check_url_values(endpoint: str | None, values: dict | None) -> None:
    """A url_value_preprocessor: runs before every before_request hook (the access policy
    resolves URL arguments in the database), so nothing reads what no statement can take."""
    for key in request.args:
        if NUL in key or any(NUL in v for v in request.args.getlist(key)):
            name = key.replace(NUL, "\\0")
            raise GeoCrmError(
                f"query parameter {name} {NUL_PROBLEM}", fields={f"query.{name}": NUL_PROBLEM}
            )
    for arg, value in (values or {}).items():
        if isinstance(value, str) and NUL in value:
            raise NotFound(f"{arg} {NUL_PROBLEM}", fields={f"path.{arg}": NUL_PROBLEM})
        if isinstance(value, int) and value > id_limit(arg):
            raise NotFound(
                f"{arg} {value} not found: larger than any id",
                fields={f"path.{arg}": f"larger than any id ({id_limit(arg)})"},
            )


def init_app(app: Flask) -> None:
    app.url_value_preprocessor(check_url_values)

    @app.errorhandler(GeoCrmError)
    def _domain_error(exc: GeoCrmError):
        return _respond(exc.status, exc.code, exc.message, exc.fields, exc.detail)

    @app.errorhandler(DatabaseSetupError)
    def _setup_error(exc: DatabaseSetupError):
        # its message names hosts, paths and packages: for the log, not for every caller
        return _unavailable(outage_reason(exc) or "not set up", exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        valid = getattr(exc, "valid_methods", None)  # a 405 says which methods the route has
        headers = {"Allow": ", ".join(valid)} if valid else None
        return _respond(exc.code or 500, code, exc.description or exc.name, headers=headers)

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError):
        reason = outage_reason(exc)
        if reason is not None:
            return _unavailable(reason, exc)
        _rollback()
        translated = translate(exc)
        if translated is None:
            LOGGER.exception("database error on %s %s", request.method, request.path)
            return _respond(
                500, "internal_error", "an unexpected error occurred; it has been logged"
            )
        return _respond(translated.status, translated.code, translated.message, translated.fields)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        reason = outage_reason(exc)  # a driver error that no SQLAlchemy layer wrapped
        if reason is not None:
            return _unavailable(reason, exc)
        LOGGER.exception("unhandled error on %s %s", request.method, request.path)
        _rollback()
        return _respond(500, "internal_error", "an unexpected error occurred; it has been logged")
