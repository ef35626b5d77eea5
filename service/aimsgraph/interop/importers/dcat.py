"""Enterprise data catalogues (DCAT) and the links from our datasets and models to their entries.

This module owns reading a DCAT catalogue file (:func:`read_catalog`), the rules that match our
datasets and models to its entries, and the change that stores the catalogue and the links
(:func:`link`), with a :class:`LinkReport`. It computes deltas only: committing them is the
caller's (``changes.commit``).

What is kept of a file: the triples about every DCAT resource in it (a catalogue, dataset,
dataset series, distribution, data service, or a resource a catalogue lists with
``dcat:resource``), whether typed or implied by the DCAT property that links it (the object of
``dcat:distribution`` is a distribution ...), and the blank-node descriptions hanging off them.
Everything else (publishers, contact points described as named nodes, unrelated triples) is
left out, and so are statements in our own vocabulary (an ``aims:`` property or class): a
catalogue does not speak for the record. Named graphs in the file are merged: a JSON-LD document with a top-level ``@id`` and
``@graph`` is a named graph, and many DCAT exports look like that. Blank nodes get labels
derived from their content and position (their parents and properties), so that reading the
same file twice gives the same quads and a re-import changes nothing.

The catalogue goes to the data-catalogs graph, never to the data graph: the record only gains
``aims:catalogueEntry`` links (``ontology/catalog-links.ttl``). Re-importing a catalogue
replaces its previous description (of the resources it listed then and those the file describes
now) and is authoritative for the links into it: a link to one of its entries that no longer
matches is removed. A resource that another stored catalogue lists too keeps what that one
said: the descriptions of a shared entry are merged, never replaced, so re-importing one
catalogue cannot erase another's statements (it may leave its own outdated ones on a shared
entry until the other catalogue drops it too; one named graph per catalogue would avoid that).

Matching (our datasets and models against the catalogue's named entries), rule by rule in this
order; a rule only sees what the earlier ones left open:

1. ``iri``: the entry's IRI is the IRI of our dataset or model. It is then linked already, and
   nothing is added.
2. ``identifier``: a ``dct:identifier`` value equal on both sides (exact, surrounding
   whitespace ignored: identifiers are opaque codes), or equal to the other side's IRI (a
   catalogue that ingested our DCAT export keeps our IRI as the identifier of a model that has
   no identifier of its own).
3. ``urn``: a DataHub dataset URN ``urn:li:dataset:(urn:li:dataPlatform:<platform>,<name>,<env>)``
   on one side (as the entry's IRI or a ``dct:identifier``, percent-decoded) whose ``<name>``
   equals an identifier of the other side or the other side's OpenMetadata FQN without its
   service; or the same URN (platform, name and environment) on both sides.
4. ``fqn``: an OpenMetadata fully qualified name ``service.database.schema.table`` on one side (a
   ``dct:identifier`` of exactly four dot-separated parts, a part holding dots being
   double-quoted; no whitespace, ``/`` or ``:``; a letter in every part), whole or without its
   service, equals an identifier of the other side or the ``<name>`` of its URN. Two FQNs of
   different services do not match: they name tables of different systems.

URN and FQN comparisons ignore case (SQL and DataHub names are case-insensitive in practice).
Titles and labels are never compared: two different datasets often share one. Our datasets
match catalogue datasets; our models match catalogue datasets, data services or other listed
resources (a model registry entry, a model behind an inference service). When one of ours has
several candidate entries under a rule, or one entry several of ours, that is ambiguous: it is
reported, nothing of it is linked, and later rules do not look at the nodes involved.
"""

from __future__ import annotations

import re
import xml.parsers.expat
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

import pyoxigraph as ox

from aimsgraph import limits
from aimsgraph.errors import InvalidInput
from aimsgraph.interop.importers import Triple, label_blank_nodes
from aimsgraph.namespaces import AIMS, DCAT, IDENTIFIER, TYPE, Graphs
from aimsgraph.store import GraphStore
from aimsgraph.store.changes import Delta

CATALOGUE_ENTRY = ox.NamedNode(AIMS + "catalogueEntry")
DATA = ox.NamedNode(Graphs.DATA)
CATALOGS = ox.NamedNode(Graphs.DATA_CATALOGS)

CATALOG, DATASET, SERVICE, DISTRIBUTION, RESOURCE = "catalog", "dataset", "service", "distribution", "resource"
#: A node with several kinds counts as the first of them (a dcat:Catalog is also a dcat:Dataset).
KIND_ORDER = (CATALOG, SERVICE, DATASET, DISTRIBUTION, RESOURCE)

