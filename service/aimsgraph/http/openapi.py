"""The OpenAPI 3.1 contract of the REST API, ``GET /api/openapi.json``, and its browsable page,
``GET /api/docs`` (Swagger UI, vendored from npm in ``web/static/vendor/swagger-ui``).

Owns :func:`contract`, the one place where a route says what it takes and what it answers: each
view of ``http/api`` is decorated with its summary, query parameters (:class:`Param`), request
body and responses, as pydantic models (JSON) or :class:`Media` (other media types), declared
beside the code that builds them. :func:`document` assembles the document from the app's
``url_map`` (paths, methods, path parameters) and those declarations: JSON Schemas from the
models' ``model_json_schema``, descriptions from the views' docstrings. The SPARQL and Graph
Store protocols, which W3C specifies, are described briefly here (:data:`PROTOCOLS`).
``tests/test_openapi.py`` fails when an /api route has no contract, and checks real answers
against the document. Only the http layer imports this module.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, url_for
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema
from werkzeug.routing import Rule

from aimsgraph import __version__
from aimsgraph.sparql import results

Schema = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])

#: Where a view keeps its operations (a list: one per method, or one for all of them).
ATTRIBUTE = "openapi_operations"
#: Methods every route answers without a contract of its own.
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}
JSON = "application/json"
PROBLEM_JSON = "application/problem+json"


class Model(BaseModel):
    """The base of the JSON models that contracts name. A model's validator and schema are built
    when first used (a request's body checked, the OpenAPI document), not when its module is
    imported: building the API's models took each process start about 0.1 s."""

    model_config = ConfigDict(defer_build=True)


@dataclass(frozen=True)
class Param:
    """A parameter: of the query string unless ``where`` says otherwise; ``repeated``: it may
    be given more than once (an array)."""

    name: str
    description: str
    schema: Schema = field(default_factory=lambda: {"type": "string"})
    required: bool = False
    repeated: bool = False
    where: Literal["query", "path", "header"] = "query"

    def render(self) -> Schema:
        schema = {"type": "array", "items": self.schema} if self.repeated else self.schema
        found: Schema = {"name": self.name, "in": self.where, "description": self.description, "schema": schema}
        if self.required or self.where == "path":
            found["required"] = True
        if self.repeated:
            found["style"], found["explode"] = "form", True
        return found


#: Parameters several routes share.
AS_OF = Param("asOf", "the evaluation date (YYYY-MM-DD); default today", {"type": "string", "format": "date"})
PAGE = Param("page", "the page, from 1", {"type": "integer", "minimum": 1})
PAGE_SIZE = Param("pageSize", "items a page holds, at most AIMSGRAPH_RESULT_LIMIT", {"type": "integer", "minimum": 1})
IRI = {"type": "string", "format": "iri"}


@dataclass(frozen=True)
class Media:
    """A body in one or more media types, each with its pydantic model, a JSON Schema, or None
    (text or bytes the schema says nothing about: RDF, CSV, HTML, iCalendar)."""

    types: Mapping[str, type[BaseModel] | Schema | None]
    description: str = ""


#: What a status answers: a JSON body (a model), :class:`Media`, or a description (no body).
Answer = type[BaseModel] | Media | str


@dataclass(frozen=True)
class Operation:
    """What one method of a route takes and answers (see :func:`contract`)."""

    summary: str
    description: str
    responses: Mapping[int, Answer]
    params: tuple[Param, ...] = ()
    body: type[BaseModel] | Media | None = None
    body_required: bool = True
    methods: frozenset[str] | None = None  # None: every method of the route
    role: str | None = None  # the least role that may call it (a bearer token), when one is needed
    tag: str | None = None
    external: str | None = None  # the specification, for the protocols


def contract(
    summary: str,
    *,
    responses: Mapping[int, Answer],
    params: Sequence[Param] = (),
    body: type[BaseModel] | Media | None = None,
    body_required: bool = True,
    methods: Sequence[str] | None = None,
    role: str | None = None,
    description: str | None = None,
) -> Callable[[F], F]:
    """Declare a view's operation for the contract: ``@contract(summary=..., params=[Param(...)],
    body=Model, responses={200: Model, 404: Problem})`` between ``@bp.get(...)`` and the
    function. The description is the view's docstring unless given; ``methods`` restricts it
    to some methods of the route (stack one a method); ``role`` marks it as needing a token.
    Errors of /api (4xx, 5xx) are problem details: :class:`Problem` is every operation's
    ``default`` response, so list an error status only to say when it comes."""

    def record(view: F) -> F:
        operation = Operation(
            summary=summary,
            description=description if description is not None else inspect.getdoc(view) or "",
            responses=dict(responses),
            params=tuple(params),
            body=body,
            body_required=body_required,
            methods=frozenset(m.upper() for m in methods) if methods else None,
            role=role,
        )
        view.__dict__.setdefault(ATTRIBUTE, []).append(operation)
        return view

    return record


# -- shared response models ------------------------------------------------------------------------


class Finding(Model):
    """A SHACL finding (``reporting.reports.finding_dict``)."""

    severity: Literal["Violation", "Warning", "Info"]
    focus: str
    path: str | None
    value: str | None
    valueType: str | None
    message: str
    shape: str | None
    component: str | None
    clauses: list[str]


class Problem(Model):
    """Problem details (RFC 9457), the body of every error under /api; ``findings`` when a write
    is refused by the validation gate (422)."""

    model_config = ConfigDict(title="Problem")
    title: str
    status: int
    detail: str
    instance: str
    findings: list[Finding] | None = None


class Change(Model):
    """The answer to a write (``api.writes.change_response``): the change's record in the audit
    trail, or ``changed: false``; the route's own fields beside it."""

    model_config = ConfigDict(extra="allow")
    changed: bool
    added: int
    removed: int
    change: str | None = None
    operation: str | None = None
    agent: str | None = None
    role: str | None = None
    graphs: list[str] | None = None
    started: str | None = None
    ended: str | None = None
    sequence: int | None = None
    quadsRecorded: bool | None = None


# -- the SPARQL 1.1 Protocol and Graph Store Protocol (specified by W3C) ---------------------------

#: SPARQL 1.1 Query Results JSON: a SELECT's bindings or an ASK's boolean.
SPARQL_RESULTS_JSON: Schema = {
    "type": "object",
    "required": ["head"],
    "properties": {
        "head": {"type": "object", "properties": {"vars": {"type": "array", "items": {"type": "string"}}}},
        "results": {"type": "object", "required": ["bindings"], "properties": {"bindings": {"type": "array"}}},
        "boolean": {"type": "boolean"},
    },
}


def sparql_answer(description: str) -> Media:
    """A SPARQL query's answer in the media types the service writes, the JSON results described."""
    kinds: dict[str, type[BaseModel] | Schema | None] = {k: None for k in (*results.SOLUTION_TYPES, *results.GRAPH_TYPES)}
    kinds["application/sparql-results+json"] = SPARQL_RESULTS_JSON
    return Media(kinds, description)


_SPARQL_ANSWER = sparql_answer("the results (SELECT, ASK) or the graph (CONSTRUCT, DESCRIBE), in the media type Accept asks for")

_QUERY_PARAMS = (
    Param("default-graph-uri", "a graph of the query's default graph", IRI, repeated=True),
    Param("named-graph-uri", "a named graph of the query's dataset", IRI, repeated=True),
)
_GRAPH_PARAMS = (
    Param("graph", "the graph's IRI", IRI),
    Param("default", "the organisation's data graph (no value)", {"type": "string", "maxLength": 0}),
)
#: The protocols' errors are plain text, which SPARQL clients show as they are.
_PLAIN_ERROR = Media({"text/plain": None}, "what went wrong")
_RDF_BODY = Media({t: None for t in ("text/turtle", "application/n-triples", "application/rdf+xml", "application/ld+json")})

#: The protocols' routes, described here rather than beside their code: a brief outline, their
#: specifications say the rest.
PROTOCOLS: dict[str, tuple[Operation, ...]] = {
    "sparql.sparql_endpoint": (
        Operation(
            "SPARQL query (GET)",
            "A SPARQL 1.1 query, read-only, with the service's timeout, result cap and SERVICE guard.",
            {200: _SPARQL_ANSWER},
            params=(Param("query", "the SPARQL query", required=True), *_QUERY_PARAMS),
            methods=frozenset({"GET"}),
            tag="sparql",
            external="https://www.w3.org/TR/sparql11-protocol/",
        ),
        Operation(
            "SPARQL query (POST)",
            "A SPARQL 1.1 query sent as a form (``query=``) or directly (application/sparql-query).",
            {200: _SPARQL_ANSWER},
            params=_QUERY_PARAMS,
            body=Media({"application/x-www-form-urlencoded": None, "application/sparql-query": None}),
            methods=frozenset({"POST"}),
            tag="sparql",
            external="https://www.w3.org/TR/sparql11-protocol/",
        ),
    ),
    "sparql.update_endpoint": (
        Operation(
            "SPARQL update",
            "A SPARQL 1.1 Update, committed as one write through the audit trail.",
            {200: Change},
            body=Media({"application/x-www-form-urlencoded": None, "application/sparql-update": None}),
            role="editor",
            tag="sparql",
            external="https://www.w3.org/TR/sparql11-protocol/",
        ),
    ),
    "graph_store.graph_store": (
        Operation(
            "Read a graph",
            "The graph named by ``?graph=`` or ``?default``, in the RDF format Accept asks for.",
            {200: Media({t: None for t in _RDF_BODY.types}), 404: _PLAIN_ERROR},
            params=_GRAPH_PARAMS,
            methods=frozenset({"GET"}),
            tag="graph store",
            external="https://www.w3.org/TR/sparql11-http-rdf-update/",
        ),
        Operation(
            "Replace, add to or delete a graph",
            "PUT replaces the graph, POST adds to it (without a graph: a new graph, 201 with its "
            "Location), DELETE removes it; RDF bodies or multipart/form-data uploads.",
            {200: Change, 201: Change, 204: "deleted"},
            params=_GRAPH_PARAMS,
            body=_RDF_BODY,
            body_required=False,
            methods=frozenset({"PUT", "POST", "DELETE"}),
            role="editor",
            tag="graph store",
            external="https://www.w3.org/TR/sparql11-http-rdf-update/",
        ),
    ),
}


# -- the document ----------------------------------------------------------------------------------


def operations(app: Flask, rule: Rule) -> Iterator[tuple[str, Operation]]:
    """The documented methods of ``rule`` with their operations."""
    view = app.view_functions.get(rule.endpoint)
    declared = getattr(view, ATTRIBUTE, None) or PROTOCOLS.get(rule.endpoint, ())
    for method in sorted((rule.methods or set()) - IMPLICIT_METHODS):
        found = next((o for o in declared if o.methods is None or method in o.methods), None)
        if found is not None:
            yield method, found


def missing(app: Flask) -> list[str]:
    """``METHOD /api/...`` of every REST route method without a contract."""
    return [
        f"{method} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in sorted((rule.methods or set()) - IMPLICIT_METHODS)
        if method not in {m for m, _ in operations(app, rule)}
    ]


def document(app: Flask) -> Schema:
    """The OpenAPI 3.1 document of ``app``'s documented routes."""
    documented = [(rule, method, op) for rule in _rules(app) for method, op in operations(app, rule)]
    refs, components = _schemas(op for _, _, op in documented)
    paths: dict[str, Schema] = {}
    for rule, method, op in documented:
        several = len(list(operations(app, rule))) > 1
        paths.setdefault(_path(rule), {})[method.lower()] = _operation(rule, method, op, refs, several)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "aimsgraph",
            "version": __version__,
            "summary": "An ISO/IEC 42001 AI management system as an RDF graph: its REST API and SPARQL endpoints.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a token of AIMSGRAPH_TOKENS or AIMSGRAPH_TOKEN_FILE (reader, editor or admin)",
                }
            },
        },
        "security": [{}, {"bearer": []}],  # reads need no token unless AIMSGRAPH_OPEN_READS is off
    }


