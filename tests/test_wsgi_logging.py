"""The production app skips building log records that no handler would take, and only those."""

from __future__ import annotations

import logging
from unittest.mock import patch

import pytest

from geo_crm.wsgi import skip_unhandled_records


@pytest.fixture
def lonely():
    """A logger tree of its own, cut off from the root (pytest puts handlers there)."""
    parent = logging.getLogger("geo_crm_wsgi_test")
    child = logging.getLogger("geo_crm_wsgi_test.domain")
    parent.propagate = False
    parent.setLevel(logging.INFO)
    yield parent, child
    parent.setLevel(logging.NOTSET)
    parent.propagate = True


def without_handlers(logger: logging.Logger):
    """pytest's log capture handlers may sit on any logger during a test: take them off."""
    return patch.object(logger, "handlers", [])


def test_records_nobody_takes_are_not_built(lonely):
    parent, child = lonely
    with without_handlers(parent):
        assert child.isEnabledFor(logging.INFO)
        skip_unhandled_records(parent)
        assert not child.isEnabledFor(logging.INFO)  # the last resort prints WARNING and up
        assert child.isEnabledFor(logging.WARNING)


def test_a_configured_handler_keeps_the_level(lonely):
    parent, child = lonely
    with patch.object(parent, "handlers", [logging.NullHandler()]):
        skip_unhandled_records(parent)
    assert parent.level == logging.INFO and child.isEnabledFor(logging.INFO)


def test_a_level_above_the_last_resort_stays(lonely):
    parent, _ = lonely
    parent.setLevel(logging.ERROR)
    with without_handlers(parent):
        skip_unhandled_records(parent)
    assert parent.level == logging.ERROR
