"""The SPARQL 1.1 Protocol endpoint (``/sparql``, and ``/update`` for updates only): request
parsing, dataset parameters, guards, content negotiation and the service description.

Besides the Accept header, the result format can be named by ``format=`` or ``output=`` (the
parameters of Virtuoso and Fuseki, which SPARQLWrapper sends); a named format wins over Accept.
HEAD answers as GET does, without the body. CORS is the application's (``app``).

The blueprint only translates HTTP: queries are evaluated in ``sparql.executor``, updates in
``sparql.update`` and committed through ``api.writes``. An update is only ever taken from a POST
body or form, never from a URL.
"""

from __future__ import annotations

import functools

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, g, request

from aimsgraph.errors import InvalidInput, NotAcceptable, PayloadTooLarge, UnsupportedMediaType
from aimsgraph.http.api.writes import change_response, upload_body, writes
from aimsgraph.http.negotiation import best_match
from aimsgraph.http.state import state
from aimsgraph.namespaces import DCT, PREFIXES, SD, Graphs, is_absolute_iri
from aimsgraph.runtime import Runtime
from aimsgraph.sparql import cache, results
from aimsgraph.sparql.executor import QueryJob, QueryOutcome
from aimsgraph.sparql.guard import check_text, query_form
from aimsgraph.sparql.update import UpdateRequest

bp = Blueprint("sparql", __name__)

QUERY_MEDIA_TYPE = "application/sparql-query"
UPDATE_MEDIA_TYPE = "application/sparql-update"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
TRUNCATED_HEADER = "X-Aimsgraph-Result-Truncated"


@bp.route("/sparql", methods=["GET", "POST"], provide_automatic_options=False)
def sparql_endpoint() -> Response:
    """Answer a SPARQL query, or describe the service when no query is given."""
    service = state()
    settings = service.settings
    if _is_update():
        return _update()
    text = _query_text(settings.max_body_bytes)
    if text is None:
        return _service_description()
    base_iri = request.base_url
    check_text(text, settings, base_iri)  # size, nesting, SERVICE: before anything parses it
    form = query_form(text)
    if form == "UPDATE":
        raise InvalidInput("this is a SPARQL Update; send it as 'update', not 'query'")
    solution_type, graph_type = result_types()
    # refused here, with the formats on offer, rather than after the query has run
    if form in ("SELECT", "ASK") and solution_type is None:
        raise NotAcceptable(f"{form} results are available as {results.on_offer(graph=False)}")
    if form in ("CONSTRUCT", "DESCRIBE") and graph_type is None:
        raise NotAcceptable(f"{form} results are available as {results.on_offer(graph=True)}")
    job = QueryJob(
        query=text,
        base_iri=base_iri,
        default_graphs=_graph_parameter("default-graph-uri"),
        named_graphs=_graph_parameter("named-graph-uri"),
        solution_type=solution_type,
        graph_type=graph_type,
        limit=settings.result_limit,
        prefixes=PREFIXES,
    )
    return query_response(run_query(service, job, form), settings.result_limit)


def run_query(service: Runtime, job: QueryJob, form: str | None) -> QueryOutcome:
    """The outcome of ``job``: from the result cache when the store has not changed since the same
    query was answered (``sparql.cache``), else from a reader."""
    answers = _result_cache(service)
    if answers is None or not cache.cacheable(job.query, form):
        return service.readers.run(job)
    key = cache.key(job)
    generation = service.store.generation
    outcome = answers.get(key, generation)
    if outcome is None:
        outcome = service.readers.run(job)
        # the reader had the store's generation when it was taken; unchanged since, it was this one
        if service.store.generation == generation:
            answers.put(key, generation, outcome)
    return outcome


def _result_cache(service: Runtime) -> cache.ResultCache | None:
    """The application's result cache; None when it is off or the store is an external one."""
    answers = current_app.extensions.get(RESULT_CACHE)
    if answers is None:
        if service.settings.result_cache_bytes <= 0 or service.store.remote is not None:
            return None
        answers = current_app.extensions.setdefault(RESULT_CACHE, cache.ResultCache(service.settings.result_cache_bytes))
    return answers


RESULT_CACHE = "aimsgraph-result-cache"


@bp.route("/update", methods=["POST"], provide_automatic_options=False)
def update_endpoint() -> Response:
    """SPARQL 1.1 Update only (the same as an update POSTed to /sparql)."""
    if not _is_update():
        raise UnsupportedMediaType(f"POST /update takes {UPDATE_MEDIA_TYPE} or a form with an 'update' field")
    return _update()


def result_types() -> tuple[str | None, str | None]:
    """The media types for SELECT/ASK and for CONSTRUCT/DESCRIBE results of this request: those
    named by ``format``/``output`` when given, else the Accept header's choice; None where
    nothing fits."""
    named = _named_format()
    if named is not None:
        return named
    return _negotiated(request.headers.get("Accept"))


def _negotiated(accept: str | None) -> tuple[str | None, str | None]:
    """The Accept header's choices (remembered for the last few short headers: clients send the
    same one with every request)."""
    if accept is not None and len(accept) > 512:
        return best_match(accept, results.SOLUTION_TYPES), best_match(accept, list(results.GRAPH_TYPES))
    return _negotiated_short(accept)


@functools.lru_cache(maxsize=128)
def _negotiated_short(accept: str | None) -> tuple[str | None, str | None]:
    return best_match(accept, results.SOLUTION_TYPES), best_match(accept, list(results.GRAPH_TYPES))


