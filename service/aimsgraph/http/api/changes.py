"""REST: the audit trail (``GET /api/changes``, ``/api/changes/diff``, ``/api/changes/snapshot``)
and imports (``POST /api/import``: spreadsheets, data catalogues, AIRO, MITRE ATLAS and plain
RDF). An import answers what the command line's ``--report json`` prints, under ``report``,
beside the audit trail's record of the change (``docs/importing.md``)."""

from __future__ import annotations

from typing import overload

import pyoxigraph as ox
from flask import Blueprint, Response, g, jsonify, request

from aimsgraph.auth import SERVICE_GRAPHS, require
from aimsgraph.errors import InvalidInput, UnsupportedMediaType
from aimsgraph.http.api.writes import change_response, commit_request, upload_body, writes
from aimsgraph.http.openapi import IRI, Change, Media, Model, Param, Problem, contract
from aimsgraph.http.state import state
from aimsgraph.interop.importers import RDF_MEDIA_TYPES, NothingRecognised, airo, atlas, dcat, oscal, read_rdf, spreadsheet, xlsx
from aimsgraph.namespaces import PREFIXES, Graphs, is_absolute_iri
from aimsgraph.sparql import results
from aimsgraph.store import changes, named_graph, serialize_quads

bp = Blueprint("changes", __name__)  # under api.bp: /api

CSV_TYPES = ("text/csv", "application/csv", "text/plain")
CATALOG_TYPES = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
#: The media types each kind of import takes.
IMPORT_TYPES = {
    **{kind: CSV_TYPES for kind in spreadsheet.KINDS},
    "dcat": tuple(CATALOG_TYPES),
    "airo": tuple(RDF_MEDIA_TYPES),
    "atlas": YAML_TYPES,
    "rdf": tuple(RDF_MEDIA_TYPES),
    "xlsx": (XLSX_TYPE, "application/octet-stream"),
    **{kind: oscal.MEDIA_TYPES for kind in oscal.KINDS},
}
DATE_TIME = {"type": "string", "format": "date-time"}


class AuditedChange(Model):
    """A committed write as the audit trail records it (``store.changes.Change.as_dict``)."""

    change: str
    sequence: int
    operation: str
    agent: str
    role: str
    started: str
    ended: str
    graphs: list[str]
    added: int
    removed: int
    quadsRecorded: bool


class History(Model):
    """Committed writes, in order."""

    changes: list[AuditedChange]


class Diff(Model):
    """What changed between two times, as counts and N-Quads."""

    since: str | None
    until: str | None
    added: int
    removed: int
    addedQuads: str
    removedQuads: str


@bp.get("/changes")
@contract(
    "The audit trail",
    params=[
        Param("since", "from this time (ISO 8601)", DATE_TIME),
        Param("until", "up to this time (ISO 8601)", DATE_TIME),
        Param("resource", "only the writes that touched this IRI", IRI),
    ],
    responses={200: History, 400: Problem},
)
def history() -> Response:
    """Committed writes in order: ?since= and ?until= (ISO 8601), ?resource=IRI."""
    store = state().store
    resource = request.args.get("resource")
    if resource is not None and not is_absolute_iri(resource):
        raise InvalidInput(f"resource must be an absolute IRI, got {resource!r}")
    found = changes.history(store, _time("since"), _time("until"), resource)
    return jsonify(changes=[c.as_dict() for c in found])


@bp.get("/changes/diff")
@contract(
    "What changed between two times",
    params=[
        Param("from", "the earlier time (ISO 8601)", DATE_TIME),
        Param("to", "the later time (ISO 8601; default now)", DATE_TIME),
        Param("graph", "only these graphs", IRI, repeated=True),
    ],
    responses={200: Diff, 400: Problem},
)
def diff() -> Response:
    """What changed between ?from= and ?to= (default: now), optionally in ?graph= graphs."""
    store = state().store
    delta = changes.diff(store, _time("from"), _time("to"), _graphs() or None)
    return jsonify(
        since=request.args.get("from"),
        until=request.args.get("to"),
        added=len(delta.added),
        removed=len(delta.removed),
        addedQuads=_nquads(delta.added),
        removedQuads=_nquads(delta.removed),
    )


@bp.get("/changes/snapshot")
@contract(
    "A graph as it was",
    params=[
        Param("at", "the time (ISO 8601)", DATE_TIME, required=True),
        Param("graph", "the graph (default the data graph)", IRI, repeated=True),
    ],
    responses={200: Media({"text/turtle": None}, "the graph in Turtle"), 400: Problem},
)
def snapshot() -> Response:
    """A graph (?graph=, default the data graph) as it was at ?at=, in Turtle."""
    store = state().store
    at = _time("at")
    if at is None:
        raise InvalidInput("give ?at= an ISO 8601 date-time")
    graphs = _graphs() or [Graphs.DATA]
    quads = changes.state_at(store, at, graphs)
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in quads]
    return Response(results.write_graph(triples, "text/turtle", PREFIXES), content_type="text/turtle; charset=utf-8")


