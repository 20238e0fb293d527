"""The one settings object: every variable parses its documented values and refuses bad ones
at start-up, naming itself; the README's table is VARIABLES; nothing else reads the environment.

Re-write the README's table after changing VARIABLES: python tests/test_settings.py --write
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import re
import sys
from pathlib import Path

import pytest

from geo_crm import create_app
from geo_crm.settings import (
    BASEMAPS,
    MAP_ASSETS,
    VARIABLES,
    GeotagLimits,
    Settings,
    readme_table,
    settings_of,
)

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
APP = {"DATABASE_URL": "postgresql://settings@localhost/none", "SECRET_KEY": "x"}

# a value each parser accepts, what it becomes, and a value it refuses
SAMPLES = {
    "DATABASE_URL": ("postgresql://u@h/db", "postgresql://u@h/db", None),
    "DATABASE_REPLICA_URLS": (
        "postgresql://u@r1/db, postgresql://u@r2/db,",
        ("postgresql://u@r1/db", "postgresql://u@r2/db"),
        "mysql://u@r1/db",
    ),
    "GEO_CRM_REPLICA_WAIT_MS": ("0", 0, "0.5"),
    "GEO_CRM_REPLICA_MAX_LAG_S": ("2.5", 2.5, "-1"),
    "SECRET_KEY": ("s3cret", "s3cret", None),
    "GEO_CRM_SECRET_KEY": ("s3cret", "s3cret", None),
    "GEO_CRM_VAR_DIR": ("/srv/geo", Path("/srv/geo"), None),
    "GEO_CRM_PGDATA": ("/srv/pg", Path("/srv/pg"), None),
    "GEO_CRM_DB_NAME": ("crm", "crm", None),
    "GEO_CRM_PG_BINDIR": ("/opt/pg/bin", "/opt/pg/bin", None),
    "GEO_CRM_AUTO_MIGRATE": ("off", False, "later"),
    "GEO_CRM_POOL_PRE_PING": ("YES", True, "2"),
    "GEO_CRM_POOL_SIZE": ("16", 16, "0"),
    "GEO_CRM_MAX_UPLOAD_BYTES": ("1024", 1024, "1e6"),
    "GEO_CRM_LOG_LEVEL": ("debug", "DEBUG", "loud"),
    "GEO_CRM_AUTH_REQUIRED": ("0", False, "maybe"),
    "GEO_CRM_PROXY_COUNT": ("2", 2, "-1"),
    "GEO_CRM_SESSION_HOURS": ("8", 8, "0"),
    "GEO_CRM_LOGIN_MAX_FAILURES": ("3", 3, "three"),
    "GEO_CRM_LOGIN_MAX_FAILURES_PER_IP": ("20", 20, "2.5"),
    "GEO_CRM_LOGIN_WINDOW_S": ("60", 60, "1m"),
    "GEO_CRM_TOKEN_CACHE_S": ("0", 0.0, "-5"),
    "GEO_CRM_CSP_IMG_SRC": ("https://tiles.example", "https://tiles.example", None),
    "GEO_CRM_MAX_ACCURACY_M": ("50.5", 50.5, "nan"),
    "GEO_CRM_MAX_JUMP_M": ("5000", 5000.0, "far"),
    "GEO_CRM_DUPLICATE_RADIUS_M": ("80", 80.0, "-1"),
    "GEO_CRM_DUPLICATE_NAME_SIMILARITY": ("0.8", 0.8, "1.5"),
    "GEO_CRM_CLOCK_SKEW_S": ("30", 30.0, "inf"),
    "GEO_CRM_BASEMAP": ("AMap", "amap", "google"),
    "GEO_CRM_MAP_ASSETS": ("cdn", "cdn", "both"),
    "GEO_CRM_TILE_URL": ("https://t/{z}/{x}/{y}.png", "https://t/{z}/{x}/{y}.png", None),
    "GEO_CRM_TILE_ATTRIBUTION": ("© us", "© us", None),
    "GEO_CRM_MAP_POINT_LIMIT": ("0", 0, "many"),
    "GEO_CRM_MAP_TILE_CELLS": ("0", 0, "many"),
    "GEO_CRM_MAP_TILE_OUTLETS": ("0", 0, "many"),
    "GEO_CRM_DEMO_PASSWORD": ("pw", "pw", None),
    "GEO_CRM_COMPANY_NAME": ("华东食品有限公司", "华东食品有限公司", None),
    "GEO_CRM_REPORT_RETENTION_HOURS": ("0.5", 0.5, "-1"),
    "GEO_CRM_REPORT_JOB_RETENTION_DAYS": ("7", 7.0, "-1"),
    "GEO_CRM_WORKER_LOST_SECONDS": ("90", 90.0, "5"),
    "GEO_CRM_ANALYSIS_JOBS_PER_USER": ("3", 3, "0"),
    "GEO_CRM_DETECT_WORKERS": ("4", 4, "0"),
    "GEO_CRM_TIMEZONE": ("Europe/Berlin", "Europe/Berlin", "Mars/Olympus"),
}


def _field(settings: Settings, name: str):
    value = settings
    for part in name.split("."):
        value = getattr(value, part)
    return value


def test_every_variable_has_a_sample():
    assert sorted(SAMPLES) == sorted(var.env for var in VARIABLES)


@pytest.mark.parametrize("var", VARIABLES, ids=lambda var: var.env)
def test_each_variable_parses_its_values_and_refuses_a_bad_one(var):
    good, parsed, bad = SAMPLES[var.env]
    assert _field(Settings.load({var.env: good}), var.field) == parsed
    assert _field(Settings.load({}, {var.env: good}), var.field) == parsed  # as create_app's
    if bad is not None:
        with pytest.raises(ValueError, match=f"^{var.env} "):
            Settings.load({var.env: bad})


@pytest.mark.parametrize(
    "word, expected",
    [(w, True) for w in ("1", "true", "True", "YES", "on", " on ")]
    + [(w, False) for w in ("0", "false", "FALSE", "no", "Off")],
)
def test_booleans_read_the_usual_words(word, expected):
    assert Settings.load({"GEO_CRM_POOL_PRE_PING": word}).pool_pre_ping is expected
    assert Settings.load({"GEO_CRM_AUTH_REQUIRED": word}).auth_required is expected


@pytest.mark.parametrize("word", ["2", "enabled", "y", "nein", "truee"])
def test_other_boolean_words_stop_start_up(monkeypatch, word):
    """Before, GEO_CRM_AUTH_REQUIRED=enabled meant off and GEO_CRM_POOL_PRE_PING=nein meant on."""
    monkeypatch.setenv("GEO_CRM_AUTH_REQUIRED", word)
    with pytest.raises(ValueError, match="GEO_CRM_AUTH_REQUIRED"):
        create_app(APP)


def test_defaults_and_empty_values():
    defaults = Settings.load({})
    empty = Settings.load({var.env: "" for var in VARIABLES})
    for var in VARIABLES:
        if var.field in ("secret_key",):
            continue  # random per process
        assert _field(empty, var.field) == (
            "" if var.keep_empty else _field(defaults, var.field)
        ), var.env
    assert defaults.auth_required and not defaults.pool_pre_ping and defaults.auto_migrate
    assert defaults.geotag == GeotagLimits() and defaults.login.window_s == 900
    assert defaults.pgdata == defaults.var_dir / "pgdata"
    assert len(defaults.secret_key) == 64 and defaults.secret_key != Settings.load({}).secret_key


def test_derived_defaults_follow_what_they_derive_from():
    assert Settings.load({"GEO_CRM_VAR_DIR": "/srv/geo"}).pgdata == Path("/srv/geo/pgdata")


def test_overrides_win_over_the_environment_and_none_means_unset():
    environ = {"GEO_CRM_MAX_JUMP_M": "3000", "DATABASE_URL": "postgresql://env/db"}
    settings = Settings.load(environ, {"GEO_CRM_MAX_JUMP_M": 4000, "DATABASE_URL": None})
    assert settings.geotag.max_jump_m == 4000.0 and settings.database_url is None
    assert Settings.load(environ, {"geotag.max_jump_m": "5000"}).geotag.max_jump_m == 5000.0


def test_secret_key_wins_over_its_other_name():
    both = {"SECRET_KEY": "a", "GEO_CRM_SECRET_KEY": "b"}
    assert Settings.load(both).secret_key == "a"
    assert Settings.load({"GEO_CRM_SECRET_KEY": "b"}).secret_key == "b"
    assert Settings.load({}, both).secret_key == "a"


def test_unknown_geo_crm_names_are_refused_and_flask_keys_pass_through():
    with pytest.raises(ValueError, match="GEO_CRM_MAX_JUMP is not a geo_crm setting"):
        Settings.load({}, {"GEO_CRM_MAX_JUMP": 1})
    app = create_app({**APP, "TESTING": True, "MAX_CONTENT_LENGTH": 10})
    assert app.config["TESTING"] is True and app.config["MAX_CONTENT_LENGTH"] == 10


def test_typed_overrides_are_checked_too():
    for key, value in (("GEO_CRM_AUTH_REQUIRED", 2), ("GEO_CRM_PROXY_COUNT", 1.5)):
        with pytest.raises(ValueError, match=key):
            Settings.load({}, {key: value})
    assert Settings.load({}, {"GEO_CRM_PGDATA": Path("/x/pg")}).pgdata == Path("/x/pg")


def test_replace_checks_the_change_and_keeps_the_rest():
    base = Settings.load({}, {"SECRET_KEY": "k"})
    changed = base.replace(GEO_CRM_MAX_JUMP_M=5000, auth_required=False)
    assert changed.geotag.max_jump_m == 5000.0 and not changed.auth_required
    assert changed.secret_key == "k" and changed.pgdata == base.pgdata
    with pytest.raises(ValueError, match="GEO_CRM_BASEMAP"):
        base.replace(basemap="google")
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.auth_required = False  # type: ignore[misc]


def test_the_app_carries_its_settings_and_flask_reads_what_they_imply():
    app = create_app({**APP, "GEO_CRM_SESSION_HOURS": "2", "GEO_CRM_MAX_UPLOAD_BYTES": "4096"})
    settings = settings_of(app)
    assert settings.session_hours == 2 and app.permanent_session_lifetime == dt.timedelta(hours=2)
    assert app.config["MAX_CONTENT_LENGTH"] == 4096 and app.secret_key == "x"
    assert app.config["SESSION_COOKIE_NAME"] == "geo_crm_session"
    # the settings live in the settings object only: app.config holds Flask's keys
    assert not [key for key in app.config if key.startswith("GEO_CRM_")]


def test_no_code_reads_a_setting_from_app_config():
    """geo_crm reads ``current_settings()``/``settings_of(app)``, never ``app.config``'s
    ``GEO_CRM_…`` keys (issue 12 removed that mirror)."""
    pattern = re.compile(r"""config(\.get\(|\[)\s*["']GEO_CRM_""")
    readers = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "geo_crm").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not readers, readers


@pytest.fixture
def restored_afterwards(app):
    """Checks, after settings_override has cleaned up (set up after this one, so torn down
    before it), that the app is as it was."""
    before, config = settings_of(app), dict(app.config)
    yield
    assert settings_of(app) is before and dict(app.config) == config


def test_settings_override_swaps_and_restores(restored_afterwards, app, settings_override):
    before = settings_of(app)
    after = settings_override(app, GEO_CRM_MAX_JUMP_M=5000, session_hours=1)
    assert settings_of(app) is after and after.geotag.max_jump_m == 5000.0
    assert app.permanent_session_lifetime == dt.timedelta(hours=1)
    assert settings_override(app, auth_required=False).geotag.max_jump_m == 5000.0  # stacks
    assert before.geotag.max_jump_m == 2000.0


def test_choices_match_what_the_maps_draw():
    from geo_crm.maps import assets
    from geo_crm.maps.base import BASEMAP_CRS
    from geo_crm.maps.base import BASEMAPS as MAP_BASEMAPS

    assert set(BASEMAPS) == set(MAP_BASEMAPS) == set(BASEMAP_CRS)
    assert set(MAP_ASSETS) == set(assets.MODES)


# -- documentation ----------------------------------------------------------------------------


def _readme_table(text: str) -> str:
    section = text.split("## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def test_the_readme_table_is_the_variables():
    assert _readme_table(README.read_text(encoding="utf-8")) == readme_table(), (
        "re-write it: python tests/test_settings.py --write"
    )


def test_docs_name_only_real_variables():
    """Every GEO_CRM_… name in the code, templates and docs is a variable of VARIABLES (or, as
    ``GEO_CRM_LOGIN_``, the start of some)."""
    names = {var.env for var in VARIABLES}
    files = [README, *sorted((ROOT / "docs").glob("*.md"))]
    files += sorted((ROOT / "geo_crm").rglob("*.py")) + sorted((ROOT / "templates").rglob("*.html"))
    unknown = set()
    for path in files:
        for found in re.findall(r"\bGEO_CRM_[A-Z0-9_]+", path.read_text(encoding="utf-8")):
            if found not in names and not any(name.startswith(found) for name in names):
                unknown.add(f"{path.relative_to(ROOT)}: {found}")
    assert not unknown, sorted(unknown)


def test_docs_maps_links_to_the_readme_table():
    text = (ROOT / "docs" / "maps.md").read_text(encoding="utf-8")
    assert "README.md#configuration" in text and "| variable | default |" not in text


# -- the only reader of the environment ---------------------------------------------------------


def _reads_environment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            if any(alias.name in ("environ", "getenv", "environb") for alias in node.names):
                lines.append(node.lineno)
    return lines


def test_only_settings_reads_the_environment():
    readers = {}
    for path in sorted((ROOT / "geo_crm").rglob("*.py")) + [ROOT / "migrations" / "env.py"]:
        lines = _reads_environment(ast.parse(path.read_text(encoding="utf-8")))
        if lines:
            readers[str(path.relative_to(ROOT))] = lines
    assert set(readers) <= {"geo_crm/settings.py"}, readers
    assert "geo_crm/settings.py" in readers


if __name__ == "__main__" and "--write" in sys.argv:
    text = README.read_text(encoding="utf-8")
    old = _readme_table(text)
    README.write_text(text.replace(old, readme_table()), encoding="utf-8")
    print(f"wrote the configuration table of {README}")
