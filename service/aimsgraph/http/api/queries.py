"""REST: ``GET /api/queries`` lists the named queries of ``queries/``; ``GET /api/queries/<name>``
runs one (parameters as query-string arguments) with content negotiation and the timeout.

Paging (see :mod:`aimsgraph.records.queries`): ``page`` (from 1) and ``pageSize`` read one page; a query
with a ``#+ pagination: N`` header is paged at N rows even without them. The body stays a plain
SPARQL result (JSON, XML, CSV or TSV) of the page's rows; the headers say where it lies:
``Link`` with ``rel="next"`` (only when more rows follow), ``rel="prev"`` and ``rel="first"``,
and ``Aimsgraph-Page: <page>`` and ``Aimsgraph-Page-Size: <size>``. No total is given: counting
would evaluate the query a second time."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request

from aimsgraph.errors import NotFound
from aimsgraph.http.negotiation import best_match
from aimsgraph.http.openapi import PAGE, PAGE_SIZE, Model, Problem, contract, sparql_answer
from aimsgraph.http.protocol import query_response
from aimsgraph.http.state import state
from aimsgraph.namespaces import PREFIXES
from aimsgraph.records import queries
from aimsgraph.sparql import results
from aimsgraph.sparql.executor import QueryJob

bp = Blueprint("queries", __name__)  # under api.bp: /api


class QueryParameter(Model):
    name: str
    type: str
    required: bool


class NamedQuery(Model):
    name: str
    summary: str
    description: str | None
    tags: str | None
    cq: str | None
    parameters: list[QueryParameter]
    pageSize: int | None
    url: str


class NamedQueries(Model):
    """The named queries of ``queries/``, each with its parameters and where to run it."""

    queries: list[NamedQuery]


@bp.get("/queries")
@contract("The named queries", responses={200: NamedQueries})
def list_queries() -> Response:
    return jsonify(
        queries=[
            {
                "name": q.name,
                "summary": q.summary,
                "description": q.metadata.get("description"),
                "tags": q.metadata.get("tags"),
                "cq": q.metadata.get("cq"),
                "parameters": [{"name": p.name, "type": p.kind, "required": p.required} for p in q.parameters],
                "pageSize": q.page_size,
                "url": request.host_url + "api/queries/" + q.name,
            }
            for q in queries.load_all().values()
        ]
    )


@bp.get("/queries/<name>")
@contract(
    "Run a named query",
    params=[PAGE, PAGE_SIZE],
    responses={
        200: sparql_answer("the query's answer, in the format Accept asks for; a page of it has Link headers"),
        400: Problem,
        404: Problem,
    },
)
def run_query(name: str) -> Response:
    """Run the named query ``name``: its parameters as query-string arguments (GET /api/queries
    lists them), with content negotiation, the timeout and the result cap; paged as the module
    docstring says."""
    named = queries.load_all().get(name)

    if named is None:
        raise NotFound(f"no query named '{name}' in queries/")
    service = state()
    accept = request.headers.get("Accept")
    page, values = named.page(request.args.to_dict(), max_size=service.settings.result_limit)
    job = QueryJob(
        query=named.paged_text(page),
        solution_type=best_match(accept, results.SOLUTION_TYPES),
        graph_type=best_match(accept, list(results.GRAPH_TYPES)),
        limit=service.settings.result_limit if page is None else page.size,
        prefixes=PREFIXES,
        bindings=named.bindings(values),
    )
    outcome = service.readers.run(job)
    if page is None:
        return query_response(outcome, service.settings.result_limit)
    # the page was asked for one row more than it holds: a cut answer means a next page
    response = query_response(replace(outcome, truncated=False), service.settings.result_limit)
    links = {"first": 1}
    if page.number > 1:
        links["prev"] = page.number - 1
    if outcome.truncated:
        links["next"] = page.number + 1
    response.headers["Link"] = ", ".join(
        f'<{_page_url(values, number, page.size)}>; rel="{rel}"' for rel, number in links.items()
    )
    response.headers["Aimsgraph-Page"] = str(page.number)
    response.headers["Aimsgraph-Page-Size"] = str(page.size)
    return response


def _page_url(values: dict[str, str], number: int, size: int) -> str:
    return request.base_url + "?" + urlencode({**values, queries.PAGE: number, queries.PAGE_SIZE: size})
