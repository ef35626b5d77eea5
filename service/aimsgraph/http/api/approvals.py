"""REST: approvals as PROV activities (:mod:`aimsgraph.records.approvals`).

``GET /api/approvals?about=IRI`` lists the approvals of a risk, the SoA, the AI policy or a
planned change, latest first, with whether the latest still stands and what blocks a new one;
``POST /api/approvals`` (``{"about": IRI}``) records one as the caller, refused (422, with the
Violations) while the thing has open Violations. Risk acceptance and change sign-off need the
editor role; the SoA and the AI policy, approved by top management, the admin role.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, g, jsonify, request
from pydantic import BaseModel, ConfigDict

from aimsgraph.auth import require
from aimsgraph.errors import InvalidInput
from aimsgraph.http.api.writes import change_response, commit_request, json_body, require_json
from aimsgraph.http.state import state
from aimsgraph.records import approvals
from aimsgraph.records.payloads import validated
from aimsgraph.reporting.reports import finding_dict

bp = Blueprint("approvals", __name__)  # under api.bp: /api


class ApprovalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    about: str


@bp.get("/approvals")
def list_approvals() -> Response:
    about = request.args.get("about")
    if not about:
        raise InvalidInput("about (the IRI of the approved thing) is required")
    store = state().store
    kind = approvals.kind_for(store, about)
    return jsonify(
        about=about,
        kind=kind.key,
        role=kind.role,
        approvals=[asdict(a) for a in approvals.approvals(store, about)],
        blocking=[finding_dict(f) for f in approvals.blocking(store, about)],
    )


@bp.post("/approvals")
def approve() -> Response:
    require_json('an approval: {"about": IRI}')
    payload = validated(ApprovalRequest, json_body("approval"), "approval")
    service = state()
    kind = approvals.kind_for(service.store, payload.about)
    principal = require(g.principal, kind.role, f"recording a {kind.label}", service.tokens)
    delta = approvals.approval_delta(service.store, kind, payload.about, principal)
    change = commit_request(delta, "approve", announce=lambda: approvals.announce(service.store, kind, payload.about, principal))
    return change_response(change, status=201)
