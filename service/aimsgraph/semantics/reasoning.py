"""Reasoning: materialising what the ontology implies into the inferred named graph.

Two engines compute the same thing (tests prove it on the demo and on generated records):

* :func:`owlrl_inferences` — the reference (owlrl, from the ``oracle`` extra): its OWL 2 RL
  closure over an rdflib copy of the premises. Correct and slow (seconds for the demo, minutes
  for 1k systems).
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
from collections.abc import Collection, Iterable
from typing import TypeGuard

import pyoxigraph as ox

from aimsgraph.namespaces import GENERATED_AT, HAS_VERSION, OWL, RDF, RDF_TYPE, RDFS, TYPE, XSD, Graphs
from aimsgraph.store import GraphStore
from aimsgraph.store.record import Term

INFERRED = ox.NamedNode(Graphs.INFERRED)
NOT_PREMISES = {ox.NamedNode(g) for g in Graphs.NOT_PREMISES}

#: Classes and properties whose instances are schema, not record: their closure is not reported.
SCHEMA_TYPES = {
    ox.NamedNode(OWL + c)
    for c in (
        "Class",
        "ObjectProperty",
        "DatatypeProperty",
        "AnnotationProperty",
        "TransitiveProperty",
        "SymmetricProperty",
        "FunctionalProperty",
        "InverseFunctionalProperty",
        "Ontology",
        "Restriction",
    )
} | {ox.NamedNode(RDFS + "Class"), ox.NamedNode(RDFS + "Datatype"), ox.NamedNode(RDF + "Property")}
UNINFORMATIVE_TYPES = {ox.NamedNode(OWL + "Thing"), ox.NamedNode(RDFS + "Resource"), ox.NamedNode(OWL + "NamedIndividual")}
RESERVED = (RDF, RDFS, OWL, XSD)
TRANSITIVE = ox.NamedNode(OWL + "TransitiveProperty")
NIL = ox.NamedNode(RDF + "nil")
#: Terms that are never the subject of a triple (RDF 1.2 allows a triple term only as an
#: object): no rule derives a triple about one, and no lookup asks the store for one.
NOT_SUBJECTS = (ox.Literal, ox.Triple)

#: A triple as the rules derive it: generalised RDF, in which a blank node can be a predicate (an
#: anonymous inverse property). Subjects are typed as pyoxigraph's stubs type a quad's.
Triple = tuple[ox.NamedNode | ox.BlankNode | ox.Triple, ox.NamedNode | ox.BlankNode, Term]
#: A triple that can be stored (its predicate an IRI), as premises are and reported inferences.
StoredTriple = tuple[ox.NamedNode | ox.BlankNode | ox.Triple, ox.NamedNode, Term]


def refresh_inferences(store: GraphStore) -> int:
    """Recompute the inferred graph with the fast engine, writing only the difference.

    Returns its size. The graph carries a digest of its content (``dct:hasVersion``): when the
    result has not changed, nothing is read back or written but a new stamp (reading a large
    inferred graph back from disk costs more than computing it). The ``prov:generatedAtTime``
    stamp is removed first and written last, on its own; a refresh that did not finish leaves
    no stamp, and ``store.is_current`` says so.
    """
    store.memo.pop(SCHEMA_MEMO, None)  # the schema may have changed: read anew at the next update
    inferred = fast_inferences(premises(store))
    digest = ox.Literal("sha256:" + _digest(inferred))
    stamps = _stamps(store)
    if ox.Quad(INFERRED, HAS_VERSION, digest, INFERRED) in stamps:
        store.mark_current(Graphs.INFERRED)
        return len(inferred)
    wanted = {ox.Quad(s, p, o, INFERRED) for s, p, o in inferred}
    current = set(store.quads(None, None, None, INFERRED)) - set(stamps)
    store.replace_quads(remove=stamps + list(current - wanted), add=wanted - current)
    store.mark_current(Graphs.INFERRED, ox.Quad(INFERRED, HAS_VERSION, digest, INFERRED))
    return len(inferred)


def _stamps(store: GraphStore) -> list[ox.Quad]:
    """The inferred graph's freshness stamp and content digest."""
    return [
        *store.quads(INFERRED, GENERATED_AT, None, INFERRED),
        *store.quads(INFERRED, HAS_VERSION, None, INFERRED),
    ]


