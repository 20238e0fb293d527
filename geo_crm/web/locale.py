"""The one language picker: each request's language, and ``_``/``t`` for every template
(geo_crm.i18n holds the words).

Order: ``?lang=zh|en`` (remembered in a ``lang`` cookie for a year), then the signed-in user's
saved locale, then the ``lang`` cookie, then ``Accept-Language``, else Chinese. Every page —
sign-in, tagging and review included — takes its translator from :func:`current_translator`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, g, has_request_context, request

from ..i18n import LANGS, Translator, negotiate, normalise_lang

COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


def current_translator() -> Translator:
    """This request's translator (picked once per request)."""
    t = g.get("translator")
    if t is None:
        from ..settings import current_settings

        t = g.translator = Translator(_pick(), current_settings().timezone)
    return t


def _pick() -> str:
    user_locale = getattr(g.get("principal"), "locale", None)
    return negotiate(
        request.args.get("lang"),
        user_locale or request.cookies.get(COOKIE),
        request.headers.get("Accept-Language"),
    )


def lang_url(lang: str) -> str:
    """The current page in another language (keeps the other query arguments)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    args.append(("lang", lang))
    return f"{request.path}?{urlencode(args)}"


def init_app(app: Flask) -> None:
    from ..auth.headers import add_vary

    @app.after_request
    def _remember_language(response):
        lang = request.args.get("lang")
        if lang is not None:
            chosen = normalise_lang(lang)
            if chosen and request.cookies.get(COOKIE) != chosen:
                response.set_cookie(
                    COOKIE, chosen, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True
                )
        add_vary(response.headers, "Cookie", "Accept-Language")
        return response

    @app.context_processor
    def _i18n_context():
        if not has_request_context():
            return {}
        t = current_translator()
        return {"_": t, "t": t, "lang": t.lang, "langs": LANGS, "lang_url": lang_url}