@bp.post("/import")
@contract(
    "Import records, all or nothing",
    params=[
        Param("kind", "what the body is", {"type": "string", "enum": list(IMPORT_TYPES)}, required=True),
        Param("base", "the namespace of a spreadsheet's ids, or the base IRI of an RDF body", IRI),
        Param("graph", "the graph an RDF body goes into (kind=rdf; default the data graph)", IRI),
    ],
    body=Media({kind: None for kind in dict.fromkeys(t for types in IMPORT_TYPES.values() for t in types)}),
    responses={200: Change, 400: Problem, 415: Problem, 422: Problem},
    role="editor",
)
@writes("editor", "importing")  # before any work
def import_records() -> Response:
    """Import, all or nothing: a CSV spreadsheet (?kind=risk-register|systems, optional
    ?base=IRI); an enterprise data catalogue (?kind=dcat; Turtle, JSON-LD or RDF/XML), whose
    entries are linked to our datasets and models; a record in AIRO terms (?kind=airo), mapped
    onto ours; MITRE ATLAS (?kind=atlas, its YAML; admin: it replaces a reference graph); or
    any RDF (?kind=rdf, into the data graph or ?graph=IRI), as ``aimsgraph load`` does; the
    editable sheets of an XLSX workbook of ``aimsgraph export xlsx`` (?kind=xlsx); an OSCAL
    catalog (?kind=oscal-catalog, JSON) as a framework, or profile (?kind=oscal-profile) as the
    Statement of Applicability's decisions (docs/oscal.md). RDF
    kinds take every RDF format and resolve relative IRIs against ?base=IRI. 422 when the
    body parses but nothing in it is recognised."""
    kind = request.args.get("kind", "")
    if kind not in IMPORT_TYPES:
        raise InvalidInput(f"kind must be one of {', '.join(IMPORT_TYPES)}; got {kind!r}")
    if kind == "atlas":
        require(g.principal, "admin", "importing MITRE ATLAS (it replaces the atlas reference graph)", state().tokens)
    if request.mimetype not in IMPORT_TYPES[kind]:
        raise UnsupportedMediaType(
            f"POST /api/import?kind={kind} takes {', '.join(IMPORT_TYPES[kind])}, not {request.mimetype or 'an untyped body'}"
        )
    body = upload_body("upload")
    if kind in spreadsheet.KINDS:
        return _import_sheet(body, kind)
    if kind in oscal.KINDS:
        return _import_oscal(body, kind)
    return {"dcat": _import_dcat, "airo": _import_airo, "atlas": _import_atlas, "rdf": _import_rdf, "xlsx": _import_xlsx}[kind](
        body
    )


def _import_sheet(body: bytes, kind: str) -> Response:
    sheet = spreadsheet.read_sheet(body, kind, _base(spreadsheet.DEFAULT_BASE))
    store = state().store
    with store.write_lock():
        change = commit_request(changes.upsert(store, sheet.quads, sheet.replaced), f"import-csv {kind}")
    return change_response(change, rows=sheet.rows)


def _import_xlsx(body: bytes) -> Response:
    """The editable sheets of a workbook of ``aimsgraph export xlsx`` (interop.importers.xlsx)."""
    store = state().store
    with store.write_lock():
        found = xlsx.import_workbook(store, body, _base())
        change = commit_request(found.delta, "import-xlsx")
    return change_response(change, report=found.as_dict())


def _import_oscal(body: bytes, kind: str) -> Response:
    """An OSCAL catalog or profile (interop.importers.oscal): read and checked before the lock."""
    _, document = oscal.read(body, oscal.KINDS[kind])
    store = state().store
    with store.write_lock():
        found = oscal.import_catalog(store, document) if kind == "oscal-catalog" else oscal.import_profile(store, document)
        change = commit_request(found.delta, f"import-{kind}")
    return change_response(change, report=found.as_dict())


def _import_dcat(body: bytes) -> Response:
    catalog = dcat.read_catalog(body, CATALOG_TYPES[request.mimetype])
    store = state().store
    with store.write_lock():
        delta, report = dcat.link(store, catalog)
        change = commit_request(delta, "import-dcat")
    return change_response(change, report=report.as_dict())


def _import_airo(body: bytes) -> Response:
    store, write = state().store, _Writer("import-airo")
    with store.write_lock():
        report = airo.import_airo(store, body, RDF_MEDIA_TYPES[request.mimetype], write, base_iri=_base())
    return change_response(write.change, report=report.as_dict())


def _import_atlas(body: bytes) -> Response:
    store, write = state().store, _Writer("import-atlas")
    with store.write_lock():
        report = atlas.import_atlas(store, body, write)
    return change_response(write.change, report=report.as_dict())


def _import_rdf(body: bytes) -> Response:
    """The body's triples into the data graph (or ?graph=), its quads into their own graphs;
    the role the graphs need is checked by the commit (admin for reference graphs)."""
    graph = named_graph(request.args.get("graph", Graphs.DATA)).value
    quads = read_rdf(body, RDF_MEDIA_TYPES[request.mimetype], graph, base_iri=_base())
    if not quads:
        raise NothingRecognised("the body holds no triples")
    change = commit_request(changes.Delta(added=set(quads)), "load")
    written = change.added if change else 0
    return change_response(change, report={"triplesRead": len(quads), "triplesWritten": written, "graph": graph})


class _Writer:
    """Commits an importer's change for this request, and keeps it for the answer."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.change: changes.Change | None = None

    def __call__(self, delta: changes.Delta) -> changes.Change | None:
        self.change = commit_request(delta, self.operation)
        return self.change


@overload
def _base(default: str) -> str: ...
@overload
def _base(default: None = None) -> str | None: ...
def _base(default: str | None = None) -> str | None:
    """?base=: the namespace of a spreadsheet's ids, or the IRI an RDF body's relative IRIs
    resolve against."""
    base = request.args.get("base", default)
    if base is not None and not is_absolute_iri(base):
        raise InvalidInput(f"base must be an absolute IRI, got {base!r}")
    return base


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
    return serialize_quads(sorted(quads, key=str), ox.RdfFormat.N_QUADS).decode()
