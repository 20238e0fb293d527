"""Exceptions that carry their meaning for HTTP and CLI users, kept apart from what is logged."""

from __future__ import annotations

NUL = "\x00"
NUL_PROBLEM = "contains a NUL character (U+0000), which text cannot hold"


def error_body(code: str, message: str, fields: dict | None = None, detail=None) -> dict:
    """The one JSON error shape: ``{"error": {"code", "message", "fields"?, "detail"?}}``."""
    body: dict = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    if detail is not None:
        body["detail"] = detail
    return {"error": body}


class GeoCrmError(Exception):
    """Base error: ``status`` for HTTP, ``code`` for machines, ``message`` for people."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, detail=None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.detail = detail

    def to_dict(self) -> dict:
        return error_body(self.code, self.message, self.fields, self.detail)


class ValidationError(GeoCrmError):
    status = 422
    code = "validation_failed"


class Forbidden(GeoCrmError):
    status = 403
    code = "forbidden"


class NotFound(GeoCrmError):
    status = 404
    code = "not_found"


class Conflict(GeoCrmError):
    status = 409
    code = "conflict"


class DatabaseSetupError(GeoCrmError):
    """PostgreSQL/PostGIS is missing or unreachable: the message says what to install or fix."""

    status = 503
    code = "database_unavailable"


class ServiceUnavailable(GeoCrmError):
    """A dependency (the database) cannot be reached: try again after ``retry_after_s``."""

    status = 503
    code = "service_unavailable"
    retry_after_s = 5
