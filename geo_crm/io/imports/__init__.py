"""Importers, one module each (see outlets.py until the split)."""

from .outlets import *  # noqa: F403 - transitional: the split follows in the next commits
from .outlets import IMPORTERS, ImportReport, Problem  # noqa: F401
