"""The risk model of one store snapshot, and the analysis named graph written from it.

:class:`RiskModel` puts scoring (``scoring``) and propagation (``propagation``) together for a
snapshot of the store; impact analysis and concentration work on it in memory. The service
keeps one per store generation, with memoised record lookups (:class:`ModelCache`).
:func:`refresh_analysis` writes the model into the analysis graph, so that every computed
score and inherited risk can be asked for, and explained, with SPARQL ("why is this system
high risk?").
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import pyoxigraph as ox

from aimsgraph.namespaces import AIMS, Graphs
from aimsgraph.propagation import (
    ANALYSIS_BASE,
    DependencyGraph,
    Exposure,
    Propagation,
    exposures,
    propagate,
    risks_by_asset,
)
from aimsgraph.record import Record
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
    by_asset: dict[str, list[Risk]]  # scored risks per asset
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
        by_asset = risks_by_asset(risks.values())
        result = propagate(deps, by_asset, criteria.threshold)
        return cls(criteria, risks, by_asset, deps, result, exposures(by_asset, result, criteria))

    @cached_property
    def cycles(self) -> list[list[str]]:
        """The dependency cycles (computed once: strongly connected components of the graph)."""
        return self.deps.cycles()


@dataclass(frozen=True)
class Snapshot:
    """What analyses of one store generation share: the risk model and memoised lookups."""

    model: RiskModel
    record: Record


class ModelCache:
    """One :class:`Snapshot` per store generation, built on first use (thread-safe)."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._snapshot: tuple[int, Snapshot] | None = None

    def get(self) -> Snapshot:
        with self._lock:
            generation = self.store.generation
            if self._snapshot is None or self._snapshot[0] != generation:
                self._snapshot = (generation, Snapshot(RiskModel.build(self.store), Record(self.store.raw)))
            return self._snapshot[1]

    def seed(self, model: RiskModel) -> None:
        """Use a model just built (by :func:`refresh_analysis`) for the current generation.
        Only for start-up, before requests: a write between building and seeding would pin a
        stale model to the new generation."""
        with self._lock:
            self._snapshot = (self.store.generation, Snapshot(model, Record(self.store.raw)))


def refresh_analysis(store: GraphStore) -> RiskModel:
    """Recompute scores and propagation and bring the analysis graph up to date with them.

    Only the difference is written (removing triples from the on-disk store costs about 30 us
    each), unless most of the graph changed. The graph's ``prov:generatedAtTime`` stamp goes
    first and comes back last, so an interrupted refresh is redone at the next start.
    """
    model = RiskModel.build(store)
    graph = ox.NamedNode(Graphs.ANALYSIS)
    wanted = set(analysis_quads(model))
    current = set(store.raw.quads_for_pattern(None, None, None, graph))
    stamps = {q for q in current if q.subject == graph and q.predicate.value == PROV + "generatedAtTime"}
    stale = current - wanted - stamps
    if len(stale) > len(current) / 2:
        store.replace_derived_graph(Graphs.ANALYSIS, wanted)
    else:
        store.replace_quads(remove=[*stamps, *stale], add=wanted - current)
    store.mark_current(Graphs.ANALYSIS)
    return model


def analysis_quads(model: RiskModel) -> Iterator[ox.Quad]:
    """Computed scores of risks, inherited risks with paths, exposures of assets, cycles.

    The time of the run is the analysis graph's own ``prov:generatedAtTime`` (set by
    :func:`refresh_analysis`), not repeated on every record, so an unchanged result is not
    rewritten.
    """
    graph = ox.NamedNode(Graphs.ANALYSIS)
    nodes: dict[str, ox.NamedNode] = {}

    def node(iri: str) -> ox.NamedNode:
        found = nodes.get(iri)
        if found is None:
            found = nodes[iri] = ox.NamedNode(iri)
        return found

    def quad(s: str, p: str, o: ox.Literal | str) -> ox.Quad:
        return ox.Quad(node(s), node(p), o if isinstance(o, ox.Literal) else node(o), graph)

    matrix = model.criteria.matrix
    for risk in sorted(model.risks.values(), key=lambda r: r.iri):
        if risk.scored:
            yield quad(risk.iri, AIMS + "inherentScore", _decimal(risk.inherent_score))
            yield quad(risk.iri, AIMS + "computedRiskLevel", risk.inherent.iri)
            yield quad(risk.iri, AIMS + "residualScore", _decimal(risk.residual_score))
            yield quad(risk.iri, AIMS + "computedResidualRiskLevel", risk.residual.iri)
            yield quad(risk.iri, AIMS + "residualLikelihood", matrix.likelihood_iri(risk.residual_likelihood))
            yield quad(risk.iri, AIMS + "residualSeverity", matrix.severity_iri(risk.residual_severity))
            yield quad(risk.iri, AIMS + "exceedsAppetite", _bool(model.criteria.exceeds(risk.residual)))
    for item in model.propagation.all():
        iri = item.iri
        yield quad(iri, RDF_TYPE, AIMS + "InheritedRisk")
        yield quad(item.asset, AIMS + "hasInheritedRisk", iri)
        yield quad(iri, AIMS + "sourceRisk", item.source_risk)
        yield quad(iri, PROV + "wasDerivedFrom", item.source_risk)
        yield quad(iri, AIMS + "sourceAsset", item.source_asset)
        yield quad(iri, AIMS + "inherentScore", _decimal(item.inherent_score))
        yield quad(iri, AIMS + "computedRiskLevel", matrix.level_for_score(item.inherent_score).iri)
        yield quad(iri, AIMS + "residualScore", _decimal(item.residual_score))
        yield quad(iri, AIMS + "computedResidualRiskLevel", matrix.level_for_score(item.residual_score).iri)
        yield quad(iri, AIMS + "distance", ox.Literal(str(item.distance), datatype=node(XSD + "integer")))
        for path in item.paths:
            yield quad(iri, AIMS + "explanationPath", ox.Literal(path.text()))
            for via in path.assets()[1:-1]:
                yield quad(iri, AIMS + "viaAsset", via)
    for asset, exposure in sorted(model.exposures.items()):
        yield quad(asset, AIMS + "exposureScore", _decimal(exposure.score))
        yield quad(asset, AIMS + "highestRiskLevel", exposure.level.iri)
        yield quad(asset, AIMS + "highestInherentRiskLevel", exposure.inherent_level.iri)
        yield quad(asset, AIMS + "exceedsAppetite", _bool(exposure.exceeds_appetite))
    for members in model.cycles:
        cycle = f"{ANALYSIS_BASE}cycle/" + hashlib.sha1(" ".join(members).encode()).hexdigest()[:20]
        yield quad(cycle, RDF_TYPE, AIMS + "DependencyCycle")
        for member in members:
            yield quad(cycle, AIMS + "cycleMember", member)


def _decimal(value: float) -> ox.Literal:
    """Four decimals, written the way the store keeps them ("0.448", "1"), so that an unchanged
    score compares equal to the stored one."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return ox.Literal("0" if text in ("", "-0") else text, datatype=ox.NamedNode(XSD + "decimal"))


def _bool(value: bool) -> ox.Literal:
    return ox.Literal("true" if value else "false", datatype=ox.NamedNode(XSD + "boolean"))
