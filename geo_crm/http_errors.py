"""One JSON error body everywhere; HTML or JSON chosen by content negotiation."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from .dberrors import translate
from .errors import GeoCrmError, error_body

LOGGER = logging.getLogger(__name__)


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _respond(status: int, code: str, message: str, fields: dict | None = None, detail=None):
    if _wants_json():
        return jsonify(error_body(code, message, fields, detail)), status
    return render_template("error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(GeoCrmError)
    def _domain_error(exc: GeoCrmError):
        return _respond(exc.status, exc.code, exc.message, exc.fields, exc.detail)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return _respond(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError):
        from flask import g

        session = g.get("db_session")
        if session is not None:
            session.rollback()
        translated = translate(exc)
        if translated is None:
            LOGGER.exception("database error on %s %s", request.method, request.path)
            return _respond(
                500, "internal_error", "an unexpected error occurred; it has been logged"
            )
        return _respond(translated.status, translated.code, translated.message, translated.fields)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        LOGGER.exception("unhandled error on %s %s", request.method, request.path)
        from flask import g

        session = g.get("db_session")
        if session is not None:
            session.rollback()
        return _respond(500, "internal_error", "an unexpected error occurred; it has been logged")
