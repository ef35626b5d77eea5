"""Small hand-made organisations for the scoring, propagation and impact tests."""

from __future__ import annotations

import pyoxigraph as ox

from aimsgraph.namespaces import Graphs
from aimsgraph.risk.analysis import RiskModel
from aimsgraph.semantics.reasoning import refresh_inferences
from aimsgraph.store import GraphStore

EX = "https://example.org/"
PREAMBLE = """
@prefix aims: <https://w3id.org/aimsgraph/ontology#> .
@prefix rm: <https://w3id.org/aimsgraph/risk-matrix/> .
@prefix ex: <https://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""


def store_with(turtle: str) -> GraphStore:
    """An in-memory store with the ontology, the catalogue and this organisation, inferences made."""
    store = GraphStore(None)
    store.initialise(demo=False)
    store.backend.load((PREAMBLE + turtle).encode(), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(Graphs.DATA))
    refresh_inferences(store)
    return store


def model_of(turtle: str) -> RiskModel:
    return RiskModel.build(store_with(turtle))


def inherited(model: RiskModel, asset: str, risk: str):
    """The inherited risk of ``ex:risk`` at ``ex:asset``, or None."""
    found = [i for i in model.propagation.inherited.get(EX + asset, []) if i.source_risk == EX + risk]
    return found[0] if found else None
