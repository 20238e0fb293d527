"""The site's icon: ``/favicon.ico`` (where a browser asks for it unless a page names one, so a
map frame or a file view no longer answers 404) and the SVG the pages name in ``<link rel=icon>``
(templates/base.html, tag.html). Both are files of the package (geo_crm/static)."""

from __future__ import annotations

from flask import Blueprint, current_app, send_from_directory

bp = Blueprint("favicon", __name__)

MAX_AGE_S = 7 * 24 * 3600  # an icon changes with a release, if ever


@bp.get("/favicon.ico")
def favicon():
    """A 32 × 32 PNG (every browser takes a PNG at this address)."""
    return send_from_directory(
        current_app.static_folder, "favicon.png", mimetype="image/png", max_age=MAX_AGE_S
    )
