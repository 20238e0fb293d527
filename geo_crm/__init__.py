"""geo_crm: a manufacturer's distribution network on a map (Flask app factory)."""

from __future__ import annotations

import logging

from flask import Flask

from .resources import resource_dir
from .settings import Settings, flask_only, install

__all__ = ["create_app"]
__version__ = "0.1.0"


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app; nothing touches the database until a request or command needs it.

    The settings come from the environment with ``test_config`` on top (keys are variable
    names such as ``GEO_CRM_AUTH_REQUIRED``; other keys, e.g. ``TESTING``, go to Flask's
    config). A bad value stops here, naming its variable."""
    settings = Settings.load(overrides=test_config)
    app = Flask(__name__, template_folder=str(resource_dir("templates")))
    install(app, settings)
    app.config.from_mapping(flask_only(test_config))
    app.json.ensure_ascii = False  # Chinese names stay readable in JSON

    from . import api, auth, cli, db, http_errors, ogc, web

    db.init_app(app)
    http_errors.init_app(app)
    cli.init_app(app)
    api.init_app(app)
    web.init_app(app)
    ogc.init_app(app)  # OGC API – Features at /ogc (issue 16)
    auth.init_app(app)  # its policy hook puts itself before every other before_request hook
    logging.getLogger("geo_crm").setLevel(settings.log_level)
    return app
