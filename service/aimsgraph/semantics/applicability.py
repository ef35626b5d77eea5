"""Which regulatory category an AI system or model falls in, and why: the applicability graph.

The rules are data (``data/eu-ai-act/``, terms in ``ontology/regulation.ttl``): each names the
provision it rests on, the category it assigns and its criteria, a property and the values that
satisfy it. This module reads the rules and the facts they ask about, fires the rules whose
criteria all hold, and writes each result as an ``aims:Classification`` that keeps its premises
(the statements of the record that made it fire) and the obligations that follow for the roles
the organisation holds. "Why is this system high-risk?" is then one query
(``queries/eu-ai-act-why.rq``). Beyond the rules:

- a system that the record places outside the EU (``aims:inEUScope false``) is out of scope; one
  whose record does not say is classified as if it were in scope, and the classification says
  so (``aims:scopeAssumed``); a system in scope that no rule puts anywhere is of minimal risk;
- a high-risk classification under Annex III becomes "not high-risk" when the record claims an
  Art. 6(3) derogation, unless the system profiles people, for which the derogation never holds
  (``aims:derogationRefused``);
- the organisation's roles are the ones the record states (``aims:regulatoryRole``) or else
  follow from who provides and deploys the system: an organisation that operates an AI
  management system is the provider of what it provides and the deployer of what it deploys.

A value satisfies a criterion when it is one of the rule's values, or an instance, subclass or
narrower concept of one, or a concept mapped to one (``skos:exactMatch``, ``closeMatch``,
``broadMatch``), read over every graph (VAIR's class tree is in the vocabularies graph). Facts
are read from the premise graphs only, so each premise is a statement the record makes, not an
inference. :func:`what_if` classifies with facts added or removed and writes nothing.

May import: store, the rest of semantics (reasoning, suggestions), the top level.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import pyoxigraph as ox

from aimsgraph.namespaces import (
    AIMS,
    AIRO,
    APPLICABILITY_BASE,
    EUAIA,
    GENERATED_AT,
    RDF,
    RDF_TYPE,
    RDFS,
    SKOS,
    TYPE,
    VAIR,
    XSD_BOOLEAN,
    Graphs,
    sparql_prefixes,
)
from aimsgraph.semantics import suggestions
from aimsgraph.semantics.reasoning import premise_graphs
from aimsgraph.store import GraphStore
from aimsgraph.store.changes import Delta
from aimsgraph.store.record import graph_of

GRAPH = ox.NamedNode(Graphs.APPLICABILITY)
PROFILING = frozenset({VAIR + "Profiling", VAIR + "ProfilingPeople"})
#: Where the record says what a system does, for the profiling exception of Art. 6(3).
PROFILING_PROPERTIES = (AIRO + "hasCapability", AIRO + "usesTechnique")
IN_SCOPE = AIMS + "inEUScope"
CLAIMS_DEROGATION = AIMS + "claimsDerogation"
REGULATORY_ROLE = AIMS + "regulatoryRole"
PROVIDED_BY, DEPLOYED_BY, OPERATED_BY = AIMS + "providedBy", AIMS + "deployedBy", AIMS + "operatedBy"
AI_SYSTEM = AIMS + "AISystem"
#: Facts beyond the rules' criteria: the scope, a derogation claim, the roles.
EXTRA_FACTS = (IN_SCOPE, CLAIMS_DEROGATION, REGULATORY_ROLE, PROVIDED_BY, DEPLOYED_BY)
#: Categories that no rule assigns: they follow from the scope fact and the absence of rules.
OUT_OF_SCOPE, MINIMAL, UNDETERMINED = EUAIA + "OutOfScope", EUAIA + "MinimalRisk", EUAIA + "Undetermined"
HIGH_RISK, NOT_HIGH_RISK = EUAIA + "HighRisk", EUAIA + "NotHighRiskByDerogation"
PROVIDER, DEPLOYER = EUAIA + "Provider", EUAIA + "Deployer"
TRUE = ox.Literal("true", datatype=ox.NamedNode(XSD_BOOLEAN))

Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple


@dataclass(frozen=True)
class Criterion:
    prop: str
    values: frozenset[str]  # IRIs a value must be, or be under
    literal: ox.Literal | None = None  # or the literal it must equal


@dataclass(frozen=True)
class Rule:
    iri: str
    basis: str
    category: str
    applies_to: str
    criteria: tuple[Criterion, ...]

    @property
    def properties(self) -> frozenset[str]:
        return frozenset(c.prop for c in self.criteria)


@dataclass(frozen=True)
class Obligation:
    iri: str
    category: str
    role: str
    basis: str


@dataclass(frozen=True)
class Catalogue:
    """The rules and obligations of the store's catalogue, and the Annex III points."""

    rules: tuple[Rule, ...]
    obligations: tuple[Obligation, ...]
    annex_iii: frozenset[str]

    @property
    def properties(self) -> set[str]:
        return {c.prop for r in self.rules for c in r.criteria} | set(PROFILING_PROPERTIES)

    def follows(self, obligation: Obligation, basis: str | None) -> bool:
        """Whether an obligation follows from a classification on ``basis``: an obligation that
        rests on the provision of a rule (Art. 50(3), say) only from that provision, any other
        (Art. 9 for every high-risk system) from every classification of its category."""
        return obligation.basis == basis or obligation.basis not in self.rule_bases

    @cached_property
    def rule_bases(self) -> frozenset[str]:
        return frozenset(r.basis for r in self.rules)

    @property
    def wanted(self) -> set[str]:
        return {v for r in self.rules for c in r.criteria for v in c.values} | PROFILING


