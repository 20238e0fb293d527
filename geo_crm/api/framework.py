"""Declaring API operations once: pydantic models validate the request and feed the OpenAPI
document.

Every ``/api/v1`` view is declared with :func:`operation`; the registry it fills is what
``/api/v1/openapi.json`` is built from, so a route cannot exist without being documented.
"""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from flask import Blueprint, current_app, request
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from ..errors import NUL, NUL_PROBLEM, GeoCrmError, ValidationError

bp = Blueprint("api", __name__, url_prefix="/api/v1")


class Body(BaseModel):
    """A JSON request body: unknown fields, NaN/Infinity and type coercion are refused."""

    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False, strict=True, str_strip_whitespace=True
    )


class Query(BaseModel):
    """Query-string parameters: strings are converted, unknown parameters refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)


class Out(BaseModel):
    """A response shape (documentation and serialisation)."""

    model_config = ConfigDict(from_attributes=True)


@dataclass
class Operation:
    path: str  # OpenAPI form: /outlets/{outlet_id}
    method: str
    endpoint: str
    summary: str
    description: str
    tags: list[str]
    body: type[BaseModel] | dict | None  # a dict: a JSON Schema documented, not parsed
    query: type[BaseModel] | None
    responses: dict[int, typing.Any]
    produces: list[str] = field(default_factory=lambda: ["application/json"])
    body_content_types: list[str] = field(default_factory=lambda: ["application/json"])
    path_params: dict[str, str] = field(default_factory=dict)


REGISTRY: list[Operation] = []

_CONVERTER = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>")


def _openapi_path(rule: str) -> tuple[str, dict[str, str]]:
    params: dict[str, str] = {}

    def repl(match: re.Match) -> str:
        conv = match.group("conv") or "string"
        params[match.group("name")] = {"int": "integer", "float": "number"}.get(conv, "string")
        return "{" + match.group("name") + "}"

    return _CONVERTER.sub(repl, rule), params


def field_errors(exc: PydanticValidationError, prefix: str) -> dict[str, str]:
    """Turn pydantic errors into ``{"body.lat": "problem"}``."""
    out: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        path = ".".join(str(p) for p in (prefix, *err["loc"]))
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        out.setdefault(path, message)
    return out


@functools.cache
def _list_fields(model: type[BaseModel]) -> frozenset[str]:
    """Query parameters that take several values (computed once per model: it is on every
    request)."""
    hints = typing.get_type_hints(model)
    return frozenset(name for name, hint in hints.items() if "list" in str(hint).lower())


def parse_query(model: type[BaseModel]) -> BaseModel:
    data: dict[str, typing.Any] = {}
    list_fields = _list_fields(model)
    for key in request.args:
        values = request.args.getlist(key)
        if key in list_fields:
            data[key] = [v for item in values for v in item.split(",") if v != ""]
        else:
            data[key] = values[-1]
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(
            "invalid query parameters", fields=field_errors(exc, "query")
        ) from exc


# an integer orjson would read as a float (beyond 64 bits), or a number it might: the json
# module reads those bodies, so they mean what they always meant
_LONG_NUMBER = re.compile(rb"[0-9]{19}")


def json_payload() -> typing.Any:
    """The request's JSON, with 415 for another media type and 400 for malformed JSON.

    Read by orjson (a fifth of the json module's time on a geotag's body) when it can read it
    to the same value; anything orjson refuses — NaN and Infinity, a byte-order mark, UTF-16,
    lone surrogates, numbers past a double's range, malformed JSON — and any number of 19 or
    more digits (orjson turns integers beyond 64 bits into floats) goes to Flask's json module
    as before, which answers or refuses it exactly as it always did."""
    if not request.is_json:
        raise UnsupportedMediaType("send the body as application/json")
    data = request.get_data(cache=True)
    if not _LONG_NUMBER.search(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    try:
        return request.get_json()
    except BadRequest as exc:
        raise GeoCrmError("the body is not valid JSON") from exc


def nul_fields(value: typing.Any, path: str) -> dict[str, str]:
    """Where a JSON document holds a NUL character (in a string or a key): PostgreSQL text
    cannot hold U+0000, so no such value could be stored or even looked up."""
    out: dict[str, str] = {}
    if isinstance(value, str):
        if NUL in value:
            out[path] = NUL_PROBLEM
    elif isinstance(value, dict):
        for key, item in value.items():
            out.update(nul_fields(item, f"{path}.{key.replace(NUL, chr(92) + '0')}"))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.update(nul_fields(item, f"{path}.{i}"))
    return out


def parse_body(model: type[BaseModel]) -> BaseModel:
    payload = json_payload()
    if not isinstance(payload, dict):
        raise ValidationError(
            "the body must be a JSON object", fields={"body": "expected an object"}
        )
    problems = nul_fields(payload, "body")
    if problems:
        raise ValidationError(f"{', '.join(problems)}: {NUL_PROBLEM}", fields=problems)
    try:
        return model.model_validate(payload)
    except PydanticValidationError as exc:
        raise ValidationError("invalid request body", fields=field_errors(exc, "body")) from exc


def json_response(body: typing.Any, status: int = 200, mimetype: str = "application/json"):
    """A JSON response for hot endpoints whose body holds JSON types plus datetimes (written as
    ISO 8601, ``datetime.isoformat()``'s form): UTF-8 as is, compact, keys in insertion order.

    Written by orjson rather than Flask's ``jsonify`` (the json module, sorted keys): the same
    JSON at a fraction of the cost on the endpoints a phone or an integration calls most
    (bench_near, bench/README.md)."""
    return current_app.response_class(orjson.dumps(body), status=status, mimetype=mimetype)


def operation(
    rule: str,
    method: str,
    *,
    summary: str,
    tags: list[str],
    body: type[BaseModel] | dict | None = None,
    query: type[BaseModel] | None = None,
    responses: dict[int, typing.Any] | None = None,
    produces: list[str] | None = None,
    body_content_types: list[str] | None = None,
) -> Callable:
    """Register a documented API view; validated ``body``/``query`` are passed as keywords."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(**kwargs):
            if query is not None:
                kwargs["query"] = parse_query(query)
            if isinstance(body, type):  # a dict schema (e.g. multipart) is the view's to parse
                kwargs["body"] = parse_body(body)
            return view(**kwargs)

        endpoint = view.__name__
        # no automatic OPTIONS answer: a method the document does not list answers 405 + Allow
        bp.add_url_rule(
            rule,
            endpoint=endpoint,
            view_func=wrapper,
            methods=[method],
            provide_automatic_options=False,
        )
        path, params = _openapi_path(rule)
        REGISTRY.append(
            Operation(
                path=path,
                method=method.lower(),
                endpoint=f"api.{endpoint}",
                summary=summary,
                description=(view.__doc__ or "").strip(),
                tags=tags,
                body=body,
                query=query,
                responses=responses or {200: None},
                produces=produces or ["application/json"],
                body_content_types=body_content_types or ["application/json"],
                path_params=params,
            )
        )
        return wrapper

    return decorator
