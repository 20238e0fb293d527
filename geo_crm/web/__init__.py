"""Browser pages (Jinja templates in templates/)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from .home import bp as home_bp

    app.register_blueprint(home_bp)