TYPED_KINDS = {
    DCAT + "Catalog": CATALOG,
    DCAT + "Dataset": DATASET,
    DCAT + "DatasetSeries": DATASET,
    DCAT + "Distribution": DISTRIBUTION,
    DCAT + "DataService": SERVICE,
    DCAT + "Resource": RESOURCE,
}
#: DCAT properties between resources: (kind of the subject, kind of the object), from their
#: domains and ranges, so untyped distributions and listed entries are recognised.
LINKS = {
    DCAT + "catalog": (CATALOG, CATALOG),
    DCAT + "dataset": (CATALOG, DATASET),
    DCAT + "service": (CATALOG, SERVICE),
    DCAT + "resource": (CATALOG, RESOURCE),
    DCAT + "distribution": (DATASET, DISTRIBUTION),
    DCAT + "accessService": (DISTRIBUTION, SERVICE),
    DCAT + "servesDataset": (SERVICE, DATASET),
    DCAT + "inSeries": (DATASET, DATASET),
    DCAT + "seriesMember": (DATASET, DATASET),
}
LINK_PREDICATES = tuple(ox.NamedNode(p) for p in LINKS)
#: Properties a catalogue lists its members with (a stored catalogue is a subject of one).
LISTING = tuple(ox.NamedNode(DCAT + p) for p in ("dataset", "service", "resource", "catalog"))

#: Which entries each of our kinds may match.
COMPATIBLE = {"dataset": {DATASET}, "model": {DATASET, SERVICE, RESOURCE}}
OUR_CLASSES = {AIMS + "Dataset": "dataset", AIMS + "Model": "model"}


# -- reading a catalogue ------------------------------------------------------------------------


def read_catalog(data: bytes | str, fmt: ox.RdfFormat, base_iri: str | None = None) -> list[ox.Quad]:
    """The DCAT resources described in ``data`` (Turtle, JSON-LD, RDF/XML or any format
    pyoxigraph reads) as quads in the data-catalogs graph. InvalidInput for bad syntax, a remote
    JSON-LD context (never fetched), or a file without DCAT resources."""
    triples = _parse(data, fmt, base_iri)
    kinds = resource_kinds(triples)
    if not kinds:
        raise InvalidInput(
            "the file describes no DCAT catalogue, dataset, distribution or data service "
            f"(no dcat:Catalog, dcat:Dataset, dcat:Distribution or dcat:DataService in its {len(triples)} triples)"
        )
    kept = [t for t in _descriptions(triples, set(kinds)) if not _in_our_vocabulary(t)]
    return sorted((ox.Quad(s, p, o, CATALOGS) for s, p, o in label_blank_nodes(kept, "dcat")), key=str)


def _parse(data: bytes | str, fmt: ox.RdfFormat, base_iri: str | None) -> list[Triple]:
    if fmt == ox.RdfFormat.RDF_XML:
        _check_complete_xml(data)
    try:
        # Named graphs are accepted and merged (see the module docstring); blank nodes are
        # relabelled from their content afterwards, so the parser's labels do not matter.
        quads = list(ox.parse(data, format=fmt, base_iri=base_iri, rename_blank_nodes=True))
    except SyntaxError as exc:
        if "LoadDocumentCallback" in str(exc):
            raise InvalidInput(
                "the catalogue refers to a remote JSON-LD @context, which is never fetched: put the context into the file"
            ) from None
        raise InvalidInput(f"the catalogue is not valid {fmt.name}: {exc}") from None
    except ValueError as exc:  # a format pyoxigraph cannot parse
        raise InvalidInput(f"cannot read a catalogue as {fmt.name}: {exc}") from None
    return list(dict.fromkeys((q.subject, q.predicate, q.object) for q in quads))


def _in_our_vocabulary(triple: Triple) -> bool:
    """A statement with an aims: property or class. A catalogue does not speak for our record,
    and the union of graphs that queries, reasoning and analysis read would take it as part of
    it (a catalogue saying that our dataset aims:hasRisk something)."""
    _, p, o = triple
    # (a triple term, which has no value, names no class)
    return p.value.startswith(AIMS) or (p == TYPE and not isinstance(o, ox.Triple) and o.value.startswith(AIMS))


