"""Importing OpenLineage: run events from data pipelines, kept as PROV in the lineage graph,
matched to the register's datasets, and the assessments and evidence a data change made stale.

This module owns reading and checking OpenLineage RunEvents (:func:`read_event`,
:func:`read_events`: the parts of an event it uses are pydantic models, checked as every JSON
body is, by ``records.payloads.validated``) and computing, without writing, the change they
make to the lineage named graph (:func:`lineage_delta`). The caller commits the :class:`~aimsgraph.store.changes.Delta`.
The terms are declared in ``ontology/lineage.ttl``; ``shapes/lineage.ttl`` reports staleness.

What is recorded (all in ``Graphs.LINEAGE``; IRIs are minted from the event, never from the
time of the import, so sending an event again changes nothing):

- the run, ``urn:uuid:<runId>``, an ``aims:LineageRun`` (a ``prov:Activity``) with
  ``aims:runEventType`` for every event type received, ``prov:startedAtTime`` (START),
  ``prov:endedAtTime`` (COMPLETE, FAIL, ABORT) and ``prov:wasAssociatedWith`` its job;
- the job, an ``aims:LineageJob`` (a ``prov:SoftwareAgent``), and every dataset named, an
  ``aims:LineageDataset``, each with ``aims:lineageNamespace`` and ``aims:lineageName``; IRIs
  ``https://w3id.org/aimsgraph/lineage/job|dataset/<namespace>/<name>``, both parts
  percent-encoded (case kept, so distinct names never share an IRI);
- inputs as ``prov:used``; outputs as ``aims:lineageOutput``; an output the event reports as
  written (see *Changes*) also as an ``aims:LineageDatasetVersion`` that the run
  ``prov:generated``, with ``prov:specializationOf`` the dataset, ``prov:generatedAtTime`` the
  event time and ``aims:version`` the reported dataset version, if any;
- ``aims:matchedDataset`` from a lineage dataset to each register dataset it matches.

Matching (case-sensitive: the OpenLineage naming spec composes names from the data source's
own identifiers and never folds case). A lineage dataset (namespace N, name M) is our dataset
D, an ``aims:Dataset`` typed in the data graph, when

1. D, or an ``aims:catalogueEntry`` of D, has a ``dct:identifier`` equal to the dataset URI
   ``N/M`` or to ``N:M``, or D (or its catalogue entry) has a ``dcat:distribution`` whose
   ``dcat:accessURL`` or ``dcat:downloadURL`` equals ``N/M``. The URI is the spec's
   "namespace and name combined": ``postgres://db:5432/core.public.tx``,
   ``s3://bucket/path/file``; when M already starts with ``/`` (older naming of paths) the
   URI is ``N`` followed by ``M``, without a second slash;
2. only when rule 1 matches no dataset at all: D (or its catalogue entry) has a
   ``dct:identifier`` equal to M alone. A bare name is unique only within its namespace, so
   a qualified identifier always wins; a register that records bare names accepts that the
   same table name in another data source (a test database) matches too.

Every dataset matched by the first rule that matches anything is taken (one physical dataset
can back several register entries). Identifiers and URLs are compared as exact strings, after
removing whitespace around the register's values (as ``importers/dcat`` does).

Changes. An output is written when the event is COMPLETE, or when a RUNNING, OTHER or untyped
event reports a dataset version for it (``facets.version.datasetVersion``: streaming and
incremental jobs commit versions without completing). START events never change anything, nor
do FAIL and ABORT (their outputs are not committed). A write to a matched dataset D is a change
of D at the event time. ``aims:lastChangedAt`` of D (UTC ``xsd:dateTime``) and
``aims:lastChangedBy`` (the run) hold the latest change: a later one replaces them, an earlier
or equal one leaves them (within a batch, the larger run id breaks a tie).

Covers and staleness (the same rule as ``shapes/lineage.ttl``). A change of D reaches D, every
model ``aims:trainedOn``/``validatedOn``/``testedOn`` D, every AI system that
``aims:usesDataset`` D, and every AI system that ``aims:usesModel`` such a model; derived
datasets are not followed, because the job that rebuilds them reports its own change. An
assessment covers what it ``aims:assesses`` and the dataset whose ``aims:hasQualityAssessment``
it is, dated by ``aims:assessmentDate``; evidence covers what its control (not
``aims:Retired``) ``aims:appliesTo``, dated by ``aims:validFrom``. An item is stale when its date
is before the change's day in UTC and nothing supersedes it: no assessment of the same asset
with all its classes, or no other evidence of the same control, dated on or after that day.
Each stale item gets ``aims:madeStaleBy`` every run that made it stale and ``aims:staleSince``
the earliest such change (history; validation says whether it is still stale).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, ClassVar
from urllib.parse import quote

import pyoxigraph as ox
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator

from aimsgraph.errors import InvalidInput
from aimsgraph.namespaces import AIMS, LINEAGE_BASE, PROV, TYPE, XSD, Graphs, sparql_prefixes
from aimsgraph.records.payloads import Name, PastDateTime, list_of, one_of, payload_error, required, shown, validated
from aimsgraph.store import GraphStore
from aimsgraph.store.changes import Delta

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
CATALOGUE_ENTRY = AIMS + "catalogueEntry"  # declared by the data catalogue module
LINEAGE = ox.NamedNode(Graphs.LINEAGE)

LAST_CHANGED_AT = ox.NamedNode(AIMS + "lastChangedAt")
LAST_CHANGED_BY = ox.NamedNode(AIMS + "lastChangedBy")
STALE_SINCE = ox.NamedNode(AIMS + "staleSince")
MADE_STALE_BY = ox.NamedNode(AIMS + "madeStaleBy")

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetRef:
    """A dataset as an event names it: OpenLineage namespace and name, and the version the
    event reports for it (``facets.version.datasetVersion``), if any."""

    namespace: str
    name: str
    version: str | None = None

    @property
    def iri(self) -> str:
        return _lineage_iri("dataset", self.namespace, self.name)

    @property
    def uri(self) -> str:
        """Namespace and name combined, as the naming spec does."""
        return self.namespace + self.name if self.name.startswith("/") else f"{self.namespace}/{self.name}"

    def as_dict(self) -> dict[str, str]:
        return {"namespace": self.namespace, "name": self.name, "lineageDataset": self.iri}


@dataclass(frozen=True)
class RunEvent:
    """One OpenLineage RunEvent, checked. ``event_time`` is in UTC; ``event_type`` is None when
    the event has none (the spec allows it; it is then treated like OTHER)."""

    event_type: str | None
    event_time: datetime
    run_id: str  # lower-case UUID
    job_namespace: str
    job_name: str
    inputs: tuple[DatasetRef, ...] = ()
    outputs: tuple[DatasetRef, ...] = ()
    producer: str | None = None
    schema_url: str | None = None

    @property
    def run_iri(self) -> str:
        return "urn:uuid:" + self.run_id

    @property
    def job_iri(self) -> str:
        return _lineage_iri("job", self.job_namespace, self.job_name)

    def writes(self, output: DatasetRef) -> bool:
        """Whether this event reports ``output`` as written (see the module docstring)."""
        if self.event_type == "COMPLETE":
            return True
        return output.version is not None and self.event_type in ("RUNNING", "OTHER", None)


def read_events(payload: object) -> list[RunEvent]:
    """One RunEvent (a JSON object) or a batch of them (a JSON array), already decoded."""
    if isinstance(payload, list):
        if not payload:
            raise InvalidInput("the list holds no OpenLineage events")
        return [_event(validated(RunEventPayload, item, at=(i,))) for i, item in enumerate(payload)]
    return [read_event(payload)]


def read_event(payload: object) -> RunEvent:
    """Check one decoded RunEvent against the parts of the OpenLineage spec this module uses;
    InvalidInput names the first malformed field (``outputs[1].name is missing``)."""
    return _event(validated(RunEventPayload, payload, what="the event"))


# -- the payload: the parts of a RunEvent this module reads ----------------------------------------
#
# The spec lets producers add facets and fields of their own, and the checks before these models
# refused no field: what is not read here is ignored, not refused. ``null`` is an absent value.
# The event time is the date-time of every JSON body (``records.payloads.DateTime``), at most
# an hour ahead of this server's clock: a producer with a clock far ahead would make everything it
# covers stale for good, as a last change never moves back.


class _Lenient(BaseModel):
    """An object of an event: fields not read are ignored (see above); immutable. Built at the
    first event checked, as records.payloads.Payload is."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)
    expected: ClassVar[str] = "an object"


