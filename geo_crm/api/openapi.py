"""Build the OpenAPI 3.1 document from the operation registry (apispec + pydantic JSON Schema).

Who may call an operation comes from the access policy itself (:data:`geo_crm.auth.policy.
RULES`), so the document cannot drift from what is enforced: a public endpoint has
``security: []``; any other accepts a Bearer token or the session cookie, and may answer 401
(and 403 when only some roles may call it).
"""

from __future__ import annotations

import typing

from apispec import APISpec
from pydantic import BaseModel, TypeAdapter

from .framework import REGISTRY, Operation
from .schemas import CONTROL_FREE

_REF = "#/components/schemas/{model}"

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No content",
    400: "Malformed request",
    401: "Not authenticated: no credentials, or an unknown, revoked or expired one",
    403: "The caller's role may not use this operation",
    404: "Not found",
    409: "Version conflict or duplicate",
    410: "Gone: it expired and was deleted",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Validation failed",
    503: "The database is unavailable; retry after Retry-After seconds",
}

BEARER, COOKIE = "bearerAuth", "sessionCookie"


def security_schemes(cookie_name: str) -> dict:
    return {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (gcrm_…): geo-crm tokens create, or POST "
            "/tokens. Requests with it need no CSRF token.",
        },
        COOKIE: {
            "type": "apiKey",
            "in": "cookie",
            "name": cookie_name,
            "description": "The browser session from signing in at /login. State changes "
            "with it must send the page's CSRF token (X-CSRFToken header).",
        },
    }


def _error_response(status: int, headers: dict | None = None) -> dict:
    entry: dict = {
        "description": _STATUS_TEXT[status],
        "content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}},
    }
    if headers:
        entry["headers"] = headers
    return entry


_CHALLENGE = {
    "WWW-Authenticate": {
        "description": 'Bearer realm="geo_crm" (with error="invalid_token" for a bad token)',
        "schema": {"type": "string"},
    }
}
_RETRY = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}


def _security(op: Operation) -> list[dict]:
    """The operation's rule in the access policy, as OpenAPI security requirements."""
    from ..auth.policy import rule_for

    rule = rule_for(op.endpoint)
    if rule is not None and rule.access == "public":
        return []
    return [{BEARER: []}, {COOKIE: []}]  # either one; a route without a rule is refused too


def _needs_role(op: Operation) -> bool:
    from ..auth.policy import rule_for

    rule = rule_for(op.endpoint)
    return rule is not None and rule.access == "roles"


def _schema(spec: APISpec, shape: typing.Any, components: dict) -> dict:
    if isinstance(shape, dict):
        return shape
    if isinstance(shape, type) and issubclass(shape, BaseModel):
        schema = shape.model_json_schema(ref_template=_REF)
        name = shape.__name__
    else:
        schema = TypeAdapter(shape).json_schema(ref_template=_REF)
        name = None
    for def_name, definition in schema.pop("$defs", {}).items():
        components.setdefault(def_name, definition)
    if name is None:
        return schema
    components.setdefault(name, schema)
    return {"$ref": _REF.format(model=name)}


def _query_parameters(model: type[BaseModel], components: dict) -> list[dict]:
    schema = model.model_json_schema(ref_template=_REF)
    for def_name, definition in schema.pop("$defs", {}).items():
        components.setdefault(def_name, definition)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if prop.get("description"):
            param["description"] = prop["description"]
        if prop.get("type") == "array" or any(
            s.get("type") == "array" for s in prop.get("anyOf", [])
        ):
            param["style"], param["explode"] = "form", True
        params.append(param)
    return params


