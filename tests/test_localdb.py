"""The embedded cluster: started, reused, stopped; clear errors when PostgreSQL/PostGIS is
missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from geo_crm import create_app
from geo_crm.db import normalise_url
from geo_crm.db.cluster import find_bindir
from geo_crm.errors import DatabaseSetupError


def _app(**config):
    return create_app({"DATABASE_URL": None, "SECRET_KEY": "t", **config})


@pytest.fixture
def short_tmp():
    path = Path(tempfile.mkdtemp(prefix="gcrm-ldb-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_cluster_started_reused_migrated_and_stopped(short_tmp):
    app = _app(GEO_CRM_PGDATA=short_tmp / "pgdata", GEO_CRM_DB_NAME="embedded")
    runner = app.test_cli_runner()
    try:
        first = runner.invoke(args=["db", "start"])
        assert first.exit_code == 0, first.output
        assert "started embedded PostgreSQL" in first.output
        again = runner.invoke(args=["db", "start"])
        assert "reusing" in again.output
        assert (short_tmp / "pgdata" / "PG_VERSION").is_file()

        # first use of the app creates PostGIS and migrates to head
        response = app.test_client().get("/healthz")
        assert response.status_code == 200
        status = runner.invoke(args=["db", "status", "--json"])
        assert status.exit_code == 0, status.output
        from alembic.script import ScriptDirectory

        from geo_crm.db import migrate

        head = ScriptDirectory.from_config(migrate.alembic_config(None)).get_current_head()
        assert '"running": true' in status.output and f'"revision": "{head}"' in status.output
        assert '"postgis": "3.' in status.output
    finally:
        app.extensions["geo_crm_db"].dispose()
        stopped = runner.invoke(args=["db", "stop"])
    assert stopped.exit_code == 0 and "stopped" in stopped.output
    assert "not running" in runner.invoke(args=["db", "stop"]).output


def test_missing_postgresql_is_named_with_the_package(tmp_path):
    with pytest.raises(DatabaseSetupError, match="postgresql-15-postgis-3"):
        find_bindir(str(tmp_path))


def test_missing_postgis_is_named_with_the_package(short_tmp):
    """A PostgreSQL whose share folder has no postgis.control: say what to install, exit 1."""
    real = find_bindir()
    fake = short_tmp / "bin"
    fake.mkdir()
    for tool in ("initdb", "pg_ctl", "postgres"):
        (fake / tool).symlink_to(real / tool)
    (fake / "pg_config").write_text(f"#!/bin/sh\necho {short_tmp / 'share'}\n")
    (fake / "pg_config").chmod(0o755)
    env = {
        **os.environ,
        "GEO_CRM_PG_BINDIR": str(fake),
        "GEO_CRM_PGDATA": str(short_tmp / "pgdata"),
    }
    env.pop("DATABASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "geo_crm", "db", "start"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "PostGIS is not installed" in proc.stderr and "postgresql-15-postgis-3" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_db_start_refuses_when_database_url_is_set(cli):
    result = cli.invoke(args=["db", "start"])
    assert result.exit_code == 1
    assert "DATABASE_URL is set" in result.output


def test_unreachable_database_url_is_a_clear_error():
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody:secret@127.0.0.1:1/none"}
    proc = subprocess.run(
        [sys.executable, "-m", "geo_crm", "db", "upgrade"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: cannot connect to the database")
    assert "Traceback" not in proc.stderr and "secret" not in proc.stderr


@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgresql://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@/db?host=/tmp", "postgresql+psycopg://u@/db?host=%2Ftmp"),
    ],
)
def test_database_url_as_users_type_it(url, expected):
    assert normalise_url(url) == expected


@pytest.mark.parametrize("url", ["sqlite:///x.db", "not a url"])
def test_database_url_must_be_postgresql(url):
    with pytest.raises(DatabaseSetupError):
        normalise_url(url)