def _check_complete_xml(data: bytes | str) -> None:
    """InvalidInput unless ``data`` is a complete XML document. pyoxigraph's RDF/XML parser
    accepts a document cut off inside its elements, and a truncated catalogue would read as one
    whose missing entries were withdrawn (their links removed). expat loads no external
    entities and limits entity expansion."""
    data = data.encode() if isinstance(data, str) else data
    limits.refuse_declarations(data, "the catalogue")
    parser = xml.parsers.expat.ParserCreate()
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise InvalidInput(f"the catalogue is not valid RDF/XML: {exc}") from None


def resource_kinds(triples: Iterable[Triple]) -> dict[object, set[str]]:
    """The DCAT resources among the nodes of ``triples`` and their kinds (by type or implied)."""
    kinds: dict[object, set[str]] = defaultdict(set)
    for s, p, o in triples:
        if p == TYPE and not isinstance(o, ox.Triple) and o.value in TYPED_KINDS:  # a triple term names no class
            kinds[s].add(TYPED_KINDS[o.value])
        elif p.value in LINKS:
            subject_kind, object_kind = LINKS[p.value]
            kinds[s].add(subject_kind)
            if isinstance(o, ox.NamedNode | ox.BlankNode):
                kinds[o].add(object_kind)
    return dict(kinds)


def primary_kind(kinds: set[str]) -> str:
    return next(kind for kind in KIND_ORDER if kind in kinds)


def _descriptions(triples: list[Triple], resources: set) -> list[Triple]:
    """The triples about ``resources``, with the blank nodes they reach."""
    by_subject: dict[object, list[Triple]] = defaultdict(list)
    for triple in triples:
        by_subject[triple[0]].append(triple)
    kept, seen, todo = [], set(resources), list(resources)
    while todo:
        for triple in by_subject.get(todo.pop(), ()):
            kept.append(triple)
            if isinstance(triple[2], ox.BlankNode) and triple[2] not in seen:
                seen.add(triple[2])
                todo.append(triple[2])
    return kept


# -- keys that identify a dataset across tools ----------------------------------------------------

_URN = re.compile(r"urn:li:dataset:\(urn:li:dataPlatform:([^,()]+),(.+),([^,()]+)\)", re.IGNORECASE)
_FQN_PART = re.compile(r'"[^"]+"|[^."\s/:]+')


def datahub_urn(value: str) -> tuple[str, str, str] | None:
    """(platform, name, environment) of a DataHub dataset URN, lower-cased; None otherwise."""
    match = _URN.fullmatch(unquote(value.strip()))
    if match is None:
        return None
    platform, name, environment = (part.strip().casefold() for part in match.groups())
    return platform, name, environment


def openmetadata_fqn(value: str) -> tuple[str, str, str, str] | None:
    """The four parts (service, database, schema, table) of an OpenMetadata table FQN, lower-cased
    and unquoted; None for anything else."""
    text, parts, position = value.strip(), [], 0
    while True:
        match = _FQN_PART.match(text, position)
        if match is None:
            return None
        parts.append(match.group(0).strip('"').casefold())
        position = match.end()
        if position == len(text):
            break
        if text[position] != ".":
            return None
        position += 1
    if len(parts) != 4 or not all(re.search(r"[^\W\d_]", part) for part in parts):
        return None
    service, database, schema, table = parts
    return service, database, schema, table


@dataclass
class Side:
    """What identifies one of ours or one catalogue entry: its IRI and dct:identifier values."""

    iri: str
    kinds: set[str]
    identifiers: set[str] = field(default_factory=set)

    def urns(self) -> set[tuple[str, str, str]]:
        return {u for value in (self.iri, *self.identifiers) if (u := datahub_urn(value))}

    def fqns(self) -> set[tuple[str, ...]]:
        return {f for value in self.identifiers if (f := openmetadata_fqn(value))}

    def plain(self) -> set[str]:
        """Identifiers that are not URNs, lower-cased (an FQN unquoted)."""
        names = {i.casefold() for i in self.identifiers if not datahub_urn(i) and not openmetadata_fqn(i)}
        return names | {".".join(f) for f in self.fqns()}


def _keys_iri(side: Side) -> tuple[set, set]:
    return {side.iri}, {side.iri}


def _keys_identifier(side: Side) -> tuple[set, set]:
    return set(side.identifiers), {*side.identifiers, side.iri}


def _keys_urn(side: Side) -> tuple[set, set]:
    urns = side.urns()
    probe = {("name", u[1]) for u in urns} | {("urn", u) for u in urns}
    target = {("name", n) for n in side.plain()} | {("name", ".".join(f[1:])) for f in side.fqns()}
    return probe, target | {("urn", u) for u in urns}


