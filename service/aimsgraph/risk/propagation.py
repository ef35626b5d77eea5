"""Risk propagation: the dependency graph, the propagation rules and their explanation paths.

The graph is read with SPARQL (typed edges are the sub-properties of ``aims:dependsOn`` in the
ontology; qualified ``aims:Dependency`` nodes add coupling and criticality) into a networkx
``DiGraph`` whose edges point the way risk flows: from the dependency to the dependent.

Rules (all factors are numbers from 0 to 1):

* **Edge factor.** A qualified dependency with ``aims:isCritical true`` passes risk on without
  attenuation (factor 1). Otherwise its ``aims:couplingStrength`` applies; without one, the
  ``aims:defaultCouplingStrength`` of the edge's type (usesModel 0.8, trainedOn 0.7, ...; see
  the ontology; an organisation's own value in its data wins). Several typed edges between the
  same two assets count once, with the strongest factor.
* **Noisy-OR.** Each edge passes a source's risk on with probability f (its factor). When the
  risk arrives at an asset through several edges, the chance that at least one passes it on
  is t = 1 - (1 - f1 x t1)(1 - f2 x t2)..., with t the same transmission at each upstream
  asset (1 at the source). The inherited inherent and residual scores are the source risk's
  scores times t, so an inherited risk never exceeds its source however many paths there are.
* **Threshold.** A share whose inherent score is below the risk criteria's
  ``aims:propagationThreshold`` (default 0.1) is immaterial: it is neither recorded nor passed on.
* **Cycles.** Risk never flows back into an asset it has already passed through: for each
  source asset the reachable assets are searched depth-first in IRI order and edges that close a
  cycle are not followed. The result is deterministic; the cycles (strongly connected
  components) are reported.
* **Explanations.** Every inherited risk keeps its distance (shortest path) and up to
  ``MAX_PATHS`` strongest paths, written from the dependent back to the source.

Risks of an asset roll up by maximum, not by noisy-OR: an asset's exposure is the highest
residual score among its own risks and the risks it inherits, because adding up many unrelated
moderate risks would rate every well-documented system Critical.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import networkx as nx
import pyoxigraph as ox

from aimsgraph.namespaces import AIMS, ANALYSIS_BASE, TYPE, Graphs, sparql_prefixes
from aimsgraph.risk.scoring import Criteria, Level, Risk
from aimsgraph.store import GraphStore
from aimsgraph.store.record import iri_of, local_name, number, pairs

MAX_PATHS = 3
ASSET_KINDS = ("AISystem", "Model", "Dataset", "InfrastructureService", "Supplier")

#: The typed dependency properties (the ontology's, and any an organisation declares).
_EDGE_PROPERTIES = (
    sparql_prefixes("aims", "rdfs") + """SELECT DISTINCT ?property WHERE { ?property rdfs:subPropertyOf+ aims:dependsOn }"""
)

#: Direct dependsOn edges as asserted; the inferred graph only restates typed or qualified ones.
_ASSERTED_DEPENDS_ON = f"""SELECT ?s ?o WHERE {{
  GRAPH ?g {{ ?s <{AIMS}dependsOn> ?o }} FILTER(?g != <{Graphs.INFERRED}>)
}}"""

_DEFAULT_COUPLINGS = (
    sparql_prefixes("aims")
    + """SELECT ?property ?value ?graph WHERE { GRAPH ?graph { ?property aims:defaultCouplingStrength ?value } }"""
)

_QUALIFIED = (
    sparql_prefixes("aims")
    + """SELECT ?dependent ?dependency ?type ?coupling ?critical WHERE {
  ?dependent aims:hasDependency ?node . ?node aims:dependencyTarget ?dependency .
  OPTIONAL { ?node aims:dependencyType ?type }
  OPTIONAL { ?node aims:couplingStrength ?coupling }
  OPTIONAL { ?node aims:isCritical ?critical }
}"""
)

_ASSETS = "SELECT ?asset WHERE { ?asset a <%s> }"
_INFERRED = ox.NamedNode(Graphs.INFERRED)


@dataclass
class DependencyGraph:
    """Assets and the edges risk flows along (dependency -> dependent)."""

    graph: nx.DiGraph = field(default_factory=nx.DiGraph)
    kinds: dict[str, str] = field(default_factory=dict)  # asset -> AISystem, Model, ...
    defaults: dict[str, float] = field(default_factory=dict)  # default coupling per edge type
    _shared: set[str] = field(default_factory=set, repr=False)  # adjacency shared with the original

    @classmethod
    def from_store(cls, store: GraphStore) -> DependencyGraph:
        defaults = _default_couplings(store)
        types: dict[tuple[str, str], set[str]] = defaultdict(set)
        # one property at a time: a join over the union of graphs costs several times more on disk
        for prop in sorted(_edge_properties(store)):
            for dependent, term in pairs(store, prop):
                if dependency := iri_of(term):
                    types[(dependency, dependent)].add(prop)
        for row in store.query(_ASSERTED_DEPENDS_ON):
            if (asserted_dependent := iri_of(row[0])) and (asserted_dependency := iri_of(row[1])):
                types[(asserted_dependency, asserted_dependent)].add(AIMS + "dependsOn")
        qualified = _qualified(store)
        for key in qualified:
            types.setdefault(key, set())
        deps = cls(defaults=defaults)
        deps._add_edges(types, qualified)
        for kind in ASSET_KINDS:  # one class at a time: cheaper than a VALUES join on disk
            for row in store.query(_ASSETS % (AIMS + kind)):
                if asset := iri_of(row["asset"]):
                    deps.kinds.setdefault(asset, kind)
        return deps

    def reload(self, store: GraphStore, nodes: set[str]) -> set[str]:
        """Read the edges and kinds of ``nodes`` again, as :meth:`from_store` reads them (after
        a write touched them; index lookups, not scans). Returns the assets whose edges may have
        changed: ``nodes`` and their old and new neighbours."""
        edge_props = _edge_properties(store)
        qualified = _qualified(store)
        types: dict[tuple[str, str], set[str]] = defaultdict(set)
        # the classes are read with the edges: at an external store a lookup a class is a request
        classes: dict[str, set[str]] = defaultdict(set)
        for name in nodes:
            node = ox.NamedNode(name)
            for q in store.quads(node, None, None, None):
                if q.predicate == TYPE and isinstance(q.object, ox.NamedNode):
                    classes[name].add(q.object.value)
                if isinstance(q.object, ox.NamedNode) and _is_edge(q, edge_props):
                    types[(q.object.value, name)].add(q.predicate.value)
            for q in store.quads(None, None, node, None):
                if isinstance(q.subject, ox.NamedNode) and _is_edge(q, edge_props):
                    types[(name, q.subject.value)].add(q.predicate.value)
        for key in qualified:
            if nodes & set(key):
                types.setdefault(key, set())
        touched = set(nodes) | {n for key in types for n in key}
        self.kinds = dict(self.kinds)  # shared with the graph this one was copied from
        for name in nodes:
            if name in self.graph:
                touched |= set(self.graph.pred[name]) | set(self.graph.succ[name])
                for dependency in list(self.graph.pred[name]):
                    self.remove_edge(name, dependency)
                for dependent in list(self.graph.succ[name]):
                    self.remove_edge(dependent, name)
            self.kinds.pop(name, None)
            kind = next((kind for kind in ASSET_KINDS if AIMS + kind in classes[name]), None)
            if kind is not None:
                self.kinds[name] = kind
        self._add_edges(types, qualified)
        for name in touched:  # an asset without edges is not in the graph (as from_store reads it)
            if name in self.graph and not self.graph.degree(name):
                self.remove_node(name)
        return touched

    def _add_edges(self, types: dict[tuple[str, str], set[str]], qualified: dict) -> None:
        for key in sorted(types):
            edge_types = types.get(key, set())
            named = sorted(edge_types - {AIMS + "dependsOn"}) or sorted(edge_types) or [AIMS + "dependsOn"]
            factor, critical = _edge_factor(named, qualified.get(key, []), self.defaults)
            self.add_edge(key[1], key[0], named, factor, critical)

    def add_edge(self, dependent: str, dependency: str, types: list[str], factor: float, critical: bool) -> None:
        """Record that ``dependent`` depends on ``dependency`` (risk flows the other way)."""
        self._own(dependency, dependent)
        if self.graph.has_edge(dependency, dependent):  # its data dict may be shared with the original
            self.graph.remove_edge(dependency, dependent)
        self.graph.add_edge(dependency, dependent, types=tuple(types), factor=factor, critical=critical)

    def remove_edge(self, dependent: str, dependency: str) -> None:
        self._own(dependency, dependent)
        self.graph.remove_edge(dependency, dependent)

    def remove_node(self, asset: str) -> None:
        self._own(asset, *self.graph.pred[asset], *self.graph.succ[asset])
        self.graph.remove_node(asset)

    def copy(self) -> DependencyGraph:
        """A copy for what-if that shares the adjacency of unchanged nodes with this graph.

        A full networkx copy of a 10k-system graph takes about half a second; this one copies
        three outer dicts, and the mutators above copy a node's own adjacency before changing
        it (copy-on-write). It reaches into networkx's storage (``_node``, ``_succ``, ``_pred``)
        for that reason only.
        """
        graph = nx.DiGraph()
        graph._node = dict(self.graph._node)
        graph._succ = graph._adj = dict(self.graph._succ)
        graph._pred = dict(self.graph._pred)
        for view in ("adj", "succ", "pred"):
            graph.__dict__.pop(view, None)
        clone = DependencyGraph(graph, self.kinds, self.defaults)
        clone._shared = set(graph._succ)
        return clone

    def _own(self, *nodes: str) -> None:
        """Give these nodes adjacency dicts of their own before a change (see :meth:`copy`)."""
        graph = self.graph
        for node in nodes:
            if node in self._shared:
                self._shared.discard(node)
                graph._succ[node] = dict(graph._succ[node])
                graph._pred[node] = dict(graph._pred[node])

    def default_factor(self, edge_type: str) -> float:
        return self.defaults.get(edge_type, self.defaults.get(AIMS + "dependsOn", 1.0))

    def cycles(self) -> list[list[str]]:
        """Groups of assets that depend on each other in a circle, each sorted, in IRI order."""
        found = [sorted(c) for c in nx.strongly_connected_components(self.graph) if len(c) > 1]
        found += [[n] for n, _ in nx.selfloop_edges(self.graph)]
        return sorted(found)


def _edge_properties(store: GraphStore) -> set[str]:
    """The typed dependency properties (named ones: a blank node names no property)."""
    return {iri for row in store.query(_EDGE_PROPERTIES) if (iri := iri_of(row[0]))}


def _qualified(store: GraphStore) -> dict[tuple[str, str], list[tuple[float | None, bool, str | None]]]:
    """Qualified dependencies by (dependency, dependent): coupling, criticality, type. The model
    names its assets by IRI, so a blank-node end is left out; a coupling that is no number
    counts as not recorded."""
    qualified: dict[tuple[str, str], list[tuple[float | None, bool, str | None]]] = defaultdict(list)
    for row in store.query(_QUALIFIED):
        dependency, dependent = iri_of(row["dependency"]), iri_of(row["dependent"])
        if dependency and dependent:
            critical = isinstance(row["critical"], ox.Literal) and row["critical"].value in ("true", "1")
            qualified[(dependency, dependent)].append((number(row["coupling"]), critical, iri_of(row["type"])))
    return qualified


def _is_edge(quad: ox.Quad, edge_props: set[str]) -> bool:
    """A typed dependency (asserted or inferred), or an asserted aims:dependsOn."""
    prop = quad.predicate.value
    return prop in edge_props or (prop == AIMS + "dependsOn" and quad.graph_name != _INFERRED)


def _default_couplings(store: GraphStore) -> dict[str, float]:
    """Default coupling per dependency property; the organisation's own value wins."""
    chosen: dict[str, tuple[bool, float]] = {}
    for row in store.query(_DEFAULT_COUPLINGS):
        prop, value = iri_of(row["property"]), number(row["value"])
        own = iri_of(row["graph"]) != Graphs.ONTOLOGY
        if prop and value is not None and (own or prop not in chosen):
            chosen[prop] = (own, value)
    return {prop: value for prop, (_, value) in chosen.items()}


