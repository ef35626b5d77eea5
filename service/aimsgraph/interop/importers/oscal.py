"""NIST OSCAL catalogs and profiles (JSON) into the record: the inverse of
:mod:`aimsgraph.interop.exporters.oscal` (``docs/oscal.md``, "Importing").

This module owns reading an OSCAL document safely and what it means for the record:

- **reading**: at most the upload limit, UTF-8 only, nested no deeper than
  AIMSGRAPH_MAX_NESTING_DEPTH (``limits.check_json``, before the parser), no key given twice in
  an object (JSON parsers silently keep the last), and then valid by compliance-trestle's
  pydantic model of its kind; :class:`~aimsgraph.errors.InvalidInput` names the first problem.
- **catalog**: a framework. One whose ``metadata.links`` names, as ``rel="canonical"``, a
  concept scheme the record holds (what aimsgraph's own export writes) *is* that catalogue:
  its groups and controls are matched to the scheme's concepts (by their canonical link, else
  by id) and nothing is written, since the reference catalogues come with aimsgraph; a control
  that matches nothing is refused. Any other catalog becomes a ``skos:ConceptScheme`` in the
  data graph, each group and control a ``skos:Concept`` and ``aims:LegalProvision`` under it
  (``skos:broader`` as nested, the ``label`` property as ``skos:notation``, the title as
  ``skos:prefLabel``, the statement or overview as ``skos:definition``), IRIs minted from the
  catalog's UUID and the control ids, so importing it again changes nothing and a revision
  under the same UUID replaces what the last import wrote.
- **profile**: the Statement of Applicability's decisions on the Annex A controls. A control
  the profile selects is applicable, with the justification (a part named ``justification``)
  and implementation status (property ``implementation-status``) its ``modify/alters`` add; one
  it does not select is excluded, with the justification of its ``soa-exclusion`` property in
  ``metadata``. A decision that changes (or a new entry) needs its justification in the
  profile; an entry the profile leaves as it is keeps its own.

Nothing is written here: the caller commits the returned delta, all or nothing, through the
normal write path (audit trail, validation gate). compliance-trestle takes half a second to
import: it is imported only when a document is checked.
"""

from __future__ import annotations

import fnmatch
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pyoxigraph as ox

from aimsgraph import limits
from aimsgraph.errors import InvalidInput
from aimsgraph.interop.exporters.oscal import NS, ROOTS, control_id, model_class
from aimsgraph.interop.importers import NothingRecognised
from aimsgraph.interop.importers.xlsx import keep_stored
from aimsgraph.namespaces import (
    AIMS,
    DCT,
    OWL,
    RDFS,
    RECORD_BASE,
    SKOS,
    TYPE,
    XSD_BOOLEAN,
    Graphs,
    is_absolute_iri,
    sparql_prefixes,
)
from aimsgraph.store import GraphStore, changes
from aimsgraph.store.record import term_text

#: The import kinds (``POST /api/import?kind=``) and the OSCAL document each takes.
KINDS = {"oscal-catalog": "catalog", "oscal-profile": "profile"}
MEDIA_TYPES = ("application/json",)
#: Where the concepts of an imported catalog are minted: ``CATALOG_BASE + <uuid>[/<control id>]``.
CATALOG_BASE = RECORD_BASE + "oscal-catalog/"
#: What the exporter writes as the remarks of an exclusion the SoA does not justify: no justification.
NO_JUSTIFICATION = "no justification recorded"
#: OSCAL's implementation states (component definitions, SSPs) as our implementation statuses.
OSCAL_STATUSES = {"implemented": "FullyImplemented", "partial": "PartiallyImplemented", "planned": "NotImplemented"}
#: Problems listed in one error message, at most.
MAX_PROBLEMS = 10

DATA = ox.NamedNode(Graphs.DATA)
Json = dict[str, Any]


# -- reading -------------------------------------------------------------------------------------