def _operation_dict(spec: APISpec, op: Operation, components: dict) -> dict:
    out: dict = {
        "summary": op.summary,
        "tags": op.tags,
        "operationId": op.endpoint.replace(".", "_"),
    }
    if op.description:
        out["description"] = op.description
    params = [
        {"name": n, "in": "path", "required": True, "schema": {"type": t}}
        for n, t in op.path_params.items()
    ]
    if op.query is not None:
        params += _query_parameters(op.query, components)
    if params:
        out["parameters"] = params
    if op.body is not None:
        body_schema = _schema(spec, op.body, components)
        out["requestBody"] = {
            "required": True,
            "content": {ct: {"schema": body_schema} for ct in op.body_content_types},
        }
    responses: dict = {}
    for status, shape in op.responses.items():
        entry: dict = {"description": _STATUS_TEXT.get(status, "Response")}
        if status >= 400:
            entry["content"] = {
                "application/json": {"schema": {"$ref": _REF.format(model="Error")}}
            }
        elif shape is not None:
            schema = _schema(spec, shape, components)
            entry["content"] = {ct: {"schema": schema} for ct in op.produces}
        elif status != 204:
            entry["content"] = {ct: {} for ct in op.produces}
        responses[str(status)] = entry
    for status in (400, 422):
        if op.body is not None or op.query is not None:
            responses.setdefault(str(status), _error_response(status))
    if op.body is not None:  # another media type, or none
        responses.setdefault("415", _error_response(415))
    if op.path_params:  # an object the URL names that does not exist (or is out of scope)
        responses.setdefault("404", _error_response(404))
    out["security"] = _security(op)
    if out["security"]:
        responses["401"] = _error_response(401, _CHALLENGE)
        if _needs_role(op):
            responses.setdefault("403", _error_response(403))
    responses["503"] = _error_response(503, _RETRY)
    out["responses"] = dict(sorted(responses.items()))
    return out


# What the framework refuses in every string of a request (api.framework, http_errors): a
# NUL character; and, values being trimmed first (str_strip_whitespace), a required text made
# of white space only. Said in the document as patterns, so it is no looser than the API.
_WHITE = (
    "\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
)
NUL_FREE = "^[^\\u0000]*$"
NOT_BLANK = f"^[^\\u0000]*[^\\u0000{_WHITE}][^\\u0000]*$"
# CleanText (api.schemas.CONTROL_FREE) that is required: control-free and not blank
_CONTROL = "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f"
CONTROL_FREE_NOT_BLANK = f"^[^{_CONTROL}]*[^{_CONTROL}{_WHITE}][^{_CONTROL}]*$"


def _text_rules(node: typing.Any) -> None:
    """Give every free-text string schema under ``node`` the pattern of what the API takes
    (schemas with their own pattern, an enum, a const or a format already say it), and drop
    the null default of a field that is optional but not nullable."""
    if isinstance(node, list):
        for item in node:
            _text_rules(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and not {"pattern", "enum", "const", "format"} & set(node):
        node["pattern"] = NOT_BLANK if node.get("minLength", 0) >= 1 else NUL_FREE
    elif node.get("pattern") == CONTROL_FREE and node.get("minLength", 0) >= 1:
        node["pattern"] = CONTROL_FREE_NOT_BLANK
    if "default" in node and node["default"] is None and node.get("type") not in (None, "null"):
        del node["default"]  # optional but not nullable (absent: unchanged): no null default
    for value in node.values():
        _text_rules(value)


def build_spec(version: str, *, cookie_name: str = "geo_crm_session") -> dict:
    spec = APISpec(
        title="geo_crm API",
        version=version,
        openapi_version="3.1.0",
        info={
            "description": "Distribution network on a map: regions, outlets, network, sales, "
            "analyses."
        },
        servers=[{"url": "/api/v1"}],
    )
    components: dict = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict] = {}
    for op in REGISTRY:
        paths.setdefault(op.path, {})[op.method] = _operation_dict(spec, op, components)
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    for name, schema in sorted(components.items()):
        spec.components.schema(name, schema)
    for name, scheme in security_schemes(cookie_name).items():
        spec.components.security_scheme(name, scheme)
    document = spec.to_dict()
    _text_rules(document["paths"])
    _text_rules(document["components"]["schemas"])
    return document