def _edge_factor(types: list[str], qualified: list, defaults: dict[str, float]) -> tuple[float, bool]:
    fallback = max(defaults.get(t, defaults.get(AIMS + "dependsOn", 1.0)) for t in types)
    if not qualified:
        return fallback, False
    if any(critical for _, critical, _ in qualified):
        return 1.0, True
    factors = [coupling if coupling is not None else defaults.get(typ or "", fallback) for coupling, _, typ in qualified]
    return min(max(max(factors), 0.0), 1.0), False


@dataclass(frozen=True)
class Step:
    """One edge of an explanation path, as risk flows: from ``dependency`` into ``dependent``."""

    dependency: str
    dependent: str
    types: tuple[str, ...]
    factor: float


@dataclass(frozen=True)
class Path:
    steps: tuple[Step, ...]
    strength: float  # product of the factors

    def text(self) -> str:
        """From the dependent back to the source, the way an owner reads 'why'."""
        if not self.steps:
            return ""
        parts = [f"<{self.steps[-1].dependent}>"]
        for step in reversed(self.steps):
            names = "|".join(local_name(t) for t in step.types)
            parts.append(f"-{names}({step.factor:g})-> <{step.dependency}>")
        return " ".join(parts)

    def assets(self) -> list[str]:
        """Assets from the source to the dependent."""
        return [self.steps[0].dependency, *(s.dependent for s in self.steps)] if self.steps else []