def _digest(triples: set[StoredTriple]) -> str:
    """An order-independent digest of a set of triples (sorted N-Triples lines)."""
    data = ox.serialize((ox.Triple(*t) for t in triples), format=ox.RdfFormat.N_TRIPLES)
    assert data is not None  # given no output, pyoxigraph returns the bytes
    lines = data.splitlines()
    return hashlib.sha256(b"\n".join(sorted(lines))).hexdigest()


def premises(store: GraphStore) -> set[StoredTriple]:
    """The asserted triples reasoning starts from (all graphs but ``Graphs.NOT_PREMISES``)."""
    return {(q.subject, q.predicate, q.object) for g in premise_graphs(store) for q in store.quads(None, None, None, g)}


def premise_graphs(store: GraphStore) -> list[ox.NamedNode]:
    """The named graphs holding asserted triples: all but ``Graphs.NOT_PREMISES``."""
    return [ox.NamedNode(g) for g in store.named_graphs() if ox.NamedNode(g) not in NOT_PREMISES]


# -- the fast engine ---------------------------------------------------------------------------


class Schema:
    """The axioms the rules use, read from the premises."""

    def __init__(self, triples: Collection[Triple]) -> None:
        sub_class: dict = defaultdict(set)
        sub_prop: dict = defaultdict(set)
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
            elif name == RDF_TYPE and o == TRANSITIVE:
                self.transitive.add(s)
            elif name == OWL + "propertyChainAxiom":
                chain_heads[s] = o
            elif name in (RDF + "first", RDF + "rest"):
                lists.setdefault(s, {})[name] = o
        self.super_classes = _closure(sub_class)
        self.super_properties = _closure(sub_prop)
        # which properties type their subject (or object) as a class, directly or through a
        # super-property, a domain (range) and super-classes: for checking types incrementally
        self.implying_domain: dict = defaultdict(set)
        self.implying_range: dict = defaultdict(set)
        for prop in {*self.domains, *self.ranges, *sub_prop}:
            for declared, implied in ((self.domains, self.implying_domain), (self.ranges, self.implying_range)):
                for holder in {prop, *self.super_properties.get(prop, ())}:
                    for cls in declared.get(holder, ()):
                        for implied_class in {cls, *self.super_classes.get(cls, ())}:
                            implied[implied_class].add(prop)
        self.chains: list[tuple[ox.NamedNode, list]] = [(prop, _rdf_list(head, lists)) for prop, head in chain_heads.items()]
        # classes and properties, declared or only mentioned in axioms: their closure is schema
        self.schema_nodes: set[Term] = {s for s, p, o in triples if p == TYPE and o in SCHEMA_TYPES}
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
    """The members of an RDF list, up to where it is not one (no rdf:first, or a loop): an
    editor can write any of these into the premises."""
    items, seen = [], set()
    while head != NIL and RDF + "first" in lists.get(head, {}) and head not in seen:
        seen.add(head)
        items.append(lists[head][RDF + "first"])
        head = lists[head].get(RDF + "rest", NIL)
    return items


def fast_inferences(triples: set[StoredTriple]) -> set[StoredTriple]:
    """The instance-level OWL 2 RL consequences of ``triples`` not already among them.

    Semi-naive: each round applies the rules only to the triples the previous round found.
    Transitive properties are closed separately, by a graph search over their edges, because
    joining each new edge with its neighbours costs far more on long dependency chains.
    """
    schema = Schema(triples)
    known: set[Triple] = set(triples)
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
    if isinstance(o, NOT_SUBJECTS):
        return
    for cls in schema.ranges.get(p, ()):
        yield o, TYPE, cls
    for inverse in schema.inverse.get(p, ()):
        yield o, inverse, s
    for prop, chain in schema.chains:
        for position, step in enumerate(chain):
            if step == p:
                for start in _walk(s, chain[:position][::-1], backward):
                    for end in _walk(o, chain[position + 1 :], forward):
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


