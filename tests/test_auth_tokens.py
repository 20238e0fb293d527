"""Personal API tokens over HTTP and the CLI; the users CLI; revoked tokens stop working."""

from __future__ import annotations

import hashlib

from auth_helpers import API, add_region, add_token, add_user, signed_in_client, token_client
from sqlalchemy import text

pytest_plugins = ["auth_fixtures"]  # auth_app, aapp, aclient, world


def test_create_list_revoke_over_the_api(aapp, connection, world):
    client = token_client(aapp, add_token(connection, world["r1"], "setup"))
    created = client.post(f"{API}/tokens", json={"name": "phone"})
    assert created.status_code == 201
    secret = created.get_json()["token"]
    assert secret.startswith("gcrm_") and len(secret) > 40
    stored = connection.execute(
        text("SELECT token_hash FROM api_tokens WHERE id = :i"), {"i": created.get_json()["id"]}
    ).scalar()
    assert stored == hashlib.sha256(secret.encode()).hexdigest()  # only the hash is kept
    phone = token_client(aapp, secret)
    assert phone.get(f"{API}/tag/outlets").status_code == 200
    listed = client.get(f"{API}/tokens").get_json()
    assert {t["name"] for t in listed} == {"setup", "phone"} and all(
        "token" not in t for t in listed
    )
    assert next(t for t in listed if t["name"] == "phone")["last_used_at"] is not None
    revoked = client.delete(f"{API}/tokens/{created.get_json()['id']}")
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"] is not None
    refused = phone.get(f"{API}/tag/outlets")
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_tokens_are_private_to_their_owner(aapp, connection, world):
    mine = add_token(connection, world["r1"], "mine")
    other = token_client(aapp, add_token(connection, world["r2"], "other"))
    mine_id = connection.execute(text("SELECT id FROM api_tokens WHERE name = 'mine'")).scalar()
    assert other.delete(f"{API}/tokens/{mine_id}").status_code == 404
    assert other.get(f"{API}/tokens?all=true").status_code == 403
    assert other.post(f"{API}/tokens", json={"name": "x", "username": "rep1"}).status_code == 403
    assert token_client(aapp, mine).get(f"{API}/tag/outlets").status_code == 200
    admin = token_client(aapp, add_token(connection, world["admin"]))
    assert len(admin.get(f"{API}/tokens?all=true").get_json()) == 3
    made = admin.post(f"{API}/tokens", json={"name": "for rep2", "username": "rep2"})
    assert made.status_code == 201 and made.get_json()["username"] == "rep2"
    assert admin.delete(f"{API}/tokens/{mine_id}").status_code == 200
    add_user(connection, "retired", "rep", active=False)
    for name in ("retired", "nobody"):  # an inactive user is as unknown as a missing one
        missing = admin.post(f"{API}/tokens", json={"name": "x", "username": name})
        assert missing.status_code == 404
        assert missing.get_json()["error"] == {
            "code": "not_found",
            "message": f"no active user named {name!r}",
            "fields": {"body.username": "not found"},
        }


def test_bad_and_disabled_tokens_get_401_even_with_a_session(aapp, connection, world):
    client = signed_in_client(aapp, "rep1")
    for header in ("Bearer gcrm_nope", "Bearer ", "bearer " + "x" * 300):
        response = client.get(f"{API}/tag/outlets", headers={"Authorization": header})
        assert response.status_code == 401
    token = add_token(connection, world["r2"])
    connection.execute(text("UPDATE users SET active = false WHERE id = :i"), {"i": world["r2"]})
    assert token_client(aapp, token).get(f"{API}/tag/outlets").status_code == 401


def test_bearer_requests_need_no_csrf_token(aapp, connection, world):
    client = token_client(aapp, add_token(connection, world["r1"]))
    assert client.post(f"{API}/tokens", json={"name": "ci"}).status_code == 201


def test_token_body_is_validated(aapp, connection, world):
    client = token_client(aapp, add_token(connection, world["r1"]))
    response = client.post(f"{API}/tokens", json={"name": ""})
    assert response.status_code == 422 and "body.name" in response.get_json()["error"]["fields"]


# -- CLI ---------------------------------------------------------------------------------------


