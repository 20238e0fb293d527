"""geo_crm: a manufacturer's distribution network on a map (Flask app factory)."""

from __future__ import annotations

import logging

from flask import Flask

from . import settings as config_mod
from .resources import resource_dir

__all__ = ["create_app"]
__version__ = "0.1.0"


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app; nothing touches the database until a request or command needs it."""
    app = Flask(__name__, template_folder=str(resource_dir("templates")))
    app.config.from_mapping(config_mod.from_env())
    if test_config:
        app.config.from_mapping(test_config)
    app.json.ensure_ascii = False  # Chinese names stay readable in JSON

    from . import api, auth, cli, db, http_errors, ogc, web

    db.init_app(app)
    http_errors.init_app(app)
    cli.init_app(app)
    api.init_app(app)
    web.init_app(app)
    ogc.init_app(app)  # OGC API – Features at /ogc (issue 16)
    auth.init_app(app)  # its policy hook puts itself before every other before_request hook
    logging.getLogger("geo_crm").setLevel(app.config.get("LOG_LEVEL", "INFO"))
    return app
