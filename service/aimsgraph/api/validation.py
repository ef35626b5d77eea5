"""REST: ``POST /api/validate`` (the store, or an uploaded graph that is not stored) and
``GET /api/findings`` with filters by clause, severity and system.

Both judge the record as of ``?asOf=YYYY-MM-DD`` (default today). Only today's findings of the
store are stored: another date's are computed for the answer and not kept."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from aimsgraph import clock, overview, queries, reports, validation
from aimsgraph.errors import InvalidInput, UnsupportedMediaType
from aimsgraph.importers import RDF_MEDIA_TYPES, upload
from aimsgraph.namespaces import is_absolute_iri
from aimsgraph.reasoning import refresh_inferences
from aimsgraph.sparql.negotiation import best_match
from aimsgraph.store import GraphStore

bp = Blueprint("validation", __name__, url_prefix="/api")

REPORT_TYPES = {"application/json": "json", "text/turtle": "turtle", "application/xml": "junit", "text/plain": "table"}
RDF_UPLOADS = sorted(RDF_MEDIA_TYPES)


@bp.post("/validate")
def validate() -> Response:
    """Validate the store (all of it, or ``{"changed": [IRI, ...]}``) and store the findings;
    or, with an RDF body, validate that graph against the catalogue without storing it."""
    store = current_app.extensions["aimsgraph"].store
    as_of = clock.as_of_argument(request.args.get("asOf"))
    if request.mimetype in RDF_UPLOADS:
        scratch = GraphStore(None)
        scratch.initialise(demo=False)
        vocabulary = upload.load_record(scratch, request.get_data(), RDF_MEDIA_TYPES[request.mimetype])
        refresh_inferences(scratch)  # judged as the store is: with what the record implies
        findings = validation.validate_store(scratch, as_of)
        response = _report(reports.build(scratch, findings, as_of))
        response.headers["X-Aimsgraph-Record-Vocabulary"] = vocabulary
        return response
    if request.mimetype not in ("", "application/json"):
        raise UnsupportedMediaType(f"POST /api/validate takes application/json or an RDF graph ({', '.join(sorted(RDF_UPLOADS))})")
    changed = (request.get_json(silent=True) or {}).get("changed") if request.get_data() else None
    if changed is not None and not (isinstance(changed, list) and all(isinstance(c, str) and is_absolute_iri(c) for c in changed)):
        raise InvalidInput('"changed" must be a list of absolute IRIs')
    if as_of != clock.today():
        findings = validation.validate_store(store, as_of)
    elif changed is None:
        findings = validation.validate_full(store, as_of)
    else:
        validation.validate_changed(store, changed, as_of)
        findings = validation.stored_findings(store)
    return _report(reports.build(store, findings, as_of))


@bp.get("/findings")
def findings() -> Response:
    """Stored findings, filtered by ?clause= (id such as A.6.2.7 or an IRI), ?severity=, ?system=."""
    store = current_app.extensions["aimsgraph"].store
    as_of = clock.as_of_argument(request.args.get("asOf"))
    selected = overview.findings(store, as_of)
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
    return jsonify(asOf=as_of.isoformat(), findings=[reports.finding_dict(f) for f in selected], count=len(selected))


def _report(report: reports.Report) -> Response:
    media = best_match(request.headers.get("Accept"), list(REPORT_TYPES)) or "application/json"
    response = Response(reports.render(report, REPORT_TYPES[media]), content_type=media)
    response.headers["Vary"] = "Accept"
    return response
