"""REST: ``POST /api/impact`` (impact analysis before a change, with what-if) and
``GET /api/concentration`` (shared components of many high-risk systems)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from aimsgraph import impact
from aimsgraph.errors import InvalidInput, UnsupportedMediaType

bp = Blueprint("impact", __name__, url_prefix="/api")

MAX_LIMIT = 1000


@bp.post("/impact")
def analyse_change() -> Response:
    """``{"node": IRI, "change": "retire", "whatIf": [{"op": ...}, ...]}`` -> the analysis.

    The store is only read: what-if modifications are evaluated on a copy of the risk model.
    """
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("POST /api/impact takes application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object such as {\"node\": \"https://...\", \"change\": \"retire\"}")
    node, change = body.get("node"), body.get("change", "modify")
    if not isinstance(node, str):
        raise InvalidInput('"node" must be the IRI of a system, model, dataset, infrastructure service or supplier')
    if not isinstance(change, str):
        raise InvalidInput(f'"change" must be one of {", ".join(impact.CHANGE_KINDS)}')
    modifications = body.get("whatIf", [])
    if not isinstance(modifications, list):
        raise InvalidInput('"whatIf" must be a list of modifications')
    snapshot = current_app.extensions["aimsgraph"].models.get()
    return jsonify(impact.analyse(snapshot.record, snapshot.model, node, change, modifications))


@bp.get("/concentration")
def concentration() -> Response:
    """Ranked shared assets; ``?kind=Model|Dataset|Supplier|InfrastructureService`` (repeatable)
    and ``?limit=`` (default 20)."""
    kinds = request.args.getlist("kind") or list(impact.SHARED_KINDS)
    unknown = sorted(set(kinds) - set(impact.SHARED_KINDS) - {"AISystem"})
    if unknown:
        raise InvalidInput(f"unknown kind {unknown[0]!r}; use {', '.join(impact.SHARED_KINDS)} or AISystem")
    limit = request.args.get("limit", "20")
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    snapshot = current_app.extensions["aimsgraph"].models.get()
    ranking = impact.concentration(snapshot.record, snapshot.model, kinds, int(limit))
    appetite = snapshot.model.criteria.appetite
    return jsonify(ranking=ranking, appetite=appetite.label if appetite else None)
