"""REST: the audit trail (``GET /api/changes``, ``/api/changes/diff``, ``/api/changes/snapshot``)
and imports (``POST /api/import``: spreadsheets and data catalogues)."""

from __future__ import annotations

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, g, jsonify, request

from aimsgraph import changes
from aimsgraph.api.writes import change_response, commit_request, upload_body
from aimsgraph.auth import SERVICE_GRAPHS, require
from aimsgraph.errors import InvalidInput, UnsupportedMediaType
from aimsgraph.importers import dcat, spreadsheet
from aimsgraph.namespaces import PREFIXES, Graphs, is_absolute_iri
from aimsgraph.sparql import results

bp = Blueprint("changes", __name__, url_prefix="/api")

CSV_TYPES = ("text/csv", "application/csv", "text/plain")
CATALOG_TYPES = {"text/turtle": ox.RdfFormat.TURTLE, "application/ld+json": ox.RdfFormat.JSON_LD,
                 "application/rdf+xml": ox.RdfFormat.RDF_XML}


@bp.get("/changes")
def history() -> Response:
    """Committed writes in order: ?since= and ?until= (ISO 8601), ?resource=IRI."""
    store = current_app.extensions["aimsgraph"].store
    resource = request.args.get("resource")
    if resource is not None and not is_absolute_iri(resource):
        raise InvalidInput(f"resource must be an absolute IRI, got {resource!r}")
    found = changes.history(store, _time("since"), _time("until"), resource)
    return jsonify(changes=[c.as_dict() for c in found])


@bp.get("/changes/diff")
def diff() -> Response:
    """What changed between ?from= and ?to= (default: now), optionally in ?graph= graphs."""
    store = current_app.extensions["aimsgraph"].store
    delta = changes.diff(store, _time("from"), _time("to"), _graphs() or None)
    return jsonify(
        since=request.args.get("from"), until=request.args.get("to"),
        added=len(delta.added), removed=len(delta.removed),
        addedQuads=_nquads(delta.added), removedQuads=_nquads(delta.removed),
    )


@bp.get("/changes/snapshot")
def snapshot() -> Response:
    """A graph (?graph=, default the data graph) as it was at ?at=, in Turtle."""
    store = current_app.extensions["aimsgraph"].store
    at = _time("at")
    if at is None:
        raise InvalidInput("give ?at= an ISO 8601 date-time")
    graphs = _graphs() or [Graphs.DATA]
    quads = changes.state_at(store, at, graphs)
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in quads]
    return Response(results.write_graph(triples, "text/turtle", PREFIXES), content_type="text/turtle; charset=utf-8")


@bp.post("/import")
def import_records() -> Response:
    """Import, all or nothing: a CSV spreadsheet (?kind=risk-register|systems, optional
    ?base=IRI) or an enterprise data catalogue (?kind=dcat; Turtle, JSON-LD or RDF/XML), whose
    entries are linked to our datasets and models."""
    state = current_app.extensions["aimsgraph"]
    require(g.principal, "editor", "importing", state.tokens)  # before any work
    kind = request.args.get("kind", "")
    if kind not in (*spreadsheet.KINDS, "dcat"):
        raise InvalidInput(f"kind must be one of {', '.join(spreadsheet.KINDS)}, dcat; got {kind!r}")
    accepted = tuple(CATALOG_TYPES) if kind == "dcat" else CSV_TYPES
    if request.mimetype not in accepted:
        raise UnsupportedMediaType(f"POST /api/import?kind={kind} takes {', '.join(accepted)}, not {request.mimetype or 'an untyped body'}")
    body = upload_body("upload")
    if kind == "dcat":
        catalog = dcat.read_catalog(body, CATALOG_TYPES[request.mimetype])
        with state.store.write_lock():
            delta, report = dcat.link(state.store, catalog)
            change = commit_request(delta, "import-dcat")
        return change_response(change, report=report.as_dict())
    base = request.args.get("base", spreadsheet.DEFAULT_BASE)
    if not is_absolute_iri(base):
        raise InvalidInput(f"base must be an absolute IRI, got {base!r}")
    sheet = spreadsheet.read_sheet(body, kind, base)
    with state.store.write_lock():
        change = commit_request(changes.upsert(state.store, sheet.quads, sheet.replaced), f"import-csv {kind}")
    return change_response(change, rows=sheet.rows)


def _time(name: str):
    value = request.args.get(name)
    return changes.parse_time(value) if value else None


def _graphs() -> list[str]:
    graphs = request.args.getlist("graph")
    for graph in graphs:
        if not is_absolute_iri(graph):
            raise InvalidInput(f"graph must be an absolute IRI, got {graph!r}")
        if graph in SERVICE_GRAPHS:
            raise InvalidInput(f"<{graph}> is derived or kept by aimsgraph, not journalled: it has no history")
    return graphs


def _nquads(quads: set[ox.Quad]) -> str:
    return ox.serialize(sorted(quads, key=str), format=ox.RdfFormat.N_QUADS).decode()
