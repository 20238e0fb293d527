"""The embedded PostgreSQL + PostGIS cluster geo_crm runs for itself when DATABASE_URL is unset.

The cluster lives in a data folder of the project, listens only on a Unix socket inside that
folder (no TCP port, so nothing clashes with another server) and trusts local connections.
PostgreSQL refuses to run as root, so when geo_crm runs as root the server processes run as
the ``postgres`` system user that Debian's package creates.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DatabaseSetupError

if TYPE_CHECKING:
    from ..settings import Settings

LOGGER = logging.getLogger(__name__)

INSTALL_HINT = "install PostgreSQL and PostGIS (Debian: apt-get install postgresql-15-postgis-3)"
SUPERUSER = "postgres"
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; leave room for "/.s.PGSQL.5432"


def find_bindir(explicit: str | None = None) -> Path:
    """Find the folder holding initdb, pg_ctl and postgres, or say what to install."""
    if explicit:  # configured: honour it or say it is wrong, never silently use another
        folder = Path(explicit)
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
        raise DatabaseSetupError(
            f"GEO_CRM_PG_BINDIR={explicit} does not hold initdb, pg_ctl and postgres: "
            f"{INSTALL_HINT}"
        )
    candidates: list[Path] = []
    # Debian keeps server binaries off PATH, one folder per major version: newest first
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    candidates += [Path(p) for p in debian]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent)
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise DatabaseSetupError(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found: {INSTALL_HINT}"
    )


def _version_key(path: str) -> tuple:
    part = Path(path).parent.name
    return tuple(int(x) for x in part.split(".") if x.isdigit()) or (0,)


def check_postgis_installed(bindir: Path) -> None:
    """Fail early, with the package name, when the PostGIS extension files are absent."""
    sharedir = None
    pg_config = bindir / "pg_config"
    if pg_config.is_file():
        out = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True)
        if out.returncode == 0:
            sharedir = Path(out.stdout.strip())
    if sharedir is None:
        sharedir = bindir.parent / "share"
        major = bindir.parent.name
        debian_share = Path("/usr/share/postgresql") / major
        if debian_share.is_dir():
            sharedir = debian_share
    if not (sharedir / "extension" / "postgis.control").is_file():
        raise DatabaseSetupError(
            f"PostGIS is not installed for the PostgreSQL in {bindir}: {INSTALL_HINT}"
        )


def server_has_lz4(bindir: Path) -> bool:
    """Whether this PostgreSQL was built with LZ4 (``wal_compression = lz4`` needs it)."""
    pg_config = bindir / "pg_config"
    if not pg_config.is_file():
        return False
    out = subprocess.run([str(pg_config), "--configure"], capture_output=True, text=True)
    return out.returncode == 0 and "--with-lz4" in out.stdout


def wal_settings(bindir: Path) -> list[str]:
    """Checkpoints and WAL for a cluster that takes geotags all day (docs/deployment.md).

    The first change of a page after a checkpoint writes the whole page to the WAL (a
    full-page image; ``full_page_writes`` stays on: it is what makes a torn page recoverable).
    Spacing checkpoints 15 minutes apart, and leaving room for that much WAL so that the
    volume does not start them sooner, lets a page changed again later in the cycle go without
    one; LZ4 compresses the images that remain (a third less WAL per tag, for no CPU that
    could be told apart: bench/README.md, "Geotagging endpoint", 2026-12-07). The price: a
    crash replays up to a cycle of WAL on restart, and ``pg_wal`` may hold up to 4 GB under
    a sustained write load (``min_wal_size`` lets it shrink back when quiet).
    """
    settings = ["checkpoint_timeout = 15min", "max_wal_size = 4GB"]
    if server_has_lz4(bindir):
        settings.append("wal_compression = lz4")
    return settings


@dataclass(frozen=True)
class LocalCluster:
    """A private cluster in ``datadir`` (created on first start)."""

    datadir: Path
    bindir: Path
    dbname: str = "geo_crm"
    fast_unsafe: bool = False  # fsync off: for throwaway test clusters only

    @classmethod
    def for_dir(
        cls,
        datadir: Path | str,
        *,
        dbname: str = "geo_crm",
        bindir: str | None = None,
        fast_unsafe: bool = False,
    ) -> LocalCluster:
        found = find_bindir(bindir)
        check_postgis_installed(found)
        return cls(Path(datadir).resolve(), found, dbname, fast_unsafe)

    @classmethod
    def for_settings(cls, settings: Settings) -> LocalCluster:
        """The cluster GEO_CRM_PGDATA, GEO_CRM_DB_NAME and GEO_CRM_PG_BINDIR describe."""
        return cls.for_dir(settings.pgdata, dbname=settings.db_name, bindir=settings.pg_bindir)

    # -- paths -----------------------------------------------------------------------------
    @property
    def socket_dir(self) -> Path:
        """The socket lives in the data folder unless that path is too long for a Unix socket."""
        if len(str(self.datadir)) <= _SOCKET_PATH_MAX:
            return self.datadir
        digest = hashlib.sha1(str(self.datadir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"geo_crm-{digest}"

    @property
    def logfile(self) -> Path:
        return self.datadir / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@/{self.dbname}?host={self.socket_dir}"

    def admin_url(self) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@/postgres?host={self.socket_dir}"

    # -- running the server tools ----------------------------------------------------------
    def _run_as_owner(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise DatabaseSetupError(
                "running as root needs the 'postgres' system user to own the cluster: "
                + INSTALL_HINT
            ) from exc
        return ["runuser", "-u", "postgres", "--"]

    def _tool(self, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [*self._run_as_owner(), str(self.bindir / name), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if check and proc.returncode != 0:
            output = (proc.stderr or proc.stdout).strip()[-800:]
            raise DatabaseSetupError(f"{name} failed (exit {proc.returncode}): {output}")
        return proc

    def _prepare_dir(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(path, 0o700)

    def is_initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").is_file()

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        return self._tool("pg_ctl", "status", "-D", str(self.datadir), check=False).returncode == 0

    def init(self) -> None:
        """Create the cluster files (initdb) unless they exist."""
        if self.is_initialised():
            return
        self._prepare_dir(self.datadir)
        LOGGER.info("initialising a PostgreSQL cluster in %s", self.datadir)
        self._tool(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        )
        settings = [
            "listen_addresses = ''",
            f"unix_socket_directories = '{self.socket_dir}'",
            "max_connections = 100",
            "shared_buffers = 256MB",
            "work_mem = 32MB",
            "maintenance_work_mem = 256MB",
            # parallel plans cost more than they save on the small spatial queries maps make
            "max_parallel_workers_per_gather = 0",
            "jit = off",
            # PostgreSQL's defaults, spelled out: `geo-crm db replica` streams from this cluster
            "wal_level = replica",
            "max_wal_senders = 10",
            *wal_settings(self.bindir),
        ]
        if self.fast_unsafe:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# geo_crm embedded cluster\n" + "\n".join(settings) + "\n")

    def start(self) -> None:
        """Start the server (initialising first when needed); reuse it when already running."""
        self.init()
        if self.is_running():
            LOGGER.info("reusing the PostgreSQL cluster running in %s", self.datadir)
            return
        if self.socket_dir != self.datadir:
            self._prepare_dir(self.socket_dir)
        # a log file the server user can write
        self.logfile.touch(exist_ok=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.logfile, pw.pw_uid, pw.pw_gid)
        self._tool(
            "pg_ctl", "start", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60"
        )

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        if not self.is_running():
            return False
        self._tool("pg_ctl", "stop", "-D", str(self.datadir), "-m", "fast", "-w")
        return True

    def status(self) -> dict:
        return {
            "datadir": str(self.datadir),
            "bindir": str(self.bindir),
            "initialised": self.is_initialised(),
            "running": self.is_running(),
            "url": self.url,
        }

    def ensure_database(self) -> str:
        """Start the cluster, create the database and PostGIS in it; return its URL."""
        self.start()
        from sqlalchemy import create_engine, text

        admin = create_engine(self.admin_url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                exists = conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": self.dbname}
                ).scalar()
                if not exists:
                    conn.exec_driver_sql(f'CREATE DATABASE "{self.dbname}"')
        finally:
            admin.dispose()
        return self.url