@dataclass(frozen=True)
class InheritedRisk:
    """The share of ``source_risk`` (on ``source_asset``) that reaches ``asset``."""

    asset: str
    source_risk: str
    source_asset: str
    inherent_score: float
    residual_score: float
    distance: int
    paths: tuple[Path, ...]

    @property
    def iri(self) -> str:
        digest = hashlib.sha1(f"{self.asset} {self.source_risk}".encode()).hexdigest()[:20]
        return f"{ANALYSIS_BASE}inherited-risk/{digest}"


@dataclass
class Propagation:
    """What propagation found: inherited risks by asset, and the edges it did not follow."""

    inherited: dict[str, list[InheritedRisk]] = field(default_factory=lambda: defaultdict(list))
    cycle_edges: set[tuple[str, str]] = field(default_factory=set)
    #: the assets each source's search reached, immaterial shares included: a change at any of
    #: them can change that source's paths and cycle cuts, so it is propagated again
    reached: dict[str, frozenset[str]] = field(default_factory=dict)

    def add(self, found: Iterable[InheritedRisk]) -> None:
        for item in found:
            self.inherited[item.asset].append(item)

    def all(self) -> Iterator[InheritedRisk]:
        for asset in sorted(self.inherited):
            yield from self.inherited[asset]

    def sources_reaching(self, assets: Iterable[str]) -> set[str]:
        assets = set(assets)
        return {source for source, reached in self.reached.items() if reached & assets}


