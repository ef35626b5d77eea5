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
from pydantic import ConfigDict

from aimsgraph.auth import require
from aimsgraph.errors import InvalidInput
from aimsgraph.http.api.writes import change_response, commit_request, json_body, require_json
from aimsgraph.http.openapi import IRI, Change, Finding, Model, Param, Problem, contract
from aimsgraph.http.state import state
from aimsgraph.records import approvals
from aimsgraph.records.approvals import Approval  # its schema in the contract, as it is answered
from aimsgraph.records.payloads import validated
from aimsgraph.reporting.reports import finding_dict

bp = Blueprint("approvals", __name__)  # under api.bp: /api


class ApprovalRequest(Model):
    model_config = ConfigDict(extra="forbid")
    about: str


class Approvals(Model):
    """A thing's approvals, latest first, and the Violations that block a new one."""

    about: str
    kind: str
    role: str
    approvals: list[Approval]
    blocking: list[Finding]


@bp.get("/approvals")
@contract(
    "The approvals of a risk, the SoA, the AI policy or a planned change",
    params=[Param("about", "the approved thing", IRI, required=True)],
    responses={200: Approvals, 400: Problem, 404: Problem},
)
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
@contract(
    "Approve as the caller",
    body=ApprovalRequest,
    responses={201: Change, 400: Problem, 401: Problem, 403: Problem, 404: Problem, 415: Problem, 422: Problem},
    role="editor",
    description="Records an approval of ``about`` as the caller: editor for risk acceptance and change sign-off, "
    "admin for the SoA and the AI policy; refused (422, with the Violations) while the thing has open Violations.",
)
def approve() -> Response:

    require_json('an approval: {"about": IRI}')
    payload = validated(ApprovalRequest, json_body("approval"), "approval")
    service = state()
    kind = approvals.kind_for(service.store, payload.about)
    principal = require(g.principal, kind.role, f"recording a {kind.label}", service.tokens)
    delta = approvals.approval_delta(service.store, kind, payload.about, principal)
    change = commit_request(delta, "approve", announce=lambda: approvals.announce(service.store, kind, payload.about, principal))
    return change_response(change, status=201)