def test_users_cli_lifecycle(aapp, connection):
    cli = aapp.test_cli_runner()
    add_region(connection, "ZJ", "province", (119, 29, 121, 31))
    connection.execute(
        text(
            "INSERT INTO outlets (code, name, tier) VALUES ('S1', 'shop', 'retail'), "
            "('S2', 'shop 2', 'retail')"
        )
    )

    made = cli.invoke(
        args=["users", "create", "wang", "--role", "manager", "--password-stdin", "--region", "ZJ"],
        input="long enough pw\n",
    )
    assert made.exit_code == 0, made.output
    assert "wang manager regions=ZJ" in made.output
    rep = cli.invoke(
        args=["users", "create", "li", "--role", "rep"], input="another secret\nanother secret\n"
    )
    assert rep.exit_code == 0, rep.output
    assigned = cli.invoke(args=["users", "assign", "li", "--outlet", "S1,S2"])
    assert assigned.exit_code == 0 and "outlets=2" in assigned.output
    listed = cli.invoke(args=["users", "list", "--json"])
    assert '"username": "li"' in listed.output and '"outlets": 2' in listed.output
    assert cli.invoke(args=["users", "disable", "li"]).exit_code == 0
    assert (
        connection.execute(text("SELECT active FROM users WHERE username = 'li'")).scalar() is False
    )
    assert cli.invoke(args=["users", "enable", "li"]).exit_code == 0
    changed = cli.invoke(
        args=["users", "set-password", "li", "--password-stdin"], input="a new password\n"
    )
    assert changed.exit_code == 0, changed.output


def test_users_cli_errors_are_one_line(aapp, connection):
    cli = aapp.test_cli_runner()
    add_user(connection, "zhao", "rep")
    cases = [
        (
            ["users", "create", "x y", "--role", "rep", "--password-stdin"],
            "pw long enough\n",
            "username",
        ),
        (["users", "create", "sun", "--role", "rep", "--password-stdin"], "short\n", "password"),
        (
            ["users", "create", "zhao", "--role", "rep", "--password-stdin"],
            "pw long enough\n",
            "taken",
        ),
        (["users", "assign", "zhao", "--region", "NOPE"], None, "managers only"),
        (["users", "assign", "zhao", "--outlet", "NOPE"], None, "NOPE"),
        (["users", "disable", "ghost"], None, "ghost"),
    ]
    for args, stdin, expected in cases:
        result = cli.invoke(args=args, input=stdin)
        assert result.exit_code != 0, args
        assert result.output.startswith("error:") or "error:" in result.output, result.output
        assert expected in result.output and "Traceback" not in result.output


def test_tokens_cli_prints_the_secret_once(aapp, connection):
    cli = aapp.test_cli_runner()
    add_user(connection, "qian", "rep")
    created = cli.invoke(args=["tokens", "create", "qian", "--name", "tablet"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("gcrm_")
    assert token_client(aapp, secret).get(f"{API}/tag/outlets").status_code == 200
    listed = cli.invoke(args=["tokens", "list", "qian"])
    assert "tablet" in listed.output and secret not in listed.output
    token_id = listed.output.split("\t")[0]
    assert cli.invoke(args=["tokens", "revoke", token_id]).exit_code == 0
    assert token_client(aapp, secret).get(f"{API}/tag/outlets").status_code == 401


def test_the_object_resolution_riding_in_the_token_lookup_agrees_with_the_separate_one(
    connection, session, world
):
    """The policy folds the outlet resolution into the token lookup (one round trip); for every
    role and object it must find what scope.resolve finds (managers are left to it: None), 0
    standing for "none in scope"."""
    from geo_crm.auth.tokens import principal_for_token
    from geo_crm.domain import access as scope

    ids = {
        code: connection.execute(
            text("SELECT id FROM outlets WHERE code = :c"), {"c": code}
        ).scalar_one()
        for code in ("A1", "B1", "N1")
    }
    for who in ("admin", "m1", "r1", "r2"):
        token = add_token(connection, world[who])
        # codes only: an outlet's id written as a code names no outlet
        for value in ["A1", "B1", "N1", "NOPE", str(ids["A1"]), str(ids["B1"])]:
            check = ("outlet", scope.resolve_params("outlet", value))
            user, folded = principal_for_token(session, token, check=check)
            alone = scope.resolve(session, "outlet", user, value)
            if user.role == "manager":
                assert folded is None, (who, value)
            else:
                assert folded == (alone or 0), (who, value, folded, alone)
                assert folded in (0, ids.get(value)), (who, value, folded)
    assert principal_for_token(session, "gcrm_not-a-token", check=check) == (None, None)
