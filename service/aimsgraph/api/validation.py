"""REST: ``POST /api/validate`` (the store, or an uploaded graph that is not stored) and
``GET /api/findings`` with filters by clause, severity and system."""

from __future__ import annotations

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, jsonify, request

from aimsgraph import queries, reports, validation
from aimsgraph.errors import InvalidInput, UnsupportedMediaType
from aimsgraph.namespaces import Graphs, is_absolute_iri
from aimsgraph.sparql.negotiation import best_match
from aimsgraph.store import GraphStore

bp = Blueprint("validation", __name__, url_prefix="/api")

REPORT_TYPES = {"application/json": "json", "text/turtle": "turtle", "application/xml": "junit", "text/plain": "table"}
RDF_UPLOADS = {"text/turtle", "application/n-triples", "application/ld+json", "application/rdf+xml",
               "application/trig", "application/n-quads"}


@bp.post("/validate")
def validate() -> Response:
    """Validate the store (all of it, or ``{"changed": [IRI, ...]}``) and store the findings;
    or, with an RDF body, validate that graph against the catalogue without storing it."""
    store = current_app.extensions["aimsgraph"].store
    if request.mimetype in RDF_UPLOADS:
        scratch = GraphStore(None)
        scratch.initialise(demo=False)
        fmt = ox.RdfFormat.from_media_type(request.mimetype)
        try:
            scratch.raw.load(request.get_data(), format=fmt, to_graph=ox.NamedNode(Graphs.DATA))
        except SyntaxError as exc:
            raise InvalidInput(f"the uploaded graph does not parse: {exc}") from None
        findings = validation.validate_store(scratch)
        return _report(reports.build(scratch, findings))
    if request.mimetype not in ("", "application/json"):
        raise UnsupportedMediaType(f"POST /api/validate takes application/json or an RDF graph ({', '.join(sorted(RDF_UPLOADS))})")
    changed = (request.get_json(silent=True) or {}).get("changed") if request.get_data() else None
    if changed is None:
        findings = validation.validate_full(store)
    else:
        if not isinstance(changed, list) or not all(isinstance(c, str) and is_absolute_iri(c) for c in changed):
            raise InvalidInput('"changed" must be a list of absolute IRIs')
        validation.validate_changed(store, changed)
        findings = validation.stored_findings(store)
    return _report(reports.build(store, findings))


@bp.get("/findings")
def findings() -> Response:
    """Stored findings, filtered by ?clause= (id such as A.6.2.7 or an IRI), ?severity=, ?system=."""
    store = current_app.extensions["aimsgraph"].store
    selected = validation.stored_findings(store)
    if clause := request.args.get("clause"):
        selected = [f for f in selected if any(c == clause or c.rsplit("/", 1)[1] == clause for c in f.clauses)]
    if severity := request.args.get("severity"):
        if severity.capitalize() not in validation.SEVERITIES:
            raise InvalidInput(f"severity must be one of {', '.join(validation.SEVERITIES)}")
        selected = [f for f in selected if f.severity == severity.capitalize()]
    if system := request.args.get("system"):
        record = {row["node"].value for row in store.query(queries.load_all()["system-record-nodes"].text)
                  if row["system"].value == system}
        selected = [f for f in selected if f.focus in record]
    return jsonify(findings=reports.as_dict(reports.Report(selected))["findings"], count=len(selected))


def _report(report: reports.Report) -> Response:
    media = best_match(request.headers.get("Accept"), list(REPORT_TYPES)) or "application/json"
    response = Response(reports.render(report, REPORT_TYPES[media]), content_type=media)
    response.headers["Vary"] = "Accept"
    return response
