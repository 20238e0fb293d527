"""Geotagging over HTTP: accepted, rejected (422 naming the field), flagged, stale, history,
reviews."""

from __future__ import annotations

import datetime as dt

import pytest
from auth_helpers import (
    API,
    add_outlet,
    add_token,
    bearer_client,
    events,
    outlet_row,
    signed_in_client,
    tag_body,
    token_client,
)
from sqlalchemy import text

from geo_crm import coords
from geo_crm.domain.geotagging import name_similarity, normalise_name

pytest_plugins = ["auth_fixtures"]  # auth_app, aapp, aclient, world


@pytest.fixture
def rep1(aapp, connection, world):
    token = add_token(connection, world["r1"])
    return token_client(aapp, token)


@pytest.fixture
def m1(aapp, connection, world):
    token = add_token(connection, world["m1"])
    return token_client(aapp, token)


def put(client, code, body):
    return client.put(f"{API}/outlets/{code}/location", json=body)


def test_accepted_tag_moves_the_outlet_and_writes_an_event(rep1, connection, world):
    before = outlet_row(connection, "A1")
    response = put(rep1, "A1", tag_body(30.2005, 120.2004, before.version))
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    assert data["event"]["state"] == "accepted" and data["flags"] == []
    assert data["outlet"]["version"] == before.version + 1
    assert data["outlet"]["region"] == "C1"
    after = outlet_row(connection, "A1")
    assert (round(after.lon, 6), round(after.lat, 6)) == (120.2004, 30.2005)
    (event,) = events(connection, "A1")
    assert event.state == "accepted" and event.user_id == world["r1"] and event.source == "gps"
    assert event.accuracy_m == 12.0 and event.crs == "wgs84" and event.captured_at is not None
    assert round(event.old_lon, 6) == 120.2 and round(event.new_lon, 6) == 120.2004


def test_first_tag_of_an_untagged_outlet(rep1, connection):
    response = put(
        rep1,
        "A2",
        tag_body(
            30.25, 120.25, outlet_row(connection, "A2").version, source="map", accuracy_m=None
        ),
    )
    assert response.status_code == 200, response.get_json()
    (event,) = events(connection, "A2")
    assert event.old_location is None and event.accuracy_m is None and event.source == "map"


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_chinese_coordinate_systems_are_converted_to_wgs84(rep1, connection, crs):
    lon, lat = 120.21, 30.21
    sent = coords.from_wgs84(lon, lat, crs)
    body = tag_body(float(sent[1]), float(sent[0]), outlet_row(connection, "A1").version, crs=crs)
    assert put(rep1, "A1", body).status_code == 200
    after = outlet_row(connection, "A1")
    assert abs(after.lon - lon) < 1e-6 and abs(after.lat - lat) < 1e-6  # < 0.1 m
    assert events(connection, "A1")[-1].crs == crs


