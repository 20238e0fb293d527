"""The access matrix: every route the app registers × role × own/other object.

Routes are enumerated from ``app.url_map`` at collection time, so a new route appears here by
itself: without a rule in ``geo_crm.auth.policy.RULES`` it fails ``test_every_route_has_a_rule``
and its matrix cases; with one, the rule is checked for anonymous callers (401 / redirect),
roles (403), objects outside the caller's scope (404, like a missing one), and GET responses
are searched for names of outlets the caller must not see.
"""

from __future__ import annotations

import re

import pytest
from auth_helpers import add_token, token_client
from sqlalchemy import text

from geo_crm import auth, create_app
from geo_crm.auth.policy import RULES, answers_401
from geo_crm.settings import settings_of

pytest_plugins = ["auth_fixtures"]  # auth_app, aapp, aclient, world


def _collection_app():
    app = create_app(
        {
            "DATABASE_URL": "postgresql://collect@localhost/none",
            "SECRET_KEY": "x",
            "GEO_CRM_AUTH_REQUIRED": True,
        }
    )
    auth.init_app(app)
    return app


def _routes():
    out = []
    for rule in _collection_app().url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, rule.rule, method))
    return sorted(set(out))


ROUTES = _routes()
ROLE_USERS = {"admin": "admin", "manager": "m1", "rep": "r1"}

# the objects each URL argument names: (own, other) from the caller's point of view
OWN_OTHER = {
    "outlet": ("A1", "B2"),
    "outlet_ref": ("A1", "B2"),
    "outlet_id": (None, None),  # filled with ids at run time
    "region": ("C1", "P2"),
    "geotag_event": (None, None),
    "sale": (None, None),
    "plan": (None, None),
}
# endpoints whose objects must be of a kind the defaults are not (own, other)
OBJECT_OVERRIDES = {
    "network_pages.distributor_page": ("D1", "D2"),
    "api.distributor_depth": ("D1", "D2"),
    "api.get_territory": ("D1", "D2"),
    "api.put_territory": ("D1", "D2"),
    "api.distributor_plan_achievement": ("D1", "D2"),
    "api.set_credit_limit": ("D1", "D2"),
    # the distributor page's business forms (issue 13b)
    "distributor_tabs.add_sale": ("D1", "D2"),
    "distributor_tabs.add_payment": ("D1", "D2"),
    "distributor_tabs.create_plan": ("D1", "D2"),
    "distributor_tabs.update_plan": ("D1", "D2"),
    "distributor_tabs.copy_plans": ("D1", "D2"),
    "distributor_tabs.set_credit": ("D1", "D2"),
    "api.distributor_report": ("D1", "D2"),
    "api.create_distributor_report_job": ("D1", "D2"),
    "api.create_evaluation": ("D1", "D2"),
    "api.list_evaluations": ("D1", "D2"),
    "api.get_distributor_class": ("D1", "D2"),
    "api.get_scorecard": ("D1", "D2"),
    "judging_pages.scorecard_page": ("D1", "D2"),
    "judging_pages.add_evaluation": ("D1", "D2"),
}
# values for URL arguments no rule declares as objects
PLAIN_ARGS = {
    "filename": "tag.js",
    "path": "leaflet.js",
    "vendor": "leaflet",
    "decision": "accept",
    "kind": "coverage",
    "code": "C1",
    "ref": "A1",
    # vector tiles: the zoom-10 tile holding B1 (SECRET-B1: a rep-1 tile must lack it)
    "layer": "outlets",
    "z": "10",
    "x": "854",
    "y": "421",
    # OGC API – Features
    "collection_id": "outlets",
    "feature_id": "A1",
    # closed months and settings (issue 13)
    "month": "2025-01",
    "key": "credit_policy",
    # the distributor list's download (issue 13b)
    "fmt": "csv",
}
# names of outlets outside each role's scope (world fixture): a GET answer must not contain them
SECRETS = {"rep": ("SECRET-B1", "SECRET-B2"), "manager": ("SECRET-B2",)}

# (endpoint, role) pairs known to show more than they should: a strict xfail, so a fix turns it
# red and reminds whoever fixed it to delete the entry
KNOWN_LEAKS: dict[tuple[str, str], str] = {}