def read(data: bytes, kind: str | None = None, limit: int | None = None) -> tuple[str, Json]:
    """(kind, the document under its root key) of the OSCAL JSON ``data``, checked as the module
    docstring says; ``kind`` ("catalog" or "profile") is what it must be, None: either."""
    if limit is not None and len(data) > limit:
        raise InvalidInput(f"the OSCAL document is {len(data)} bytes; the limit is {limit} (AIMSGRAPH_MAX_UPLOAD_BYTES)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the OSCAL document is not UTF-8 (byte {exc.start}: {exc.reason}); OSCAL JSON is UTF-8") from None
    limits.check_json(data, "the OSCAL document")
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys)
    except ValueError as exc:  # JSONDecodeError, and a key given twice
        raise InvalidInput(f"the OSCAL document is not JSON: {exc}") from None
    except RecursionError:
        raise limits.too_deep("the OSCAL document", limits.nesting_limit()) from None
    found = _root(document, kind)
    return found, _validated(found, document[found])


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} is given twice in one object")
        seen[key] = value
    return seen


def _root(document: object, kind: str | None) -> str:
    """The kind of document by its root key (besides an optional ``$schema``)."""
    kinds = [kind] if kind else list(KINDS.values())
    keys = sorted(set(document) - {"$schema"}) if isinstance(document, dict) else []
    if len(keys) == 1 and keys[0] in kinds:
        return keys[0]
    other = {ROOTS[k]: k for k in ROOTS}.get(keys[0]) if len(keys) == 1 else None
    wanted = " or ".join(f"{{{ROOTS[k]!r}: ...}}" for k in kinds)
    if other:
        raise InvalidInput(f"the document is an OSCAL {other}, not a {' or '.join(kinds)}: aimsgraph imports {wanted}")
    raise InvalidInput(f"the document is not an OSCAL {' or '.join(kinds)}: its root must be one object {wanted}")


def _validated(kind: str, body: object) -> Json:
    """``body`` if compliance-trestle's model of ``kind`` takes it; InvalidInput naming where not."""
    from pydantic import ValidationError

    try:
        model_class(kind).model_validate(body)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"][:12]) or kind
        raise InvalidInput(
            f"the OSCAL {kind} is not valid OSCAL ({exc.error_count()} problem{'s' if exc.error_count() > 1 else ''}): "
            f"{where}: {problem['msg']}"
        ) from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidInput(f"the OSCAL {kind} is not valid OSCAL: {exc}") from None
    assert isinstance(body, dict)  # the model took it
    return body


def _listed(problems: list[str]) -> str:
    more = [f"... and {len(problems) - MAX_PROBLEMS} more"] if len(problems) > MAX_PROBLEMS else []
    return "; ".join(problems[:MAX_PROBLEMS] + more)


def _canonical(item: Json) -> str | None:
    """The first ``rel="canonical"`` link of an object that is an absolute IRI."""
    for link in item.get("links", []):
        if link.get("rel") == "canonical" and is_absolute_iri(link.get("href", "")):
            return str(link["href"])
    return None


def _subjects(quads: Iterable[ox.Quad]) -> set[str]:
    """The IRIs among the subjects of ``quads``."""
    return {q.subject.value for q in quads if isinstance(q.subject, ox.NamedNode)}


def _exists(store: GraphStore, iri: str, cls: str) -> bool:
    return next(iter(store.quads(ox.NamedNode(iri), TYPE, ox.NamedNode(cls), None)), None) is not None


# -- catalogs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A group or control of a catalog, in document order."""

    id: str
    title: str
    group: bool
    parent: str | None  # the id of the group or control it is in
    canonical: str | None
    notation: str | None
    prose: str


@dataclass
class CatalogImport:
    """What a catalog means for a store: the change, and how its entries were taken."""

    delta: changes.Delta
    scheme: str
    title: str
    known: bool  # the catalog is a catalogue the record holds already
    entries: int
    matched: int = 0
    titles_differing: list[str] = field(default_factory=list)

    def as_dict(self) -> Json:
        return {
            "kind": "catalog",
            "scheme": self.scheme,
            "title": self.title,
            "framework": "known" if self.known else "imported",
            "groupsAndControls": self.entries,
            "matched": self.matched,
            "titlesDiffering": self.titles_differing,
            "triplesAdded": len(self.delta.added),
            "triplesRemoved": len(self.delta.removed),
        }

    def summary(self) -> str:
        return summary(self.as_dict())


