"""Reps read the distributors above their outlets (issue 14: "reps read-only on their outlets'
distributors"): scorecard, class, evaluation history and the distributor page with its tabs,
through HTTP, for own (upstream) and other distributors; no writes; ranking stays with
managers and admins."""

from __future__ import annotations

import pytest
from auth_helpers import add_outlet, add_token, signed_in_client, token_client
from sqlalchemy import select, text

from geo_crm.domain.access import distributor_scope, outlet_scope
from geo_crm.domain.principal import Principal
from geo_crm.models import Outlet

pytest_plugins = ["auth_fixtures"]

API = "/api/v1"


@pytest.fixture
def chain(connection, world):
    """D1 above rep1's A1 (one hop); D3 above rep1's R9 through the wholesaler W3 (two hops);
    D2 above nothing of rep1's (rep2's, in P2). D1 has sell-in, a plan and an evaluation."""
    add_outlet(connection, "D3", "distributor", lon=120.7, lat=30.7, name="西区总经销")
    add_outlet(connection, "W3", "wholesaler_2", lon=120.75, lat=30.75, parent="D3", name="二批 W3")
    add_outlet(connection, "R9", lon=120.8, lat=30.8, parent="W3", rep=world["r1"])
    add_outlet(connection, "D2", "distributor", lon=122.4, lat=30.4, rep=world["r2"],
               name="SECRET-D2")  # fmt: skip
    connection.execute(
        text("INSERT INTO products (sku, name, unit) VALUES ('SKU1', '啤酒', 'case')")
    )
    connection.execute(
        text(
            "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
            "amount, amount_paid, reference) SELECT NULL, d.id, DATE '2025-06-10', p.id, 4, "
            "800, 0, 'INV-D1' FROM outlets d, products p WHERE d.code = 'D1'"
        )
    )
    connection.execute(
        text(
            "INSERT INTO sales_plans (distributor_id, month, product_id, target_quantity, "
            "target_amount) SELECT d.id, DATE '2025-06-01', p.id, 10, 2000 FROM outlets d, "
            "products p WHERE d.code = 'D1'"
        )
    )
    connection.execute(
        text(
            "INSERT INTO evaluations (distributor_id, evaluated_on, initiative, credit) "
            "SELECT id, DATE '2025-05-01', 4, 5 FROM outlets WHERE code = 'D1'"
        )
    )
    return world


@pytest.fixture
def rep(aapp, connection, chain):
    return token_client(aapp, add_token(connection, chain["r1"]))


@pytest.fixture
def admin(aapp, connection, chain):
    return token_client(aapp, add_token(connection, chain["admin"]))


def test_the_scope_rule_adds_upstream_distributors_for_reps_only(session, chain):
    rep = Principal(id=chain["r1"], username="rep1", role="rep")
    manager = Principal(id=chain["m1"], username="manager1", role="manager")
    o = Outlet.__table__

    def codes(clause):
        return set(session.scalars(select(o.c.code).where(clause)))

    assert codes(distributor_scope(rep, o)) == codes(outlet_scope(rep, o)) | {"D1", "D3"}
    assert codes(distributor_scope(manager, o)) == codes(outlet_scope(manager, o))


@pytest.mark.parametrize("code", ["D1", "D3"])
def test_a_rep_reads_the_scorecard_of_a_distributor_above_their_outlets(rep, admin, code):
    path = f"{API}/distributors/{code}/scorecard?as_of=2025-06-20"
    mine = rep.get(path)
    assert mine.status_code == 200, mine.get_json()
    assert mine.get_json() == admin.get(path).get_json()  # the distributor's figures, whole
    assert rep.get(f"{API}/distributors/{code}/class").status_code == 200
    assert rep.get(f"{API}/distributors/{code}/evaluations").status_code == 200


def test_the_reps_figures_are_the_distributors(rep, admin):
    card = rep.get(f"{API}/distributors/D1/scorecard?as_of=2025-06-20").get_json()
    june = next(m for m in card["months"] if m["month"] == "2025-06")
    assert june["sell_in"] == "800.00" and june["plan"] == "2000.00"
    assert card["debt"]["owed"]["total"] == "800.00"
    history = rep.get(f"{API}/distributors/D1/evaluations").get_json()
    assert history == admin.get(f"{API}/distributors/D1/evaluations").get_json()
    assert len(history["items"]) == 1


