"""Sign-in and sign-out in the browser: cookie flags, CSRF, throttling, disabled users,
redirects."""

from __future__ import annotations

import pytest
from auth_helpers import API, PASSWORD, add_user, csrf_from, login, signed_in_client
from sqlalchemy import text

pytest_plugins = ["auth_fixtures"]  # auth_app, aapp, aclient, world


def test_login_page_renders_in_both_languages(aclient):
    zh = aclient.get("/login", headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 200 and "登录" in zh.get_data(as_text=True)
    en = aclient.get("/login?lang=en")
    assert "Sign in" in en.get_data(as_text=True)


def test_sign_in_tag_and_review_pages_speak_the_users_language(aapp, connection, world):
    """The one language picker for every page: the signed-in user's locale beats the browser's
    Accept-Language on the sign-out, tag and review pages as on the map pages."""
    connection.execute(
        text("UPDATE users SET locale = 'en' WHERE username IN ('rep1', 'manager1')")
    )
    rep = signed_in_client(aapp, "rep1")
    chinese_browser = {"Accept-Language": "zh-CN"}
    assert "Do you want to sign out?" in rep.get("/logout", headers=chinese_browser).get_data(
        as_text=True
    )
    assert "Submit location" in rep.get("/tag", headers=chinese_browser).get_data(as_text=True)
    review = signed_in_client(aapp, "manager1").get("/review", headers=chinese_browser)
    assert "Nothing awaits review." in review.get_data(as_text=True)
    assert "定位审核" in signed_in_client(aapp, "manager1").get("/review?lang=zh").get_data(
        as_text=True
    )


def test_every_phrase_of_the_sign_in_tag_and_review_pages_has_chinese():
    import re
    from pathlib import Path

    from geo_crm.i18n import FLAG_SENTENCES, ZH
    from geo_crm.web import auth_pages, review

    root = Path(__file__).resolve().parent.parent
    phrases = set(FLAG_SENTENCES.values()) | set(review._DONE.values())
    for name in ("login.html", "tag.html", "review.html", "base.html"):
        text = (root / "templates" / name).read_text(encoding="utf-8")
        phrases |= set(re.findall(r"""\b[t_]\(\s*["']((?:[^"'\\]|\\.)+)["']""", text))
    source = Path(auth_pages.__file__).read_text(encoding="utf-8")
    for call in re.findall(r'\bt\(\s*((?:"[^"]*"\s*)+)', source):  # "…" "…" joined
        phrases.add("".join(re.findall(r'"([^"]*)"', call)))
    assert "Invalid username or password." in phrases and "Sign out on every device" in phrases
    assert len(phrases) > 40  # the scan found them
    assert not sorted(p for p in phrases if p not in ZH)


def test_a_module_adds_its_own_section_to_the_catalogue(monkeypatch):
    from geo_crm import i18n

    monkeypatch.setattr(i18n, "ZH", dict(i18n.ZH))
    monkeypatch.setattr(i18n, "SECTIONS", dict(i18n.SECTIONS))
    i18n.add_messages("reports (test)", {"Debt ageing": "账龄分析", "Outlet": "网点"})
    assert i18n.Translator("zh")("Debt ageing") == "账龄分析" and "reports (test)" in i18n.SECTIONS
    i18n.add_messages("reports (test)", {"Debt ageing": "账龄分析", "Outlet": "网点"})  # reload
    with pytest.raises(ValueError, match="'Outlet' is translated '网点' already"):
        i18n.add_messages("other (test)", {"Outlet": "门店"})
    with pytest.raises(ValueError, match="placeholder"):
        i18n.add_messages("other (test)", {"{n} days overdue": "逾期天数"})
    with pytest.raises(ValueError, match="already in the catalogue"):
        i18n.add_messages("reports (test)", {"Aged debt": "账龄"})


def test_sign_in_sets_a_hardened_cookie_and_lands_reps_on_tag(aclient, connection, world):
    response = login(aclient, "rep1")
    assert response.status_code == 302 and response.headers["Location"].endswith("/tag")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("geo_crm_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert aclient.get("/tag").status_code == 200


def test_cookie_is_secure_over_https(aapp, world):
    client = aapp.test_client()
    page = client.get("/login", base_url="https://geo.example")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post(
        "/login",
        base_url="https://geo.example",
        headers={"Referer": "https://geo.example/login"},
        data={"username": "rep1", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]


def test_manager_lands_home_and_next_is_followed_only_on_this_site(aclient, world):
    assert login(aclient, "manager1").headers["Location"].endswith("/")
    response = login(aclient, "manager1", next_="/review")
    assert response.headers["Location"].endswith("/review")
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        assert "evil" not in login(aclient, "manager1", next_=evil).headers["Location"]


def test_wrong_password_and_unknown_user_get_the_same_answer(aclient, world):
    wrong = login(aclient, "rep1", "nope nope nope")
    unknown = login(aclient, "nobody", "nope nope nope")
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert (
            "Set-Cookie" not in response.headers
            or "geo_crm_session=;" not in response.headers["Set-Cookie"]
        )
    assert wrong.get_data(as_text=True).count('id="error"') == 1
    assert aclient.get("/tag").status_code == 302


def test_login_form_without_csrf_token_is_refused(aclient, world):
    response = aclient.post("/login", data={"username": "rep1", "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_cookie_authenticated_api_change_needs_the_csrf_token(aapp, world):
    client = signed_in_client(aapp, "rep1")
    body = {"name": "phone"}
    refused = client.post(f"{API}/tokens", json=body)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "csrf_failed"
    wrong = client.post(f"{API}/tokens", json=body, headers={"X-CSRFToken": "forged"})
    assert wrong.status_code == 400
    ok = client.post(f"{API}/tokens", json=body, headers={"X-CSRFToken": client.csrf})
    assert ok.status_code == 201


def test_throttling_after_five_failures_per_user_and_address(aclient, connection, world):
    for _ in range(5):
        assert login(aclient, "rep1", "wrong password!").status_code == 200
    blocked = login(aclient, "rep1")  # even the right password
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "15" in blocked.get_data(as_text=True) or "min" in blocked.get_data(as_text=True)
    # another address is not blocked for this user, nor this address for another user
    other = aclient.get("/login", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    token = csrf_from(other.get_data(as_text=True))
    assert (
        aclient.post(
            "/login",
            environ_base={"REMOTE_ADDR": "10.9.9.9"},
            data={"username": "rep1", "password": PASSWORD, "csrf_token": token},
        ).status_code
        == 302
    )
    assert login(aclient, "rep2").status_code == 302
    # the count lives in PostgreSQL (shared by every worker), and expires with the window
    connection.execute(
        text("UPDATE login_failures SET failed_at = failed_at - interval '16 minutes'")
    )
    assert login(aclient, "rep1").status_code == 302
    assert (
        connection.execute(
            text("SELECT count(*) FROM login_failures WHERE username = 'rep1' AND ip = '127.0.0.1'")
        ).scalar()
        == 0
    )


def test_throttle_counts_usernames_case_insensitively(aclient, world):
    for name in ("rep1", "REP1", "Rep1", "rEp1", "REp1"):
        login(aclient, name, "wrong password!")
    assert login(aclient, "rep1").status_code == 429


def test_logout_needs_a_post_with_csrf(aapp, world):
    client = signed_in_client(aapp, "rep1")
    confirm = client.get("/logout")
    assert confirm.status_code == 200 and 'id="logout"' in confirm.get_data(as_text=True)
    assert client.post("/logout").status_code == 400  # no token
    assert client.get("/tag").status_code == 200
    out = client.post("/logout", data={"csrf_token": csrf_from(confirm.get_data(as_text=True))})
    assert out.status_code == 302 and out.headers["Location"].endswith("/login")
    assert client.get("/tag").status_code == 302


def test_disabled_user_is_signed_out_at_the_next_request(aapp, connection, world):
    client = signed_in_client(aapp, "rep1")
    connection.execute(text("UPDATE users SET active = false WHERE username = 'rep1'"))
    assert client.get("/tag").status_code == 302
    assert client.get(f"{API}/tag/outlets").status_code == 401
    assert login(aapp.test_client(), "rep1").status_code == 200  # cannot sign in again


def test_anonymous_pages_redirect_to_login_and_api_answers_401(aclient, world):
    page = aclient.get("/review?x=1")
    assert page.status_code == 302
    assert (
        "/login?next=/review?x%3D1" in page.headers["Location"]
        or "/login?next=" in page.headers["Location"]
    )
    api = aclient.get(f"{API}/tag/outlets")
    assert api.status_code == 401
    assert api.get_json()["error"]["code"] == "unauthorized"
    assert api.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role_user", ["rep1"])
def test_wrong_role_gets_403(aapp, world, role_user):
    client = signed_in_client(aapp, role_user)
    assert client.get("/review").status_code == 403
    assert client.get(f"{API}/geotag-reviews").status_code == 403


def test_new_users_password_is_hashed_with_argon2id(cli_auth, connection):
    result = cli_auth.invoke(
        args=["users", "create", "alice", "--role", "rep", "--password-stdin"],
        input="s3cret password\n",
    )

    assert result.exit_code == 0, result.output
    stored = connection.execute(
        text("SELECT password_hash FROM users WHERE username = 'alice'")
    ).scalar()
    assert stored.startswith("$argon2id$") and "s3cret" not in stored


@pytest.fixture
def cli_auth(aapp):
    return aapp.test_cli_runner()


def test_add_user_helper_matches_the_policy(connection):
    add_user(connection, "bob", "rep")
    assert (
        connection.execute(text("SELECT role FROM users WHERE username = 'bob'")).scalar() == "rep"
    )


def test_the_csrf_secret_is_in_the_cookie_from_sign_in(aapp, connection, world):
    """A response to a request sent before the first form was drawn (a tile, the landing
    figures) may arrive last and set its cookie: it must carry the CSRF secret already, or the
    next form post fails with "The CSRF session token is missing"."""
    client = aapp.test_client()
    assert login(client, "manager1").status_code == 302
    with client.session_transaction() as cookie:
        assert cookie.get("csrf_token")
        stale = dict(cookie)
    token = csrf_from(client.get("/login").get_data(as_text=True))  # a page drawing a form
    with client.session_transaction() as cookie:  # the late response's cookie wins
        cookie.clear()
        cookie.update(stale)
    response = client.put("/api/v1/evaluation-weights", json={}, headers={"X-CSRFToken": token})
    assert response.status_code == 403  # past the CSRF check: a manager may not set weights
    assert response.get_json()["error"]["code"] != "csrf_failed"