def import_catalog(store: GraphStore, catalog: Json) -> CatalogImport:
    """What importing the (read) OSCAL ``catalog`` into ``store`` changes (module docstring)."""
    entries = list(_entries(catalog))
    _check_unique(entries)
    title = str(catalog["metadata"]["title"])
    scheme = _canonical(catalog["metadata"])
    if scheme is not None and _exists(store, scheme, SKOS + "ConceptScheme"):
        return _match(store, scheme, title, entries)
    if not entries:
        raise NothingRecognised("the OSCAL catalog has no groups and no controls: there is nothing to import")
    scheme = CATALOG_BASE + str(uuid.UUID(catalog["uuid"]))
    quads = list(_scheme_quads(scheme, catalog["metadata"])) + [q for e in entries for q in _entry_quads(store, scheme, e)]
    owned = {scheme} | _subjects(store.quads(None, ox.NamedNode(SKOS + "inScheme"), ox.NamedNode(scheme), DATA))
    old = {q for s in owned for q in store.quads(ox.NamedNode(s), None, None, DATA)}
    new = set(quads)
    return CatalogImport(changes.Delta(removed=old - new, added=new - old), scheme, title, False, len(entries))


def _entries(catalog: Json) -> Iterator[Entry]:
    for group in catalog.get("groups", []):
        yield from _walk(group, True, None)
    for control in catalog.get("controls", []):
        yield from _walk(control, False, None)


def _walk(item: Json, group: bool, parent: str | None) -> Iterator[Entry]:
    """The entry of a group or control, then those in it (nesting is bounded by the nesting limit)."""
    ident = item.get("id") or ""
    label = next((str(p["value"]) for p in item.get("props", []) if p.get("name") == "label" and "ns" not in p), None)
    part = "overview" if group else "statement"
    prose = "\n".join(_prose(p) for p in item.get("parts", []) if p.get("name") == part).strip()
    yield Entry(ident, str(item.get("title", "")), group, parent, _canonical(item), label, prose)
    for sub in item.get("groups", []):
        yield from _walk(sub, True, ident or parent)
    for control in item.get("controls", []):
        yield from _walk(control, False, ident or parent)


def _prose(part: Json) -> str:
    """A part's prose, and its sub-parts' (a statement's items), one a line."""
    return "\n".join(filter(None, [str(part.get("prose", "")).strip(), *(_prose(p) for p in part.get("parts", []))]))


def _check_unique(entries: list[Entry]) -> None:
    """Every control and group of a catalog to import has an id of its own (OSCAL asks it; the
    IRIs are made from them)."""
    seen: set[str] = set()
    problems = []
    for entry in entries:
        if not entry.id:
            if not entry.group:
                problems.append(f"a control titled {entry.title!r} has no id")
        elif entry.id in seen:
            problems.append(f"the id {entry.id!r} is given twice")
        seen.add(entry.id)
    if problems:
        raise InvalidInput(f"the OSCAL catalog cannot be imported: {_listed(problems)}")


def _match(store: GraphStore, scheme: str, title: str, entries: list[Entry]) -> CatalogImport:
    """A catalog of a scheme the record holds: each entry is one of its concepts, or refused."""
    by_id = {control_id(iri): iri for iri in _concepts_of(store, scheme)}
    matched, differing, missing = 0, [], []
    for entry in entries:
        concept = entry.canonical if entry.canonical and _exists(store, entry.canonical, SKOS + "Concept") else None
        if concept is None and not entry.canonical and not entry.group:
            concept = by_id.get(entry.id)
        if concept is None:
            if entry.canonical or not entry.group:  # a group without a link only arranges the document
                missing.append(entry.id or entry.title)
            continue
        matched += 1
        labels = _labels(store, concept)
        if entry.title and labels and entry.title not in labels:
            differing.append(entry.id)
    if missing:
        raise InvalidInput(
            f"the OSCAL catalog is the record's catalogue <{scheme}> (its metadata's canonical link), but "
            f"{len(missing)} of its groups and controls are not in it: {_listed(missing)}. aimsgraph adds nothing to "
            "its reference catalogues; remove that link to import the catalog as a framework of its own"
        )
    return CatalogImport(changes.Delta(), scheme, title, True, len(entries), matched, differing)


def _concepts_of(store: GraphStore, scheme: str) -> list[str]:
    found = store.quads(None, ox.NamedNode(SKOS + "inScheme"), ox.NamedNode(scheme), None)
    return sorted({q.subject.value for q in found if isinstance(q.subject, ox.NamedNode)})


