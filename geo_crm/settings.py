"""The one settings object: every environment variable geo_crm reads, parsed and checked once.

This is the only module that reads ``os.environ``. :data:`VARIABLES` lists each variable with the
:class:`Settings` field it fills, its parser, default and meaning (the README's configuration
table is checked against it). :meth:`Settings.load` parses them all when the app is built: a
value that does not parse stops start-up with a message naming the variable, so a typo never
surfaces later as a strange request. The result is frozen; code reads it with
:func:`settings_of` (an app) or :func:`current_settings` (the request's app), never from the
environment or ``app.config``.

Rules every variable follows: an empty value counts as unset (except where a variable says an
empty value means something); booleans are ``1``/``true``/``yes``/``on`` or
``0``/``false``/``no``/``off`` (any case), anything else is refused.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .resources import project_root

EXTENSION = "geo_crm_settings"  # app.extensions key


@dataclass(frozen=True)
class GeotagLimits:
    """What the geotagging checks allow (refuse a reading, flag it for review)."""

    max_accuracy_m: float = 200.0
    max_jump_m: float = 2_000.0
    duplicate_radius_m: float = 100.0
    duplicate_similarity: float = 0.6
    clock_skew_s: float = 120.0


@dataclass(frozen=True)
class ThrottleLimits:
    """Failed sign-ins allowed per username and address, per address, and the window."""

    max_failures: int = 5
    max_per_ip: int = 50
    window_s: int = 900


# groups of fields that travel together (a field "geotag.max_jump_m" lives in Settings.geotag)
GROUPS: dict[str, type] = {"geotag": GeotagLimits, "login": ThrottleLimits}

BASEMAPS = ("osm", "none", "amap")  # maps.base draws these (tests/test_settings.py keeps in step)
MAP_ASSETS = ("local", "cdn")  # maps.assets serves these
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# -- parsers: the text of a variable (or a typed value a test or caller passes) -> the value --
# Each raises ValueError saying what is wrong; the loader puts the variable's name in front.

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})
_WHOLE = re.compile(r"[+-]?\d+")


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError(f"must be 1/true/yes/on or 0/false/no/off, not {value!r}")


def whole(minimum: int = 0) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
            number = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise ValueError(f"must be a whole number, not {value!r}")
        if number < minimum:
            raise ValueError(f"must be at least {minimum}, not {number}")
        return number

    return parse


def number(minimum: float = 0.0, maximum: float = math.inf) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        try:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise ValueError
            result = float(value)
        except ValueError:
            raise ValueError(f"must be a number, not {value!r}") from None
        if not math.isfinite(result) or not minimum <= result <= maximum:
            bounds = f"≥ {minimum:g}"
            if math.isfinite(maximum):
                bounds = f"from {minimum:g} to {maximum:g}"
            raise ValueError(f"must be a number {bounds}, not {value!r}")
        return result

    return parse


def one_of(choices: tuple[str, ...], *, upper: bool = False) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        word = str(value).strip()
        word = word.upper() if upper else word.lower()
        if word not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, not {value!r}")
        return word

    return parse


def parse_path(value: Any) -> Path:
    if not isinstance(value, str | os.PathLike):
        raise ValueError(f"must be a folder path, not {value!r}")
    return Path(value).expanduser().resolve()


def parse_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {value!r}")
    return value


_POSTGRES_URL = re.compile(r"postgres(ql)?(\+psycopg2?)?://", re.IGNORECASE)


def parse_zone(value: Any) -> str:
    """An IANA time zone name (``Asia/Shanghai``, ``UTC``) that this machine's zone data knows."""
    import zoneinfo

    word = str(value).strip()
    try:
        zoneinfo.ZoneInfo(word)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"must be a time zone name such as Asia/Shanghai, not {value!r}") from None
    return word


