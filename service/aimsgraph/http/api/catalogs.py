"""REST: linking to enterprise data catalogues. ``GET /api/export/dcat`` publishes the AI system
register as a DCAT catalogue; ``POST /api/lineage`` takes OpenLineage run events, records them
with PROV and marks what they made stale."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, request

from aimsgraph.errors import ExportInvalid, InvalidInput, NotAcceptable
from aimsgraph.http.api.writes import change_response, commit_request, require_json, upload_body, writes
from aimsgraph.http.negotiation import best_match
from aimsgraph.http.openapi import Change, Media, Model, Problem, contract
from aimsgraph.http.protocol import content_type
from aimsgraph.http.state import state
from aimsgraph.interop.exporters import dcat
from aimsgraph.interop.importers import openlineage
from aimsgraph.namespaces import PREFIXES
from aimsgraph.sparql import results

bp = Blueprint("catalogs", __name__)  # under api.bp: /api

EXPORT_TYPES = results.TRIPLE_TYPES


class LineageReport(Model):
    """What the events did: datasets matched and unknown, data changes, what went stale."""

    events: int
    runs: list[str]
    matched: list[dict[str, str]]
    unknown: list[dict[str, str]]
    changes: list[dict[str, Any]]
    stale: list[dict[str, Any]]


class LineageChange(Change):
    report: LineageReport


@bp.get("/export/dcat")
@contract(
    "The AI system register as DCAT",
    responses={
        200: Media({kind: None for kind in EXPORT_TYPES}, "the catalogue (Turtle unless Accept asks otherwise)"),
        406: Problem,
    },
)
def export_dcat() -> Response:
    """The register as DCAT 3 + PROV-O, Turtle unless Accept asks for another graph format."""
    store = state().store
    accept = request.headers.get("Accept")
    media_type = best_match(accept, EXPORT_TYPES) if accept else "text/turtle"
    if media_type is None:
        raise NotAcceptable(f"the export is available as {', '.join(EXPORT_TYPES)}")
    triples = dcat.export_register(store)
    problems = [f for f in dcat.validate_export(triples) if f.severity == "Violation"]
    if problems:
        raise ExportInvalid(f"the export fails its shapes: {problems[0].focus}: {problems[0].message}")
    response = Response(results.write_graph(triples, media_type, PREFIXES), content_type=content_type(media_type))
    response.headers["Vary"] = "Accept"
    return response


@bp.post("/lineage")
@contract(
    "Record OpenLineage run events",
    body=openlineage.RunEventPayload,
    responses={200: LineageChange, 400: Problem, 415: Problem},
    role="editor",
)
@writes("editor", "recording lineage")
def lineage() -> Response:
    """One OpenLineage RunEvent, or a JSON list of them; all or nothing."""
    require_json("OpenLineage RunEvents")
    body = upload_body("events")
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput(f"the body is not JSON: {exc}") from None
    events = openlineage.read_events(payload)
    store = state().store
    with store.write_lock():
        delta, report = openlineage.lineage_delta(store, events)
        change = commit_request(delta, "openlineage")
    return change_response(change, report=report.as_dict())