def _labels(store: GraphStore, concept: str) -> set[str]:
    return {term_text(q.object) for q in store.quads(ox.NamedNode(concept), ox.NamedNode(SKOS + "prefLabel"), None, None)}


def _entry_iri(scheme: str, ident: str) -> str:
    return scheme + "/" + quote(ident, safe="")


def _literal(text: object) -> ox.Literal:
    return ox.Literal(str(text))


def _scheme_quads(scheme: str, metadata: Json) -> Iterator[ox.Quad]:
    node = ox.NamedNode(scheme)
    yield ox.Quad(node, TYPE, ox.NamedNode(SKOS + "ConceptScheme"), DATA)
    for predicate, value in (
        (SKOS + "prefLabel", metadata["title"]),
        (RDFS + "label", metadata["title"]),
        (OWL + "versionInfo", metadata.get("version")),
        (DCT + "rights", metadata.get("remarks")),
    ):
        if value:
            yield ox.Quad(node, ox.NamedNode(predicate), _literal(value), DATA)
    yield ox.Quad(node, ox.NamedNode(DCT + "identifier"), _literal(scheme.removeprefix(CATALOG_BASE)), DATA)


def _entry_quads(store: GraphStore, scheme: str, entry: Entry) -> Iterator[ox.Quad]:
    """A group or control as a concept of the imported scheme (module docstring)."""
    if not entry.id:  # a group without an id (OSCAL allows it): its controls go to the group above
        return
    node, scheme_node = ox.NamedNode(_entry_iri(scheme, entry.id)), ox.NamedNode(scheme)
    notation = entry.notation or entry.id
    yield ox.Quad(node, TYPE, ox.NamedNode(SKOS + "Concept"), DATA)
    yield ox.Quad(node, TYPE, ox.NamedNode(AIMS + "LegalProvision"), DATA)
    yield ox.Quad(node, ox.NamedNode(SKOS + "inScheme"), scheme_node, DATA)
    yield ox.Quad(node, ox.NamedNode(DCT + "identifier"), _literal(entry.id), DATA)
    yield ox.Quad(node, ox.NamedNode(SKOS + "notation"), _literal(notation), DATA)
    if entry.title:
        yield ox.Quad(node, ox.NamedNode(SKOS + "prefLabel"), _literal(entry.title), DATA)
    yield ox.Quad(node, ox.NamedNode(RDFS + "label"), _literal(f"{notation} {entry.title}".strip()), DATA)
    if entry.prose:
        yield ox.Quad(node, ox.NamedNode(SKOS + "definition"), _literal(entry.prose), DATA)
    if entry.parent:
        yield ox.Quad(node, ox.NamedNode(SKOS + "broader"), ox.NamedNode(_entry_iri(scheme, entry.parent)), DATA)
    else:
        yield ox.Quad(node, ox.NamedNode(SKOS + "topConceptOf"), scheme_node, DATA)
        yield ox.Quad(scheme_node, ox.NamedNode(SKOS + "hasTopConcept"), node, DATA)
    if entry.canonical and _exists(store, entry.canonical, SKOS + "Concept"):  # one of ours, by its own link
        yield ox.Quad(node, ox.NamedNode(SKOS + "exactMatch"), ox.NamedNode(entry.canonical), DATA)


# -- profiles ------------------------------------------------------------------------------------


@dataclass
class ProfileImport:
    """What a profile means for the Statement of Applicability: the change, and its decisions."""

    delta: changes.Delta
    soa: str
    applicable: int
    excluded: int
    changed: list[str]  # the control ids whose entries change
    created: list[str]  # the control ids whose entries are new

    def as_dict(self) -> Json:
        return {
            "kind": "profile",
            "statementOfApplicability": self.soa,
            "applicable": self.applicable,
            "excluded": self.excluded,
            "entriesChanged": self.changed,
            "entriesCreated": self.created,
            "triplesAdded": len(self.delta.added),
            "triplesRemoved": len(self.delta.removed),
        }

    def summary(self) -> str:
        return summary(self.as_dict())


