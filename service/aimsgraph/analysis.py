"""The risk model of one store snapshot, and the analysis named graph written from it.

:class:`RiskModel` puts scoring (``scoring``) and propagation (``propagation``) together for a
snapshot of the store; impact analysis and concentration work on it in memory. The service
keeps one per store generation (:class:`ModelCache`). :func:`refresh_analysis` writes the
model into the analysis graph, so that every computed score and inherited risk can be asked
for, and explained, with SPARQL ("why is this system high risk?").
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime, timezone

import pyoxigraph as ox

from aimsgraph.namespaces import AIMS, Graphs
from aimsgraph.propagation import (
    ANALYSIS_BASE, DependencyGraph, Exposure, Propagation, exposures, propagate,
)
from aimsgraph.scoring import Criteria, Risk, load_criteria, load_risks
from aimsgraph.store import GraphStore

XSD = "http://www.w3.org/2001/XMLSchema#"
PROV = "http://www.w3.org/ns/prov#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


@dataclass
class RiskModel:
    """Criteria, scored risks, the dependency graph and the propagation over it."""

    criteria: Criteria
    risks: dict[str, Risk]
    deps: DependencyGraph
    propagation: Propagation
    exposures: dict[str, Exposure]

    @classmethod
    def build(cls, store: GraphStore) -> RiskModel:
        criteria = load_criteria(store)
        risks = load_risks(store, criteria)
        deps = DependencyGraph.from_store(store)
        return cls.compute(criteria, risks, deps)

    @classmethod
    def compute(cls, criteria: Criteria, risks: dict[str, Risk], deps: DependencyGraph) -> RiskModel:
        result = propagate(deps, risks, criteria.threshold)
        return cls(criteria, risks, deps, result, exposures(risks, result, criteria))


class ModelCache:
    """One :class:`RiskModel` per store generation, built on first use (thread-safe)."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._model: tuple[int, RiskModel] | None = None

    def get(self) -> RiskModel:
        with self._lock:
            generation = self.store.generation
            if self._model is None or self._model[0] != generation:
                self._model = (generation, RiskModel.build(self.store))
            return self._model[1]


def refresh_analysis(store: GraphStore) -> RiskModel:
    """Recompute scores and propagation and replace the analysis graph with them."""
    model = RiskModel.build(store)
    store.replace_derived_graph(Graphs.ANALYSIS, analysis_triples(model))
    return model


def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def _decimal(value: float) -> ox.Literal:
    return ox.Literal(f"{value:.4f}", datatype=_n(XSD + "decimal"))


def _bool(value: bool) -> ox.Literal:
    return ox.Literal("true" if value else "false", datatype=_n(XSD + "boolean"))


def analysis_triples(model: RiskModel) -> list[ox.Triple]:
    """Computed scores of risks, inherited risks with paths, exposures of assets, cycles.

    The graph itself carries the ``prov:generatedAtTime`` stamp that marks it current.
    """
    now = ox.Literal(datetime.now(timezone.utc).isoformat(timespec="seconds"), datatype=_n(XSD + "dateTime"))
    matrix = model.criteria.matrix
    triples: list[ox.Triple] = [ox.Triple(_n(Graphs.ANALYSIS), _n(PROV + "generatedAtTime"), now)]

    def add(s: str, p: str, o: ox.Literal | str) -> None:
        triples.append(ox.Triple(_n(s), _n(p), o if isinstance(o, ox.Literal) else _n(o)))

    for risk in sorted(model.risks.values(), key=lambda r: r.iri):
        if risk.scored:
            add(risk.iri, AIMS + "inherentScore", _decimal(risk.inherent_score))
            add(risk.iri, AIMS + "computedRiskLevel", risk.inherent.iri)
            add(risk.iri, AIMS + "residualScore", _decimal(risk.residual_score))
            add(risk.iri, AIMS + "computedResidualRiskLevel", risk.residual.iri)
            add(risk.iri, AIMS + "residualLikelihood", matrix.likelihood_iri(risk.residual_likelihood))
            add(risk.iri, AIMS + "residualSeverity", matrix.severity_iri(risk.residual_severity))
            add(risk.iri, AIMS + "exceedsAppetite", _bool(model.criteria.exceeds(risk.residual)))
    for item in model.propagation.all():
        iri = item.iri
        add(iri, RDF_TYPE, AIMS + "InheritedRisk")
        add(item.asset, AIMS + "hasInheritedRisk", iri)
        add(iri, AIMS + "sourceRisk", item.source_risk)
        add(iri, PROV + "wasDerivedFrom", item.source_risk)
        add(iri, AIMS + "sourceAsset", item.source_asset)
        add(iri, AIMS + "inherentScore", _decimal(item.inherent_score))
        add(iri, AIMS + "computedRiskLevel", matrix.level_for_score(item.inherent_score).iri)
        add(iri, AIMS + "residualScore", _decimal(item.residual_score))
        add(iri, AIMS + "computedResidualRiskLevel", matrix.level_for_score(item.residual_score).iri)
        add(iri, AIMS + "distance", ox.Literal(str(item.distance), datatype=_n(XSD + "integer")))
        add(iri, PROV + "generatedAtTime", now)
        for path in item.paths:
            add(iri, AIMS + "explanationPath", ox.Literal(path.text()))
            for via in path.assets()[1:-1]:
                add(iri, AIMS + "viaAsset", via)
    for asset, exposure in sorted(model.exposures.items()):
        add(asset, AIMS + "exposureScore", _decimal(exposure.score))
        add(asset, AIMS + "highestRiskLevel", exposure.level.iri)
        add(asset, AIMS + "exceedsAppetite", _bool(exposure.exceeds_appetite))
        add(asset, AIMS + "highestInherentRiskLevel", exposure.inherent_level.iri)
    for members in model.deps.cycles():
        cycle = f"{ANALYSIS_BASE}cycle/" + hashlib.sha1(" ".join(members).encode()).hexdigest()[:20]
        add(cycle, RDF_TYPE, AIMS + "DependencyCycle")
        add(cycle, PROV + "generatedAtTime", now)
        for member in members:
            add(cycle, AIMS + "cycleMember", member)
    return list(dict.fromkeys(triples))
