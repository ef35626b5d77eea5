"""Assess once, see every framework: readiness for ISO/IEC 42001, the NIST AI RMF and the EU AI
Act, side by side, from the same validation.

ISO/IEC 42001 readiness is the validation's, per clause and Annex A control (``reports``). Every
other framework's requirement is decided by the ISO/IEC 42001 items mapped to it (the SSSOM
crosswalks of ``data/crosswalks/``, with their NIST OLIR relation) and, for the EU AI Act, by the
shapes that check its provisions directly (``aims:basis`` on a shape). Weakest link:

- ``not met`` when any deciding item has a failing check;
- ``not assessed`` when none fails but one has no check (nothing was looked at);
- ``met`` when every deciding item passes and one of them covers the whole requirement (the
  mapping says the ISO item equals it or asks for more: OLIR equal or superset of);
- ``partial`` when every deciding item passes but each covers only part of it (subset of,
  intersects with): the ISO evidence answers that part, the rest needs its own;
- ``unmapped`` when nothing is mapped to it.

For the EU AI Act the requirements are the obligations the applicability graph says apply to
one of the organisation's systems or models, decided by the ISO items the obligation is
evidenced by (``aims:evidencedBy``, with the crosswalk's relation for the pair when it has one,
else "intersects with") and by the shapes that check its provision. Each requirement keeps the
items that decided it, so a page links each status to the findings and controls behind it.

May import: store, semantics, records, reporting.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

from rdflib import URIRef

from aimsgraph.errors import InvalidInput
from aimsgraph.namespaces import AIMS, ISO, NIST, SH, SKOS, SSSOM, Graphs, sparql_prefixes
from aimsgraph.reporting.reports import Readiness
from aimsgraph.semantics.validation import shapes_graph
from aimsgraph.store import GraphStore
from aimsgraph.store.record import Record

STATUSES = ("met", "partial", "not met", "not assessed", "unmapped")
EQUAL, SUBSET, SUPERSET, INTERSECTS = (AIMS + n for n in ("OlirEqual", "OlirSubsetOf", "OlirSupersetOf", "OlirIntersectsWith"))
#: The relation read from the other side: "A subset of B" is "B superset of A".
INVERSE = {EQUAL: EQUAL, SUBSET: SUPERSET, SUPERSET: SUBSET, INTERSECTS: INTERSECTS}
#: Relations under which an ISO item that passes meets the whole requirement.
COVERING = (EQUAL, SUPERSET)


@dataclass(frozen=True)
class Decider:
    """One ISO item (or, for the EU AI Act, one shape) that decides a requirement."""

    iri: str  # an ISO clause or control, or a shape
    label: str
    relation: str  # an OLIR relation type: how the item relates to the requirement
    status: str  # met, not met, not assessed
    checks: int
    failed: int


@dataclass(frozen=True)
class Requirement:
    iri: str
    label: str
    status: str
    deciders: tuple[Decider, ...]


@dataclass
class Framework:
    key: str  # iso42001, nist-ai-rmf, eu-ai-act
    title: str
    requirements: list[Requirement] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(r.status == s for r in self.requirements) for s in STATUSES}


def readiness(store: GraphStore, clauses: list[Readiness], checks: dict[str, tuple[int, int]]) -> list[Framework]:
    """The three frameworks' readiness from the ISO readiness per clause and the checks per shape."""
    label = Record(store).label
    iso = _iso_status(store, clauses)
    mappings = _mappings(store)
    return [
        Framework("iso42001", "ISO/IEC 42001", [Requirement(r.key, r.label, _own(r), ()) for r in clauses]),
        _nist(store, label, iso, mappings),
        _eu_ai_act(store, label, iso, mappings, checks),
    ]


def named(found: list[Framework], key: str) -> Framework:
    """The framework of ``key``; InvalidInput names the keys there are."""
    for framework in found:
        if framework.key == key:
            return framework
    raise InvalidInput(f"framework must be one of {', '.join(f.key for f in found)}")


def as_json(framework: Framework) -> dict[str, object]:
    return {
        "key": framework.key,
        "title": framework.title,
        "counts": framework.counts,
        "requirements": [
            {"iri": r.iri, "label": r.label, "status": r.status, "decidedBy": [asdict(d) for d in r.deciders]}
            for r in framework.requirements
        ],
    }


def _own(r: Readiness) -> str:
    """An ISO item's status from its checks: none looked at it, one failed, or all passed."""
    return "not assessed" if not r.total else "not met" if r.failed else "met"


def _iso_status(store: GraphStore, clauses: list[Readiness]) -> dict[str, Readiness]:
    """Readiness of every ISO item: its own checks, with those of the items under it (a clause
    mapped as a whole is decided by its sub-clauses' checks too)."""
    own = {r.key: r for r in clauses}
    parent = {}
    query = f"SELECT ?n ?b WHERE {{ GRAPH <{Graphs.CATALOGUE}> {{ ?n <{SKOS}broader> ?b }} FILTER(STRSTARTS(STR(?n), '{ISO}')) }}"
    for row in store.query(query):
        parent[row["n"].value] = row["b"].value
    broader: dict[str, set[str]] = defaultdict(set)  # closed here: Virtuoso refuses a transitive path with no start
    for item in parent:
        up = parent.get(item)
        while up is not None and up not in broader[item]:
            broader[item].add(up)
            up = parent.get(up)
    total: dict[str, Readiness] = {}
    for key, r in own.items():
        for item in {key} | broader.get(key, set()):
            into = total.setdefault(item, Readiness(item, item))
            into.total += r.total
            into.failed += r.failed
    return total


