"""The Flask application factory: wiring only (the runtime: store, query readers, tokens, the refresher of
derived graphs, blueprints, errors).

Production: ``aimsgraph serve --production`` (waitress; see docs/production.md).
One worker process owns the on-disk store (RocksDB allows one writer process); queries run in
forked readers, so the two cores are used anyway.
"""

from __future__ import annotations

import atexit
import secrets

from flask import Blueprint, Flask, Response, current_app, g, jsonify, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from aimsgraph.auth import Principal, require
from aimsgraph.config import Settings
from aimsgraph.errors import AimsgraphError, Unauthorized, ValidationRejected
from aimsgraph.http import api, graph_store, oidc, openapi, protocol, web
from aimsgraph.http.api import agenda as agenda_api
from aimsgraph.http.api import approvals as approvals_api
from aimsgraph.http.api import catalogs as catalogs_api
from aimsgraph.http.api import changes as changes_api
from aimsgraph.http.api import impact as impact_api
from aimsgraph.http.api import notifications as notifications_api
from aimsgraph.http.api import operations as operations_api
from aimsgraph.http.api import oscal as oscal_api
from aimsgraph.http.api import queries as queries_api
from aimsgraph.http.api import ratelimit
from aimsgraph.http.api import regulation as regulation_api
from aimsgraph.http.api import soa as soa_api
from aimsgraph.http.api import tasks as tasks_api
from aimsgraph.http.api import validation as validation_api
from aimsgraph.http.api import workbook as workbook_api
from aimsgraph.http.api.writes import CHANGE_HEADER
from aimsgraph.http.state import EXTENSION, state
from aimsgraph.reporting.reports import finding_dict
from aimsgraph.runtime import Runtime

#: The REST API: a blueprint per subject, nested under the ``api`` blueprint (``/api``), so that
#: endpoints are named ``api.<subject>.<handler>``. Nested once, when this module is imported:
#: Flask refuses to change a blueprint after an app registered it.
REST_BLUEPRINTS: tuple[Blueprint, ...] = (
    changes_api.bp,
    catalogs_api.bp,
    oscal_api.bp,
    workbook_api.bp,
    validation_api.bp,
    soa_api.bp,
    queries_api.bp,
    impact_api.bp,
    operations_api.bp,
    agenda_api.bp,
    regulation_api.bp,
    tasks_api.bp,
    approvals_api.bp,
    notifications_api.bp,
    openapi.bp,
)
for _subject in REST_BLUEPRINTS:
    api.bp.register_blueprint(_subject)
#: Every blueprint of the service, registered in this order: the SPARQL 1.1 Protocol, the Graph
#: Store Protocol, the REST API, the web pages and single sign-on.
BLUEPRINTS: tuple[Blueprint, ...] = (protocol.bp, graph_store.bp, api.bp, web.bp, oidc.bp)


def create_app(settings: Settings | None = None) -> Flask:
    """Open (or create) the store, load reference graphs and demo on first start, wire routes."""
    settings = settings or Settings.from_env()
    runtime = Runtime.open(settings)
    atexit.register(runtime.readers.close)
    if runtime.notifier is not None:
        atexit.register(runtime.notifier.stop)  # after the send in progress, its outcome written

    app = Flask(__name__, static_folder=None)  # the web blueprint serves /static
    app.config.update(
        SECRET_KEY=settings.secret_key or secrets.token_hex(32), SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax"
    )
    app.config["MAX_CONTENT_LENGTH"] = max(settings.max_body_bytes, settings.max_upload_bytes)
    app.extensions[EXTENSION] = runtime
    app.before_request(_preflight)  # first: a preflight carries no credentials
    app.before_request(_authenticate)
    app.after_request(_add_cors_headers)
    app.after_request(ratelimit.retry_after)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.register_error_handler(AimsgraphError, _render_error)
    app.register_error_handler(HTTPException, _render_http_error)
    return app


#: Reachable without a token even when reads are protected.
#: The contract (``api.openapi.*``) says nothing of the record: developers read it before they have a token.
PUBLIC_ENDPOINTS = {
    "api.health",
    "api.openapi.openapi_document",
    "api.openapi.openapi_page",
    "web.login",
    "web.static",
    "web.favicon",
    "oidc.login",
    "oidc.callback",
}


