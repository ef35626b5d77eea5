"""Importing AIRO: an AI system described in AIRO terms becomes an aimsgraph record.

The mapping is not written by hand: it is read from ``ontology/alignments.ttl`` in the store's
ontology graph, inverted. Where one of our classes or properties is declared a subclass or
sub-property of an AIRO term, data using that AIRO term maps to ours (when several of ours
do, the most general one is chosen, and if none is more general the term is reported as
ambiguous); an anonymous inverse (``[ owl:inverseOf aims:hasRiskSource ] rdfs:subPropertyOf
airo:isRiskSourceFor``) maps with subject and object swapped. Values that one of our concepts
declares as its ``skos:exactMatch``/``closeMatch`` (lifecycle phases, stakeholder roles, areas
of impact ...) are replaced by our concept, and agents typed with an AIRO role class become
interested parties with that role.

Triples in other vocabularies (labels, descriptions, ...) are kept as they are, and AIRO
triples that do not map are kept too (an AIRO object property given a literal among them), so
nothing is lost; the report lists them. Named graphs in the file are merged into the data
graph, and the report says how many triples that concerned.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from aimsgraph.changes import Delta, local_writer
from aimsgraph.errors import InvalidInput
from aimsgraph.namespaces import AIMS, Graphs
from aimsgraph.store import GraphStore, guess_format, read_quads

AIRO = "https://w3id.org/airo#"
TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

_SUPER = """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
SELECT ?ours ?theirs ?inverse WHERE { GRAPH <%s> {
  { ?ours rdfs:%s ?theirs } UNION { ?anonymous owl:inverseOf ?ours ; rdfs:%s ?theirs . FILTER(isBlank(?anonymous)) BIND(true AS ?inverse) }
  FILTER(STRSTARTS(STR(?theirs), "%s") && STRSTARTS(STR(?ours), "%s"))
} }"""

_MATCHES = """PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?ours ?theirs ?scheme WHERE { GRAPH <%s> {
  ?ours skos:exactMatch|skos:closeMatch ?theirs ; skos:inScheme ?scheme .
  FILTER(STRSTARTS(STR(?ours), "%s"))
} }"""

ROLE_SCHEME = AIMS + "StakeholderRoles"


@dataclass
class AiroReport:
    """What the import did: counts of triples and of AIRO terms that mapped or did not."""

    file: str
    triples_read: int = 0
    triples_written: int = 0
    mapped: Counter = field(default_factory=Counter)  # "airo:X -> aims:Y" -> uses
    unmapped: Counter = field(default_factory=Counter)  # AIRO term -> uses
    ambiguous: dict[str, list[str]] = field(default_factory=dict)
    from_named_graphs: int = 0  # triples of the file's named graphs, merged into the data graph

    def summary(self) -> str:
        lines = [f"{self.file}: {self.triples_read} triples read, {self.triples_written} written to the data graph"]
        lines += [f"  mapped    {n:5}  {term}" for term, n in sorted(self.mapped.items())]
        lines += [f"  unmapped  {n:5}  {term}" for term, n in sorted(self.unmapped.items())]
        lines += [f"  ambiguous        {term} (could be {', '.join(ours)})" for term, ours in sorted(self.ambiguous.items())]
        if self.from_named_graphs:
            lines.append(f"  note: {self.from_named_graphs} triples of the file's named graphs were merged into the data graph")
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict:
        return {"file": self.file, "triplesRead": self.triples_read, "triplesWritten": self.triples_written,
                "mapped": dict(self.mapped), "unmapped": dict(self.unmapped), "ambiguous": self.ambiguous,
                "fromNamedGraphs": self.from_named_graphs}


class Mapping:
    """AIRO terms to ours, inverted from the alignments in the ontology graph."""

    def __init__(self, store: GraphStore) -> None:
        self.classes, self.ambiguous = self._invert(store, "subClassOf")
        properties, ambiguous = self._invert(store, "subPropertyOf")
        self.properties = properties
        self.ambiguous.update(ambiguous)
        self.object_properties = {
            row[0].value for row in store.query(
                f"SELECT ?p WHERE {{ GRAPH <{Graphs.ONTOLOGY}> {{ ?p a <http://www.w3.org/2002/07/owl#ObjectProperty> }} }}")
        }
        self.values: dict[str, str] = {}
        self.roles: dict[str, str] = {}
        for row in store.query(_MATCHES % (Graphs.ONTOLOGY, AIMS)):
            ours, theirs = row["ours"].value, row["theirs"].value
            self.values.setdefault(theirs, ours)
            if row["scheme"].value == ROLE_SCHEME:
                self.roles[theirs] = ours

    @staticmethod
    def _invert(store: GraphStore, axiom: str) -> tuple[dict[str, tuple[str, bool]], dict[str, list[str]]]:
        candidates: dict[str, set[tuple[str, bool]]] = defaultdict(set)
        for row in store.query(_SUPER % (Graphs.ONTOLOGY, axiom, axiom, AIRO, AIMS)):
            candidates[row["theirs"].value].add((row["ours"].value, row["inverse"] is not None))
        chosen, ambiguous = {}, {}
        for theirs, options in candidates.items():
            general = [o for o in options if not any(_is_narrower(store, o[0], other[0], axiom)
                                                     for other in options if other != o)]
            if len(general) == 1:
                chosen[theirs] = general[0]
            else:
                ambiguous[_short(theirs)] = sorted(_short(o[0]) for o in options)
        return chosen, ambiguous


def _is_narrower(store: GraphStore, narrow: str, broad: str, axiom: str) -> bool:
    return bool(store.query(f"ASK {{ <{narrow}> <http://www.w3.org/2000/01/rdf-schema#{axiom}>+ <{broad}> }}"))


def _short(iri: str) -> str:
    for prefix, namespace in (("airo:", AIRO), ("aims:", AIMS)):
        if iri.startswith(namespace):
            return prefix + iri[len(namespace):]
    return iri


def import_airo(store: GraphStore, path: Path, fmt: ox.RdfFormat | None = None,
                write: Callable[[Delta], object] | None = None) -> AiroReport:
    """Map the AIRO description in ``path`` onto our terms and add it to the data graph as one
    change. The file is parsed completely first: a syntax error changes nothing. ``write``
    commits the change (default: ``changes.commit`` as the local user)."""
    _, quads = read_quads(path, fmt or guess_format(path), ox.NamedNode(Graphs.DATA))
    mapping = Mapping(store)
    report = AiroReport(file=str(path), triples_read=len(quads))
    report.from_named_graphs = sum(1 for q in quads if q.graph_name != ox.NamedNode(Graphs.DATA))
    converted = list(dict.fromkeys(t for q in quads for t in _convert(q, mapping, report)))
    if not converted:
        raise InvalidInput(f"{path}: no triples to import")
    data = ox.NamedNode(Graphs.DATA)
    delta = Delta(added={ox.Quad(s, p, o, data) for s, p, o in converted})
    (write or local_writer(store, "import-airo"))(delta)
    report.triples_written = len(converted)
    return report


def _convert(quad: ox.Quad, mapping: Mapping, report: AiroReport):
    s, p, o = quad.subject, quad.predicate, quad.object
    if p.value == TYPE and isinstance(o, ox.NamedNode) and o.value.startswith(AIRO):
        yield from _convert_type(s, o.value, mapping, report)
    elif p.value.startswith(AIRO):
        target = mapping.properties.get(p.value)
        if target is None:
            report.unmapped[_short(p.value)] += 1
            if _short(p.value) in mapping.ambiguous:
                report.ambiguous[_short(p.value)] = mapping.ambiguous[_short(p.value)]
            yield s, p, o
            return
        ours, inverse = target
        if isinstance(o, ox.Literal) and (inverse or ours in mapping.object_properties):
            report.unmapped[f"{_short(p.value)} with a literal value ({_short(ours)} needs a node)"] += 1
            yield s, p, o
            return
        report.mapped[f"{_short(p.value)} -> {'inverse of ' if inverse else ''}{_short(ours)}"] += 1
        if inverse and not isinstance(o, ox.Literal):
            yield o, ox.NamedNode(ours), s
        else:
            yield s, ox.NamedNode(ours), _value(o, mapping)
    else:
        yield s, p, o


def _convert_type(subject, cls: str, mapping: Mapping, report: AiroReport):
    if cls in mapping.classes:
        ours = mapping.classes[cls][0]
        report.mapped[f"{_short(cls)} -> {_short(ours)}"] += 1
        yield subject, ox.NamedNode(TYPE), ox.NamedNode(ours)
    elif cls in mapping.roles:
        role = mapping.roles[cls]
        report.mapped[f"{_short(cls)} -> aims:InterestedParty with role {_short(role)}"] += 1
        yield subject, ox.NamedNode(TYPE), ox.NamedNode(AIMS + "InterestedParty")
        yield subject, ox.NamedNode(AIMS + "hasStakeholderRole"), ox.NamedNode(role)
    else:
        report.unmapped[_short(cls)] += 1
        yield subject, ox.NamedNode(TYPE), ox.NamedNode(cls)


def _value(term, mapping: Mapping):
    if isinstance(term, ox.NamedNode) and term.value in mapping.values:
        return ox.NamedNode(mapping.values[term.value])
    return term
