"""REST: other frameworks than ISO/IEC 42001. ``GET /api/eu-ai-act`` lists the derived EU AI Act
classifications (of one node with ``?node=``) with their premises and obligations, as the
applicability graph holds them; ``POST /api/eu-ai-act/what-if`` classifies one node with
statements added or removed and says which categories and obligations would change, writing
nothing; ``GET /api/readiness`` gives the readiness of ISO/IEC 42001, the NIST AI RMF and the EU
AI Act side by side (``?framework=`` one of them), each requirement with what decided it."""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox
from flask import Blueprint, Response, jsonify, request, url_for
from pydantic import Field, RootModel

from aimsgraph import clock
from aimsgraph.errors import InvalidInput, NotFound, UnsupportedMediaType
from aimsgraph.http.api import ratelimit
from aimsgraph.http.api.writes import json_body
from aimsgraph.http.openapi import AS_OF, IRI, Model, Param, Problem, contract
from aimsgraph.http.state import state
from aimsgraph.namespaces import XSD, XSD_BOOLEAN, is_absolute_iri
from aimsgraph.reporting import frameworks, overview
from aimsgraph.semantics import applicability

bp = Blueprint("regulation", __name__)  # under api.bp: /api

#: Statements one what-if may add or remove.
MAX_STATEMENTS = 50
STATEMENT_HINT = '{"predicate": IRI, "object": IRI} or {"predicate": IRI, "value": true}'


#: Classified nodes a page of GET /api/eu-ai-act holds unless ?limit= says otherwise.
PAGE = 1000


class Classification(Model):
    """A derived EU AI Act classification with what decided it (``semantics.applicability.as_json``)."""

    node: str
    category: str
    basis: str | None
    rule: str | None
    scopeAssumed: bool
    derogationRefused: bool
    roles: list[str]
    obligations: list[str]
    premises: list[dict[str, Any]]


class NodeClassifications(Model):
    """One node's classifications (``?node=``)."""

    classifications: list[Classification]


class ClassifiedNode(Model):
    node: str
    categories: list[dict[str, str | None]]


class ClassifiedPage(Model):
    """A page of the classified nodes (without ``?node=``)."""

    count: int
    start: int
    nodes: list[ClassifiedNode]


class Classifications(RootModel[NodeClassifications | ClassifiedPage]):
    """One node's classifications, or a page of every classified node."""


class Requirement(Model):
    iri: str
    label: str | None
    status: str
    decidedBy: list[dict[str, Any]]


class Framework(Model):
    key: str
    title: str
    counts: dict[str, int]
    requirements: list[Requirement]


class Readiness(Model):
    """Readiness per framework, each requirement with what decided it."""

    asOf: str
    frameworks: list[Framework]


class Statement(Model):
    """A statement of a what-if: ``object`` (an IRI) or ``value`` (a literal)."""

    predicate: str
    object: str | None = None
    value: bool | int | str | None = None


class WhatIfRequest(Model):
    """Statements to add to or remove from one node."""

    node: str
    add: list[Statement] = Field(default_factory=list)
    remove: list[Statement] = Field(default_factory=list)


class WhatIf(Model):
    """Both sides, and the categories and obligations that change."""

    node: str
    before: list[Classification]
    after: list[Classification]
    categoriesAdded: list[str]
    categoriesRemoved: list[str]
    obligationsAdded: list[str]
    obligationsRemoved: list[str]


