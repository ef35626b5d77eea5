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
import logging
import threading
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import overload

import networkx as nx
import pyoxigraph as ox

from aimsgraph.errors import StoreUnavailable
from aimsgraph.namespaces import (
    AIMS,
    ANALYSIS_BASE,
    GENERATED_AT,
    PROV,
    PROV_GENERATED_AT,
    RDF_TYPE,
    TYPE,
    XSD,
    XSD_BOOLEAN,
    Graphs,
)
from aimsgraph.risk.propagation import (
    DependencyGraph,
    Exposure,
    InheritedRisk,
    Propagation,
    exposures,
    propagate,
    risks_by_asset,
)
from aimsgraph.risk.scoring import Criteria, Risk, load_criteria, load_risk, load_risks
from aimsgraph.semantics.reasoning import SCHEMA_PREDICATES, SCHEMA_TYPES
from aimsgraph.store import GraphStore
from aimsgraph.store.record import Record, graph_of, iri_of

log = logging.getLogger(__name__)
_ANALYSIS = ox.NamedNode(Graphs.ANALYSIS)
_RISK = ox.NamedNode(AIMS + "Risk")


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

    def updated(self, risks: dict[str, Risk], deps: DependencyGraph, touched: set[str]) -> RiskModel:
        """This model with ``risks`` and ``deps`` in place of its own, where only ``touched``
        assets changed (their risks or edges): only the sources whose flows reach them are
        propagated again, and only exposures there and downstream recomputed. Unchanged parts
        are the same objects as in this model."""
        by_asset = _updated_by_asset(self, risks)
        sources = self.propagation.sources_reaching(touched) | touched
        partial = propagate(deps, by_asset, self.criteria.threshold, sources)
        merged = Propagation(
            cycle_edges=partial.cycle_edges, reached={s: r for s, r in self.propagation.reached.items() if s not in sources}
        )
        merged.reached.update(partial.reached)
        for asset, items in self.propagation.inherited.items():
            kept = [i for i in items if i.source_asset not in sources]
            if kept and asset in deps.graph:
                merged.inherited[asset] = kept
        merged.add(partial.all())
        moved = set(touched)  # exposures can change only here and downstream
        for graph in (self.deps.graph, deps.graph):
            for asset in touched & set(graph):
                moved |= nx.descendants(graph, asset)
        exposed = {a: e for a, e in self.exposures.items() if a not in moved}
        exposed.update(exposures(by_asset, merged, self.criteria, assets=moved))
        return RiskModel(self.criteria, risks, by_asset, deps, merged, exposed)

    def asset_kind(self, iri: str) -> str | None:
        """The kind of asset ``iri`` is (AISystem, Model, Dataset, InfrastructureService,
        Supplier, or "Asset" for an untyped node that a dependency names); None if it is no
        asset. Typed assets count whether or not they have edges: the dependency graph holds
        only those that have, and a record just started has many that have none."""
        if iri in self.deps.kinds:
            return self.deps.kinds[iri]
        return "Asset" if iri in self.deps.graph else None

    @cached_property
    def cycles(self) -> list[list[str]]:
        """The dependency cycles (computed once: strongly connected components of the graph)."""
        return self.deps.cycles()


def _updated_by_asset(model: RiskModel, risks: dict[str, Risk]) -> dict[str, list[Risk]]:
    """The model's risks-per-asset index with the changed risks replaced (not rebuilt)."""
    changed = {iri for iri in model.risks.keys() | risks.keys() if risks.get(iri) is not model.risks.get(iri)}
    by_asset = dict(model.by_asset)
    assets = {a for iri in changed for r in (model.risks.get(iri), risks.get(iri)) if r for a in r.assets}
    for asset in assets:
        own = [r for r in by_asset.get(asset, []) if r.iri not in changed]
        own += [risks[iri] for iri in sorted(changed) if iri in risks and asset in risks[iri].assets and risks[iri].scored]
        if own:
            by_asset[asset] = sorted(own, key=lambda r: r.iri)
        else:
            by_asset.pop(asset, None)
    return by_asset