def _rules(app: Flask) -> list[Rule]:
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))


def _path(rule: Rule) -> str:
    """``/api/tasks/{task_id}`` for ``/api/tasks/<task_id>``."""
    return re.sub(r"<(?:[^<>]*:)?(\w+)>", r"{\1}", rule.rule)


def _models(op: Operation) -> Iterator[type[BaseModel]]:
    answers: list[object] = [op.body, *op.responses.values(), Problem]
    for answer in answers:
        for found in answer.types.values() if isinstance(answer, Media) else [answer]:
            if isinstance(found, type) and issubclass(found, BaseModel):
                yield found


def _schemas(ops: Iterator[Operation]) -> tuple[dict[type[BaseModel], Schema], Schema]:
    """Each model's ``$ref``, and the components' schemas (pydantic names them, apart when two
    models share a name)."""
    models = list(dict.fromkeys(m for op in ops for m in _models(op)))
    refs, top = models_json_schema(
        [(m, "validation") for m in models], by_alias=True, ref_template="#/components/schemas/{model}"
    )
    return {m: refs[(m, "validation")] for m in models}, top.get("$defs", {})


def _content(answer: type[BaseModel] | Media, refs: Mapping[type[BaseModel], Schema], media: str = JSON) -> Schema:
    if not isinstance(answer, Media):
        return {media: {"schema": refs[answer]}}
    content: Schema = {}
    for kind, schema in answer.types.items():
        if isinstance(schema, type):
            content[kind] = {"schema": refs[schema]}
        else:
            content[kind] = {"schema": schema} if schema is not None else {}
    return content


