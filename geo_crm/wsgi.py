"""The app as a production server builds it: ``gunicorn … 'geo_crm.wsgi:create_server_app()'``.

After ``create_app`` everything allocated so far (modules, the app, its configuration) lives as
long as the worker; ``gc.freeze()`` moves it out of the cyclic collector's reach. Otherwise
every full collection walks those hundreds of thousands of objects again and stops the worker
for longer than a short request's whole latency budget (bench/README.md, bench_geotag). Nothing
of a request is frozen, and with ``--preload`` the frozen pages also stay shared after the fork.
"""

from __future__ import annotations

import gc

from flask import Flask

from . import create_app


def create_server_app(test_config: dict | None = None) -> Flask:
    app = create_app(test_config)
    gc.collect()  # what start-up left as garbage is freed now, not frozen with the rest
    gc.freeze()
    return app