@bp.get("/eu-ai-act")
@contract(
    "EU AI Act classifications",
    params=[
        Param("node", "an AI system or model: its classifications", IRI),
        Param("limit", "nodes a page holds (default 1,000)", {"type": "integer", "minimum": 1}),
        Param("after", "the last node of the previous page"),
    ],
    responses={200: Classifications, 400: Problem, 404: Problem},
)
def classifications() -> Response:
    """With ``?node=``: that node's classifications with premises, roles and obligations. Without:
    every classified node with its categories and provisions, a page at a time (``?limit=``,
    default 1,000, and ``?after=``, the last node of the page before; a ``Link: rel="next"``)."""
    store = state().store
    node = request.args.get("node")
    if node is not None:
        if not is_absolute_iri(node):
            raise InvalidInput('"node" must be the absolute IRI of an AI system or model')
        found = applicability.stored(store, node)
        if not found:
            raise NotFound(f"no classification of {node}: it is no AI system or model of the record")
        return jsonify(classifications=found)
    limit = request.args.get("limit", str(PAGE))
    if not limit.isdecimal() or not 1 <= int(limit) <= state().settings.result_limit:
        raise InvalidInput("limit must be a whole number from 1 to the result limit (AIMSGRAPH_RESULT_LIMIT)")
    rows = store.per_generation("eu-ai-act rows", lambda: applicability.summary(store))
    page = overview.page_of(rows, request.args.get("after") or None, lambda r: r.node, size=int(limit))
    response = jsonify(
        count=page.total,
        start=page.start,
        nodes=[{"node": r.node, "categories": [{"category": c, "basis": b} for c, b in r.categories]} for r in page.items],
    )
    if page.next_after:
        following = url_for(
            "api.regulation.classifications", **{**request.args.to_dict(), "after": page.next_after}, _external=True
        )
        response.headers["Link"] = f'<{following}>; rel="next"'
    return response


@bp.get("/readiness")
@contract(
    "Readiness of ISO/IEC 42001, the NIST AI RMF and the EU AI Act",
    params=[AS_OF, Param("framework", "only this framework (its key)")],
    responses={200: Readiness, 400: Problem},
)
def readiness() -> Response:
    """Each framework's requirements with their status and what decided it, side by side."""
    as_of = clock.as_of_argument(request.args.get("asOf"))
    wanted = request.args.get("framework")
    found = overview.framework_readiness(state().store, as_of)
    chosen = found if wanted is None else [frameworks.named(found, wanted)]
    return jsonify(asOf=as_of.isoformat(), frameworks=[frameworks.as_json(f) for f in chosen])


@bp.post("/eu-ai-act/what-if")
@contract(
    "EU AI Act what-if: classify a node with statements added or removed",
    body=WhatIfRequest,
    responses={200: WhatIf, 400: Problem, 404: Problem, 415: Problem, 429: Problem},
)
def what_if() -> Response:
    """``{"node": IRI, "add": [statement, ...], "remove": [statement, ...]}`` -> before and after."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("POST /api/eu-ai-act/what-if takes application/json")
    body = json_body("what-if")
    if not isinstance(body, dict) or not isinstance(body.get("node"), str) or not is_absolute_iri(body["node"]):
        raise InvalidInput('the body must be a JSON object with "node", the absolute IRI of an AI system or model')
    add, remove = _statements(body, "add"), _statements(body, "remove")
    ratelimit.limit_expensive("EU AI Act what-if analyses")
    before, after = applicability.what_if(state().store, body["node"], add, remove)
    if not before and not after:
        raise NotFound(f"{body['node']} is no AI system or model of the record")
    return jsonify(applicability.compare(body["node"], before, after))


def _statements(body: dict, key: str) -> list[tuple[str, applicability.Term]]:
    items = body.get(key, [])
    if not isinstance(items, list) or len(items) > MAX_STATEMENTS:
        raise InvalidInput(f'"{key}" must be a list of at most {MAX_STATEMENTS} statements, each {STATEMENT_HINT}')
    return [_statement(item, key) for item in items]


def _statement(item: object, key: str) -> tuple[str, applicability.Term]:
    if not isinstance(item, dict) or not isinstance(item.get("predicate"), str) or not is_absolute_iri(item["predicate"]):
        raise InvalidInput(f'each statement in "{key}" must be {STATEMENT_HINT}')
    if isinstance(item.get("object"), str) and is_absolute_iri(item["object"]):
        return item["predicate"], ox.NamedNode(item["object"])
    value = item.get("value")
    if isinstance(value, bool):
        return item["predicate"], ox.Literal("true" if value else "false", datatype=ox.NamedNode(XSD_BOOLEAN))
    if isinstance(value, int):
        return item["predicate"], ox.Literal(str(value), datatype=ox.NamedNode(XSD + "integer"))
    if isinstance(value, str):
        return item["predicate"], ox.Literal(value)
    raise InvalidInput(f'each statement in "{key}" must be {STATEMENT_HINT}; an "object" must be an absolute IRI')
