"""The signed session cookie: HttpOnly, SameSite=Lax, Secure whenever the request came over HTTPS.

The cookie names a server-side session (:mod:`.user_sessions`): the user id and the session's
random secret, which the policy checks against ``user_sessions`` on every request.

``Secure`` follows ``request.is_secure`` (set ``GEO_CRM_PROXY_COUNT`` behind a TLS-terminating
proxy so ProxyFix trusts its ``X-Forwarded-Proto``), or is forced by ``SESSION_COOKIE_SECURE``.
"""

from __future__ import annotations

from flask import Flask, has_request_context, request
from flask import session as cookie
from flask.sessions import SecureCookieSessionInterface

from ..domain.principal import Principal


class SessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request):
        """An empty session when no cookie came (API clients): nothing to verify, so the
        signer Flask would build for every request is not built."""
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        forced = bool(app.config.get("SESSION_COOKIE_SECURE"))
        return forced or (has_request_context() and request.is_secure)


UID = "uid"
SECRET = "sid"


def sign_in(user: Principal, secret: str) -> None:
    """Start a fresh cookie for ``user``'s new session (nothing of an earlier cookie survives),
    its CSRF secret in it from the start: every cookie of the session then carries the same one,
    so a response to a request sent earlier (a map tile, the landing page's figures) that
    arrives last cannot put back a cookie without it, which made the next form post fail."""
    from flask import g
    from flask_wtf.csrf import generate_csrf

    cookie.clear()
    cookie.permanent = True
    cookie[UID] = user.id
    cookie[SECRET] = secret
    g.pop("csrf_token", None)  # a token made for the old cookie in this request
    generate_csrf()


def session_secret() -> str | None:
    """The secret of the session this browser's cookie names, if any."""
    value = cookie.get(SECRET)
    return value if isinstance(value, str) else None


def sign_out() -> None:
    cookie.clear()
