"""Tokens already checked, remembered by each process so a busy client skips the token lookup.

Every API request used to look its token up: one database round trip, a large share of a short
request such as ``near`` (bench/README.md has the numbers). A process now remembers, for at
most ``GEO_CRM_TOKEN_CACHE_S`` seconds, which user a live token belongs to — and forgets
everything as soon as anything that decides it changes. Migration 0005 makes PostgreSQL
announce such changes (``NOTIFY geo_crm_auth`` on a token revoked, deleted or re-pointed; a
user disabled, deleted, renamed, or given another role or language), and each process listens
on a connection of its own, in a daemon thread.

The cache is used only while that listener is connected: before it has started listening,
after its connection broke, or when the database cannot ``LISTEN`` (a transaction-pooling
proxy), every request looks its token up as before. A lookup that raced with a change is not
stored: every notification starts a new generation, and an answer read in an older one is
dropped. What remains is the notification's delivery time (one message on a connection that is
already open) between a revocation's commit and the last request it lets through.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine

from ..domain.principal import Principal

LOGGER = logging.getLogger(__name__)

CHANNEL = "geo_crm_auth"
MAX_ENTRIES = 10_000  # live tokens a process remembers at most (each entry is a few hundred bytes)
_RETRY_S = (0.5, 1, 2, 5, 10, 30)  # waits before reconnecting a listener that lost its connection


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    expires: float  # time.monotonic()


class TokenCache:
    """Principals by token hash, for one database; safe to share between a process's threads."""

    def __init__(self, engine: Engine, ttl_s: float):
        self.engine = engine
        self.ttl_s = float(ttl_s)
        self._entries: dict[str, _Entry] = {}
        self._generation = 0
        self._live = threading.Event()  # the listener is connected and listening
        self._pid: int | None = None  # the process whose listener runs (a fork needs its own)
        self._lock = threading.Lock()
        self._stop = threading.Event()

    # -- the request side ------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def generation(self) -> int:
        """Read before a lookup; hand to :meth:`put` with its answer."""
        self._ensure_listener()
        return self._generation

    def get(self, token_hash: str) -> Principal | None:
        if not self._live.is_set():
            return None
        entry = self._entries.get(token_hash)
        if entry is None or entry.expires < time.monotonic():
            return None
        return entry.principal

    def put(self, token_hash: str, principal: Principal, generation: int) -> None:
        """Remember a lookup's answer unless something changed since ``generation`` was read
        (or the listener is not connected: nobody would tell us about the next change)."""
        if not self._live.is_set():
            return
        with self._lock:
            if generation == self._generation:
                if len(self._entries) >= MAX_ENTRIES:  # expired entries are only overwritten
                    self._entries.clear()
                self._entries[token_hash] = _Entry(principal, time.monotonic() + self.ttl_s)

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def is_live(self) -> bool:
        return self._live.is_set()

    def stop(self) -> None:
        """End the listener (within a second) and stop caching: for tests and shutdown."""
        self._stop.set()
        self._live.clear()
        self.forget()

    # -- the listener ----------------------------------------------------------------------

    def _ensure_listener(self) -> None:
        if self._pid == os.getpid() or not self.enabled or self._stop.is_set():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._live.clear()  # a forked child inherits the parent's flag, not its thread
            self._entries.clear()
            thread = threading.Thread(target=self._listen, name="geo_crm-token-cache", daemon=True)
            thread.start()

    def _listen(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                raw = self.engine.raw_connection()
                conn = raw.driver_connection
                raw.detach()  # its own connection for good: never handed back to the pool
                try:
                    conn.autocommit = True
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.forget()  # whatever was looked up before now may have missed a change
                    self._live.set()
                    failures = 0
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self.forget()
                finally:
                    self._live.clear()
                    self.forget()
                    conn.close()
            except Exception as exc:  # noqa: BLE001 - any failure: no cache until listening again
                LOGGER.warning("token cache: listener lost its connection (%s); retrying", exc)
            self._stop.wait(_RETRY_S[min(failures, len(_RETRY_S) - 1)])
            failures += 1
