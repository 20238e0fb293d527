"""OGC API – Features at ``/ogc``: a face (routes only) over :mod:`geo_crm.domain.features`.

Conformance: Core, GeoJSON and OpenAPI 3.0. Collections ``outlets``, ``regions`` and ``gaps``
(the analysis cache's gap cells: ``analysis.cache_features``) in CRS84,
scoped like the rest of the app (a Bearer token or the session cookie; reps see their outlets,
managers their regions'), paged by keyset ``next`` links. See docs/gis.md.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from .routes import bp

    app.register_blueprint(bp)
