"""The REST API (``/api``): small JSON endpoints over the domain modules.

This module has health and the graph inventory; ``validation``, ``soa`` and ``queries`` are
blueprints of their own in this package.
"""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, jsonify
from pydantic import ConfigDict

from aimsgraph import __version__
from aimsgraph.http.openapi import Model, contract
from aimsgraph.http.state import state

bp = Blueprint("api", __name__, url_prefix="/api")


class Derived(Model):
    """The derived graphs' state (``records.refresh.Refresher.status``)."""

    model_config = ConfigDict(extra="allow")
    inferredCurrent: bool
    analysisCurrent: bool
    pendingWrites: int
    refreshing: bool
    stale: list[str]
    failure: dict[str, str] | None
    lastRefresh: dict[str, object]


class Health(Model):
    """Whether the service is up and its derived graphs current."""

    status: Literal["ok", "degraded"]
    version: str
    derived: Derived
    error: str | None = None
    stale: list[str] | None = None


class GraphSize(Model):
    graph: str
    triples: int


class Graphs(Model):
    """The named graphs with their triple counts."""

    graphs: list[GraphSize]
    current: bool


@bp.get("/health")
@contract("Liveness and readiness", responses={200: Health})
def health():
    """Liveness and readiness: the store answers a query; whether the derived graphs (inferred,
    validation, analysis) have caught up with the latest writes.

    ``status`` is ``ok``, or ``degraded`` when computing a derived graph failed (at start-up or
    after a write): then ``error`` says why and ``stale`` lists the derived graphs that do not
    reflect the record. A degraded service still answers 200: it serves the record, and the
    derived graphs as they were, so that a load balancer keeps it while someone fixes the record
    (the next write tries again); monitoring should alert on ``status``."""
    service = state()
    service.store.query("ASK { ?s ?p ?o }")
    derived = service.refresher.status()
    failure = derived["failure"]
    if not isinstance(failure, dict):  # None: no derived graph failed
        return jsonify(status="ok", version=__version__, derived=derived)
    return jsonify(
        status="degraded",
        version=__version__,
        error=f"the {failure['step']} failed during {failure['during']}: {failure['error']}",
        stale=derived["stale"],
        derived=derived,
    )


@bp.get("/graphs")
@contract("The named graphs and their sizes", responses={200: Graphs})
def graphs():
    """The named graphs of the store with their triple counts; ``current`` is false when the
    counts are from before the last write (a recount is then running)."""
    store = state().store
    sizes, current = store.recent_graph_sizes()
    return jsonify(graphs=[{"graph": g, "triples": n} for g, n in sizes.items()], current=current)
