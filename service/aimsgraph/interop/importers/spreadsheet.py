"""Spreadsheets (CSV) into RDF: a risk register or a systems inventory becomes data-graph quads.

This module owns reading the two sheet kinds documented in ``data/templates/README.md``: the
column tables below (header names, which record a cell describes, how the cell is read, which
property it becomes), the IRIs minted for local ids, and the merge rule for records that
appear on several rows. It is a pure function of the sheet (no store, no clock): the same
sheet always gives the same quads, with no blank nodes, so a re-import changes nothing. It
writes nothing; the caller stores ``quads`` and, for every pair in ``replaced``, deletes the
values of that subject and property that the sheet no longer states.

Merge rule. Each row describes records: a risk, the control that treats it and an evidence
item (risk register), or an AI system (systems). A record may appear on several rows; an empty
cell says nothing, and two non-empty cells of the same record and column must agree, or the
sheet is refused. Every non-empty cell is authoritative: (record, property) goes into
``replaced``. Links between records (asset hasRisk risk, control mitigates/detects risk,
control hasEvidence evidence, scope inScope system, assessment assesses system, system
hasDocumentation/hasEventLogging document) and rdf:type accumulate: they are never replaced.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from urllib.parse import urlsplit

import pyoxigraph as ox

from aimsgraph import resources
from aimsgraph.errors import InvalidInput
from aimsgraph.namespaces import (
    AIMS,
    DCT,
    IDENTIFIER,
    ISO,
    LABEL,
    PREFIXES,
    RDFS,
    RM,
    TYPE,
    XSD,
    Graphs,
    is_absolute_iri,
    sparql_prefixes,
)

KINDS = ("risk-register", "systems")
#: Local ids are minted under this base unless the caller gives the organisation's own.
DEFAULT_BASE = "https://data.example.org/aims/"
MAX_ERRORS = 20

DATA = ox.NamedNode(Graphs.DATA)
DATE_TYPE, ANY_URI_TYPE, DECIMAL_TYPE = (ox.NamedNode(XSD + t) for t in ("date", "anyURI", "decimal"))

#: A local id: one IRI path segment, never "." or "..".
LOCAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
IRI_SCHEMES = ("http://", "https://", "urn:")

Term = ox.NamedNode | ox.Literal


def _aims(local: str) -> ox.NamedNode:
    return ox.NamedNode(AIMS + local)


@dataclass(frozen=True)
class SheetImport:
    """What a sheet says: its quads (all in the data graph) and the (subject, predicate) pairs
    whose existing values it replaces."""

    kind: str
    rows: int  # data rows read (blank rows are skipped)
    quads: list[ox.Quad]
    replaced: frozenset[tuple[ox.NamedNode, ox.NamedNode]]


class CellError(ValueError):
    """A cell that cannot be read; the message says why, for a spreadsheet user."""


# -- values ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """One value read from a cell. ``local_id`` is set when the IRI was minted from a local id."""

    term: Term
    local_id: str | None = None
    text: str = ""  # the cell text it came from, for messages

    @property
    def iri(self) -> ox.NamedNode:
        """The term of a value that names a node (a record, a reference, a choice): an IRI."""
        assert isinstance(self.term, ox.NamedNode), f"{self.text!r} names no node"
        return self.term


Parser = Callable[[str, str], list[Value]]  # (cell text, base IRI) -> values; raises CellError


def node(text: str, base: str, segment: str) -> Value:
    """An absolute IRI as is, or a local id minted as ``base + segment + id``."""
    if text.startswith(IRI_SCHEMES):
        if not is_absolute_iri(text):
            raise CellError(f"{text!r} is not a valid IRI (no spaces, quotes or <>)")
        return Value(ox.NamedNode(text), text=text)
    if LOCAL_ID.fullmatch(text):
        return Value(ox.NamedNode(base + segment + text), local_id=text, text=text)
    raise CellError(f"{text!r} is neither an absolute IRI (http, https or urn) nor a local id (letters, digits, '-', '_', '.')")


def ref(segment: str) -> Parser:
    """A reference to a record: absolute IRI or local id under ``segment`` (e.g. "role/")."""
    return lambda text, base: [node(text, base, segment)]


def plain_text(text: str, base: str) -> list[Value]:
    return [Value(ox.Literal(text), text=text)]


def iso_date(text: str, base: str) -> list[Value]:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        date.fromisoformat(text)
    except ValueError:
        raise CellError(f"{text!r} is not a date written YYYY-MM-DD (e.g. 2027-03-31)") from None
    return [Value(ox.Literal(text, datatype=DATE_TYPE), text=text)]


def web_url(text: str, base: str) -> list[Value]:
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or not is_absolute_iri(text):
        raise CellError(f"{text!r} is not an http(s) URL (e.g. https://dms.example.org/report.pdf)")
    return [Value(ox.Literal(text, datatype=ANY_URI_TYPE), text=text)]


def share(text: str, base: str) -> list[Value]:
    """A number from 0 to 1, or a percentage (80%)."""
    try:
        number = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
        if not (number.is_finite() and 0 <= number <= 1):
            raise InvalidOperation
    except InvalidOperation:
        raise CellError(f"{text!r} is not a number from 0 to 1 (or a percentage, e.g. 80%)") from None
    return [Value(ox.Literal(format(number.normalize(), "f"), datatype=DECIMAL_TYPE), text=text)]


def choice(options: dict[str, str], what: str) -> Parser:
    """One of a few words, each standing for an IRI."""

    def parse(text: str, base: str) -> list[Value]:
        iri = options.get(_key(text))
        if iri is None:
            raise CellError(f"{text!r} is not {what} (use one of: {', '.join(sorted(options))})")
        return [Value(ox.NamedNode(iri), text=text)]

    return parse


def in_scope(text: str, base: str) -> list[Value]:
    """yes: the scope ``base + "aims-scope"``; an IRI: that scope; no: nothing."""
    if text.startswith(IRI_SCHEMES):
        return [node(text, base, "")]
    answer = _key(text)
    if answer in ("yes", "y", "true", "1", "x"):
        return [Value(ox.NamedNode(base + "aims-scope"), local_id="aims-scope", text=text)]
    if answer in ("no", "n", "false", "0"):
        return []
    raise CellError(f"{text!r} is not yes or no (or the IRI of an AIMS scope)")


def _key(text: str) -> str:
    """How spellings are compared: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _curie(text: str) -> str:
    """Expand aims:, iso: and rm: prefixed names; anything else unchanged."""
    prefix, _, local = text.partition(":")
    if prefix.lower() in ("aims", "iso", "rm") and local and not local.startswith("//"):
        return PREFIXES[prefix.lower()] + local
    return text