#: Predicates and classes of the risk criteria and matrices: a change to them can move every
#: score, so the model is built again.
SETTINGS_PREDICATES = {
    AIMS + p
    for p in (
        "usesMatrix",
        "riskAppetite",
        "propagationThreshold",
        "defaultCouplingStrength",
        "hasCell",
        "cellLikelihood",
        "cellSeverity",
        "cellRiskLevel",
        "rank",
    )
}
SETTINGS_TYPES = {AIMS + c for c in ("RiskCriteria", "RiskMatrix", "RiskMatrixCell")}
#: A change to a qualified dependency changes the edge between its dependent and its target.
QUALIFIED_PREDICATES = {
    AIMS + p for p in ("hasDependency", "dependencyTarget", "dependencyType", "couplingStrength", "isCritical")
}
MODEL_GRAPHS_EXCLUDED = {
    Graphs.ONTOLOGY,
    Graphs.CATALOGUE,
    Graphs.FRAMEWORKS,
    Graphs.VOCABULARIES,
    Graphs.ATLAS,
    Graphs.TAXONOMIES,
}


def update_model(store: GraphStore, model: RiskModel, quads: Iterable[ox.Quad]) -> RiskModel | None:
    """The model after a write that removed or added ``quads`` (the store already holds the
    write and its inferences): only the risks and assets the quads name are read again. None
    when the write changes settings, the ontology or catalogue, or has blank nodes: then the
    model is built again (:meth:`RiskModel.build`)."""
    quads = [q for q in quads if graph_of(q) not in Graphs.DERIVED]
    nodes: set[str] = set()
    for q in quads:
        if (
            graph_of(q) in MODEL_GRAPHS_EXCLUDED
            or q.predicate.value in SETTINGS_PREDICATES
            or q.predicate in SCHEMA_PREDICATES
            or (q.predicate.value == RDF_TYPE and q.object in SCHEMA_TYPES)
            or not isinstance(q.subject, ox.NamedNode)  # a blank node (a quad's subject is never a triple term)
            or isinstance(q.object, (ox.BlankNode, ox.Triple))
            or (q.predicate.value == RDF_TYPE and q.object.value in SETTINGS_TYPES)
        ):
            return None
        nodes.add(q.subject.value)
        if isinstance(q.object, ox.NamedNode) and q.predicate.value != RDF_TYPE:
            nodes.add(q.object.value)
    # Each node's own statements, read once: at an external store each lookup is a request, and
    # a node's types, controls and kind were six lookups
    statements: dict[str, list[ox.Quad]] = {}

    def about(name: str) -> list[ox.Quad]:
        if name not in statements:
            statements[name] = list(store.quads(ox.NamedNode(name), None, None, None))
        return statements[name]

    def typed(name: str, classes: Collection[str]) -> bool:
        return any(q.predicate == TYPE and isinstance(q.object, ox.NamedNode) and q.object.value in classes for q in about(name))

    if any(typed(n, SETTINGS_TYPES) for n in nodes):
        return None
    nodes |= _qualified_ends(store, quads)
    controlled: dict[str, set[str]] = {}
    for risk in model.risks.values():
        for control in risk.controls:
            controlled.setdefault(control.iri, set()).add(risk.iri)
    reread = {n for n in nodes if n in model.risks} | {r for n in nodes for r in controlled.get(n, ())}
    controls = (AIMS + "mitigates", AIMS + "detects")
    reread |= {
        q.object.value for n in nodes for q in about(n) if q.predicate.value in controls and isinstance(q.object, ox.NamedNode)
    }
    reread |= {n for n in nodes if typed(n, {_RISK.value})}
    risks = dict(model.risks)
    touched: set[str] = set()
    for iri in reread:
        old, new = model.risks.get(iri), load_risk(store, model.criteria, iri)
        if new == old and (old is None or (new is not None and old.assets == new.assets)):
            continue
        touched |= {a for r in (old, new) if r for a in r.assets}
        if new is None:
            del risks[iri]
        else:
            risks[iri] = new
    deps = model.deps.copy()
    touched |= deps.reload(store, nodes)
    return model.updated(risks, deps, touched)


