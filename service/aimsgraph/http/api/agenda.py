"""REST: the review calendar and the management review pack.

- ``GET /api/due?within=30d&asOf=YYYY-MM-DD``: everything due in the window (``30d``, ``2w``,
  ``12m``, ``1y`` or ``all``; default 30 days), overdue items included, as JSON, a page at a
  time: ``page`` (from 1) and ``pageSize`` (default 1,000, at most AIMSGRAPH_RESULT_LIMIT), the
  same reserved parameters as the named queries. The body gives the page's ``items`` and, for
  the whole agenda, ``total``, ``overdue`` and ``kinds`` (items per kind); the ``Link`` header
  has ``rel="next"`` when more items follow (and ``prev``, ``first``), as GET /api/queries/<name>
  does. The agenda is kept per store generation, so the next page is a lookup;
- ``GET /api/due.ics``: the same as an iCalendar feed (``text/calendar``), for calendar programs,
  with the open tasks due in the window as VTODOs (``reporting.tasks.todos``);
- ``GET /api/review-pack``: the management review input (ISO/IEC 42001 9.3.2) as Markdown,
  self-contained HTML, JSON or PDF by ``Accept``; ``?format=md|html|json|pdf`` overrides it (browsers),
  ``?asOf=`` reviews as of another date.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request
from pydantic import ConfigDict

from aimsgraph import clock
from aimsgraph.errors import InvalidInput, NotAcceptable
from aimsgraph.http.api import ratelimit
from aimsgraph.http.negotiation import best_match
from aimsgraph.http.openapi import AS_OF, PAGE, PAGE_SIZE, Media, Model, Param, Problem, contract
from aimsgraph.http.state import state
from aimsgraph.records import agenda, queries
from aimsgraph.reporting import overview, pdf, review_pack, tasks

bp = Blueprint("agenda", __name__)  # under api.bp: /api

#: The review pack's formats (?format=) and media types (Accept), JSON first: the default.
PACK_TYPES = {"json": "application/json", "md": "text/markdown", "html": "text/html", "pdf": pdf.MEDIA_TYPE}


#: Items of a page of GET /api/due when the request gives no pageSize.
DUE_PAGE_SIZE = 1000
WITHIN = Param("within", "the window: 30d, 2w, 12m, 1y or all (default 30d)")


class DueItem(Model):
    """Something due (``records.agenda.DueItem.as_dict``)."""

    item: str
    label: str
    kind: str
    type: str
    due: str
    overdue: bool
    daysLeft: int
    owner: list[str]
    ownerNames: list[str]
    location: str | None
    lastMeasured: str | None
    interval: str | None


class DuePage(Model):
    """A page of the agenda, with counts of the whole agenda."""

    asOf: str
    within: str
    items: list[DueItem]
    overdue: int
    total: int
    kinds: dict[str, int]
    page: int
    pageSize: int


class ReviewPack(Model):
    """The management review input as JSON (``reporting.review_pack``)."""

    model_config = ConfigDict(extra="allow")
    title: str
    generated: str
    asOf: str
    sections: list[dict[str, Any]]


@bp.get("/due")
@contract("What is due, a page at a time", params=[AS_OF, WITHIN, PAGE, PAGE_SIZE], responses={200: DuePage, 400: Problem})
def due() -> Response:
    """Everything due in the window, overdue items included (see the module docstring)."""
    page = _page(request.args.get(queries.PAGE), request.args.get(queries.PAGE_SIZE))
    as_of, within, items = _agenda()
    shown = items[page.offset : page.offset + page.size]
    body = agenda.as_dict(shown, as_of, within)
    body.update(
        {
            "overdue": sum(i.overdue for i in items),
            "total": len(items),
            "kinds": agenda.kind_counts(items),
            "page": page.number,
            "pageSize": page.size,
        }
    )
    response = jsonify(body)
    links = {"first": 1}
    if page.number > 1:
        links["prev"] = page.number - 1
    if page.offset + page.size < len(items):
        links["next"] = page.number + 1
    values = {k: v for k, v in request.args.items() if k not in (queries.PAGE, queries.PAGE_SIZE)}
    response.headers["Link"] = ", ".join(
        f'<{request.base_url}?{urlencode({**values, queries.PAGE: n, queries.PAGE_SIZE: page.size})}>; rel="{rel}"'
        for rel, n in links.items()
    )
    response.headers["Aimsgraph-Page"] = str(page.number)
    response.headers["Aimsgraph-Page-Size"] = str(page.size)
    return response


def _page(number: str | None, size: str | None) -> queries.Page:
    """The page asked for (the first of :data:`DUE_PAGE_SIZE` items by default); InvalidInput
    for a page or size that is no positive integer, or a size above the result limit."""
    paged = queries.NamedQuery("due", "", {"pagination": str(DUE_PAGE_SIZE)})
    values = {k: v for k, v in ((queries.PAGE, number), (queries.PAGE_SIZE, size)) if v is not None}
    page, _ = paged.page(values, max_size=state().settings.result_limit)
    assert page is not None  # a query with a pagination header is always paged
    return page


@bp.get("/due.ics")
@contract(
    "What is due, as an iCalendar feed",
    params=[AS_OF, WITHIN],
    responses={200: Media({"text/calendar": None}, "VEVENTs for the due items, VTODOs for the open tasks"), 400: Problem},
)
def due_calendar() -> Response:
    """The agenda as iCalendar, with the open tasks due in the window as VTODOs."""
    as_of, within, items = _agenda()
    todos = tasks.todos(state().store, as_of, agenda.parse_within(within, as_of))  # open tasks, as VTODOs
    body = agenda.to_ical(items, clock.now(), todos=todos)
    response = Response(body, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = 'inline; filename="aimsgraph-due.ics"'
    return response


@bp.get("/review-pack")
@contract(
    "The management review input (9.3.2)",
    params=[AS_OF, Param("format", "overrides Accept", {"type": "string", "enum": list(PACK_TYPES)})],
    responses={
        200: Media({media: ReviewPack if fmt == "json" else None for fmt, media in PACK_TYPES.items()}, "the review pack"),
        400: Problem,
        406: Problem,
        429: Problem,
    },
)
def review() -> Response:
    """The review pack as Markdown, self-contained HTML, JSON or PDF, by ``Accept`` or ``?format=``."""
    ratelimit.limit_expensive("review packs")

    fmt = request.args.get("format")
    media: str | None
    if fmt is not None:
        if fmt not in PACK_TYPES:
            raise InvalidInput(f"format must be one of {', '.join(PACK_TYPES)}, not {fmt!r}")
        media = PACK_TYPES[fmt]
    else:
        media = best_match(request.headers.get("Accept"), list(PACK_TYPES.values()))
        if media is None:
            raise NotAcceptable(f"the review pack is available as {', '.join(PACK_TYPES.values())}")
        fmt = {v: k for k, v in PACK_TYPES.items()}[media]
    as_of = clock.as_of_argument(request.args.get("asOf"))
    service = state()
    snapshot = service.models.get()
    pack = review_pack.build(service.store, snapshot.model, overview.findings(service.store, as_of), as_of)
    kind = f"{media}; charset=utf-8" if media.startswith("text/") else media
    body = pdf.review_pack_pdf(pack) if fmt == "pdf" else review_pack.render(pack, fmt)
    response = Response(body, content_type=kind)
    response.headers["Vary"] = "Accept"
    if fmt == "pdf":
        response.headers["Content-Disposition"] = f'inline; filename="review-pack-{as_of.isoformat()}.pdf"'
    return response


def _agenda() -> tuple[date, str, list[agenda.DueItem]]:
    as_of = clock.as_of_argument(request.args.get("asOf"))
    within = request.args.get("within", agenda.DEFAULT_WITHIN)
    window = agenda.parse_within(within, as_of)
    return as_of, within, agenda.due_items(state().store, as_of, window)