# -- reference vocabularies (read once from the packaged ontology, catalogue and matrices) ----


@dataclass(frozen=True)
class Vocabulary:
    """The accepted spellings of a scale or concept scheme: IRIs, prefixed names, labels,
    notations and (for scales) ranks. ``open``: IRIs outside our namespaces (an organisation's
    own scale) are taken as they are."""

    what: str
    spellings: dict[str, str]  # _key(spelling) -> IRI
    iris: frozenset[str]
    hint: str
    open: bool = False

    def __call__(self, text: str, base: str) -> list[Value]:
        iri = _curie(text)
        if iri in self.iris or (
            self.open and iri.startswith(IRI_SCHEMES) and is_absolute_iri(iri) and not iri.startswith((AIMS, ISO, RM))
        ):
            return [Value(ox.NamedNode(iri), text=text)]
        found = None if iri.startswith(IRI_SCHEMES) else self.spellings.get(_key(text))
        if found is None:
            raise CellError(f"{text!r} is not {self.what} ({self.hint})")
        return [Value(ox.NamedNode(found), text=text)]


@dataclass(frozen=True)
class Reference:
    likelihood: Vocabulary
    severity: Vocabulary
    risk_level: Vocabulary
    treatment: Vocabulary
    control_status: Vocabulary
    lifecycle: Vocabulary
    domain: Vocabulary
    cells: dict[tuple[str, str], str]  # (likelihood, severity) -> risk level, all shipped matrices
    annex_a: frozenset[str]
    annex_c: dict[str, str]  # _key(id, id without "C.3-", label) -> IRI


_PREFIXES = sparql_prefixes(*PREFIXES)
_MEMBERS = (
    _PREFIXES
    + """SELECT ?c ?label ?notation ?rank WHERE {
  ?c a %s . OPTIONAL { ?c skos:inScheme ?scheme } %s
  OPTIONAL { ?c skos:prefLabel ?label } OPTIONAL { ?c skos:notation ?notation } OPTIONAL { ?c aims:rank ?rank }
} ORDER BY ?rank ?notation ?c"""
)


