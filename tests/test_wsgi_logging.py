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


def test_a_handler_added_after_the_app_loads_gets_info_records(lonely):
    """A hook that runs after the app is loaded (a worker's start-up hook) adds a handler to
    geo_crm's logger: the INFO records it would have missed are built and reach it again."""
    parent, child = lonely
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record)

    with without_handlers(parent):
        skip_unhandled_records(parent)
        assert not child.isEnabledFor(logging.INFO)
        parent.addHandler(Keep())
        child.info("tagged %s", "R1")
    assert [r.getMessage() for r in seen] == ["tagged R1"]
    assert parent.level == logging.INFO and type(parent) is logging.Logger


def test_a_handler_added_to_the_root_later_gets_info_records(lonely):
    """``logging.basicConfig()`` in a post-fork hook: the root's new handler takes geo_crm's
    INFO records, which propagate to it."""
    parent, child = lonely
    parent.propagate = True
    root = logging.getLogger()
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    keep = Keep()
    with without_handlers(parent), without_handlers(root):
        skip_unhandled_records(parent)
        assert not child.isEnabledFor(logging.INFO)
        root.addHandler(keep)
        assert type(root) is logging.RootLogger
        child.info("tagged %s", "R2")
    assert seen == ["tagged R2"]
