"""MITRE ATLAS into the atlas named graph (``aimsgraph import atlas``, ``POST /api/import?kind=atlas``).

This module owns reading ATLAS's compiled YAML (``dist/ATLAS.yaml`` of mitre-atlas/atlas-data;
a copy ships in ``data/atlas/``) and writing its tactics, techniques, sub-techniques and
mitigations into ``Graphs.ATLAS`` as aims: terms: ``aims:ThreatTactic``, ``aims:ThreatTechnique``
(both risk sources), ``aims:ReferenceMitigation``, linked by ``aims:achievesTactic``,
``aims:subTechniqueOf`` and ``aims:mitigatesTechnique``. Nothing else writes that graph. Each
entry gets the IRI ``https://w3id.org/aimsgraph/atlas/<ATLAS id>``.

Only what the file states is written: a sub-technique's tactics are its parent's, and ATLAS
lists them on the parent only, so they are not repeated here. Case studies, mitigation
categories and life-cycle stages, and the text of how a mitigation applies to one technique
are not imported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

import pyoxigraph as ox

from aimsgraph.errors import InvalidInput
from aimsgraph.interop.importers import NothingRecognised, read_yaml
from aimsgraph.namespaces import (
    AIMS,
    ATLAS_BASE,
    DCT,
    IDENTIFIER,
    LABEL,
    OWL,
    RDFS,
    SKOS,
    TYPE,
    XSD_DATE,
    Graphs,
    is_absolute_iri,
)
from aimsgraph.store import GraphStore
from aimsgraph.store.changes import Change, Delta, local_writer

SCHEME = ox.NamedNode(ATLAS_BASE + "ATLAS")
WEBSITE = "https://atlas.mitre.org/"  # ATLAS's own links are relative to it: /techniques/AML.T0005
SOURCE = ox.NamedNode("https://github.com/mitre-atlas/atlas-data")
LICENCE = ox.NamedNode("https://www.apache.org/licenses/LICENSE-2.0")

#: ATLAS ids become IRI path segments, so anything else is refused rather than escaped.
ATLAS_ID = re.compile(r"AML\.[A-Z]+[0-9]+(?:\.[0-9]+)*")  # used with fullmatch

SEE_ALSO = ox.NamedNode(RDFS + "seeAlso")
IN_SCHEME = ox.NamedNode(SKOS + "inScheme")
DESCRIPTION = ox.NamedNode(DCT + "description")
CREATED, MODIFIED = ox.NamedNode(DCT + "created"), ox.NamedNode(DCT + "modified")


def _aims(local: str) -> ox.NamedNode:
    return ox.NamedNode(AIMS + local)


@dataclass(frozen=True)
class AtlasReport:
    """What the file holds and what the import changed. Links are counted once per distinct
    pair. ``added``, ``removed`` and ``change`` are the audit trail's record of the change (0, 0
    and None when the graph already held the file); two imports of one file compare equal."""

    version: str
    tactics: int
    techniques: int  # top-level techniques, without their sub-techniques
    subtechniques: int
    mitigations: int
    tactic_links: int  # technique -> tactic
    mitigation_links: int  # mitigation -> technique
    triples: int  # in the atlas graph after the import
    added: int = field(default=0, compare=False)
    removed: int = field(default=0, compare=False)
    change: str | None = field(default=None, compare=False)

    def summary(self) -> str:
        return (
            f"MITRE ATLAS {self.version}: {self.tactics} tactics, {self.techniques} techniques and "
            f"{self.subtechniques} sub-techniques, {self.mitigations} mitigations\n"
            f"{self.tactic_links} technique-tactic links, {self.mitigation_links} mitigation-technique links; "
            f"{self.triples} triples into <{Graphs.ATLAS}>, {self.added} added, {self.removed} removed"
            + (f" ({self.change})" if self.change else "")
        )

    def as_dict(self) -> dict:
        return {_camel(name): value for name, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> AtlasReport:
        """The report :meth:`as_dict` gave (the command line prints what a running service answered)."""
        return cls(**{name: data[_camel(name)] for name in cls.__dataclass_fields__})


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


@dataclass(frozen=True)
class _Atlas:
    """The checked content of an ATLAS file: entries by id, in file order."""

    name: str
    version: str
    tactics: dict[str, dict]
    techniques: dict[str, dict]
    mitigations: dict[str, dict]

    def tactic_links(self) -> set[tuple[str, str]]:
        return {(t["id"], tactic) for t in self.techniques.values() for tactic in t.get("tactics", [])}

    def mitigation_links(self) -> set[tuple[str, str]]:
        return {(m["id"], technique) for m in self.mitigations.values() for technique in _technique_ids(m)}

    def report(self, triples: int) -> AtlasReport:
        subtechniques = sum(1 for t in self.techniques.values() if "subtechnique-of" in t)
        return AtlasReport(
            self.version,
            len(self.tactics),
            len(self.techniques) - subtechniques,
            subtechniques,
            len(self.mitigations),
            len(self.tactic_links()),
            len(self.mitigation_links()),
            triples,
        )


class _NotAtlas(Exception):
    """The YAML parsed but is not shaped like ATLAS; the message says where."""


class _Unrecognised(_NotAtlas):
    """Not even ATLAS's outline (a version and matrices of tactics and techniques): another
    kind of file, which :class:`NothingRecognised` reports."""


def import_atlas(store: GraphStore, source: Path | bytes, write: Callable[[Delta], Change | None] | None = None) -> AtlasReport:
    """Replace the atlas graph with the content of an ATLAS YAML file (or request body).

    The whole file is read and checked before the one change, so bad input raises
    :class:`InvalidInput` (:class:`NothingRecognised` for YAML that is not ATLAS at all) and
    leaves the store as it was; ``write`` commits the change and returns it (default:
    ``changes.commit`` as the local user; the CLI's writer also refreshes the inferred graph,
    which is what types tactics and techniques as ``aims:RiskSource``).
    """
    name = str(source) if isinstance(source, Path) else "the upload"
    try:
        atlas = _check(read_yaml(source, name))
    except _NotAtlas as exc:
        error = NothingRecognised if isinstance(exc, _Unrecognised) else InvalidInput
        raise error(f"{name}: not an ATLAS file: {exc}") from None
    triples = list(dict.fromkeys(_triples(atlas)))  # ATLAS repeats a few mitigation links
    graph = ox.NamedNode(Graphs.ATLAS)
    wanted = {ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples}
    current = set(store.quads(None, None, None, graph))
    change = (write or local_writer(store, "import-atlas"))(Delta(removed=current - wanted, added=wanted - current))
    report = atlas.report(len(triples))
    return replace(report, added=change.added, removed=change.removed, change=change.iri) if change else report


# -- reading and checking ------------------------------------------------------------------


def _check(document: object) -> _Atlas:
    if not isinstance(document, dict) or "matrices" not in document or "version" not in document:
        raise _Unrecognised("expected a mapping with 'version' and 'matrices' at the top")
    matrices = document["matrices"]
    if not isinstance(matrices, list) or not matrices or not all(isinstance(m, dict) for m in matrices):
        raise _Unrecognised("'matrices' is not a non-empty list of mappings")
    # Later ATLAS releases may split the matrix; an entry listed in several is the same entry.
    tactics, techniques, mitigations = (
        {entry["id"]: entry for matrix in matrices for entry in _entries(matrix, key)}
        for key in ("tactics", "techniques", "mitigations")
    )
    if not tactics or not techniques:
        raise _Unrecognised("no tactics or no techniques")
    if not _text(document["version"]):
        raise _NotAtlas("'version' is empty")
    _check_references(tactics, techniques, mitigations)
    return _Atlas(_text(document.get("name")) or "MITRE ATLAS", _text(document["version"]), tactics, techniques, mitigations)


def _entries(matrix: dict, key: str) -> list[dict]:
    entries = matrix.get(key, [])
    if not isinstance(entries, list):
        raise _NotAtlas(f"'{key}' of matrix {_short(matrix.get('id', '(no id)'))} is not a list")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not ATLAS_ID.fullmatch(entry["id"]):
            raise _NotAtlas(f"an entry of '{key}' has no ATLAS id such as AML.T0043: {_short(entry)}")
        if not _text(entry.get("name")):
            raise _NotAtlas(f"{entry['id']} has no name")
    return entries


def _check_references(tactics: dict, techniques: dict, mitigations: dict) -> None:
    for technique in techniques.values():
        tactic_ids = technique.get("tactics", [])
        if not isinstance(tactic_ids, list):
            raise _NotAtlas(f"the tactics of {technique['id']} are not a list")
        _require_known(technique["id"], "tactic", tactic_ids, tactics)
        if "subtechnique-of" in technique:
            _require_known(technique["id"], "parent technique", [technique["subtechnique-of"]], techniques)
    for mitigation in mitigations.values():
        if not isinstance(mitigation.get("techniques", []), list):
            raise _NotAtlas(f"the techniques of {mitigation['id']} are not a list")
        _require_known(mitigation["id"], "technique", _technique_ids(mitigation), techniques)


def _require_known(owner: str, what: str, ids: list, known: dict) -> None:
    for ident in ids:
        if not isinstance(ident, str) or ident not in known:
            raise _NotAtlas(f"{owner} names {what} {_short(ident)}, which the file does not define")


def _technique_ids(mitigation: dict) -> list:
    # ATLAS gives {id, use} per technique; a bare id is accepted too.
    return [t.get("id") if isinstance(t, dict) else t for t in mitigation.get("techniques", [])]


def _text(value: object) -> str:
    return str(value).strip() if isinstance(value, (str, int, float)) else ""


def _short(value: object) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


# -- triples -------------------------------------------------------------------------------


def _iri(ident: str) -> ox.NamedNode:
    return ox.NamedNode(ATLAS_BASE + ident)


def _triples(atlas: _Atlas) -> Iterator[ox.Triple]:
    yield from _scheme(atlas)
    for tactic in atlas.tactics.values():
        yield from _entry(tactic, _aims("ThreatTactic"), "tactics")
    for technique in atlas.techniques.values():
        yield from _entry(technique, _aims("ThreatTechnique"), "techniques")
        yield from _technique_links(technique)
    for mitigation in atlas.mitigations.values():
        yield from _entry(mitigation, _aims("ReferenceMitigation"), "mitigations")
        for technique_id in _technique_ids(mitigation):
            yield ox.Triple(_iri(mitigation["id"]), _aims("mitigatesTechnique"), _iri(technique_id))


def _scheme(atlas: _Atlas) -> Iterator[ox.Triple]:
    yield ox.Triple(SCHEME, TYPE, ox.NamedNode(SKOS + "ConceptScheme"))
    yield ox.Triple(SCHEME, LABEL, ox.Literal(f"MITRE ATLAS: {atlas.name}", language="en"))
    yield ox.Triple(SCHEME, ox.NamedNode(OWL + "versionInfo"), ox.Literal(atlas.version))
    yield ox.Triple(SCHEME, ox.NamedNode(DCT + "source"), SOURCE)
    yield ox.Triple(SCHEME, ox.NamedNode(DCT + "license"), LICENCE)
    yield ox.Triple(SCHEME, SEE_ALSO, ox.NamedNode(WEBSITE))


def _entry(entry: dict, cls: ox.NamedNode, kind: str) -> Iterator[ox.Triple]:
    node = _iri(entry["id"])
    yield ox.Triple(node, TYPE, cls)
    yield ox.Triple(node, IN_SCHEME, SCHEME)
    yield ox.Triple(node, IDENTIFIER, ox.Literal(entry["id"]))
    yield ox.Triple(node, LABEL, ox.Literal(_text(entry["name"]), language="en"))
    if _text(entry.get("description")):
        yield ox.Triple(node, DESCRIPTION, ox.Literal(str(entry["description"]), language="en"))
    for predicate, key in ((CREATED, "created_date"), (MODIFIED, "modified_date")):
        if isinstance(entry.get(key), date):
            yield ox.Triple(node, predicate, _date(entry[key]))
    for url in [f"{WEBSITE}{kind}/{entry['id']}", *_urls(entry)]:
        yield ox.Triple(node, SEE_ALSO, ox.NamedNode(url))


def _technique_links(technique: dict) -> Iterator[ox.Triple]:
    node = _iri(technique["id"])
    for tactic_id in technique.get("tactics", []):
        yield ox.Triple(node, _aims("achievesTactic"), _iri(tactic_id))
    if "subtechnique-of" in technique:
        yield ox.Triple(node, _aims("subTechniqueOf"), _iri(technique["subtechnique-of"]))
    if _text(technique.get("maturity")):
        yield ox.Triple(node, _aims("techniqueMaturity"), ox.Literal(_text(technique["maturity"])))


def _urls(entry: dict) -> list[str]:
    """The ATT&CK page an entry adapts and its references: pointers only, so a URL that is not
    a valid IRI is left out rather than failing the import."""
    references = entry.get("references")
    pointers = [entry.get("ATT&CK-reference"), *(references if isinstance(references, list) else [])]
    urls = [p.get("url") for p in pointers if isinstance(p, dict)]
    return [u.strip() for u in urls if isinstance(u, str) and is_absolute_iri(u.strip()) and _valid_iri(u.strip())]


def _valid_iri(url: str) -> bool:
    try:
        ox.NamedNode(url)
    except ValueError:
        return False
    return True


def _date(value: date) -> ox.Literal:
    day = value.date() if isinstance(value, datetime) else value
    return ox.Literal(day.isoformat(), datatype=ox.NamedNode(XSD_DATE))
