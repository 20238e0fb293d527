"""Configuration from environment variables, with documented defaults (see README)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from .resources import project_root


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def from_env() -> dict:
    """Read the settings geo_crm understands from the process environment."""
    var_dir = _env_path("GEO_CRM_VAR_DIR", project_root() / "var")
    secret = os.environ.get("SECRET_KEY") or os.environ.get("GEO_CRM_SECRET_KEY")
    return {
        "DATABASE_URL": os.environ.get("DATABASE_URL") or None,
        "GEO_CRM_VAR_DIR": var_dir,
        "GEO_CRM_PGDATA": _env_path("GEO_CRM_PGDATA", var_dir / "pgdata"),
        "GEO_CRM_DB_NAME": os.environ.get("GEO_CRM_DB_NAME", "geo_crm"),
        "GEO_CRM_PG_BINDIR": os.environ.get("GEO_CRM_PG_BINDIR") or None,
        # a random key per process is safe for the demo; set SECRET_KEY for several workers
        "SECRET_KEY": secret or secrets.token_hex(32),
        "GEO_CRM_DEMO_PASSWORD": os.environ.get("GEO_CRM_DEMO_PASSWORD") or None,
        "MAX_CONTENT_LENGTH": int(os.environ.get("GEO_CRM_MAX_UPLOAD_BYTES", 32 * 1024 * 1024)),
    }