def parse_url_list(value: Any) -> tuple[str, ...]:
    """Comma-separated PostgreSQL URLs (or a list of them); empty entries are dropped."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ValueError(f"must be comma-separated PostgreSQL URLs, not {value!r}")
    urls = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"must be comma-separated PostgreSQL URLs, not {value!r}")
        item = item.strip()
        if not item:
            continue
        if not _POSTGRES_URL.match(item):
            shown = item.split("@")[-1]  # never echo a password
            raise ValueError(f"must be PostgreSQL URLs (postgresql://…), not …{shown!r}")
        urls.append(item)
    return tuple(urls)


@dataclass(frozen=True)
class Variable:
    """One environment variable: one row of the README's configuration table."""

    env: str
    field: str  # the Settings attribute it fills; "group.attribute" inside GeotagLimits etc.
    parse: Callable[[Any], Any]
    default: Any  # a value, or a function of the values parsed so far (see ``derived``)
    doc: str
    shown_default: str | None = None  # the README's default column when the value is no help
    keep_empty: bool = False  # an empty value is a value (else it counts as unset)
    derived: bool = False  # ``default`` is a function of the fields before it


def _default_var_dir(values: Mapping[str, Any]) -> Path:
    return project_root() / "var"


def _default_pgdata(values: Mapping[str, Any]) -> Path:
    return values["var_dir"] / "pgdata"


def _default_detect_workers(values: Mapping[str, Any]) -> int:
    return max(1, min(2, os.cpu_count() or 1))


def _random_secret(values: Mapping[str, Any]) -> str:
    # safe for one process; several workers or hosts need one SECRET_KEY to share cookies
    return secrets.token_hex(32)


