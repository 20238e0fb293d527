"""A hot-standby replica of the embedded cluster, on the same machine (development and tests).

``pg_basebackup -R`` copies the primary into the replica's own data folder (under ``var/``,
beside the primary's) through a physical replication slot, so the primary keeps the WAL a
stopped replica still needs; the replica then streams from the primary's Unix socket and
listens on its own socket in its folder. The embedded primary already allows it: PostgreSQL's
defaults (``wal_level = replica``, ``max_wal_senders = 10``) and the ``local replication``
line ``initdb`` writes into ``pg_hba.conf``.

``stop`` keeps the folder and the slot (``start`` resumes streaming); ``drop`` removes both, so
the primary stops keeping WAL for it.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from ..errors import DatabaseSetupError
from .cluster import LocalCluster

LOGGER = logging.getLogger(__name__)

_SLOT_SAFE = re.compile(r"[^a-z0-9_]")


def replica_dir_of(primary: LocalCluster) -> Path:
    """Where the replica of ``primary`` lives: beside it (``var/pgdata-replica``)."""
    return primary.datadir.with_name(primary.datadir.name + "-replica")


@dataclass(frozen=True)
class LocalReplica:
    primary: LocalCluster
    datadir: Path

    @classmethod
    def of(cls, primary: LocalCluster, datadir: Path | str | None = None) -> LocalReplica:
        return cls(primary, Path(datadir).resolve() if datadir else replica_dir_of(primary))

    @property
    def server(self) -> LocalCluster:
        """The replica's server, run with the primary's tools (its files come from the copy)."""
        return LocalCluster(self.datadir, self.primary.bindir, self.primary.dbname)

    @property
    def slot(self) -> str:
        return "geo_crm_" + _SLOT_SAFE.sub("_", self.datadir.name.lower())[:50]

    @property
    def url(self) -> str:
        return self.server.url

    def is_running(self) -> bool:
        return self.server.is_running()

    def start(self) -> None:
        """Copy the primary (first time) and start the replica; reuse it when running."""
        if not self.primary.is_running():
            raise DatabaseSetupError("the embedded primary is not running: geo-crm db start")
        server = self.server
        if not server.is_initialised():
            self._base_backup()
        if server.is_running():
            LOGGER.info("reusing the replica running in %s", self.datadir)
            return
        server.start()

    def _base_backup(self) -> None:
        tool = self.primary.bindir / "pg_basebackup"
        if not tool.is_file():
            raise DatabaseSetupError(
                f"pg_basebackup not found in {self.primary.bindir}: install PostgreSQL's server "
                "package (Debian: postgresql-15)"
            )
        self._drop_slot()  # left by a replica whose folder was removed by hand
        server = self.server
        server._prepare_dir(self.datadir)
        LOGGER.info("copying the primary into %s", self.datadir)
        try:
            self.primary._tool(
                "pg_basebackup",
                "-D", str(self.datadir),
                "-h", str(self.primary.socket_dir),
                "-U", "postgres",
                "-R",  # standby.signal and primary_conninfo
                "-X", "stream",
                "-C", "-S", self.slot,
                "-c", "fast",
            )  # fmt: skip
        except DatabaseSetupError:
            shutil.rmtree(self.datadir, ignore_errors=True)
            self._drop_slot()
            raise
        settings = [
            f"unix_socket_directories = '{server.socket_dir}'",  # its own socket, not the primary's
            "hot_standby = on",
            # the primary keeps rows a replica's running query still reads (no cancelled reads)
            "hot_standby_feedback = on",
        ]
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# geo_crm embedded replica\n" + "\n".join(settings) + "\n")
        # the primary's log and socket lock file (its socket lives in its data folder), copied
        for copied in [self.datadir / "server.log", *self.datadir.glob(".s.PGSQL.*")]:
            copied.unlink(missing_ok=True)

    def stop(self) -> bool:
        """Stop the replica (folder and slot kept); False when it was not running."""
        return self.server.stop()

    def drop(self) -> bool:
        """Stop the replica and remove its folder and slot; False when there was none."""
        existed = self.server.is_initialised()
        self.server.stop()
        if existed:
            shutil.rmtree(self.datadir, ignore_errors=True)
        self._drop_slot()
        return existed

    def _drop_slot(self) -> None:
        if not self.primary.is_running():
            return
        engine = create_engine(self.primary.admin_url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                        "WHERE slot_name = :s AND NOT active"
                    ),
                    {"s": self.slot},
                )
        finally:
            engine.dispose()

    def status(self) -> dict:
        """Running or not, and how far behind the primary it is (bytes of WAL not replayed,
        and seconds since the last replayed commit when some WAL is still to replay)."""
        info: dict = {
            "datadir": str(self.datadir),
            "initialised": self.server.is_initialised(),
            "running": self.is_running(),
            "url": self.url,
            "slot": self.slot,
        }
        if not info["running"]:
            return info
        replica = create_engine(self.server.admin_url(), isolation_level="AUTOCOMMIT")
        try:
            with replica.connect() as conn:
                row = conn.execute(
                    text(
                        "SELECT pg_is_in_recovery(), pg_is_wal_replay_paused(),"
                        " pg_last_wal_replay_lsn()::text,"
                        " CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
                        " ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END"
                    )
                ).one()
        finally:
            replica.dispose()
        info["in_recovery"], info["replay_paused"], replayed, lag_s = row
        info["replay_lsn"] = replayed
        info["lag_seconds"] = round(float(lag_s or 0), 3)
        if self.primary.is_running() and replayed is not None:
            primary = create_engine(self.primary.admin_url(), isolation_level="AUTOCOMMIT")
            try:
                with primary.connect() as conn:
                    info["lag_bytes"] = int(
                        conn.execute(
                            text(
                                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), CAST(:r AS pg_lsn))"
                            ),
                            {"r": replayed},
                        ).scalar_one()
                    )
                    info["streaming"] = bool(
                        conn.execute(
                            text("SELECT active FROM pg_replication_slots WHERE slot_name = :s"),
                            {"s": self.slot},
                        ).scalar()
                    )
            finally:
                primary.dispose()
        return info
