"""REST: ``GET /api/export/xlsx``, the record as the Excel workbook of ``aimsgraph export xlsx``
(docs/spreadsheets.md): the risk register and the SoA, which ``POST /api/import?kind=xlsx``
reads back, and the findings and readiness as of ``?asOf=`` (another day than today is
validated anew: an expensive call)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from aimsgraph import clock
from aimsgraph.errors import InvalidInput
from aimsgraph.http.api import ratelimit
from aimsgraph.http.openapi import AS_OF, Media, Param, Problem, contract
from aimsgraph.http.state import state
from aimsgraph.interop.exporters import xlsx
from aimsgraph.interop.importers import spreadsheet
from aimsgraph.namespaces import is_absolute_iri
from aimsgraph.reporting import overview

bp = Blueprint("workbook", __name__)  # under api.bp: /api

BASE = Param("base", "the namespace of the sheet's local ids", {"type": "string", "default": spreadsheet.DEFAULT_BASE})


@bp.get("/export/xlsx")
@contract(
    "The record as an Excel workbook: risk register, SoA, findings, readiness",
    params=[BASE, AS_OF],
    responses={200: Media({xlsx.MEDIA_TYPE: {"type": "string", "format": "binary"}}, "the workbook"), 400: Problem, 429: Problem},
)
def export_workbook() -> Response:
    """The workbook; 400 for a bad date or base."""
    as_of = clock.as_of_argument(request.args.get("asOf"))
    base = request.args.get("base", spreadsheet.DEFAULT_BASE)
    if not is_absolute_iri(base):
        raise InvalidInput(f"base must be an absolute IRI, not {base!r}")
    if as_of != clock.today():
        ratelimit.limit_expensive("workbooks of another day")
    store = state().store
    body = xlsx.export_workbook(store, list(overview.findings_index(store, as_of).findings), as_of, base)
    response = Response(body, content_type=xlsx.MEDIA_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="aims-record-{as_of.isoformat()}.xlsx"'
    return response
