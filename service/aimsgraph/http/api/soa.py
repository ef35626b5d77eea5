"""REST: ``GET /api/soa``, the Statement of Applicability as JSON, CSV or HTML."""

from __future__ import annotations

from flask import Blueprint, Response, request

from aimsgraph.errors import NotAcceptable
from aimsgraph.http.negotiation import best_match
from aimsgraph.http.protocol import content_type
from aimsgraph.http.state import state
from aimsgraph.records import soa

bp = Blueprint("soa", __name__)  # under api.bp: /api


@bp.get("/soa")
def statement_of_applicability() -> Response:
    media = best_match(request.headers.get("Accept"), ["application/json", "text/csv", "text/html"])
    if media is None:
        raise NotAcceptable("the SoA is available as application/json, text/csv and text/html")
    fmt = {v: k for k, v in soa.FORMATS.items()}[media]
    body = soa.render(state().store, fmt)
    response = Response(body, content_type=content_type(media))
    response.headers["Vary"] = "Accept"
    return response
