"""REST: ``GET /api/export/oscal/<kind>``, the record as an OSCAL JSON document (catalog, profile,
component-definition, assessment-results, poam), ``?framework=`` for the catalog, ``?asOf=``
for the evaluation date (another day than today is validated anew: an expensive call)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from aimsgraph import clock
from aimsgraph.errors import NotAcceptable
from aimsgraph.http.api import ratelimit
from aimsgraph.http.negotiation import best_match
from aimsgraph.http.openapi import AS_OF, Media, Param, Problem, contract
from aimsgraph.http.state import state
from aimsgraph.interop.exporters import oscal

bp = Blueprint("oscal", __name__)  # under api.bp: /api

#: OSCAL's own JSON media type, and plain JSON for clients that ask only for that.
MEDIA_TYPES = ["application/json", "application/oscal+json"]
EXPENSIVE = "OSCAL exports of another day"


#: An OSCAL JSON document: one object under its root key (trestle checks the rest before it is sent).
DOCUMENT = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "propertyNames": {"enum": sorted(oscal.ROOTS.values())},
}
FRAMEWORK = Param(
    "framework", "the catalogue a catalog export is of", {"type": "string", "enum": list(oscal.FRAMEWORKS), "default": "iso42001"}
)


@bp.get("/export/oscal/<kind>")
@contract(
    "The record as OSCAL (catalog, profile, component-definition, assessment-results, poam)",
    params=[FRAMEWORK, AS_OF],
    responses={
        200: Media({media: DOCUMENT for media in MEDIA_TYPES}, "the OSCAL document (JSON)"),
        400: Problem,
        404: Problem,
        406: Problem,
        429: Problem,
    },
)
def export_oscal(kind: str) -> Response:
    """One OSCAL document of the record; 400 for an unknown kind or framework, 404 when the
    record has no such catalogue or SoA."""
    media = best_match(request.headers.get("Accept"), MEDIA_TYPES) if request.headers.get("Accept") else MEDIA_TYPES[0]
    if media is None:
        raise NotAcceptable(f"the OSCAL export is available as {', '.join(MEDIA_TYPES)}")
    as_of = clock.as_of_argument(request.args.get("asOf"))
    if kind == "assessment-results" and as_of != clock.today():
        ratelimit.limit_expensive(EXPENSIVE)
    body = oscal.export(state().store, kind, as_of, request.args.get("framework", "iso42001"))
    response = Response(body, content_type=media)
    response.headers["Vary"] = "Accept"
    response.headers["Content-Disposition"] = f'inline; filename="{kind}.json"'
    return response