def summary(report: Json) -> str:
    """A catalog's or profile's import report (``as_dict``, or the API's ``report``) as a line."""
    counts = f"{report['triplesAdded']} triples added, {report['triplesRemoved']} removed"
    if report["kind"] == "catalog":
        if report["framework"] == "known":
            differing = report["titlesDiffering"]
            titles = f"; titles differing from the record's: {', '.join(differing)}" if differing else ""
            return (
                f"{report['title']}: the record's catalogue <{report['scheme']}>, {report['matched']} of "
                f"{report['groupsAndControls']} groups and controls matched, nothing written{titles}\n"
            )
        return f"{report['title']}: {report['groupsAndControls']} groups and controls as <{report['scheme']}>, {counts}\n"
    what = f"{report['applicable']} Annex A controls applicable, {report['excluded']} excluded"
    entries = ", ".join(report["entriesChanged"] + [f"{i} (new)" for i in report["entriesCreated"]])
    return f"<{report['statementOfApplicability']}>: {what}; " + (
        f"entries changed: {entries}; {counts}\n" if entries else "nothing changed\n"
    )


@dataclass
class _Decision:
    """What the profile says of one Annex A control."""

    applicable: bool
    justification: str | None = None
    status: str | None = None  # an IRI


@dataclass(frozen=True)
class _Stored:
    """A Statement of Applicability entry as the record has it."""

    entry: str
    applicable: str | None  # "true", "false", or None when undecided


SOA_ENTRIES = """SELECT ?entry ?id ?applicable WHERE {{
  <{soa}> aims:hasEntry ?entry . ?entry aims:forControl ?control .
  ?control a aims:ReferenceControl ; skos:notation ?id .
  OPTIONAL {{ ?entry aims:applicable ?applicable }} }}"""


def import_profile(store: GraphStore, profile: Json) -> ProfileImport:
    """What importing the (read) OSCAL ``profile`` into ``store`` changes (module docstring)."""
    annex = _annex_a(store)
    soa = _statement(store, profile["metadata"])
    decisions = _decisions(store, profile, annex)
    stored = _stored(store, soa)
    quads: list[ox.Quad] = []
    replaced: set[tuple[ox.NamedNode, ox.NamedNode]] = set()
    problems: list[str] = []
    created: list[str] = []
    for ident, decision in decisions.items():
        before = stored.get(ident)
        if before is None:
            created.append(ident)
            before = _Stored(soa + "/" + quote(ident, safe=""), None)
            quads += _new_entry(store, soa, before.entry, annex[ident], ident)
        problem = _unjustified(ident, decision, before)
        if problem:
            problems.append(problem)
            continue
        quads += _decision_quads(before.entry, decision, replaced)
    if problems:
        raise InvalidInput(f"the OSCAL profile cannot be imported as the Statement of Applicability: {_listed(problems)}")
    delta = changes.upsert(store, keep_stored(store, quads), replaced).exact(store)
    touched = _subjects(delta.added | delta.removed)
    changed = [i for i in decisions if i not in created and stored[i].entry in touched]
    applicable = sum(d.applicable for d in decisions.values())
    return ProfileImport(delta, soa, applicable, len(decisions) - applicable, changed, created)


def _annex_a(store: GraphStore) -> dict[str, str]:
    """The Annex A reference controls by notation."""
    rows = store.query(sparql_prefixes("aims", "skos") + "SELECT ?c ?id WHERE { ?c a aims:ReferenceControl ; skos:notation ?id }")
    return {row["id"].value: row["c"].value for row in rows}


def _statement(store: GraphStore, metadata: Json) -> str:
    """The SoA the profile decides: the one its canonical link names, else the record's only one."""
    statements = store.quads(None, TYPE, ox.NamedNode(AIMS + "StatementOfApplicability"), DATA)
    found = sorted({q.subject.value for q in statements if isinstance(q.subject, ox.NamedNode)})
    named = _canonical(metadata)
    if named in found:
        return str(named)
    if len(found) == 1:
        return found[0]
    if not found:
        raise InvalidInput(
            "the record has no Statement of Applicability (aims:StatementOfApplicability in the data graph) for "
            "the profile to decide: record one, linked from the AI management system, first"
        )
    raise InvalidInput(
        f"the record has {len(found)} Statements of Applicability ({', '.join(found)}): name the one the profile "
        'decides with a metadata link {"rel": "canonical", "href": IRI}'
    )


