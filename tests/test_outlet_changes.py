"""Outlet change history (客户变动): the trigger of migration 0012 and the per-region, per-month
analysis of outlets that started or stopped buying, changed supplier or closed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from geo_crm.analysis.outlet_changes import outlet_changes
from geo_crm.domain import credit
from geo_crm.domain.outlets import move_outlet, update_outlet
from geo_crm.domain.plans import next_month
from geo_crm.domain.principal import Principal
from geo_crm.errors import NotFound, ValidationError

pytest_plugins = ["auth_fixtures"]

TODAY = dt.date.today()
M = TODAY.replace(day=1)


def _id(session, code: str) -> int:
    return session.execute(text("SELECT id FROM outlets WHERE code = :c"), {"c": code}).scalar()


def _buy(session, buyer: str, month: dt.date, seller: str = "D1") -> None:
    session.execute(
        text(
            "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
            "amount) SELECT s.id, b.id, :d, p.id, 1, 10 FROM outlets s, outlets b, products p "
            "WHERE s.code = :s AND b.code = :b AND p.sku = 'SKU1'"
        ),
        {"s": seller, "b": buyer, "d": month.replace(day=5)},
    )


def _history(session, code: str) -> list:
    return session.execute(
        text(
            "SELECT c.field, c.old_value, c.new_value, u.username FROM outlet_changes c "
            "LEFT JOIN users u ON u.id = c.user_id WHERE c.outlet_id = :o ORDER BY c.id"
        ),
        {"o": _id(session, code)},
    ).all()


@pytest.fixture
def changes(session, world):
    session.execute(text("INSERT INTO products (sku, name, unit) VALUES ('SKU1', '啤酒', 'case')"))
    session.execute(
        text(
            "INSERT INTO outlets (code, name, tier, location) VALUES "
            "('D2', '第二总经销', 'distributor', ST_SetSRID(ST_MakePoint(120.4, 30.4), 4326))"
        )
    )
    return {
        "admin": Principal(world["admin"], "admin1", "admin"),
        "m1": Principal(world["m1"], "manager1", "manager"),
        "m2": Principal(world["m2"], "manager2", "manager"),
    }


def test_every_change_of_supplier_status_or_tier_is_kept_with_who(session, changes):
    a1 = _id(session, "A1")
    move_outlet(session, a1, parent_code="D2", version=None, user=changes["admin"])
    update_outlet(session, a1, version=None, changes={"name": "改名"}, user=changes["admin"])
    update_outlet(session, a1, version=None, changes={"status": "closed"}, user=changes["m1"])
    assert _history(session, "A1") == [
        ("supplier", str(_id(session, "D1")), str(_id(session, "D2")), "admin1"),
        ("status", "active", "closed", "manager1"),
    ]
    # a bulk update by the system: one row per changed outlet and field, nobody as who
    session.execute(text("SELECT set_config('geo_crm.user_id', '', true)"))
    session.execute(text("UPDATE outlets SET tier = 'wholesaler_3' WHERE code IN ('B1', 'N1')"))
    assert _history(session, "B1") == [("tier", "retail", "wholesaler_3", None)]
    assert _history(session, "N1") == [("tier", "retail", "wholesaler_3", None)]


def test_the_history_is_append_only(session, changes):
    session.execute(text("UPDATE outlets SET status = 'inactive' WHERE code = 'B1'"))
    with pytest.raises(DBAPIError) as exc:
        with session.begin_nested():
            session.execute(text("UPDATE outlet_changes SET new_value = 'active'"))
    assert exc.value.orig.diag.constraint_name == "outlet_changes_append_only"


def test_an_outlet_import_records_who_changed_the_supplier(session, changes):
    from geo_crm.io.imports.outlets import import_outlets

    csv = "code,name,tier,parent\nA1,好又多超市,retail,D2\n".encode()
    report = import_outlets(session, csv, name="o.csv", user_id=changes["m1"].id)
    assert report.updated == 1
    assert _history(session, "A1") == [
        ("supplier", str(_id(session, "D1")), str(_id(session, "D2")), "manager1")
    ]


def test_started_stopped_supplier_and_closed_per_month(session, changes):
    for buyer, back in (("A1", 6), ("A1", 5), ("B1", 2), ("N1", 8), ("N1", 4)):
        _buy(session, buyer, next_month(M, -back))
    move_outlet(session, _id(session, "A1"), parent_code="D2", version=None, user=changes["m1"])
    update_outlet(session, _id(session, "B1"), version=None, changes={"status": "closed"})

    result = outlet_changes(session, "P1", as_of=TODAY)
    by_month = {m.month: m for m in result.months}
    assert len(result.months) == 12 and result.month_to == M and result.stopped_months == 3
    assert by_month[next_month(M, -6)].started == 1  # A1
    assert by_month[next_month(M, -8)].started == 1  # N1
    assert by_month[next_month(M, -2)].started == 1  # B1
    # A1 last bought at M-5: stopped at M-2; N1 at M-8 then M-4: stopped at M-5 and M-1
    assert by_month[next_month(M, -2)].stopped == 1
    assert by_month[next_month(M, -5)].stopped == 1
    assert by_month[next_month(M, -1)].stopped == 1
    assert by_month[M].supplier == 1 and by_month[M].closed == 1
    assert result.totals() == {"started": 3, "stopped": 3, "supplier": 1, "closed": 1}
    supplier = next(e for e in result.events if e.kind == "supplier")
    assert (supplier.outlet_code, supplier.old_value, supplier.new_value) == ("A1", "D1", "D2")
    assert supplier.changed_by == "manager1" and supplier.changed_at is not None
    closed = next(e for e in result.events if e.kind == "closed")
    assert (closed.outlet_code, closed.old_value, closed.new_value) == ("B1", "active", "closed")
    stopped = [e for e in result.events if e.kind == "stopped" and e.outlet_code == "A1"]
    assert stopped[0].last_purchase == next_month(M, -5)
    assert result.to_dict()["totals"]["stopped"] == 3

    # N from the setting: 4 months without a purchase
    credit.set_setting(session, "stopped_buying_months", "4", user=changes["admin"])
    four = outlet_changes(session, "P1", as_of=TODAY)
    assert four.stopped_months == 4
    assert [(e.outlet_code, e.month) for e in four.events if e.kind == "stopped"] == [
        ("A1", next_month(M, -1))
    ]
    # only C2 (N1's city), only some kinds, a short list
    c2 = outlet_changes(session, "C2", as_of=TODAY, kinds=["stopped"], stopped_months=3)
    assert {e.outlet_code for e in c2.events} == {"N1"} and c2.totals()["started"] == 0
    short = outlet_changes(session, "P1", as_of=TODAY, limit=2)
    assert len(short.events) == 2 and short.total == 6 and short.truncated  # N = 4: one stop


def test_bad_input_names_the_field_and_scope_hides_regions(session, changes):
    cases = [
        ({"month_from": "2026-13"}, "from_month"),
        ({"month_to": "June"}, "to_month"),
        ({"month_from": "2026-06", "month_to": "2026-01"}, "from_month"),
        ({"month_from": "2010-01", "month_to": "2026-01"}, "from_month"),
        ({"stopped_months": 0}, "months"),
        ({"kinds": ["moved"]}, "kind"),
        ({"limit": 0}, "limit"),
    ]
    for kwargs, name in cases:
        with pytest.raises(ValidationError) as exc:
            outlet_changes(session, "P1", **kwargs)
        assert name in exc.value.fields, kwargs
    with pytest.raises(NotFound):
        outlet_changes(session, "P1", user=changes["m2"])
    with pytest.raises(NotFound):
        outlet_changes(session, "NOPE")
    assert outlet_changes(session, "C1", user=changes["m1"]).region_code == "C1"
    with pytest.raises(ValidationError) as exc:
        credit.set_setting(session, "stopped_buying_months", "0", user=None)
    assert "value" in exc.value.fields


# -- API ----------------------------------------------------------------------------------


def test_the_api_lists_changes_per_month_and_names_bad_parameters(session, changes, client):
    _buy(session, "A1", next_month(M, -1))
    move_outlet(session, _id(session, "A1"), parent_code="D2", version=None, user=changes["admin"])
    body = client.get("/api/v1/regions/P1/outlet-changes?kind=started,supplier").get_json()
    assert body["from"] == next_month(M, -11).strftime("%Y-%m") and body["stopped_months"] == 3
    assert body["totals"] == {"started": 1, "stopped": 0, "supplier": 1, "closed": 0}
    supplier = next(e for e in body["events"] if e["kind"] == "supplier")
    assert supplier["old_value"] == "D1" and supplier["new_value"] == "D2"
    assert supplier["changed_by"] == "admin1"
    for query, name in (
        ("from_month=2026-00", "query.from_month"),
        ("months=99", "query.months"),
        ("kind=moved", "query.kind"),
        ("from_month=2026-05&to_month=2026-01", "query.from_month"),
    ):
        response = client.get(f"/api/v1/regions/P1/outlet-changes?{query}")
        assert response.status_code == 422, query
        assert any(f.startswith(name) for f in response.get_json()["error"]["fields"]), query
    assert client.get("/api/v1/regions/NOPE/outlet-changes").status_code == 404


# -- CLI ----------------------------------------------------------------------------------


def test_the_cli_prints_the_months_and_names_bad_options(session, changes, cli):
    _buy(session, "N1", next_month(M, -1))
    result = cli.invoke(args=["analyse", "outlet-changes", "P1", "--events"])
    assert result.exit_code == 0, result.output
    assert "started" in result.output and "N1" in result.output and "新发现小店" in result.output
    as_json = cli.invoke(args=["analyse", "outlet-changes", "C2", "--json", "--kind", "started"])
    assert '"started": 1' in as_json.output
    bad = cli.invoke(args=["analyse", "outlet-changes", "P1", "--from", "2026-13"])
    assert bad.exit_code == 1 and "from_month" in bad.output
    hidden = cli.invoke(args=["analyse", "outlet-changes", "P1", "--as", "manager2"])
    assert hidden.exit_code == 1 and "no region" in hidden.output


# -- page and map ---------------------------------------------------------------------------


def test_the_page_shows_months_events_and_a_map_with_a_layer_per_kind(session, changes, app):
    from auth_helpers import signed_in_client

    _buy(session, "A1", next_month(M, -1))
    session.execute(
        text("UPDATE outlets SET name = '<img src=x onerror=alert(1)>' WHERE code = 'A1'")
    )
    update_outlet(session, _id(session, "B1"), version=None, changes={"status": "closed"},
                  user=changes["m1"])  # fmt: skip
    manager = signed_in_client(app, "manager1")
    page = manager.get("/regions/C1/changes?lang=zh-CN")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "客户变动" in html and "新开户（首次进货）" in html and 'id="events"' in html
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert 'data-kind="closed"' in html and "manager1" in html
    assert "/maps/outlet-changes/C1?" in html
    assert manager.get("/regions/P2/changes").status_code == 404  # outside the manager's regions

    map_html = manager.get("/maps/outlet-changes/C1?lang=en").get_data(as_text=True)
    assert "Started buying (1)" in map_html and "Closed (1)" in map_html
    assert "<img src=x" not in map_html

    bad = manager.get("/regions/C1/changes?from_month=2026-13&lang=en")
    assert bad.status_code == 422
    assert 'id="err-from_month"' in bad.get_data(as_text=True)
    en = manager.get("/regions/C1/changes?kind=stopped&lang=en").get_data(as_text=True)
    assert "No outlet changes in this period" in en
    assert manager.get("/maps/outlet-changes/C1?kind=stopped").status_code == 200
    region = manager.get("/regions/C1").get_data(as_text=True)
    assert 'id="changes-link"' in region
