"""Evaluations of distributors: reach stored with them, score under versioned weights, class."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from auth_helpers import add_token, token_client
from sqlalchemy import text

from geo_crm.domain import evaluations as ev

pytest_plugins = ["auth_fixtures"]

API = "/api/v1"


@pytest.fixture
def judged(connection, world):
    connection.execute(
        text(
            "INSERT INTO outlets (code, name, tier, location, rep_id) VALUES "
            "('D2', 'SECRET-D2', 'distributor', ST_SetSRID(ST_MakePoint(122.4, 30.4), 4326), :r)"
        ),
        {"r": world["r2"]},
    )
    connection.execute(
        text("INSERT INTO products (sku, name, unit) VALUES ('SKU1', '啤酒', 'case')")
    )
    return world


@pytest.fixture
def admin(aapp, connection, judged):
    return token_client(aapp, add_token(connection, judged["admin"]))


@pytest.fixture
def manager(aapp, connection, judged):
    return token_client(aapp, add_token(connection, judged["m1"]))


BODY = {
    "initiative": 4,
    "credit": 5,
    "capital": "2500000.00",
    "brands_carried": ["青岛", "雪花"],
    "warehouses": 2,
    "warehouse_area_m2": 1000,
    "vehicles": 5,
    "staff": 15,
    "social_relations": "与县商务局关系良好",
    "notes": "旺季备货充足",
}


def _count(connection) -> int:
    return connection.execute(text("SELECT count(*) FROM evaluations")).scalar_one()


def test_an_evaluation_stores_its_reach_and_is_scored(manager, connection):
    response = manager.post(f"{API}/distributors/D1/evaluations", json=BODY)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["distributor_code"] == "D1" and body["evaluated_on"] == dt.date.today().isoformat()
    assert body["evaluator"] == "manager1"
    # the network: A1 and A2 are active retail outlets below D1 (A2 untagged)
    assert body["reach"]["by_tier"]["retail"] == 2 and body["reach"]["outlets"] == 2
    assert body["reach"]["km2"] is not None and body["reach"]["km2"] > 0
    assert body["reach"]["territory"] == "C1"
    stored = connection.execute(
        text("SELECT reach_outlets, reach_by_tier, reach_territory FROM evaluations")
    ).one()
    assert stored.reach_outlets == 2 and stored.reach_by_tier["retail"] == 2
    # initiative 4 -> 75, credit 5 -> 100, capability (0.5+0.5+0.5+0.5+0.4)/5 -> 48,
    # reach 2/300 -> 0.667; weights 0.25/0.25/0.30/0.20
    assert body["scores"] == {
        "initiative": 75.0,
        "capability": 48.0,
        "credit": 100.0,
        "reach": pytest.approx(0.67, abs=0.01),
    }
    expected = 0.25 * 75 + 0.25 * 48 + 0.30 * 100 + 0.20 * 100 * 2 / 300
    assert body["score"] == pytest.approx(expected, abs=0.01)
    listed = manager.get(f"{API}/distributors/D1/evaluations").get_json()["items"]
    assert [e["id"] for e in listed] == [body["id"]]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"initiative": 6}, "body.initiative"),
        ({"credit": 0}, "body.credit"),
        (
            {"evaluated_on": (dt.date.today() + dt.timedelta(days=2)).isoformat()},
            "body.evaluated_on",
        ),
        ({"capital": "-1"}, "body.capital"),
        ({"vehicles": -1}, "body.vehicles"),
    ],
)
def test_bad_evaluations_name_the_field_and_write_nothing(manager, connection, change, field):
    response = manager.post(f"{API}/distributors/D1/evaluations", json={**BODY, **change})
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert _count(connection) == 0


def test_an_evaluation_of_another_tier_is_refused(admin, connection):
    response = admin.post(f"{API}/distributors/A1/evaluations", json=BODY)
    assert response.status_code == 422
    assert "not a distributor" in str(response.get_json()["error"]["fields"])
    assert _count(connection) == 0


def test_the_database_refuses_a_future_evaluation(sql, judged):
    with pytest.raises(Exception, match="after today"):
        sql(
            "INSERT INTO evaluations (distributor_id, evaluated_on, initiative, credit) "
            "SELECT id, current_date + 1, 3, 3 FROM outlets WHERE code = 'D1'"
        )


def test_new_weights_rescore_history_on_read(admin, manager, connection):
    manager.post(f"{API}/distributors/D1/evaluations", json=BODY)
    before = manager.get(f"{API}/distributors/D1/evaluations").get_json()["items"][0]
    refused = manager.put(f"{API}/evaluation-weights", json={"initiative": 1, "capability": 0,
                                                             "credit": 0, "reach": 0})  # fmt: skip
    assert refused.status_code == 403
    zero = admin.put(
        f"{API}/evaluation-weights",
        json={"initiative": 0, "capability": 0, "credit": 0, "reach": 0},
    )
    assert zero.status_code == 422 and "body.weights" in zero.get_json()["error"]["fields"]
    negative = admin.put(
        f"{API}/evaluation-weights",
        json={"initiative": -1, "capability": 1, "credit": 0, "reach": 0},
    )
    assert (
        negative.status_code == 422 and "body.initiative" in negative.get_json()["error"]["fields"]
    )
    new = admin.put(
        f"{API}/evaluation-weights",
        json={"initiative": 1, "capability": 0, "credit": 0, "reach": 0, "version": 1},
    )
    assert new.status_code == 200, new.get_json()
    assert new.get_json()["version"] == 2
    after = manager.get(f"{API}/distributors/D1/evaluations").get_json()["items"][0]
    assert before["score"] != after["score"] and after["score"] == 75.0
    assert after["weights_version"] == 2
    stale = admin.put(
        f"{API}/evaluation-weights",
        json={"initiative": 1, "capability": 1, "credit": 1, "reach": 1, "version": 1},
    )
    assert stale.status_code == 409
    history = admin.get(f"{API}/evaluation-weights").get_json()["history"]
    assert [h["version"] for h in history] == [2, 1]
    with pytest.raises(Exception, match="history"):
        connection.execute(text("UPDATE evaluation_weights SET initiative = 3"))


def test_class_from_score_and_plan_achievement(admin, connection):
    assert ev.class_of(None, 1.0) is None
    assert ev.class_of(85, 1.1) == "A"
    assert ev.class_of(85, 0.9) == "B"
    assert ev.class_of(85, None) == "A"
    assert ev.class_of(55, 0.75) == "C"
    assert ev.class_of(40, 2.0) == "D"
    response = admin.get(f"{API}/distributors/D1/class")
    assert response.status_code == 200 and response.get_json()["class"] is None
    admin.post(f"{API}/distributors/D1/evaluations", json=BODY)
    body = admin.get(f"{API}/distributors/D1/class").get_json()
    assert body["achievement"] is None  # no plan this year: the score alone decides
    assert body["class"] == ev.class_of(body["score"], None) == "C"


def test_the_cli_adds_and_lists_evaluations(cli, judged, connection):
    result = cli.invoke(args=[
        "evaluations", "add", "D1", "--initiative", "3", "--credit", "4", "--brand", "青岛",
        "--staff", "12",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _count(connection) == 1
    listed = cli.invoke(args=["evaluations", "list", "D1"])
    assert listed.exit_code == 0 and "score" in listed.output, listed.output
    bad = cli.invoke(args=["evaluations", "add", "D1", "--initiative", "9", "--credit", "4"])
    assert bad.exit_code != 0 and "initiative" in bad.output
    weights = cli.invoke(args=["evaluations", "weights", "--initiative", "1", "--capability",
                               "1", "--credit", "1", "--reach", "1"])  # fmt: skip
    assert weights.exit_code == 0, weights.output
    assert "version 2" in weights.output


def _sheet(rows: list[list[str]]) -> bytes:
    header = ["经销商编码", "评估日期", "积极性", "信誉", "资金", "经营品牌", "员工数", "备注"]
    lines = [",".join(header)] + [",".join(f'"{c}"' if "," in c else c for c in r) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _upload(client, data: bytes):
    return client.post(
        f"{API}/imports/evaluations", data={"file": (io.BytesIO(data), "evaluations.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip


def test_the_import_is_all_or_nothing_with_row_numbers(manager, connection):
    good = ["D1", "2025-03-01", "4", "5", "1000000", "青岛、雪花", "12", "ok"]
    bad = ["D1", (dt.date.today() + dt.timedelta(days=3)).isoformat(), "7", "x", "-5", "", "", ""]
    hidden = ["D2", "2025-03-01", "3", "3", "", "", "", ""]
    retail = ["A1", "2025-03-01", "3", "3", "", "", "", ""]
    response = _upload(manager, _sheet([good, bad, hidden, retail]))
    assert response.status_code == 422, response.get_json()
    fields = response.get_json()["error"]["fields"]
    assert {"rows.3.evaluated_on", "rows.3.initiative", "rows.3.credit", "rows.3.capital",
            "rows.4.distributor_code", "rows.5.distributor_code"} <= set(fields)  # fmt: skip
    assert "SECRET" not in response.get_data(as_text=True)
    assert _count(connection) == 0
    ok = _upload(manager, _sheet([good]))
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["inserted"] == 1
    row = manager.get(f"{API}/distributors/D1/evaluations").get_json()["items"][0]
    assert row["brands_carried"] == ["青岛", "雪花"] and row["staff"] == 12
    assert row["evaluator"] == "manager1" and row["reach"]["outlets"] == 2
    again = _upload(manager, _sheet([good]))
    assert again.status_code == 422 and "rows.2.evaluated_on" in again.get_json()["error"]["fields"]
    assert _count(connection) == 1


def test_the_cli_imports_evaluations(cli, judged, connection, tmp_path):
    path = tmp_path / "e.csv"
    path.write_bytes(_sheet([["D1", "2025-04-02", "3", "4", "", "", "", ""]]))
    result = cli.invoke(args=["import", "evaluations", str(path), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert _count(connection) == 1


def test_the_scorecard_page_equals_the_api_and_its_form_records(admin, connection):
    admin.post(f"{API}/distributors/D1/evaluations", json=BODY)
    api = admin.get(f"{API}/distributors/D1/scorecard").get_json()
    assert len(api["months"]) == 12 and api["months"][-1]["month"] == dt.date.today().strftime(
        "%Y-%m"
    )
    assert api["class"]["class"] == "C" and len(api["evaluations"]) == 1
    assert api["depth"]["outlets_by_tier"]["retail"] == 2
    page = admin.get("/distributors/D1/scorecard?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'id="score">{api["class"]["score"]:.1f}' in html
    assert "<svg" in html and 'id="class">C<' in html
    zh = admin.get("/distributors/D1/scorecard?lang=zh-CN").get_data(as_text=True)
    assert "经销商评分卡" in zh and "积极性" in zh
    assert 'id="scorecard-link"' in admin.get("/distributors/D1").get_data(as_text=True)


def test_the_scorecard_form_shows_errors_beside_the_fields(aapp, judged, connection):
    from auth_helpers import signed_in_client

    client = signed_in_client(aapp, "manager1")
    page = client.get("/distributors/D1/scorecard?lang=en").get_data(as_text=True)
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    bad = client.post(
        "/distributors/D1/evaluations?lang=en",
        data={"csrf_token": token, "initiative": "9", "credit": "x", "brands_carried": "a"},
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'id="e-initiative"' in html and 'id="e-credit"' in html
    assert _count(connection) == 0
    ok = client.post(
        "/distributors/D1/evaluations?lang=en",
        data={"csrf_token": token, "initiative": "4", "credit": "4", "staff": "3",
              "social_relations": "<img src=x onerror=alert(1)>"},
    )  # fmt: skip
    assert ok.status_code == 302 and "done=1" in ok.headers["Location"]
    assert _count(connection) == 1
    shown = client.get("/distributors/D1/scorecard?lang=en&done=1").get_data(as_text=True)
    assert 'id="done"' in shown and "<img src=x" not in shown
