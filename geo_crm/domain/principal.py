"""Who is acting: a plain value that services take for scoping (no Flask, no ORM object)."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import ROLES

__all__ = ["ROLES", "SYSTEM", "Principal"]


@dataclass(frozen=True)
class Principal:
    """The acting user. ``via`` says how they proved it: session, token, cli or system."""

    id: int | None
    username: str
    role: str
    locale: str | None = None
    via: str = "session"
    token_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# acts for the CLI and for requests while GEO_CRM_AUTH_REQUIRED is off: sees everything
SYSTEM = Principal(id=None, username="system", role="admin", via="system")