def _reportable(triple: Triple, schema: Schema) -> TypeGuard[StoredTriple]:
    """Instance-level, well-formed and informative (see the module docstring)."""
    s, p, o = triple
    if isinstance(s, NOT_SUBJECTS) or not isinstance(p, ox.NamedNode) or s in schema.schema_nodes:
        return False
    if isinstance(s, ox.NamedNode) and s.value.startswith(RESERVED):
        return False
    if p.value == OWL + "sameAs":
        return False
    return not (p == TYPE and (o in UNINFORMATIVE_TYPES or o in SCHEMA_TYPES))


# -- the reference engine ----------------------------------------------------------------------


def owlrl_inferences(triples: set[StoredTriple]) -> set[StoredTriple]:
    """The same consequences computed by owlrl's OWL 2 RL closure (the reference; slow)."""
    import owlrl
    import rdflib

    data = ox.serialize((ox.Triple(*t) for t in triples), format=ox.RdfFormat.N_TRIPLES)
    assert data is not None  # given no output, pyoxigraph returns the bytes
    # rdflib's store without contexts: owlrl reads and adds triples only, and this store does
    # that a fifth faster than the default one (8.7 s against 10.7 s for the demo, same closure)
    graph = rdflib.Graph(store="SimpleMemory").parse(data=data, format="nt")
    before = set(graph)
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False).expand(graph)
    schema = Schema(triples)
    found: set[StoredTriple] = set()
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


# -- incremental maintenance -------------------------------------------------------------------

SCHEMA_PREDICATES = {
    ox.NamedNode(iri)
    for iri in (
        RDFS + "subClassOf",
        RDFS + "subPropertyOf",
        RDFS + "domain",
        RDFS + "range",
        OWL + "inverseOf",
        OWL + "equivalentClass",
        OWL + "equivalentProperty",
        OWL + "propertyChainAxiom",
        RDF + "first",
        RDF + "rest",
    )
}


class _View:
    """Premises and inferences as stored, with changes not yet written (for lookups)."""

    def __init__(self, store: GraphStore, plus=(), minus=()) -> None:
        self.store = store
        self.graphs = {*premise_graphs(store), INFERRED}
        self.minus = set(minus)
        self.plus: set[Triple] = set()
        self._by_sp: dict = defaultdict(set)
        self._by_po: dict = defaultdict(set)
        self._by_node: dict = defaultdict(set)
        self.include(plus)

    def include(self, triples: Iterable[Triple]) -> None:
        for triple in triples:
            if triple not in self.plus:
                s, p, o = triple
                self.plus.add(triple)
                self._by_sp[s, p].add(o)
                self._by_po[p, o].add(s)
                self._by_node[s].add(triple)
                self._by_node[o].add(triple)

    def _stored(self, s, p, o):
        if isinstance(p, ox.BlankNode) or isinstance(s, NOT_SUBJECTS):  # never stored (an anonymous inverse)
            return iter(())
        return ((q.subject, q.predicate, q.object) for q in self.store.quads(s, p, o, None) if q.graph_name in self.graphs)

    def contains(self, triple: Triple) -> bool:
        if triple in self.plus:
            return True
        return triple not in self.minus and any(True for _ in self._stored(*triple))

    def exists(self, s, p, o) -> bool:
        """Some triple matches (s, p, o), with s or o None for any (not both)."""
        if any(t not in self.minus for t in self._stored(s, p, o)):
            return True
        if s is None:
            return bool(self._by_po.get((p, o)))
        return o in self._by_sp.get((s, p), ()) if o is not None else bool(self._by_sp.get((s, p)))

    def objects(self, s, p) -> set:
        return {t[2] for t in self._stored(s, p, None) if t not in self.minus} | self._by_sp.get((s, p), set())

    def subjects(self, p, o) -> set:
        return {t[0] for t in self._stored(None, p, o) if t not in self.minus} | self._by_po.get((p, o), set())

    def touching(self, node) -> set:
        found = {t for t in (*self._stored(node, None, None), *self._stored(None, None, node)) if t not in self.minus}
        return found | self._by_node.get(node, set())