# Every variable geo_crm reads, in the README's order. Two names for one field: the first set wins.
# fmt: off
VARIABLES: tuple[Variable, ...] = (
    Variable(
        "DATABASE_URL", "database_url", parse_text, None,
        "A PostgreSQL server with PostGIS, as you would type it: "
        "`postgresql://user:pass@host:5432/db` (geo_crm picks the psycopg 3 driver). Unset: the "
        "embedded cluster is used.",
        shown_default="unset",
    ),
    Variable(
        "DATABASE_REPLICA_URLS", "database_replica_urls", parse_url_list, (),
        "Streaming replicas of that database, comma-separated URLs: pages and API reads of "
        "GET/HEAD requests that write nothing are served by a healthy replica (each write, and "
        "every read after it in the same request, by the primary). See docs/deployment.md.",
        shown_default="unset",
    ),
    Variable(
        "GEO_CRM_REPLICA_WAIT_MS", "replica_wait_ms", whole(0), 200,
        "Read-your-writes bound: after a user's write, how long (milliseconds) a read may wait "
        "for a replica to replay it before the request reads from the primary instead.",
    ),
    Variable(
        "GEO_CRM_REPLICA_MAX_LAG_S", "replica_max_lag_s", number(0), 5.0,
        "A replica further behind the primary than this (seconds of replay) serves no reads "
        "until it catches up.",
    ),
    Variable(
        "SECRET_KEY", "secret_key", parse_text, _random_secret,
        "Signs session cookies (and their CSRF tokens). Set it when running several workers or "
        "hosts.",
        shown_default="random per process", derived=True,
    ),
    Variable(
        "GEO_CRM_SECRET_KEY", "secret_key", parse_text, None,
        "Another name for `SECRET_KEY` (which wins when both are set).",
        shown_default="–",
    ),
    Variable(
        "GEO_CRM_VAR_DIR", "var_dir", parse_path, _default_var_dir,
        "Where geo_crm keeps its local files.",
        shown_default="`<checkout>/var`", derived=True,
    ),
    Variable(
        "GEO_CRM_PGDATA", "pgdata", parse_path, _default_pgdata,
        "Data folder of the embedded cluster.",
        shown_default="`$GEO_CRM_VAR_DIR/pgdata`", derived=True,
    ),
    Variable(
        "GEO_CRM_DB_NAME", "db_name", parse_text, "geo_crm",
        "Database name inside the embedded cluster.",
    ),
    Variable(
        "GEO_CRM_PG_BINDIR", "pg_bindir", parse_text, None,
        "PostgreSQL server binaries for the embedded cluster.",
        shown_default="newest `/usr/lib/postgresql/*/bin`",
    ),
    Variable(
        "GEO_CRM_AUTO_MIGRATE", "auto_migrate", parse_bool, True,
        "Migrate the schema to the newest revision on first use (under an advisory lock). `0`: "
        "leave it to `geo-crm db upgrade`.",
    ),
    Variable(
        "GEO_CRM_POOL_PRE_PING", "pool_pre_ping", parse_bool, False,
        "`1`: send `SELECT 1` on every connection checkout (one round trip per request). Off, a "
        "free socket check still drops pooled connections a restarted or terminated database "
        "closed; turn it on only if something between app and database drops idle connections "
        "silently.",
    ),
    Variable(
        "GEO_CRM_POOL_SIZE", "pool_size", whole(1), 5,
        "Database connections each app process keeps open, per database (the primary and each "
        "replica). Set it to at least the server's threads per worker (granian's "
        "`--blocking-threads`, gunicorn's `--threads`): a request past it opens a connection "
        "of its own and closes it afterwards (up to 10 more), a new PostgreSQL "
        "backend each time.",
    ),
    Variable(
        "GEO_CRM_MAX_UPLOAD_BYTES", "max_upload_bytes", whole(1), 32 * 1024 * 1024,
        "Largest accepted request body (larger: HTTP 413).",
        shown_default="`33554432` (32 MiB)",
    ),
    Variable(
        "GEO_CRM_LOG_LEVEL", "log_level", one_of(LOG_LEVELS, upper=True), "INFO",
        "Level of geo_crm's own log messages: `DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL`.",
    ),
    Variable(
        "GEO_CRM_AUTH_REQUIRED", "auth_required", parse_bool, True,
        "Every page and endpoint needs a signed-in user or a Bearer token (turn off only for "
        "local experiments).",
    ),
    Variable(
        "GEO_CRM_PROXY_COUNT", "proxy_count", whole(0), 0,
        "Proxies in front of the app whose `X-Forwarded-*` headers are trusted (cookie `Secure` "
        "follows the scheme).",
    ),
    Variable(
        "GEO_CRM_SESSION_HOURS", "session_hours", whole(1), 12,
        "How long a browser session lasts, counted from sign-in (the session lives in "
        "PostgreSQL; signing out ends it sooner).",
    ),
    Variable(
        "GEO_CRM_LOGIN_MAX_FAILURES", "login.max_failures", whole(1), 5,
        "Failed sign-ins allowed per username and address within the window (shared by all "
        "workers via PostgreSQL).",
    ),
    Variable(
        "GEO_CRM_LOGIN_MAX_FAILURES_PER_IP", "login.max_per_ip", whole(1), 50,
        "Failed sign-ins allowed per address, whatever the username, within the window.",
    ),
    Variable(
        "GEO_CRM_LOGIN_WINDOW_S", "login.window_s", whole(1), 900,
        "The sign-in throttling window, in seconds.",
    ),
    Variable(
        "GEO_CRM_TOKEN_CACHE_S", "token_cache_s", number(0), 30.0,
        "How long a process may remember which user an API token belongs to, saving the token "
        "lookup on most requests. Any committed change to a token or user (revoke, disable, "
        "role) is announced by PostgreSQL (`NOTIFY geo_crm_auth`) and empties every process's "
        "cache at once; the cache is used only while its listener is connected. `0` turns it "
        "off.",
    ),
    Variable(
        "GEO_CRM_CSP_IMG_SRC", "csp_img_src", parse_text, "https:",
        "Image sources allowed by the Content-Security-Policy besides the app's own (basemap "
        "tiles); empty: none.",
        keep_empty=True,
    ),
    Variable(
        "GEO_CRM_MAX_ACCURACY_M", "geotag.max_accuracy_m", number(0), 200.0,
        "Geotags less accurate than this (metres) are refused.",
    ),
    Variable(
        "GEO_CRM_MAX_JUMP_M", "geotag.max_jump_m", number(0), 2000.0,
        "A geotag further than this (metres) from the last accepted one is flagged for review.",
    ),
    Variable(
        "GEO_CRM_DUPLICATE_RADIUS_M", "geotag.duplicate_radius_m", number(0), 100.0,
        "Another active outlet with a similar name this close (metres) flags a geotag as a "
        "possible duplicate.",
    ),
    Variable(
        "GEO_CRM_DUPLICATE_NAME_SIMILARITY", "geotag.duplicate_similarity", number(0, 1), 0.6,
        "How similar (0 to 1: Dice coefficient of character bigrams) that nearby outlet's name "
        "must be.",
    ),
    Variable(
        "GEO_CRM_CLOCK_SKEW_S", "geotag.clock_skew_s", number(0), 120.0,
        "How far in the future (seconds) a phone's `captured_at` may be.",
    ),
    Variable(
        "GEO_CRM_BASEMAP", "basemap", one_of(BASEMAPS), "osm",
        "`osm`, `none`, or `amap` (GCJ-02: every drawn coordinate is converted).",
    ),
    Variable(
        "GEO_CRM_MAP_ASSETS", "map_assets", one_of(MAP_ASSETS), "local",
        "Leaflet and plugins served by geo_crm from installed packages; `cdn` switches to "
        "public CDNs.",
    ),
    Variable(
        "GEO_CRM_TILE_URL", "tile_url", parse_text, None,
        "Another tile server for the chosen basemap (e.g. an intranet mirror), as a Leaflet URL "
        "template `https://…/{z}/{x}/{y}.png`.",
        shown_default="the basemap's",
    ),
    Variable(
        "GEO_CRM_TILE_ATTRIBUTION", "tile_attribution", parse_text, None,
        "The attribution shown with `GEO_CRM_TILE_URL`'s tiles.",
        shown_default="the basemap's",
    ),
    Variable(
        "GEO_CRM_MAP_POINT_LIMIT", "map_point_limit", whole(0), 10_000,
        "Outlets a map draws one by one; above it, tiers are counted per hexagon.",
    ),
    Variable(
        "GEO_CRM_MAP_TILE_CELLS", "map_tile_cells", whole(0), 1_000,
        "Analysis cells (gaps, density) a region map embeds; above it, the map draws them "
        "from the vector tiles.",
    ),
    Variable(
        "GEO_CRM_MAP_TILE_OUTLETS", "map_tile_outlets", whole(0), 20_000,
        "Active outlets of a region above which its map draws them from the outlet vector "
        "tiles instead of the page.",
    ),
    Variable(
        "GEO_CRM_DEMO_PASSWORD", "demo_password", parse_text, "geo-crm-demo",
        "Password of the users `geo-crm demo` creates.",
    ),
    Variable(
        "GEO_CRM_COMPANY_NAME", "company_name", parse_text, "",
        "The company named on the cover of exported reports.",
        shown_default="none",
    ),
    Variable(
        "GEO_CRM_REPORT_RETENTION_HOURS", "report_retention_hours", number(0), 24.0,
        "How long a finished report job's file is kept in `<GEO_CRM_VAR_DIR>/reports`; older "
        "files are deleted by the worker (hourly) or `geo-crm report clean`, and their link "
        "answers 410 Gone.",
    ),
    Variable(
        "GEO_CRM_REPORT_JOB_RETENTION_DAYS", "report_job_retention_days", number(0), 30.0,
        "How long a finished report job (done, failed or expired) stays listed; older jobs are "
        "deleted by the same clean (never a queued or running one, never before their file's "
        "retention), and their link answers 404.",
    ),
    Variable(
        "GEO_CRM_WORKER_LOST_SECONDS", "worker_lost_seconds", number(20), 60.0,
        "A background job whose worker has sent no heartbeat (every 10 s) for this long is "
        "lost (the worker was killed or its machine stopped): its report job is failed, to be "
        "asked for again, and its analysis queued again.",
    ),
    Variable(
        "GEO_CRM_ANALYSIS_JOBS_PER_USER", "analysis_jobs_per_user", whole(1), 40,
        "Analysis recomputations (coverage, gaps, density of a large region) one user's page "
        "views may have queued at once. Beyond it a page shows the figures it has, with their "
        "\"as of\" time, and says the analyses are busy; it queues more once the worker has "
        "taken some.",
    ),
    Variable(
        "GEO_CRM_DETECT_WORKERS", "detect_workers", whole(1), _default_detect_workers,
        "Database sessions that read side by side in `geo-crm analyse cross-selling --all` "
        "(the 窜货 detection over the whole history): each judges a share of the distributors "
        "on one snapshot; each share's flags are written by the command's own transaction as "
        "soon as that share is read. `1`: one session. Each takes a connection of the pool and "
        "a core of the database server.",
        shown_default="min(2, cores)", derived=True,
    ),
    Variable(
        "GEO_CRM_TIMEZONE", "timezone", parse_zone, "Asia/Shanghai",
        "The time zone pages and exported reports show times in (an IANA name such as "
        "`Asia/Shanghai` or `UTC`), its offset beside them (`UTC+8`). The database stores UTC; "
        "the API answers ISO 8601 with the offset; dates (sale dates, plan months) are left as "
        "they are.",
    ),
)
# fmt: on