@cache
def reference() -> Reference:
    """The scales, concept schemes and catalogue entries cells are checked against."""
    store = ox.Store()
    files = [
        *resources.ontology_files(),
        resources.path("data", "iso42001", "catalogue.ttl"),
        *sorted(resources.path("data", "risk-matrices").glob("*.ttl")),
    ]
    for file in files:
        store.load(path=file, format=ox.RdfFormat.TURTLE)
    cells = {
        (r["l"].value, r["s"].value): r["level"].value
        for r in _select(
            store,
            _PREFIXES + "SELECT ?l ?s ?level WHERE { "
            "?cell aims:cellLikelihood ?l ; aims:cellSeverity ?s ; aims:cellRiskLevel ?level }",
        )
    }
    annex_a = frozenset(r["c"].value for r in _select(store, _PREFIXES + "SELECT ?c WHERE { ?c a aims:ReferenceControl }"))
    annex_c: dict[str, str] = {}
    for r in _select(store, _PREFIXES + "SELECT ?c ?label WHERE { ?c a aims:AnnexCRiskSource ; skos:prefLabel ?label }"):
        local = r["c"].value.removeprefix(ISO)
        for spelling in (local, local.removeprefix("C.3-"), r["label"].value):
            annex_c[_key(spelling)] = r["c"].value
    return Reference(
        likelihood=_scale(store, "aims:LikelihoodLevel", "rm:Likelihood5", "a likelihood level"),
        severity=_scale(store, "aims:SeverityLevel", "rm:Severity5", "a severity level"),
        risk_level=_scale(store, "aims:RiskLevel", "rm:RiskLevels4", "a risk level", ranks=False),
        treatment=_scheme(store, "aims:TreatmentOption", "a treatment decision"),
        control_status=_scheme(store, "aims:ControlStatus", "a control status"),
        lifecycle=_scheme(store, "aims:LifecycleStage", "a lifecycle stage", notations=True),
        domain=_scheme(store, "aims:Domain", "an application domain", open=True),
        cells=cells,
        annex_a=annex_a,
        annex_c=annex_c,
    )


def _select(store: ox.Store, query: str) -> ox.QuerySolutions:
    solutions = store.query(query)
    assert isinstance(solutions, ox.QuerySolutions)  # a SELECT query
    return solutions


def _scale(store: ox.Store, cls: str, default: str, what: str, ranks: bool = True) -> Vocabulary:
    """A level class of the shipped matrices: labels and ranks on the default 5x5 scale,
    notations and IRIs on every shipped scale."""
    spellings: dict[str, str] = {}
    iris = set()
    for r in _select(store, _MEMBERS % (cls, "")):
        iris.add(r["c"].value)
        if r["notation"]:
            spellings[_key(r["notation"].value)] = r["c"].value
    labels = []
    for r in _select(store, _MEMBERS % (cls, f"FILTER(?scheme = {default})")):
        labels.append(r["label"].value)
        spellings[_key(r["label"].value)] = r["c"].value
        if ranks:
            spellings[r["rank"].value] = r["c"].value
    numbers = f"use 1-{len(labels)} or one of: " if ranks else "use one of: "
    return Vocabulary(what, spellings, frozenset(iris), numbers + ", ".join(labels), open=True)


def _scheme(store: ox.Store, cls: str, what: str, notations: bool = False, open: bool = False) -> Vocabulary:
    """A concept scheme of the ontology: labels, local names, IRIs (and notations)."""
    spellings: dict[str, str] = {}
    labels = []
    for r in _select(store, _MEMBERS % (cls, "")):
        iri = r["c"].value
        labels.append(r["label"].value)
        spellings[_key(r["label"].value)] = iri
        spellings[_key(iri.removeprefix(AIMS))] = iri
        if notations and r["notation"]:
            spellings[r["notation"].value] = iri
    hint = "use one of: " + ", ".join(labels)
    return Vocabulary(what, spellings, frozenset(spellings.values()), hint, open=open)


def vocabulary(name: str) -> Parser:
    """The parser of one of the reference vocabularies (read on first use)."""
    return lambda text, base: getattr(reference(), name)(text, base)


def annex_a(text: str, base: str) -> list[Value]:
    """An Annex A control: A.6.2.4, iso:A.6.2.4 or its IRI; checked against the catalogue."""
    iri = _curie(text) if text.startswith(IRI_SCHEMES) or ":" in text else ISO + text[:1].upper() + text[1:]
    if iri not in reference().annex_a:
        raise CellError(
            f"{text!r} is not an Annex A control of ISO/IEC 42001 (write it like A.6.2.4; groups such as A.6 are not controls)"
        )
    return [Value(ox.NamedNode(iri), text=text)]