class _Index:
    """``index[p].get(node)`` over a view, as ``_consequences`` expects of its dict indexes."""

    def __init__(self, view: _View, forward: bool, prop=None) -> None:
        self.view, self.forward, self.prop = view, forward, prop

    def __getitem__(self, prop) -> _Index:
        return _Index(self.view, self.forward, prop)

    def get(self, node, default=()) -> set:
        return self.view.objects(node, self.prop) if self.forward else self.view.subjects(self.prop, node)


def _step(triple: Triple, schema: Schema, view: _View, transitive: bool = True) -> Iterable[Triple]:
    """One rule application to ``triple`` against the view (transitivity by one join)."""
    s, p, o = triple
    if isinstance(s, NOT_SUBJECTS):
        return
    yield from _consequences(s, p, o, schema, _Index(view, True), _Index(view, False))
    if transitive and p in schema.transitive and not isinstance(o, NOT_SUBJECTS):
        for after in view.objects(o, p):
            yield s, p, after
        for before in view.subjects(p, s):
            yield before, p, o


def update_inferences(store: GraphStore, added: Iterable[Triple], removed: Iterable[Triple]) -> tuple[int, int]:
    """Bring the inferred graph up to date after asserted triples were added and removed.

    Call it after the premise graphs were changed, when the inferred graph was current before
    the change (otherwise use :func:`refresh_inferences`). Additions run semi-naive from the new
    triples; removals use delete-and-rederive (remove everything derivable from the removed
    triples, then put back what is still derivable from the triples touching its subject:
    every rule has a premise that does). Changes to the schema itself (subclass, domain, chain
    axioms ...) fall back to a full :func:`refresh_inferences`. Returns (removed, added) counts.
    """
    added, removed = set(added), set(removed)
    if any(t[1] in SCHEMA_PREDICATES or (t[1] == TYPE and t[2] in SCHEMA_TYPES) for t in added | removed):
        refresh_inferences(store)
        return -1, -1  # recomputed in full
    schema = _schema(store)

    def inferred(triple: Triple) -> TypeGuard[StoredTriple]:
        s, p, o = triple
        return (
            isinstance(p, ox.NamedNode) and not isinstance(s, NOT_SUBJECTS) and any(True for _ in store.quads(s, p, o, INFERRED))
        )

    was_inferred = {t for t in added if inferred(t)}  # now asserted: leaves the inferred graph
    # 1. overdelete, in the old state (the removed triples still there, the new ones not yet)
    old = _View(store, plus=removed, minus=added - was_inferred)
    over: set[Triple] = set()
    delta = list(removed)
    while delta:
        candidates = {c for t in delta for c in _step(t, schema, old)} - over - removed - added
        delta = [c for c in candidates if not _reportable(c, schema) or inferred(c)]
        over.update(delta)
    # 2. rederive what the remaining triples still entail (a removed assertion, too, may still be
    #    entailed: then it moves to the inferred graph)
    over |= removed
    current = _View(store, minus=over)
    types = {t for t in over if t[1] == TYPE}
    seeds = {t for x in {t[0] for t in over - types} for t in current.touching(x)}
    back = {c for t in seeds for c in _step(t, schema, current, transitive=False)} & over
    back |= _still_connected([t for t in over if t[1] in schema.transitive], current)
    back |= {t for t in types if _type_still_holds(t, schema, current)}
    delta = list(back)
    while delta:
        current.include(delta)
        delta = list(({c for t in delta for c in _step(t, schema, current)} & over) - back)
        back.update(delta)
    gone = {t for t in over - back if _reportable(t, schema) and inferred(t)} | was_inferred
    revived = {t for t in back & removed if _reportable(t, schema)}
    # 3. add what the new triples entail, against the new state
    current = _View(store, plus=back, minus=gone - added)
    new: set[Triple] = set()
    delta = list(added)
    while delta:
        candidates = {c for t in delta for c in _step(t, schema, current)} - new - added
        delta = [c for c in candidates if not current.contains(c)]
        new.update(delta)
        current.include(delta)
    reported = {t for t in new if _reportable(t, schema)} | revived
    store.replace_quads(
        remove=[ox.Quad(*t, INFERRED) for t in gone - reported] + _stamps(store),
        add=[ox.Quad(*t, INFERRED) for t in reported - gone if not inferred(t)],
    )
    store.mark_current(Graphs.INFERRED)
    return len(gone - reported), len(reported - gone)


