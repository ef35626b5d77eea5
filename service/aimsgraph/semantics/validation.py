"""Validation: the SHACL completeness checks of ``shapes/``, whole or around changed nodes, with
findings kept in the validation named graph.

Two engines give the same findings (tests prove it on the demo and on generated data):
- the store engine runs the shapes compiled to SPARQL (``shacl_sparql``) inside pyoxigraph,
  11-30x faster than pyshacl, over every focus node or a few; the service uses it;
- the reference engine runs pyshacl over an rdflib graph: the yardstick of the tests and the
  benchmark.

What is validated is the record with its inferences: the ontology, catalogue, data and
inferred graphs. Full validation replaces the validation graph; incremental validation
re-checks the focus nodes a change can affect (see :func:`affected_nodes`) and replaces just
their findings; a change to the management system's settings re-checks all. Each finding
keeps the clauses or controls it concerns (the ``dct:source`` of its shape), so readiness can
be reported per clause.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cache, cached_property, partial
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib import RDF, SH, URIRef
from rdflib.namespace import DCTERMS

from aimsgraph import clock, resources
from aimsgraph.errors import ValidationRejected
from aimsgraph.namespaces import (
    AIMS,
    ASH,
    DCT,
    FINDING_BASE,
    RDF_LANG_STRING,
    RDFS_SUB_CLASS_OF,
    REFERENCE_DATE,
    TYPE,
    XSD_DATE,
    XSD_STRING,
    Graphs,
)
from aimsgraph.semantics.shacl_sparql import Check, compile_shapes, prologue
from aimsgraph.store import GraphStore
from aimsgraph.store.record import Term, graph_of, node, node_text, term_of, term_text
from aimsgraph.store.record import term_parts as store_term_parts
from aimsgraph.store.remote import DatasetOptions

#: The record as validation sees it: asserted data with its inferences and classifications,
#: ontology and catalogue.
VALIDATED_GRAPHS = (
    Graphs.ONTOLOGY,
    Graphs.CATALOGUE,
    Graphs.FRAMEWORKS,
    Graphs.DATA,
    Graphs.INFERRED,
    Graphs.APPLICABILITY,
    Graphs.LINEAGE,
)
SEVERITIES = ("Violation", "Warning", "Info")
#: Links a stored finding to the clauses it concerns. Not aims:clause: findings must never
#: become focus nodes of the shapes that check aims:clause references.
FINDING_CLAUSE = DCT + "subject"
#: A new value with every write of the stored findings: what in-process and on-disk copies of
#: them (:class:`FindingsIndex`) are checked against.
FINDINGS_VERSION = ASH + "findingsVersion"
_TEMPLATE = re.compile(r"\{[?$]([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Finding:
    """One validation result, with the ISO clauses or Annex A controls it concerns."""

    severity: str  # Violation, Warning or Info
    focus: str  # an IRI, a blank node as ``_:id``, a triple term in N-Triples (``<<( s p o )>>``)
    shape: str
    path: str | None
    value: str | None
    message: str
    clauses: tuple[str, ...] = ()  # catalogue IRIs, e.g. https://w3id.org/aimsgraph/iso42001/A.6.2.7
    component: str = ""  # the SHACL constraint component that failed (sh:sourceConstraintComponent)
    #: what kind of term ``value`` is: "iri", "bnode", "triple", "@lang" or a literal's datatype IRI
    value_type: str | None = None

    def __lt__(self, other: Finding) -> bool:
        """Findings sort by their fields in order, a missing path or value first."""
        return self._sort_key() < other._sort_key()

    def _sort_key(self) -> tuple:
        # Field by field, as ``astuple`` would give them, but without its deep copies: sorting
        # 360k findings with ``astuple`` took a minute.
        return (
            self.severity,
            self.focus,
            self.shape,
            self.path or "",
            self.value or "",
            self.message,
            self.clauses,
            self.component,
            self.value_type or "",
        )

    @property
    def iri(self) -> str:
        """A stable IRI, so the same problem keeps its name across validations."""
        parts = (self.focus, self.shape, self.component, self.path, self.value, self.value_type)
        key = "\x1f".join(str(part) for part in parts)
        return FINDING_BASE + hashlib.sha1(key.encode()).hexdigest()

    @property
    def value_term(self) -> ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple | None:
        """The value as the RDF term it was: sh:value keeps IRIs IRIs, literals typed and triple
        terms triple terms, so that a stored finding reads back with the IRI it was stored under."""
        if self.value is None:
            return None
        return term_of(self.value, self.value_type or XSD_STRING)

    @property
    def focus_term(self) -> ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple:
        """The focus node as a term. The focus keeps no kind of its own: IRIs, ``_:`` blank
        nodes and ``<<(`` triple terms tell themselves apart; other text is a literal's."""
        if self.focus.startswith("<<("):
            return term_of(self.focus, "triple")
        return node(self.focus) or ox.Literal(self.focus)


def term_parts(term: object) -> tuple[str, str]:
    """(text, kind) of a pyoxigraph term (:func:`aimsgraph.store.record.term_parts`) or of an rdflib
    term of the reference engine, read the same way."""
    if isinstance(term, URIRef):
        return str(term), "iri"
    if isinstance(term, rdflib.BNode):
        return f"_:{term}", "bnode"
    if isinstance(term, rdflib.Literal):
        datatype = term.datatype or (RDF_LANG_STRING if term.language else XSD_STRING)
        return str(term), f"@{term.language}" if term.language else str(datatype)
    return store_term_parts(term)


@cache
def shapes_graph() -> rdflib.Graph:
    """All shapes in shapes/*.ttl, parsed once per process."""
    graph = rdflib.Graph()
    for path in sorted(resources.path("shapes").glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


@cache
def compiled_checks() -> tuple[str, list[Check], dict[str, tuple[str, ...]]]:
    """The shapes compiled once per process: (PREFIX prologue, checks, clauses per shape)."""
    shapes = shapes_graph()
    clauses = {
        str(shape): tuple(sorted(str(c) for c in shapes.objects(shape, DCTERMS.source)))
        for shape in set(shapes.subjects(DCTERMS.source, None))
    }
    return prologue(shapes), compile_shapes(shapes), clauses


# -- engines ---------------------------------------------------------------------------------


def validate_store(
    store: GraphStore, as_of: date, focus: Iterable[str] | None = None, targets_seen: dict[str, frozenset[str]] | None = None
) -> list[Finding]:
    """Run the compiled shapes in the store as of the evaluation date ``as_of``, over every
    focus node or only ``focus``. ``targets_seen`` collects the focus nodes of the target
    queries it ran, by text (for :func:`targets_per_shape`)."""
    prefixes, checks, clauses = compiled_checks()
    focus = None if focus is None else sorted(set(focus))
    if focus == []:
        return []
    if focus is not None and not all(isinstance(node(n), ox.NamedNode) for n in focus):
        # only IRIs can be written into a query: with a blank node, check all and keep theirs
        wanted = set(focus)
        return [f for f in validate_store(store, as_of) if f.focus in wanted]
    totals = _known_target_counts(store, as_of) if focus is not None else {}
    among: dict[str, frozenset[str]] = {}  # the focus nodes of each target query among `focus`, by its text
    classes = cache(partial(_classes_of, store, focus or []))
    findings = set()
    for check in checks:
        nodes = None if focus is None else sorted(_targets_among(store, prefixes, check, focus, as_of, among, classes))
        if nodes == []:
            continue
        for terms in _rows(store, prefixes, check, nodes, as_of, totals.get(check.shape)):
            values = {name: term_parts(term)[0] for name, term in terms.items()}
            value = term_parts(terms["value"]) if "value" in terms else (None, None)
            findings.add(
                Finding(
                    severity=check.severity,
                    focus=values["this"],
                    shape=check.shape,
                    path=values.get("path", check.path),
                    value=value[0],
                    message=_filled(check.message, values),
                    clauses=clauses.get(check.shape, ()),
                    component=check.component,
                    value_type=value[1],
                )
            )
    if targets_seen is not None:
        targets_seen.update(among)
    return sorted(findings)


def _targets_among(
    store: GraphStore,
    prefixes: str,
    check: Check,
    nodes: list[str] | None,
    as_of: date,
    found: dict[str, frozenset[str]],
    classes: Callable[[], dict[str, set[str]]],
) -> frozenset[str]:
    """The check's focus nodes among ``nodes`` (in the whole record when None), by its target
    query, run once for all the checks of a shape and kept in ``found`` by its text. Among given
    nodes, a shape that targets classes takes those of its classes from ``classes()``, the nodes'
    classes read once for all shapes (39 ms -> 5 ms for the 69 nodes a change to a demo system
    affected). A check then runs for its own focus nodes only: pyoxigraph evaluates a check for
    each node of its VALUES (the 188 nodes a change to a demo system affects cost a property check
    8 ms on disk, against 0.3 ms for the few it targets)."""
    text = check.targets_text(as_of, nodes)
    if text not in found:
        if nodes is not None and check.target_classes is not None:
            wanted = set(check.target_classes)
            found[text] = frozenset(n for n in nodes if not classes().get(n, set()).isdisjoint(wanted))
        else:
            rows = store.select(prefixes + text, **validated_dataset())
            assert isinstance(rows, ox.QuerySolutions)  # a SELECT query
            found[text] = frozenset(term_parts(row["this"])[0] for row in rows)
    return found[text]


def _filled(message: str, values: dict[str, str]) -> str:
    """A check's message with its ``{$name}`` placeholders replaced by the values (unknown names kept)."""
    return _TEMPLATE.sub(lambda m: values.get(m.group(1), m.group(0)), message)


#: A SHACL-SPARQL check runs once per focus node (?this substituted) only when the changed
#: focus nodes are fewer than this share of all its focus nodes; else once for all of them.
PER_NODE_SHARE = 1 / 20


def _rows(
    store: GraphStore, prefixes: str, check: Check, nodes: list[str] | None, as_of: date, total: int | None = None
) -> Iterable[dict[str, Term]]:
    """The result rows of one check over its focus nodes ``nodes`` (all when None), as
    {variable: term}. ``total``: the number of the check's focus nodes in the whole record, if known."""
    queries: list[tuple[str, dict[ox.Variable, Term]]]
    # A query per focus node in pyoxigraph, which does not seed its joins from VALUES (700 ms
    # against 60 ms at 10,000 systems), when the nodes are a small share of the check's focus
    # nodes: each query has its cost (~1 ms on disk), and on the demo one query for all of them
    # is faster. One query at an external store, where each query is a request (and at Virtuoso
    # each new text is compiled, ~0.1 s to 0.6 s).
    per_node = total is None or len(nodes or ()) < total * PER_NODE_SHARE
    if nodes is not None and check.per_focus and store.remote is None and per_node:
        queries = [(prefixes + check.text(as_of), {ox.Variable("this"): ox.NamedNode(n)}) for n in nodes]
    else:
        queries = [(prefixes + check.text(as_of, nodes), {})]
    for text, substitutions in queries:
        solutions = store.select(text, substitutions=substitutions, **validated_dataset())
        assert isinstance(solutions, ox.QuerySolutions)  # a SELECT query
        names = [v.value for v in solutions.variables]
        for row in solutions:
            values = {n: row[n] for n in names if row[n] is not None}
            if substitutions:
                values["this"] = substitutions[ox.Variable("this")]
            yield values


def _known_target_counts(store: GraphStore, as_of: date) -> dict[str, int]:
    """The number of focus nodes per shape, from the index of the stored findings this process
    holds (kept up to date by every revalidation); empty when it holds none for ``as_of``."""
    held = _held_targets(store, as_of)
    return {} if held is None else {shape: len(nodes) for shape, nodes in held.items()}


def _held_targets(store: GraphStore, as_of: date, current: bool = False) -> dict[str, frozenset[str]] | None:
    """The focus nodes per shape of the findings index this process holds for ``as_of``; None
    when it holds none (or, if ``current``, when the stored findings have moved on since)."""
    known = store.memo.get("findings")
    if not isinstance(known, FindingsIndex) or known.targets is None or known.as_of != as_of:
        return None
    if current and known.version != stored_version(store):
        return None
    return known.targets


def _classes_of(store: GraphStore, nodes: list[str]) -> dict[str, set[str]]:
    """Each node's classes, super-classes included (as sh:targetClass sees them)."""
    values = " ".join(f"<{n}>" for n in nodes)
    # The nodes' types, then the super-classes of those few types: the path `a/rdfs:subClassOf*`
    # from every node walks the same class tree again for each (25 ms against 9 ms for the 188
    # nodes a change to a demo system affects, on disk). A type that is not an IRI (a blank node
    # class) cannot be written into the second query: then the path, in one query.
    rows = store.select(f"SELECT ?n ?t WHERE {{ VALUES ?n {{ {values} }} ?n a ?t }}", **validated_dataset())
    assert isinstance(rows, ox.QuerySolutions)  # a SELECT query
    types: dict[str, set[ox.NamedNode]] = {}
    for row in rows:
        if isinstance(row["t"], ox.BlankNode):
            return _classes_by_path(store, values)
        if isinstance(row["t"], ox.NamedNode):  # a class; `?n a <<( ... )>>` names none
            types.setdefault(row["n"].value, set()).add(row["t"])
    known = " ".join(sorted({str(t) for found in types.values() for t in found}))
    supers: dict[str, set[str]] = {}
    if known:
        rows = store.select(
            f"SELECT ?t ?c WHERE {{ VALUES ?t {{ {known} }} ?t <{RDFS_SUB_CLASS_OF}>* ?c }}", **validated_dataset()
        )
        assert isinstance(rows, ox.QuerySolutions)  # a SELECT query
        for row in rows:
            if isinstance(row["c"], ox.NamedNode):
                supers.setdefault(row["t"].value, set()).add(row["c"].value)
    return {n: set().union(*(supers.get(t.value, {t.value}) for t in found)) for n, found in types.items()}


def _classes_by_path(store: GraphStore, values: str) -> dict[str, set[str]]:
    query = f"SELECT ?n ?c WHERE {{ VALUES ?n {{ {values} }} ?n a/<{RDFS_SUB_CLASS_OF}>* ?c }}"
    classes: dict[str, set[str]] = {}
    rows = store.select(query, **validated_dataset())
    assert isinstance(rows, ox.QuerySolutions)  # a SELECT query
    for row in rows:
        if isinstance(row["c"], ox.NamedNode):  # a class; `?n a <<( ... )>>` names none
            classes.setdefault(row["n"].value, set()).add(row["c"].value)
    return classes


def validate_graph(data: rdflib.Graph, as_of: date, shapes: rdflib.Graph | None = None) -> list[Finding]:
    """Run the shapes (all of them, or ``shapes``) with pyshacl over a copy of an rdflib graph (the
    reference engine), as of the evaluation date ``as_of``: the copy states it as the shapes' one
    ash:referenceDate."""
    import pyshacl  # the reference engine only: importing it costs each process start ~0.15 s

    data = _dated_copy(data, as_of)
    # inplace: ``data`` is this call's own copy, which pyshacl would otherwise copy again (the
    # shapes have no sh:rule, the only thing that writes into the data graph)
    _, results, text = pyshacl.validate(data, shacl_graph=shapes or shapes_graph(), inference="none", advanced=True, inplace=True)
    if not isinstance(results, rdflib.Graph):  # pyshacl reports a shape it cannot run this way
        raise RuntimeError(f"pyshacl could not validate: {text}")
    return sorted(set(_from_report(results)))


def _dated_copy(data: rdflib.Graph, as_of: date) -> rdflib.Graph:
    copy = rdflib.Graph()
    for prefix, namespace in data.namespaces():
        copy.bind(prefix, namespace)
    reference_date = URIRef(REFERENCE_DATE)
    for triple in data:
        if triple[1] != reference_date:
            copy.add(triple)
    copy.add((rdflib.BNode(), reference_date, rdflib.Literal(as_of.isoformat(), datatype=URIRef(XSD_DATE))))
    return copy


# -- stored report ---------------------------------------------------------------------------


def validate_full(store: GraphStore, as_of: date | None = None) -> list[Finding]:
    """Validate the whole record as of ``as_of`` (default: today) and replace the validation
    graph with the findings and their evaluation date."""
    as_of = clock.as_of(as_of)
    findings = validate_store(store, as_of)
    _store_all(store, findings, as_of)
    return findings


def validate_changed(store: GraphStore, changed: Iterable[str], as_of: date | None = None) -> list[Finding]:
    """Re-validate what a change to ``changed`` nodes can affect and update their stored
    findings. Returns the findings of the affected focus nodes. A change to the management
    system's own settings (criteria, matrix, SoA, scope) re-validates everything, and so does a
    new evaluation date."""
    return revalidate_and_store(store, changed, as_of).findings


def revalidate_and_store(store: GraphStore, changed: Iterable[str], as_of: date | None = None) -> Revalidation:
    """:func:`validate_changed`, answering with the plan: its ``affected`` nodes say what the
    findings cover (None: the whole record)."""
    plan = revalidate(store, changed, as_of)
    store_revalidation(store, plan)
    return plan


@dataclass(frozen=True)
class Revalidation:
    """Findings computed as of ``as_of`` for the focus nodes a change can affect (for all when
    ``affected`` is None), not yet stored: the service computes them outside the write lock."""

    affected: list[str] | None
    findings: list[Finding]
    as_of: date
    #: the focus nodes that target queries run meanwhile found, by query text
    targets_seen: dict[str, frozenset[str]] = field(default_factory=dict)


def revalidate(store: GraphStore, changed: Iterable[str], as_of: date | None = None) -> Revalidation:
    """The findings :func:`validate_changed` would store, read without writing. Stored findings
    computed for another date are all recomputed: time-dependent findings may differ anywhere."""
    as_of = clock.as_of(as_of)
    changed = sorted(set(changed))
    if stored_as_of(store) != as_of or _touches_settings(store, changed):
        return Revalidation(None, validate_store(store, as_of), as_of)
    affected = affected_nodes(store, changed)
    seen: dict[str, frozenset[str]] = {}
    return Revalidation(affected, validate_store(store, as_of, affected, seen), as_of, seen)


def stored_as_of(store: GraphStore) -> date | None:
    """The evaluation date of the stored findings; None when none are stored."""
    graph = ox.NamedNode(Graphs.VALIDATION)
    for quad in store.quads(graph, ox.NamedNode(REFERENCE_DATE), None, graph):
        assert isinstance(quad.object, ox.Literal)  # an xsd:date (see _store_all)
        return date.fromisoformat(quad.object.value)
    return None


def _store_all(store: GraphStore, findings: list[Finding], as_of: date) -> None:
    graph = ox.NamedNode(Graphs.VALIDATION)
    dated = ox.Triple(graph, ox.NamedNode(REFERENCE_DATE), ox.Literal(as_of.isoformat(), datatype=ox.NamedNode(XSD_DATE)))
    version = uuid.uuid4().hex
    store.replace_derived_graph(Graphs.VALIDATION, [*findings_as_triples(findings), dated, _version_triple(version)])
    _remember(store, FindingsIndex(version, as_of, sorted(findings), targets_per_shape(store, as_of)))
    save_index(store)


def _version_triple(version: str) -> ox.Triple:
    graph = ox.NamedNode(Graphs.VALIDATION)
    return ox.Triple(graph, ox.NamedNode(FINDINGS_VERSION), ox.Literal(version))


def store_revalidation(store: GraphStore, plan: Revalidation) -> None:
    """Replace the stored findings of the plan's focus nodes (all of them, for a full plan)."""
    if plan.affected is None:
        _store_all(store, plan.findings, plan.as_of)
        return
    known = findings_index(store)
    stale = stored_findings(store, plan.affected)
    graph = ox.NamedNode(Graphs.VALIDATION)
    old_version = list(store.quads(graph, ox.NamedNode(FINDINGS_VERSION), None, graph))
    version = uuid.uuid4().hex
    store.replace_quads(
        remove=[*old_version, *(q for f in stale for q in _quads_of(store, f.iri))],
        add=[
            ox.Quad(t.subject, t.predicate, t.object, graph)
            for t in [*findings_as_triples(plan.findings), _version_triple(version)]
        ],
    )
    _remember(store, known.replaced(version, set(plan.affected), plan.findings, store, plan.as_of, plan.targets_seen))


#: Nodes every check may read (shapes look them up globally, not along links from the focus).
SETTINGS_CLASSES = ("AIManagementSystem", "RiskCriteria", "RiskMatrix", "RiskMatrixCell", "StatementOfApplicability", "AIMSScope")


def _touches_settings(store: GraphStore, nodes: list[str]) -> bool:
    """Whether a node is one of the (few) settings nodes, read by index lookups rather than a
    query: a changed node can be a blank node, which no query's text can name."""
    settings = {node_text(q.subject) for c in SETTINGS_CLASSES for q in store.quads(None, TYPE, ox.NamedNode(AIMS + c), None)}
    return not settings.isdisjoint(nodes)


#: Record nodes one link from ``?middle`` over another property than ``?first`` (both
#: substituted, so projected: pyoxigraph substitutes projected variables only).
_ONWARD = f"""SELECT DISTINCT ?n ?middle ?first WHERE {{
  {{ GRAPH <{Graphs.DATA}> {{ ?middle ?p ?n }} }} UNION {{ GRAPH <{Graphs.DATA}> {{ ?n ?p ?middle }} }}
  FILTER(?p != ?first) }}"""


def affected_nodes(store: GraphStore, changed: Iterable[str]) -> list[str]:
    """The changed nodes and the record nodes (subjects in the data graph) whose checks can
    read them: one link away in either direction, or two links away through another record
    node when the two links use different properties. Two links over the same property (two
    systems in one scope, two risks owned by one role) never feed one check, and neither do
    links through shared concepts (a risk level, a class); following them would make every
    change touch the whole record."""

    def onward(middle: ox.NamedNode | ox.BlankNode, first: ox.NamedNode) -> set[str]:
        # In SPARQL, not Python: a scope or a role can have thousands of links over `first`.
        # (A FILTER EXISTS here would cost pyoxigraph 60x more, so records are checked after.)
        # The ends are substituted, not written in: a blank node has no name in a query's text.
        rows = store.select(_ONWARD, substitutions={ox.Variable("middle"): middle, ox.Variable("first"): first})
        assert isinstance(rows, ox.QuerySolutions)  # a SELECT query
        return {term_text(n) for n in _records_among(store, [row["n"] for row in rows])}

    affected = set(changed)
    data = ox.NamedNode(Graphs.DATA)
    for name in changed:
        term = node(name)
        if term is None:
            continue
        neighbours = [(q.predicate, q.object) for q in store.quads(term, None, None, data)]
        neighbours += [(q.predicate, q.subject) for q in store.quads(None, None, term, data)]
        records = _records_among(store, [middle for _, middle in neighbours])
        for first, middle in neighbours:
            if isinstance(middle, ox.NamedNode | ox.BlankNode) and middle in records:
                affected.add(term_text(middle))
                affected |= onward(middle, first)
    return sorted(affected)


def _records_among(store: GraphStore, terms: Iterable[object]) -> set[ox.NamedNode | ox.BlankNode]:
    """The record nodes (subjects in the data graph) among ``terms``. In the embedded store a
    lookup each; at an external store, where each lookup is a request, the IRIs in one query a
    thousand (a change to a system asked Virtuoso 1,559 times; blank nodes, which have no name
    to send, are still asked one by one)."""
    data = ox.NamedNode(Graphs.DATA)
    candidates = {t for t in terms if isinstance(t, ox.NamedNode | ox.BlankNode)}
    iris = sorted((t for t in candidates if isinstance(t, ox.NamedNode)), key=str) if store.remote is not None else []
    found = {t for t in candidates.difference(iris) if next(store.quads(t, None, None, data), None) is not None}
    for start in range(0, len(iris), 1000):
        values = " ".join(str(t) for t in iris[start : start + 1000])
        rows = store.select(f"SELECT DISTINCT ?n WHERE {{ VALUES ?n {{ {values} }} GRAPH <{Graphs.DATA}> {{ ?n ?p ?o }} }}")
        assert isinstance(rows, ox.QuerySolutions)  # a SELECT query
        found.update(row["n"] for row in rows)
    return found


def stored_findings(store: GraphStore, focus: Iterable[str] | None = None) -> list[Finding]:
    """The findings in the validation graph, all or those on the ``focus`` nodes.

    Read with index lookups rather than SPARQL: pyoxigraph does not seed a join from VALUES,
    and a query restricted to a few focus nodes took 15 s on 48k stored findings.
    """
    if focus is None:
        return list(findings_index(store).findings)
    return _read_findings(store, focus)


def _read_findings(store: GraphStore, focus: Iterable[str] | None) -> list[Finding]:
    graph, sh = ox.NamedNode(Graphs.VALIDATION), str(SH)
    if focus is None:
        results = {q.subject for q in store.quads(None, TYPE, ox.NamedNode(sh + "ValidationResult"), graph)}
    else:
        results = {
            q.subject
            for f in focus
            if (term := node(f)) is not None
            for q in store.quads(None, ox.NamedNode(sh + "focusNode"), term, graph)
        }
    findings = []
    for result in results:
        values: dict[str, list[str]] = {}
        value: tuple[str | None, str | None] = (None, None)
        for quad in store.quads(result, None, None, graph):
            values.setdefault(quad.predicate.value, []).append(term_parts(quad.object)[0])
            if quad.predicate.value == sh + "value":
                value = term_parts(quad.object)
        first = {name: found[0] for name, found in values.items()}
        findings.append(
            Finding(
                severity=first[sh + "resultSeverity"].rsplit("#", 1)[1],
                focus=first[sh + "focusNode"],
                shape=first[sh + "sourceShape"],
                path=first.get(sh + "resultPath"),
                value=value[0],
                message=first[sh + "resultMessage"],
                clauses=tuple(sorted(values.get(FINDING_CLAUSE, []))),
                component=first.get(sh + "sourceConstraintComponent", ""),
                value_type=value[1],
            )
        )
    return sorted(findings)


# -- stored findings in memory ----------------------------------------------------------------


@dataclass
class FindingsIndex:
    """The stored findings held in memory, as of the version of the validation graph they were
    read or written as, with the focus nodes each shape checks once someone needed them
    (readiness). Pages filter and count here instead of reading 360k findings per request;
    every write of the stored findings replaces the index (:func:`store_revalidation` updates
    it from the change instead of reading everything again)."""

    version: str | None  # the validation graph's FINDINGS_VERSION; None when nothing is stored
    as_of: date | None
    findings: list[Finding]  # sorted
    targets: dict[str, frozenset[str]] | None = None  # focus nodes per shape, as of ``as_of``
    _views: dict = field(default_factory=dict, repr=False)  # filtered lists, per filter
    _summary: FindingsSummary | None = field(default=None, repr=False)

    @cached_property
    def failed(self) -> dict[str, set[str]]:
        return failed_per_shape(self.findings)

    @cached_property
    def severities(self) -> Counter:
        return Counter(f.severity for f in self.findings)

    @cached_property
    def by_focus(self) -> dict[str, list[Finding]]:
        return self._grouped("focus")

    @cached_property
    def by_shape(self) -> dict[str, list[Finding]]:
        return self._grouped("shape")

    def _grouped(self, attribute: str) -> dict[str, list[Finding]]:
        found: dict[str, list[Finding]] = {}
        for f in self.findings:
            found.setdefault(getattr(f, attribute), []).append(f)
        return found

    def summary(self, store: GraphStore) -> FindingsSummary:
        """What the dashboard shows of these findings (computing the targets if not known)."""
        if self._summary is None:
            self._summary = self._summarise(store)
        return self._summary

    def _summarise(self, store: GraphStore) -> FindingsSummary:
        return FindingsSummary(
            self.version,
            self.as_of,
            dict(self.severities),
            checks_per_shape(self.with_targets(store).targets or {}, self.failed),
            {shape: found for shape in SUMMARISED_SHAPES if (found := self.by_shape.get(shape))},
        )

    def view(self, key: tuple, make):
        """What ``make()`` returns (a filtered list of these findings), kept per ``key`` so that
        the next page of the same list does not filter again."""
        if key not in self._views:
            if len(self._views) >= 32:
                self._views.clear()
            self._views[key] = make()
        return self._views[key]

    def with_targets(self, store: GraphStore) -> FindingsIndex:
        """This index with the focus nodes per shape (computed once, then kept up to date)."""
        if self.targets is None and self.as_of is not None:
            self.targets = targets_per_shape(store, self.as_of)
            if self.version is not None:  # an index saved before it had targets: save it again, aside
                store.memo.pop("findings saved", None)
                threading.Thread(target=save_index, args=(store, self), name="aimsgraph-save-findings", daemon=True).start()
        return self

    def replaced(
        self,
        version: str,
        affected: set[str],
        findings: list[Finding],
        store: GraphStore,
        as_of: date,
        targets_seen: dict[str, frozenset[str]] | None = None,
    ) -> FindingsIndex:
        """The index after the findings of ``affected`` focus nodes were replaced by ``findings``
        (``targets_seen``: target queries the revalidation ran, by text, not to run again)."""
        kept = [f for f in self.findings if f.focus not in affected]
        targets = None
        if self.targets is not None and self.as_of == as_of:
            fresh = targets_per_shape(store, as_of, sorted(affected), targets_seen)
            targets = {
                shape: frozenset((nodes - affected) | fresh.get(shape, frozenset())) for shape, nodes in self.targets.items()
            }
        return FindingsIndex(version, as_of, sorted([*kept, *findings]), targets)


#: Shapes whose findings the dashboard lists (expired and stale evidence), kept in the summary.
SUMMARISED_SHAPES = (ASH + "ImplementedControlEvidenceExpiryShape", ASH + "StaleEvidenceShape")


@dataclass(frozen=True)
class FindingsSummary:
    """The figures of a :class:`FindingsIndex` the dashboard needs, small enough to be saved
    beside the store and read back at start in milliseconds, while the whole index (360k
    findings at 10,000 systems) is still loading."""

    version: str | None
    as_of: date | None
    severities: dict[str, int]
    checks: dict[str, tuple[int, int]]  # per shape: (focus nodes checked, focus nodes failing)
    listed: dict[str, list[Finding]]  # the findings of SUMMARISED_SHAPES


def findings_summary(store: GraphStore) -> FindingsSummary:
    """The summary of the stored findings: from the index in memory, else from the copy saved
    beside the store (the index then loads in the background), else from the index."""
    version = stored_version(store)
    known = store.memo.get("findings")
    if not isinstance(known, FindingsIndex) or known.version != version:
        kept = store.memo.get("findings summary")
        saved = kept if isinstance(kept, FindingsSummary) and kept.version == version else None
        if saved is None:
            saved = store.memo["findings summary"] = saved_summary(store, version)
        if saved is not None:
            if not _loading.locked():  # else the index is loading already
                threading.Thread(target=findings_index, args=(store,), name="aimsgraph-load-findings", daemon=True).start()
            return saved
    index = findings_index(store)
    summary = index.summary(store)
    if known is None and index.version is not None:  # the first this process computed: save it for the next start
        if (path := store.cache_file(SUMMARY_FILE)) is not None:  # None: an in-memory or external store
            store.save_cache(path, summary)
    return summary


def saved_summary(store: GraphStore, version: str | None = None) -> FindingsSummary | None:
    """The summary saved beside the store, if it is of the stored findings (``version``)."""
    version = version or stored_version(store)
    path = store.cache_file(SUMMARY_FILE)
    saved = store.load_cache(path) if path is not None and version is not None else None
    return saved if isinstance(saved, FindingsSummary) and saved.version == version else None


def failed_per_shape(findings: Iterable[Finding]) -> dict[str, set[str]]:
    """Per shape, the focus nodes with at least one finding of it."""
    failed: dict[str, set[str]] = {}
    for f in findings:
        failed.setdefault(f.shape, set()).add(f.focus)
    return failed


def checks_per_shape(targets: dict[str, frozenset[str]], failed: dict[str, set[str]]) -> dict[str, tuple[int, int]]:
    """Per shape: (focus nodes checked, focus nodes failing)."""
    return {shape: (len(nodes), len(nodes & failed[shape]) if shape in failed else 0) for shape, nodes in targets.items()}


def stored_version(store: GraphStore) -> str | None:
    graph = ox.NamedNode(Graphs.VALIDATION)
    for quad in store.quads(graph, ox.NamedNode(FINDINGS_VERSION), None, graph):
        assert isinstance(quad.object, ox.Literal)  # see _version_triple
        return quad.object.value
    return None


def findings_index(store: GraphStore) -> FindingsIndex:
    """The stored findings in memory: the copy this process holds while the validation graph
    is at its version, else the copy saved beside the store, else read from the store."""
    version = stored_version(store)
    known = store.memo.get("findings")
    if isinstance(known, FindingsIndex) and known.version == version:
        return known
    with _loading:  # one reader at a time: the background load at start and a request may meet
        known = store.memo.get("findings")
        if isinstance(known, FindingsIndex) and known.version == version:
            return known
        return _load_index(store, version)


_loading = threading.Lock()


def _load_index(store: GraphStore, version: str | None) -> FindingsIndex:
    index = _saved_index(store, version)
    if index is None:
        # (findings stored before they had versions have none: kept in memory, saved with the next write)
        index = FindingsIndex(version, stored_as_of(store), sorted(_read_findings(store, None)))
        save_index(store, index)
    store.memo["findings"] = index
    return index


def _remember(store: GraphStore, index: FindingsIndex) -> None:
    store.memo["findings"] = index


SUMMARY_FILE = "findings-summary.pickle"


def _index_file(store: GraphStore) -> Path | None:
    return store.cache_file("findings.pickle")


def save_index(store: GraphStore, index: FindingsIndex | None = None) -> None:
    """Save the findings index beside the store, so that a restart need not read 360k findings
    back (40 s at 10,000 systems). Written to a temporary file first: a reader sees the old copy
    or the new, never half. The file is as trusted as the store directory it sits beside."""
    if index is None:
        known = store.memo.get("findings")
        index = known if isinstance(known, FindingsIndex) else None
    path = _index_file(store)
    if path is None or index is None or index.version is None or store.memo.get("findings saved") == index.version:
        return
    store.save_cache(path, (index.version, index.as_of, index.findings, index.targets))
    if (summary_path := store.cache_file(SUMMARY_FILE)) is not None:  # as path is: beside the store
        store.save_cache(summary_path, index.summary(store))
    store.memo["findings saved"] = index.version


def _saved_index(store: GraphStore, version: str | None) -> FindingsIndex | None:
    path = _index_file(store)
    if path is None or version is None:
        return None
    saved = store.load_cache(path)
    if saved is None:
        return None
    assert isinstance(saved, tuple)  # as save_index wrote it
    saved_version, as_of, findings, targets = saved
    return FindingsIndex(version, as_of, findings, targets) if saved_version == version else None


def known_targets(store: GraphStore, as_of: date, nodes: list[str] | None = None) -> dict[str, frozenset[str]]:
    """:func:`targets_per_shape`, from the index of the stored findings when this process holds
    it with its focus nodes for ``as_of`` (kept up to date by every revalidation): a report on
    the stored findings need not query them again (98 s for the 17,000 nodes one changed system
    affects at 10,000 systems). Else queried."""
    held = _held_targets(store, as_of, current=True)
    if held is None:
        return targets_per_shape(store, as_of, nodes)
    if nodes is None:
        return dict(held)
    wanted = set(nodes)
    return {shape: found & wanted for shape, found in held.items()}


def targets_per_shape(
    store: GraphStore, as_of: date, nodes: list[str] | None = None, known_texts: dict[str, frozenset[str]] | None = None
) -> dict[str, frozenset[str]]:
    """The focus nodes of every shape that has checks (property shapes share their node
    shape's), among ``nodes`` if given. Shapes with the same targets share one query."""
    prefixes, checks, _ = compiled_checks()
    if nodes is not None and not all(isinstance(node(n), ox.NamedNode) for n in nodes):
        wanted = set(nodes)  # a blank node cannot be written into a query: select among all
        return {shape: frozenset(found & wanted) for shape, found in targets_per_shape(store, as_of).items()}
    if nodes == []:
        return {}
    found: dict[str, frozenset[str]] = dict(known_texts or {})  # target queries already run, by text
    classes = cache(partial(_classes_of, store, nodes or []))
    targets: dict[str, frozenset[str]] = {}
    for check in checks:
        if check.shape not in targets:
            targets[check.shape] = _targets_among(store, prefixes, check, nodes, as_of, found, classes)
    return targets


# -- conversions -----------------------------------------------------------------------------


def _from_report(results: rdflib.Graph) -> Iterable[Finding]:
    shapes = shapes_graph()
    for result in results.subjects(RDF.type, SH.ValidationResult):
        shape = results.value(result, SH.sourceShape)
        path = results.value(result, SH.resultPath)
        value = term_parts(results.value(result, SH.value)) if (result, SH.value, None) in results else (None, None)
        yield Finding(
            severity=str(results.value(result, SH.resultSeverity)).rsplit("#", 1)[1],
            focus=term_parts(results.value(result, SH.focusNode))[0],
            shape=str(shape),
            path=str(path) if isinstance(path, URIRef) else None,
            value=value[0],
            message=str(results.value(result, SH.resultMessage) or ""),
            clauses=tuple(sorted(str(c) for c in shapes.objects(shape, DCTERMS.source))),
            component=str(results.value(result, SH.sourceConstraintComponent) or ""),
            value_type=value[1],
        )


def findings_as_triples(findings: Iterable[Finding]) -> list[ox.Triple]:
    """Findings as SHACL validation results (plus ``dct:subject`` clauses), one stable IRI each,
    with the terms a SHACL validation report has: ``sh:value`` the value as it was (an IRI stays
    an IRI), ``sh:sourceConstraintComponent`` the component that failed."""
    sh = str(SH)
    triples = []
    for f in findings:
        result = ox.NamedNode(f.iri)
        triples += [
            ox.Triple(result, TYPE, ox.NamedNode(sh + "ValidationResult")),
            ox.Triple(result, ox.NamedNode(sh + "focusNode"), f.focus_term),
            ox.Triple(result, ox.NamedNode(sh + "resultSeverity"), ox.NamedNode(sh + f.severity)),
            ox.Triple(result, ox.NamedNode(sh + "sourceShape"), ox.NamedNode(f.shape)),
            ox.Triple(result, ox.NamedNode(sh + "resultMessage"), ox.Literal(f.message)),
        ]
        if f.component:
            triples.append(ox.Triple(result, ox.NamedNode(sh + "sourceConstraintComponent"), ox.NamedNode(f.component)))
        if f.path:
            triples.append(ox.Triple(result, ox.NamedNode(sh + "resultPath"), ox.NamedNode(f.path)))
        if (value := f.value_term) is not None:
            triples.append(ox.Triple(result, ox.NamedNode(sh + "value"), value))
        triples += [ox.Triple(result, ox.NamedNode(FINDING_CLAUSE), ox.NamedNode(c)) for c in f.clauses]
    return triples


def _quads_of(store: GraphStore, subject: str) -> list[ox.Quad]:
    return list(store.quads(ox.NamedNode(subject), None, None, ox.NamedNode(Graphs.VALIDATION)))


def validated_dataset() -> DatasetOptions:
    """The union of all graphs: the analysis, validation and changes graphs hold nothing the
    shapes target, and pyoxigraph answers over its union 3-5x faster than over a list of
    graphs. The reference engine extracts VALIDATED_GRAPHS, and the tests compare the two."""
    return {"use_default_graph_as_union": True}


# -- writes ------------------------------------------------------------------------------------


def changed_nodes(store: GraphStore, quads: Iterable[ox.Quad]) -> set[str]:
    """The record nodes a change to ``quads`` touches: their subjects, and objects that are
    record nodes themselves (not classes or shared concepts, which would touch everything).
    Blank nodes count too, as ``_:id``: :func:`validate_store` checks them by validating all."""
    data = ox.NamedNode(Graphs.DATA)
    nodes: set[str] = set()
    for quad in quads:
        if graph_of(quad) in Graphs.DERIVED:
            continue
        nodes.add(term_text(quad.subject))  # an IRI or a blank node (``_:id``)
        if (
            isinstance(quad.object, ox.NamedNode | ox.BlankNode)  # a node: no literal or triple term
            and quad.predicate != TYPE
            and next(store.quads(quad.object, None, None, data), None) is not None
        ):
            nodes.add(term_text(quad.object))
    return nodes


class ViolationGate:
    """Refuses a write that adds Violations to the focus nodes it touches (the optional
    validation gate, AIMSGRAPH_VALIDATION_GATE): ``before`` runs on the store as it was,
    ``after`` on the store with the change applied, before it is committed.

    It sees the inferences of the record before the change: a new node typed only through a
    subclass is checked against its inferred classes after the write, by the refresh."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self._focus: set[str] = set()
        self._known: set[str] = set()

    def before(self, quads: Iterable[ox.Quad]) -> None:
        self._as_of = clock.today()
        self._focus = set(affected_nodes(self.store, changed_nodes(self.store, quads)))
        self._known = {f.iri for f in validate_store(self.store, self._as_of, self._focus) if f.severity == "Violation"}

    def after(self, quads: Iterable[ox.Quad]) -> None:
        focus = self._focus | set(affected_nodes(self.store, changed_nodes(self.store, quads)))
        new = [
            f for f in validate_store(self.store, self._as_of, focus) if f.severity == "Violation" and f.iri not in self._known
        ]
        if new:
            raise ValidationRejected(f"the write would add {len(new)} SHACL Violation(s); nothing was written", new)
