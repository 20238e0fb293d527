"""``next`` after sign-in: only a path of this site, as the browser will read the Location.

Browsers normalise a Location before resolving it (WHATWG URL): they strip leading and trailing
C0 controls and spaces, drop every tab and newline, and read a backslash as a slash. What a
server-side check lets through must still be a same-origin path after that.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from auth_helpers import PASSWORD, csrf_from

pytest_plugins = ["auth_fixtures"]  # auth_app, aapp, aclient, world

ORIGIN = "http://localhost"


def browser_target(location: str, base: str = f"{ORIGIN}/login") -> str:
    """Where a browser goes for this Location (the parts of the WHATWG URL parser that matter
    here); used to check the check, not by the app."""
    from urllib.parse import urljoin

    value = location.strip("".join(chr(c) for c in range(0x21)))
    value = re.sub(r"[\t\n\r]", "", value)
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", value) or value.lower().startswith(
        ("http:", "https:")
    ):
        value = value.replace("\\", "/")
    return urljoin(base, value)


def _sign_in(client, raw_next: str):
    """POST the form with ``next`` exactly as given (already form-encoded)."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    body = f"username=manager1&password={PASSWORD.replace(' ', '+')}&csrf_token={token}"
    return client.post(
        "/login",
        data=f"{body}&next={raw_next}",
        content_type="application/x-www-form-urlencoded",
    )


HOSTILE = [
    "/%09/evil.example",  # a tab: "/\t/evil" becomes "//evil" in the browser (the report)
    "/%0a/evil.example",
    "/%0d/evil.example",
    "/%0d%0a/evil.example",
    "%09//evil.example",
    "/%20/evil.example",
    "%20//evil.example",
    "//evil.example",
    "//evil.example/x",
    "///evil.example",
    "/%5Cevil.example",  # "/\evil"
    "/%5C%5Cevil.example",
    "%5C%5Cevil.example",
    "/%09%5Cevil.example",
    "https://evil.example/",
    "http:evil.example",
    "https:/evil.example",
    "//user@evil.example",
    "javascript:alert(1)",
    "%09javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "/%00x",
    "/x%00",
    "/%7Fx",
    "/%C2%85/evil.example",  # NEL (Cc)
    "/%E2%80%8B/evil.example",  # zero-width space (Cf)
    "/%E2%80%AE/evil.example",  # right-to-left override (Cf)
    "/%EF%BB%BF/evil.example",  # BOM (Cf)
    "/%C2%A0/evil.example",  # no-break space
    "/%E3%80%80/evil.example",  # ideographic space
    "/%E2%80%A8/evil.example",  # line separator
    "/x%20y",
    "",
    "%2F%2Fevil.example",  # form-decoded: "//evil.example"
]

GOOD = [
    ("/review", "/review"),
    ("/regions/P1%3Fmap%3Dgaps%26lang%3Den", "/regions/P1?map=gaps&lang=en"),
    ("/outlets/A1%23history", "/outlets/A1#history"),
    ("/%252F%252Fevil.example", "/%2F%2Fevil.example"),  # percent-encoded slashes: a path
    ("/%2509/evil.example", "/%09/evil.example"),  # an encoded tab stays encoded: a path
    ("/regions/%E6%B5%99%E6%B1%9F", "/regions/浙江"),
    ("/a:b", "/a:b"),
]


@pytest.mark.parametrize("raw", HOSTILE)
def test_hostile_next_falls_back_to_the_home_page(aclient, world, raw):
    response = _sign_in(aclient, raw)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert urlsplit(browser_target(location)).netloc == "localhost", location
    assert location == "/", location  # refused: the manager's home page instead


@pytest.mark.parametrize(("raw", "expected"), GOOD)
def test_a_path_of_this_site_is_followed(aclient, world, raw, expected):
    response = _sign_in(aclient, raw)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert urlsplit(browser_target(location)).netloc == "localhost"
    assert location in (expected, _iri(expected)), location


def _iri(path: str) -> str:
    from werkzeug.urls import iri_to_uri

    return iri_to_uri(path)


def test_the_form_echoes_only_a_safe_next(aclient, world):
    page = aclient.get("/login?next=/%09/evil.example").get_data(as_text=True)
    assert 'name="next" value=""' in page
    page = aclient.get("/login?next=/review").get_data(as_text=True)
    assert 'name="next" value="/review"' in page


def test_the_browser_model_reads_the_reported_location_as_another_site():
    """The check of the check: what the old code answered leads off-site in a browser."""
    assert urlsplit(browser_target("/\t/evil.example")).netloc == "evil.example"
    assert urlsplit(browser_target("/\\evil.example")).netloc == "evil.example"
    assert urlsplit(browser_target(" //evil.example")).netloc == "evil.example"
    assert urlsplit(browser_target("/regions/P1?x=1")).netloc == "localhost"