def _type_still_holds(triple: Triple, schema: Schema, view: _View) -> bool:
    """Whether (x rdf:type C) still follows in one step from x's remaining types or from a
    triple with x as subject (domain) or object (range). Checked property by property with
    early exit: a class such as a shared risk source can be the object of thousands of triples."""
    x, _, cls = triple
    if any(cls == d or cls in schema.super_classes.get(d, ()) for d in view.objects(x, TYPE)):
        return True
    for prop in schema.implying_domain.get(cls, ()):
        if view.exists(x, prop, None):
            return True
    return any(view.exists(None, prop, x) for prop in schema.implying_range.get(cls, ()))


def _still_connected(pairs: list[Triple], view: _View) -> set[Triple]:
    """The transitive pairs (x p z) that two remaining closure edges x -> m -> z still give.

    The stored closure is complete outside the overdeleted pairs, so this finds every pair of an
    acyclic graph at once; pairs that need other rederived pairs (cycles) follow from the
    semi-naive rounds after it.
    """
    by_start: dict = defaultdict(list)
    for triple in pairs:
        by_start[triple[0], triple[1]].append(triple)
    found: set[Triple] = set()
    for (start, prop), group in by_start.items():
        reach = set()
        for middle in view.objects(start, prop):
            reach.add(middle)
            reach |= view.objects(middle, prop)
        found.update(t for t in group if t[2] in reach)
    return found


#: The key of the premises' schema in ``GraphStore.memo`` (see :func:`_schema`).
SCHEMA_MEMO = "reasoning schema"


def _schema(store: GraphStore) -> Schema:
    """The premises' schema, kept in ``store.memo`` from one incremental update to the next:
    an update never changes it (a change to a schema triple is refreshed in full, and a full
    refresh drops the kept one). Reading and indexing it took 20 ms of the 40 ms a one-triple
    write to the demo spent on its inferences, on disk. Not kept for an external store, which
    another service may change."""
    if store.remote is not None:
        return Schema(_schema_triples(store))
    kept = store.memo.get(SCHEMA_MEMO)
    if not isinstance(kept, Schema):
        kept = store.memo[SCHEMA_MEMO] = Schema(_schema_triples(store))
    return kept


def _schema_triples(store: GraphStore) -> set[StoredTriple]:
    # One query, not a lookup per graph, predicate and type: those made each incremental update
    # cost about 300 requests to an external store.
    graphs = " ".join(str(g) for g in premise_graphs(store))
    predicates = " ".join(str(p) for p in SCHEMA_PREDICATES)
    types = " ".join(str(t) for t in SCHEMA_TYPES)
    rows = store.select(
        f"SELECT DISTINCT ?s ?p ?o WHERE {{ VALUES ?g {{ {graphs} }} "
        f"{{ VALUES ?p {{ {predicates} }} GRAPH ?g {{ ?s ?p ?o }} }} UNION "
        f"{{ VALUES ?o {{ {types} }} BIND({TYPE} AS ?p) GRAPH ?g {{ ?s {TYPE} ?o }} }} }}"
    )
    assert isinstance(rows, ox.QuerySolutions)  # a SELECT query
    return {(row["s"], row["p"], row["o"]) for row in rows}
