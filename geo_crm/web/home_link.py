"""Where "home" is for whoever reads the page: the landing map for managers and admins, the
tagging page for a rep (the landing map answers a rep 403, so a "home" link there led a rep
from one error page to another). The sign-in page sends each role to the same place."""

from __future__ import annotations

from flask import Flask, g, url_for


def home_url() -> str:
    """This request's user's home page (``/`` when nobody is signed in)."""
    principal = g.get("principal")
    if principal is not None and getattr(principal, "role", None) == "rep":
        return url_for("tag.tag_page")
    return url_for("home.index")


def init_app(app: Flask) -> None:
    app.jinja_env.globals["home_url"] = home_url  # templates/base.html, error.html