def _authenticate() -> BaseResponse | None:
    """Who is calling (``g.principal``): the bearer token, else a web login's session, which
    only reads; the session's own role is kept in ``g.session_principal`` for the forms that
    check a CSRF token. With AIMSGRAPH_OPEN_READS off, nobody unnamed reads, and pages send
    people to the login form."""
    service = state()
    g.principal = service.tokens.principal(request.headers.get("Authorization"))
    g.session_principal = None
    if g.principal is None:
        g.session_principal = _session_principal(service)
        g.principal = g.session_principal.as_reader() if g.session_principal else None
    if not service.settings.open_reads and request.endpoint not in PUBLIC_ENDPOINTS and request.method != "OPTIONS":
        try:
            require(g.principal, "reader", "reading", service.tokens)
        except Unauthorized:
            if request.blueprint == "web" and request.method == "GET":
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            raise
    return None


def _session_principal(service: Runtime) -> Principal | None:
    """Who the browser session is signed in as (a token login or a single sign-on), with that
    login's role; None once the token is no longer configured or the sign-on has expired."""
    if "token" in session:
        return service.tokens.session_principal(session["token"])
    if "oidc" in session:
        return oidc.session_principal(session["oidc"])
    return None


#: Request headers browser clients may send: the token, JSON and RDF bodies, negotiation.
CORS_REQUEST_HEADERS = "Accept, Authorization, Content-Type"
#: Response headers browser clients may read (a cut result, where a new graph is, a write's change).
CORS_EXPOSED_HEADERS = f"{protocol.TRUNCATED_HEADER}, Warning, Location, {CHANGE_HEADER}"


def _preflight() -> Response | None:
    """Answer OPTIONS for every route (/sparql, the Graph Store, /api/*) in one place, so that
    browser clients such as YASGUI or a page posting JSON to /api can send Authorization and
    Content-Type headers; a path with no route is left to answer 404."""
    if request.method != "OPTIONS":
        return None
    adapter = current_app.create_url_adapter(request)
    assert adapter is not None  # Flask makes one for every request
    methods = set(adapter.allowed_methods())
    if not methods:
        return None
    allowed = ", ".join(sorted(methods | {"OPTIONS"}))
    response = Response(status=204, headers={"Allow": allowed})
    response.headers["Access-Control-Allow-Methods"] = allowed
    response.headers["Access-Control-Allow-Headers"] = CORS_REQUEST_HEADERS
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _add_cors_headers(response: Response) -> Response:
    """CORS headers on every answer of the service (SPARQL, the Graph Store, the API, errors)."""
    origins = state().settings.cors_origins
    origin = request.headers.get("Origin")
    if "*" in origins:
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif origin and origin in origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.vary.add("Origin")
    response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED_HEADERS
    return response


def _render_error(error: AimsgraphError) -> Response:
    if isinstance(error, ValidationRejected):
        response = jsonify(
            title=error.message,
            status=error.status,
            detail=error.message,
            instance=request.path,
            findings=[finding_dict(f) for f in error.findings],
        )
        response.status_code = error.status
        response.content_type = "application/problem+json"
        return response
    response = _error_response(error.status, error.message)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="aimsgraph"'
    return response


def _render_http_error(error: HTTPException) -> Response:
    response = _error_response(error.code or 500, error.description or error.name)
    if error.code == 405:
        response.headers["Allow"] = ", ".join(getattr(error, "valid_methods", None) or [])
    return response


def _error_response(status: int, message: str) -> Response:
    """JSON problem details under /api; a page for the web interface; plain text elsewhere,
    which SPARQL clients display."""
    if request.blueprint == "web" and request.method in ("GET", "POST"):
        return Response(
            render_template("error.html", status=status, message=message), status=status, content_type="text/html; charset=utf-8"
        )
    if request.path.startswith("/api/"):
        response = jsonify(title=message, status=status, detail=message, instance=request.path)
        response.status_code = status
        response.content_type = "application/problem+json"
        return response
    return Response(message + "\n", status=status, content_type="text/plain; charset=utf-8")