def risks_by_asset(risks: Iterable[Risk]) -> dict[str, list[Risk]]:
    """Scored risks per asset, each list in IRI order."""
    by_asset: dict[str, list[Risk]] = defaultdict(list)
    for risk in risks:
        if risk.scored:
            for asset in risk.assets:
                by_asset[asset].append(risk)
    for own in by_asset.values():
        own.sort(key=lambda r: r.iri)
    return by_asset


def propagate(
    deps: DependencyGraph, by_asset: dict[str, list[Risk]], threshold: float, sources: Iterable[str] | None = None
) -> Propagation:
    """Propagate every scored risk (``by_asset``: see :func:`risks_by_asset`), or only those on
    ``sources``, to the dependents of its assets."""
    result = Propagation()
    for source in sorted(set(by_asset) if sources is None else set(sources) & set(by_asset)):
        if source in deps.graph:
            result.add(_propagate_from(deps, source, by_asset[source], threshold, result.cycle_edges, result.reached))
    return result


def _propagate_from(
    deps: DependencyGraph,
    source: str,
    risks: list[Risk],
    threshold: float,
    cycle_edges: set[tuple[str, str]],
    reached: dict[str, frozenset[str]],
) -> list[InheritedRisk]:
    graph = deps.graph
    strongest = max(r.inherent_score for r in risks)
    region = _reachable(graph, source, threshold / strongest if strongest else 2.0)
    reached[source] = frozenset(region)
    order, dag_preds = _acyclic_order(graph, source, region, cycle_edges)
    if len(order) < 2:
        return []
    distance = {source: 0}
    paths: dict[str, list[Path]] = {source: [Path((), 1.0)]}
    for node in order[1:]:
        preds = dag_preds[node]
        distance[node] = 1 + min(distance[u] for u in preds)
        candidates = []
        for u in preds:
            data = graph.edges[u, node]
            step = Step(u, node, data["types"], data["factor"])
            candidates += [Path(p.steps + (step,), p.strength * step.factor) for p in paths[u]]
        candidates.sort(key=lambda p: (-p.strength, [s.dependency for s in p.steps]))
        paths[node] = candidates[:MAX_PATHS]
    transmission = {source: 1.0}
    for node in order[1:]:
        miss = 1.0
        for u in dag_preds[node]:
            miss *= 1 - graph.edges[u, node]["factor"] * transmission.get(u, 0.0)
        if strongest * (1 - miss) + 1e-12 >= threshold:  # otherwise immaterial: not passed on
            transmission[node] = 1 - miss
    return [
        InheritedRisk(
            node, risk.iri, source, risk.inherent_score * share, risk.residual_score * share, distance[node], tuple(paths[node])
        )
        for risk in risks
        for node in order[1:]
        if (share := transmission.get(node, 0.0)) and risk.inherent_score * share + 1e-12 >= threshold
    ]