def _keys_fqn(side: Side) -> tuple[set, set]:
    probe = {("name", form) for f in side.fqns() for form in (".".join(f), ".".join(f[1:]))}
    target = {("name", n) for n in side.plain()} | {("name", u[1]) for u in side.urns()}
    return probe, target


#: The rules in order: each gives a side's (probe, target) keys; two sides match when a probe
#: key of one is a target key of the other.
RULES: tuple[tuple[str, Callable[[Side], tuple[set, set]]], ...] = (
    ("iri", _keys_iri),
    ("identifier", _keys_identifier),
    ("urn", _keys_urn),
    ("fqn", _keys_fqn),
)


# -- the report -----------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Match:
    ours: str
    entry: str
    how: str  # iri, identifier, urn or fqn


@dataclass(frozen=True, order=True)
class Ambiguity:
    node: str
    side: str  # "ours" or "entry"
    how: str  # the rule under which it had several candidates
    candidates: tuple[str, ...]


@dataclass
class LinkReport:
    """What linking a catalogue found and changed."""

    catalogues: list[str] = field(default_factory=list)
    entries: dict[str, int] = field(default_factory=dict)  # datasets, distributions, services, resources
    without_iri: int = 0  # entries that are blank nodes: kept, but they cannot be linked
    matched: list[Match] = field(default_factory=list)
    unmatched_ours: list[str] = field(default_factory=list)
    unmatched_entries: list[str] = field(default_factory=list)
    ambiguous: list[Ambiguity] = field(default_factory=list)
    links_added: int = 0
    links_removed: int = 0
    triples_added: int = 0  # to the data-catalogs graph
    triples_removed: int = 0

    def summary(self) -> str:
        read = ", ".join(f"{n} {kind}" for kind, n in self.entries.items())
        lines = [f"catalogue {', '.join(self.catalogues) or '(none named)'}: {read}"]
        if self.without_iri:
            lines.append(f"  note: {self.without_iri} entries are blank nodes and cannot be linked")
        lines += [f"  matched    by {m.how:<10}  {m.ours} -> {m.entry}" for m in self.matched]
        lines += [f"  ambiguous  by {a.how:<10}  {a.node} ({a.side}) could be {', '.join(a.candidates)}" for a in self.ambiguous]
        lines.append(f"  unmatched  {len(self.unmatched_ours)} of ours, {len(self.unmatched_entries)} entries")
        lines.append(
            f"  links      +{self.links_added} -{self.links_removed}; "
            f"catalogue triples +{self.triples_added} -{self.triples_removed}"
        )
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict:
        return {
            "catalogues": self.catalogues,
            "entries": self.entries,
            "withoutIri": self.without_iri,
            "matched": [{"ours": m.ours, "entry": m.entry, "how": m.how} for m in self.matched],
            "unmatchedOurs": self.unmatched_ours,
            "unmatchedEntries": self.unmatched_entries,
            "ambiguous": [
                {"node": a.node, "side": a.side, "how": a.how, "candidates": list(a.candidates)} for a in self.ambiguous
            ],
            "linksAdded": self.links_added,
            "linksRemoved": self.links_removed,
            "triplesAdded": self.triples_added,
            "triplesRemoved": self.triples_removed,
        }


# -- linking --------------------------------------------------------------------------------------


def link(store: GraphStore, catalog: list[ox.Quad]) -> tuple[Delta, LinkReport]:
    """The change that stores ``catalog`` (from :func:`read_catalog`) in the data-catalogs graph,
    replacing its previous description, and links our datasets and models to its entries with
    ``aims:catalogueEntry`` in the data graph, removing links into it that no longer match."""
    new = {ox.Quad(q.subject, q.predicate, q.object, CATALOGS) for q in catalog}
    triples = [(q.subject, q.predicate, q.object) for q in new]
    kinds = resource_kinds(triples)
    if not kinds:
        raise InvalidInput("the catalogue is empty: it describes no DCAT resource")
    if any(isinstance(n, ox.BlankNode) and primary_kind(k) == CATALOG for n, k in kinds.items()):
        # without a name, a later import of the same catalogue could not replace this one
        raise InvalidInput("the dcat:Catalog is a blank node: name it with an IRI, so that importing it again replaces it")
    catalogues = {n for n, k in kinds.items() if isinstance(n, ox.NamedNode) and primary_kind(k) == CATALOG}
    report = LinkReport(catalogues=sorted(n.value for n in catalogues), entries=_counts(kinds))
    report.without_iri = sum(
        1 for n, k in kinds.items() if isinstance(n, ox.BlankNode) and primary_kind(k) in (DATASET, SERVICE, RESOURCE)
    )

    removed, added, members = _catalogue_change(store, new, kinds, catalogues)
    report.triples_removed, report.triples_added = len(removed), len(added)

    entries, ours = _entries(triples, kinds), _ours(store)
    report.matched, report.ambiguous = match(ours, entries)
    involved = {n for m in report.matched for n in (m.ours, m.entry)} | {
        n for a in report.ambiguous for n in (a.node, *a.candidates)
    }
    report.unmatched_ours = sorted(set(ours) - involved)
    report.unmatched_entries = sorted(set(entries) - involved)

    stale, fresh = _link_change(store, report.matched, members)
    report.links_removed, report.links_added = len(stale), len(fresh)
    return Delta(removed | stale, added | fresh).exact(store), report


