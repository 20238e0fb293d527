"""The app as the production server builds it:
``granian --interface wsgi --factory … geo_crm.wsgi:create_server_app`` (README; gunicorn's
``'geo_crm.wsgi:create_server_app()'`` builds the same).

After ``create_app`` everything allocated so far (modules, the app, its configuration) lives as
long as the worker; ``gc.freeze()`` moves it out of the cyclic collector's reach. Otherwise
every full collection walks those hundreds of thousands of objects again and stops the worker
for longer than a short request's whole latency budget (bench/README.md, bench_geotag). Nothing
of a request is frozen, and with ``--preload`` the frozen pages also stay shared after the fork.
"""

from __future__ import annotations

import gc
import logging

from flask import Flask

from . import create_app


def create_server_app(test_config: dict | None = None) -> Flask:
    app = create_app(test_config)
    drop_process_headers(app)
    skip_unhandled_records()
    gc.collect()  # what start-up left as garbage is freed now, not frozen with the rest
    gc.freeze()
    return app


def drop_process_headers(app: Flask, environment: dict[str, str] | None = None) -> None:
    """granian starts every request's WSGI environ from a copy of the process's environment
    (``os.environ``), the request's own keys on top. A variable named like a header —
    ``HTTP_PROXY`` (proxy settings), ``HTTP_X_FORWARDED_FOR`` — then reads as a header of every
    request that did not send it: an ``X-Forwarded-For`` the client never sent, a ``Proxy``
    header. When the environment holds such variables (none: nothing is wrapped, nothing
    costs), each request leaves out those keys whose value is the variable's, i.e. did not come
    from the request (a client that sends the very same value loses nothing the app reads).
    ``environment``: those variables, for tests (default: ``settings.header_like_variables``)."""
    from .settings import header_like_variables

    leaked = header_like_variables() if environment is None else dict(environment)
    if not leaked:
        return
    inner = app.wsgi_app

    def without_process_headers(environ, start_response):
        for key, value in leaked.items():
            if environ.get(key) == value:
                del environ[key]
        return inner(environ, start_response)

    app.wsgi_app = without_process_headers


def skip_unhandled_records(logger: logging.Logger | None = None) -> None:
    """When no handler takes geo_crm's log records (granian and gunicorn configure only their
    own loggers, so without ``--log-config`` nothing does), Python hands them to its last
    resort, which prints WARNING and above and drops the rest. The records below that are then
    raised to that level here, so that they are not built at all: an INFO line per geotag cost
    4–5 % of the worker's CPU per request for a record nobody could read (bench/README.md).
    Nothing printed changes; with a handler configured (``--log-config``: set up before the app
    is loaded) ``GEO_CRM_LOG_LEVEL`` applies as everywhere.

    A handler added later — by a hook that runs after the app is loaded (a worker's start-up
    hook, ``logging.basicConfig()``, ``dictConfig``) — to this logger or to one it passes its
    records on to (the root) puts the level back at once, so it gets every record from then
    on (:class:`_LevelWatch`)."""
    logger = logger or logging.getLogger("geo_crm")
    last_resort = logging.lastResort
    if logger.hasHandlers() or last_resort is None:
        return
    if logger.getEffectiveLevel() < last_resort.level:
        _LevelWatch(logger, logger.level).arm()
        logger.setLevel(last_resort.level)


class _LevelWatch:
    """Puts ``logger``'s level back to ``level`` as soon as a handler is added to it or to any
    logger its records propagate to. Each of those loggers gets, for the time being, a subclass
    of its own class whose ``addHandler`` tells the watch (Logger has no hook for it); the first
    handler added restores the level and every class. Handlers assigned to ``.handlers``
    directly, bypassing ``addHandler``, are not seen."""

    def __init__(self, logger: logging.Logger, level: int) -> None:
        self.logger, self.level = logger, level
        self.watched: list[tuple[logging.Logger, type]] = []

    def arm(self) -> None:
        current: logging.Logger | None = self.logger
        while current is not None:
            original = type(current)

            def add_handler(inner, handler, _original=original, _watch=self):
                _original.addHandler(inner, handler)
                _watch.fire()

            current.__class__ = type(
                f"Watched{original.__name__}", (original,), {"addHandler": add_handler}
            )
            self.watched.append((current, original))
            current = current.parent if current.propagate else None

    def fire(self) -> None:
        for logger, original in self.watched:
            logger.__class__ = original
        self.watched = []
        self.logger.setLevel(self.level)  # also empties every logger's isEnabledFor cache


# what the README gives granian in production (docs/deployment.md says why granian): two
# worker processes, each running the app on 4 threads that overlap database waits; HTTP/1.1
# with keep-alive, parsed and written by granian's native core; a worker that dies is replaced
SERVER_OPTIONS = {
    "workers": 2,
    "blocking_threads": 4,
    "http": "1",
    "websockets": False,
    "backlog": 2048,
    "respawn_failed_workers": True,
    "workers_kill_timeout": 30,  # a stop that a worker misses (docs/deployment.md) ends anyway
    "log_level": "warning",  # start-up says nothing beyond the command's own lines
    "log_access": False,
}


def check_address(host: str, port: int) -> None:
    """A ValidationError (one line) naming the port when it is taken (gunicorn would retry
    five times, logging each attempt, then exit)."""
    import errno
    import socket

    from .errors import ValidationError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ValidationError(
            f"cannot serve on {host}: {exc.strerror or exc}", fields={"host": "unknown host"}
        ) from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            problem = "in use" if exc.errno == errno.EADDRINUSE else str(exc.strerror or exc)
            raise ValidationError(
                f"cannot serve on {host}:{port}: {exc.strerror or exc} (choose another --port)",
                fields={"port": problem},
            ) from exc


def serve(app: Flask, host: str, port: int, **options) -> None:
    """Serve ``app`` (already created, its data prepared) with granian in this process until
    Ctrl+C: the production server of the README, with its settings, for ``geo-crm demo``,
    instead of Flask's development server. The workers fork from this process and serve this
    very app object, so its database connections are closed first (each worker opens its own;
    the token cache's listener starts in each worker on its first request), and what start-up
    built is frozen out of the collector's reach as ``create_server_app`` does."""
    import multiprocessing

    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    from .db import get_db

    check_address(host, port)
    if multiprocessing.get_start_method() != "fork":  # a spawned worker could not get ``app``
        raise RuntimeError("serve() needs the fork start method (Linux)")
    get_db(app).dispose()
    drop_process_headers(app)
    skip_unhandled_records()
    gc.collect()
    gc.freeze()
    settings = {**SERVER_OPTIONS, **options}
    settings["http"] = HTTPModes(settings["http"])
    settings["log_level"] = LogLevels(settings["log_level"])
    server = Server(
        "geo_crm.wsgi:create_server_app",  # a name for its logs: the workers serve ``app``
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        **settings,
    )
    server.serve(target_loader=lambda _target: app)