@dataclass(frozen=True)
class Premise:
    subject: str
    predicate: str
    object: Term
    matches: str | None = None


@dataclass
class Classification:
    node: str
    category: str
    basis: str | None = None
    rule: str | None = None
    premises: list[Premise] = field(default_factory=list)
    scope_assumed: bool = False
    derogation_refused: bool = False
    roles: tuple[str, ...] = ()
    obligations: tuple[str, ...] = ()

    @property
    def iri(self) -> str:
        key = f"{self.node} {self.rule or self.category}"
        return APPLICABILITY_BASE + hashlib.sha1(key.encode()).hexdigest()[:20]


@dataclass
class Facts:
    """What the rules read: the nodes of each class, their statements, the classes of values."""

    nodes: dict[str, set[str]]  # class IRI -> node IRIs
    statements: dict[str, list[tuple[str, str, Term]]]  # node -> (criterion property, predicate, value)
    above: dict[str, set[str]]  # value IRI -> the wanted IRIs it is, or is under
    operators: set[str]  # organisations that operate an AI management system
    by_super: dict[str, set[str]]  # predicate read -> the properties of the rules it states

    def values(self, node: str, prop: str) -> Iterator[tuple[str, Term]]:
        for criterion_prop, predicate, value in self.statements.get(node, ()):
            if criterion_prop == prop:
                yield predicate, value


# -- reading -------------------------------------------------------------------------------


def load_catalogue(store: GraphStore) -> Catalogue:
    """The applicability rules and obligations in the store (the frameworks graph, usually)."""
    rows = store.query(
        sparql_prefixes("aims")
        + """SELECT ?rule ?basis ?category ?class ?criterion ?property ?value ?literal WHERE {
            ?rule a aims:ApplicabilityRule ; aims:basis ?basis ; aims:assignsCategory ?category ;
                  aims:appliesToClass ?class ; aims:criterion ?criterion .
            ?criterion aims:onProperty ?property .
            OPTIONAL { ?criterion aims:valueIn ?value }
            OPTIONAL { ?criterion aims:requiredValue ?literal }
        }"""
    )
    heads: dict[str, tuple[str, str, str]] = {}
    criteria: dict[str, dict[str, tuple[str, set[str], ox.Literal | None]]] = defaultdict(dict)
    for row in rows:
        rule = row["rule"].value
        heads[rule] = (row["basis"].value, row["category"].value, row["class"].value)
        key = str(row["criterion"])
        prop, values, literal = criteria[rule].get(key, (row["property"].value, set(), None))
        if row["value"] is not None:
            values.add(row["value"].value)
        if isinstance(row["literal"], ox.Literal):
            literal = row["literal"]
        criteria[rule][key] = (prop, values, literal)
    rules = tuple(
        Rule(iri, *heads[iri], tuple(Criterion(p, frozenset(v), lit) for p, v, lit in criteria[iri].values()))
        for iri in sorted(heads)
    )
    obligations = tuple(
        Obligation(row["o"].value, row["category"].value, row["role"].value, row["basis"].value)
        for row in store.query(
            sparql_prefixes("aims")
            + "SELECT ?o ?category ?role ?basis WHERE { ?o a aims:Obligation ; aims:forCategory ?category ; aims:forRole ?role ; aims:basis ?basis }"
        )
    )
    points = frozenset(row["p"].value for row in store.query(sparql_prefixes("aims") + "SELECT ?p { ?p a aims:AnnexIIIPoint }"))
    return Catalogue(rules, tuple(sorted(obligations, key=lambda o: o.iri)), points)