def _catalogue_change(
    store: GraphStore, new: set[ox.Quad], kinds: dict[object, set[str]], catalogues: set[ox.NamedNode]
) -> tuple[set[ox.Quad], set[ox.Quad], set[str]]:
    """(stored quads to remove, quads to add, IRIs of the catalogue's entries now and before)."""
    previous, shared = _stored_members(store, catalogues)
    # What the file describes replaces its stored description, unless another stored catalogue
    # lists it too: then the descriptions are merged, so that neither import erases the other's.
    described = {q.subject for q in new if isinstance(q.subject, ox.NamedNode)}
    old = _stored_description(store, (described - shared) | previous)
    # Links into an entry another catalogue lists too may rest on what that catalogue says:
    # this import does not withdraw them (else two imports would undo each other).
    members = {n.value for n in (*kinds, *previous) if isinstance(n, ox.NamedNode) and n not in shared}
    # What a catalogue says about one of our own records (our export, re-imported, describes
    # exactly those) is not stored: validation reads every graph, and a catalogue's statements
    # about our dataset must not stand in for the record's own.
    ours = {q.subject for q in new if next(store.quads(q.subject, None, None, DATA), None)}
    return old - new, {q for q in new if not store.contains(q) and q.subject not in ours}, members


def _link_change(store: GraphStore, matched: list[Match], members: set[str]) -> tuple[set[ox.Quad], set[ox.Quad]]:
    """(links into the catalogue that no longer match, new links). A match by IRI needs none."""
    wanted = {ox.Quad(ox.NamedNode(m.ours), CATALOGUE_ENTRY, ox.NamedNode(m.entry), DATA) for m in matched if m.how != "iri"}
    existing = {
        q
        for q in store.quads(None, CATALOGUE_ENTRY, None, DATA)
        if not isinstance(q.object, ox.Triple) and q.object.value in members  # a triple term names no entry
    }
    return existing - wanted, {q for q in wanted if not store.contains(q)}


def _counts(kinds: dict[object, set[str]]) -> dict[str, int]:
    primary = [primary_kind(k) for k in kinds.values()]
    return {kind + "s": primary.count(kind) for kind in (DATASET, DISTRIBUTION, SERVICE, RESOURCE)}


def _stored_members(store: GraphStore, catalogues: set[ox.NamedNode]) -> tuple[set, set]:
    """(what the stored versions of ``catalogues`` listed and no other stored catalogue lists,
    what the other stored catalogues list)."""
    listed = _reach(store, catalogues, stop=set())
    others = {q.subject for p in LISTING for q in store.quads(None, p, None, CATALOGS)}
    others |= {q.subject for q in store.quads(None, TYPE, ox.NamedNode(DCAT + "Catalog"), CATALOGS)}
    others = {node for node in others - catalogues if node not in listed}
    shared = _reach(store, others, stop=catalogues)
    return listed - shared, shared


def _reach(store: GraphStore, roots: set, stop: set) -> set:
    """The nodes reachable from ``roots`` over DCAT links in the data-catalogs graph."""
    seen, todo = set(roots), list(roots)
    while todo:
        node = todo.pop()
        for predicate in LINK_PREDICATES:
            for quad in store.quads(node, predicate, None, CATALOGS):
                target = quad.object
                if isinstance(target, ox.NamedNode | ox.BlankNode) and target not in seen and target not in stop:
                    seen.add(target)
                    todo.append(target)
    return seen


