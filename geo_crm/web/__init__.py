"""Browser pages (Jinja templates in templates/): every page blueprint is registered here."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Home, sign-in, tagging and review pages; region, distributor and outlet pages,
    standalone maps, vector tiles, vendored Leaflet; the language of every page."""
    from ..maps.assets import blueprint as vendor_assets
    from . import auth_pages, locale, review, tag
    from .cross_selling import bp as cross_selling_bp
    from .home import bp as home_bp
    from .judging_pages import bp as judging_bp
    from .maps import bp as maps_bp
    from .network_pages import bp as network_bp
    from .outlet_changes import bp as outlet_changes_bp
    from .regions import bp as regions_bp
    from .tiles import bp as tiles_bp

    locale.init_app(app)
    app.register_blueprint(home_bp)
    app.register_blueprint(vendor_assets())
    app.register_blueprint(maps_bp)
    app.register_blueprint(regions_bp)
    app.register_blueprint(network_bp)
    app.register_blueprint(auth_pages.bp)
    app.register_blueprint(tag.bp)
    app.register_blueprint(review.bp)
    app.register_blueprint(tiles_bp)  # vector tiles and TileJSON
    from . import business_lists, distributor_tabs, outlet_form

    app.register_blueprint(business_lists.bp)  # distributor and sales lists (issue 13b)
    app.register_blueprint(distributor_tabs.bp)  # the distributor page's business forms
    app.register_blueprint(outlet_form.bp)  # the outlet edit form
    from .landing import bp as landing_bp

    app.register_blueprint(landing_bp)  # the landing map's figures and search
    from .report_menu import stage_words

    app.jinja_env.globals["report_stage_words"] = stage_words  # templates/reports/_menu.html
    app.register_blueprint(judging_bp)  # scorecards and rankings of distributors (issue 14)
    app.register_blueprint(outlet_changes_bp)  # 客户变动 page and map (issue 14)
    app.register_blueprint(cross_selling_bp)  # 窜货 page and map (issue 14)
    from . import home_link

    home_link.init_app(app)  # "home" per role in the header and on error pages
    from .favicon import bp as favicon_bp

    app.register_blueprint(favicon_bp)  # /favicon.ico (templates name static/favicon.svg)