_BY_ENV = {var.env: var for var in VARIABLES}
_BY_FIELD: dict[str, list[Variable]] = {}
for _var in VARIABLES:
    _BY_FIELD.setdefault(_var.field, []).append(_var)
del _var


@dataclass(frozen=True)
class Settings:
    """Everything geo_crm is configured by, parsed and checked (see :data:`VARIABLES`)."""

    database_url: str | None
    database_replica_urls: tuple[str, ...]
    replica_wait_ms: int
    replica_max_lag_s: float
    secret_key: str
    var_dir: Path
    pgdata: Path
    db_name: str
    pg_bindir: str | None
    auto_migrate: bool
    pool_pre_ping: bool
    pool_size: int
    max_upload_bytes: int
    log_level: str
    auth_required: bool
    proxy_count: int
    session_hours: int
    login: ThrottleLimits
    token_cache_s: float
    csp_img_src: str
    geotag: GeotagLimits
    basemap: str
    map_assets: str
    tile_url: str | None
    tile_attribution: str | None
    map_point_limit: int
    map_tile_cells: int
    map_tile_outlets: int
    demo_password: str
    company_name: str
    report_retention_hours: float
    report_job_retention_days: float
    worker_lost_seconds: float
    analysis_jobs_per_user: int
    detect_workers: int
    timezone: str

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Settings:
        """The settings of ``environ`` (default: the process environment) with ``overrides``
        on top. Overrides are keyed by variable name (``GEO_CRM_MAX_JUMP_M``, as tests pass
        them to ``create_app``), field name (``auth_required``, ``geotag.max_jump_m``) or group
        (``geotag=GeotagLimits(...)``); they may be text, parsed like the environment, or
        typed values. Keys that name no setting (Flask's ``TESTING`` …) are left alone, except
        an unknown ``GEO_CRM_`` name, which is refused like a bad value."""
        environ = os.environ if environ is None else environ
        given = _by_field(overrides or {})
        values: dict[str, Any] = {}
        for name, variables in _BY_FIELD.items():
            found = _lookup(name, variables, given, environ)
            if found is not None:
                var, raw = found
                try:
                    values[name] = var.parse(raw)
                except ValueError as exc:
                    raise ValueError(f"{var.env} {exc}") from None
                continue
            first = variables[0]
            values[name] = first.default(values) if first.derived else first.default
        return cls(**_nest(values))

    def replace(self, **changes: Any) -> Settings:
        """These settings with ``changes`` (keyed like :meth:`load`'s overrides), checked."""
        values = self.values()
        values.update({name: value for name, (_, value) in _by_field(changes).items()})
        return Settings.load({}, values)

    def values(self) -> dict[str, Any]:
        """Field name (dotted inside a group) -> value, for every variable's field."""
        return {name: _get(self, name) for name in _BY_FIELD}

    @property
    def session_lifetime(self) -> dt.timedelta:
        return dt.timedelta(hours=self.session_hours)

    def flask_config(self) -> dict[str, Any]:
        """What Flask and its extensions read from ``app.config`` (and nothing else: geo_crm's
        own code reads the settings object, never ``app.config``)."""
        return {
            "SECRET_KEY": self.secret_key,
            "MAX_CONTENT_LENGTH": self.max_upload_bytes,
            "SESSION_COOKIE_NAME": "geo_crm_session",
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "PERMANENT_SESSION_LIFETIME": self.session_lifetime,
            "WTF_CSRF_CHECK_DEFAULT": False,  # the access policy decides which requests need it
            # valid as long as the session: a phone page may stay open all day
            "WTF_CSRF_TIME_LIMIT": None,
        }


