"""Risk identification (ISO/IEC 42001 6.1.2): the taxonomy risks the register's facts suggest.

The rules are data (``data/risk-identification/``, terms in ``ontology/taxonomies.ttl``): each
has a premise pattern, a SPARQL basic graph pattern about ``?this`` (an AI system), and the risk
sources it suggests. :func:`suggestions` runs every pattern over the store and keeps, for each
system and suggested source, the matched triples as premises; :func:`suggestion_quads` writes
them as ``aims:RiskSuggestion`` nodes into the applicability graph (``applicability`` calls it in
the same refresh). A pattern may only be a basic graph pattern, so that every premise is a
triple of the record as matched; a rule with anything else is skipped and logged.

May import: store, the top level.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef, Variable

from aimsgraph.namespaces import AIMS, APPLICABILITY_BASE, PREFIXES, RDF, RDF_TYPE, Graphs, sparql_prefixes
from aimsgraph.store import GraphStore
from aimsgraph.store.changes import Delta
from aimsgraph.store.record import graph_of

log = logging.getLogger(__name__)
GRAPH = ox.NamedNode(Graphs.APPLICABILITY)
SUGGESTION_BASE = APPLICABILITY_BASE + "suggestion/"
HAS_SUGGESTION = AIMS + "hasRiskSuggestion"
#: Prefixes a premise pattern may use without declaring them.
PATTERN_PREFIXES = ("aims", "airo", "vair", "dpv", "skos", "rdf", "rdfs", "xsd", "dct", "prov")

Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple


@dataclass(frozen=True)
class SuggestionRule:
    iri: str
    pattern: str
    sources: tuple[str, ...]
    triples: tuple[tuple[object, object, object], ...]  # the pattern's triple patterns (rdflib terms)

    @property
    def predicates(self) -> set[str]:
        return {str(p) for _, p, _ in self.triples if isinstance(p, URIRef)}


@dataclass
class Suggestion:
    node: str
    source: str
    rules: set[str] = field(default_factory=set)
    premises: set[tuple[str, str, Term]] = field(default_factory=set)

    @property
    def iri(self) -> str:
        return SUGGESTION_BASE + hashlib.sha1(f"{self.node} {self.source}".encode()).hexdigest()[:20]


def load_rules(store: GraphStore) -> tuple[SuggestionRule, ...]:
    rows = store.query(
        sparql_prefixes("aims")
        + "SELECT ?rule ?pattern ?source WHERE { ?rule a aims:SuggestionRule ; aims:premisePattern ?pattern ; aims:suggestsSource ?source }"
    )
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in rows:
        found[(row["rule"].value, row["pattern"].value)].add(row["source"].value)
    rules = []
    for (iri, pattern), sources in sorted(found.items()):
        triples = _triple_patterns(pattern)
        if triples is None:
            log.error("suggestion rule %s skipped: its premise pattern is not a basic graph pattern about ?this", iri)
            continue
        rules.append(SuggestionRule(iri, pattern, tuple(sorted(sources)), triples))
    return tuple(rules)


@cache
def _triple_patterns(pattern: str) -> tuple[tuple[object, object, object], ...] | None:
    """The triple patterns of a basic graph pattern, or None if it is anything else. Parsed in
    a thread of its own: rdflib's parser (pyparsing) keeps exceptions whose tracebacks hold
    every frame up the stack, and in the caller's thread those frames would keep the store and
    its query results alive until a garbage collection on another thread."""
    with ThreadPoolExecutor(1, thread_name_prefix="aimsgraph-parse") as parser:
        return parser.submit(_parse_pattern, pattern).result()


def _parse_pattern(pattern: str) -> tuple[tuple[object, object, object], ...] | None:
    # rdflib's SPARQL parser (its pyparsing grammar) is imported when a pattern is first read,
    # not with every process that never reads one
    from rdflib.plugins.sparql import prepareQuery

    try:
        query = prepareQuery(f"SELECT * WHERE {{ {pattern} }}", initNs={p: PREFIXES[p] for p in PATTERN_PREFIXES})
    except Exception:  # a syntax error in catalogue data must not stop the refresh
        return None
    body = query.algebra.p.p if query.algebra.p.name == "Project" else None
    if body is None or body.name != "BGP" or Variable("this") not in {t for triple in body.triples for t in triple}:
        return None
    if any(isinstance(t, BNode) for triple in body.triples for t in triple):
        return None
    return tuple(tuple(triple) for triple in body.triples)


def suggestions(store: GraphStore, rules: Iterable[SuggestionRule]) -> list[Suggestion]:
    """Every suggestion the rules make for the record's AI systems."""
    found: dict[tuple[str, str], Suggestion] = {}
    for rule in rules:
        query = (
            sparql_prefixes(*PATTERN_PREFIXES)
            + f"SELECT * WHERE {{ ?this a aims:AISystem . {rule.pattern} FILTER(isIRI(?this)) }}"
        )
        for row in store.query(query):
            node = row["this"].value
            premises = {p for p in (_bound(t, row) for t in rule.triples) if p is not None}
            for source in rule.sources:
                suggestion = found.setdefault((node, source), Suggestion(node, source))
                suggestion.rules.add(rule.iri)
                suggestion.premises |= premises
    return [found[key] for key in sorted(found)]


