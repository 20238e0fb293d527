"""GEO_CRM_POOL_PRE_PING: the per-checkout ping the geotag endpoint may skip for throughput."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from geo_crm.db import Database, pool_pre_ping


@pytest.mark.parametrize(
    "config, env, expected",
    [
        ({}, None, True),  # on unless switched off
        ({"GEO_CRM_POOL_PRE_PING": False}, None, False),
        ({"GEO_CRM_POOL_PRE_PING": "off"}, None, False),
        ({"GEO_CRM_POOL_PRE_PING": "0"}, None, False),
        ({"GEO_CRM_POOL_PRE_PING": "true"}, "0", True),  # app config wins over the environment
        ({}, "false", False),
        ({}, "1", True),
    ],
)
def test_pre_ping_setting(monkeypatch, config, env, expected):
    if env is None:
        monkeypatch.delenv("GEO_CRM_POOL_PRE_PING", raising=False)
    else:
        monkeypatch.setenv("GEO_CRM_POOL_PRE_PING", env)
    assert pool_pre_ping(config) is expected


@pytest.mark.parametrize("setting, expected", [(None, True), ("off", False)])
def test_database_engine_honours_the_setting(monkeypatch, pg_cluster, setting, expected):
    monkeypatch.delenv("GEO_CRM_POOL_PRE_PING", raising=False)
    config = {"DATABASE_URL": pg_cluster.url, "GEO_CRM_AUTO_MIGRATE": False}
    if setting is not None:
        config["GEO_CRM_POOL_PRE_PING"] = setting
    db = Database(config)
    try:
        engine = db.raw_engine()
        assert engine.pool._pre_ping is expected
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        db.dispose()
