"""The SPARQL 1.1 Graph Store HTTP Protocol at ``/rdf-graph-store``: GET, HEAD, PUT, POST and
DELETE of one graph, named by ``?graph=IRI`` or ``?default``.

``?default`` is the organisation's data graph, the graph that updates without ``GRAPH`` write
to (queries see the union of all graphs as their default graph). A POST without a graph
creates a new graph named ``urn:uuid:...`` (201, with its Graph Store URL as ``Location``). PUT and
POST take an RDF body, or, as Fuseki does, a ``multipart/form-data`` upload of one or more files
(an HTML form, ``curl -F file=@data.ttl``), each in the format its Content-Type or, failing that,
its file name extension names. Bodies are parsed completely, with
blank nodes renamed apart and no external resources fetched, before anything is written; the
change is then committed like any other write (``api.writes``).
"""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from urllib.parse import urlencode

import pyoxigraph as ox
from flask import Blueprint, Response, g, request

from aimsgraph import limits
from aimsgraph.auth import require_write
from aimsgraph.errors import InvalidInput, NotAcceptable, NotFound, UnsupportedMediaType
from aimsgraph.http.api.writes import UploadedFile, change_response, commit_request, upload_body, uploaded_files, writes
from aimsgraph.http.negotiation import best_match
from aimsgraph.http.protocol import content_type
from aimsgraph.http.state import state
from aimsgraph.namespaces import PREFIXES, Graphs, is_absolute_iri
from aimsgraph.sparql import results
from aimsgraph.store.changes import Delta

bp = Blueprint("graph_store", __name__)

#: Media types a graph can be sent in (RDF graph formats: a dataset format has no place here).
BODY_TYPES = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/x-turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "text/plain": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "text/n3": ox.RdfFormat.N3,
}
MULTIPART = "multipart/form-data"
#: Response formats: graph formats only, Turtle first (the answer when no Accept is given).
ANSWER_TYPES = results.TRIPLE_TYPES


@bp.route("/rdf-graph-store", methods=["GET", "PUT", "POST", "DELETE"], provide_automatic_options=False)
def graph_store() -> Response:
    """One handler per method, after reading which graph the request names."""
    graph = _graph_named()
    if request.method in ("GET", "HEAD"):  # Werkzeug drops the body of a HEAD answer
        return _get(graph)
    return _write(graph)


@writes("editor", "{method} on the graph store")  # before the body is read or the write lock taken: no token, no work
def _write(graph: str | None) -> Response:
    """PUT, POST or DELETE of ``graph`` (None: POST to the store itself)."""
    if graph is not None:
        require_write(g.principal, {graph}, state().tokens)
    if request.method == "DELETE":
        return _delete(graph)
    if graph is None:  # POST to the store itself: a new graph, named by a fresh URN
        graph = f"urn:uuid:{uuid.uuid4()}"
    triples = _body(graph)  # parsed before the write lock is taken
    with state().store.write_lock():
        existed = _exists(graph)
        current = _content(graph) if request.method == "PUT" else set()
        delta = Delta(removed=current - triples, added=triples - current)
        change = commit_request(delta, f"graph-store-{request.method.lower()}")
    created = not existed and bool(triples)
    response = change_response(change, 201 if created else 200, graph=graph)
    if created:  # where the new graph can be read and written
        response.headers["Location"] = f"{request.base_url}?{urlencode({'graph': graph})}"
    return response


def _get(graph: str | None) -> Response:
    if graph is None:
        raise InvalidInput("name the graph: ?graph=IRI or ?default")
    if graph != Graphs.DATA and not _exists(graph):
        raise NotFound(f"there is no graph <{graph}>")
    accept = request.headers.get("Accept")
    media_type = best_match(accept, ANSWER_TYPES) if accept else "text/turtle"
    if media_type is None:
        raise NotAcceptable(f"a graph is available as {', '.join(ANSWER_TYPES)}")
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in _quads(graph)]
    response = Response(results.write_graph(triples, media_type, PREFIXES), content_type=content_type(media_type))
    response.headers["Vary"] = "Accept"
    return response


