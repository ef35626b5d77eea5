"""The SPARQL 1.1 Protocol endpoint (``/sparql``, and ``/update`` for updates only): request
parsing, dataset parameters, guards, content negotiation, CORS and the service description.

The blueprint only translates HTTP: queries are evaluated in ``sparql.executor``, updates in
``sparql.update`` and committed through ``api.writes``. An update is only ever taken from a POST
body or form, never from a URL.
"""

from __future__ import annotations

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, g, request

from aimsgraph.api.writes import change_response, commit_request
from aimsgraph.auth import require
from aimsgraph.errors import InvalidInput, NotAcceptable, PayloadTooLarge, UnsupportedMediaType
from aimsgraph.namespaces import PREFIXES, Graphs, is_absolute_iri
from aimsgraph.sparql import results
from aimsgraph.sparql.executor import QueryJob, QueryOutcome, reader_selector
from aimsgraph.sparql.guard import check_remote_calls, query_form
from aimsgraph.sparql.negotiation import best_match
from aimsgraph.sparql.update import UpdateRequest, evaluate

bp = Blueprint("sparql", __name__)

QUERY_MEDIA_TYPE = "application/sparql-query"
UPDATE_MEDIA_TYPE = "application/sparql-update"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
TRUNCATED_HEADER = "X-Aimsgraph-Result-Truncated"
#: Times an update is evaluated outside the write lock before it is evaluated under it.
UPDATE_ATTEMPTS = 3


@bp.route("/sparql", methods=["GET", "POST"], provide_automatic_options=False)
def sparql_endpoint() -> Response:
    """Answer a SPARQL query, or describe the service when no query is given."""
    state = current_app.extensions["aimsgraph"]
    settings = state.settings
    if _is_update():
        return _update()
    text = _query_text(settings.max_body_bytes)
    if text is None:
        return _service_description()
    base_iri = request.base_url
    form = query_form(text)
    if form == "UPDATE":
        raise InvalidInput("this is a SPARQL Update; send it as 'update', not 'query'")
    check_remote_calls(text, settings.service_allowlist, base_iri)
    accept = request.headers.get("Accept")
    job = QueryJob(
        query=text,
        base_iri=base_iri,
        default_graphs=_graph_parameter("default-graph-uri"),
        named_graphs=_graph_parameter("named-graph-uri"),
        solution_type=best_match(accept, results.SOLUTION_TYPES),
        graph_type=best_match(accept, list(results.GRAPH_TYPES)),
        limit=settings.result_limit,
        prefixes=PREFIXES,
    )
    return query_response(state.readers.run(job), settings.result_limit)


@bp.route("/update", methods=["POST"], provide_automatic_options=False)
def update_endpoint() -> Response:
    """SPARQL 1.1 Update only (the same as an update POSTed to /sparql)."""
    if not _is_update():
        raise UnsupportedMediaType(f"POST /update takes {UPDATE_MEDIA_TYPE} or a form with an 'update' field")
    return _update()


def _is_update() -> bool:
    if request.method != "POST":
        return False
    return request.mimetype == UPDATE_MEDIA_TYPE or (request.mimetype == FORM_MEDIA_TYPE and "update" in request.form)


def _update() -> Response:
    """Evaluate an update to its change and commit it, against one state of the store."""
    state = current_app.extensions["aimsgraph"]
    settings = state.settings
    require(g.principal, "editor", "SPARQL Update", state.tokens)
    if request.mimetype == FORM_MEDIA_TYPE:
        if "query" in request.form:
            raise InvalidInput("give either 'query' or 'update', not both")
        text = _single("update", request.form.getlist("update"), settings.max_body_bytes)
    else:
        text = _body_text(settings.max_body_bytes, "update")
    if text is None or query_form(text) in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
        raise InvalidInput("this is not a SPARQL Update; send queries as 'query'")
    check_remote_calls(text, settings.service_allowlist, request.base_url)
    update = UpdateRequest(
        text, request.base_url, _graph_parameter("using-graph-uri"), _graph_parameter("using-named-graph-uri"),
        fetch_timeout=settings.query_timeout, fetch_max_bytes=settings.max_upload_bytes,
        max_solutions=settings.result_limit,
    )
    store, selector = state.store, reader_selector(state.readers)
    for _ in range(UPDATE_ATTEMPTS):
        # Evaluated outside the write lock (WHERE clauses in the query readers, with their
        # timeout), committed only if no write came in between; otherwise evaluated again.
        generation = store.generation
        delta = evaluate(store, update, selector)
        with store.write_lock():
            if store.generation == generation:
                return change_response(commit_request(delta, "sparql-update", text))
    with store.write_lock():  # writes keep coming: evaluate under the lock, in this process
        return change_response(commit_request(evaluate(store, update), "sparql-update", text))


def query_response(outcome: QueryOutcome, limit: int) -> Response:
    """The HTTP answer to an evaluated query, announcing a cut result in its headers."""
    response = Response(outcome.body, content_type=content_type(outcome.media_type))
    response.headers["Vary"] = "Accept"
    if outcome.truncated:
        response.headers[TRUNCATED_HEADER] = str(limit)
        response.headers["Warning"] = (
            f'299 aimsgraph "result truncated to the first {limit} '
            'items (AIMSGRAPH_RESULT_LIMIT); page with LIMIT/OFFSET"'
        )
    return response