def _bound(triple: tuple[object, object, object], row) -> tuple[str, str, Term] | None:
    s, p, o = (_term(t, row) for t in triple)
    if isinstance(s, ox.NamedNode) and isinstance(p, ox.NamedNode) and o is not None:
        return s.value, p.value, o
    return None


def _term(term: object, row) -> Term | None:
    if isinstance(term, Variable):
        return row[str(term)]
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype))) if term.datatype else ox.Literal(str(term))
    return None


def quad(s: str, p: str, o: Term | str) -> ox.Quad:
    """A quad of the applicability graph; a string object is an IRI."""
    return ox.Quad(ox.NamedNode(s), ox.NamedNode(p), ox.NamedNode(o) if isinstance(o, str) else o, GRAPH)


def premise_quads(owner: str, subject: str, predicate: str, obj: Term, matches: str | None = None) -> list[ox.Quad]:
    """A premise of ``owner`` (a classification or suggestion): the statement as an
    rdf:Statement at an IRI derived from both, and the rule's value it satisfied."""
    statement = f"{owner}/premise/" + hashlib.sha1(f"{subject} {predicate} {obj}".encode()).hexdigest()[:12]
    quads = [
        quad(owner, AIMS + "hasPremise", statement),
        quad(statement, RDF_TYPE, RDF + "Statement"),
        quad(statement, RDF + "subject", subject),
        quad(statement, RDF + "predicate", predicate),
        quad(statement, RDF + "object", obj),
    ]
    return quads + [quad(statement, AIMS + "matches", matches)] if matches else quads


def suggestion_quads(found: Iterable[Suggestion]) -> set[ox.Quad]:
    quads: set[ox.Quad] = set()
    for suggestion in found:
        iri = suggestion.iri
        quads.add(quad(suggestion.node, HAS_SUGGESTION, iri))
        quads.add(quad(iri, RDF_TYPE, AIMS + "RiskSuggestion"))
        quads.add(quad(iri, AIMS + "suggestedSource", suggestion.source))
        quads.update(quad(iri, AIMS + "byRule", rule) for rule in suggestion.rules)
        for subject, predicate, obj in suggestion.premises:
            quads.update(premise_quads(iri, subject, predicate, obj))
    return quads


def stored_quads(store: GraphStore) -> set[ox.Quad]:
    """The suggestions the applicability graph holds, read from their links (not a scan)."""
    return linked_quads(store, store.quads(None, ox.NamedNode(HAS_SUGGESTION), None, GRAPH))


def linked_quads(store: GraphStore, links: Iterable[ox.Quad]) -> set[ox.Quad]:
    """The links (a node to its classification or suggestion), what the applicability graph says
    of the nodes they point to, and of those nodes' premises."""
    found: set[ox.Quad] = set()
    has_premise = ox.NamedNode(AIMS + "hasPremise")
    for link in links:
        found.add(link)
        if not isinstance(link.object, ox.NamedNode):
            continue
        described = list(store.quads(link.object, None, None, GRAPH))
        found.update(described)
        for premise in (q.object for q in described if q.predicate == has_premise):
            if isinstance(premise, ox.NamedNode):
                found.update(store.quads(premise, None, None, GRAPH))
    return found


def premises_of(store: GraphStore, system: str) -> dict[str, list[tuple[str, str, Term]]]:
    """The premises of each source suggested for ``system``: (subject, predicate, object)."""
    rows = store.query(
        sparql_prefixes("aims", "rdf")
        + f"""SELECT ?source ?s ?p ?o WHERE {{ GRAPH <{Graphs.APPLICABILITY}> {{
            <{system}> aims:hasRiskSuggestion ?suggestion . ?suggestion aims:suggestedSource ?source ; aims:hasPremise ?premise .
            ?premise rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o }} }} ORDER BY ?source ?s ?p ?o"""
    )
    found: dict[str, list[tuple[str, str, Term]]] = defaultdict(list)
    for row in rows:
        found[row["source"].value].append((row["s"].value, row["p"].value, row["o"]))
    return dict(found)


def is_suggestion_quad(quad: ox.Quad) -> bool:
    return quad.predicate.value == HAS_SUGGESTION or quad.subject.value.startswith(SUGGESTION_BASE)  # type: ignore[union-attr]


def needed(rules: Iterable[SuggestionRule], delta: Delta | None) -> bool:
    """Whether a write can change a suggestion: it touches a predicate of a pattern, a type,
    or the catalogue (the rules themselves)."""
    if delta is None:
        return True
    predicates = {p for rule in rules for p in rule.predicates} | {RDF_TYPE}
    return any(
        q.predicate.value in predicates or graph_of(q) in (Graphs.CATALOGUE, Graphs.FRAMEWORKS)
        for q in delta.removed | delta.added
        if graph_of(q) not in Graphs.DERIVED
    )
