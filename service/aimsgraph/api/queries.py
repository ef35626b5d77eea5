"""REST: ``GET /api/queries`` lists the named queries of ``queries/``; ``GET /api/queries/<name>``
runs one (parameters as query-string arguments) with content negotiation and the timeout."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from aimsgraph import queries
from aimsgraph.errors import AimsgraphError
from aimsgraph.namespaces import PREFIXES
from aimsgraph.sparql import results
from aimsgraph.sparql.executor import QueryJob
from aimsgraph.sparql.negotiation import best_match
from aimsgraph.sparql.protocol import query_response

bp = Blueprint("queries", __name__, url_prefix="/api")


class UnknownQuery(AimsgraphError):
    status = 404


@bp.get("/queries")
def list_queries() -> Response:
    return jsonify(queries=[
        {
            "name": q.name,
            "summary": q.summary,
            "description": q.metadata.get("description"),
            "tags": q.metadata.get("tags"),
            "cq": q.metadata.get("cq"),
            "parameters": [{"name": p.name, "type": p.kind, "required": p.required} for p in q.parameters],
            "url": request.host_url + "api/queries/" + q.name,
        }
        for q in queries.load_all().values()
    ])


@bp.get("/queries/<name>")
def run_query(name: str) -> Response:
    named = queries.load_all().get(name)
    if named is None:
        raise UnknownQuery(f"no query named '{name}' in queries/")
    state = current_app.extensions["aimsgraph"]
    accept = request.headers.get("Accept")
    job = QueryJob(
        query=named.text,
        solution_type=best_match(accept, results.SOLUTION_TYPES),
        graph_type=best_match(accept, list(results.GRAPH_TYPES)),
        limit=state.settings.result_limit,
        prefixes=PREFIXES,
        bindings=named.bindings(request.args.to_dict()),
    )
    return query_response(state.readers.run(job), state.settings.result_limit)