def _by_field(overrides: Mapping[str, Any]) -> dict[str, tuple[Variable, Any]]:
    """Overrides keyed by field name, each with the variable to name in errors. For one field,
    a field name beats a variable name, which beats a group; of two variable names, the first
    in :data:`VARIABLES` wins (as in the environment)."""
    chosen: dict[str, tuple[int, Variable, Any]] = {}

    def offer(name: str, rank: int, var: Variable, value: Any) -> None:
        if name not in chosen or rank < chosen[name][0]:
            chosen[name] = (rank, var, value)

    for key, value in overrides.items():
        if key in GROUPS and isinstance(value, GROUPS[key]):
            for f in fields(value):
                name = f"{key}.{f.name}"
                offer(name, len(VARIABLES), _BY_FIELD[name][0], getattr(value, f.name))
        elif key in _BY_FIELD:
            offer(key, -1, _BY_FIELD[key][0], value)
        elif key in _BY_ENV:
            var = _BY_ENV[key]
            offer(var.field, _BY_FIELD[var.field].index(var), var, value)
        elif key.startswith("GEO_CRM_"):
            raise ValueError(f"{key} is not a geo_crm setting (see geo_crm.settings.VARIABLES)")
    return {name: (var, value) for name, (_, var, value) in chosen.items()}