@bp.route("/sparql", methods=["OPTIONS"])
@bp.route("/update", methods=["OPTIONS"])
def preflight(methods: str = "GET, POST, OPTIONS") -> Response:
    """CORS preflight, so browser clients such as YASGUI can send Authorization headers."""
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = methods
    response.headers["Access-Control-Allow-Headers"] = "Accept, Authorization, Content-Type"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


@bp.after_app_request
def add_cors_headers(response: Response) -> Response:
    """CORS headers on every answer of the service (the API and the Graph Store too)."""
    origins = current_app.extensions["aimsgraph"].settings.cors_origins
    origin = request.headers.get("Origin")
    if "*" in origins:
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif origin and origin in origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.vary.add("Origin")
    response.headers["Access-Control-Expose-Headers"] = f"{TRUNCATED_HEADER}, Warning, Location, X-Aimsgraph-Change"
    return response


def _query_text(max_bytes: int) -> str | None:
    """The query string of the request, or None when the request carries no query at all."""
    if request.method == "GET":
        if "update" in request.args:
            raise InvalidInput("SPARQL Update is never executed via GET; POST it instead")
        return _single("query", request.args.getlist("query"), max_bytes)
    mimetype = request.mimetype
    if mimetype == FORM_MEDIA_TYPE:
        text = _single("query", request.form.getlist("query") + request.args.getlist("query"), max_bytes)
        if text is None:
            raise InvalidInput("the form has no 'query' field")
        return text
    if mimetype == QUERY_MEDIA_TYPE:
        return _body_text(max_bytes, "query")
    raise UnsupportedMediaType(
        f"POST /sparql takes {QUERY_MEDIA_TYPE}, {UPDATE_MEDIA_TYPE} or {FORM_MEDIA_TYPE}, "
        f"not {mimetype or 'a body without Content-Type'}"
    )


def _body_text(max_bytes: int, what: str) -> str:
    body = request.get_data(cache=False)
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"the {what} is {len(body)} bytes; the limit is {max_bytes} (AIMSGRAPH_MAX_BODY_BYTES)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"the {what} body is not UTF-8") from None
    if not text.strip():
        raise InvalidInput(f"the request body holds no {what}")
    return text


def _single(name: str, values: list[str], max_bytes: int) -> str | None:
    if not values:
        return None
    if len(values) > 1:
        raise InvalidInput(f"give exactly one '{name}' parameter, not {len(values)}")
    if len(values[0].encode()) > max_bytes:
        raise PayloadTooLarge(f"the {name} is longer than {max_bytes} bytes (AIMSGRAPH_MAX_BODY_BYTES)")
    if not values[0].strip():
        raise InvalidInput(f"the '{name}' parameter is empty")
    return values[0]


def _graph_parameter(name: str) -> tuple[str, ...]:
    values = request.args.getlist(name)
    if request.method == "POST" and request.mimetype == FORM_MEDIA_TYPE:
        values += request.form.getlist(name)
    for value in values:
        if not is_absolute_iri(value):
            raise InvalidInput(f"{name} must be an absolute IRI, got {value!r}")
    return tuple(values)


def content_type(media_type: str) -> str:
    """The Content-Type header for a media type (text types in UTF-8)."""
    media_type = results.canonical_solution_type(media_type)
    return f"{media_type}; charset=utf-8" if media_type.startswith("text/") else media_type


def _service_description() -> Response:
    """SPARQL 1.1 Service Description of this endpoint, in the negotiated RDF format."""
    media_type = best_match(request.headers.get("Accept"), list(results.GRAPH_TYPES))
    if media_type is None:
        raise NotAcceptable(f"the service description is available as {', '.join(results.GRAPH_TYPES)}")
    allowlist = current_app.extensions["aimsgraph"].settings.service_allowlist
    formats = " ,\n    ".join(
        f"<http://www.w3.org/ns/formats/{name}>"
        for name in ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                     "Turtle", "N-Triples", "JSON-LD", "RDF_XML", "TriG", "N-Quads")
    )
    named = " ,\n        ".join(f"[ a sd:NamedGraph ; sd:name <{g}> ]" for g in Graphs.ALL)
    federation = " , sd:BasicFederatedQuery" if allowlist else ""
    turtle = f"""
@prefix sd: <http://www.w3.org/ns/sparql-service-description#> .
@prefix dct: <http://purl.org/dc/terms/> .
<{request.base_url}#service> a sd:Service ;
    dct:title "aimsgraph SPARQL endpoint" ;
    sd:endpoint <{request.base_url}> ;
    sd:supportedLanguage sd:SPARQL11Query , sd:SPARQL11Update ;
    sd:feature sd:UnionDefaultGraph{federation} ;
    sd:resultFormat {formats} ;
    sd:defaultDataset [ a sd:Dataset ;
        dct:description "The default graph is the union of all named graphs." ;
        sd:defaultGraph [ a sd:Graph ] ;
        sd:namedGraph {named} ] .
"""
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(turtle, format=ox.RdfFormat.TURTLE)]
    prefixes = {"sd": "http://www.w3.org/ns/sparql-service-description#", "dct": "http://purl.org/dc/terms/"}
    body = results.write_graph(triples, media_type, prefixes)
    response = Response(body, content_type=content_type(media_type))
    response.headers["Vary"] = "Accept"
    return response

