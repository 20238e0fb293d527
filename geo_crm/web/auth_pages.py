"""Sign-in and sign-out pages (form posts carry the CSRF token; failures are throttled)."""

from __future__ import annotations

import logging
import math
import unicodedata
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for

from ..auth import throttle
from ..auth.policy import signed_in_user
from ..auth.session import session_secret, sign_in, sign_out
from ..db import get_session
from ..domain import sessions as user_sessions
from ..domain.users import authenticate
from ..errors import NUL
from ..settings import current_settings
from .locale import current_translator

LOGGER = logging.getLogger(__name__)

bp = Blueprint("auth_pages", __name__)


_MAX_NEXT = 2048


def _safe_next(target: str | None) -> str | None:
    """``target`` when it is a path of this site as a browser will read it, else None.

    Browsers clean a Location before resolving it (WHATWG URL): they drop tabs and newlines
    anywhere, strip leading control characters and spaces, and read a backslash as a slash —
    so ``/<TAB>/evil.example`` becomes ``//evil.example``, another site. Hence: one leading
    ``/`` not followed by another, no backslash, no control or format character (Unicode Cc,
    Cf) and no whitespace anywhere, and neither a scheme nor a host once parsed.
    """
    if not target or len(target) > _MAX_NEXT or not target.startswith("/"):
        return None
    if target.startswith("//") or "\\" in target:
        return None
    if any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _home_for(role: str) -> str:
    return url_for("tag.tag_page") if role == "rep" else url_for("home.index")


def _form(t, *, error: str | None = None, status: int = 200, username: str = ""):
    return render_template(
        "login.html",
        t=t,
        error=error,
        username=username,
        next=_safe_next(request.values.get("next")) or "",
    ), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form; on POST check the password, throttled per username and address."""
    t = current_translator()
    if request.method == "GET":
        return _form(t)
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    if NUL in username:  # no user is named so, and the throttle's table cannot store it
        return _form(
            t,
            status=422,
            username=username.replace(NUL, ""),
            error=t("Invalid username or password."),
        )
    ip = request.remote_addr or "unknown"
    session = get_session()
    settings = current_settings()
    limits = settings.login
    state = throttle.check(session, username, ip, limits)
    if state.blocked:
        session.rollback()
        minutes = max(1, math.ceil(state.retry_after_s / 60))
        LOGGER.warning("sign-in throttled for %r from %s", username, ip)
        body, status = _form(
            t,
            status=429,
            username=username,
            error=t(
                "Too many failed sign-ins for this user from your address. Try again in {minutes} "
                "min.",
                minutes=minutes,
            ),
        )
        return body, status, {"Retry-After": str(state.retry_after_s)}
    user = authenticate(session, username, password)
    if user is None:
        throttle.record_failure(session, username, ip, limits)
        session.commit()
        LOGGER.info("failed sign-in for %r from %s", username, ip)
        return _form(t, username=username, error=t("Invalid username or password."))
    throttle.clear(session, username, ip)
    secret = user_sessions.start_session(
        session, user.id, settings.session_lifetime, replacing=session_secret()
    )
    session.commit()
    sign_in(user, secret)
    LOGGER.info("%s signed in from %s", user.username, ip)
    return redirect(_safe_next(request.form.get("next")) or _home_for(user.role))


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """GET asks for confirmation (a link must not sign anyone out); POST ends this session, or
    with ``everywhere=1`` every session of the user on every device."""
    user = signed_in_user()
    if request.method == "GET":
        if user is None:
            return redirect(url_for("auth_pages.login"))
        return render_template(
            "login.html",
            t=current_translator(),
            confirm_logout=True,
            error=None,
            username="",
            next="",
        )
    session = get_session()
    if request.form.get("everywhere") == "1" and user is not None and user.via == "session":
        ended = user_sessions.end_user_sessions(session, user.id)
        LOGGER.info("%s signed out everywhere (%d sessions)", user.username, ended)
    else:
        user_sessions.end_session(session, session_secret())
    session.commit()
    sign_out()
    return redirect(url_for("auth_pages.login"))
