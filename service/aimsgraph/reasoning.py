"""Reasoning: materialising what the ontology implies into the inferred named graph.

Two engines compute the same thing (tests prove it on the demo and on generated records):

* :func:`owlrl_inferences` — the reference: owlrl's OWL 2 RL closure over an rdflib copy of the
  premises. Correct and slow (about 10 s for the demo, minutes for 1k systems).
* :func:`fast_inferences` — the engine the service uses: the OWL 2 RL rules that our ontology
  and alignments use, applied to the premises in memory with semi-naive evaluation:
  cax-sco/cax-eqc (subclass, equivalent class), prp-spo1/prp-eqp (subproperty, equivalent
  property), prp-dom/prp-rng (domain, range), prp-inv (inverses, also of an anonymous inverse
  property as used in alignments.ttl), prp-trp (transitive properties) and prp-spo2 (property
  chains).

Both report *instance-level* inferences: triples about the organisation's record and the
catalogue, not the schema's own closure (``rdfs:subClassOf`` chains between classes, which
SPARQL reaches with property paths), nor OWL-RL's bookkeeping (``owl:sameAs`` of everything
with itself, ``owl:Thing``/``rdfs:Resource`` membership, datatype triples about literals).

Premises are every graph except the derived ones and the published vocabularies
(``Graphs.NOT_PREMISES``). Triples already asserted in a premise graph are not repeated in the
inferred graph, so the union default graph has no duplicates.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timezone

import pyoxigraph as ox

from aimsgraph.namespaces import Graphs
from aimsgraph.store import GraphStore

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
TYPE = ox.NamedNode(RDF + "type")
INFERRED = ox.NamedNode(Graphs.INFERRED)
GENERATED_AT = ox.NamedNode("http://www.w3.org/ns/prov#generatedAtTime")
HAS_VERSION = ox.NamedNode("http://purl.org/dc/terms/hasVersion")
NOT_PREMISES = {ox.NamedNode(g) for g in Graphs.NOT_PREMISES}

#: Classes and properties whose instances are schema, not record: their closure is not reported.
SCHEMA_TYPES = {ox.NamedNode(OWL + c) for c in (
    "Class", "ObjectProperty", "DatatypeProperty", "AnnotationProperty", "TransitiveProperty",
    "SymmetricProperty", "FunctionalProperty", "InverseFunctionalProperty", "Ontology", "Restriction",
)} | {ox.NamedNode(RDFS + "Class"), ox.NamedNode(RDFS + "Datatype"), ox.NamedNode(RDF + "Property")}
UNINFORMATIVE_TYPES = {ox.NamedNode(OWL + "Thing"), ox.NamedNode(RDFS + "Resource"), ox.NamedNode(OWL + "NamedIndividual")}
RESERVED = (RDF, RDFS, OWL, XSD)

Triple = tuple[ox.NamedNode | ox.BlankNode, ox.NamedNode | ox.BlankNode, ox.NamedNode | ox.BlankNode | ox.Literal]


def refresh_inferences(store: GraphStore) -> int:
    """Recompute the inferred graph with the fast engine, writing only the difference.

    Returns its size. The graph carries a digest of its content (``dct:hasVersion``): when the
    result has not changed, nothing is read back or written but a new stamp (reading a large
    inferred graph back from disk costs more than computing it). The ``prov:generatedAtTime``
    stamp is removed first and written last, on its own; a refresh that did not finish leaves
    no stamp, and ``store.is_current`` says so.
    """
    inferred = fast_inferences(premises(store))
    digest = ox.Literal("sha256:" + _digest(inferred))
    stamps = [*store.raw.quads_for_pattern(INFERRED, GENERATED_AT, None, INFERRED),
              *store.raw.quads_for_pattern(INFERRED, HAS_VERSION, None, INFERRED)]
    stamp = ox.Quad(INFERRED, GENERATED_AT, ox.Literal(_now(), datatype=ox.NamedNode(XSD + "dateTime")), INFERRED)
    if ox.Quad(INFERRED, HAS_VERSION, digest, INFERRED) in stamps:
        store.replace_quads(remove=[q for q in stamps if q.predicate == GENERATED_AT], add=[stamp])
        return len(inferred)
    wanted = {ox.Quad(s, p, o, INFERRED) for s, p, o in inferred}
    current = set(store.raw.quads_for_pattern(None, None, None, INFERRED)) - set(stamps)
    store.replace_quads(remove=stamps + list(current - wanted), add=wanted - current)
    store.replace_quads(remove=[], add=[ox.Quad(INFERRED, HAS_VERSION, digest, INFERRED), stamp])  # last, alone
    return len(inferred)


def _digest(triples: set[Triple]) -> str:
    """An order-independent digest of a set of triples (sorted N-Triples lines)."""
    lines = ox.serialize((ox.Triple(*t) for t in triples), format=ox.RdfFormat.N_TRIPLES).splitlines()
    return hashlib.sha256(b"\n".join(sorted(lines))).hexdigest()


def premises(store: GraphStore) -> set[Triple]:
    """The asserted triples reasoning starts from (all graphs but ``Graphs.NOT_PREMISES``)."""
    graphs = [ox.NamedNode(g) for g in store.named_graphs() if ox.NamedNode(g) not in NOT_PREMISES]
    return {(q.subject, q.predicate, q.object) for g in graphs for q in store.raw.quads_for_pattern(None, None, None, g)}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# -- the fast engine ---------------------------------------------------------------------------


class Schema:
    """The axioms the rules use, read from the premises."""

    def __init__(self, triples: set[Triple]) -> None:
        sub_class, sub_prop = defaultdict(set), defaultdict(set)
        self.domains: dict = defaultdict(set)
        self.ranges: dict = defaultdict(set)
        self.inverse: dict = defaultdict(set)
        self.transitive: set = set()
        chain_heads: dict = {}
        lists: dict = {}
        for s, p, o in triples:
            name = p.value
            if name == RDFS + "subClassOf":
                sub_class[s].add(o)
            elif name == OWL + "equivalentClass":
                sub_class[s].add(o)
                sub_class[o].add(s)
            elif name == RDFS + "subPropertyOf":
                sub_prop[s].add(o)
            elif name == OWL + "equivalentProperty":
                sub_prop[s].add(o)
                sub_prop[o].add(s)
            elif name == RDFS + "domain":
                self.domains[s].add(o)
            elif name == RDFS + "range":
                self.ranges[s].add(o)
            elif name == OWL + "inverseOf":
                self.inverse[s].add(o)
                self.inverse[o].add(s)
            elif name == RDF + "type" and o.value == OWL + "TransitiveProperty":
                self.transitive.add(s)
            elif name == OWL + "propertyChainAxiom":
                chain_heads[s] = o
            elif name in (RDF + "first", RDF + "rest"):
                lists.setdefault(s, {})[name] = o
        self.super_classes = _closure(sub_class)
        self.super_properties = _closure(sub_prop)
        self.chains: list[tuple[ox.NamedNode, list]] = [
            (prop, _rdf_list(head, lists)) for prop, head in chain_heads.items()
        ]
        # classes and properties, declared or only mentioned in axioms: their closure is schema
        self.schema_nodes = {s for s, p, o in triples if p == TYPE and o in SCHEMA_TYPES}
        for direct in (sub_class, sub_prop, self.domains, self.ranges, self.inverse):
            self.schema_nodes |= set(direct) | {o for objects in direct.values() for o in objects}


def _closure(direct: dict) -> dict:
    """For each node, every node reachable through ``direct`` (itself excluded)."""
    result = {}
    for start in direct:
        seen, stack = set(), list(direct[start])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(direct.get(node, ()))
        seen.discard(start)
        result[start] = seen
    return result


def _rdf_list(head, lists: dict) -> list:
    items = []
    while head.value != RDF + "nil" and head in lists:
        items.append(lists[head][RDF + "first"])
        head = lists[head][RDF + "rest"]
    return items


def fast_inferences(triples: set[Triple]) -> set[Triple]:
    """The instance-level OWL 2 RL consequences of ``triples`` not already among them.

    Semi-naive: each round applies the rules only to the triples the previous round found.
    Transitive properties are closed separately, by a graph search over their edges, because
    joining each new edge with its neighbours costs far more on long dependency chains.
    """
    schema = Schema(triples)
    known = set(triples)
    forward: dict = defaultdict(lambda: defaultdict(set))  # p -> s -> {o}
    backward: dict = defaultdict(lambda: defaultdict(set))  # p -> o -> {s}
    indexed = schema.transitive | {step for _, chain in schema.chains for step in chain}

    def add(found: Iterable[Triple]) -> list[Triple]:
        new = []
        for triple in found:
            if triple not in known:
                known.add(triple)
                s, p, o = triple
                if p in indexed:
                    forward[p][s].add(o)
                    backward[p][o].add(s)
                new.append(triple)
        return new

    for s, p, o in known:
        if p in indexed:
            forward[p][s].add(o)
            backward[p][o].add(s)
    delta = list(known)
    while delta:
        while delta:
            delta = add(t for s, p, o in delta for t in _consequences(s, p, o, schema, forward, backward))
        delta = add(t for prop in schema.transitive for t in _transitive_closure(prop, forward[prop]))
    return {t for t in known - triples if _reportable(t, schema)}


def _consequences(s, p, o, schema: Schema, forward, backward) -> Iterable[Triple]:
    if p == TYPE:
        for cls in schema.super_classes.get(o, ()):
            yield s, TYPE, cls
        return
    for prop in schema.super_properties.get(p, ()):
        yield s, prop, o
    for cls in schema.domains.get(p, ()):
        yield s, TYPE, cls
    if isinstance(o, ox.Literal):
        return
    for cls in schema.ranges.get(p, ()):
        yield o, TYPE, cls
    for inverse in schema.inverse.get(p, ()):
        yield o, inverse, s
    for prop, chain in schema.chains:
        for position, step in enumerate(chain):
            if step == p:
                for start in _walk(s, chain[:position][::-1], backward):
                    for end in _walk(o, chain[position + 1:], forward):
                        yield start, prop, end


def _transitive_closure(prop, edges: dict) -> Iterable[Triple]:
    """Every (x, prop, z) with a path of prop edges from x to z; a node on a cycle reaches itself."""
    import networkx as nx

    graph = nx.DiGraph((s, o) for s, objects in edges.items() for o in objects)
    condensed = nx.condensation(graph)
    members = {c: condensed.nodes[c]["members"] for c in condensed}
    reach: dict[int, set] = {}
    for component in reversed(list(nx.topological_sort(condensed))):
        below = set()
        for child in condensed.succ[component]:
            below |= members[child] | reach[child]
        cyclic = len(members[component]) > 1 or any(graph.has_edge(n, n) for n in members[component])
        reach[component] = below | (members[component] if cyclic else set())
    for component, nodes in members.items():
        for node in nodes:
            for target in reach[component]:
                yield node, prop, target


def _walk(node, steps: list, index) -> set:
    """Nodes reached from ``node`` following ``steps`` through ``index`` (forward or backward)."""
    frontier = {node}
    for step in steps:
        frontier = {nxt for current in frontier for nxt in index[step].get(current, ())}
    return frontier


def _reportable(triple: Triple, schema: Schema) -> bool:
    """Instance-level, well-formed and informative (see the module docstring)."""
    s, p, o = triple
    if isinstance(s, ox.Literal) or not isinstance(p, ox.NamedNode) or s in schema.schema_nodes:
        return False
    if isinstance(s, ox.NamedNode) and s.value.startswith(RESERVED):
        return False
    if p.value == OWL + "sameAs":
        return False
    return not (p == TYPE and (o in UNINFORMATIVE_TYPES or o in SCHEMA_TYPES))


# -- the reference engine ----------------------------------------------------------------------


def owlrl_inferences(triples: set[Triple]) -> set[Triple]:
    """The same consequences computed by owlrl's OWL 2 RL closure (the reference; slow)."""
    import owlrl
    import rdflib

    data = ox.serialize((ox.Triple(*t) for t in triples), format=ox.RdfFormat.N_TRIPLES)
    graph = rdflib.Graph().parse(data=data, format="nt")
    before = set(graph)
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False).expand(graph)
    schema = Schema(triples)
    found = set()
    for triple in set(graph) - before:
        converted = tuple(_to_ox(term) for term in triple)
        if None not in converted and converted not in triples and _reportable(converted, schema):
            found.add(converted)
    return found


def _to_ox(term):
    import rdflib

    if isinstance(term, rdflib.URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, rdflib.BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, rdflib.Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)) if term.datatype else None)
    return None