def _operation(rule: Rule, method: str, op: Operation, refs: Mapping[type[BaseModel], Schema], several: bool) -> Schema:
    declared = {p.name for p in op.params if p.where == "path"}
    params = [Param(v, "", where="path").render() for v in rule.arguments if v not in declared]
    found: Schema = {
        "operationId": rule.endpoint.replace(".", "_") + (f"_{method.lower()}" if several else ""),
        "summary": op.summary,
        "tags": [op.tag or _tag(rule.endpoint)],
        "parameters": params + [p.render() for p in op.params],
        "responses": {str(status): _response(answer, refs) for status, answer in sorted(op.responses.items())},
    }
    if rule.rule.startswith("/api/"):
        found["responses"]["default"] = {"description": "an error, as problem details", **_problem(refs)}
    else:  # the protocols answer errors in plain text
        found["responses"]["default"] = _response(_PLAIN_ERROR, refs)
    description = op.description
    if op.role:
        description += f"\n\nNeeds a bearer token with the {op.role} role (or a higher one)."
        found["security"] = [{"bearer": []}]
        found["x-aimsgraph-role"] = op.role
    if description:
        found["description"] = description.strip()
    if op.body is not None:
        found["requestBody"] = {"required": op.body_required, "content": _content(op.body, refs)}
    if op.external:
        found["externalDocs"] = {"url": op.external}
    return found


