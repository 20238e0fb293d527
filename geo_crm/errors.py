"""Exceptions that carry their meaning for HTTP and CLI users, kept apart from what is logged."""

from __future__ import annotations


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
        body: dict = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        if self.detail is not None:
            body["detail"] = self.detail
        return {"error": body}


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
