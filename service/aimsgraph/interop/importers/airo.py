"""Importing AIRO: an AI system described in AIRO terms becomes an aimsgraph record.

The mapping is not written by hand: it is read from ``ontology/alignments.ttl`` in the store's
ontology graph, inverted. Where one of our classes or properties is declared a subclass or
sub-property of an AIRO term, data using that AIRO term maps to ours (when several of ours
do, the most general one is chosen, and if none is more general the term is reported as
ambiguous); an anonymous inverse (``[ owl:inverseOf aims:hasRiskSource ] rdfs:subPropertyOf
airo:isRiskSourceFor``) maps with subject and object swapped; a property of ours declared
``skos:closeMatch``/``exactMatch`` of an AIRO property maps too (AIRO's provider and developer,
whose ranges make a sub-property axiom unwanted). Values that one of our concepts declares as
its ``skos:exactMatch``/``closeMatch`` (lifecycle phases, stakeholder roles, areas of impact
...) are replaced by our concept, and agents typed with an AIRO role class become interested
parties with that role. A purpose (``airo:hasPurpose``) also gives the plain-language
``aims:intendedPurpose`` that A.9.4 checks: the purpose's label, or its IRI's last part in
words when it has none, or the text itself when the file gives text.

Which terms are AIRO's is read from AIRO itself, in the vocabularies graph. An import that
uses none of them fails (:class:`NothingRecognised`) and names the near misses it saw: the same
namespace in another letter case, with http for https, or with ``/`` for ``#``; RDF compares
IRIs character by character, so those terms are not AIRO's. Terms of AIRO's namespace that AIRO
1.0 does not define (``airo:isUsedBy`` of older versions, typos) are reported as unknown.

Statements about AIRO's own terms (or another published vocabulary's) are left out: an OWL file
declaring the terms it uses (``airo:hasPurpose a owl:ObjectProperty``), or restating their
domains, speaks for the vocabulary, not for the record, and the data graph is a premise of
reasoning where AIRO's domains and ranges would type our data. Everything else is kept as it
is: triples in other vocabularies (labels, descriptions, ...), AIRO triples that do not map (an
AIRO object property given a literal among them), so nothing of the record is lost; the report
lists them. Named graphs in the file are merged into the data graph, and the report says how
many triples that concerned. Blank nodes get labels derived from their content, so importing
the same file again changes nothing, and the report's counts are the audit trail's.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from aimsgraph.interop.importers import NothingRecognised, label_blank_nodes, near_misses, read_rdf
from aimsgraph.namespaces import AIMS, AIRO, DCT, OWL, RDF, RDF_TYPE, RDFS, RDFS_LABEL, SKOS, TYPE, Graphs, sparql_prefixes
from aimsgraph.store import GraphStore
from aimsgraph.store.changes import Change, Delta, local_writer
from aimsgraph.store.record import Record, local_name

DATA = ox.NamedNode(Graphs.DATA)
#: Types that declare a class or property.
DECLARATIONS = {
    OWL + "Class",
    RDFS + "Class",
    OWL + "ObjectProperty",
    OWL + "DatatypeProperty",
    OWL + "AnnotationProperty",
    RDF + "Property",
}
LABELS = {RDFS_LABEL, SKOS + "prefLabel", DCT + "title"}
#: Our properties whose value ISO/IEC 42001 also asks for as text, and the property of the text.
STATED_AS_TEXT = {AIMS + "hasPurpose": AIMS + "intendedPurpose"}

_SUPER = (
    sparql_prefixes("rdfs", "owl", "skos")
    + """SELECT ?ours ?theirs ?inverse WHERE { GRAPH <%(graph)s> {
  { ?ours rdfs:%(axiom)s ?theirs }
  UNION { ?anonymous owl:inverseOf ?ours ; rdfs:%(axiom)s ?theirs . FILTER(isBlank(?anonymous)) BIND(true AS ?inverse) }
  UNION { ?ours skos:exactMatch|skos:closeMatch ?theirs ; a ?kind . FILTER(?kind IN (%(kinds)s)) }
  FILTER(STRSTARTS(STR(?theirs), "%(theirs)s") && STRSTARTS(STR(?ours), "%(ours)s"))
} }"""
)
#: Which of our terms a match may map to, by axiom: classes, or properties.
_KINDS = {"subClassOf": "owl:Class", "subPropertyOf": "owl:ObjectProperty, owl:DatatypeProperty"}

_MATCHES = (
    sparql_prefixes("skos")
    + """SELECT ?ours ?theirs ?scheme WHERE { GRAPH <%s> {
  ?ours skos:exactMatch|skos:closeMatch ?theirs ; skos:inScheme ?scheme .
  FILTER(STRSTARTS(STR(?ours), "%s"))
} }"""
)

_DEFINED = "SELECT DISTINCT ?term WHERE { GRAPH <%s> { ?term a ?type } FILTER(isIRI(?term)) }"

ROLE_SCHEME = AIMS + "StakeholderRoles"


@dataclass
class AiroReport:
    """What the import did: counts of triples and of AIRO terms that mapped or did not.
    ``triples_written`` is what the audit trail records for the change (0 when it changed
    nothing, as when the same file is imported again)."""

    file: str | None  # None: a request body
    triples_read: int = 0
    triples_written: int = 0
    change: str | None = None  # the audit-trail activity of the write
    mapped: Counter = field(default_factory=Counter)  # "airo:X -> aims:Y" -> uses
    unmapped: Counter = field(default_factory=Counter)  # AIRO term -> uses
    unknown: Counter = field(default_factory=Counter)  # terms of AIRO's namespace AIRO does not define -> uses
    ambiguous: dict[str, list[str]] = field(default_factory=dict)
    near_misses: dict[str, str] = field(default_factory=dict)  # namespace -> how it differs from AIRO's
    vocabulary_statements: int = 0  # statements about AIRO's (or another vocabulary's) terms, left out
    from_named_graphs: int = 0  # triples of the file's named graphs, merged into the data graph

    def summary(self) -> str:
        change = f" ({self.change})" if self.change else ""
        read = f"{self.file or 'request body'}: {self.triples_read} triples read"
        lines = [f"{read}, {self.triples_written} written to the data graph{change}"]
        lines += [f"  mapped    {n:5}  {term}" for term, n in sorted(self.mapped.items())]
        lines += [f"  unmapped  {n:5}  {term}" for term, n in sorted(self.unmapped.items())]
        lines += [
            f"  unknown   {n:5}  {term} (not a term of AIRO 1.0; kept as it is)" for term, n in sorted(self.unknown.items())
        ]
        lines += [f"  ambiguous        {term} (could be {', '.join(ours)})" for term, ours in sorted(self.ambiguous.items())]
        lines += [
            f"  note: <{ns}> differs from AIRO's namespace <{AIRO}> by {how}: its terms were not read as AIRO's"
            for ns, how in sorted(self.near_misses.items())
        ]
        if self.vocabulary_statements:
            lines.append(
                f"  note: {self.vocabulary_statements} statements about the vocabulary's own terms (declarations) were left out"
            )
        if self.from_named_graphs:
            lines.append(f"  note: {self.from_named_graphs} triples of the file's named graphs were merged into the data graph")
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "triplesRead": self.triples_read,
            "triplesWritten": self.triples_written,
            "change": self.change,
            "mapped": dict(self.mapped),
            "unmapped": dict(self.unmapped),
            "unknown": dict(self.unknown),
            "ambiguous": self.ambiguous,
            "nearMisses": self.near_misses,
            "vocabularyStatementsLeftOut": self.vocabulary_statements,
            "fromNamedGraphs": self.from_named_graphs,
        }

    @classmethod
    def from_dict(cls, data: dict) -> AiroReport:
        """The report :meth:`as_dict` gave (the command line prints what a running service answered)."""
        return cls(
            data["file"],
            data["triplesRead"],
            data["triplesWritten"],
            data["change"],
            Counter(data["mapped"]),
            Counter(data["unmapped"]),
            Counter(data["unknown"]),
            data["ambiguous"],
            data["nearMisses"],
            data["vocabularyStatementsLeftOut"],
            data["fromNamedGraphs"],
        )


class Mapping:
    """AIRO terms to ours, inverted from the alignments in the ontology graph; and the terms
    that AIRO and the other published vocabularies define, from the vocabularies graph."""

    def __init__(self, store: GraphStore) -> None:
        self.classes, self.ambiguous = self._invert(store, "subClassOf")
        properties, ambiguous = self._invert(store, "subPropertyOf")
        self.properties = properties
        self.ambiguous.update(ambiguous)
        self.object_properties = {
            row[0].value
            for row in store.query(f"SELECT ?p WHERE {{ GRAPH <{Graphs.ONTOLOGY}> {{ ?p a <{OWL}ObjectProperty> }} }}")
        }
        self.values: dict[str, str] = {}
        self.roles: dict[str, str] = {}
        for row in store.query(_MATCHES % (Graphs.ONTOLOGY, AIMS)):
            ours, theirs = row["ours"].value, row["theirs"].value
            self.values.setdefault(theirs, ours)
            if row["scheme"].value == ROLE_SCHEME:
                self.roles[theirs] = ours
        self.defined = {row[0].value for row in store.query(_DEFINED % Graphs.VOCABULARIES)}
        self.airo_terms = {term for term in self.defined if term.startswith(AIRO)}

    def knows(self, iri: str) -> bool:
        """AIRO defines the term (any term of its namespace, on a store without AIRO's copy)."""
        return iri in self.airo_terms or not self.airo_terms

    @staticmethod
    def _invert(store: GraphStore, axiom: str) -> tuple[dict[str, tuple[str, bool]], dict[str, list[str]]]:
        candidates: dict[str, set[tuple[str, bool]]] = defaultdict(set)
        query = _SUPER % {"graph": Graphs.ONTOLOGY, "axiom": axiom, "kinds": _KINDS[axiom], "theirs": AIRO, "ours": AIMS}
        for row in store.query(query):
            candidates[row["theirs"].value].add((row["ours"].value, row["inverse"] is not None))
        chosen, ambiguous = {}, {}
        for theirs, options in candidates.items():
            general = [
                o for o in options if not any(_is_narrower(store, o[0], other[0], axiom) for other in options if other != o)
            ]
            if len(general) == 1:
                chosen[theirs] = general[0]
            else:
                ambiguous[_short(theirs)] = sorted(_short(o[0]) for o in options)
        return chosen, ambiguous


def _is_narrower(store: GraphStore, narrow: str, broad: str, axiom: str) -> bool:
    return bool(store.query(f"ASK {{ <{narrow}> <{RDFS}{axiom}>+ <{broad}> }}"))


def _short(iri: str) -> str:
    for prefix, namespace in (("airo:", AIRO), ("aims:", AIMS)):
        if iri.startswith(namespace):
            return prefix + iri[len(namespace) :]
    return iri


def import_airo(
    store: GraphStore,
    source: Path | bytes,
    fmt: ox.RdfFormat | None = None,
    write: Callable[[Delta], Change | None] | None = None,
    *,
    base_iri: str | None = None,
) -> AiroReport:
    """Map the AIRO description in ``source`` (a file, or a request body in ``fmt``) onto our
    terms and add it to the data graph as one change. It is parsed completely first: a syntax
    error changes nothing, and so does a file with no AIRO term in it (NothingRecognised).
    ``write`` commits the change and returns it (default: ``changes.commit`` as the local user)."""
    quads = read_rdf(source, fmt, base_iri=base_iri)
    return import_quads(store, quads, write, str(source) if isinstance(source, Path) else None)


def import_quads(
    store: GraphStore, quads: list[ox.Quad], write: Callable[[Delta], Change | None] | None = None, file: str | None = None
) -> AiroReport:
    """:func:`import_airo` of quads already read (``file`` names where they came from)."""
    mapping = Mapping(store)
    report = AiroReport(file, triples_read=len(quads))
    report.from_named_graphs = sum(1 for q in quads if q.graph_name != DATA)
    record = _without_vocabulary(quads, mapping, report)
    _require_recognised(record, mapping, report)
    labels = _Labels(quads, store)
    converted = dict.fromkeys(t for q in record for t in _convert(q, mapping, report, labels))
    added = {ox.Quad(s, p, o, DATA) for s, p, o in label_blank_nodes(list(converted), "airo")}
    change = (write or local_writer(store, "import-airo"))(Delta(added=added))
    if change is not None:
        report.triples_written, report.change = change.added, change.iri
    return report


def _without_vocabulary(quads: list[ox.Quad], mapping: Mapping, report: AiroReport) -> list[ox.Quad]:
    """The quads that are not about a vocabulary's own terms: one the published vocabularies
    define, or one of AIRO's namespace that the file declares a class or property."""
    declared = {
        q.subject
        for q in quads
        if q.predicate.value == RDF_TYPE and isinstance(q.object, ox.NamedNode) and q.object.value in DECLARATIONS
    }
    record = [
        q
        for q in quads
        if not (
            isinstance(q.subject, ox.NamedNode)
            and (q.subject.value in mapping.defined or (q.subject in declared and q.subject.value.startswith(AIRO)))
        )
    ]
    report.vocabulary_statements = len(quads) - len(record)
    return record


def terms_used(quads: Iterable[ox.Quad]) -> set[str]:
    """The properties and classes the quads use: what a vocabulary is recognised by."""
    return {q.predicate.value for q in quads} | {
        q.object.value for q in quads if q.predicate.value == RDF_TYPE and isinstance(q.object, ox.NamedNode)
    }


def _require_recognised(record: list[ox.Quad], mapping: Mapping, report: AiroReport) -> None:
    """Note the near misses of AIRO's namespace; NothingRecognised if no AIRO term is used."""
    used = terms_used(record)
    report.near_misses = near_misses(used, AIRO)
    airo = sorted(term for term in used if term.startswith(AIRO))
    if any(mapping.knows(term) for term in airo):
        return
    if report.near_misses:
        why = "; ".join(
            f"the file uses <{ns}> which differs from AIRO's namespace <{AIRO}> by {how}"
            for ns, how in sorted(report.near_misses.items())
        )
    elif airo:
        why = f"the file uses {', '.join(map(_short, airo))}, which AIRO 1.0 does not define"
    elif report.vocabulary_statements:
        why = (
            f"the file is a vocabulary: {report.vocabulary_statements} of its statements are about the terms of "
            "AIRO or another published vocabulary, and none describes anything in AIRO terms"
        )
    else:
        why = f"the file uses no term of AIRO's namespace <{AIRO}>"
    raise NothingRecognised(f"{report.file + ': ' if report.file else ''}no AIRO term recognised; {why}")


class _Labels:
    """The text of a node, for a property whose value is also wanted as text: its label in
    the file, else in the store (VAIR's purposes have one), else its IRI's last part in words."""

    def __init__(self, quads: list[ox.Quad], store: GraphStore) -> None:
        self._in_file: dict[object, list[ox.Literal]] = defaultdict(list)
        for q in quads:
            if q.predicate.value in LABELS and isinstance(q.object, ox.Literal):
                self._in_file[q.subject].append(q.object)
        self._record = Record(store)

    def text(self, node: ox.NamedNode | ox.BlankNode) -> str | None:
        if self._in_file.get(node):
            return min(self._in_file[node], key=lambda label: (label.language not in (None, "en"), label.value)).value
        if isinstance(node, ox.BlankNode):
            return None
        return min(self._record.objects(node.value, RDFS_LABEL), default=None) or _words(local_name(node.value))


def _words(name: str) -> str:
    """``predicting_risk_of_violence`` and ``PredictingRiskOfViolence``: "Predicting risk of violence"."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", re.sub(r"[_\-]+", " ", name)).split() or [name]
    tail = [word if word.isupper() else word.lower() for word in words[1:]]
    return " ".join([words[0][:1].upper() + words[0][1:], *tail])


def _convert(quad: ox.Quad, mapping: Mapping, report: AiroReport, labels: _Labels):
    s, p, o = quad.subject, quad.predicate, quad.object
    if p.value == RDF_TYPE and isinstance(o, ox.NamedNode) and o.value.startswith(AIRO):
        yield from _convert_type(s, o.value, mapping, report)
    elif p.value.startswith(AIRO):
        yield from _convert_property(s, p, o, mapping, report, labels)
    else:
        yield s, p, o


def _convert_property(s, p: ox.NamedNode, o, mapping: Mapping, report: AiroReport, labels: _Labels):
    term, target = _short(p.value), mapping.properties.get(p.value)
    if target is None:
        (report.unmapped if mapping.knows(p.value) else report.unknown)[term] += 1
        if term in mapping.ambiguous:
            report.ambiguous[term] = mapping.ambiguous[term]
        yield s, p, o
        return
    ours, inverse = target
    text = STATED_AS_TEXT.get(ours)
    if isinstance(o, ox.Literal) and text:
        report.mapped[f"{term} -> {_short(text)}"] += 1
        yield s, ox.NamedNode(text), o
        return
    if isinstance(o, ox.Literal) and (inverse or ours in mapping.object_properties):
        report.unmapped[f"{term} with a literal value ({_short(ours)} needs a node)"] += 1
        yield s, p, o
        return
    report.mapped[f"{term} -> {'inverse of ' if inverse else ''}{_short(ours)}{' + ' + _short(text) if text else ''}"] += 1
    if inverse and not isinstance(o, ox.Literal):
        yield o, ox.NamedNode(ours), s
        return
    yield s, ox.NamedNode(ours), _value(o, mapping)
    if text and (words := labels.text(o)):
        yield s, ox.NamedNode(text), ox.Literal(words)


def _convert_type(subject, cls: str, mapping: Mapping, report: AiroReport):
    if cls in mapping.classes:
        ours = mapping.classes[cls][0]
        report.mapped[f"{_short(cls)} -> {_short(ours)}"] += 1
        yield subject, TYPE, ox.NamedNode(ours)
    elif cls in mapping.roles:
        role = mapping.roles[cls]
        report.mapped[f"{_short(cls)} -> aims:InterestedParty with role {_short(role)}"] += 1
        yield subject, TYPE, ox.NamedNode(AIMS + "InterestedParty")
        yield subject, ox.NamedNode(AIMS + "hasStakeholderRole"), ox.NamedNode(role)
    else:
        (report.unmapped if mapping.knows(cls) else report.unknown)[_short(cls)] += 1
        yield subject, TYPE, ox.NamedNode(cls)


def _value(term, mapping: Mapping):
    if isinstance(term, ox.NamedNode) and term.value in mapping.values:
        return ox.NamedNode(mapping.values[term.value])
    return term