def _decisions(store: GraphStore, profile: Json, annex: dict[str, str]) -> dict[str, _Decision]:
    """Every Annex A control's decision, in Annex A order; InvalidInput listing every id that is
    no Annex A control and every contradiction, NothingRecognised if the profile names none."""
    problems: list[str] = []
    selected = _selected(profile, annex, problems)
    exclusions = _exclusions(profile["metadata"], annex, problems)
    adds = _adds(store, profile, annex, problems)
    for ident in sorted(selected & set(exclusions)):
        problems.append(f"{ident} is both selected and excluded (a soa-exclusion property)")
    for ident in sorted(set(adds) - selected):
        problems.append(f"{ident} is not selected, but the profile adds a justification or status to it")
    if not selected and not exclusions and problems:
        raise NothingRecognised(
            f"the OSCAL profile decides none of the ISO/IEC 42001 Annex A controls ({_listed(problems)}); aimsgraph "
            "imports a profile of its ISO/IEC 42001 catalog as the decisions of the Statement of Applicability"
        )
    if problems:
        raise InvalidInput(f"the OSCAL profile cannot be imported: {_listed(problems)}")
    decisions = {}
    for ident in sorted(annex, key=_annex_order):
        justification, status = adds.get(ident, (None, None))
        if ident in selected:
            decisions[ident] = _Decision(True, justification, status)
        else:
            decisions[ident] = _Decision(False, exclusions.get(ident))
    return decisions


def _annex_order(ident: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in ident.split("."))


def _selected(profile: Json, annex: dict[str, str], problems: list[str]) -> set[str]:
    """The controls the imports select: included (all, by id or by pattern) and not excluded."""
    selected: set[str] = set()
    for number, imported in enumerate(profile["imports"], start=1):
        included = set(annex) if "include-all" in imported else set()
        for selection in imported.get("include-controls", []):
            included |= _chosen(selection, annex, problems, f"imports[{number}].include-controls")
        for selection in imported.get("exclude-controls", []):
            included -= _chosen(selection, annex, problems, f"imports[{number}].exclude-controls")
        selected |= included
    return selected


def _chosen(selection: Json, annex: dict[str, str], problems: list[str], where: str) -> set[str]:
    chosen = set()
    for ident in selection.get("with-ids", []):
        if ident in annex:
            chosen.add(ident)
        else:
            problems.append(f"{where} names {ident!r}, which is no Annex A control")
    for matching in selection.get("matching", []):
        found = {i for i in annex if fnmatch.fnmatchcase(i, str(matching.get("pattern", "")))}
        if not found:
            problems.append(f"{where} matches no Annex A control with {matching.get('pattern')!r}")
        chosen |= found
    return chosen


def _exclusions(metadata: Json, annex: dict[str, str], problems: list[str]) -> dict[str, str | None]:
    """The ``soa-exclusion`` properties: control id -> its justification (None: not recorded)."""
    found: dict[str, str | None] = {}
    for prop in metadata.get("props", []):
        if prop.get("class") != "soa-exclusion":
            continue
        ident, why = str(prop["value"]), str(prop.get("remarks", "")).strip()
        if ident not in annex:
            problems.append(f"the soa-exclusion property names {ident!r}, which is no Annex A control")
        elif ident in found:
            problems.append(f"{ident} is excluded twice")
        else:
            found[ident] = why if why and why != NO_JUSTIFICATION else None
    return found


def _adds(
    store: GraphStore, profile: Json, annex: dict[str, str], problems: list[str]
) -> dict[str, tuple[str | None, str | None]]:
    """What ``modify/alters`` add to each control: (justification, implementation status IRI)."""
    statuses = _statuses(store)
    found: dict[str, tuple[str | None, str | None]] = {}
    for alter in profile.get("modify", {}).get("alters", []):
        ident = str(alter.get("control-id", ""))
        if ident not in annex:
            problems.append(f"modify.alters names {ident!r}, which is no Annex A control")
            continue
        justification, status = found.get(ident, (None, None))
        for add in alter.get("adds", []):
            for part in add.get("parts", []):
                if part.get("name") == "justification" and str(part.get("prose", "")).strip():
                    justification = _once(ident, "justification", justification, str(part["prose"]).strip(), problems)
            for prop in add.get("props", []):
                if prop.get("name") == "implementation-status" and prop.get("ns", NS) == NS:
                    value = _status(ident, str(prop["value"]), statuses, problems)
                    status = _once(ident, "implementation status", status, value, problems) if value else status
        found[ident] = (justification, status)
    return found