def _qualified_ends(store: GraphStore, quads: list[ox.Quad]) -> set[str]:
    """The dependents and targets of the qualified dependencies the quads change (before and
    after the change)."""
    has, target = ox.NamedNode(AIMS + "hasDependency"), ox.NamedNode(AIMS + "dependencyTarget")
    changed = {q.object if q.predicate == has else q.subject for q in quads if q.predicate.value in QUALIFIED_PREDICATES}
    ends: set[str | None] = set()
    for node in changed:
        if not isinstance(node, ox.NamedNode):  # a literal names no qualified dependency
            continue
        dependents = [
            *store.quads(None, has, node, None),
            *(q for q in quads if q.predicate == has and q.object == node),
        ]
        targets = [
            *store.quads(node, target, None, None),
            *(q for q in quads if q.predicate == target and q.subject == node),
        ]
        ends |= {iri_of(q.subject) for q in dependents} | {iri_of(q.object) for q in targets}
    return {end for end in ends if end is not None}


def analysis_changes(old: RiskModel, new: RiskModel) -> tuple[set[ox.Quad], set[ox.Quad]]:
    """The quads to remove from and add to the analysis graph of ``old`` to make it ``new``'s,
    from the parts that differ (parts :meth:`RiskModel.updated` kept are the same objects)."""
    before: set[ox.Quad] = set()
    after: set[ox.Quad] = set()
    for iri in old.risks.keys() | new.risks.keys():
        a, b = old.risks.get(iri), new.risks.get(iri)
        if a is not b:
            before.update(_risk_quads(old, a) if a else ())
            after.update(_risk_quads(new, b) if b else ())
    old_items = {id(i): i for i in old.propagation.all()}
    new_items = {id(i): i for i in new.propagation.all()}
    # Two items can share an IRI (a risk of two assets reaching one dependent): compare all the
    # items of every IRI that changed, not the changed items alone.
    changed = {old_items[k].iri for k in old_items.keys() - new_items.keys()}
    changed |= {new_items[k].iri for k in new_items.keys() - old_items.keys()}
    before.update(q for i in old_items.values() if i.iri in changed for q in _inherited_quads(old, i))
    after.update(q for i in new_items.values() if i.iri in changed for q in _inherited_quads(new, i))
    for asset in old.exposures.keys() | new.exposures.keys():
        was, now = old.exposures.get(asset), new.exposures.get(asset)
        if was is not now:
            before.update(_exposure_quads(asset, was) if was else ())
            after.update(_exposure_quads(asset, now) if now else ())
    if old.cycles != new.cycles:
        before.update(q for members in old.cycles for q in _cycle_quads(members))
        after.update(q for members in new.cycles for q in _cycle_quads(members))
    return before - after, after - before


def write_analysis_changes(store: GraphStore, old: RiskModel, new: RiskModel, generation: int) -> int | None:
    """Bring an analysis graph that holds ``old`` up to ``new`` and stamp it current; returns the
    store generation after the write, or None (nothing written) when a write happened since
    ``generation``: ``new`` may have read half of it."""
    remove, add = analysis_changes(old, new)
    with store.write_lock():
        if store.generation != generation:
            return None
        graph = ox.NamedNode(Graphs.ANALYSIS)
        stamps = list(store.quads(graph, GENERATED_AT, None, graph))
        store.replace_quads(remove=[*stamps, *remove], add=add)
        store.mark_current(Graphs.ANALYSIS)
    return generation + 1  # this write's own (a write after it must not get this model)


@dataclass(frozen=True)
class Snapshot:
    """What analyses of one store generation share: the risk model, memoised lookups, and what
    pages derive from them (sorted lists: :meth:`kept`)."""

    model: RiskModel
    record: Record
    _kept: dict = field(default_factory=dict, compare=False, repr=False)

    def kept(self, name: object, make):
        """``make()``, computed once for this snapshot (two requests racing may both compute it)."""
        if name not in self._kept:
            self._kept[name] = make()
        return self._kept[name]