@pytest.mark.parametrize("code", ["D2", "W3", "NOPE"])
def test_other_distributors_and_other_tiers_are_missing_for_a_rep(rep, code):
    for path in ("scorecard", "class", "evaluations"):
        response = rep.get(f"{API}/distributors/{code}/{path}")
        assert response.status_code == 404, (path, response.get_json())
        assert "SECRET" not in response.get_data(as_text=True)
    page = rep.get(f"/distributors/{code}", headers={"Accept": "text/html"})
    assert page.status_code == 404


def test_a_rep_still_cannot_open_the_distributor_as_an_outlet(rep):
    """Reading a distributor's business is not seeing it as one of their outlets."""
    assert rep.get(f"{API}/outlets/D1").status_code == 404
    codes = {o["code"] for o in rep.get(f"{API}/outlets?limit=1000").get_json()["items"]}
    assert "D1" not in codes and "A1" in codes


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", f"{API}/distributors/D1/evaluations", {"initiative": 5, "credit": 5}),
        ("GET", f"{API}/regions/P1/ranking", None),
        ("GET", f"{API}/distributors/D1/depth", None),
        ("PUT", f"{API}/distributors/D1/territory", {"regions": ["C1"]}),
        ("POST", f"{API}/plans", {"distributor_code": "D1", "month": "2025-07"}),
    ],
)
def test_a_rep_writes_nothing_and_ranks_nothing(rep, connection, method, path, body):
    before = connection.execute(text("SELECT count(*) FROM evaluations")).scalar_one()
    response = rep.open(path, method=method, json=body)
    assert response.status_code == 403, (path, response.get_json())
    assert connection.execute(text("SELECT count(*) FROM evaluations")).scalar_one() == before


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_pages_a_rep_reads_carry_no_forms(aapp, chain, lang):
    client = signed_in_client(aapp, "rep1")
    note = {"zh-CN": "只读", "en": "Read only"}[lang]
    card = client.get(f"/distributors/D1/scorecard?lang={lang}")
    assert card.status_code == 200
    html = card.get_data(as_text=True)
    assert 'id="save-evaluation"' not in html and "<iframe" not in html
    assert 'id="evaluation-list"' in html  # the history
    overview = client.get(f"/distributors/D1?lang={lang}").get_data(as_text=True)
    assert note in overview and "<iframe" not in overview and "report-menu" not in overview
    forms = ("sale-form", "pay-form", "plan-form", "copy-form", "credit-form", "edit-plan")
    for tab in ("purchases", "plans", "payments", "debt"):
        page = client.get(f"/distributors/D1?tab={tab}&month=2025-06&lang={lang}")
        assert page.status_code == 200, tab
        html = page.get_data(as_text=True)
        assert note in html, tab
        assert not [f for f in forms if f in html], tab
        assert "SECRET" not in html
    purchases = client.get(f"/distributors/D1?tab=purchases&lang={lang}").get_data(as_text=True)
    assert "INV-D1" in purchases  # its sell-in, which no outlet of the rep's bought
    plans = client.get(f"/distributors/D1?tab=plans&month=2025-06&lang={lang}")
    assert 'data-plan="' in plans.get_data(as_text=True)
    debt = client.get(f"/distributors/D1?tab=debt&lang={lang}").get_data(as_text=True)
    assert "INV-D1" in debt


@pytest.mark.parametrize(
    "path, data",
    [
        ("/distributors/D1/evaluations", {"initiative": "5", "credit": "5"}),
        ("/distributors/D1/sales", {"product": "SKU1", "sale_date": "2025-06-01", "quantity": "1"}),
        ("/distributors/D1/plans/copy", {"month": "2025-07"}),
    ],
)
def test_a_reps_form_post_is_refused(aapp, connection, chain, path, data):
    client = signed_in_client(aapp, "rep1")
    before = connection.execute(text("SELECT count(*) FROM sales_records")).scalar_one()
    response = client.post(path, data={"csrf_token": client.csrf, **data})
    assert response.status_code == 403
    assert connection.execute(text("SELECT count(*) FROM sales_records")).scalar_one() == before