def _once(ident: str, what: str, before: str | None, value: str, problems: list[str]) -> str:
    if before is not None and before != value:
        problems.append(f"{ident} is given two different {what}s")
    return value


def _statuses(store: GraphStore) -> dict[str, str]:
    """Implementation statuses by local name (as the exporter writes them) and OSCAL state."""
    found = _subjects(store.quads(None, TYPE, ox.NamedNode(AIMS + "ImplementationStatus"), None))
    ours = {iri.removeprefix(AIMS): iri for iri in found if iri.startswith(AIMS)}
    return ours | {state: ours[name] for state, name in OSCAL_STATUSES.items() if name in ours}


def _status(ident: str, value: str, statuses: dict[str, str], problems: list[str]) -> str | None:
    if value == "unrecorded":  # the exporter's word for a row without a status: leave it so
        return None
    if value not in statuses:
        problems.append(f"{ident} has the implementation-status {value!r}, not one of {', '.join(sorted(statuses))}")
        return None
    return statuses[value]


def _stored(store: GraphStore, soa: str) -> dict[str, _Stored]:
    rows = store.query(sparql_prefixes("aims", "skos") + SOA_ENTRIES.format(soa=soa))
    found: dict[str, _Stored] = {}
    for row in rows:
        applicable = row["applicable"].value if row["applicable"] is not None else None
        found.setdefault(row["id"].value, _Stored(row["entry"].value, applicable))
    return found


def _unjustified(ident: str, decision: _Decision, before: _Stored) -> str | None:
    """The problem with a decision that changes (or is new) without a justification of its own:
    a justification of the other decision would stand beside it."""
    was = {"true": True, "false": False}.get(before.applicable or "")
    if decision.justification is not None or was == decision.applicable:
        return None
    if decision.applicable:
        return f"{ident} becomes applicable without a justification (add a part named justification to it in modify.alters)"
    return (
        f"{ident} becomes excluded without a justification (add to metadata.props "
        f'{{"name": "excluded-control", "ns": "{NS}", "class": "soa-exclusion", "value": "{ident}", "remarks": WHY}})'
    )


def _new_entry(store: GraphStore, soa: str, entry: str, control: str, ident: str) -> list[ox.Quad]:
    """An entry for an Annex A control the SoA has no row for."""
    node = ox.NamedNode(entry)
    title = next(
        (term_text(q.object) for q in store.quads(ox.NamedNode(control), ox.NamedNode(SKOS + "prefLabel"), None, None)), ""
    )
    return [
        ox.Quad(ox.NamedNode(soa), ox.NamedNode(AIMS + "hasEntry"), node, DATA),
        ox.Quad(node, TYPE, ox.NamedNode(AIMS + "ApplicabilityEntry"), DATA),
        ox.Quad(node, ox.NamedNode(RDFS + "label"), _literal(f"SoA {ident} {title}".strip()), DATA),
        ox.Quad(node, ox.NamedNode(AIMS + "forControl"), ox.NamedNode(control), DATA),
    ]


def _decision_quads(entry: str, decision: _Decision, replaced: set[tuple[ox.NamedNode, ox.NamedNode]]) -> list[ox.Quad]:
    """The entry's decision; each value given replaces the entry's own (``replaced``)."""
    node = ox.NamedNode(entry)
    values: list[tuple[str, ox.Literal | ox.NamedNode]] = [
        ("applicable", ox.Literal("true" if decision.applicable else "false", datatype=ox.NamedNode(XSD_BOOLEAN)))
    ]
    if decision.justification is not None:
        values.append(("justification", _literal(decision.justification)))
    if decision.status is not None:
        values.append(("implementationStatus", ox.NamedNode(decision.status)))
    quads = []
    for name, value in values:
        predicate = ox.NamedNode(AIMS + name)
        replaced.add((node, predicate))
        quads.append(ox.Quad(node, predicate, value, DATA))
    return quads