def risk_source(text: str, base: str) -> list[Value]:
    """An Annex C risk source (C.3-level-of-automation, level-of-automation or its label), an
    IRI, or a local id of the organisation's own risk source."""
    iri = _curie(text)
    if iri.startswith(ISO + "C.") or not iri.startswith(IRI_SCHEMES):
        found = reference().annex_c.get(_key(iri.removeprefix(ISO)))
        if found:
            return [Value(ox.NamedNode(found), text=text)]
        if iri.startswith(ISO) or text.upper().startswith("C.3"):
            raise CellError(f"{text!r} is not an Annex C risk source of ISO/IEC 42001")
    return [node(iri, base, "risk-source/")]


CONTROL_TYPES = {
    "preventive": AIMS + "mitigates",
    "mitigates": AIMS + "mitigates",
    "detective": AIMS + "detects",
    "detects": AIMS + "detects",
}


# -- columns ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    subject: ox.NamedNode
    predicate: ox.NamedNode
    object: Term
    replace: bool  # the sheet is authoritative for (subject, predicate)


@dataclass
class Record:
    """One risk, control, evidence item or system, merged from the rows that mention it."""

    kind: str
    subject: Value
    row: int  # the first row that mentions it
    cells: dict[str, tuple[list[Value], int]] = field(default_factory=dict)  # column -> (values, row)

    @property
    def key(self) -> str:
        """A path segment naming the record in the IRIs of its documents and assessments."""
        if self.subject.local_id:
            return self.subject.local_id
        iri = self.subject.term.value
        tail = re.sub(r"[^A-Za-z0-9._-]+", "-", re.split(r"[/#:]", iri.rstrip("/#"))[-1]).strip("-.")
        return f"{tail or 'record'}-{hashlib.sha256(iri.encode()).hexdigest()[:8]}"

    def text(self, column: str) -> str:
        values = self.cells.get(column, ([], 0))[0]
        return values[0].text if values else ""


Builder = Callable[[Record, Value, str], list[Statement]]  # (record, cell value, base IRI)


@dataclass(frozen=True)
class Column:
    """One column of a sheet kind: the record its cells describe and what they become."""

    name: str
    record: str  # the record the cell describes: risk, control, evidence or system
    parse: Parser
    property: str | None = None  # (record, property, value); None: names the record, or read by a builder
    required: bool = False  # the column must be present and filled on a record's first row
    multi: bool = False  # several values separated by "|"
    link: bool = False  # a link between records: accumulates, never in `replaced`
    inverse: bool = False  # written as (value, property, record)
    declare: str | None = None  # class stated for records minted from local ids
    build: Builder | None = None  # the cell becomes a node of its own (document, assessment)
    aliases: tuple[str, ...] = ()


def document(cls: str, link: str, slug: str, title: str) -> Builder:
    """The system's document of one kind (one per system) at the URL of the cell."""

    def build(system: Record, url: Value, base: str) -> list[Statement]:
        doc = ox.NamedNode(f"{base}document/{system.key}-{slug}")
        return [
            Statement(system.subject.iri, _aims(link), doc, False),
            Statement(doc, TYPE, _aims(cls), False),
            Statement(doc, LABEL, ox.Literal(f"{title}: {system.text('name') or system.key}"), True),
            Statement(doc, _aims("location"), url.term, True),
        ]

    return build


def assessment(cls: str, slug: str, title: str) -> Builder:
    """An assessment of the system on the date of the cell: a new date is a new assessment."""

    def build(system: Record, day: Value, base: str) -> list[Statement]:
        done = ox.NamedNode(f"{base}assessment/{system.key}-{slug}-{day.text}")
        return [
            Statement(done, TYPE, _aims(cls), False),
            Statement(done, _aims("assesses"), system.subject.term, False),
            Statement(done, LABEL, ox.Literal(f"{title} {day.text}: {system.text('name') or system.key}"), True),
            Statement(done, _aims("assessmentDate"), day.term, True),
        ]

    return build