def _problem(refs: Mapping[type[BaseModel], Schema]) -> Schema:
    return {"content": _content(Problem, refs, PROBLEM_JSON)}


def _response(answer: Answer, refs: Mapping[type[BaseModel], Schema]) -> Schema:
    if isinstance(answer, str):
        return {"description": answer}
    if answer is Problem:
        return {"description": "problem details", **_problem(refs)}
    text = answer.description if isinstance(answer, Media) else inspect.getdoc(answer)
    return {"description": (text or answer.__class__.__name__).splitlines()[0], "content": _content(answer, refs)}


def _tag(endpoint: str) -> str:
    """``validation`` for ``api.validation.findings``; ``service`` for ``api.health``."""
    parts = endpoint.split(".")
    return parts[1] if len(parts) > 2 else "service"


# -- the routes ------------------------------------------------------------------------------------

bp = Blueprint("openapi", __name__)  # under api.bp: /api


class OpenApiDocument(Model):
    """An OpenAPI 3.1 document."""

    model_config = ConfigDict(extra="allow")
    openapi: Literal["3.1.0"]
    info: dict[str, Any]
    paths: dict[str, Any]


@bp.get("/openapi.json")
@contract("This contract", responses={200: OpenApiDocument})
def openapi_document() -> Response:
    """The OpenAPI 3.1 document of the REST API (and an outline of the SPARQL protocols); no
    token needed."""
    kept = current_app.extensions.setdefault("aimsgraph-openapi", {})
    if "document" not in kept:  # the routes are fixed once the app serves
        kept["document"] = document(current_app)
    return jsonify(kept["document"])


@bp.get("/docs")
@contract("This contract as a page", responses={200: Media({"text/html": None}, "Swagger UI over /api/openapi.json")})
def openapi_page() -> tuple[str, dict[str, str]]:
    """The contract in Swagger UI; no token needed to read it. The pages' policy applies (this
    blueprint is not the web's, whose policy is the default): Swagger UI needs nothing inline."""
    from aimsgraph.http.web import PAGE_POLICY  # here: the web package imports the API's modules

    page = render_template("api-docs.html", document=url_for("api.openapi.openapi_document"))
    return page, {"Content-Security-Policy": PAGE_POLICY}
