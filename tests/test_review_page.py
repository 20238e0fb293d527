"""The review queue page (#16.6): a map of every flagged tag's old and new positions, and a
suspected duplicate named by name and code (only one the manager may see)."""

from __future__ import annotations

import json
import re

from auth_helpers import (
    add_outlet,
    add_token,
    outlet_row,
    signed_in_client,
    tag_body,
    token_client,
)

pytest_plugins = ["auth_fixtures"]  # auth_app, aapp, aclient, world

API = "/api/v1"


def _tag_a1_next_to(aapp, connection, world, code, rep):
    add_outlet(connection, code, lon=120.2503, lat=30.2503, name="好又多超市（二店）", rep=rep)
    rep1 = token_client(aapp, add_token(connection, world["r1"]))
    body = tag_body(30.25, 120.25, outlet_row(connection, "A1").version)
    response = rep1.put(f"{API}/outlets/A1/location", json=body)
    assert response.get_json()["event"]["state"] == "flagged"


def _config(page: str) -> dict:
    raw = re.search(r'<script type="application/json" id="review-config">(.*?)</script>', page)
    return json.loads(raw.group(1))


def test_the_review_page_maps_old_and_new_and_names_the_duplicate(aapp, connection, world):
    _tag_a1_next_to(aapp, connection, world, "X1", world["r1"])  # in C1: manager1 sees it
    page = signed_in_client(aapp, "manager1").get("/review?lang=en").get_data(as_text=True)
    assert 'id="review-map"' in page and "/static/review.js" in page
    assert "好又多超市（二店） · X1" in page  # name and code, not the code alone
    (event,) = _config(page)["events"]
    assert event["outlet"] == "A1" and event["name"] == "好又多超市"
    assert event["old"] == [30.2, 120.2] and event["new"] == [30.25, 120.25]


def test_a_duplicate_outside_the_reviewers_scope_stays_unnamed(aapp, connection, world):
    _tag_a1_next_to(aapp, connection, world, "X9", world["r2"])
    # X9 lies in C1 too: manager1 sees it; make it invisible by moving it to P2
    connection.exec_driver_sql(
        "UPDATE outlets SET location = ST_SetSRID(ST_MakePoint(122.5, 30.5), 4326) "
        "WHERE code = 'X9'"
    )
    page = signed_in_client(aapp, "manager1").get("/review?lang=en").get_data(as_text=True)
    assert "二店" not in page
    admin = signed_in_client(aapp, "admin1").get("/review?lang=en").get_data(as_text=True)
    assert "好又多超市（二店） · X9" in admin


def test_an_empty_queue_draws_no_map(aapp, connection, world):
    page = signed_in_client(aapp, "manager1").get("/review?lang=en").get_data(as_text=True)
    assert 'id="empty"' in page and 'id="review-map"' not in page and "review.js" not in page