def _check_uuid(value: object) -> str:
    required(value)
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise payload_error(f"must be a UUID, not {shown(value)}")
    return value.lower()


_present = BeforeValidator(required)  # an object that must be there: null is missing too
Uuid = Annotated[str, PlainValidator(_check_uuid)]


class VersionFacet(_Lenient):
    """``DatasetVersionDatasetFacet``, the only facet used."""

    dataset_version: Name = Field(alias="datasetVersion")


class DatasetFacets(_Lenient):
    version: VersionFacet | None = None


class DatasetPayload(_Lenient):
    namespace: Name
    name: Name
    facets: DatasetFacets | None = None


#: A list of datasets, or null (none).
Datasets = Annotated[tuple[DatasetPayload, ...], list_of("", null=True)]


class RunPayload(_Lenient):
    run_id: Uuid = Field(alias="runId")


class JobPayload(_Lenient):
    namespace: Name
    name: Name


class RunEventPayload(_Lenient):
    expected: ClassVar[str] = "a JSON object (an OpenLineage RunEvent)"
    event_type: Annotated[str, one_of(EVENT_TYPES, f"one of {', '.join(EVENT_TYPES)}")] | None = Field(None, alias="eventType")
    event_time: PastDateTime = Field(alias="eventTime")
    run: Annotated[RunPayload, _present]
    job: Annotated[JobPayload, _present]
    inputs: Datasets = ()  # optional in the spec
    outputs: Datasets = ()
    producer: str | None = None
    schema_url: str | None = Field(None, alias="schemaURL")