def _stored_description(store: GraphStore, subjects: set) -> set[ox.Quad]:
    """The stored quads about ``subjects``, with the blank nodes they reach."""
    quads, seen, todo = set(), set(subjects), list(subjects)
    while todo:
        for quad in store.quads(todo.pop(), None, None, CATALOGS):
            quads.add(quad)
            if isinstance(quad.object, ox.BlankNode) and quad.object not in seen:
                seen.add(quad.object)
                todo.append(quad.object)
    return quads


def _entries(triples: list[Triple], kinds: dict[object, set[str]]) -> dict[str, Side]:
    """The named entries a dataset or model of ours may match (not catalogues, not distributions)."""
    entries = {
        node.value: Side(node.value, {primary_kind(k)})
        for node, k in kinds.items()
        if isinstance(node, ox.NamedNode) and primary_kind(k) in (DATASET, SERVICE, RESOURCE)
    }
    for s, p, o in triples:
        if (
            p == IDENTIFIER
            and isinstance(o, ox.Literal)
            and not isinstance(s, ox.Triple)
            and s.value in entries
            and o.value.strip()
        ):
            entries[s.value].identifiers.add(o.value.strip())
    return entries


def _ours(store: GraphStore) -> dict[str, Side]:
    """Our datasets and models (typed in the data graph or by inference) with their identifiers."""
    query = f"""SELECT DISTINCT ?s ?class WHERE {{
      VALUES ?class {{ {" ".join(f"<{c}>" for c in OUR_CLASSES)} }}
      VALUES ?g {{ <{Graphs.DATA}> <{Graphs.INFERRED}> }}
      GRAPH ?g {{ ?s a ?class }} FILTER(isIRI(?s)) }}"""
    ours: dict[str, Side] = {}
    for row in store.query(query):
        ours.setdefault(row["s"].value, Side(row["s"].value, set())).kinds.add(OUR_CLASSES[row["class"].value])
    for iri, side in ours.items():
        side.identifiers = {
            q.object.value.strip()
            for q in store.quads(ox.NamedNode(iri), IDENTIFIER, None, DATA)
            if isinstance(q.object, ox.Literal) and q.object.value.strip()
        }
    return ours


def match(ours: dict[str, Side], entries: dict[str, Side]) -> tuple[list[Match], list[Ambiguity]]:
    """Apply the rules in order (module docstring). A rule pairs what is still open; a node with
    several candidates makes an ambiguity that closes it and its candidates for later rules."""
    open_ours, open_entries = set(ours), set(entries)
    matched: list[Match] = []
    ambiguous: list[Ambiguity] = []
    for how, keys in RULES:
        candidates = _candidates({o: ours[o] for o in open_ours}, {e: entries[e] for e in open_entries}, keys)
        of_entry: dict[str, set[str]] = defaultdict(set)
        for o, found in candidates.items():
            for e in found:
                of_entry[e].add(o)
        closed_ours, closed_entries = set(), set()
        for o, found in sorted(candidates.items()):
            if len(found) == 1 and len(of_entry[next(iter(found))]) == 1:
                matched.append(Match(o, next(iter(found)), how))
            elif len(found) > 1:
                ambiguous.append(Ambiguity(o, "ours", how, tuple(sorted(found))))
            closed_ours.add(o)
            closed_entries |= found
        for e, found in sorted(of_entry.items()):
            if len(found) > 1:
                ambiguous.append(Ambiguity(e, "entry", how, tuple(sorted(found))))
        open_ours -= closed_ours
        open_entries -= closed_entries
    return sorted(matched), sorted(ambiguous)


def _candidates(ours: dict[str, Side], entries: dict[str, Side], keys: Callable) -> dict[str, set[str]]:
    """Entries that each of ours matches under one rule (in either direction), kinds permitting."""
    by_probe: dict[object, set[str]] = defaultdict(set)
    by_target: dict[object, set[str]] = defaultdict(set)
    for iri, entry in entries.items():
        probe, target = keys(entry)
        for key in probe:
            by_probe[key].add(iri)
        for key in target:
            by_target[key].add(iri)
    found: dict[str, set[str]] = {}
    for iri, side in ours.items():
        allowed = set().union(*(COMPATIBLE[kind] for kind in side.kinds))
        probe, target = keys(side)
        hits = {e for key in probe for e in by_target.get(key, ())} | {e for key in target for e in by_probe.get(key, ())}
        hits = {e for e in hits if entries[e].kinds & allowed}
        if hits:
            found[iri] = hits
    return found