def fact_properties(store: GraphStore, catalogue: Catalogue) -> dict[str, set[str]]:
    """Each predicate that states a fact the rules read (a criterion's property, or a
    sub-property of one), with the properties it states."""
    return _sub_properties(store, catalogue.properties | set(EXTRA_FACTS))


def read_facts(
    store: GraphStore, catalogue: Catalogue, subjects: set[str] | None = None, by_super: dict[str, set[str]] | None = None
) -> Facts:
    """The facts every rule of ``catalogue`` asks about, for every node of the classes the rules
    apply to (or for ``subjects`` alone); ``by_super`` as :func:`fact_properties` gives it."""
    classes = {r.applies_to for r in catalogue.rules} | {AI_SYSTEM}
    by_super = by_super if by_super is not None else fact_properties(store, catalogue)
    graphs = premise_graphs(store)
    statements: dict[str, list[tuple[str, str, Term]]] = defaultdict(list)
    seen: set[tuple] = set()

    def keep(s: str, p: str, o: Term) -> None:
        for prop in by_super[p]:
            if (s, prop, p, o) not in seen:
                seen.add((s, prop, p, o))
                statements[s].append((prop, p, o))

    if subjects is None:  # index scans: one per predicate and graph
        nodes = {
            cls: {q.subject.value for q in store.quads(None, TYPE, ox.NamedNode(cls)) if isinstance(q.subject, ox.NamedNode)}
            for cls in classes
        }
        for p in by_super:
            for g in graphs:
                for q in store.quads(None, ox.NamedNode(p), None, g):
                    if isinstance(q.subject, ox.NamedNode):
                        keep(q.subject.value, p, q.object)
    else:  # one query, so that a remote store answers in one request
        listed = " ".join(f"<{n}>" for n in sorted(subjects))
        nodes = {cls: set() for cls in classes}
        for row in store.query(
            f"SELECT ?n ?c WHERE {{ VALUES ?n {{ {listed} }} VALUES ?c {{ {' '.join(f'<{c}>' for c in classes)} }} ?n a ?c }}"
        ):
            nodes[row["c"].value].add(row["n"].value)
        query = (
            f"SELECT ?s ?p ?o WHERE {{ VALUES ?s {{ {listed} }} VALUES ?p {{ {' '.join(f'<{p}>' for p in by_super)} }} "
            f"VALUES ?g {{ {' '.join(f'<{g.value}>' for g in graphs)} }} GRAPH ?g {{ ?s ?p ?o }} }}"
        )
        for row in store.query(query):
            keep(row["s"].value, row["p"].value, row["o"])
    values = {o.value for items in statements.values() for _, _, o in items if isinstance(o, ox.NamedNode)}
    operators = {q.object.value for q in store.quads(None, ox.NamedNode(OPERATED_BY), None) if isinstance(q.object, ox.NamedNode)}
    return Facts(nodes, dict(statements), _classes_of(store, values, catalogue.wanted), operators, by_super)


def _sub_properties(store: GraphStore, props: set[str]) -> dict[str, set[str]]:
    """For each property that states one of ``props`` (itself or a sub-property), which of them.
    The closure is taken here, not with a SPARQL path: Virtuoso refuses a transitive path whose
    start is not given."""
    below: dict[str, set[str]] = defaultdict(set)
    graphs = " ".join(f"<{g.value}>" for g in premise_graphs(store))  # our axioms, not the published vocabularies
    query = f"SELECT ?sub ?super WHERE {{ VALUES ?g {{ {graphs} }} GRAPH ?g {{ ?sub <{RDFS}subPropertyOf> ?super }} FILTER(isIRI(?sub) && isIRI(?super)) }}"
    for row in store.query(query):
        below[row["super"].value].add(row["sub"].value)
    found: dict[str, set[str]] = defaultdict(set)
    for prop in props:
        for sub in _reachable({prop}, below):
            found[sub].add(prop)
    return dict(found)


