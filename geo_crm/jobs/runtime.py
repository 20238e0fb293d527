"""What a worker process runs tasks against: the app's database and settings, set once by
``geo-crm worker`` (or a test) before the worker starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..db import Database
from ..settings import Settings


@dataclass
class Runtime:
    db: Database
    settings: Settings
    # called with (job id, percent, stage) after each progress write; tests pause jobs here
    on_progress: list[Callable[[int, int, str], None]] = field(default_factory=list)


_current: Runtime | None = None


def configure(db: Database, settings: Settings) -> Runtime:
    global _current
    _current = Runtime(db, settings)
    return _current


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("no job runtime: start workers with `geo-crm worker`")
    return _current
