"""Who is calling and what they may do, over HTTP: the access policy, the session cookie, CSRF,
security headers, bearer tokens (with their per-process cache) and sign-in throttling.

``init_app`` wires the HTTP pieces onto an app built by :func:`geo_crm.create_app`: ProxyFix,
the session interface, CSRF, the policy hook (first of all before_request hooks) and the
headers. Its settings come from :mod:`geo_crm.settings`; the pages (sign-in, tagging, review)
are registered by :mod:`geo_crm.web` like every other page. Users, passwords, sessions and
scopes are domain code (``geo_crm.domain``), which never imports this package.
"""

from __future__ import annotations


def init_app(app) -> None:
    from werkzeug.middleware.proxy_fix import ProxyFix

    from ..settings import settings_of
    from . import headers, policy
    from .csrf import csrf
    from .session import SessionInterface

    if "geo_crm_auth" in app.extensions:  # idempotent: tests may wire it onto a fresh app
        return
    app.extensions["geo_crm_auth"] = True
    proxies = settings_of(app).proxy_count
    if proxies > 0:  # trust X-Forwarded-For/-Proto/-Host from that many proxies in front
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.session_interface = SessionInterface()
    csrf.init_app(app)
    policy.init_app(app)
    headers.init_app(app)
