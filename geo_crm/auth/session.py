"""The signed session cookie: HttpOnly, SameSite=Lax, Secure whenever the request came over HTTPS.

``Secure`` follows ``request.is_secure`` (set ``GEO_CRM_PROXY_COUNT`` behind a TLS-terminating
proxy so ProxyFix trusts its ``X-Forwarded-Proto``), or is forced by ``SESSION_COOKIE_SECURE``.
"""

from __future__ import annotations

from flask import Flask, has_request_context, request
from flask import session as cookie
from flask.sessions import SecureCookieSessionInterface

from .principal import Principal


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


def sign_in(user: Principal, fingerprint: str) -> None:
    """Start a fresh session for ``user`` (nothing of an earlier session survives)."""
    cookie.clear()
    cookie.permanent = True
    cookie["uid"] = user.id
    cookie["pw"] = fingerprint


def sign_out() -> None:
    cookie.clear()