def _reachable(start: set[str], edges: dict[str, set[str]]) -> set[str]:
    seen, frontier = set(start), list(start)
    while frontier:
        for nxt in edges.get(frontier.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen


#: How a value comes under a rule's value: its class, a broader concept, a mapped concept, a superclass.
UNDER = (RDF_TYPE, SKOS + "exactMatch", SKOS + "closeMatch", SKOS + "broadMatch", SKOS + "broader", RDFS + "subClassOf")
#: Values (and classes above them) looked up in one query.
CHUNK = 500


def _classes_of(store: GraphStore, values: set[str], wanted: set[str]) -> dict[str, set[str]]:
    """For each value, the wanted IRIs it is or comes under, following :data:`UNDER` one step a
    query from the values up (a portable breadth-first walk: no SPARQL path)."""
    above: dict[str, set[str]] = defaultdict(set)
    if not values or not wanted:
        return above
    up: dict[str, set[str]] = defaultdict(set)
    known, frontier = set(values), sorted(values)
    # a union of one branch a predicate, so that each starts from the given values (with the
    # predicate as a VALUES variable the engine scans every rdf:type statement first)
    branches = " UNION ".join(f"{{ ?x <{p}> ?y }}" for p in UNDER)
    while frontier:
        step: set[str] = set()
        for start in range(0, len(frontier), CHUNK):
            chunk = " ".join(f"<{v}>" for v in frontier[start : start + CHUNK])
            for row in store.query(f"SELECT DISTINCT ?x ?y WHERE {{ VALUES ?x {{ {chunk} }} {branches} FILTER(isIRI(?y)) }}"):
                up[row["x"].value].add(row["y"].value)
                step.add(row["y"].value)
        frontier = sorted(step - known)
        known |= step
    for value in values:
        above[value] = _reachable({value}, up) & wanted
    return above


# -- deciding ------------------------------------------------------------------------------


def classify(catalogue: Catalogue, facts: Facts) -> list[Classification]:
    """Every classification the facts support, in a stable order."""
    found: list[Classification] = []
    for node in sorted({n for cls in facts.nodes.values() for n in cls}):
        found.extend(_classify_node(catalogue, facts, node))
    return found


def _classify_node(catalogue: Catalogue, facts: Facts, node: str) -> list[Classification]:
    is_system = node in facts.nodes.get(AI_SYSTEM, ())
    scope = [(p, v) for p, v in facts.values(node, IN_SCOPE) if isinstance(v, ox.Literal)]
    if is_system and scope and all(v.value in ("false", "0") for _, v in scope):
        return [Classification(node, OUT_OF_SCOPE, premises=[Premise(node, p, v) for p, v in scope])]
    found = []
    stated = {prop for prop, _, _ in facts.statements.get(node, ())}
    for rule in catalogue.rules:
        if not rule.properties <= stated or node not in facts.nodes.get(rule.applies_to, ()):
            continue
        premises = _premises(facts, node, rule.criteria)
        if premises is not None:
            found.append(Classification(node, rule.category, rule.basis, rule.iri, premises))
    found = [_derogated(catalogue, facts, c) for c in found]
    if is_system and not found:
        found = (
            [Classification(node, MINIMAL, premises=[Premise(node, p, v) for p, v in scope])]
            if scope
            else [Classification(node, UNDETERMINED)]
        )
    roles, known = _roles(facts, node)
    for c in found:
        c.scope_assumed = is_system and not scope and c.category != UNDETERMINED
        c.roles = tuple(sorted({r for r, _ in roles}))
        c.premises += [p for _, p in roles]
        c.obligations = tuple(
            o.iri
            for o in catalogue.obligations
            if o.category == c.category and (o.role in c.roles or not known) and catalogue.follows(o, c.basis)
        )
    return found


def _premises(facts: Facts, node: str, criteria: Iterable[Criterion]) -> list[Premise] | None:
    """The statements that satisfy each criterion (all of them), or None if one is unmet."""
    premises: list[Premise] = []
    for criterion in criteria:
        met = [
            Premise(node, predicate, value, match)
            for predicate, value in facts.values(node, criterion.prop)
            for match in _matches(facts, criterion, value)
        ]
        if not met:
            return None
        premises += met
    return premises


def _matches(facts: Facts, criterion: Criterion, value: Term) -> Sequence[str | None]:
    if criterion.literal is not None:
        return [None] if isinstance(value, ox.Literal) and value == criterion.literal else []
    if not isinstance(value, ox.NamedNode):
        return []
    return sorted(facts.above.get(value.value, set()) & criterion.values)


def _derogated(catalogue: Catalogue, facts: Facts, found: Classification) -> Classification:
    """An Annex III classification with an Art. 6(3) claim: not high-risk, unless the system profiles people."""
    if found.category != HIGH_RISK or found.basis not in catalogue.annex_iii:
        return found
    claims = list(facts.values(found.node, CLAIMS_DEROGATION))
    if not claims:
        return found
    claimed = [Premise(found.node, p, v) for p, v in claims]
    profiling = [p for prop in PROFILING_PROPERTIES for p in _premises(facts, found.node, [Criterion(prop, PROFILING)]) or ()]
    if profiling:
        found.premises += claimed + profiling
        found.derogation_refused = True
        return found
    ground = next((v.value for _, v in claims if isinstance(v, ox.NamedNode)), EUAIA + "Art6-3")
    return Classification(found.node, NOT_HIGH_RISK, ground, found.rule, found.premises + claimed)


def _roles(facts: Facts, node: str) -> tuple[list[tuple[str, Premise]], bool]:
    """The roles the organisation holds for ``node`` with the statement each rests on, and
    whether the record says who provides or deploys it at all (if not, every role may be ours)."""
    stated = [(v.value, Premise(node, p, v)) for p, v in facts.values(node, REGULATORY_ROLE) if isinstance(v, ox.NamedNode)]
    if stated:
        return stated, True
    derived, known = [], False
    for prop, role in ((PROVIDED_BY, PROVIDER), (DEPLOYED_BY, DEPLOYER)):
        for p, v in facts.values(node, prop):
            known = True
            if isinstance(v, ox.NamedNode) and v.value in facts.operators:
                derived.append((role, Premise(node, p, v)))
    return derived, known


# -- writing -------------------------------------------------------------------------------


def classification_quads(found: Iterable[Classification]) -> set[ox.Quad]:
    """The applicability graph's content for these classifications."""
    quads: set[ox.Quad] = set()

    def add(s: str, p: str, o: Term | str) -> None:
        quads.add(suggestions.quad(s, p, o))

    for c in found:
        iri = c.iri
        add(c.node, AIMS + "euAiActCategory", c.category)
        add(c.node, AIMS + "hasClassification", iri)
        add(iri, RDF_TYPE, AIMS + "Classification")
        add(iri, AIMS + "category", c.category)
        if c.basis:
            add(iri, AIMS + "basis", c.basis)
        if c.rule:
            add(iri, AIMS + "byRule", c.rule)
        if c.scope_assumed:
            add(iri, AIMS + "scopeAssumed", TRUE)
        if c.derogation_refused:
            add(iri, AIMS + "derogationRefused", TRUE)
        for role in c.roles:
            add(iri, AIMS + "heldRole", role)
        for obligation in c.obligations:
            add(iri, AIMS + "entailsObligation", obligation)
            add(c.node, AIMS + "hasObligation", obligation)
        for p in c.premises:
            quads.update(suggestions.premise_quads(iri, p.subject, p.predicate, p.object, p.matches))
    return quads


def graph_content(store: GraphStore) -> set[ox.Quad]:
    """What the applicability graph should hold, computed from scratch (its stamp aside)."""
    return classification_quads(compute(store)) | suggestions.suggestion_quads(
        suggestions.suggestions(store, suggestions.load_rules(store))
    )


def compute(store: GraphStore) -> list[Classification]:
    catalogue = load_catalogue(store)
    return classify(catalogue, read_facts(store, catalogue))


#: Graphs whose change can move any classification: the rules, the class trees, the mappings.
REFERENCE_GRAPHS = frozenset({Graphs.ONTOLOGY, Graphs.CATALOGUE, Graphs.FRAMEWORKS, Graphs.VOCABULARIES})
#: Predicates that build the class trees and mappings values are matched through.
TREE_PREDICATES = frozenset(
    {RDFS + "subClassOf", RDFS + "subPropertyOf", SKOS + "broader", SKOS + "exactMatch", SKOS + "closeMatch", SKOS + "broadMatch"}
)
#: Above this many affected nodes a write is classified again in full, which costs 3 to 4 s at
#: 10,000 systems (a one-triple write: 70 ms); past a few thousand nodes the node-by-node
#: reading costs more than that.
INCREMENTAL_NODES = 1000


def refresh_applicability(store: GraphStore, delta: Delta | None = None) -> set[str]:
    """Bring the applicability graph up to date and write only the difference; returns the nodes
    whose categories, obligations or risk suggestions changed (their findings may change with
    them). With the ``delta`` of a write, only the nodes it can affect are classified again;
    without, or when it changes rules, class trees or who operates the management system, all.
    Risk suggestions (``suggestions``) are recomputed whenever the write touches what their
    patterns read. Call it holding the write lock."""
    catalogue = load_catalogue(store)
    by_super = fact_properties(store, catalogue)
    nodes = None if delta is None else _affected(store, by_super, delta)
    if nodes is None:
        wanted = classification_quads(classify(catalogue, read_facts(store, catalogue, by_super=by_super)))
        current = {
            q
            for q in store.quads(None, None, None, GRAPH)
            if q.predicate != GENERATED_AT and not suggestions.is_suggestion_quad(q)
        }
    elif nodes:
        facts = read_facts(store, catalogue, nodes, by_super)
        wanted = classification_quads(c for n in sorted(nodes) if _known(facts, n) for c in _classify_node(catalogue, facts, n))
        current = _stored_quads(store, nodes)
    else:
        wanted = current = set()
    rules = suggestions.load_rules(store)
    if suggestions.needed(rules, delta):
        wanted |= suggestions.suggestion_quads(suggestions.suggestions(store, rules))
        current |= suggestions.stored_quads(store)
    stamps = list(store.quads(GRAPH, GENERATED_AT, None, GRAPH))
    remove, add = current - wanted, wanted - current
    if remove or add or not stamps:
        store.replace_quads(remove=[*stamps, *remove], add=add)
        store.mark_current(Graphs.APPLICABILITY)
    derived = (AIMS + "euAiActCategory", AIMS + "hasObligation", suggestions.HAS_SUGGESTION)
    return {str(q.subject.value) for q in remove | add if q.predicate.value in derived and isinstance(q.subject, ox.NamedNode)}


def _affected(store: GraphStore, by_super: dict[str, set[str]], delta: Delta) -> set[str] | None:
    """The nodes a write can reclassify: those it describes and those whose facts name one of
    them (a stakeholder group newly typed as natural persons); None when it can move any."""
    quads = [q for q in delta.removed | delta.added if graph_of(q) not in Graphs.DERIVED]
    if any(
        graph_of(q) in REFERENCE_GRAPHS or q.predicate.value in TREE_PREDICATES or q.predicate.value == OPERATED_BY for q in quads
    ):
        return None
    touched = {q.subject.value for q in quads if isinstance(q.subject, ox.NamedNode)}
    if len(touched) > INCREMENTAL_NODES:
        return None
    if not touched:
        return set()
    predicates = " ".join(f"<{p}>" for p in by_super)
    listed = " ".join(f"<{n}>" for n in sorted(touched))
    rows = store.query(
        f"SELECT DISTINCT ?s WHERE {{ VALUES ?o {{ {listed} }} VALUES ?p {{ {predicates} }} ?s ?p ?o FILTER(isIRI(?s)) }}"
    )
    affected = touched | {row["s"].value for row in rows}
    return affected if len(affected) <= INCREMENTAL_NODES else None


def _stored_quads(store: GraphStore, nodes: set[str]) -> set[ox.Quad]:
    """What the applicability graph says of ``nodes``: their own statements, their
    classifications and the classifications' premises."""
    found: set[ox.Quad] = set()
    has_classification = ox.NamedNode(AIMS + "hasClassification")
    for node in nodes:
        own = [q for q in store.quads(ox.NamedNode(node), None, None, GRAPH) if not suggestions.is_suggestion_quad(q)]
        found.update(own)
        found |= suggestions.linked_quads(store, (q for q in own if q.predicate == has_classification))
    return found


def what_if(
    store: GraphStore, node: str, add: Iterable[tuple[str, Term]] = (), remove: Iterable[tuple[str, Term]] = ()
) -> tuple[list[Classification], list[Classification]]:
    """The classifications of ``node`` now, and with the statements ``add`` added and
    ``remove`` removed (predicate, object pairs about ``node``); nothing is written."""
    catalogue = load_catalogue(store)
    facts = read_facts(store, catalogue, {node})  # the node's facts only: 1.4 s for all at 10,000 systems
    before = _classify_node(catalogue, facts, node) if _known(facts, node) else []
    added = list(add)
    dropped = {(p, str(o)) for p, o in remove}
    statements = [s for s in facts.statements.get(node, []) if (s[1], str(s[2])) not in dropped]
    for predicate, value in added:
        statements += [(prop, predicate, value) for prop in facts.by_super.get(predicate, {predicate})]
        if predicate == RDF_TYPE and isinstance(value, ox.NamedNode):
            facts.nodes.setdefault(value.value, set()).add(node)
    facts.statements[node] = statements
    new_values = {v.value for _, v in added if isinstance(v, ox.NamedNode)} - facts.above.keys()
    facts.above.update(_classes_of(store, new_values, catalogue.wanted))
    return before, _classify_node(catalogue, facts, node) if _known(facts, node) else []


def compare(node: str, before: list[Classification], after: list[Classification]) -> dict[str, object]:
    """A what-if's answer: both sides as JSON, and the categories and obligations that change."""
    was, now = {c.category for c in before}, {c.category for c in after}
    owed, owes = {o for c in before for o in c.obligations}, {o for c in after for o in c.obligations}
    return {
        "node": node,
        "before": [as_json(c) for c in before],
        "after": [as_json(c) for c in after],
        "categoriesAdded": sorted(now - was),
        "categoriesRemoved": sorted(was - now),
        "obligationsAdded": sorted(owes - owed),
        "obligationsRemoved": sorted(owed - owes),
    }


def as_json(c: Classification) -> dict[str, object]:
    return {
        "node": c.node,
        "category": c.category,
        "basis": c.basis,
        "rule": c.rule,
        "scopeAssumed": c.scope_assumed,
        "derogationRefused": c.derogation_refused,
        "roles": list(c.roles),
        "obligations": list(c.obligations),
        "premises": [
            {"subject": p.subject, "predicate": p.predicate, "object": _term_json(p.object), "matches": p.matches}
            for p in c.premises
        ],
    }


def _term_json(term: Term) -> str | bool:
    if isinstance(term, ox.Literal) and term.datatype.value == XSD_BOOLEAN:
        return term.value in ("true", "1")
    return term.value if isinstance(term, (ox.NamedNode, ox.Literal)) else str(term)


def stored(store: GraphStore, node: str) -> list[dict[str, object]]:
    """The classifications the applicability graph holds of ``node``, as JSON."""
    return [as_json(c) for c in stored_classifications(store, node)]


def stored_classifications(store: GraphStore, node: str) -> list[Classification]:
    """The classifications the applicability graph holds of ``node``."""
    bound = f"VALUES ?node {{ <{node}> }}"
    rows = store.query(
        sparql_prefixes("aims")
        + f"""SELECT ?node ?c ?category ?basis ?rule ?role ?obligation ?scope ?refused ?s ?p ?o ?matches WHERE {{
            {bound} GRAPH <{Graphs.APPLICABILITY}> {{
              ?node aims:hasClassification ?c . ?c aims:category ?category .
              OPTIONAL {{ ?c aims:basis ?basis }} OPTIONAL {{ ?c aims:byRule ?rule }}
              OPTIONAL {{ ?c aims:scopeAssumed ?scope }} OPTIONAL {{ ?c aims:derogationRefused ?refused }}
              OPTIONAL {{ ?c aims:heldRole ?role }} OPTIONAL {{ ?c aims:entailsObligation ?obligation }}
              OPTIONAL {{ ?c aims:hasPremise ?pr . ?pr <{RDF}subject> ?s ; <{RDF}predicate> ?p ; <{RDF}object> ?o
                          OPTIONAL {{ ?pr aims:matches ?matches }} }}
            }} }}"""
    )
    found: dict[str, Classification] = {}
    for row in rows:
        iri = row["c"].value
        c = found.get(iri)
        if c is None:
            basis, rule = (row[k].value if row[k] is not None else None for k in ("basis", "rule"))
            c = found[iri] = Classification(row["node"].value, row["category"].value, basis, rule)
            c.scope_assumed, c.derogation_refused = row["scope"] is not None, row["refused"] is not None
        if row["role"] is not None and row["role"].value not in c.roles:
            c.roles += (row["role"].value,)
        if row["obligation"] is not None and row["obligation"].value not in c.obligations:
            c.obligations += (row["obligation"].value,)
        if row["p"] is not None:
            premise = Premise(row["s"].value, row["p"].value, row["o"], row["matches"].value if row["matches"] else None)
            if premise not in c.premises:
                c.premises.append(premise)
    return sorted(found.values(), key=lambda c: (c.node, c.category, c.basis or ""))


@dataclass(frozen=True)
class Row:
    """One classified node as the overview lists it: its categories with their provisions."""

    node: str
    categories: tuple[tuple[str, str | None], ...]  # (category, basis), most severe first


def summary(store: GraphStore) -> list[Row]:
    """Every classified node with its categories, in node order (one query, for paging)."""
    rows = store.query(
        sparql_prefixes("aims")
        + f"""SELECT ?node ?category ?basis ?precedence WHERE {{
            GRAPH <{Graphs.APPLICABILITY}> {{ ?node aims:hasClassification ?c . ?c aims:category ?category OPTIONAL {{ ?c aims:basis ?basis }} }}
            OPTIONAL {{ ?category aims:precedence ?precedence }} }}"""
    )
    found: dict[str, set[tuple[int, str, str | None]]] = defaultdict(set)
    for row in rows:
        rank = int(row["precedence"].value) if row["precedence"] is not None else 99
        found[row["node"].value].add((rank, row["category"].value, row["basis"].value if row["basis"] else None))
    return [
        Row(node, tuple((c, b) for _, c, b in sorted(found[node], key=lambda t: (t[0], t[1], t[2] or ""))))
        for node in sorted(found)
    ]


@dataclass(frozen=True)
class ObligationView:
    iri: str
    basis: str | None
    role: str | None
    evidence: tuple[str, ...]  # ISO/IEC 42001 clauses and controls


def obligation_views(store: GraphStore, iris: Iterable[str]) -> list[ObligationView]:
    """The obligations named, with the provision, the role and the ISO/IEC 42001 evidence of each."""
    listed = " ".join(f"<{i}>" for i in sorted(set(iris)))
    if not listed:
        return []
    rows = store.query(
        sparql_prefixes("aims")
        + f"""SELECT ?o ?basis ?role ?evidence WHERE {{ VALUES ?o {{ {listed} }}
            OPTIONAL {{ ?o aims:basis ?basis }} OPTIONAL {{ ?o aims:forRole ?role }} OPTIONAL {{ ?o aims:evidencedBy ?evidence }} }}"""
    )
    found: dict[str, tuple[str | None, str | None, set[str]]] = {}
    for row in rows:
        basis, role, evidence = found.get(row["o"].value, (None, None, set()))
        basis = basis or (row["basis"].value if row["basis"] else None)
        role = role or (row["role"].value if row["role"] else None)
        if row["evidence"] is not None:
            evidence.add(row["evidence"].value)
        found[row["o"].value] = (basis, role, evidence)
    return [ObligationView(iri, b, r, tuple(sorted(e))) for iri, (b, r, e) in sorted(found.items())]


def _known(facts: Facts, node: str) -> bool:
    return any(node in nodes for nodes in facts.nodes.values())
