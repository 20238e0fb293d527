"""The tag page (reps' phones) has the 中文/English switch every page has, and the site has an
icon: ``/favicon.ico`` answers 200 with a PNG, and every page names the package's icon."""

from __future__ import annotations

import re

from auth_helpers import signed_in_client

pytest_plugins = ["auth_fixtures"]  # aapp, world


def test_the_tag_page_switches_language_and_remembers_it(aapp, world):
    rep = signed_in_client(aapp, "rep1")
    page = rep.get("/tag?lang=zh").get_data(as_text=True)
    switch = re.search(r'<nav id="lang-switch"[^>]*>(.*?)</nav>', page, re.S).group(1)
    assert 'href="/tag?lang=en"' in switch and 'href="/tag?lang=zh"' in switch
    assert re.search(r'lang="zh-CN"\s+aria-current="true">中文', switch)
    english = rep.get("/tag?lang=en")
    assert '<html lang="en">' in english.get_data(as_text=True)
    assert "lang=en" in english.headers.get("Set-Cookie", "")
    again = rep.get("/tag").get_data(as_text=True)  # the cookie keeps English
    assert '<html lang="en">' in again and re.search(
        r'lang="en"\s+aria-current="true">English', again
    )


def test_favicon_is_served_to_anyone(aclient):
    response = aclient.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert "max-age" in response.headers.get("Cache-Control", "")
    svg = aclient.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and b"<svg" in svg.data


def test_every_kind_of_page_names_the_icon(aapp, aclient, world):
    icon = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
    assert icon in aclient.get("/login").get_data(as_text=True)  # base.html, signed out
    assert icon in signed_in_client(aapp, "rep1").get("/tag").get_data(as_text=True)
    assert icon in signed_in_client(aapp, "manager1").get("/review").get_data(as_text=True)
