"""One JSON error body everywhere; HTML or JSON chosen by content negotiation.

A database that cannot be reached (refused, closed, shut down: :func:`~geo_crm.db.translate.
outage_reason`) answers 503 ``service_unavailable`` with ``Retry-After``, whichever statement
found out — the policy's session or token check, a view's query, the engine's first connect.
"""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from .db.translate import outage_reason, summary, translate
from .errors import DatabaseSetupError, GeoCrmError, ServiceUnavailable, error_body

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
    page = render_template(
        "error.html", status=status, message=message, fields=fields or {}, back=_way_back()
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


def init_app(app: Flask) -> None:
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
        return _respond(exc.code or 500, code, exc.description or exc.name)

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