def _named_format() -> tuple[str | None, str | None] | None:
    """The formats named by the ``format`` and ``output`` parameters; None when neither is given.

    SPARQLWrapper sends both, and for some formats a short name and a media type in each
    (``format=tsv&format=text/tab-separated-values``): they may repeat a choice, not contradict it.
    An empty value (SPARQLWrapper sends one when it has no media type) names nothing."""
    values = [v for v in _parameter("format") + _parameter("output") if v.strip()]
    if not values:
        return None
    choices = []
    for value in values:
        types = results.named_types(value)
        if types is None:
            names = ", ".join(results.FORMAT_NAMES)
            raise InvalidInput(
                f"unknown result format {value!r}: format= and output= take {names}, "
                "or a media type such as application/sparql-results+json or text/turtle"
            )
        choices.append(types)
    return _agreed([c[0] for c in choices]), _agreed([c[1] for c in choices])


def _agreed(types: list[str | None]) -> str | None:
    """The one media type the values name for one kind of result (None if none names one)."""
    named = {results.canonical_solution_type(t) for t in types if t is not None}
    if len(named) > 1:
        raise InvalidInput(f"format= and output= name different formats: {', '.join(sorted(named))}")
    return named.pop() if named else None


def _is_update() -> bool:
    if request.method != "POST":
        return False
    return request.mimetype == UPDATE_MEDIA_TYPE or (request.mimetype == FORM_MEDIA_TYPE and "update" in request.form)


@writes("editor", "SPARQL Update")
def _update() -> Response:
    """Evaluate an update to its change and commit it, against one state of the store."""
    service = state()
    settings = service.settings
    if request.mimetype == FORM_MEDIA_TYPE:
        if "query" in request.form:
            raise InvalidInput("give either 'query' or 'update', not both")
        text = _single("update", request.form.getlist("update"), settings.max_body_bytes)
    else:
        text = _body_text(settings.max_body_bytes, "update")
    if text is not None:
        check_text(text, settings, request.base_url)  # size, nesting, LOAD: before anything parses it
    if text is None or query_form(text) in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
        raise InvalidInput("this is not a SPARQL Update; send queries as 'query'")
    update = UpdateRequest(
        text,
        request.base_url,
        _graph_parameter("using-graph-uri"),
        _graph_parameter("using-named-graph-uri"),
        fetch_timeout=settings.query_timeout,
        fetch_max_bytes=settings.max_upload_bytes,
        max_solutions=settings.result_limit,
    )
    return change_response(service.update(g.principal, update))


def query_response(outcome: QueryOutcome, limit: int) -> Response:
    """The HTTP answer to an evaluated query, announcing a cut result in its headers."""
    response = Response(outcome.body, content_type=content_type(outcome.media_type))
    response.headers["Vary"] = "Accept"
    if outcome.truncated:
        response.headers[TRUNCATED_HEADER] = str(limit)
        response.headers["Warning"] = (
            f'299 aimsgraph "result truncated to the first {limit} items (AIMSGRAPH_RESULT_LIMIT); page with LIMIT/OFFSET"'
        )
    return response


def _query_text(max_bytes: int) -> str | None:
    """The query string of the request, or None when the request carries no query at all."""
    if request.method in ("GET", "HEAD"):  # Werkzeug drops the body of a HEAD answer
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
    """A query or update sent as the body, read whole or refused (413), never cut."""
    body = upload_body(what, small=True)
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


def _parameter(name: str) -> list[str]:
    """The values of a request parameter, from the URL and from a POSTed form."""
    values = request.args.getlist(name) if request.args else []
    if request.method == "POST" and request.mimetype == FORM_MEDIA_TYPE:
        values += request.form.getlist(name)
    return values


def _graph_parameter(name: str) -> tuple[str, ...]:
    values = _parameter(name)
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
    media_type = result_types()[1]
    if media_type is None:
        raise NotAcceptable(f"the service description is available as {results.on_offer(graph=True)}")
    allowlist = state().settings.service_allowlist
    formats = " ,\n    ".join(
        f"<http://www.w3.org/ns/formats/{name}>"
        for name in (
            "SPARQL_Results_JSON",
            "SPARQL_Results_XML",
            "SPARQL_Results_CSV",
            "SPARQL_Results_TSV",
            "Turtle",
            "N-Triples",
            "JSON-LD",
            "RDF_XML",
            "TriG",
            "N-Quads",
        )
    )
    # labelled blank nodes, not [ ]: the same description every time, so HEAD and GET agree on
    # its Content-Length
    named = " ,\n        ".join(f"_:graph{i}" for i in range(len(Graphs.ALL)))
    named_graphs = "\n".join(f"_:graph{i} a sd:NamedGraph ; sd:name <{g}> ." for i, g in enumerate(Graphs.ALL))
    federation = " , sd:BasicFederatedQuery" if allowlist else ""
    turtle = f"""
@prefix sd: <{SD}> .
@prefix dct: <{DCT}> .
<{request.base_url}#service> a sd:Service ;
    dct:title "aimsgraph SPARQL endpoint" ;
    sd:endpoint <{request.base_url}> ;
    sd:supportedLanguage sd:SPARQL11Query , sd:SPARQL11Update ;
    sd:feature sd:UnionDefaultGraph{federation} ;
    sd:resultFormat {formats} ;
    sd:defaultDataset _:dataset .
_:dataset a sd:Dataset ;
    dct:description "The default graph is the union of all named graphs." ;
    sd:defaultGraph _:default ;
    sd:namedGraph {named} .
_:default a sd:Graph .
{named_graphs}
"""
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(turtle, format=ox.RdfFormat.TURTLE)]
    prefixes = {"sd": SD, "dct": DCT}
    body = results.write_graph(triples, media_type, prefixes)
    response = Response(body, content_type=content_type(media_type))
    response.headers["Vary"] = "Accept"
    return response