RISK_REGISTER: tuple[Column, ...] = (
    Column(
        "system", "risk", ref("system/"), AIMS + "hasRisk", required=True, link=True, inverse=True, aliases=("system id", "asset")
    ),
    Column("risk", "risk", ref("risk/"), required=True, aliases=("risk id",)),
    Column("title", "risk", plain_text, RDFS + "label", required=True, aliases=("risk title", "risk name")),
    Column("description", "risk", plain_text, DCT + "description", aliases=("risk description",)),
    Column(
        "risk source",
        "risk",
        risk_source,
        AIMS + "hasRiskSource",
        multi=True,
        declare=AIMS + "RiskSource",
        aliases=("risk sources", "source", "sources"),
    ),
    Column(
        "affected stakeholders",
        "risk",
        ref("party/"),
        AIMS + "affectsStakeholder",
        multi=True,
        declare=AIMS + "StakeholderGroup",
        aliases=("affected stakeholder", "stakeholders"),
    ),
    Column("likelihood", "risk", vocabulary("likelihood"), AIMS + "hasLikelihood", required=True),
    Column("severity", "risk", vocabulary("severity"), AIMS + "hasSeverity", required=True),
    Column("risk level", "risk", vocabulary("risk_level"), AIMS + "hasRiskLevel", aliases=("level", "inherent risk level")),
    Column("treatment", "risk", vocabulary("treatment"), AIMS + "treatmentDecision", aliases=("treatment decision",)),
    Column("owner", "risk", ref("role/"), AIMS + "hasRiskOwner", declare=AIMS + "Role", aliases=("risk owner",)),
    Column("review date", "risk", iso_date, AIMS + "nextReviewDate", aliases=("next review date", "next review")),
    Column("control", "control", ref("control/"), aliases=("control id",)),
    Column("control title", "control", plain_text, RDFS + "label", aliases=("control name",)),
    Column("control type", "control", choice(CONTROL_TYPES, "a control type")),
    Column(
        "annex a",
        "control",
        annex_a,
        AIMS + "implements",
        multi=True,
        aliases=("annex a id", "annex a ids", "annex a control", "annex a controls"),
    ),
    Column("control owner", "control", ref("role/"), AIMS + "hasOwner", declare=AIMS + "Role"),
    Column("control status", "control", vocabulary("control_status"), AIMS + "controlStatus", aliases=("status",)),
    Column("effectiveness", "control", share, AIMS + "effectiveness", aliases=("control effectiveness",)),
    Column("evidence url", "evidence", web_url, AIMS + "location", aliases=("evidence", "evidence link")),
    Column("evidence valid until", "evidence", iso_date, AIMS + "validUntil"),
)

SYSTEMS: tuple[Column, ...] = (
    Column("system", "system", ref("system/"), required=True, aliases=("system id",)),
    Column("name", "system", plain_text, RDFS + "label", required=True, aliases=("system name",)),
    Column("description", "system", plain_text, DCT + "description"),
    Column("purpose", "system", plain_text, AIMS + "intendedPurpose", aliases=("intended purpose",)),
    Column("owner", "system", ref("role/"), AIMS + "hasOwner", declare=AIMS + "Role", aliases=("system owner",)),
    Column(
        "lifecycle stage", "system", vocabulary("lifecycle"), AIMS + "lifecycleStage", aliases=("lifecycle", "stage", "status")
    ),
    Column("domain", "system", vocabulary("domain"), AIMS + "applicationDomain", aliases=("application domain",)),
    Column("version", "system", plain_text, AIMS + "version"),
    Column("deployed by", "system", ref("org/"), AIMS + "deployedBy", declare=AIMS + "Organisation", aliases=("deployer",)),
    Column("provided by", "system", ref("org/"), AIMS + "providedBy", declare=AIMS + "Organisation", aliases=("provider",)),
    Column("developed by", "system", ref("org/"), AIMS + "developedBy", declare=AIMS + "Organisation", aliases=("developer",)),
    Column(
        "ai subjects",
        "system",
        ref("party/"),
        AIMS + "hasAISubject",
        multi=True,
        declare=AIMS + "StakeholderGroup",
        aliases=("subjects", "ai subject"),
    ),
    Column("users", "system", ref("party/"), AIMS + "hasUser", multi=True, declare=AIMS + "StakeholderGroup"),
    Column("models", "system", ref("model/"), AIMS + "usesModel", multi=True, declare=AIMS + "Model", aliases=("model",)),
    Column(
        "datasets", "system", ref("dataset/"), AIMS + "usesDataset", multi=True, declare=AIMS + "Dataset", aliases=("dataset",)
    ),
    Column(
        "suppliers", "system", ref("supplier/"), AIMS + "suppliedBy", multi=True, declare=AIMS + "Supplier", aliases=("supplier",)
    ),
    Column("consumes output of", "system", ref("system/"), AIMS + "consumesOutputOf", multi=True),
    Column(
        "hosted on",
        "system",
        ref("infrastructure/"),
        AIMS + "hostedOn",
        multi=True,
        declare=AIMS + "InfrastructureService",
        aliases=("infrastructure",),
    ),
    Column(
        "in scope",
        "system",
        in_scope,
        AIMS + "inScope",
        link=True,
        inverse=True,
        declare=AIMS + "AIMSScope",
        aliases=("in aims scope",),
    ),
    Column(
        "technical documentation",
        "system",
        web_url,
        build=document("TechnicalDocumentation", "hasDocumentation", "technical-documentation", "Technical documentation"),
    ),
    Column(
        "event logging", "system", web_url, build=document("EventLogging", "hasEventLogging", "event-logging", "Event logging")
    ),
    Column(
        "risk assessment date", "system", iso_date, build=assessment("RiskAssessment", "risk-assessment", "AI risk assessment")
    ),
    Column(
        "impact assessment date",
        "system",
        iso_date,
        build=assessment("ImpactAssessment", "impact-assessment", "AI system impact assessment"),
    ),
    Column(
        "verification date",
        "system",
        iso_date,
        build=assessment("VerificationValidation", "verification", "Verification and validation"),
        aliases=("verification and validation date", "validation date"),
    ),
)