class ModelCache:
    """One :class:`Snapshot` per store generation, built on first use (thread-safe)."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._snapshot: tuple[int, Snapshot] | None = None
        self._failure: tuple[int, str] | None = None  # (generation, why) of a build that failed

    def get(self) -> Snapshot:
        """The current generation's snapshot. When the record cannot be modelled (risk criteria
        the model cannot use; the refresher reports it on /api/health), the last snapshot built
        serves on, so that pages degrade rather than fail; with none, StoreUnavailable (503).
        A failed build is not retried until the store changes."""
        with self._lock:
            generation = self.store.generation
            fresh = self._snapshot is not None and self._snapshot[0] == generation
            if not fresh and (self._failure is None or self._failure[0] != generation):
                try:
                    saved = saved_model(self.store) if self.store.unchanged_since_start() else None
                    model = saved or RiskModel.build(self.store)
                    self._snapshot = (generation, Snapshot(model, Record(self.store)))
                except Exception as exc:
                    log.error("the risk model cannot be built; serving the last one built", exc_info=exc)
                    self._failure = (generation, f"{type(exc).__name__}: {exc}")
            if self._snapshot is None:
                assert self._failure is not None  # no snapshot: this generation's build failed
                raise StoreUnavailable(f"the risk model cannot be built from the record ({self._failure[1]}); see /api/health")
            return self._snapshot[1]

    def seed(self, model: RiskModel, generation: int | None = None) -> None:
        """Use a model just built or updated for the current generation: at start-up, or when
        the store is still at the ``generation`` the model was made for."""
        with self._lock:
            if generation is None or generation == self.store.generation:
                self._snapshot = (self.store.generation, Snapshot(model, Record(self.store)))


MODEL_FILE = "risk-model.pickle"


def save_model(store: GraphStore, model: RiskModel, generation: int) -> None:
    """Save ``model`` beside the store with the analysis graph's stamp, if the store is still at
    ``generation`` (the model's) and the graph current: a restart then starts from it instead of
    building it again (15 s at 10,000 systems). A later refresh changes the stamp, so a copy
    that was overtaken is never used."""
    path = store.cache_file(MODEL_FILE)
    if path is None:
        return
    with store.between_writes() as now:
        stamp = store.stamp(Graphs.ANALYSIS) if now == generation else None
    if stamp is not None:
        store.save_cache(path, (stamp, model))


def saved_model(store: GraphStore) -> RiskModel | None:
    """The saved model of the analysis graph as it is, if there is one."""
    path = store.cache_file(MODEL_FILE)
    stamp = store.stamp(Graphs.ANALYSIS) if path is not None else None
    if path is None or stamp is None:
        return None
    saved = store.load_cache(path)
    if saved is None:
        return None
    assert isinstance(saved, tuple)  # (stamp, model), as save_model wrote it
    return saved[1] if saved[0] == stamp else None


@overload
def refresh_analysis(store: GraphStore, generation: None = None) -> RiskModel: ...
@overload
def refresh_analysis(store: GraphStore, generation: int | None) -> RiskModel | None: ...
def refresh_analysis(store: GraphStore, generation: int | None = None) -> RiskModel | None:
    """Recompute scores and propagation and bring the analysis graph up to date with them.

    Only the difference is written (removing triples from the on-disk store costs about 30 us
    each), unless most of the graph changed. The graph's ``prov:generatedAtTime`` stamp goes
    first and comes back last, so an interrupted refresh is redone at the next start. With
    ``generation`` (the store's, read before the call), nothing is written and None returned
    when a write happened meanwhile: the model may have read half of it.
    """
    model = RiskModel.build(store)
    graph = ox.NamedNode(Graphs.ANALYSIS)
    with store.write_lock():
        if generation is not None and store.generation != generation:
            return None
        wanted = set(analysis_quads(model))
        current = set(store.quads(None, None, None, graph))
        stamps = {q for q in current if q.subject == graph and q.predicate.value == PROV_GENERATED_AT}
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
    for risk in sorted(model.risks.values(), key=lambda r: r.iri):
        yield from _risk_quads(model, risk)
    for item in model.propagation.all():
        yield from _inherited_quads(model, item)
    for asset, exposure in sorted(model.exposures.items()):
        yield from _exposure_quads(asset, exposure)
    for members in model.cycles:
        yield from _cycle_quads(members)


def _quad(s: str, p: str, o: ox.Literal | str) -> ox.Quad:
    return ox.Quad(ox.NamedNode(s), ox.NamedNode(p), o if isinstance(o, ox.Literal) else ox.NamedNode(o), _ANALYSIS)


def _risk_quads(model: RiskModel, risk: Risk) -> list[ox.Quad]:
    if not risk.scored:
        return []
    # scoring fills in the levels and the residual ranks together
    assert risk.inherent is not None and risk.residual is not None
    assert risk.residual_likelihood is not None and risk.residual_severity is not None
    matrix = model.criteria.matrix
    return [
        _quad(risk.iri, AIMS + "inherentScore", _decimal(risk.inherent_score)),
        _quad(risk.iri, AIMS + "computedRiskLevel", risk.inherent.iri),
        _quad(risk.iri, AIMS + "residualScore", _decimal(risk.residual_score)),
        _quad(risk.iri, AIMS + "computedResidualRiskLevel", risk.residual.iri),
        _quad(risk.iri, AIMS + "residualLikelihood", matrix.likelihood_iri(risk.residual_likelihood)),
        _quad(risk.iri, AIMS + "residualSeverity", matrix.severity_iri(risk.residual_severity)),
        _quad(risk.iri, AIMS + "exceedsAppetite", _bool(model.criteria.exceeds(risk.residual))),
    ]


def _inherited_quads(model: RiskModel, item: InheritedRisk) -> list[ox.Quad]:
    matrix, iri = model.criteria.matrix, item.iri
    quads = [
        _quad(iri, RDF_TYPE, AIMS + "InheritedRisk"),
        _quad(item.asset, AIMS + "hasInheritedRisk", iri),
        _quad(iri, AIMS + "sourceRisk", item.source_risk),
        _quad(iri, PROV + "wasDerivedFrom", item.source_risk),
        _quad(iri, AIMS + "sourceAsset", item.source_asset),
        _quad(iri, AIMS + "inherentScore", _decimal(item.inherent_score)),
        _quad(iri, AIMS + "computedRiskLevel", matrix.level_for_score(item.inherent_score).iri),
        _quad(iri, AIMS + "residualScore", _decimal(item.residual_score)),
        _quad(iri, AIMS + "computedResidualRiskLevel", matrix.level_for_score(item.residual_score).iri),
        _quad(iri, AIMS + "distance", ox.Literal(str(item.distance), datatype=ox.NamedNode(XSD + "integer"))),
    ]
    for path in item.paths:
        quads.append(_quad(iri, AIMS + "explanationPath", ox.Literal(path.text())))
        quads += [_quad(iri, AIMS + "viaAsset", via) for via in path.assets()[1:-1]]
    return quads


def _exposure_quads(asset: str, exposure: Exposure) -> list[ox.Quad]:
    return [
        _quad(asset, AIMS + "exposureScore", _decimal(exposure.score)),
        _quad(asset, AIMS + "highestRiskLevel", exposure.level.iri),
        _quad(asset, AIMS + "highestInherentRiskLevel", exposure.inherent_level.iri),
        _quad(asset, AIMS + "exceedsAppetite", _bool(exposure.exceeds_appetite)),
    ]


def _cycle_quads(members: list[str]) -> list[ox.Quad]:
    cycle = f"{ANALYSIS_BASE}cycle/" + hashlib.sha1(" ".join(members).encode()).hexdigest()[:20]
    return [_quad(cycle, RDF_TYPE, AIMS + "DependencyCycle"), *(_quad(cycle, AIMS + "cycleMember", m) for m in members)]


def _decimal(value: float) -> ox.Literal:
    """Four decimals, written the way the store keeps them ("0.448", "1"), so that an unchanged
    score compares equal to the stored one."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return ox.Literal("0" if text in ("", "-0") else text, datatype=ox.NamedNode(XSD + "decimal"))


def _bool(value: bool) -> ox.Literal:
    return ox.Literal("true" if value else "false", datatype=ox.NamedNode(XSD_BOOLEAN))
