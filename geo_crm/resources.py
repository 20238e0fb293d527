"""Locate the folders that live at the repository root in a checkout but inside the package in
a wheel."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent

# name inside the installed package -> path relative to the repository root
_LAYOUT = {
    "templates": "templates",
    "migrations": "migrations",
    "regions_data": "data/regions",
}


def resource_dir(name: str) -> Path:
    """Return the folder for ``name`` whether geo_crm runs from a checkout or from a wheel."""
    inside = _PKG / name
    if inside.is_dir():
        return inside
    in_checkout = _PKG.parent / _LAYOUT[name]
    if in_checkout.is_dir():
        return in_checkout
    raise FileNotFoundError(
        f"geo_crm resource folder {name!r} not found (looked in {inside} and {in_checkout})"
    )


def project_root() -> Path:
    """The checkout root (where var/ goes by default); the current directory for a wheel install."""
    if (_PKG.parent / "pyproject.toml").is_file():
        return _PKG.parent
    return Path.cwd()