COLUMNS = {"risk-register": RISK_REGISTER, "systems": SYSTEMS}

#: The records of each kind: class, and the column that names the record (None: evidence items
#: are named after their URL). The first record is the one every row must name.
RECORDS: dict[str, dict[str, tuple[str, str | None]]] = {
    "risk-register": {"risk": ("Risk", "risk"), "control": ("ImplementedControl", "control"), "evidence": ("Evidence", None)},
    "systems": {"system": ("AISystem", "system")},
}


# -- reading ---------------------------------------------------------------------------------


def read_sheet(data: bytes | str, kind: str, base_iri: str = DEFAULT_BASE) -> SheetImport:
    """Read a CSV sheet of the given kind into data-graph quads. Raises InvalidInput, listing
    every problem found (row and column as the spreadsheet shows them), when anything is wrong."""
    if kind not in KINDS:
        raise InvalidInput(f"unknown sheet kind {kind!r} (use one of: {', '.join(KINDS)})")
    if not (base_iri.startswith(("http://", "https://")) and is_absolute_iri(base_iri) and base_iri.endswith(("/", "#"))):
        raise InvalidInput(f"the base IRI {base_iri!r} must be an http(s) IRI ending in '/' or '#'")
    header, rows = _table(_text(data))
    columns = _header(header, COLUMNS[kind], kind)
    errors: list[str] = []
    sheet = _Sheet(kind, base_iri)
    count = 0
    for number, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue  # blank rows are skipped (they still count in the numbering)
        count += 1
        stray = [i + 1 for i, cell in enumerate(cells) if cell.strip() and i not in columns]
        if stray:  # beyond the header, or under an empty header cell
            errors.append(f"row {number}: column {stray[0]} has a value but no header name")
            continue
        sheet.add_row(number, [cells[i].strip() if i < len(cells) else "" for i in columns], columns, errors)
    if count == 0:
        raise InvalidInput(f"the {kind} sheet has a header but no data rows")
    statements = sheet.statements(errors)
    if errors:
        raise InvalidInput(_summary(kind, errors))
    quads = list(dict.fromkeys(ox.Quad(s.subject, s.predicate, s.object, DATA) for s in statements))
    replaced = frozenset((s.subject, s.predicate) for s in statements if s.replace)
    return SheetImport(kind, count, quads, replaced)


def _text(data: bytes | str) -> str:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InvalidInput(f"the sheet is not UTF-8 text (byte {error.start}); save it as CSV UTF-8") from None
    return data.removeprefix("\ufeff")


