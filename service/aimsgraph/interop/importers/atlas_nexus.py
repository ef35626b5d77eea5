"""IBM AI Atlas Nexus risk taxonomies into the taxonomies named graph (``aimsgraph import atlas-nexus``).

AI Atlas Nexus (https://github.com/IBM/ai-atlas-nexus) publishes risk taxonomies as LinkML YAML
(``ai_atlas_nexus/data/knowledge_graph/*.yaml``). This module reads six of its files (a copy of
release 1.2.5 ships in ``data/atlas-nexus/``, the two OWASP files in ``data/atlas-nexus/owasp/``
because of their licence; a directory laid out like the package, all six side by side, is read
too) and writes six taxonomies into ``Graphs.TAXONOMIES``:

- ``nist-ai-rmf``: the 12 risks of NIST AI 600-1 (the Generative AI Profile of the AI RMF) and
  its suggested actions (``GV-1.2-002`` ...), from ``nist_ai_rmf_data.yaml`` and
  ``nist_ai_rmf_actions_data.yaml``;
- ``ibm-risk-atlas``: the IBM AI Risk Atlas, ``risk_atlas_data.yaml``;
- ``mit-ai-risk-repository`` (the Domain Taxonomy) and ``mit-ai-risk-repository-causal`` (the
  Causal Taxonomy) of the MIT AI Risk Repository, ``mit_ai_risk_repository_data.yaml``;
- ``owasp-llm-2.0`` (OWASP Top 10 for LLM Applications 2025) and ``owasp-asi`` (OWASP Top 10 for
  Agentic Applications), ``owasp_llm_2.0_data.yaml`` and ``owasp_asi_data.yaml``.

RDF model (the terms of our own are declared in ``ontology/taxonomies.ttl``):

- each taxonomy is a ``skos:ConceptScheme`` at ``TAXONOMY_BASE + <taxonomy id>`` (the id the file
  gives, e.g. ``https://w3id.org/aimsgraph/taxonomy/ibm-risk-atlas``) with ``dct:title`` and
  ``rdfs:label`` (its name), ``dct:description``, ``dct:source`` (the upstream URL the file
  names), ``dct:hasVersion`` and ``owl:versionInfo`` (the version the file states; where it states
  none, ``ai-atlas-nexus <release>``), ``dct:license`` (an IRI) and ``dct:rights`` (who published
  it under which terms: the files state no licence, so :data:`TAXONOMIES` holds them),
  ``dct:created``/``dct:modified`` (the file's dates), ``rdfs:seeAlso`` (the documents it cites)
  and ``prov:wasDerivedFrom`` (the ai-atlas-nexus release on PyPI the data came through);
- each group (``groups``), risk (``entries``) and suggested action (``actions``) is a
  ``skos:Concept`` at ``TAXONOMY_BASE + <taxonomy id>/<id>``, ``skos:inScheme`` its scheme, with
  ``skos:notation`` (the upstream id), ``skos:prefLabel`` and ``rdfs:label`` (its name),
  ``skos:definition`` (the upstream description, verbatim: openly licensed, attributed through
  the scheme), ``dct:created``/``dct:modified`` and ``rdfs:seeAlso`` (its page) where the file
  has them;
- groups are ``skos:topConceptOf`` their scheme, and a risk is ``skos:broader`` its group
  (``isPartOf``); a risk in no group is a top concept itself;
- risks are ``aims:RiskSource`` as well, so that a risk of the record can cite them with
  ``aims:hasRiskSource``, except the entries of the MIT Causal Taxonomy: they are the values of
  its three facets (entity, intent, timing: "Human", "Intentional", "Pre-deployment"), with
  which risks are classified, not sources of risk;
- suggested actions are ``aims:SuggestedAction``, linked by ``aims:addressesRisk`` to each risk
  the files relate them to (an action's ``hasRelatedRisk`` and a risk's ``hasRelatedAction``:
  they agree), by ``aims:suggestedUnder`` to the NIST AI RMF 1.0 subcategory their id names
  (``GV-1.2-002`` is listed under ``NIST + "GV-1.2"``, an IRI of the NIST AI RMF catalogue),
  with ``aims:aiActorTask`` for each AI actor task the file names (as spelled there).

Not imported: the files' ``risk_type``, ``descriptor``, ``concern`` and ``tag`` of a risk, the
cross-taxonomy mappings of ``mappings/*.yaml`` (their YAML form writes every mapping in both
directions with one predicate, so a broadMatch cannot be told from a narrowMatch, and has lost
the author, justification and confidence of the SSSOM sources), and the package's other
taxonomies. The importer owns the schemes of :data:`TAXONOMIES` and every IRI under them in the
taxonomies graph: an import replaces exactly those, in one journalled change, and importing the
same files again changes nothing. Every file is read and checked before that change: a missing
file, bad YAML, an entry with no usable id or name, a reference to an undefined taxonomy, group,
risk or action, or a taxonomy whose licence is not known here raises :class:`InvalidInput`.

One defect of release 1.2.5 is repaired, and counted in the report: nine IBM AI Risk Atlas
risks name their group ``ibm-risk-atlas-robustness-Prompt-attacks`` while the group is defined
as ``ibm-risk-atlas-robustness-prompt-attacks``; a group reference that matches one group of
the taxonomy only when letter case is ignored is taken to mean that group.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

import pyoxigraph as ox

from aimsgraph.errors import InvalidInput
from aimsgraph.interop.importers import read_yaml
from aimsgraph.namespaces import (
    AIMS,
    DCT,
    HAS_VERSION,
    LABEL,
    NIST,
    OWL,
    PROV,
    RDFS,
    SKOS,
    TAXONOMY_BASE,
    TYPE,
    XSD_DATE,
    Graphs,
    is_absolute_iri,
)
from aimsgraph.store import GraphStore
from aimsgraph.store.changes import Change, Delta, local_writer

#: The ai-atlas-nexus release the shipped copy comes from.
RELEASE = "1.2.5"
#: The files read, in this order; each in the directory or in its ``owasp/`` sub-folder.
FILES = (
    "nist_ai_rmf_data.yaml",
    "nist_ai_rmf_actions_data.yaml",
    "risk_atlas_data.yaml",
    "mit_ai_risk_repository_data.yaml",
    "owasp_llm_2.0_data.yaml",
    "owasp_asi_data.yaml",
)
SUBFOLDERS = ("", "owasp")
#: The largest file read (the largest shipped one has 121 KB).
MAX_FILE_BYTES = 8 << 20

APACHE = "https://www.apache.org/licenses/LICENSE-2.0"
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
CC_BY_SA = "https://creativecommons.org/licenses/by-sa/4.0/"
PUBLIC_DOMAIN = "https://creativecommons.org/publicdomain/mark/1.0/"


@dataclass(frozen=True)
class Terms:
    """What the files do not say about a taxonomy: its licence, and whether its entries are
    risk sources."""

    licence: str
    rights: str
    risk_sources: bool = True


_MIT_RIGHTS = (
    "The AI Risk Repository (Slattery et al., MIT FutureTech, https://airisk.mit.edu), licensed under "
    "CC BY 4.0; as given in the ai-atlas-nexus package (IBM, Apache License 2.0)."
)
_OWASP_RIGHTS = (
    "{}, OWASP GenAI Security Project (https://genai.owasp.org), licensed under CC BY-SA 4.0; as given in the "
    "ai-atlas-nexus package (IBM). Data derived from it is shared under CC BY-SA 4.0 as well."
)
#: The taxonomies this importer writes, and owns in the taxonomies graph, by the id the files give.
TAXONOMIES = {
    "nist-ai-rmf": Terms(
        PUBLIC_DOMAIN,
        "NIST AI 600-1 is a work of the US Government (NIST), not subject to copyright in the United States "
        "(17 U.S.C. 105); as given in the ai-atlas-nexus package (IBM, Apache License 2.0).",
    ),
    "ibm-risk-atlas": Terms(
        APACHE, "IBM AI Risk Atlas, published by IBM in the ai-atlas-nexus package under the Apache License 2.0."
    ),
    "mit-ai-risk-repository": Terms(CC_BY, _MIT_RIGHTS),
    "mit-ai-risk-repository-causal": Terms(CC_BY, _MIT_RIGHTS, risk_sources=False),
    "owasp-llm-2.0": Terms(CC_BY_SA, _OWASP_RIGHTS.format("OWASP Top 10 for LLM Applications 2025")),
    "owasp-asi": Terms(CC_BY_SA, _OWASP_RIGHTS.format("OWASP Top 10 for Agentic Applications 2026")),
}
#: The taxonomy whose actions are NIST AI 600-1's, listed under AI RMF subcategories.
NIST_TAXONOMY = "nist-ai-rmf"

#: Ids become IRI path segments, so anything else is refused rather than escaped.
ENTRY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")  # used with fullmatch
#: A NIST AI 600-1 action id: function, category.subcategory, number (GV-1.2-002).
ACTION_ID = re.compile(r"(GV|MP|MS|MG)-([0-9]+\.[0-9]+)-[0-9]+")  # used with fullmatch
RELEASE_TEXT = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+-]{0,39}")  # used with fullmatch

IN_SCHEME, NOTATION = ox.NamedNode(SKOS + "inScheme"), ox.NamedNode(SKOS + "notation")
PREF_LABEL, DEFINITION = ox.NamedNode(SKOS + "prefLabel"), ox.NamedNode(SKOS + "definition")
BROADER, TOP_CONCEPT_OF = ox.NamedNode(SKOS + "broader"), ox.NamedNode(SKOS + "topConceptOf")
CONCEPT = ox.NamedNode(SKOS + "Concept")
SEE_ALSO = ox.NamedNode(RDFS + "seeAlso")
CREATED, MODIFIED = ox.NamedNode(DCT + "created"), ox.NamedNode(DCT + "modified")


def _aims(local: str) -> ox.NamedNode:
    return ox.NamedNode(AIMS + local)


def _dct(local: str) -> ox.NamedNode:
    return ox.NamedNode(DCT + local)


# -- the report ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TaxonomyCounts:
    """What one taxonomy holds. Links are counted once per distinct pair."""

    taxonomy: str
    title: str
    version: str
    license: str
    groups: int
    entries: int  # risks (for the MIT Causal Taxonomy: facet values)
    risk_sources: bool  # whether its entries are aims:RiskSource
    actions: int
    action_risk_links: int
    subcategory_links: int  # action -> NIST AI RMF subcategory
    subcategories: int  # distinct subcategories linked
    groups_matched_ignoring_case: int  # see the module's documentation

    def summary(self) -> str:
        parts = [f"{self.groups} groups"] if self.groups else []
        parts.append(f"{self.entries} {'risks' if self.risk_sources else 'entries'}")
        if self.actions:
            parts.append(f"{self.actions} suggested actions ({self.action_risk_links} action-risk links)")
        if self.subcategories:
            parts.append(f"{self.subcategory_links} actions under {self.subcategories} AI RMF subcategories")
        if self.groups_matched_ignoring_case:
            parts.append(f"{self.groups_matched_ignoring_case} group references matched ignoring case")
        return f"  {self.taxonomy}: {self.title}, version {self.version}: {', '.join(parts)}"


@dataclass(frozen=True)
class AtlasNexusReport:
    """What the files hold and what the import changed. ``added``, ``removed`` and ``change``
    are the audit trail's record of the change (0, 0 and None when the graph already held the
    files); two imports of the same files compare equal."""

    release: str
    taxonomies: tuple[TaxonomyCounts, ...]
    triples: int  # the triples the import owns in the taxonomies graph after it
    added: int = field(default=0, compare=False)
    removed: int = field(default=0, compare=False)
    change: str | None = field(default=None, compare=False)

    def summary(self) -> str:
        return "\n".join(
            [
                f"AI Atlas Nexus {self.release}: {len(self.taxonomies)} taxonomies",
                *(t.summary() for t in self.taxonomies),
                f"{self.triples} triples into <{Graphs.TAXONOMIES}>, {self.added} added, {self.removed} removed"
                + (f" ({self.change})" if self.change else ""),
            ]
        )

    def as_dict(self) -> dict:
        return {
            "release": self.release,
            "taxonomies": [{_camel(k): v for k, v in asdict(t).items()} for t in self.taxonomies],
            "triples": self.triples,
            "added": self.added,
            "removed": self.removed,
            "change": self.change,
        }


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


# -- the import ----------------------------------------------------------------------------


def import_atlas_nexus(
    store: GraphStore,
    directory: Path,
    write: Callable[[Delta], Change | None] | None = None,
    release: str = RELEASE,
) -> AtlasNexusReport:
    """Replace the taxonomies of :data:`TAXONOMIES` in the taxonomies graph with the content of
    the AI Atlas Nexus files in ``directory``.

    All files are read and checked before the one change, so bad input raises
    :class:`InvalidInput` and leaves the store as it was. ``release`` is the ai-atlas-nexus
    release the files come from (recorded as provenance, and as the version of a taxonomy whose
    file states none). ``write`` commits the change and returns it (default: ``changes.commit``
    as the local user; the CLI's writer also refreshes the inferred graph).
    """
    if not RELEASE_TEXT.fullmatch(release):
        raise InvalidInput(f"the release must be a version such as {RELEASE}, got {_short(release)}")
    nexus = _Nexus.read(directory)
    triples = set(_triples(nexus, release))
    graph = ox.NamedNode(Graphs.TAXONOMIES)
    wanted = {ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples}
    current = {q for q in store.quads(None, None, None, graph) if _owned(q.subject)}
    change = (write or local_writer(store, "import-atlas-nexus"))(Delta(removed=current - wanted, added=wanted - current))
    report = AtlasNexusReport(release, tuple(nexus.counts(t, release) for t in nexus.taxonomies), len(triples))
    return replace(report, added=change.added, removed=change.removed, change=change.iri) if change else report


def _owned(subject: object) -> bool:
    """Whether a subject is a scheme of :data:`TAXONOMIES` or an entry of one."""
    if not isinstance(subject, ox.NamedNode) or not subject.value.startswith(TAXONOMY_BASE):
        return False
    return subject.value[len(TAXONOMY_BASE) :].split("/", 1)[0] in TAXONOMIES


# -- reading and checking ------------------------------------------------------------------


@dataclass
class _Item:
    """One group, entry, action or document, and the file that defines it."""

    data: dict
    file: Path

    @property
    def ident(self) -> str:
        return self.data["id"]

    @property
    def taxonomy(self) -> str:
        return self.data["isDefinedByTaxonomy"]


@dataclass
class _Nexus:
    """The checked content of the files: items by kind and id, in file order."""

    taxonomies: dict[str, _Item] = field(default_factory=dict)
    documents: dict[str, _Item] = field(default_factory=dict)
    groups: dict[str, _Item] = field(default_factory=dict)
    entries: dict[str, _Item] = field(default_factory=dict)
    actions: dict[str, _Item] = field(default_factory=dict)
    #: entry id -> the id of its group, as resolved (see the module's documentation)
    group_of: dict[str, str] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)  # taxonomy -> group references matched ignoring case

    @classmethod
    def read(cls, directory: Path) -> _Nexus:
        if not directory.is_dir():
            raise InvalidInput(f"cannot read {directory}: {'not a directory' if directory.exists() else 'no such directory'}")
        nexus = cls()
        for name in FILES:
            path = _locate(directory, name)
            document = _read_yaml(path)
            if not isinstance(document, dict):
                raise InvalidInput(f"{path}: not an AI Atlas Nexus file: expected a mapping at the top")
            nexus._collect(path, document)
        nexus._check(directory)
        return nexus

    def _collect(self, path: Path, document: dict) -> None:
        for key in ("taxonomies", "documents", "groups", "entries", "actions"):
            items = document.get(key) or []  # ``entries:`` with nothing under it is None
            if not isinstance(items, list):
                raise InvalidInput(f"{path}: '{key}' is not a list")
            known: dict[str, _Item] = getattr(self, key)
            for data in items:
                ident = data.get("id") if isinstance(data, dict) else None
                if not isinstance(ident, str) or not (ident.strip() if key == "documents" else ENTRY_ID.fullmatch(ident)):
                    raise InvalidInput(f"{path}: an entry of '{key}' has no usable id (letters, digits, . _ -): {_short(data)}")
                if key != "documents" and not _text(data.get("name")):
                    raise InvalidInput(f"{path}: {ident} has no name")
                if ident in known:
                    raise InvalidInput(f"{path}: {ident} is defined twice in '{key}' (also in {known[ident].file.name})")
                known[ident] = _Item(data, path)

    def _check(self, directory: Path) -> None:
        for ident, taxonomy in self.taxonomies.items():
            if ident not in TAXONOMIES:
                raise InvalidInput(
                    f"{taxonomy.file}: taxonomy {ident} is not one whose licence aimsgraph knows ({', '.join(TAXONOMIES)})"
                )
            if not _iri(taxonomy.data.get("url")):
                raise InvalidInput(f"{taxonomy.file}: taxonomy {ident} names no source URL ('url')")
        for ident in TAXONOMIES:
            if ident not in self.taxonomies:
                raise InvalidInput(f"{directory}: no file defines taxonomy {ident}")
        for kind in ("groups", "entries", "actions"):
            for item in getattr(self, kind).values():
                if item.data.get("isDefinedByTaxonomy") not in self.taxonomies:
                    raise InvalidInput(
                        f"{item.file}: {item.ident} names taxonomy {_short(item.data.get('isDefinedByTaxonomy'))}, "
                        "which no file defines"
                    )
        named: dict[tuple[str, str], str] = {}  # one IRI each: (taxonomy, id) -> kind
        for kind in ("groups", "entries", "actions"):
            for item in getattr(self, kind).values():
                if (item.taxonomy, item.ident) in named:
                    raise InvalidInput(f"{item.file}: {item.ident} is in both '{named[item.taxonomy, item.ident]}' and '{kind}'")
                named[item.taxonomy, item.ident] = kind
        for entry in self.entries.values():
            if "isPartOf" in entry.data:
                self.group_of[entry.ident] = self._group(entry)
            self._require(entry, "hasRelatedAction", self.actions, "action")
        for action in self.actions.values():
            self._require(action, "hasRelatedRisk", self.entries, "risk")
            if action.taxonomy == NIST_TAXONOMY and not ACTION_ID.fullmatch(action.ident):
                raise InvalidInput(f"{action.file}: action {action.ident} has no NIST AI 600-1 id such as GV-1.2-002")

    def _group(self, entry: _Item) -> str:
        named = entry.data["isPartOf"]
        if isinstance(named, str) and named in self.groups and self.groups[named].taxonomy == entry.taxonomy:
            return named
        if isinstance(named, str):
            folded = [g.ident for g in self.groups.values() if g.taxonomy == entry.taxonomy and g.ident.lower() == named.lower()]
            if len(folded) == 1:
                self.repaired[entry.taxonomy] = self.repaired.get(entry.taxonomy, 0) + 1
                return folded[0]
        raise InvalidInput(
            f"{entry.file}: {entry.ident} names group {_short(named)}, which taxonomy {entry.taxonomy} does not define"
        )

    def _require(self, item: _Item, key: str, known: dict[str, _Item], what: str) -> None:
        named = item.data.get(key, [])
        if not isinstance(named, list):
            raise InvalidInput(f"{item.file}: the '{key}' of {item.ident} is not a list")
        for ident in named:
            if not isinstance(ident, str) or ident not in known or known[ident].taxonomy != item.taxonomy:
                raise InvalidInput(
                    f"{item.file}: {item.ident} names {what} {_short(ident)}, which taxonomy {item.taxonomy} does not define"
                )

    def in_taxonomy(self, kind: str, taxonomy: str) -> list[_Item]:
        items: dict[str, _Item] = getattr(self, kind)
        return [item for item in items.values() if item.taxonomy == taxonomy]

    def action_risk_links(self, taxonomy: str) -> set[tuple[str, str]]:
        """(action, risk) pairs, as either side states them."""
        stated = {(a.ident, risk) for a in self.in_taxonomy("actions", taxonomy) for risk in a.data.get("hasRelatedRisk", [])}
        return stated | {(a, e.ident) for e in self.in_taxonomy("entries", taxonomy) for a in e.data.get("hasRelatedAction", [])}

    def counts(self, taxonomy: str, release: str) -> TaxonomyCounts:
        actions = self.in_taxonomy("actions", taxonomy)
        data = self.taxonomies[taxonomy].data
        subcategories = [s for a in actions if taxonomy == NIST_TAXONOMY and (s := _subcategory(a.ident))]
        return TaxonomyCounts(
            taxonomy,
            _text(data["name"]),
            _version(data, release),
            TAXONOMIES[taxonomy].licence,
            len(self.in_taxonomy("groups", taxonomy)),
            len(self.in_taxonomy("entries", taxonomy)),
            TAXONOMIES[taxonomy].risk_sources,
            len(actions),
            len(self.action_risk_links(taxonomy)),
            len(subcategories),
            len(set(subcategories)),
            self.repaired.get(taxonomy, 0),
        )


def _locate(directory: Path, name: str) -> Path:
    found = [directory / folder / name for folder in SUBFOLDERS if (directory / folder / name).is_file()]
    if not found:
        raise InvalidInput(f"{directory}: no {name} (expected the AI Atlas Nexus files {', '.join(FILES)})")
    if len(found) > 1:
        raise InvalidInput(f"{directory}: {name} is there twice ({found[0]} and {found[1]}): keep one")
    return found[0]


def _read_yaml(path: Path) -> object:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidInput(f"{path}: larger than {MAX_FILE_BYTES >> 20} MB, too large for an AI Atlas Nexus file")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    return read_yaml(path, str(path))


def _text(value: object) -> str:
    return " ".join(str(value).split()) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""


def _short(value: object) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _iri(value: object) -> str | None:
    """An absolute IRI the store accepts, or None (a pointer that is not one is left out)."""
    text = value.strip() if isinstance(value, str) else ""
    return text if text and is_absolute_iri(text) else None


def _version(taxonomy: dict, release: str) -> str:
    return _text(taxonomy.get("version")) or f"ai-atlas-nexus {release}"


def _subcategory(action_id: str) -> str | None:
    """The AI RMF 1.0 subcategory a NIST AI 600-1 action is listed under: GV-1.2-002 -> GV-1.2."""
    match = ACTION_ID.fullmatch(action_id)
    return f"{match.group(1)}-{match.group(2)}" if match else None


def _date(value: object) -> ox.Literal | None:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            return None
    return ox.Literal(value.isoformat(), datatype=ox.NamedNode(XSD_DATE)) if isinstance(value, date) else None


# -- triples -------------------------------------------------------------------------------


def _scheme_iri(taxonomy: str) -> ox.NamedNode:
    return ox.NamedNode(TAXONOMY_BASE + taxonomy)


def _concept_iri(taxonomy: str, ident: str) -> ox.NamedNode:
    return ox.NamedNode(f"{TAXONOMY_BASE}{taxonomy}/{ident}")


def _triples(nexus: _Nexus, release: str) -> Iterator[ox.Triple]:
    for taxonomy in nexus.taxonomies:
        yield from _scheme(nexus, taxonomy, release)
        scheme = _scheme_iri(taxonomy)
        for group in nexus.in_taxonomy("groups", taxonomy):
            yield from _concept(group)
            yield ox.Triple(_concept_iri(taxonomy, group.ident), TOP_CONCEPT_OF, scheme)
        for entry in nexus.in_taxonomy("entries", taxonomy):
            node = _concept_iri(taxonomy, entry.ident)
            yield from _concept(entry)
            if TAXONOMIES[taxonomy].risk_sources:
                yield ox.Triple(node, TYPE, _aims("RiskSource"))
            if entry.ident in nexus.group_of:
                yield ox.Triple(node, BROADER, _concept_iri(taxonomy, nexus.group_of[entry.ident]))
            else:
                yield ox.Triple(node, TOP_CONCEPT_OF, scheme)
        for action in nexus.in_taxonomy("actions", taxonomy):
            yield from _action(action, taxonomy)
        for action_id, risk in nexus.action_risk_links(taxonomy):
            yield ox.Triple(_concept_iri(taxonomy, action_id), _aims("addressesRisk"), _concept_iri(taxonomy, risk))


def _scheme(nexus: _Nexus, taxonomy: str, release: str) -> Iterator[ox.Triple]:
    data, terms, node = nexus.taxonomies[taxonomy].data, TAXONOMIES[taxonomy], _scheme_iri(taxonomy)
    title = ox.Literal(_text(data["name"]), language="en")
    version = ox.Literal(_version(data, release))
    yield ox.Triple(node, TYPE, ox.NamedNode(SKOS + "ConceptScheme"))
    yield ox.Triple(node, _dct("title"), title)
    yield ox.Triple(node, LABEL, title)
    if _text(data.get("description")):
        yield ox.Triple(node, _dct("description"), ox.Literal(str(data["description"]).strip(), language="en"))
    yield ox.Triple(node, _dct("source"), ox.NamedNode(str(_iri(data["url"]))))
    yield ox.Triple(node, HAS_VERSION, version)
    yield ox.Triple(node, ox.NamedNode(OWL + "versionInfo"), version)
    yield ox.Triple(node, _dct("license"), ox.NamedNode(terms.licence))
    yield ox.Triple(node, _dct("rights"), ox.Literal(terms.rights, language="en"))
    yield ox.Triple(
        node, ox.NamedNode(PROV + "wasDerivedFrom"), ox.NamedNode(f"https://pypi.org/project/ai-atlas-nexus/{release}/")
    )
    yield from _dates(node, data)
    cited = data.get("hasDocumentation")
    for ident in cited if isinstance(cited, list) else []:
        url = _iri(nexus.documents[ident].data.get("url")) if isinstance(ident, str) and ident in nexus.documents else None
        if url:
            yield ox.Triple(node, SEE_ALSO, ox.NamedNode(url))


def _concept(item: _Item) -> Iterator[ox.Triple]:
    node, name = _concept_iri(item.taxonomy, item.ident), ox.Literal(_text(item.data["name"]), language="en")
    yield ox.Triple(node, TYPE, CONCEPT)
    yield ox.Triple(node, IN_SCHEME, _scheme_iri(item.taxonomy))
    yield ox.Triple(node, NOTATION, ox.Literal(item.ident))
    yield ox.Triple(node, PREF_LABEL, name)
    yield ox.Triple(node, LABEL, name)
    if _text(item.data.get("description")):
        yield ox.Triple(node, DEFINITION, ox.Literal(str(item.data["description"]).strip(), language="en"))
    yield from _dates(node, item.data)
    if url := _iri(item.data.get("url")):
        yield ox.Triple(node, SEE_ALSO, ox.NamedNode(url))


def _action(action: _Item, taxonomy: str) -> Iterator[ox.Triple]:
    node = _concept_iri(taxonomy, action.ident)
    yield from _concept(action)
    yield ox.Triple(node, TYPE, _aims("SuggestedAction"))
    if taxonomy == NIST_TAXONOMY and (subcategory := _subcategory(action.ident)):
        yield ox.Triple(node, _aims("suggestedUnder"), ox.NamedNode(NIST + subcategory))
    tasks = action.data.get("hasAiActorTask")
    for task in tasks if isinstance(tasks, list) else []:
        if _text(task):
            yield ox.Triple(node, _aims("aiActorTask"), ox.Literal(_text(task)))


def _dates(node: ox.NamedNode, data: dict) -> Iterator[ox.Triple]:
    for predicate, key in ((CREATED, "dateCreated"), (MODIFIED, "dateModified")):
        if (day := _date(data.get(key))) is not None:
            yield ox.Triple(node, predicate, day)