def _lookup(
    name: str,
    variables: list[Variable],
    given: Mapping[str, tuple[Variable, Any]],
    environ: Mapping[str, str],
) -> tuple[Variable, Any] | None:
    """The variable and raw value that set field ``name``: an override, else the first of its
    variables set in the environment; None when unset (None and empty text count as unset)."""
    if name in given:
        var, raw = given[name]
        if raw is not None and (raw != "" or var.keep_empty):
            return var, raw
        return None
    for var in variables:
        raw = environ.get(var.env)
        if raw is not None and (raw != "" or var.keep_empty):
            return var, raw
    return None


def _nest(values: Mapping[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in values.items() if "." not in k}
    for group, kind in GROUPS.items():
        prefix = f"{group}."
        flat[group] = kind(
            **{k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix)}
        )
    return flat


def _get(settings: Settings, name: str) -> Any:
    value: Any = settings
    for part in name.split("."):
        value = getattr(value, part)
    return value


def settings_of(app) -> Settings:
    """The settings the app was built with (``create_app`` puts them in ``app.extensions``)."""
    try:
        return app.extensions[EXTENSION]
    except KeyError:
        raise RuntimeError(
            "this app has no geo_crm settings: build it with geo_crm.create_app"
        ) from None


def current_settings() -> Settings:
    """The settings of the app handling this request or command."""
    from flask import current_app

    return settings_of(current_app)


def install(app, settings: Settings) -> None:
    """Make ``settings`` the app's: its extension entry and the Flask keys derived from it."""
    app.extensions[EXTENSION] = settings
    app.config.from_mapping(settings.flask_config())


def flask_only(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The entries of ``overrides`` that name no setting: Flask's own keys (``TESTING`` …)."""
    return {
        key: value
        for key, value in (overrides or {}).items()
        if key not in _BY_ENV and key not in _BY_FIELD and key not in GROUPS
    }


def readme_table() -> str:
    """The README's configuration table, from :data:`VARIABLES`."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for var in VARIABLES:
        lines.append(f"| `{var.env}` | {_shown(var)} | {var.doc} |")
    return "\n".join(lines)


def _shown(var: Variable) -> str:
    if var.shown_default is not None:
        return var.shown_default
    value = var.default
    if isinstance(value, bool):
        return "`1`" if value else "`0`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def header_like_variables() -> dict[str, str]:
    """The process environment's variables that a WSGI environ would read as a request's
    headers or body length (``HTTP_*``, ``CONTENT_TYPE``, ``CONTENT_LENGTH``): granian copies
    the environment into every request's environ (geo_crm.wsgi.drop_process_headers)."""
    return {
        key: value
        for key, value in os.environ.items()
        if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")
    }


__all__ = [
    "BASEMAPS",
    "MAP_ASSETS",
    "VARIABLES",
    "GeotagLimits",
    "Settings",
    "ThrottleLimits",
    "Variable",
    "current_settings",
    "flask_only",
    "header_like_variables",
    "install",
    "readme_table",
    "settings_of",
]
