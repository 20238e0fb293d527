"""The JSON API under /api/v1 with its OpenAPI document and docs page."""

from __future__ import annotations

import importlib

from flask import Flask, current_app, jsonify

from .framework import bp

# route modules, each declaring its views with framework.operation
_MODULES: tuple[str, ...] = (
    "regions",
    "outlets",
    "network",
    "sales",
    "plans",
    "distributors",
    "transfer",
    "geotag",
    "tokens",
    "analysis",
    "reports",
    "evaluations",
    "ranking",
    "outlet_changes",
    "territories",
)

_loaded = False


def _load_routes() -> None:
    global _loaded
    if _loaded:
        return
    for name in _MODULES:
        importlib.import_module(f"{__name__}.{name}")

    @bp.get("/openapi.json")
    def openapi_document():
        """The OpenAPI 3.1 description of every /api/v1 operation."""
        from .. import __version__
        from .openapi import build_spec

        return jsonify(
            build_spec(__version__, cookie_name=current_app.config["SESSION_COOKIE_NAME"])
        )

    _loaded = True


def init_app(app: Flask) -> None:
    from flask_swagger_ui import get_swaggerui_blueprint

    _load_routes()
    app.register_blueprint(bp)
    # Swagger UI's files ship inside the flask-swagger-ui wheel: no CDN needed
    docs = get_swaggerui_blueprint(
        "/api/v1/docs",
        "/api/v1/openapi.json",
        config={"app_name": "geo_crm API"},
        blueprint_name="api_docs",
    )
    app.register_blueprint(docs)