def _delete(graph: str | None) -> Response:
    if graph is None:
        raise InvalidInput("name the graph to delete: ?graph=IRI or ?default")
    with state().store.write_lock():
        current = _content(graph)
        if not current and graph != Graphs.DATA:
            raise NotFound(f"there is no graph <{graph}>")
        return change_response(commit_request(Delta(removed=current), "graph-store-delete"))


def _graph_named() -> str | None:
    """The graph IRI of the request (the data graph for ?default); None when neither is given."""
    graphs = request.args.getlist("graph")
    default = "default" in request.args
    if len(graphs) > 1 or (graphs and default):
        raise InvalidInput("give exactly one of ?graph=IRI or ?default")
    if default:
        return Graphs.DATA
    if not graphs:
        if request.method != "POST":
            raise InvalidInput("name the graph: ?graph=IRI or ?default")
        return None
    if not is_absolute_iri(graphs[0]):
        raise InvalidInput(f"the graph must be named by an absolute IRI, got {graphs[0]!r}")
    return graphs[0]


def _body(graph: str) -> set[ox.Quad]:
    """The request's triples, in ``graph``: from the body, or from every file of an upload."""
    target = ox.NamedNode(graph)
    return {
        ox.Quad(t.subject, t.predicate, t.object, target)
        for data, fmt, what in _documents()
        for t in _parse(data, fmt, graph, what)
    }


def _documents() -> list[tuple[bytes, ox.RdfFormat, str]]:
    """The RDF documents of the request, with their formats and how to name them in a message."""
    if request.mimetype == MULTIPART:
        files = uploaded_files("upload")
        if not files:
            raise InvalidInput("the multipart/form-data upload has no file part (curl: -F 'file=@data.ttl')")
        return [(f.data, _file_format(f), f"the file {f.filename!r}") for f in files]
    fmt = BODY_TYPES.get(request.mimetype)
    if fmt is None:
        raise UnsupportedMediaType(
            f"the body must be an RDF graph ({', '.join(BODY_TYPES)}) or a {MULTIPART} "
            f"upload, not {request.mimetype or 'untyped'}"
        )
    return [(upload_body("body"), fmt, "the body")]


def _file_format(upload: UploadedFile) -> ox.RdfFormat:
    """An uploaded file's format: the one its Content-Type names, else the one its extension names
    (.ttl, .nt, .rdf, .jsonld, .n3); a text/plain file with neither is N-Triples, as a body."""
    # text/plain says little of a file: browsers and editors label .ttl files so too
    if upload.mimetype in BODY_TYPES and upload.mimetype != "text/plain":
        return BODY_TYPES[upload.mimetype]
    extension = PurePosixPath(upload.filename.replace("\\", "/")).suffix.lstrip(".").lower()
    fmt = ox.RdfFormat.from_extension(extension) if extension else None
    if fmt is None and upload.mimetype == "text/plain":
        fmt = BODY_TYPES["text/plain"]
    if fmt is None or fmt not in BODY_TYPES.values():  # not RDF, or a dataset format (.trig, .nq) where a graph goes
        raise UnsupportedMediaType(
            f"the file {upload.filename!r} ({upload.mimetype or 'no Content-Type'}) is not an RDF graph: give it "
            f"an extension (.ttl, .nt, .rdf, .jsonld, .n3) or one of the types {', '.join(BODY_TYPES)}"
        )
    return fmt


def _parse(data: bytes, fmt: ox.RdfFormat, graph: str, what: str) -> list[ox.Quad]:
    limits.check_rdf(data, fmt, what)
    try:
        return list(ox.parse(data, format=fmt, base_iri=graph, rename_blank_nodes=True, without_named_graphs=True))
    except SyntaxError as exc:
        raise InvalidInput(f"{what} is not valid {fmt.name}: {exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"{what} cannot be read as {fmt.name}: {exc}") from None


def _quads(graph: str):
    store = state().store
    return store.quads(None, None, None, ox.NamedNode(graph))


def _content(graph: str) -> set[ox.Quad]:
    return set(_quads(graph))


def _exists(graph: str) -> bool:
    return next(iter(_quads(graph)), None) is not None