_ARG = re.compile(r"<(?:(?P<conv>[a-z]+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


def test_every_route_has_a_rule():
    missing = sorted({endpoint for endpoint, _, _ in ROUTES if endpoint not in RULES})
    assert not missing, f"add access rules to geo_crm.auth.policy.RULES for: {', '.join(missing)}"


def test_a_route_without_a_rule_answers_500(auth_app):
    app = create_app(
        {
            "DATABASE_URL": settings_of(auth_app).database_url,
            "SECRET_KEY": "x",
            "GEO_CRM_AUTH_REQUIRED": True,
        }
    )
    auth.init_app(app)
    app.extensions["geo_crm_db"].use_engine(auth_app.extensions["geo_crm_db"].engine)
    app.add_url_rule("/unguarded", "unguarded", lambda: "secret")
    response = app.test_client().get("/unguarded", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "no_access_rule"


@pytest.fixture
def ids(connection, world):
    """Flagged events and sales of an own (A1) and an other (B2) outlet, and the outlets' ids."""
    out = dict(world)
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
    for code, seller in (("A1", "D1"), ("B2", "D2")):
        out[f"sale_{code}"] = connection.execute(
            text(
                "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
                "amount) "
                "SELECT s.id, b.id, DATE '2025-01-05', p.id, 1, 10 FROM outlets s, outlets b, "
                "products p "
                "WHERE s.code = :s AND b.code = :b AND p.sku = 'SKU1' RETURNING id"
            ),
            {"s": seller, "b": code},
        ).scalar_one()
    for code, distributor in (("A1", "D1"), ("B2", "D2")):
        out[f"plan_{code}"] = connection.execute(
            text(
                "INSERT INTO sales_plans (distributor_id, month, product_id, target_quantity, "
                "target_amount) SELECT d.id, DATE '2025-01-01', p.id, 1, 10 FROM outlets d, "
                "products p WHERE d.code = :d AND p.sku = 'SKU1' RETURNING id"
            ),
            {"d": distributor},
        ).scalar_one()
    for code in ("A1", "B2"):
        out[f"event_{code}"] = connection.execute(
            text(
                "INSERT INTO geotag_events (outlet_id, new_location, source, state, flags) "
                "SELECT id, location, 'gps', 'flagged', '{jump:3000}' FROM outlets WHERE code = :c "
                "RETURNING id"
            ),
            {"c": code},
        ).scalar_one()
        out[f"outlet_{code}"] = connection.execute(
            text("SELECT id FROM outlets WHERE code = :c"), {"c": code}
        ).scalar_one()
    return out


def _url(rule: str, endpoint: str, which: str, ids: dict) -> str:
    objects = RULES[endpoint].objects if endpoint in RULES else {}

    def fill(match: re.Match) -> str:
        name = match.group("name")
        kind = objects.get(name)
        if kind == "geotag_event":
            return str(ids["event_A1" if which == "own" else "event_B2"])
        if kind == "sale":
            return str(ids["sale_A1" if which == "own" else "sale_B2"])
        if kind == "plan":
            return str(ids["plan_A1" if which == "own" else "plan_B2"])
        if kind == "outlet_id":
            return str(ids["outlet_A1" if which == "own" else "outlet_B2"])
        if kind is not None:
            pair = OBJECT_OVERRIDES.get(endpoint) or OWN_OTHER[kind]
            return pair[0 if which == "own" else 1]
        if match.group("conv") == "int":
            return "1"
        return PLAIN_ARGS.get(name, "x")

    return _ARG.sub(fill, rule)


def _cases():
    for endpoint, rule, method in ROUTES:
        has_objects = endpoint in RULES and bool(RULES[endpoint].objects)
        for role in ("anonymous", "admin", "manager", "rep"):
            for which in ("own", "other") if has_objects and role != "anonymous" else ("own",):
                marks = ()
                reason = KNOWN_LEAKS.get((endpoint, role))
                if reason:
                    marks = (pytest.mark.xfail(strict=True, reason=reason),)
                yield pytest.param(
                    endpoint,
                    rule,
                    method,
                    role,
                    which,
                    marks=marks,
                    id=f"{method} {rule} {role} {which}",
                )


def _call(client, method: str, url: str):
    kwargs = {"headers": {"Accept": "application/json"}}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    return client.open(url, method=method, **kwargs)


@pytest.mark.parametrize("endpoint, rule, method, role, which", list(_cases()))
def test_access_matrix(aapp, connection, ids, endpoint, rule, method, role, which):
    policy = RULES.get(endpoint)
    assert policy is not None, f"no access rule for {endpoint}"
    url = _url(rule, endpoint, which, ids)
    if role == "anonymous":
        response = _call(aapp.test_client(), method, url)
        response.close()
        if policy.access == "public":
            assert response.status_code not in (401, 403), (url, response.status_code)
        elif answers_401(url):  # the API, OGC API Features and tiles: no cookie, 401 JSON
            assert response.status_code == 401, (url, response.status_code)
            assert response.get_json()["error"]["code"] == "unauthorized", url
        else:
            assert response.status_code == 302 and "/login" in response.headers["Location"], url
        return
    client = token_client(aapp, add_token(connection, ids[ROLE_USERS[role]]))
    response = _call(client, method, url)
    body = response.get_data().decode("utf-8", "replace")  # vector tiles are binary
    response.close()
    if not policy.allows(_principal(role)):
        assert response.status_code == 403, (url, response.status_code, body[:300])
        return
    assert response.status_code not in (401, 403), (url, response.status_code, body[:300])
    assert response.status_code < 500, (url, response.status_code, body[:300])
    if which == "other" and role != "admin":
        assert response.status_code == 404, (url, response.status_code, body[:300])
        return
    if policy.objects and which == "own":
        assert response.status_code != 404, (url, body[:300])
    if method == "GET" and response.status_code == 200 and role in SECRETS:
        for secret in SECRETS[role]:
            assert secret not in body, f"{role} sees {secret} at {url}"


def _principal(role: str):
    from geo_crm.domain.principal import Principal

    return Principal(id=1, username=role, role=role)


@pytest.mark.parametrize(
    "path",
    ["/regions/C1?distributor={d}", "/regions/C1/figures?distributor={d}",
     "/maps/coverage/C1?distributor={d}", "/maps/network/C1?distributor={d}"],
)  # fmt: skip
def test_a_distributor_filter_outside_the_managers_scope_is_unknown(aapp, ids, path):
    """Query parameters naming objects are scope-checked too, not only the URL's objects."""
    from auth_helpers import signed_in_client

    manager = signed_in_client(aapp, "manager1")
    assert manager.get(path.format(d="D1")).status_code == 200
    refused = manager.get(path.format(d="D2"), headers={"Accept": "application/json"})
    assert refused.status_code == 422
    assert "query.distributor" in refused.get_json()["error"]["fields"]
    assert "SECRET-D2" not in refused.get_data(as_text=True)


def test_a_managers_coverage_map_draws_the_outlets_of_their_region(aapp, ids):
    """The manager's map takes the coverage service's outlets (the whole region is theirs)."""
    from auth_helpers import signed_in_client

    page = signed_in_client(aapp, "manager1").get("/maps/coverage/C1?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "华东总经销" in html  # D1, a distributor in C1, drawn as a point with its popup
    assert "SECRET-D2" not in html and "SECRET-B2" not in html  # in P2: not this region


# -- references that are numbers: a code is only ever a code ----------------------------------

OUTLET_CASES = [
    pytest.param(endpoint, rule, method, role, id=f"{method} {rule} {role}")
    for endpoint, rule, method in ROUTES
    if RULES.get(endpoint) and RULES[endpoint].objects.get("code") in ("outlet", "distributor")
    for role in ("manager", "rep")
    if RULES[endpoint].allows(_principal(role))
]


@pytest.fixture
def colliding(connection, ids):
    """An outlet outside both the rep's and the manager's scope (in P2, rep2's) whose code is
    the id of A1, an outlet both of them may see: the URL /…/<A1's id> names that outlet."""
    code = str(ids["outlet_A1"])
    connection.execute(
        text(
            "INSERT INTO outlets (code, name, tier, location, rep_id) VALUES (:c, 'SECRET-NUM', "
            "'distributor', ST_SetSRID(ST_MakePoint(122.6, 30.6), 4326), :r)"
        ),
        {"c": code, "r": ids["r2"]},
    )
    return code


@pytest.mark.parametrize("endpoint, rule, method, role", OUTLET_CASES)
def test_a_code_equal_to_an_id_in_scope_names_the_other_outlet(
    aapp, connection, ids, colliding, endpoint, rule, method, role
):
    """The object checked is the object changed: a numeric code is looked up as a code only, so
    a code that equals the id of an outlet in scope answers 404 and nothing changes."""
    url = _ARG.sub(lambda m: colliding if m.group("name") == "code" else "x", rule)
    before = connection.execute(
        text("SELECT version, status, parent_id FROM outlets WHERE code = :c"), {"c": colliding}
    ).one()
    client = token_client(aapp, add_token(connection, ids[ROLE_USERS[role]]))
    response = _call(client, method, url)
    assert response.status_code == 404, (url, response.status_code)
    assert "SECRET-NUM" not in response.get_data(as_text=True)
    after = connection.execute(
        text("SELECT version, status, parent_id FROM outlets WHERE code = :c"), {"c": colliding}
    ).one()
    assert after == before


def test_an_outlet_whose_code_is_a_number_is_addressable(aapp, connection, ids):
    connection.execute(
        text(
            "INSERT INTO outlets (code, name, tier, location, rep_id) VALUES ('4242', '数字店', "
            "'retail', ST_SetSRID(ST_MakePoint(120.25, 30.25), 4326), :r)"
        ),
        {"r": ids["r1"]},
    )
    rep = token_client(aapp, add_token(connection, ids["r1"]))
    assert rep.get("/api/v1/outlets/4242").get_json()["name"] == "数字店"
    assert rep.get(f"/api/v1/outlets/{ids['outlet_A1']}").status_code == 404  # an id is no code


@pytest.mark.parametrize("code", ["³", "²", "①", "٣", "１２"])
def test_codes_of_other_digits_are_codes(aapp, connection, ids, code):
    """str.isdigit() is true for these; they are codes like any other: 404 while unknown, the
    outlet once one has that code (the page too)."""
    admin = token_client(aapp, add_token(connection, ids["admin"]))
    assert admin.get(f"/api/v1/outlets/{code}").status_code == 404
    assert admin.get(f"/outlets/{code}", headers={"Accept": "text/html"}).status_code == 404
    assert admin.get(f"/distributors/{code}", headers={"Accept": "text/html"}).status_code == 404
    connection.execute(
        text(
            "INSERT INTO outlets (code, name, tier, location) VALUES (:c, '上标店', 'distributor', "
            "ST_SetSRID(ST_MakePoint(120.25, 30.25), 4326))"
        ),
        {"c": code},
    )
    assert admin.get(f"/api/v1/outlets/{code}").get_json()["code"] == code
    assert admin.get(f"/outlets/{code}").status_code == 200
    assert admin.get(f"/distributors/{code}").status_code == 200


# -- writes: in the writer's scope before and after, and every outlet referenced visible -------


@pytest.fixture
def manager(aapp, connection, ids):
    return token_client(aapp, add_token(connection, ids["m1"]))  # manager of C1 only


def _version(connection, code: str) -> int:
    return connection.execute(
        text("SELECT version FROM outlets WHERE code = :c"), {"c": code}
    ).scalar_one()


def _count(connection, sql: str) -> int:
    return connection.execute(text(sql)).scalar_one()


def test_a_manager_cannot_create_an_outlet_outside_their_regions(manager, connection):
    body = {"code": "M-OUT", "name": "外省店", "tier": "retail", "lat": 30.5, "lon": 122.5}
    response = manager.post("/api/v1/outlets", json=body)
    assert response.status_code == 422, response.get_json()
    assert "body.lat" in response.get_json()["error"]["fields"]
    no_point = manager.post("/api/v1/outlets", json={**body, "lat": None, "lon": None})
    assert no_point.status_code == 422
    assert _count(connection, "SELECT count(*) FROM outlets WHERE code = 'M-OUT'") == 0
    inside = manager.post("/api/v1/outlets", json={**body, "lat": 30.4, "lon": 120.4})
    assert inside.status_code == 201, inside.get_json()


def test_a_manager_cannot_move_an_outlet_out_of_their_regions(manager, connection):
    version = _version(connection, "A1")
    response = manager.patch(
        "/api/v1/outlets/A1", json={"version": version, "lat": 30.5, "lon": 122.5}
    )
    assert response.status_code == 422, response.get_json()
    assert "body.lat" in response.get_json()["error"]["fields"]
    assert _version(connection, "A1") == version
    tag = manager.put(
        "/api/v1/outlets/A1/location",
        json={"lat": 30.5, "lon": 122.5, "accuracy_m": 10.0, "version": version},
    )
    assert tag.status_code == 422, tag.get_json()
    assert _version(connection, "A1") == version


def _error(response) -> dict:
    body = response.get_json()["error"]
    return {"status": response.status_code, "code": body["code"], "fields": sorted(body["fields"])}


def test_a_parent_outside_the_managers_scope_is_refused_like_a_missing_one(manager, connection):
    version = _version(connection, "A1")
    hidden = manager.put(
        "/api/v1/outlets/A1/parent", json={"parent_code": "D2", "version": version}
    )
    missing = manager.put(
        "/api/v1/outlets/A1/parent", json={"parent_code": "NOPE", "version": version}
    )
    assert hidden.status_code == 422
    assert _error(hidden) == _error(missing)
    assert hidden.get_json()["error"]["message"].replace("D2", "X") == missing.get_json()["error"][
        "message"
    ].replace("NOPE", "X")
    assert _version(connection, "A1") == version
    create = manager.post(
        "/api/v1/outlets",
        json={"code": "M-P", "name": "新店", "tier": "retail", "parent_code": "D2", "lat": 30.4,
              "lon": 120.4},
    )  # fmt: skip
    assert create.status_code == 422 and "body.parent_code" in create.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    "seller, buyer, field",
    [
        ("D2", "B2", "body.seller_code"),
        ("D1", "B2", "body.buyer_code"),
        ("D2", "A1", "body.seller_code"),
    ],
)  # fmt: skip
def test_a_manager_cannot_record_sales_of_outlets_they_cannot_see(
    manager, connection, seller, buyer, field
):
    before = _count(connection, "SELECT count(*) FROM sales_records")
    body = {"seller_code": seller, "buyer_code": buyer, "product_sku": "SKU1",
            "sale_date": "2025-02-01", "quantity": "1", "amount": "10.00"}  # fmt: skip
    response = manager.post("/api/v1/sales", json=body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert _count(connection, "SELECT count(*) FROM sales_records") == before


# -- trees and lists show nothing the direct routes hide ----------------------------------------


def _codes(node: dict) -> list[str]:
    return [node["code"]] + [c for child in node.get("children") or [] for c in _codes(child)]


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_downstream_lists_only_outlets_the_caller_may_open(aapp, connection, ids, role):
    client = token_client(aapp, add_token(connection, ids[ROLE_USERS[role]]))
    tree = client.get("/api/v1/outlets/D1/downstream").get_json()
    counts = client.get("/api/v1/outlets/D1/downstream?tree=false").get_json()
    codes = _codes(tree["tree"])[1:]
    assert tree["total"] == counts["total"] == len(codes)
    for code in codes:
        assert client.get(f"/api/v1/outlets/{code}").status_code == 200, (role, code)
    if role == "manager":
        assert "A2" not in codes  # untagged: outside every manager's regions
    else:
        assert "A2" in codes


def test_upstream_names_suppliers_but_hides_what_the_direct_route_hides(aapp, connection, ids):
    rep = token_client(aapp, add_token(connection, ids["r1"]))
    chain = rep.get("/api/v1/outlets/A1/upstream").get_json()["chain"]
    assert [n["code"] for n in chain] == ["A1", "D1"]
    supplier = chain[1]
    assert rep.get("/api/v1/outlets/D1").status_code == 404
    assert supplier["restricted"] is True
    assert supplier["name"] == "华东总经销" and supplier["tier"] == "distributor"
    assert supplier["lat"] is None and supplier["lon"] is None and supplier["id"] is None
    assert chain[0]["restricted"] is False and chain[0]["lat"] is not None
    page = signed_in_page(aapp, "rep1", "/outlets/A1")
    assert "华东总经销" in page and 'href="/outlets/D1"' not in page


def signed_in_page(app, username: str, path: str) -> str:
    from auth_helpers import signed_in_client

    response = signed_in_client(app, username).get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["manager", "rep"])
def test_every_outlet_a_list_shows_opens_directly(aapp, connection, ids, role):
    client = token_client(aapp, add_token(connection, ids[ROLE_USERS[role]]))
    items = client.get("/api/v1/outlets?limit=1000").get_json()["items"]
    assert items
    for item in items:
        assert client.get(f"/api/v1/outlets/{item['code']}").status_code == 200, item["code"]


# -- out of scope looks exactly like missing ----------------------------------------------------


@pytest.mark.parametrize(
    "path, hidden, missing, field",
    [
        ("/api/v1/outlets?distributor={}", "D2", "NOPE", "query.distributor"),
        ("/api/v1/outlets?region={}", "P2", "NOPE", "query.region"),
        ("/api/v1/outlets/export?format=csv&distributor={}", "D2", "NOPE", "query.distributor"),
        ("/api/v1/sales?seller={}", "D2", "NOPE", "query.seller"),
        ("/api/v1/sales?buyer={}", "B2", "NOPE", "query.buyer"),
        ("/api/v1/sales?region={}", "P2", "NOPE", "query.region"),
        ("/api/v1/regions/C1/coverage?distributor={}", "D2", "NOPE", "query.distributor"),
        ("/api/v1/distributors/D1/depth?territory={}", "P2", "NOPE", "query.territory"),
    ],
)
def test_a_filter_naming_an_object_out_of_scope_answers_like_a_missing_one(
    manager, path, hidden, missing, field
):
    out = manager.get(path.format(hidden))
    gone = manager.get(path.format(missing))
    assert out.status_code == gone.status_code == 422, (out.get_json(), gone.get_json())
    assert _error(out) == _error(gone)
    assert field in out.get_json()["error"]["fields"]
    assert "SECRET" not in out.get_data(as_text=True)
