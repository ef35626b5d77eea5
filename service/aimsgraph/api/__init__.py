"""The REST API (``/api``): small JSON endpoints over the domain modules.

This module has health and the graph inventory; ``validation``, ``soa`` and ``queries`` are
blueprints of their own in this package.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from aimsgraph import __version__

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/health")
def health():
    """Liveness and readiness: the store answers a query; whether the derived graphs (inferred,
    analysis) have caught up with the latest writes."""
    state = current_app.extensions["aimsgraph"]
    state.store.query("ASK { ?s ?p ?o }")
    return jsonify(status="ok", version=__version__, derived=state.refresher.status())


@bp.get("/graphs")
def graphs():
    """The named graphs of the store with their triple counts."""
    store = current_app.extensions["aimsgraph"].store
    return jsonify(graphs=[{"graph": g, "triples": n} for g, n in store.graph_sizes().items()])