REJECTIONS = [
    ("missing lat", lambda b: b.pop("lat"), "body.lat"),
    ("missing captured_at", lambda b: b.pop("captured_at"), "body.captured_at"),
    ("missing version", lambda b: b.pop("version"), "body.version"),
    ("lat out of range", lambda b: b.update(lat=91.0), "body.lat"),
    ("lon out of range", lambda b: b.update(lon=-180.5), "body.lon"),
    ("lat a string", lambda b: b.update(lat="30.2"), "body.lat"),
    ("lat a boolean", lambda b: b.update(lat=True), "body.lat"),
    ("null island", lambda b: b.update(lat=0.0, lon=0.0), "body.lat"),
    ("accuracy too poor", lambda b: b.update(accuracy_m=350.0), "body.accuracy_m"),
    ("negative accuracy", lambda b: b.update(accuracy_m=-1.0), "body.accuracy_m"),
    ("gps without accuracy", lambda b: b.pop("accuracy_m"), "body.accuracy_m"),
    ("unknown crs", lambda b: b.update(crs="epsg3857"), "body.crs"),
    ("unknown source", lambda b: b.update(source="import"), "body.source"),
    ("outside every region", lambda b: b.update(lat=10.0, lon=10.0), "body.lat"),
    (
        "future capture",
        lambda b: b.update(
            captured_at=(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
        ),
        "body.captured_at",
    ),
    (
        "naive capture time",
        lambda b: b.update(captured_at="2024-05-01T10:00:00"),
        "body.captured_at",
    ),
    ("unknown field", lambda b: b.update(altitude=12), "body.altitude"),
]


@pytest.mark.parametrize("case, change, field", REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_rejections_name_the_field_and_write_nothing(rep1, connection, case, change, field):
    before = outlet_row(connection, "A1")
    body = tag_body(30.2005, 120.2004, before.version)
    change(body)
    response = put(rep1, "A1", body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"], response.get_json()
    assert outlet_row(connection, "A1") == before
    assert events(connection, "A1") == []


@pytest.mark.parametrize("raw", ['{"lat": NaN', '{"lat": Infinity', '{"lat": 1e400'])
def test_non_finite_numbers_are_rejected(rep1, connection, raw):
    body = tag_body(30.2, 120.2, outlet_row(connection, "A1").version)
    text_ = (
        raw + f', "lon": 120.2, "accuracy_m": 5, "source": "gps", '
        f'"captured_at": "{body["captured_at"]}", "version": {body["version"]:d}}}'
    )
    response = rep1.put(f"{API}/outlets/A1/location", data=text_, content_type="application/json")
    assert response.status_code == 422
    assert "body.lat" in response.get_json()["error"]["fields"]
    assert events(connection, "A1") == []


def test_small_clock_skew_is_tolerated(rep1, connection):
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)).isoformat()
    body = tag_body(30.2005, 120.2004, outlet_row(connection, "A1").version, captured_at=soon)
    assert put(rep1, "A1", body).status_code == 200


def test_accuracy_limit_is_configurable(aapp, rep1, connection, settings_override):
    settings_override(aapp, GEO_CRM_MAX_ACCURACY_M=10)
    response = put(rep1, "A1", tag_body(30.2005, 120.2004, outlet_row(connection, "A1").version))
    assert (
        response.status_code == 422
        and "10 m limit" in response.get_json()["error"]["fields"]["body.accuracy_m"]
    )


def _flags(response):
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    assert data["event"]["state"] == "flagged"
    return {f["code"]: f for f in data["flags"]}


def test_outside_current_region_is_flagged_and_applied(rep1, connection):
    # C1 -> C2, also more than 2 km
    flags = _flags(put(rep1, "A1", tag_body(30.2, 120.6, outlet_row(connection, "A1").version)))
    assert set(flags) == {"outside_region", "jump"}
    assert "C1" in flags["outside_region"]["message"]
    assert flags["jump"]["detail"]["distance_m"] > 30_000
    assert outlet_row(connection, "A1").lon == pytest.approx(120.6)
    event = events(connection, "A1")[-1]
    assert event.state == "flagged" and sorted(f.split(":")[0] for f in event.flags) == [
        "jump",
        "outside_region",
    ]


def test_jump_inside_the_region_is_flagged(rep1, connection):
    flags = _flags(
        put(rep1, "A1", tag_body(30.23, 120.2, outlet_row(connection, "A1").version))
    )  # ~3.3 km north
    assert set(flags) == {"jump"}
    assert "m from the current location" in flags["jump"]["message"]


def test_jump_limit_is_configurable(aapp, rep1, connection, settings_override):
    settings_override(aapp, GEO_CRM_MAX_JUMP_M=5000)
    response = put(rep1, "A1", tag_body(30.23, 120.2, outlet_row(connection, "A1").version))
    assert response.get_json()["event"]["state"] == "accepted"


def test_similar_name_nearby_is_a_possible_duplicate(rep1, connection, world):
    add_outlet(
        connection, "X1", lon=120.2503, lat=30.2503, name="好又多超市（二店）", rep=world["r1"]
    )  # ~45 m from the tag, the rep's own
    add_outlet(
        connection, "X2", lon=120.2502, lat=30.2501, name="联华便利"
    )  # near but a different name
    add_outlet(connection, "X3", lon=120.26, lat=30.26, name="好又多")  # same name, ~1.4 km away
    add_outlet(connection, "X4", lon=120.2501, lat=30.2501, name="好又多", status="closed")
    flags = _flags(put(rep1, "A1", tag_body(30.25, 120.25, outlet_row(connection, "A1").version)))
    assert set(flags) == {"possible_duplicate", "jump"}
    assert flags["possible_duplicate"]["detail"]["outlet"] == "X1"
    assert "possibly the same shop" in flags["possible_duplicate"]["message"]


def test_a_possible_duplicate_outside_the_taggers_scope_is_not_named(rep1, aapp, connection, world):
    """The flag is raised (a manager reviews it) but the rep learns neither code nor name of an
    outlet they may not see; the reviewer who may see it does."""
    add_outlet(
        connection, "X9", lon=120.2503, lat=30.2503, name="好又多超市（二店）", rep=world["r2"]
    )
    response = put(rep1, "A1", tag_body(30.25, 120.25, outlet_row(connection, "A1").version))
    body = response.get_json()
    flags = _flags(response)
    assert flags["possible_duplicate"]["detail"] == {}
    assert "X9" not in response.get_data(as_text=True)
    assert "二店" not in response.get_data(as_text=True)
    assert "possible_duplicate:" in body["event"]["flags"]
    history = rep1.get("/api/v1/outlets/A1/location-history").get_data(as_text=True)
    assert "X9" not in history
    admin = token_client(aapp, add_token(connection, world["admin"]))
    queue = admin.get("/api/v1/geotag-reviews").get_json()
    assert any("possible_duplicate:X9" in e["flags"] for e in queue)


def test_name_normalisation_and_similarity():
    assert normalise_name("好又多 超市（二店）") == "好又多二"
    assert name_similarity("好又多超市", "好又多超市（二店）") == 1.0
    assert name_similarity("Ｗａｌｍａｒｔ Store", "walmart") == 1.0
    assert name_similarity("联华便利", "好又多") < 0.3
    assert name_similarity("张记烟酒", "张记烟酒行") >= 0.6


def test_stale_version_gets_409_with_the_current_state_and_writes_nothing(rep1, connection):
    before = outlet_row(connection, "A1")
    response = put(
        rep1, "A1", tag_body(30.2005, 120.2004, before.version - 1 if before.version > 1 else 99)
    )
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "version_conflict" and "body.version" in error["fields"]
    current = error["detail"]["current"]
    assert current["version"] == before.version and current["location"]["lon"] == pytest.approx(
        120.2
    )
    assert outlet_row(connection, "A1") == before and events(connection, "A1") == []


def test_second_tag_with_the_same_version_conflicts(rep1, connection):
    version = outlet_row(connection, "A1").version
    assert put(rep1, "A1", tag_body(30.2005, 120.2004, version)).status_code == 200
    assert put(rep1, "A1", tag_body(30.2006, 120.2006, version)).status_code == 409
    assert len(events(connection, "A1")) == 1


def test_location_history_newest_first(rep1, connection):
    version = outlet_row(connection, "A1").version
    first = put(rep1, "A1", tag_body(30.2005, 120.2004, version)).get_json()
    put(rep1, "A1", tag_body(30.2006, 120.2006, first["outlet"]["version"]))
    history = rep1.get(f"{API}/outlets/A1/location-history").get_json()
    assert [h["state"] for h in history] == ["accepted", "accepted"]
    assert history[0]["new_location"]["lon"] == pytest.approx(120.2006)
    assert history[1]["old_location"]["lon"] == pytest.approx(120.2)
    assert history[0]["user"] == "rep1" and history[0]["moved_m"] > 0
    assert (
        rep1.get(f"{API}/outlets/A1/location-history?limit=1").get_json()[0]["id"]
        == history[0]["id"]
    )


def test_reps_cannot_see_or_tag_other_reps_outlets(rep1, connection):
    before = outlet_row(connection, "B1")
    for response in (
        put(rep1, "B1", tag_body(30.3, 120.3, before.version)),
        rep1.get(f"{API}/outlets/B1/location-history"),
        put(rep1, "NOPE", tag_body(30.3, 120.3, 1)),
    ):
        assert response.status_code == 404
    assert outlet_row(connection, "B1") == before


def test_rep_sees_outlets_they_created(rep1, connection):
    assert (
        put(
            rep1, "N1", tag_body(30.7001, 120.7001, outlet_row(connection, "N1").version)
        ).status_code
        == 200
    )


def test_manager_scope_follows_the_region_tree(m1, aapp, connection, world):
    assert (
        put(m1, "A1", tag_body(30.2005, 120.2004, outlet_row(connection, "A1").version)).status_code
        == 200
    )
    assert (
        put(m1, "N1", tag_body(30.7, 120.7, outlet_row(connection, "N1").version)).status_code
        == 404
    )  # C2
    assert (
        put(m1, "B2", tag_body(30.5, 122.5, outlet_row(connection, "B2").version)).status_code
        == 404
    )
    assert put(m1, "A2", tag_body(30.2, 120.2, 1)).status_code == 404  # untagged: no region yet


# -- reviews ---------------------------------------------------------------------------------------


def _flag_a1(rep1, connection, lat=30.23, lon=120.2):
    response = put(rep1, "A1", tag_body(lat, lon, outlet_row(connection, "A1").version))
    assert response.get_json()["event"]["state"] == "flagged"
    return response.get_json()["event"]["id"]


def test_review_queue_accept(rep1, m1, connection, world):
    event_id = _flag_a1(rep1, connection)
    queue = m1.get(f"{API}/geotag-reviews").get_json()
    assert [e["id"] for e in queue] == [event_id] and queue[0]["flags"][0].startswith("jump:")
    decided = m1.post(f"{API}/geotag-reviews/{event_id}/accept")
    assert decided.status_code == 200, decided.get_json()
    assert decided.get_json()["event"]["state"] == "accepted"
    assert decided.get_json()["event"]["reviewed_by"] == "manager1"
    assert outlet_row(connection, "A1").lat == pytest.approx(30.23)
    assert m1.get(f"{API}/geotag-reviews").get_json() == []
    assert m1.post(f"{API}/geotag-reviews/{event_id}/reject").status_code == 409  # decided already


def test_review_reject_restores_the_previous_location(rep1, m1, connection, world):
    event_id = _flag_a1(rep1, connection)
    version = outlet_row(connection, "A1").version
    decided = m1.post(f"{API}/geotag-reviews/{event_id}/reject").get_json()
    assert decided["restored"] is True and decided["event"]["state"] == "rejected"
    after = outlet_row(connection, "A1")
    assert (after.lon, after.lat) == pytest.approx((120.2, 30.2)) and after.version == version + 1
    event = events(connection, "A1")[-1]
    assert event.reviewed_by_id == world["m1"] and event.reviewed_at is not None
    history = rep1.get(f"{API}/outlets/A1/location-history").get_json()
    assert history[0]["state"] == "rejected"


def test_reject_after_a_later_tag_keeps_the_later_location(rep1, m1, connection):
    event_id = _flag_a1(rep1, connection)
    put(rep1, "A1", tag_body(30.2301, 120.2001, outlet_row(connection, "A1").version))
    decided = m1.post(f"{API}/geotag-reviews/{event_id}/reject").get_json()
    assert decided["restored"] is False
    assert outlet_row(connection, "A1").lat == pytest.approx(30.2301)


def test_tag_that_leaves_a_managers_region_still_reaches_that_manager(
    rep1, m1, aapp, connection, world
):
    _flag_a1(rep1, connection, lat=30.2, lon=120.6)  # C1 -> C2
    assert len(m1.get(f"{API}/geotag-reviews").get_json()) == 1
    m2 = bearer_client(aapp, connection, username="m2x", role="manager")
    assert m2.get(f"{API}/geotag-reviews").get_json() == []


def test_reviews_are_scoped(rep1, aapp, connection, world):
    event_id = _flag_a1(rep1, connection)
    token = add_token(connection, world["m2"])
    m2 = token_client(aapp, token)
    assert m2.get(f"{API}/geotag-reviews").get_json() == []
    assert m2.post(f"{API}/geotag-reviews/{event_id}/accept").status_code == 404
    assert rep1.get(f"{API}/geotag-reviews").status_code == 403


def test_review_page_accept_and_reject_with_forms(rep1, aapp, connection, world):
    event_id = _flag_a1(rep1, connection)
    manager = signed_in_client(aapp, "manager1")
    page = manager.get("/review").get_data(as_text=True)
    assert f'data-event="{event_id}"' in page and "好又多超市" in page
    assert manager.post(f"/review/{event_id}/reject").status_code == 400  # no CSRF token
    done = manager.post(f"/review/{event_id}/reject", data={"csrf_token": manager.csrf})
    assert done.status_code == 302 and "done=restored" in done.headers["Location"]
    assert 'id="empty"' in manager.get("/review?lang=en").get_data(as_text=True)


# -- the rep's list, parents and new outlets -------------------------------------------------------


def test_my_outlets_untagged_first_then_nearest(rep1, connection, world):
    add_outlet(connection, "A3", lon=120.4, lat=30.4, rep=world["r1"], name="远处小店")
    listed = rep1.get(f"{API}/tag/outlets?lat=30.41&lon=120.41").get_json()
    assert [o["code"] for o in listed] == ["A2", "A3", "A1", "N1"]
    assert listed[0]["location"] is None and listed[1]["distance_m"] < listed[2]["distance_m"]
    assert [o["code"] for o in rep1.get(f"{API}/tag/outlets?q=好又多").get_json()] == ["A1"]
    assert rep1.get(f"{API}/tag/outlets?lat=30").status_code == 422


def test_parent_candidates_are_higher_tiers_in_my_network(rep1, connection):
    add_outlet(connection, "D9", "distributor", lon=120.2, lat=30.2, name="别人的总经销")
    parents = rep1.get(f"{API}/tag/parents?tier=retail").get_json()
    assert [p["code"] for p in parents] == ["D1"]
    assert rep1.get(f"{API}/tag/parents?tier=distributor").get_json() == []


def test_new_outlet_here(rep1, connection, world):
    body = tag_body(
        30.33, 120.33, 1, name="新开便利店", tier="retail", parent_code="D1", notes="门口有红灯笼"
    )
    del body["version"]
    response = rep1.post(f"{API}/tag/outlets", json=body)
    assert response.status_code == 201, response.get_json()
    code = response.get_json()["outlet"]["code"]
    row = connection.execute(
        text(
            "SELECT rep_id, created_by_id, tier, notes, region_id IS NOT NULL AS placed, "
            "(SELECT code FROM outlets p WHERE p.id = o.parent_id) AS parent "
            "FROM outlets o WHERE code = :c"
        ),
        {"c": code},
    ).one()

    assert row == (world["r1"], world["r1"], "retail", "门口有红灯笼", True, "D1")
    (event,) = events(connection, code)
    assert event.state == "accepted" and event.old_location is None
    assert code in [o["code"] for o in rep1.get(f"{API}/tag/outlets").get_json()]


def test_new_outlet_next_to_a_similar_one_is_flagged(rep1, connection):
    body = tag_body(30.2001, 120.2001, 1, name="好又多", tier="retail")
    del body["version"]
    response = rep1.post(f"{API}/tag/outlets", json=body)
    assert response.status_code == 201
    assert [f["code"] for f in response.get_json()["flags"]] == ["possible_duplicate"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"parent_code": "B1"}, "body.parent_code"),  # not in my network
        ({"lat": 10.0, "lon": 10.0}, "body.lat"),
        ({"tier": "shop"}, "body.tier"),
        ({"name": ""}, "body.name"),
    ],
)
def test_new_outlet_rejections(rep1, connection, change, field):
    body = tag_body(30.33, 120.33, 1, name="新开便利店", tier="retail")
    del body["version"]
    body.update(change)
    response = rep1.post(f"{API}/tag/outlets", json=body)
    assert response.status_code == 422 and field in response.get_json()["error"]["fields"]