def _table(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the data rows with their spreadsheet row numbers (the header is row 1).
    The delimiter is the commonest of , ; and tab in the header line, quoted names aside."""
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InvalidInput("the sheet is empty" if not text.strip() else "row 1 (the header) is empty")
    first_line = re.sub(r'"[^"]*"', "", lines[0])
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        table = list(reader)
    except csv.Error as error:
        raise InvalidInput(f"the sheet is not valid CSV (line {reader.line_num}): {error}") from None
    return table[0], [(index + 2, row) for index, row in enumerate(table[1:])]


def _normal(name: str) -> str:
    """Header names compare case-insensitively, with spaces, '_' and '-' alike."""
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


def _header(header: list[str], columns: tuple[Column, ...], kind: str) -> dict[int, Column]:
    """Column position -> Column; InvalidInput naming unknown, repeated or missing columns."""
    names = {_normal(spelling): column for column in columns for spelling in (column.name, *column.aliases)}
    found: dict[int, Column] = {}
    unknown, repeated = [], []
    for position, name in enumerate(header):
        if not name.strip():
            continue  # an empty column (spreadsheets often export one); its cells must be empty
        column = names.get(_normal(name))
        if column is None:
            unknown.append(repr(name.strip()))
        elif column in found.values():
            repeated.append(repr(name.strip()))
        else:
            found[position] = column
    missing = [repr(c.name) for c in columns if c.required and c not in found.values()]
    problems = []
    if unknown:
        problems.append(f"unknown columns: {', '.join(unknown)} (a {kind} sheet has: {', '.join(c.name for c in columns)})")
    if repeated:
        problems.append(f"columns given twice: {', '.join(repeated)}")
    if missing:
        problems.append(f"missing required columns: {', '.join(missing)}")
    if problems:
        raise InvalidInput(f"the header (row 1) of the {kind} sheet is not usable:\n" + "\n".join(problems))
    return found


def _summary(kind: str, errors: list[str]) -> str:
    shown = errors[:MAX_ERRORS]
    more = len(errors) - len(shown)
    tail = [f"... and {more} more error{'s' if more > 1 else ''}"] if more else []
    noun = "error" if len(errors) == 1 else "errors"
    return "\n".join([f"the {kind} sheet has {len(errors)} {noun}:", *shown, *tail])


# -- records and the merge rule --------------------------------------------------------------


class _Sheet:
    """The records of a sheet, merged row by row, and the links between them."""

    def __init__(self, kind: str, base: str) -> None:
        self.kind = kind
        self.base = base
        self.records: dict[tuple[str, str], Record] = {}
        self.treats: dict[tuple[str, str], int] = {}  # (control, risk) -> row
        self.evidence: set[tuple[str, str]] = set()  # (control, evidence item)

    def add_row(self, number: int, cells: list[str], columns: dict[int, Column], errors: list[str]) -> None:
        values, failed = self._parse(number, cells, list(columns.values()), errors)
        subjects = self._subjects(values)
        main = next(iter(RECORDS[self.kind]))
        if main not in subjects:
            if main not in failed:
                errors.append(f"row {number}, column {main!r}: empty; every row needs a {main} id")
            return
        if "evidence" in subjects and "control" not in subjects:  # evidence is evidence of a control
            del subjects["evidence"]
        for name, value in values.items():
            column = _column(self.kind, name)
            if column.record not in subjects:
                naming = RECORDS[self.kind][column.record][1] or ("control" if "evidence url" in values else "evidence url")
                if naming not in failed and "evidence url" not in failed:
                    errors.append(f"row {number}, column {name!r}: needs a value in column {naming!r} on the same row")
                continue
            self._cell(number, column, subjects[column.record], value, errors)
        for record, subject in subjects.items():
            self._first_row(number, record, subject, failed, errors)
        risk, control, item = (subjects.get(r) for r in ("risk", "control", "evidence"))
        if risk and control:
            self.treats.setdefault((control.term.value, risk.term.value), number)
        if control and item:
            self.evidence.add((control.term.value, item.term.value))

    def _parse(
        self, number: int, cells: list[str], columns: list[Column], errors: list[str]
    ) -> tuple[dict[str, list[Value]], set[str]]:
        """The values of each non-empty cell, and the names of the columns that failed."""
        values: dict[str, list[Value]] = {}
        failed: set[str] = set()
        for text, column in zip(cells, columns, strict=True):
            parts = [p.strip() for p in text.split("|")] if column.multi else [text]
            parts = list(dict.fromkeys(p for p in parts if p))
            try:
                if parts:
                    values[column.name] = [v for part in parts for v in column.parse(part, self.base)]
            except CellError as error:
                errors.append(f"row {number}, column {column.name!r}: {error}")
                failed.add(column.name)
        return values, failed

    def _subjects(self, values: dict[str, list[Value]]) -> dict[str, Value]:
        """The records the row mentions."""
        subjects = {
            record: values[naming][0]
            for record, (_, naming) in RECORDS[self.kind].items()
            if naming is not None and naming in values
        }
        if "evidence url" in values:  # an evidence item is named after its URL: one document, one item
            url = values["evidence url"][0].text
            digest = hashlib.sha256(url.encode()).hexdigest()[:16]
            subjects["evidence"] = Value(ox.NamedNode(f"{self.base}evidence/{digest}"), text=url)
        return subjects

    def _record(self, name: str, subject: Value, number: int) -> Record:
        return self.records.setdefault((name, subject.term.value), Record(name, subject, number))

    def _cell(self, number: int, column: Column, subject: Value, values: list[Value], errors: list[str]) -> None:
        """Merge one cell into its record: a record's cells must agree across its rows."""
        record = self._record(column.record, subject, number)
        if column.name == RECORDS[self.kind][column.record][1]:
            return  # the cell naming the record
        earlier, row = record.cells.setdefault(column.name, (values, number))
        if {v.term for v in earlier} != {v.term for v in values}:
            errors.append(
                f"row {number}, column {column.name!r}: {_show(values)} contradicts {_show(earlier)} in row {row} "
                f"for the same {column.record} {subject.text!r} (repeat the value or leave the cell empty)"
            )

    def _first_row(self, number: int, name: str, subject: Value, failed: set[str], errors: list[str]) -> None:
        """Required cells must be filled on the first row that mentions a record."""
        record = self._record(name, subject, number)
        if record.row != number:
            return
        for column in COLUMNS[self.kind]:
            if (
                column.record == name
                and column.required
                and column.name not in record.cells
                and column.name not in failed
                and column.name != RECORDS[self.kind][name][1]
            ):
                errors.append(
                    f"row {number}, column {column.name!r}: empty, but required on the first row "
                    f"of each {name} ({name} {subject.text!r})"
                )

    # -- statements --------------------------------------------------------------------------

    def statements(self, errors: list[str]) -> list[Statement]:
        out: list[Statement] = []
        for (name, _), record in sorted(self.records.items(), key=lambda item: item[1].row):
            out += self._record_statements(name, record)
            if name == "risk":
                out += self._risk_level(record, errors)
        for (control, risk), _ in sorted(self.treats.items(), key=lambda item: item[1]):
            kind = self.records[("control", control)].cells.get("control type")
            how = kind[0][0].iri if kind else _aims("mitigates")
            out.append(Statement(ox.NamedNode(control), how, ox.NamedNode(risk), False))
        for control, item in sorted(self.evidence):
            out.append(Statement(ox.NamedNode(control), _aims("hasEvidence"), ox.NamedNode(item), False))
        return out

    def _record_statements(self, name: str, record: Record) -> list[Statement]:
        subject = record.subject.iri
        out = [Statement(subject, TYPE, _aims(RECORDS[self.kind][name][0]), False)]
        if record.subject.local_id and RECORDS[self.kind][name][1]:
            out.append(Statement(subject, IDENTIFIER, ox.Literal(record.subject.local_id), True))
        for column in COLUMNS[self.kind]:
            for value in record.cells.get(column.name, ([], 0))[0]:
                out += _cell_statements(column, record, value, self.base)
        return out

    def _risk_level(self, risk: Record, errors: list[str]) -> list[Statement]:
        """The inherent level: as given, else the shipped matrix cell of likelihood x severity."""
        if "risk level" in risk.cells or not {"likelihood", "severity"} <= risk.cells.keys():
            return []
        cell = (risk.cells["likelihood"][0][0].term.value, risk.cells["severity"][0][0].term.value)
        level = reference().cells.get(cell)
        if level is None:
            errors.append(
                f"row {risk.row}, column 'risk level': empty, and likelihood "
                f"{risk.text('likelihood')!r} and severity {risk.text('severity')!r} are not on one "
                "shipped risk matrix; give the risk level"
            )
            return []
        return [Statement(risk.subject.iri, _aims("hasRiskLevel"), ox.NamedNode(level), True)]


def _cell_statements(column: Column, record: Record, value: Value, base: str) -> list[Statement]:
    """What one value of a record's cell says."""
    if column.build:
        return column.build(record, value, base)
    if column.property is None:
        return []  # read by the sheet (control type)
    prop, subject = ox.NamedNode(column.property), record.subject.iri
    out = [
        Statement(value.iri, prop, subject, False) if column.inverse else Statement(subject, prop, value.term, not column.link)
    ]
    if column.declare and value.local_id:
        out.append(Statement(value.iri, TYPE, ox.NamedNode(column.declare), False))
    return out


@cache
def _column(kind: str, name: str) -> Column:
    return next(c for c in COLUMNS[kind] if c.name == name)


def _show(values: list[Value]) -> str:
    return repr(" | ".join(v.text for v in values))