def _reachable(graph: nx.DiGraph, source: str, min_strength: float) -> set[str]:
    """Assets whose strongest path from ``source`` keeps at least ``min_strength`` (max-product Dijkstra)."""
    best = {source: 1.0}
    heap = [(-1.0, source)]
    while heap:
        negative, node = heapq.heappop(heap)
        if -negative < best.get(node, 0.0):
            continue
        for succ, data in graph.succ[node].items():
            strength = -negative * data["factor"]
            if strength + 1e-12 >= min_strength and strength > best.get(succ, 0.0):
                best[succ] = strength
                heapq.heappush(heap, (-strength, succ))
    return set(best)


def _acyclic_order(
    graph: nx.DiGraph, source: str, region: set[str], cycle_edges: set[tuple[str, str]]
) -> tuple[list[str], dict[str, list[str]]]:
    """Depth-first in IRI order from ``source`` over ``region``; drops edges back onto the
    current path (they close a cycle). Returns a topological order and each node's kept
    predecessors."""
    preds: dict[str, list[str]] = defaultdict(list)
    postorder: list[str] = []
    on_path = {source}
    done: set[str] = set()
    stack = [(source, iter(sorted(s for s in graph.succ[source] if s in region)))]
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            on_path.discard(node)
            done.add(node)
            postorder.append(node)
        elif child in on_path:
            cycle_edges.add((node, child))
        else:
            preds[child].append(node)
            if child not in done:
                on_path.add(child)
                stack.append((child, iter(sorted(s for s in graph.succ[child] if s in region))))
    return postorder[::-1], preds


@dataclass(frozen=True)
class Exposure:
    """An asset's highest risk, own or inherited: residual (after controls) and inherent."""

    score: float
    level: Level
    exceeds_appetite: bool
    inherent_score: float
    inherent_level: Level
    high_risk: bool  # before controls, it carries a risk at or above the appetite


def exposures(
    by_asset: dict[str, list[Risk]], result: Propagation, criteria: Criteria, assets: Iterable[str] | None = None
) -> dict[str, Exposure]:
    """Highest residual and inherent risk per asset (own risks by their matrix cell, inherited
    risks by the level of their score)."""
    residual: dict[str, tuple[int, float, Level]] = {}
    inherent: dict[str, tuple[int, float, Level]] = {}

    def offer(best: dict, asset: str, score: float, level: Level) -> None:
        if asset not in best or (level.rank, score) > best[asset][:2]:
            best[asset] = (level.rank, score, level)

    wanted = None if assets is None else set(assets)
    for asset in by_asset if wanted is None else wanted & by_asset.keys():
        for risk in by_asset[asset]:
            assert risk.residual is not None and risk.inherent is not None  # scored (see risks_by_asset)
            offer(residual, asset, risk.residual_score, risk.residual)
            offer(inherent, asset, risk.inherent_score, risk.inherent)
    level_for = criteria.matrix.level_for_score
    for asset in result.inherited if wanted is None else wanted & result.inherited.keys():
        for item in result.inherited[asset]:
            offer(residual, asset, item.residual_score, level_for(item.residual_score))
            offer(inherent, asset, item.inherent_score, level_for(item.inherent_score))
    return {
        asset: Exposure(
            score, level, criteria.exceeds(level), inherent[asset][1], inherent[asset][2], criteria.exceeds(inherent[asset][2])
        )
        for asset, (_, score, level) in residual.items()
    }