def test_manager_adds_outlets_only_inside_their_regions(m1, connection):
    body = tag_body(30.7, 120.7, 1, name="新店", tier="retail")
    del body["version"]
    response = m1.post(f"{API}/tag/outlets", json=body)
    assert response.status_code == 422 and "your regions" in response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    "lang, sentence",
    [("en", "An outlet with a similar name lies nearby"), ("zh", "附近有名称相近的网点")],
)
def test_flags_read_as_one_sentence_per_kind_on_the_tag_page_and_in_review(
    aapp, connection, world, lang, sentence
):
    """The tag page gets each flag kind's sentence in its language (tag.js shows each kind once,
    however many outlets raised it); the review queue shows the same sentence, not the code."""
    import json
    import re

    from auth_helpers import signed_in_client

    connection.execute(
        text("UPDATE users SET locale = :l WHERE username IN ('rep1', 'manager1')"), {"l": lang}
    )
    page = signed_in_client(aapp, "rep1").get("/tag").get_data(as_text=True)
    config = json.loads(re.search(r'id="tag-config"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert sentence in config["flags"]["possible_duplicate"]
    event = connection.execute(
        text(
            "INSERT INTO geotag_events (outlet_id, new_location, source, state, flags) "
            "SELECT id, location, 'gps', 'flagged', "
            "'{possible_duplicate:A1,possible_duplicate:B1}' FROM outlets WHERE code = 'A1' "
            "RETURNING id"
        )
    ).scalar_one()
    review = signed_in_client(aapp, "manager1").get("/review").get_data(as_text=True)
    row = review[review.index(f'data-event="{event}"') :]
    assert sentence in row and "possible_duplicate" not in row


def test_the_tag_page_sends_exactly_the_phrases_its_script_uses(aapp, connection, world):
    """Each t("…") of static/tag.js is in the page's string block and has Chinese; the block
    holds nothing else. The page sends them in the page's language."""
    import json
    import re
    from pathlib import Path

    from geo_crm.i18n import ZH
    from geo_crm.web.tag import SCRIPT_STRINGS

    script = (Path(__file__).resolve().parent.parent / "geo_crm" / "static" / "tag.js").read_text(
        encoding="utf-8"
    )
    used = set(re.findall(r'\bt\(\s*"((?:[^"\\]|\\.)*)"', script))
    assert len(used) > 15  # the scan found the calls
    assert not re.findall(r"\bt\(\s*'", script), 'tag.js: write t("…") with double quotes'
    assert used == set(SCRIPT_STRINGS) and len(SCRIPT_STRINGS) == len(used)
    assert not [phrase for phrase in SCRIPT_STRINGS if phrase not in ZH]

    connection.execute(text("UPDATE users SET locale = 'zh' WHERE username = 'rep1'"))
    page = signed_in_client(aapp, "rep1").get("/tag").get_data(as_text=True)
    config = json.loads(re.search(r'id="tag-config"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert config["strings"] == {phrase: ZH[phrase] for phrase in SCRIPT_STRINGS}
