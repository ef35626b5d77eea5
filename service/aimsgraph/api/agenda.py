"""REST: the review calendar and the management review pack.

- ``GET /api/due?within=30d&asOf=YYYY-MM-DD``: everything due in the window (``30d``, ``2w``,
  ``12m``, ``1y`` or ``all``; default 30 days), overdue items included, as JSON;
- ``GET /api/due.ics``: the same as an iCalendar feed (``text/calendar``), for calendar programs;
- ``GET /api/review-pack``: the management review input (ISO/IEC 42001 9.3.2) as Markdown,
  self-contained HTML or JSON by ``Accept``; ``?format=md|html|json`` overrides it (browsers),
  ``?asOf=`` reviews as of another date.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, current_app, jsonify, request

from aimsgraph import agenda, clock, overview, review_pack
from aimsgraph.api import ratelimit
from aimsgraph.errors import InvalidInput, NotAcceptable
from aimsgraph.sparql.negotiation import best_match

bp = Blueprint("agenda", __name__, url_prefix="/api")


@bp.get("/due")
def due() -> Response:
    as_of, within, items = _agenda()
    return jsonify(agenda.as_dict(items, as_of, within))


@bp.get("/due.ics")
def due_calendar() -> Response:
    _, _, items = _agenda()
    body = agenda.to_ical(items, clock.now())
    response = Response(body, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = 'inline; filename="aimsgraph-due.ics"'
    return response


@bp.get("/review-pack")
def review() -> Response:
    ratelimit.limit_expensive("review packs")
    fmt = request.args.get("format")
    if fmt is not None:
        if fmt not in review_pack.FORMATS:
            raise InvalidInput(f"format must be one of {', '.join(review_pack.FORMATS)}, not {fmt!r}")
        media = review_pack.MEDIA_TYPES[fmt]
    else:
        media = best_match(request.headers.get("Accept"), ["application/json", "text/markdown", "text/html"])
        if media is None:
            raise NotAcceptable("the review pack is available as application/json, text/markdown and text/html")
        fmt = {v: k for k, v in review_pack.MEDIA_TYPES.items()}[media]
    as_of = clock.as_of_argument(request.args.get("asOf"))
    state = current_app.extensions["aimsgraph"]
    snapshot = state.models.get()
    pack = review_pack.build(state.store, snapshot.model, overview.findings(state.store, as_of), as_of)
    kind = f"{media}; charset=utf-8" if media.startswith("text/") else media
    response = Response(review_pack.render(pack, fmt), content_type=kind)
    response.headers["Vary"] = "Accept"
    return response


def _agenda() -> tuple[date, str, list[agenda.DueItem]]:
    as_of = clock.as_of_argument(request.args.get("asOf"))
    within = request.args.get("within", agenda.DEFAULT_WITHIN)
    window = agenda.parse_within(within, as_of)
    return as_of, within, agenda.due_items(current_app.extensions["aimsgraph"].store, as_of, window)