def _mappings(store: GraphStore) -> dict[tuple[str, str], str]:
    """(ISO item, requirement of another framework) -> OLIR relation of the ISO item to it, from
    every crosswalk mapping in either direction."""
    found: dict[tuple[str, str], str] = {}
    rows = store.query(
        sparql_prefixes("aims")
        + f"""PREFIX sssom: <{SSSOM}>
        SELECT ?s ?o ?r WHERE {{ ?m a sssom:Mapping ; sssom:subject_id ?s ; sssom:object_id ?o ; aims:olirRelationship ?r }}"""
    )
    for row in rows:
        s, o, r = row["s"].value, row["o"].value, row["r"].value
        if s.startswith(ISO) and not o.startswith(ISO):
            found[(s, o)] = r
        elif o.startswith(ISO) and not s.startswith(ISO):
            found[(o, s)] = INVERSE.get(r, INTERSECTS)
    return found


def _decide(deciders: list[Decider]) -> str:
    if not deciders:
        return "unmapped"
    if any(d.status == "not met" for d in deciders):
        return "not met"
    if any(d.status == "not assessed" for d in deciders):
        return "not assessed"
    return "met" if any(d.relation in COVERING for d in deciders) else "partial"


def _decider(iri: str, label: str, relation: str, readiness: Readiness | None) -> Decider:
    readiness = readiness or Readiness(iri, label)
    return Decider(iri, label, relation, _own(readiness), readiness.total, readiness.failed)


def _nist(store: GraphStore, label, iso: dict[str, Readiness], mappings: dict[tuple[str, str], str]) -> Framework:
    """Every NIST AI RMF subcategory (the concepts of its scheme that have no narrower one)."""
    rows = store.query(
        f"""SELECT ?r WHERE {{ ?r <{SKOS}inScheme> <{NIST}AIRMF> FILTER NOT EXISTS {{ ?n <{SKOS}broader> ?r }} }}"""
    )
    by_requirement = defaultdict(list)
    for (item, requirement), relation in mappings.items():
        by_requirement[requirement].append((item, relation))
    framework = Framework("nist-ai-rmf", "NIST AI RMF 1.0")
    for requirement in sorted(row["r"].value for row in rows):
        deciders = [_decider(i, label(i), r, iso.get(i)) for i, r in sorted(by_requirement.get(requirement, []))]
        framework.requirements.append(Requirement(requirement, label(requirement), _decide(deciders), tuple(deciders)))
    framework.requirements.sort(key=lambda r: _order(r.iri))
    return framework


def _eu_ai_act(
    store: GraphStore, label, iso: dict[str, Readiness], mappings: dict[tuple[str, str], str], checks: dict[str, tuple[int, int]]
) -> Framework:
    """The obligations that apply to the organisation's systems and models."""
    rows = store.query(
        sparql_prefixes("aims")
        + f"""SELECT DISTINCT ?o ?basis ?evidence WHERE {{
            GRAPH <{Graphs.APPLICABILITY}> {{ ?node aims:hasObligation ?o }}
            ?o aims:basis ?basis . OPTIONAL {{ ?o aims:evidencedBy ?evidence }} }}"""
    )
    obligations: dict[str, tuple[str, set[str]]] = {}
    for row in rows:
        basis, evidence = obligations.setdefault(row["o"].value, (row["basis"].value, set()))
        if row["evidence"] is not None:
            evidence.add(row["evidence"].value)
    shapes = shapes_graph()
    by_basis: dict[str, list[str]] = defaultdict(list)
    for checked, provision in shapes.subject_objects(URIRef(AIMS + "basis")):
        by_basis[str(provision)].append(str(checked))
    framework = Framework("eu-ai-act", "EU AI Act")
    for obligation, (basis, evidence) in sorted(obligations.items()):
        deciders = [_decider(i, label(i), mappings.get((i, basis), INTERSECTS), iso.get(i)) for i in sorted(evidence)]
        for shape in by_basis.get(basis, []):
            total, failed = checks.get(shape, (0, 0))
            if total:  # a shape with no focus node decides nothing here
                deciders.append(
                    _decider(
                        shape,
                        str(shapes.value(URIRef(shape), URIRef(SH + "name")) or shape),
                        EQUAL,
                        Readiness(shape, shape, total, failed),
                    )
                )
        framework.requirements.append(Requirement(obligation, label(obligation), _decide(deciders), tuple(deciders)))
    return framework


def _order(iri: str) -> tuple:
    """NIST ids in reading order: GV-1.10 after GV-1.9, functions in the RMF's order."""
    local = iri.removeprefix(NIST)
    function, _, number = local.partition("-")
    parts = tuple(int(p) if p.isdigit() else 0 for p in number.split("."))
    return (("GV", "MP", "MS", "MG").index(function) if function in ("GV", "MP", "MS", "MG") else 9, parts, local)
