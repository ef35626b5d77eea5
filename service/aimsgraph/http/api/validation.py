"""REST: ``POST /api/validate`` (the store, or an uploaded graph that is not stored) and
``GET /api/findings`` with filters by clause, severity and system.

Both judge the record as of ``?asOf=YYYY-MM-DD`` (default today). Only today's findings of the
store are stored, and only an editor's request validates them again and stores them: anyone else
is answered with the stored findings (validated and stored first when none are stored for today,
as ``GET /api/findings`` does), so that a caller without a token cannot make the service rewrite
them. Another date's findings, and a posted record's, are computed for the answer and not kept;
callers without a token get AIMSGRAPH_ANONYMOUS_EXPENSIVE_PER_MINUTE of those together."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, g, jsonify, request, url_for

from aimsgraph import clock
from aimsgraph.errors import InvalidInput, UnsupportedMediaType
from aimsgraph.http.api import ratelimit
from aimsgraph.http.api.writes import json_body, upload_body
from aimsgraph.http.negotiation import best_match
from aimsgraph.http.openapi import AS_OF, IRI, Finding, Media, Model, Param, Problem, contract
from aimsgraph.http.state import state
from aimsgraph.interop.importers import RDF_MEDIA_TYPES, upload
from aimsgraph.namespaces import is_absolute_iri
from aimsgraph.reporting import overview, reports
from aimsgraph.semantics import validation
from aimsgraph.semantics.reasoning import refresh_inferences
from aimsgraph.store import GraphStore

bp = Blueprint("validation", __name__)  # under api.bp: /api

REPORT_TYPES = {"application/json": "json", "text/turtle": "turtle", "application/xml": "junit", "text/plain": "table"}
#: What callers without a token are limited in, as the 429 says.
EXPENSIVE = "validations of a posted record or of another day"


class ValidationRequest(Model):
    """What to validate: everything, or the focus nodes a change to ``changed`` can affect."""

    changed: list[str] | None = None


class ReadinessRow(Model):
    id: str
    label: str
    checks: int
    failed: int
    readiness: float | None


class ReadinessTables(Model):
    clauses: list[ReadinessRow]
    systems: list[ReadinessRow]


class ValidationReport(Model):
    """The validation report (``reporting.reports.as_dict``)."""

    asOf: str | None
    conforms: bool
    counts: dict[str, int]
    readiness: ReadinessTables
    findings: list[Finding]


class FindingPage(Model):
    """A page of the stored findings; ``count`` is the size of the whole filtered list."""

    asOf: str
    findings: list[Finding]
    count: int
    start: int


@bp.post("/validate")
@contract(
    "Validate the store or a posted record",
    params=[AS_OF],
    body=Media({"application/json": ValidationRequest, **{kind: None for kind in RDF_MEDIA_TYPES}}),
    body_required=False,
    responses={
        200: Media(
            {"application/json": ValidationReport, "text/turtle": None, "application/xml": None, "text/plain": None},
            "the report, in the format Accept asks for (JSON, a SHACL report in Turtle, JUnit XML, a table)",
        ),
        415: Problem,
        429: Problem,
    },
)
def validate() -> Response:
    """Validate the store (all of it, or ``{"changed": [IRI, ...]}``), stored when an editor
    asks (see the module docstring); or, with an RDF body, validate that graph against the
    catalogue without storing it."""
    store = state().store
    as_of = clock.as_of_argument(request.args.get("asOf"))
    if request.mimetype in RDF_MEDIA_TYPES:
        return _validate_record(as_of)
    if request.mimetype not in ("", "application/json"):
        raise UnsupportedMediaType(
            f"POST /api/validate takes application/json or an RDF graph ({', '.join(sorted(RDF_MEDIA_TYPES))})"
        )
    changed = _changed(json_body("validation request"))
    findings, nodes = _findings(store, changed, as_of)
    return _report(reports.build(store, findings, as_of, nodes))


def _validate_record(as_of: date) -> Response:
    """The findings of the posted record, in a scratch store that is thrown away. Counted
    before the body is read: reading and scanning a large one is part of the expense."""
    ratelimit.limit_expensive(EXPENSIVE)
    body = upload_body("record")
    scratch = GraphStore(None)
    scratch.initialise(demo=False)
    vocabulary = upload.load_record(scratch, body, RDF_MEDIA_TYPES[request.mimetype])
    refresh_inferences(scratch)  # judged as the store is: with what the record implies
    findings = validation.validate_store(scratch, as_of)
    response = _report(reports.build(scratch, findings, as_of))
    response.headers["X-Aimsgraph-Record-Vocabulary"] = vocabulary
    return response


def _changed(payload: object) -> list[str] | None:
    """The ``changed`` IRIs of a validation request; None to validate everything."""
    if payload is not None and not isinstance(payload, dict):
        raise InvalidInput('the body must be a JSON object such as {"changed": ["https://..."]}, or empty')
    changed = (payload or {}).get("changed")
    if changed is not None and not (
        isinstance(changed, list) and all(isinstance(c, str) and is_absolute_iri(c) for c in changed)
    ):
        raise InvalidInput('"changed" must be a list of absolute IRIs')
    return changed


def _findings(store: GraphStore, changed: list[str] | None, as_of: date) -> tuple[list[validation.Finding], list[str] | None]:
    """The store's findings as of ``as_of`` and the focus nodes they cover (None: all):
    validated again and stored for an editor, the stored ones for anyone else (who cannot
    rewrite them), computed and not kept for another day. With ``changed``, the findings of
    the focus nodes a change to those nodes can affect, as ``aimsgraph validate --changed``
    reports them: at 10,000 systems the whole record's findings are 360,000."""
    today = as_of == clock.today()
    if not today:
        ratelimit.limit_expensive(EXPENSIVE)
    elif g.principal is not None and g.principal.has("editor"):
        if changed is None:
            return validation.validate_full(store, as_of), None
        plan = validation.revalidate_and_store(store, changed, as_of)
        return plan.findings, plan.affected
    nodes = None if changed is None else validation.affected_nodes(store, changed)
    if not today:
        return validation.validate_store(store, as_of, nodes), nodes
    stored = overview.findings_index(store, as_of)
    if nodes is None:
        return stored.findings, None
    return sorted(f for node in nodes for f in stored.by_focus.get(node, ())), nodes


