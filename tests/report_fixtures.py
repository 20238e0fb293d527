"""The report tests' fixture (a pytest plugin: ``pytest_plugins = ["report_fixtures"]``)."""

from __future__ import annotations

import pytest
from report_helpers import build_world


@pytest.fixture
def report_world(connection):
    return build_world(connection)
