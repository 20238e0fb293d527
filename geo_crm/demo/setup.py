"""What ``geo-crm demo`` prepares, in one call: the shipped boundaries when no region is
loaded, a generated network unless one is there (or ``reset``), and the demo users.

Each step is committed as it ends, so an interrupted run keeps what it finished and the next
run reuses it. The demo sits beside ``io`` (it loads the boundaries ``io.boundaries`` ships);
``io`` never imports it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ..domain.regions import region_count
from ..errors import GeoCrmError
from .generator import (
    DemoReport,
    clear_network,
    ensure_demo_users,
    generate_network,
    outlet_count,
)

LOGGER = logging.getLogger(__name__)

DEFAULT_PASSWORD = "geo-crm-demo"
STEPS = 4  # database, regions, network, serve: what the command numbers its lines by

# (step, line): the step a line opens (1..STEPS), or 0 for a line that continues one
Say = Callable[[int, str], None]


@dataclass
class DemoSetup:
    """What was there and what was made."""

    regions: int
    reused_outlets: int  # outlets kept from an earlier run (0: a network was generated)
    report: DemoReport | None  # the generated network (None: reused)
    created_users: list[str]
    password: str


def _log(step: int, line: str) -> None:
    LOGGER.info(line)


def prepare_demo(
    session: Session,
    *,
    outlets: int = 30000,
    seed: int = 42,
    reset: bool = False,
    password: str | None = None,
    say: Say = _log,
) -> DemoSetup:
    """Regions, network and users for the demo; ``say`` hears what is being done as it starts
    (loading thousands of boundaries or generating a large network takes a while)."""
    password = password or DEFAULT_PASSWORD
    say(2, "regions …")
    regions = _load_regions(session, say)
    if not regions:
        raise GeoCrmError("no regions loaded: cannot place a demo network")
    say(0, f"{regions:,} regions")
    existing = outlet_count(session)
    report = None
    if existing and not reset:
        say(
            3,
            f"network: reusing the {existing:,} outlets already there "
            "(--reset generates a new one)",
        )
    else:
        if existing:
            say(3, f"network: deleting {existing:,} outlets and their records …")
            clear_network(session)
        say(3, f"network: generating {outlets:,} outlets with seed {seed} …")
        report = generate_network(session, outlets=outlets, seed=seed)
        session.commit()
    created = ensure_demo_users(session, password)
    session.commit()
    return DemoSetup(regions, existing if report is None else 0, report, created, password)


def _load_regions(session: Session, say: Say) -> int:
    """Load the shipped boundaries when the regions table is empty; return the region count."""
    count = region_count(session)
    if count:
        return count
    from ..io.boundaries import default_region_files, load_region_files

    files = default_region_files()
    say(0, f"loading {len(files)} boundary files: {', '.join(f.name for f in files)}")
    load_region_files(session, files)
    session.commit()
    return region_count(session)
