"""Users, sign-in, tokens and the access policy every request goes through.

``init_app`` wires it all: settings, the session cookie, ProxyFix, CSRF, the policy hook (first
of all before_request hooks), security headers, and the sign-in, tagging and review pages.
Nothing here imports Flask at module level, so services may use ``geo_crm.domain.access``.
"""

from __future__ import annotations

import datetime as dt
import os

_TRUE = {"1", "true", "yes", "on"}


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None or value == "" else value.strip().lower() in _TRUE


def defaults() -> dict:
    """Settings of this subsystem, from the environment (documented in the README section)."""
    env = os.environ
    return {
        "GEO_CRM_AUTH_REQUIRED": _env_bool("GEO_CRM_AUTH_REQUIRED", True),
        "GEO_CRM_PROXY_COUNT": int(env.get("GEO_CRM_PROXY_COUNT", "0")),
        "GEO_CRM_LOGIN_MAX_FAILURES": int(env.get("GEO_CRM_LOGIN_MAX_FAILURES", "5")),
        "GEO_CRM_LOGIN_MAX_FAILURES_PER_IP": int(
            env.get("GEO_CRM_LOGIN_MAX_FAILURES_PER_IP", "50")
        ),
        "GEO_CRM_LOGIN_WINDOW_S": int(env.get("GEO_CRM_LOGIN_WINDOW_S", "900")),
        "GEO_CRM_MAX_ACCURACY_M": float(env.get("GEO_CRM_MAX_ACCURACY_M", "200")),
        "GEO_CRM_MAX_JUMP_M": float(env.get("GEO_CRM_MAX_JUMP_M", "2000")),
        "GEO_CRM_DUPLICATE_RADIUS_M": float(env.get("GEO_CRM_DUPLICATE_RADIUS_M", "100")),
        "GEO_CRM_DUPLICATE_NAME_SIMILARITY": float(
            env.get("GEO_CRM_DUPLICATE_NAME_SIMILARITY", "0.6")
        ),
        "GEO_CRM_CLOCK_SKEW_S": float(env.get("GEO_CRM_CLOCK_SKEW_S", "120")),
        "GEO_CRM_CSP_IMG_SRC": env.get("GEO_CRM_CSP_IMG_SRC", "https:"),
        "GEO_CRM_TOKEN_CACHE_S": float(env.get("GEO_CRM_TOKEN_CACHE_S", "30")),
        "SESSION_COOKIE_NAME": "geo_crm_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": dt.timedelta(
            hours=int(env.get("GEO_CRM_SESSION_HOURS", "12"))
        ),
        "WTF_CSRF_CHECK_DEFAULT": False,  # the policy decides which requests need the token
        # valid as long as the session: a phone page may stay open all day
        "WTF_CSRF_TIME_LIMIT": None,
    }


def init_app(app) -> None:
    from werkzeug.middleware.proxy_fix import ProxyFix

    from ..web import auth_pages, review, tag
    from . import headers, policy
    from .csrf import csrf
    from .session import SessionInterface

    if "geo_crm_auth" in app.extensions:  # idempotent: tests may wire it onto a fresh app
        return
    app.extensions["geo_crm_auth"] = True
    for key, value in defaults().items():
        app.config.setdefault(key, value)
    # Flask sets these itself, so setdefault cannot: take ours unless the caller chose otherwise
    for key in ("SESSION_COOKIE_NAME", "SESSION_COOKIE_SAMESITE"):
        if app.config.get(key) in (None, "session"):
            app.config[key] = defaults()[key]
    if app.config["PERMANENT_SESSION_LIFETIME"] == dt.timedelta(days=31):
        app.config["PERMANENT_SESSION_LIFETIME"] = defaults()["PERMANENT_SESSION_LIFETIME"]
    proxies = int(app.config.get("GEO_CRM_PROXY_COUNT") or 0)
    if proxies > 0:  # trust X-Forwarded-For/-Proto/-Host from that many proxies in front
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.session_interface = SessionInterface()
    csrf.init_app(app)
    policy.init_app(app)
    headers.init_app(app)
    app.register_blueprint(auth_pages.bp)
    app.register_blueprint(tag.bp)
    app.register_blueprint(review.bp)
