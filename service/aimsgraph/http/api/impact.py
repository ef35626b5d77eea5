"""REST: impact analysis before a change, ``POST /api/impact`` (with what-if) and
``GET /api/impact?node=&change=`` (without, for links and quick looks), and
``GET /api/concentration`` (shared components of many high-risk systems).

Every asset of the record has an answer, with or without dependencies (an asset without
edges has an empty impact); a node the record does not hold is 404."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import ConfigDict, Field

from aimsgraph.errors import InvalidInput, UnsupportedMediaType
from aimsgraph.http.api import ratelimit
from aimsgraph.http.api.writes import json_body
from aimsgraph.http.openapi import Model, Param, Problem, contract
from aimsgraph.http.state import state
from aimsgraph.risk import impact

bp = Blueprint("impact", __name__)  # under api.bp: /api

MAX_LIMIT = 1000
#: Impact answers kept per store generation (a hub's answer is megabytes: a count, not a size, is
#: bounded, and the whole set goes when it is full).
KEPT_ANSWERS = 256
NODE_HINT = "the IRI of a system, model, dataset, infrastructure service or supplier"
CHANGE_HINT = f"the change: {', '.join(impact.CHANGE_KINDS)} (default modify), or its aims:ChangeKinds IRI"


class ImpactRequest(Model):
    """An impact analysis: of ``change`` to ``node``, with what-if modifications of the model."""

    node: str = Field(description=NODE_HINT)
    change: str = Field("modify", description=CHANGE_HINT)
    whatIf: list[dict[str, Any]] = Field(
        [], description=f"modifications, each with an op: {', '.join(impact.WHAT_IF_OPERATIONS)}"
    )


class Named(Model):
    model_config = ConfigDict(extra="allow")
    iri: str
    label: str | None = None


class Reasoned(Named):
    """Something the change touches, and why."""

    reasons: list[str]


class ImpactAnalysis(Model):
    """What the change touches (``risk.impact.analyse``)."""

    model_config = ConfigDict(extra="allow")
    node: Named
    change: dict[str, Any]
    summary: dict[str, int]
    affected: list[dict[str, Any]]
    risksToReassess: list[Reasoned]
    controlsToRetest: list[Reasoned]
    soaRowsTouched: list[Reasoned]
    stakeholdersToInform: list[Reasoned]
    staleEvidence: list[Reasoned]
    assessmentsToRedo: list[Reasoned]
    cycles: list[Any]
    risk: dict[str, Any]


class SharedAsset(Model):
    model_config = ConfigDict(extra="allow")
    iri: str
    label: str | None
    kind: str
    directDependents: int
    dependentSystems: int
    highRiskSystems: int
    highRiskSystemList: list[str]


class Concentration(Model):
    """Shared components ranked by the high-risk systems that depend on them."""

    ranking: list[SharedAsset]
    appetite: str | None


@bp.post("/impact")
@contract("Impact analysis of a change, with what-if", body=ImpactRequest, responses={200: ImpactAnalysis, 404: Problem})
def analyse_change() -> Response:
    """``{"node": IRI, "change": "retire", "whatIf": [{"op": ...}, ...]}`` -> the analysis.

    The store is only read: what-if modifications are evaluated on a copy of the risk model.
    """
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("POST /api/impact takes application/json")
    body = json_body("impact request")  # whole, and not nested deeper than the limit
    if not isinstance(body, dict):
        raise InvalidInput('the body must be a JSON object such as {"node": "https://...", "change": "retire"}')
    modifications = body.get("whatIf", [])
    if not isinstance(modifications, list):
        raise InvalidInput('"whatIf" must be a list of modifications')
    if modifications:  # a what-if copies and re-propagates the risk model
        ratelimit.limit_expensive("what-if impact analyses")
    return _analyse(body.get("node"), body.get("change", "modify"), modifications)


@bp.get("/impact")
@contract(
    "Impact analysis of a change",
    params=[Param("node", NODE_HINT, {"type": "string", "format": "iri"}, required=True), Param("change", CHANGE_HINT)],
    responses={200: ImpactAnalysis, 404: Problem},
)
def analyse_change_get() -> Response:
    """``?node=IRI&change=retire`` -> the analysis, as for POST without what-if."""
    return _analyse(request.args.get("node"), request.args.get("change", "modify"), [])


def _analyse(node: object, change: object, modifications: list) -> Response:
    """One answer for both methods, so that they check their input alike."""
    if not isinstance(node, str) or not node:
        raise InvalidInput(f'"node" must be {NODE_HINT}')
    if not isinstance(change, str):
        raise InvalidInput(f'"change" must be one of {", ".join(impact.CHANGE_KINDS)}')
    snapshot = state().models.get()
    if modifications:
        return jsonify(impact.analyse(snapshot.record, snapshot.model, node, change, modifications))
    # Answers without what-if are kept for the snapshot (the store generation) they were made from:
    # the same node asked again costs a lookup, not a few hundred record reads and the encoding.
    answers = snapshot.kept("impact answers", dict)
    body = answers.get((node, change))
    if body is None:
        body = jsonify(impact.analyse(snapshot.record, snapshot.model, node, change)).get_data()
        if len(answers) >= KEPT_ANSWERS:
            answers.clear()
        answers[(node, change)] = body
    return Response(body, mimetype="application/json")


@bp.get("/concentration")
@contract(
    "Concentration: shared components of many high-risk systems",
    params=[
        Param("kind", "kinds of shared asset", {"type": "string", "enum": [*impact.SHARED_KINDS, "AISystem"]}, repeated=True),
        Param("limit", f"entries, 1 to {MAX_LIMIT} (default 20)", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
    ],
    responses={200: Concentration, 400: Problem},
)
def concentration() -> Response:
    """Ranked shared assets; ``?kind=Model|Dataset|Supplier|InfrastructureService`` (repeatable)
    and ``?limit=`` (default 20)."""
    kinds = request.args.getlist("kind") or list(impact.SHARED_KINDS)
    unknown = sorted(set(kinds) - set(impact.SHARED_KINDS) - {"AISystem"})
    if unknown:
        raise InvalidInput(f"unknown kind {unknown[0]!r}; use {', '.join(impact.SHARED_KINDS)} or AISystem")
    limit = request.args.get("limit", "20")
    if not limit.isdecimal() or not 1 <= int(limit) <= MAX_LIMIT:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    snapshot = state().models.get()
    # Ranked once per store generation and choice of kinds (858 ms at 10,000 systems); a longer
    # ranking serves a shorter limit, as the ranking is sorted before it is cut.
    rankings = snapshot.kept("concentration", dict)
    key = tuple(sorted(set(kinds)))
    if len(rankings.get(key, ())) < int(limit) and not rankings.get((key, "whole")):
        ranking = impact.concentration(snapshot.record, snapshot.model, kinds, int(limit))
        rankings[key], rankings[(key, "whole")] = ranking, len(ranking) < int(limit)
    ranking = rankings[key][: int(limit)]
    appetite = snapshot.model.criteria.appetite
    return jsonify(ranking=ranking, appetite=appetite.label if appetite else None)
