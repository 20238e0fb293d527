"""Users, sign-in, tokens and the access policy every request goes through.

``init_app`` wires it all: the session cookie, ProxyFix, CSRF, the policy hook (first of all
before_request hooks), security headers, and the sign-in, tagging and review pages. Its settings
(and the Flask keys they imply) come from :mod:`geo_crm.settings`.
Nothing here imports Flask at module level, so services may use ``geo_crm.domain.access``.
"""

from __future__ import annotations


def init_app(app) -> None:
    from werkzeug.middleware.proxy_fix import ProxyFix

    from ..settings import settings_of
    from ..web import auth_pages, review, tag
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
    app.register_blueprint(auth_pages.bp)
    app.register_blueprint(tag.bp)
    app.register_blueprint(review.bp)
