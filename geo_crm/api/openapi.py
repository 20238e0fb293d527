"""Build the OpenAPI 3.1 document from the operation registry (apispec + pydantic JSON Schema)."""

from __future__ import annotations

import typing

from apispec import APISpec
from pydantic import BaseModel, TypeAdapter

from .framework import REGISTRY, Operation

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
    401: "Not authenticated",
    404: "Not found",
    409: "Version conflict or duplicate",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Validation failed",
}


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
            responses.setdefault(
                str(status),
                {
                    "description": _STATUS_TEXT[status],
                    "content": {
                        "application/json": {"schema": {"$ref": _REF.format(model="Error")}}
                    },
                },
            )
    out["responses"] = responses
    return out


def build_spec(version: str) -> dict:
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
    return spec.to_dict()
