"""Server-side sessions: signing out, a password change, disabling a user or an admin's
"sign out everywhere" ends a session for every copy of its cookie, not only in one browser."""

from __future__ import annotations

import hashlib

from auth_helpers import API, PASSWORD, add_user, csrf_from, login, signed_in_client
from sqlalchemy import text

pytest_plugins = ["auth_fixtures"]  # auth_app, aapp, aclient, world

COOKIE = "geo_crm_session"


def _cookie(client) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None, "no session cookie"
    return cookie.value


def _replay(app, value: str):
    """A second browser holding a copy of the cookie (stolen, or left on a shared computer)."""
    client = app.test_client()
    client.set_cookie(COOKIE, value)
    return client


def _sessions(connection, username: str) -> int:
    return connection.execute(
        text(
            "SELECT count(*) FROM user_sessions s JOIN users u ON u.id = s.user_id "
            "WHERE u.username = :u"
        ),
        {"u": username},
    ).scalar_one()


def _signed_out(client) -> bool:
    """The page redirects to sign-in and the API answers 401: the cookie opens nothing."""
    page = client.get("/")
    api = client.get(f"{API}/outlets")
    return (
        page.status_code == 302
        and "/login" in page.headers["Location"]
        and api.status_code == 401
        and api.get_json()["error"]["code"] == "unauthorized"
    )


def _logout(client, **form):
    confirm = client.get("/logout")
    assert confirm.status_code == 200
    token = csrf_from(confirm.get_data(as_text=True))
    return client.post("/logout", data={"csrf_token": token, **form})


def test_a_copy_of_the_cookie_is_worthless_after_sign_out(aapp, connection, world):
    client = signed_in_client(aapp, "admin1")
    copy = _cookie(client)
    assert _replay(aapp, copy).get("/").status_code == 200  # the copy works while signed in
    assert _sessions(connection, "admin1") == 1

    out = _logout(client)
    assert out.status_code == 302 and out.headers["Location"].endswith("/login")
    assert _sessions(connection, "admin1") == 0
    assert _signed_out(_replay(aapp, copy))
    assert _signed_out(client)


def test_the_cookie_carries_a_secret_the_database_keeps_only_hashed(aapp, connection, world):
    client = signed_in_client(aapp, "rep1")
    data = aapp.session_interface.get_signing_serializer(aapp).loads(_cookie(client))
    secret = data["sid"]
    assert isinstance(secret, str) and len(secret) >= 43  # 32 random bytes, URL-safe base64
    stored = connection.execute(
        text("SELECT secret_hash, expires_at - created_at AS span FROM user_sessions")
    ).one()
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert stored.span == aapp.permanent_session_lifetime
    assert secret not in stored.secret_hash


def test_signing_in_again_replaces_the_browsers_session(aapp, connection, world):
    client = signed_in_client(aapp, "rep1")
    before = _cookie(client)
    assert login(client, "rep1").status_code == 302
    assert _cookie(client) != before
    assert _sessions(connection, "rep1") == 1  # the earlier session of this browser is gone
    assert _signed_out(_replay(aapp, before))
    assert client.get("/tag").status_code == 200


def test_a_password_change_ends_every_session_of_that_user(aapp, connection, world):
    phone, laptop = signed_in_client(aapp, "rep1"), signed_in_client(aapp, "rep1")
    other = signed_in_client(aapp, "rep2")
    result = aapp.test_cli_runner().invoke(
        args=["users", "set-password", "rep1", "--password-stdin"],
        input="another long password\n",
    )
    assert result.exit_code == 0, result.output
    assert _sessions(connection, "rep1") == 0
    assert phone.get("/tag").status_code == 302 and laptop.get("/tag").status_code == 302
    assert other.get("/tag").status_code == 200
    fresh = aapp.test_client()
    assert login(fresh, "rep1", PASSWORD).status_code == 200  # the old password is refused
    assert login(fresh, "rep1", "another long password").status_code == 302
    assert fresh.get("/tag").status_code == 200


def test_sign_out_everywhere_ends_every_copy_and_device(aapp, connection, world):
    laptop, phone = signed_in_client(aapp, "manager1"), signed_in_client(aapp, "manager1")
    copy = _cookie(phone)
    other = signed_in_client(aapp, "admin1")
    page = laptop.get("/logout?lang=en").get_data(as_text=True)
    assert 'name="everywhere" value="1"' in page and "Sign out on every device" in page
    out = _logout(laptop, everywhere="1")
    assert out.status_code == 302 and out.headers["Location"].endswith("/login")
    assert _sessions(connection, "manager1") == 0
    for client in (laptop, phone, _replay(aapp, copy)):
        assert _signed_out(client)
    assert other.get("/").status_code == 200  # another user's session is untouched


