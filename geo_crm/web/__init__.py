"""Browser pages (Jinja templates in templates/)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from .home import bp as home_bp
    from .tiles import bp as tiles_bp

    app.register_blueprint(home_bp)
    app.register_blueprint(tiles_bp)  # vector tiles and TileJSON (issue 16)
    _init_maps(app)


def _init_maps(app: Flask) -> None:
    """Region, distributor and outlet pages, standalone maps, vendored Leaflet, languages."""
    from ..maps.assets import blueprint as vendor_assets
    from . import locale
    from .context import load_map_config
    from .maps import bp as maps_bp
    from .network_pages import bp as network_bp
    from .regions import bp as regions_bp

    load_map_config(app)
    locale.init_app(app)
    app.register_blueprint(vendor_assets())
    app.register_blueprint(maps_bp)
    app.register_blueprint(regions_bp)
    app.register_blueprint(network_bp)