#: Findings a page of GET /api/findings holds unless ?limit= says otherwise (360k at 10,000 systems).
FINDINGS_PAGE = 1000


@bp.get("/findings")
@contract(
    "Stored findings, filtered, a page at a time",
    params=[
        AS_OF,
        Param("clause", "a clause or control id (A.6.2.7) or its IRI"),
        Param("severity", "the severity", {"type": "string", "enum": ["Violation", "Warning", "Info"]}),
        Param("system", "the IRI of an AI system", IRI),
        Param("limit", "findings a page holds (default 1,000)", {"type": "integer", "minimum": 1}),
        Param("after", "the IRI of the last finding of the previous page"),
    ],
    responses={200: FindingPage, 400: Problem},
)
def findings() -> Response:
    """Stored findings, filtered by ?clause= (id such as A.6.2.7 or an IRI), ?severity=, ?system=,
    most severe first, a page at a time: ?limit= (default 1,000) and ?after= (the IRI of the last
    finding of the previous page); ``count`` is the size of the whole filtered list, and a
    ``Link: <...>; rel="next"`` header names the next page."""
    store = state().store
    as_of = clock.as_of_argument(request.args.get("asOf"))
    severity = request.args.get("severity") or None
    if severity and severity.capitalize() not in validation.SEVERITIES:
        raise InvalidInput(f"severity must be one of {', '.join(validation.SEVERITIES)}")
    system = request.args.get("system") or None
    if system and not is_absolute_iri(system):
        raise InvalidInput(f"system must be an absolute IRI, not {system!r}")
    limit = request.args.get("limit", str(FINDINGS_PAGE))
    if not limit.isdecimal() or not 1 <= int(limit) <= state().settings.result_limit:
        raise InvalidInput("limit must be a whole number from 1 to the result limit (AIMSGRAPH_RESULT_LIMIT)")
    wanted = overview.FindingFilter(request.args.get("clause") or None, severity and severity.capitalize(), system)
    page = overview.finding_page(
        store, overview.findings_index(store, as_of), wanted, request.args.get("after") or None, int(limit)
    )
    response = jsonify(
        asOf=as_of.isoformat(), findings=[reports.finding_dict(f) for f in page.items], count=page.total, start=page.start
    )
    if page.next_after:
        following = url_for("api.validation.findings", **{**request.args.to_dict(), "after": page.next_after}, _external=True)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return response


def _report(report: reports.Report) -> Response:
    media = best_match(request.headers.get("Accept"), list(REPORT_TYPES)) or "application/json"
    response = Response(reports.render(report, REPORT_TYPES[media]), content_type=media)
    response.headers["Vary"] = "Accept"
    return response
