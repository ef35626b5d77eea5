"""REST: ``GET /api/soa``, the Statement of Applicability as JSON, CSV or HTML."""

from __future__ import annotations

from flask import Blueprint, Response, request

from aimsgraph.errors import NotAcceptable
from aimsgraph.http.negotiation import best_match
from aimsgraph.http.openapi import Media, Model, Problem, contract
from aimsgraph.http.state import state
from aimsgraph.records import soa

bp = Blueprint("soa", __name__)  # under api.bp: /api


class Soa(Model):
    """The SoA as JSON: its columns and a row per Annex A control entry."""

    columns: list[str]
    rows: list[dict[str, str]]


@bp.get("/soa")
@contract(
    "The Statement of Applicability",
    responses={
        200: Media(
            {media: Soa if media == "application/json" else None for media in soa.FORMATS.values()},
            "the SoA, a row per Annex A control, in the format Accept asks for",
        ),
        406: Problem,
    },
)
def statement_of_applicability() -> Response:
    """The SoA as JSON, CSV or a standalone HTML table, by ``Accept``."""
    media = best_match(request.headers.get("Accept"), ["application/json", "text/csv", "text/html"])
    if media is None:
        raise NotAcceptable("the SoA is available as application/json, text/csv and text/html")
    fmt = {v: k for k, v in soa.FORMATS.items()}[media]
    body = soa.render(state().store, fmt)
    # the media type itself: content_type() would call JSON SPARQL results, which the SoA is not
    response = Response(body, content_type=f"{media}; charset=utf-8" if media.startswith("text/") else media)

    response.headers["Vary"] = "Accept"
    return response