def _event(body: RunEventPayload) -> RunEvent:
    return RunEvent(
        event_type=body.event_type,
        event_time=body.event_time,
        run_id=body.run.run_id,
        job_namespace=body.job.namespace,
        job_name=body.job.name,
        inputs=tuple(_ref(d) for d in body.inputs),
        outputs=tuple(_ref(d) for d in body.outputs),
        producer=body.producer,
        schema_url=body.schema_url,
    )


def _ref(dataset: DatasetPayload) -> DatasetRef:
    version = dataset.facets.version if dataset.facets is not None else None
    return DatasetRef(dataset.namespace, dataset.name, version.dataset_version if version is not None else None)


def _lineage_iri(kind: str, namespace: str, name: str) -> str:
    # Both parts fully percent-encoded ("/" too), so the separator is unambiguous.
    return f"{LINEAGE_BASE}{kind}/{quote(namespace, safe='')}/{quote(name, safe='')}"


def _xsd_date_time(moment: datetime) -> ox.Literal:
    """The canonical xsd:dateTime in UTC (what the store keeps: no trailing zeros, "Z")."""
    moment = moment.astimezone(UTC)
    fraction = f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""
    return ox.Literal(moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z", datatype=ox.NamedNode(XSD + "dateTime"))


def _parse_time(literal: ox.Literal) -> datetime | None:
    try:
        moment = datetime.fromisoformat(literal.value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- report ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """A lineage dataset (theirs) found to be a register dataset (ours), and by which rule."""

    dataset: str  # ours
    lineage: DatasetRef  # theirs
    rule: str  # "identifier", "catalogue entry identifier", "access URL", or one of the first two + " (name only)"

    def as_dict(self) -> dict[str, str]:
        return {"dataset": self.dataset, **self.lineage.as_dict(), "rule": self.rule}


@dataclass(frozen=True)
class DataChange:
    """A reported write to one of our datasets."""

    dataset: str
    at: datetime
    run: str
    latest: bool = False  # whether it became the dataset's aims:lastChangedAt

    def as_dict(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "changedAt": _xsd_date_time(self.at).value,
            "run": self.run,
            "recordedAsLastChange": self.latest,
        }


@dataclass(frozen=True)
class Stale:
    """An assessment or piece of evidence that a change of ``dataset`` made stale."""

    item: str
    kind: str  # "assessment" or "evidence"
    dated: str  # its aims:assessmentDate or aims:validFrom
    dataset: str
    changed_at: datetime
    run: str
    new: bool  # not recorded as stale before this batch

    def as_dict(self) -> dict[str, object]:
        return {
            "item": self.item,
            "kind": self.kind,
            "dated": self.dated,
            "dataset": self.dataset,
            "changedAt": _xsd_date_time(self.changed_at).value,
            "run": self.run,
            "new": self.new,
        }


@dataclass
class LineageReport:
    """What a batch of events says: runs, matched and unknown datasets, changes, stale items."""

    events: int = 0
    runs: list[str] = field(default_factory=list)
    matched: list[Match] = field(default_factory=list)
    unknown: list[DatasetRef] = field(default_factory=list)
    changes: list[DataChange] = field(default_factory=list)
    stale: list[Stale] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "events": self.events,
            "runs": self.runs,
            "matched": [m.as_dict() for m in self.matched],
            "unknown": [u.as_dict() for u in self.unknown],
            "changes": [c.as_dict() for c in self.changes],
            "stale": [s.as_dict() for s in self.stale],
        }


# -- matching ----------------------------------------------------------------------------------

_KEYS = f"""{sparql_prefixes("aims", "dct", "dcat")}
SELECT DISTINCT ?ours ?key ?how WHERE {{
  ?ours a aims:Dataset .
  FILTER EXISTS {{ GRAPH <{Graphs.DATA}> {{ ?ours a ?type }} }}
  {{ ?ours dct:identifier ?key BIND("identifier" AS ?how) }}
  UNION {{ ?ours <{CATALOGUE_ENTRY}>/dct:identifier ?key BIND("catalogue entry identifier" AS ?how) }}
  UNION {{ ?ours <{CATALOGUE_ENTRY}>?/dcat:distribution/(dcat:accessURL|dcat:downloadURL) ?key BIND("access URL" AS ?how) }}
  FILTER(!isBlank(?key))
}}"""


class _Register:
    """Our datasets by the strings that name them (identifiers and access URLs)."""

    def __init__(self, store: GraphStore) -> None:
        self.identifiers: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.urls: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for row in store.query(_KEYS):
            table = self.urls if row["how"].value == "access URL" else self.identifiers
            # Surrounding whitespace is a typing artefact (as importers/dcat treats identifiers).
            table[row["key"].value.strip()].add((row["ours"].value, row["how"].value))

    def match(self, ref: DatasetRef) -> list[tuple[str, str]]:
        """(our dataset, rule) for every register dataset ``ref`` is, by the first rule that finds any."""
        qualified = self.identifiers.get(ref.uri, set()) | self.identifiers.get(f"{ref.namespace}:{ref.name}", set())
        qualified |= self.urls.get(ref.uri, set())
        if qualified:
            return sorted(qualified)
        return sorted((ours, how + " (name only)") for ours, how in self.identifiers.get(ref.name, set()))


# -- the delta ---------------------------------------------------------------------------------


def lineage_delta(store: GraphStore, events: list[RunEvent]) -> tuple[Delta, LineageReport]:
    """The change recording ``events`` in the lineage graph, and what they say; nothing is
    written. Only the difference from what is stored: the same events again give an empty delta."""
    register = _Register(store)
    report = LineageReport(events=len(events))
    added: set[ox.Quad] = set()
    changes: list[DataChange] = []
    seen: set[tuple[str, str]] = set()
    for event in events:
        added |= _event_quads(event)
        for ref, output in [(r, False) for r in event.inputs] + [(r, True) for r in event.outputs]:
            matches = register.match(ref)
            _note(report, seen, ref, matches)
            added |= {_quad(ref.iri, AIMS + "matchedDataset", ox.NamedNode(ours)) for ours, _ in matches}
            if output and event.writes(ref):
                changes += [DataChange(ours, event.event_time, event.run_iri) for ours, _ in matches]
    report.runs = sorted({e.run_iri for e in events})
    removed: set[ox.Quad] = set()
    report.changes = _last_changes(store, changes, added, removed)
    report.stale = _staleness(store, changes, added, removed)
    return Delta(removed, added).exact(store), report


def _note(report: LineageReport, seen: set[tuple[str, str]], ref: DatasetRef, matches: list[tuple[str, str]]) -> None:
    """Report each (ours, theirs) pair and each unknown dataset once."""
    theirs = DatasetRef(ref.namespace, ref.name)  # the version belongs to the event, not the dataset
    if not matches and ("", ref.iri) not in seen:
        seen.add(("", ref.iri))
        report.unknown.append(theirs)
    for ours, rule in matches:
        if (ours, ref.iri) not in seen:
            seen.add((ours, ref.iri))
            report.matched.append(Match(ours, theirs, rule))


def _quad(subject: str, predicate: str, obj: ox.NamedNode | ox.Literal) -> ox.Quad:
    return ox.Quad(ox.NamedNode(subject), ox.NamedNode(predicate), obj, LINEAGE)


def _event_quads(event: RunEvent) -> set[ox.Quad]:
    """The run, its job and the datasets it names, as PROV."""
    run, job = event.run_iri, event.job_iri
    quads = {
        _quad(run, TYPE.value, ox.NamedNode(AIMS + "LineageRun")),
        _quad(run, PROV + "wasAssociatedWith", ox.NamedNode(job)),
        *_named(job, "LineageJob", event.job_namespace, event.job_name),
    }
    if event.event_type is not None:
        quads.add(_quad(run, AIMS + "runEventType", ox.Literal(event.event_type)))
    moment = _xsd_date_time(event.event_time)
    if event.event_type == "START":
        quads.add(_quad(run, PROV + "startedAtTime", moment))
    elif event.event_type in ("COMPLETE", "FAIL", "ABORT"):
        quads.add(_quad(run, PROV + "endedAtTime", moment))
    for ref in event.inputs:
        quads |= {*_named(ref.iri, "LineageDataset", ref.namespace, ref.name), _quad(run, PROV + "used", ox.NamedNode(ref.iri))}
    for ref in event.outputs:
        quads |= {
            *_named(ref.iri, "LineageDataset", ref.namespace, ref.name),
            _quad(run, AIMS + "lineageOutput", ox.NamedNode(ref.iri)),
        }
        if event.writes(ref):
            quads |= _version_quads(event, ref, moment)
    return quads


def _named(iri: str, cls: str, namespace: str, name: str) -> list[ox.Quad]:
    return [
        _quad(iri, TYPE.value, ox.NamedNode(AIMS + cls)),
        _quad(iri, AIMS + "lineageNamespace", ox.Literal(namespace)),
        _quad(iri, AIMS + "lineageName", ox.Literal(name)),
    ]


def _version_quads(event: RunEvent, ref: DatasetRef, moment: ox.Literal) -> set[ox.Quad]:
    """The dataset version one event reports written: one per (dataset, run, event time)."""
    version = f"{ref.iri}/run/{event.run_id}/{quote(moment.value, safe='')}"
    quads = {
        _quad(version, TYPE.value, ox.NamedNode(AIMS + "LineageDatasetVersion")),
        _quad(version, PROV + "specializationOf", ox.NamedNode(ref.iri)),
        _quad(version, PROV + "wasGeneratedBy", ox.NamedNode(event.run_iri)),
        _quad(version, PROV + "generatedAtTime", moment),
        _quad(event.run_iri, PROV + "generated", ox.NamedNode(version)),
    }
    if ref.version is not None:
        quads.add(_quad(version, AIMS + "version", ox.Literal(ref.version)))
    return quads


def _last_changes(store: GraphStore, changes: list[DataChange], added: set[ox.Quad], removed: set[ox.Quad]) -> list[DataChange]:
    """Move each changed dataset's aims:lastChangedAt/By forward, never back. Returns the
    batch's changes, each marked whether it became the last change."""
    latest: dict[str, DataChange] = {}
    for change in changes:
        current = latest.get(change.dataset)
        if current is None or (change.at, change.run) > (current.at, current.run):
            latest[change.dataset] = change
    winners = set()
    for dataset, change in latest.items():
        node = ox.NamedNode(dataset)
        stored = list(store.quads(node, LAST_CHANGED_AT, None, LINEAGE))
        times = [t for q in stored if isinstance(q.object, ox.Literal) and (t := _parse_time(q.object))]
        if times and max(times) >= change.at:
            continue  # a later (or the same) change is already recorded
        removed |= set(stored) | set(store.quads(node, LAST_CHANGED_BY, None, LINEAGE))
        added |= {
            ox.Quad(node, LAST_CHANGED_AT, _xsd_date_time(change.at), LINEAGE),
            ox.Quad(node, LAST_CHANGED_BY, ox.NamedNode(change.run), LINEAGE),
        }
        winners.add((dataset, change.at, change.run))
    unique = sorted(set(changes), key=lambda c: (c.dataset, c.at, c.run))
    return [DataChange(c.dataset, c.at, c.run, (c.dataset, c.at, c.run) in winners) for c in unique]


# Keep in step with shapes/lineage.ttl: the same coverage path, dates and supersession.
_COVERED = "(aims:usesModel?/(aims:trainedOn|aims:validatedOn|aims:testedOn)|aims:usesDataset)?"
_STALE = f"""PREFIX aims: <{AIMS}>
PREFIX xsd: <{XSD}>
SELECT DISTINCT ?item ?kind ?dated ?dataset ?changedOn WHERE {{  # the last two are substituted
  {{ ?asset {_COVERED} ?dataset }}
  {{
    {{ ?item aims:assesses|^aims:hasQualityAssessment ?asset ; aims:assessmentDate ?dated . }}
    FILTER (?dated < ?changedOn)
    FILTER NOT EXISTS {{
      ?newer aims:assesses|^aims:hasQualityAssessment ?asset ;
          aims:assessmentDate ?newerDate .
      FILTER (?newerDate >= ?changedOn)
      FILTER NOT EXISTS {{ ?item a ?class . FILTER NOT EXISTS {{ ?newer a ?class }} }}
    }}
    BIND ("assessment" AS ?kind)
  }} UNION {{
    {{ ?control aims:appliesTo ?asset ; aims:hasEvidence ?item . ?item aims:validFrom ?dated . }}
    FILTER (?dated < ?changedOn)
    FILTER NOT EXISTS {{ ?control aims:controlStatus ?status . FILTER (?status = aims:Retired) }}
    FILTER NOT EXISTS {{
      ?control aims:hasEvidence ?newer .
      ?newer aims:validFrom ?newerFrom .
      FILTER (?newerFrom >= ?changedOn)
    }}
    BIND ("evidence" AS ?kind)
  }}
}}"""


def _stale_items(store: GraphStore, dataset: str, day: date) -> list[tuple[str, str, str]]:
    """(item, kind, its date) for what a change of ``dataset`` on ``day`` (UTC) makes stale."""
    substitutions = {
        ox.Variable("dataset"): ox.NamedNode(dataset),
        ox.Variable("changedOn"): ox.Literal(day.isoformat(), datatype=ox.NamedNode(XSD + "date")),
    }
    rows = store.query(_STALE, substitutions=substitutions)
    return [(row["item"].value, row["kind"].value, row["dated"].value) for row in rows if isinstance(row["item"], ox.NamedNode)]


def _staleness(store: GraphStore, changes: list[DataChange], added: set[ox.Quad], removed: set[ox.Quad]) -> list[Stale]:
    """Record what the changes made stale: aims:madeStaleBy each run, aims:staleSince the earliest."""
    found: list[tuple[str, str, str, DataChange]] = []
    cache: dict[tuple[str, date], list[tuple[str, str, str]]] = {}
    for change in sorted(set(changes), key=lambda c: (c.dataset, c.at, c.run)):
        key = (change.dataset, change.at.date())
        if key not in cache:
            cache[key] = _stale_items(store, *key)
        found += [(item, kind, dated, change) for item, kind, dated in cache[key]]
    earliest: dict[str, datetime] = {}
    for item, _, _, change in found:
        earliest[item] = min(earliest.get(item, change.at), change.at)
        added.add(ox.Quad(ox.NamedNode(item), MADE_STALE_BY, ox.NamedNode(change.run), LINEAGE))
    recorded = {item: _recorded_since(store, item) for item in earliest}
    for item, since in earliest.items():
        stored, times = recorded[item]
        if times and min(times) <= since:
            continue  # already stale since then or earlier
        removed |= set(stored)
        added.add(ox.Quad(ox.NamedNode(item), STALE_SINCE, _xsd_date_time(since), LINEAGE))
    return [
        Stale(item, kind, dated, change.dataset, change.at, change.run, not recorded[item][1])
        for item, kind, dated, change in sorted(found, key=lambda f: (f[0], f[3].dataset, f[3].at, f[3].run))
    ]


def _recorded_since(store: GraphStore, item: str) -> tuple[list[ox.Quad], list[datetime]]:
    stored = list(store.quads(ox.NamedNode(item), STALE_SINCE, None, LINEAGE))
    return stored, [t for q in stored if isinstance(q.object, ox.Literal) and (t := _parse_time(q.object))]
