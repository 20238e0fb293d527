"""The one access policy every request goes through.

A ``before_request`` hook (installed first, before any other hook) resolves who is calling —
``Authorization: Bearer <token>`` or the signed session cookie — and applies the rule that
:data:`RULES` holds for the endpoint:

- ``PUBLIC``: anyone; ``SIGNED_IN``: any active user; ``roles(...)``: those roles only;
- ``objects=``: URL arguments naming objects (``{"code": "outlet"}``) are resolved inside the
  caller's scope (:mod:`geo_crm.domain.access`); an object outside it answers 404 exactly like a
  missing one, so nobody learns what exists beyond their territory. The id found is the one
  the view acts on (:func:`object_id`): the object checked is the object changed, resolved
  once.

Anonymous callers get 401 JSON under ``/api/`` (and under ``/ogc`` and ``/tiles/`` when they
carry no session cookie: :func:`answers_401`) and a redirect to ``/login`` elsewhere; a role
not allowed gets 403. An endpoint without a rule answers 500 and fails the access-matrix test,
so a new route cannot ship unguarded: add ONE line to :data:`RULES`.

Cookie-authenticated state changes (and the public sign-in form) must carry the CSRF token;
Bearer-token requests are exempt, since a browser never attaches that header on its own.
List endpoints filter with :func:`~geo_crm.domain.access.outlet_scope` /
:func:`~geo_crm.domain.access.region_scope` on :func:`current_user`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from flask import Flask, current_app, g, jsonify, redirect, request, url_for

from ..db import get_session
from ..domain import access as scope
from ..domain.principal import SYSTEM, Principal
from ..errors import Forbidden, GeoCrmError, NotFound, error_body
from ..settings import settings_of

LOGGER = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


@dataclass(frozen=True)
class Rule:
    access: str  # "public" | "signed_in" | "roles"
    roles: frozenset[str] = frozenset()
    objects: Mapping[str, str] = field(default_factory=dict)  # URL argument -> object kind
    inline_scripts: bool = False  # CSP: allow inline <script> (Folium output, Swagger UI)

    def allows(self, user: Principal) -> bool:
        return self.access != "roles" or user.role in self.roles


def roles(
    *names: str, objects: Mapping[str, str] | None = None, inline_scripts: bool = False
) -> Rule:
    return Rule("roles", frozenset(names), dict(objects or {}), inline_scripts)


def signed_in(*, objects: Mapping[str, str] | None = None, inline_scripts: bool = False) -> Rule:
    return Rule("signed_in", frozenset(), dict(objects or {}), inline_scripts)


PUBLIC = Rule("public")
SIGNED_IN = signed_in()
ADMIN = roles("admin")
STAFF = roles("admin", "manager")
FIELD = roles("admin", "manager", "rep")

OUTLET = {"code": "outlet"}
REGION = {"code": "region"}
SALE = {"sale_id": "sale"}
PLAN = {"plan_id": "plan"}
FIELD_OUTLET = roles("admin", "manager", "rep", objects=OUTLET)
# reading a distributor's business: reps too, for the distributors above their outlets
# (domain.access.distributor_scope); every write on a distributor stays OUTLET (no reps)
READ_DISTRIBUTOR = roles("admin", "manager", "rep", objects={"code": "distributor"})
REVIEWER_EVENT = roles("admin", "manager", objects={"event_id": "geotag_event"})


# endpoint -> rule. ONE line per endpoint; tests/test_access_matrix.py fails for any route
# missing here.
RULES: dict[str, Rule] = {
    # infrastructure
    "static": PUBLIC,
    "home.healthz": PUBLIC,
    "favicon.favicon": PUBLIC,  # the site's icon, asked for before any sign-in
    "home.index": STAFF,  # region totals of the whole network
    "api.openapi_document": SIGNED_IN,
    "api_docs.show": signed_in(
        inline_scripts=True
    ),  # Swagger UI's page has an inline bootstrap script
    "api_docs.static": PUBLIC,
    # sign-in
    "auth_pages.login": PUBLIC,
    "auth_pages.logout": PUBLIC,
    # tokens (service-scoped to the caller's own tokens; admins may see everybody's)
    "api.create_token": SIGNED_IN,
    "api.list_tokens": SIGNED_IN,
    "api.revoke_token": SIGNED_IN,
    # outlets and network (views must filter lists with outlet_scope(current_user()))
    "api.list_outlets": FIELD,
    "api.export_outlets_file": STAFF,
    "api.create_outlet": STAFF,  # reps add outlets through api.create_tag_outlet
    "api.get_outlet": roles("admin", "manager", "rep", objects=OUTLET),
    "api.outlet_debt": roles("admin", "manager", "rep", objects=OUTLET),
    "api.upstream": roles("admin", "manager", "rep", objects=OUTLET),
    "api.downstream": roles("admin", "manager", objects=OUTLET),
    "api.update_outlet": roles("admin", "manager", objects=OUTLET),
    "api.move_outlet": roles("admin", "manager", objects=OUTLET),
    "api.deactivate_outlet": roles("admin", "manager", objects=OUTLET),
    "api.delete_outlet": roles("admin", "manager", objects=OUTLET),
    # regions
    "api.region_tree": SIGNED_IN,
    "api.get_region": signed_in(objects=REGION),
    "api.region_counts": roles("admin", "manager", objects=REGION),
    # analyses
    "api.region_coverage": roles("admin", "manager", objects=REGION),
    "api.region_gaps": roles("admin", "manager", objects=REGION),
    "api.region_density": roles("admin", "manager", objects=REGION),
    "api.region_distribution_rate": roles("admin", "manager", objects=REGION),
    "api.distributor_depth": roles("admin", "manager", objects=OUTLET),
    "api.distributor_plan_achievement": roles("admin", "manager", objects=OUTLET),
    "api.region_outlet_changes": roles("admin", "manager", objects=REGION),  # issue 14 part 5
    "api.get_territory": roles("admin", "manager", objects=OUTLET),  # issue 14 part 6
    "api.put_territory": roles("admin", "manager", objects=OUTLET),
    "api.region_cross_selling": roles("admin", "manager", objects=REGION),
    # products, sales, imports
    "api.list_products": SIGNED_IN,
    "api.create_product": ADMIN,
    "api.list_sales": STAFF,
    "api.create_sale": STAFF,
    "api.get_sale": roles("admin", "manager", objects=SALE),
    "api.add_payment": roles("admin", "manager", objects=SALE),
    "api.import_outlets": ADMIN,
    "api.import_products": ADMIN,
    "api.import_sales": ADMIN,
    "api.import_plans": STAFF,  # rows name distributors in the importer's scope
    "api.import_evaluations": STAFF,  # likewise
    "api.export_sales_file": STAFF,
    "api.export_plans_file": STAFF,
    "api.export_debt_file": STAFF,
    "api.list_sale_reviews": STAFF,
    "api.accept_sale_review": roles("admin", "manager", objects=SALE),
    "api.reject_sale_review": roles("admin", "manager", objects=SALE),
    # the distributor business (issue 13): plans, credit, debt, plan against actual
    "api.list_plans": STAFF,
    "api.create_plan": STAFF,
    "api.get_plan": roles("admin", "manager", objects=PLAN),
    "api.update_plan": roles("admin", "manager", objects=PLAN),
    "api.delete_plan": roles("admin", "manager", objects=PLAN),
    "api.plan_history": roles("admin", "manager", objects=PLAN),
    "api.copy_plans": STAFF,
    "api.list_closed_months": STAFF,
    "api.close_month": ADMIN,
    "api.reopen_month": ADMIN,
    "api.list_distributors": STAFF,
    "api.set_credit_limit": roles("admin", objects=OUTLET),
    "api.list_settings": STAFF,
    "api.put_setting": ADMIN,
    "api.get_debt_ageing": STAFF,
    "api.get_plan_actual": STAFF,
    # judging distributors (issue 14): evaluations, weights, class
    "api.create_evaluation": roles("admin", "manager", objects=OUTLET),
    "api.list_evaluations": READ_DISTRIBUTOR,
    "api.get_distributor_class": READ_DISTRIBUTOR,
    "api.get_scorecard": READ_DISTRIBUTOR,
    "api.get_evaluation_weights": STAFF,
    "api.put_evaluation_weights": ADMIN,
    "api.region_ranking": roles("admin", "manager", objects=REGION),
    "judging_pages.ranking_page": roles("admin", "manager", objects=REGION),
    "judging_pages.scorecard_page": READ_DISTRIBUTOR,
    "judging_pages.add_evaluation": roles("admin", "manager", objects=OUTLET),
    # geotagging
    "api.put_outlet_location": FIELD_OUTLET,
    "api.outlet_location_history": FIELD_OUTLET,
    "api.tag_outlets": FIELD,
    "api.tag_parents": FIELD,
    "api.create_tag_outlet": FIELD,
    "api.list_geotag_reviews": STAFF,
    "api.accept_geotag_review": REVIEWER_EVENT,
    "api.reject_geotag_review": REVIEWER_EVENT,
    "tag.tag_page": FIELD,
    "tag.leaflet": PUBLIC,  # the same Leaflet files as vendor_assets, at the tag page's old URL
    "vendor_assets.vendor_asset": PUBLIC,
    "review.review_page": STAFF,
    # region, network and map pages (generated map documents carry the CSP nonce)
    "region_pages.region_page": roles("admin", "manager", objects=REGION),
    "region_pages.region_figures": roles("admin", "manager", objects=REGION),
    "region_pages.analysis_status": roles("admin", "manager", objects=REGION),  # cache state
    "maps.standalone": roles("admin", "manager", objects=REGION),
    "maps.outlet_history": roles("admin", "manager", "rep", objects=OUTLET),
    "network_pages.distributor_page": READ_DISTRIBUTOR,
    "network_pages.outlet_page": roles("admin", "manager", "rep", objects=OUTLET),
    "outlet_changes_pages.changes_page": roles("admin", "manager", objects=REGION),
    "outlet_changes_pages.changes_map": roles("admin", "manager", objects=REGION),
    "cross_selling_pages.cross_selling_page": roles("admin", "manager", objects=REGION),
    "cross_selling_pages.cross_selling_map_page": roles("admin", "manager", objects=REGION),
    "review.decide": REVIEWER_EVENT,
    # vector tiles and OGC API – Features (issue 16): scoped inside their queries
    "tiles.tile": FIELD,
    "tiles.tilejson": FIELD,
    "landing.figures": STAFF,  # the landing map's figures per region, in the caller's scope
    "landing.search": STAFF,  # the landing map's search, in the caller's scope
    "landing.rows": STAFF,  # the home page's region table rows, in the caller's scope
    "ogc.landing": SIGNED_IN,
    "ogc.conformance": SIGNED_IN,
    "ogc.api_definition": SIGNED_IN,
    "ogc.collections": FIELD,
    "ogc.collection": FIELD,
    "ogc.items": FIELD,
    "ogc.item": FIELD,
    # the distributor business in the browser (issue 13b): lists, tabs' forms, outlet edit
    "business_lists.distributor_list_page": STAFF,
    "business_lists.distributor_list_file": STAFF,
    "business_lists.sales_list_page": STAFF,
    "distributor_tabs.add_sale": roles("admin", "manager", objects=OUTLET),
    "distributor_tabs.add_payment": roles("admin", "manager", objects=OUTLET),
    "distributor_tabs.create_plan": roles("admin", "manager", objects=OUTLET),
    "distributor_tabs.update_plan": roles("admin", "manager", objects={**OUTLET, **PLAN}),
    "distributor_tabs.copy_plans": roles("admin", "manager", objects=OUTLET),
    "distributor_tabs.set_credit": roles("admin", objects=OUTLET),
    "outlet_form.edit_outlet": roles("admin", "manager", objects=OUTLET),
    # region reports (issue 15): files now or background jobs; jobs are their owner's (or admins')
    "api.region_report": roles("admin", "manager", objects=REGION),
    "api.create_region_report_job": roles("admin", "manager", objects=REGION),
    "api.distributor_report": roles("admin", "manager", objects=OUTLET),
    "api.create_distributor_report_job": roles("admin", "manager", objects=OUTLET),
    "api.get_report_job": STAFF,
    "api.report_job_file": STAFF,
}


def rule_for(endpoint: str | None) -> Rule | None:
    return RULES.get(endpoint) if endpoint else None


class NoAccessRule(GeoCrmError):
    status = 500
    code = "no_access_rule"


class CsrfFailed(GeoCrmError):
    status = 400
    code = "csrf_failed"


def auth_required(app: Flask | None = None) -> bool:
    """GEO_CRM_AUTH_REQUIRED of the app (default: this request's)."""
    return settings_of(app or current_app).auth_required


def signed_in_user() -> Principal | None:
    """The authenticated user of this request, or None."""
    return g.get("principal")


def current_user() -> Principal:
    """Who this request acts as: the signed-in user, or (only while GEO_CRM_AUTH_REQUIRED is
    off) the all-seeing :data:`~geo_crm.domain.principal.SYSTEM` principal."""
    user = g.get("principal")
    if user is not None:
        return user
    if not auth_required():
        return SYSTEM
    raise NoAccessRule("no signed-in user on a route that requires one")


# what programs read (the API, OGC API Features, vector tiles): anonymous callers get 401 JSON
API_PREFIXES = ("/api/",)
MACHINE_PREFIXES = ("/ogc/", "/tiles/")


def answers_401(path: str, *, has_session: bool = False) -> bool:
    """Whether an anonymous request for ``path`` gets 401 JSON rather than a redirect to sign
    in: always under ``/api/``; under ``/ogc`` and ``/tiles/`` when it carries no session
    cookie (a GIS client or a map's tile fetch), while a browser whose session has ended is
    sent to sign in again."""
    if path.startswith(API_PREFIXES):
        return True
    return not has_session and (path == "/ogc" or path.startswith(MACHINE_PREFIXES))


def _unauthorized(message: str, *, invalid_token: bool = False):
    cookie = current_app.session_interface.get_cookie_name(current_app)
    if answers_401(request.path, has_session=cookie in request.cookies):
        challenge = 'Bearer realm="geo_crm"' + (', error="invalid_token"' if invalid_token else "")
        response = jsonify(error_body("unauthorized", message))
        return response, 401, {"WWW-Authenticate": challenge}
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth_pages.login", next=target))


def _authenticate(rule: Rule) -> tuple[Principal | None, bool, dict[str, int]]:
    """(user, bad_token, objects already resolved: id, or 0 for none in scope): a Bearer
    token wins over the cookie; a bad token is never ignored. For a token, the rule's object
    resolution rides in the token lookup's statement when it can (one round trip instead of
    two on every guarded API request)."""
    from flask import session as cookie

    from ..domain.sessions import principal_for_session
    from .session import UID, session_secret
    from .tokens import principal_for_token

    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer":
        check = None
        if len(rule.objects) == 1:
            arg, kind = next(iter(rule.objects.items()))
            value = (request.view_args or {}).get(arg)
            if value is not None:
                check = (kind, scope.resolve_params(kind, value))
        user, found = principal_for_token(get_session(), credentials.strip(), check=check)
        decided = {arg: found} if check is not None and found is not None else {}
        return user, user is None, decided
    uid = cookie.get(UID)
    if isinstance(uid, int):
        user = principal_for_session(get_session(), uid, session_secret())
        if user is None:
            cookie.clear()  # signed out, expired, or the user disabled: the cookie is worthless
        return user, False, {}
    return None, False, {}


def enforce():
    """The before_request hook: authenticate, authorise, check objects and CSRF."""
    endpoint = request.endpoint
    if endpoint is None:
        return None  # no route matched: the 404/405 handlers answer
    rule = rule_for(endpoint)
    if rule is None:
        LOGGER.error(
            "no access rule for endpoint %s (%s %s)", endpoint, request.method, request.path
        )
        raise NoAccessRule(
            f"no access rule for endpoint {endpoint}: add one to geo_crm.auth.policy.RULES"
        )
    user, bad_token, decided = _authenticate(rule)
    if bad_token:
        return _unauthorized(
            "the token is unknown, revoked, or its user is disabled", invalid_token=True
        )
    g.principal = user
    if rule.access != "public":
        if user is None:
            if auth_required():
                return _unauthorized("sign in, or send Authorization: Bearer <token>")
        elif not rule.allows(user):
            raise Forbidden(f"{user.role}s may not use this page or operation")
        acting = current_user()
        objects: dict[str, int] = {}
        for arg, kind in rule.objects.items():
            value = (request.view_args or {}).get(arg)
            found = decided.get(arg)
            if found is None:
                found = scope.resolve(get_session(), kind, acting, value)
            if not found:
                raise NotFound(
                    f"{kind.replace('_', ' ')} {value} not found",
                    fields={f"path.{arg}": "not found"},
                )
            objects[arg] = found
        g.objects = objects
    if request.method not in SAFE_METHODS and (user is None or user.via != "token"):
        if user is not None or rule.access == "public":  # no cookie authority, nothing to forge
            _check_csrf()
    return None


def object_id(arg: str = "code") -> int:
    """The id of the object URL argument ``arg`` names, as the policy resolved it inside the
    caller's scope: views act on this id, never on a second look-up of the argument."""
    objects = g.get("objects") or {}
    if arg not in objects:
        raise NoAccessRule(f"{request.endpoint}: no object rule resolves the argument {arg!r}")
    return objects[arg]


def _check_csrf() -> None:
    from flask_wtf.csrf import CSRFError

    from .csrf import csrf

    try:
        csrf.protect()
    except CSRFError as exc:
        raise CsrfFailed(f"{exc.description} Reload the page and try again.") from exc


def init_app(app: Flask) -> None:
    # run before every other before_request hook, so nothing touches data unauthorised
    app.before_request_funcs.setdefault(None, []).insert(0, enforce)

    @app.context_processor
    def _inject_user():
        return {"current_user": g.get("principal")}