def test_the_logout_page_offers_both_buttons_in_chinese(aapp, world):
    client = signed_in_client(aapp, "rep1")
    page = client.get("/logout", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "退出登录" in page and "在所有设备上退出登录" in page


def test_cli_signs_a_user_out_everywhere(aapp, connection, world):
    clients = [signed_in_client(aapp, "rep1") for _ in range(2)]
    other = signed_in_client(aapp, "rep2")
    runner = aapp.test_cli_runner()
    result = runner.invoke(args=["users", "sign-out", "rep1"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "signed out rep1 everywhere: 2 sessions ended"
    assert all(client.get("/tag").status_code == 302 for client in clients)
    assert other.get("/tag").status_code == 200
    again = runner.invoke(args=["users", "sign-out", "rep1"])
    assert again.exit_code == 0 and "0 sessions ended" in again.output


def test_cli_sign_out_of_an_unknown_user_is_a_one_line_error(aapp, world):
    result = aapp.test_cli_runner().invoke(args=["users", "sign-out", "nobody"])
    assert result.exit_code != 0
    assert len(result.output.splitlines()) == 1
    assert result.output.startswith("error: no user named 'nobody'")
    assert "Traceback" not in result.output


def test_disabling_a_user_ends_their_sessions_for_good(aapp, connection, world):
    client = signed_in_client(aapp, "rep1")
    runner = aapp.test_cli_runner()
    assert runner.invoke(args=["users", "disable", "rep1"]).exit_code == 0
    assert _sessions(connection, "rep1") == 0
    assert client.get("/tag").status_code == 302
    assert client.get(f"{API}/tag/outlets").status_code == 401
    assert runner.invoke(args=["users", "enable", "rep1"]).exit_code == 0
    assert client.get("/tag").status_code == 302  # re-enabling does not revive the old session


def test_a_user_disabled_behind_the_apps_back_is_refused_at_once(aapp, connection, world):
    client = signed_in_client(aapp, "rep1")
    connection.execute(text("UPDATE users SET active = false WHERE username = 'rep1'"))
    assert client.get("/tag").status_code == 302


def test_an_expired_session_is_refused_and_deleted_at_the_next_sign_in(aapp, connection, world):
    client = signed_in_client(aapp, "rep1")
    copy = _cookie(client)
    other = signed_in_client(aapp, "rep2")
    connection.execute(
        text(
            "UPDATE user_sessions SET expires_at = now() - interval '1 second' "
            "FROM users WHERE users.id = user_sessions.user_id AND users.username = 'rep1'"
        )
    )
    assert client.get("/tag").status_code == 302
    assert _replay(aapp, copy).get(f"{API}/tag/outlets").status_code == 401
    connection.execute(
        text(
            "UPDATE user_sessions SET expires_at = now() - interval '1 second' WHERE user_id = :u"
        ),
        {"u": world["r2"]},
    )
    assert _sessions(connection, "rep1") == 1  # nothing deletes it in the background
    signed_in_client(aapp, "rep1")
    assert _sessions(connection, "rep1") == 1  # rep1's expired row went, the new one remains
    assert _sessions(connection, "rep2") == 1  # another user's rows wait for their sign-in
    assert other.get("/tag").status_code == 302


def test_deleting_a_user_deletes_their_sessions(aapp, connection, world):
    signed_in_client(aapp, "rep1")
    user_id = add_user(connection, "temp-user", "rep")
    assert login(aapp.test_client(), "temp-user").status_code == 302
    connection.execute(text("DELETE FROM users WHERE id = :u"), {"u": user_id})
    assert _sessions(connection, "temp-user") == 0
    assert connection.execute(text("SELECT count(*) FROM user_sessions")).scalar_one() == 1


def test_a_forged_or_old_style_cookie_opens_nothing(aapp, world):
    """A cookie signed with the app's key but naming no live session (as an old fingerprint
    cookie from before server-side sessions did) is cleared, not trusted."""
    serializer = aapp.session_interface.get_signing_serializer(aapp)
    forged = serializer.dumps(
        {"uid": world["admin"], "sid": "0123456789abcdef", "_permanent": True}
    )
    assert _signed_out(_replay(aapp, forged))


def test_checking_a_cookie_is_one_statement_on_the_unique_index(
    aapp, connection, world, monkeypatch
):
    """The hot path: one prepared statement per cookie request, probing the secret's index."""
    from sqlalchemy import event

    from geo_crm.db.hotpath import HotStatement

    client = signed_in_client(aapp, "rep1")
    statements: list[str] = []
    real_execute = HotStatement._execute

    def counting(self, *args, **kwargs):
        statements.append(self.sql)
        return real_execute(self, *args, **kwargs)

    def on_execute(conn, cursor, statement, *args):
        if not statement.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):  # the test's own
            statements.append(statement)

    monkeypatch.setattr(HotStatement, "_execute", counting)
    event.listen(connection, "before_cursor_execute", on_execute)
    try:
        assert client.get("/logout").status_code == 200  # the policy's check, then no SQL
    finally:
        event.remove(connection, "before_cursor_execute", on_execute)
    assert len(statements) == 1 and "user_sessions" in statements[0], statements

    connection.execute(
        text(
            "INSERT INTO user_sessions (secret_hash, user_id, expires_at) "
            "SELECT md5(i::text) || md5((i + 1)::text), :u, now() + interval '1 hour' "
            "FROM generate_series(1, 5000) AS i"
        ),
        {"u": world["r1"]},
    )
    connection.execute(text("ANALYZE user_sessions"))
    plan = connection.exec_driver_sql(
        "EXPLAIN " + statements[0], {"h": "0" * 64, "uid": world["r1"]}
    ).scalars()
    assert "user_sessions_secret_hash_key" in "\n".join(plan)
