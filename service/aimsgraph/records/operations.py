"""Operating the management system (ISO/IEC 42001 9.1, 10.2, A.3.3, A.8.4): measurements of
metrics, AI incidents and concerns reported by anyone, each read from JSON, checked completely,
and turned into the exact change it makes to the data graph. The caller commits the
:class:`~aimsgraph.store.changes.Delta` (``api/operations`` for requests, ``aimsgraph measure`` for
files). The terms are those of ``ontology/aims.ttl`` and ``ontology/operations.ttl``.

Every JSON body is a pydantic model (:class:`MeasurementBatch`, :class:`Incident`,
:class:`Concern`, :class:`Triage`) built from the shared types of :mod:`aimsgraph.records.payloads`
and checked by its ``validated``: unknown fields are refused, and the first problem is one
``InvalidInput`` naming the field path and the problem (``measurements[3].value must be a
number, not "high"``). Date-times are one type for all (``payloads.DateTime``).

Measurements (:func:`read_measurements`, :func:`measurement_delta`). A batch is a JSON list, or
``{"measurements": [...]}``, of ``{"metric": IRI, "value": number, "measuredAt": date-time with
a time zone, "id"?: IRI, "note"?: text}``; every problem is an ``InvalidInput`` naming the item
and field, and one bad item refuses the batch. A measurement's IRI is its ``id``, else
``https://w3id.org/aimsgraph/measurement/{sha1(metric IRI + measuredAt)[:20]}`` (measuredAt in
its canonical UTC form), so sending a batch again changes nothing. The batch is authoritative
for what it says of a measurement: a corrected value replaces the stored one. A value on the
wrong side of its metric's ``aims:threshold`` (``aims:thresholdDirection`` "lower": below it,
"upper": above it) is a breach: the measurement gets ``aims:breachesThreshold true`` and
``aims:flagsForReassessment`` every risk the metric ``aims:watchesRisk``, and a new breach (one
not recorded as a breach before) is raised as a nonconformity:

- while a metric-breach nonconformity of the metric is not ``aims:StatusClosed``, the breach is
  added to it as another ``aims:raisedBy``;
- otherwise a new one is opened, named after the metric and the day of the batch's first
  breach of it: ``https://w3id.org/aimsgraph/nonconformity/metric-breach/{sha1(metric)[:16]}-{YYYYMMDD}``
  (``-2``, ``-3`` ... when a closed one already has that name), with ``aims:raisedBy`` the
  breaches, ``aims:concerns`` the metric, what it ``aims:measures`` and the risks it watches,
  ``aims:relatesToClause`` 9.1, ``aims:status aims:StatusOpen``, ``aims:openedOn`` the day of
  the first breach, ``aims:hasOwner`` the metric's owner and the label "Threshold breach: ...".

Incidents (:func:`read_incident`, :func:`incident_delta`): an ``aims:Incident`` with what it
concerns, the risks it realises (and flags for re-assessment), the stakeholders it affects,
who must be told and by when, and the communications made, as ``aims:Communication`` nodes.

Concerns (:func:`read_concern`, :func:`concern_delta`, :func:`triage_delta`): an
``aims:Concern`` reported by anyone. An anonymous concern records no reporter and its
``aims:reportedAt`` only to the day; the caller must also record the write without naming who
made it (``ANONYMOUS``). Triage turns a concern into an ``aims:Finding`` or an ``aims:Risk``.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Context, Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Literal

import pyoxigraph as ox
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainValidator,
    PrivateAttr,
    ValidationInfo,
    field_validator,
)

from aimsgraph import clock
from aimsgraph.auth import Principal
from aimsgraph.errors import InvalidInput
from aimsgraph.namespaces import (
    AIMS,
    COMMUNICATION_BASE,
    CONCERN_BASE,
    DCT,
    INCIDENT_BASE,
    ISO,
    MEASUREMENT_BASE,
    NONCONFORMITY_BASE,
    PROV,
    RDF_TYPE,
    RDFS,
    REPORTER_BASE,
    XSD,
    Graphs,
    is_absolute_iri,
)
from aimsgraph.namespaces import CONCERN_FINDING_BASE as FINDING_BASE
from aimsgraph.namespaces import CONCERN_RISK_BASE as RISK_BASE
from aimsgraph.records.payloads import (
    MAX_LABEL,
    DateTime,
    Iri,
    Iris,
    Label,
    Number,
    PastDateTime,
    Payload,
    SomeIris,
    Text,
    canonical_time,
    list_of,
    one_of,
    payload_error,
    unique,
    validated,
)
from aimsgraph.store import GraphStore
from aimsgraph.store.changes import Delta

DATA = ox.NamedNode(Graphs.DATA)


#: Who the audit trail names for an anonymous concern, whoever sent it.
ANONYMOUS = Principal("anonymous", "reader")
#: Most measurements in one batch.
MAX_BATCH = 10_000
STATUS = {"open": "StatusOpen", "in-progress": "StatusInProgress", "verified": "StatusVerified", "closed": "StatusClosed"}
STATUS_CLOSED = AIMS + "StatusClosed"
CLAUSE_MONITORING = ISO + "9.1"
CLAUSE_CONCERNS = ISO + "A.3.3"

# -- measurements ----------------------------------------------------------------------------------


class Measurement(Payload):
    """One checked measurement: ``value`` rounded to what xsd:decimal keeps, ``measured_at`` UTC."""

    expected: ClassVar[str] = "an object with metric, value and measuredAt"
    metric: Iri
    value: Number
    measured_at: PastDateTime = Field(alias="measuredAt")
    id: Iri | None = None
    note: Text | None = None
    _index: int = PrivateAttr(default=0)

    @property
    def index(self) -> int:
        """Its place in the batch."""
        return self._index

    @property
    def iri(self) -> str:
        if self.id is not None:
            return self.id
        digest = hashlib.sha1((self.metric + canonical_time(self.measured_at)).encode()).hexdigest()
        return MEASUREMENT_BASE + digest[:20]


def _batch_size(value: object) -> object:
    if isinstance(value, list) and not value:
        raise payload_error("is empty: the batch holds no measurements")
    if isinstance(value, list) and len(value) > MAX_BATCH:
        raise payload_error(f"holds {len(value)} measurements; at most {MAX_BATCH} are taken at once")
    return value


class MeasurementBatch(Payload):
    """A batch: ``{"measurements": [...]}`` (a body that is a list is read as its ``measurements``)."""

    expected: ClassVar[str] = 'a list of measurements or {"measurements": [...]}'
    measurements: Annotated[tuple[Measurement, ...], list_of("measurements"), BeforeValidator(_batch_size)]


def read_measurements(payload: object, now: datetime | None = None) -> list[Measurement]:
    """Check a decoded batch: a list, or an object with a ``measurements`` list. InvalidInput
    names the first problem (``measurements[3].value must be a number``)."""
    batch = validated(MeasurementBatch, {"measurements": payload} if isinstance(payload, list) else payload, now=now)
    items = list(batch.measurements)
    for index, item in enumerate(items):
        item._index = index
    seen: dict[str, Measurement] = {}
    unique = []
    for item in items:
        earlier = seen.get(item.iri)
        if earlier is None:
            seen[item.iri] = item
            unique.append(item)
        elif (earlier.metric, earlier.value, earlier.measured_at, earlier.note) != (
            item.metric,
            item.value,
            item.measured_at,
            item.note,
        ):
            raise InvalidInput(
                f"measurements[{item.index}] and measurements[{earlier.index}] are the same measurement "
                f"<{item.iri}> with different values"
            )
    return unique


@dataclass
class MeasurementReport:
    """What a batch did: measurements stored (new or corrected) and unchanged, the breaches, the
    nonconformities opened and updated, the risks flagged for re-assessment."""

    stored: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    breaches: list[dict[str, str]] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    risks_flagged: list[str] = field(default_factory=list)
    without_threshold: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "stored": self.stored,
            "unchanged": self.unchanged,
            "breaches": self.breaches,
            "nonconformities": {"opened": self.opened, "updated": self.updated},
            "risksFlagged": self.risks_flagged,
            "metricsWithoutThreshold": self.without_threshold,
        }

    def summary(self) -> str:
        lines = [f"stored     {len(self.stored)} measurements ({len(self.unchanged)} unchanged)"]
        lines += [
            f"breach     {b['measurement']}  {b['metric']}  {b['value']} ({b['direction']} threshold {b['threshold']})"
            for b in self.breaches
        ]
        lines += [f"opened     {nc}" for nc in self.opened] + [f"updated    {nc}" for nc in self.updated]
        lines += [f"re-assess  {risk}" for risk in self.risks_flagged]
        lines += [f"no threshold  {metric}" for metric in self.without_threshold]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class _Metric:
    iri: str
    label: ox.Literal | None
    threshold: Decimal | None
    direction: str | None
    measures: tuple[str, ...]
    risks: tuple[str, ...]
    owners: tuple[str, ...]

    def breached_by(self, value: Decimal) -> bool:
        if self.threshold is None:
            return False
        return value < self.threshold if self.direction == "lower" else value > self.threshold


def measurement_delta(store: GraphStore, measurements: list[Measurement]) -> tuple[Delta, MeasurementReport]:
    """The exact change that records ``measurements`` (checked by :func:`read_measurements`),
    flags breaches and raises them as nonconformities; InvalidInput for a metric that is not
    an ``aims:Metric`` in the store, or an ``id`` that names something else."""
    metrics = _metrics(store, measurements)
    _check_ids(store, measurements)
    added: set[ox.Quad] = set()
    removed: set[ox.Quad] = set()
    report = MeasurementReport()
    new_breaches: dict[str, list[Measurement]] = {}
    flagged: set[str] = set()
    for m in measurements:
        metric = metrics[m.metric]
        node = ox.NamedNode(m.iri)
        breach = metric.breached_by(m.value)
        quads = {
            _quad(node, RDF_TYPE, ox.NamedNode(AIMS + "Measurement")),
            _quad(node, AIMS + "ofMetric", ox.NamedNode(m.metric)),
            _quad(node, AIMS + "value", _decimal(m.value)),
            _quad(node, AIMS + "measuredAt", _date_time(m.measured_at)),
        }
        if metric.label is not None:
            quads.add(
                _quad(
                    node,
                    RDFS + "label",
                    _labelled(metric.label, f", {m.measured_at.date().isoformat()}: {_decimal(m.value).value}"),
                )
            )
        if m.note is not None:
            quads.add(_quad(node, RDFS + "comment", ox.Literal(m.note)))
        if breach:
            quads.add(_quad(node, AIMS + "breachesThreshold", _boolean(True)))
            quads |= {_quad(node, AIMS + "flagsForReassessment", ox.NamedNode(r)) for r in metric.risks}
            flagged |= set(metric.risks)
            report.breaches.append(
                {
                    "measurement": m.iri,
                    "metric": m.metric,
                    "value": _decimal(m.value).value,
                    "measuredAt": canonical_time(m.measured_at),
                    "threshold": str(metric.threshold),
                    "direction": metric.direction or "",
                }
            )
            if not _has(store, node, AIMS + "breachesThreshold", _boolean(True)):
                new_breaches.setdefault(m.metric, []).append(m)
        # the batch is authoritative for what it says of the measurement
        owned = (
            AIMS + "ofMetric",
            AIMS + "value",
            AIMS + "measuredAt",
            RDFS + "label",
            RDFS + "comment",
            AIMS + "breachesThreshold",
            AIMS + "flagsForReassessment",
        )
        old = {q for p in owned for q in store.quads(node, ox.NamedNode(p), None, DATA)}
        old_removed, new_added = old - quads, {q for q in quads if not store.contains(q)}
        if old_removed or new_added:
            report.stored.append(m.iri)
        else:
            report.unchanged.append(m.iri)
        removed |= old_removed
        added |= quads
    for metric_iri in sorted(new_breaches):
        breaches = sorted(new_breaches[metric_iri], key=lambda m: (m.measured_at, m.iri))
        nc, opened = _nonconformity(store, metrics[metric_iri], breaches, added)
        (report.opened if opened else report.updated).append(nc)
    report.risks_flagged = sorted(flagged)
    report.without_threshold = sorted({m.metric for m in measurements if metrics[m.metric].threshold is None})
    return Delta(removed, added).exact(store), report


def _nonconformity(store: GraphStore, metric: _Metric, breaches: list[Measurement], added: set[ox.Quad]) -> tuple[str, bool]:
    """The open metric-breach nonconformity of ``metric`` with the breaches added as
    ``aims:raisedBy``, or a new one; (its IRI, whether it is new)."""
    prefix = f"{NONCONFORMITY_BASE}{_sha1(metric.iri)[:16]}-"
    existing = sorted(
        q.subject.value
        for q in store.quads(None, ox.NamedNode(RDF_TYPE), ox.NamedNode(AIMS + "Nonconformity"), DATA)
        if isinstance(q.subject, ox.NamedNode | ox.BlankNode)  # always: a subject is never a triple term
        and q.subject.value.startswith(prefix)
    )
    open_ = [nc for nc in existing if not _has(store, ox.NamedNode(nc), AIMS + "status", ox.NamedNode(STATUS_CLOSED))]
    raised_by = AIMS + "raisedBy"
    if open_:
        node = ox.NamedNode(open_[0])
        added |= {_quad(node, raised_by, ox.NamedNode(b.iri)) for b in breaches}
        return open_[0], False
    first = breaches[0]
    base = prefix + first.measured_at.strftime("%Y%m%d")
    iri, n = base, 1
    while next(store.quads(ox.NamedNode(iri), None, None, None), None) is not None:
        n += 1
        iri = f"{base}-{n}"
    node = ox.NamedNode(iri)
    where = "below" if metric.direction == "lower" else "above"
    name = metric.label.value if metric.label is not None else metric.iri
    added |= {
        _quad(node, RDF_TYPE, ox.NamedNode(AIMS + "Nonconformity")),
        _quad(
            node,
            RDFS + "label",
            _labelled(metric.label, "", prefix="Threshold breach: ")
            if metric.label is not None
            else ox.Literal(f"Threshold breach: {metric.iri}"),
        ),
        _quad(
            node,
            DCT + "description",
            ox.Literal(
                f"{name}: {_decimal(first.value).value} measured at {canonical_time(first.measured_at)} is {where} "
                f"the threshold {metric.threshold}.",
                language="en",
            ),
        ),
        _quad(node, AIMS + "concerns", ox.NamedNode(metric.iri)),
        _quad(node, AIMS + "relatesToClause", ox.NamedNode(CLAUSE_MONITORING)),
        _quad(node, AIMS + "status", ox.NamedNode(AIMS + "StatusOpen")),
        _quad(node, AIMS + "openedOn", _date(first.measured_at.date())),
        *(_quad(node, raised_by, ox.NamedNode(b.iri)) for b in breaches),
        *(_quad(node, AIMS + "concerns", ox.NamedNode(x)) for x in (*metric.measures, *metric.risks)),
        *(_quad(node, AIMS + "hasOwner", ox.NamedNode(o)) for o in metric.owners),
    }
    return iri, True


def _metrics(store: GraphStore, measurements: list[Measurement]) -> dict[str, _Metric]:
    wanted = sorted({m.metric for m in measurements})
    known = _typed(store, wanted, AIMS + "Metric")
    for m in measurements:
        if m.metric not in known:
            raise InvalidInput(f"measurements[{m.index}].metric <{m.metric}> is not an aims:Metric in the record")
    found = {}
    for iri in wanted:
        node = ox.NamedNode(iri)
        thresholds = _objects(store, node, AIMS + "threshold")
        directions = [o.value for o in _objects(store, node, AIMS + "thresholdDirection")]
        threshold = None
        for literal in thresholds:
            try:
                threshold = Decimal(literal.value)
                break
            except InvalidOperation:
                continue
        direction = next((d for d in sorted(directions) if d in ("lower", "upper")), None)
        found[iri] = _Metric(
            iri,
            _label(store, node),
            threshold if direction else None,
            direction,
            tuple(sorted(o.value for o in _objects(store, node, AIMS + "measures") if isinstance(o, ox.NamedNode))),
            tuple(sorted(o.value for o in _objects(store, node, AIMS + "watchesRisk") if isinstance(o, ox.NamedNode))),
            tuple(sorted(o.value for o in _objects(store, node, AIMS + "hasOwner") if isinstance(o, ox.NamedNode))),
        )
    return found


def _check_ids(store: GraphStore, measurements: list[Measurement]) -> None:
    """An ``id`` may name a new node or a measurement, not something else of the record."""
    measurement = ox.NamedNode(AIMS + "Measurement")
    for m in measurements:
        if m.id is None:
            continue
        types = {q.object for q in store.quads(ox.NamedNode(m.id), ox.NamedNode(RDF_TYPE), None, DATA)}
        if types and measurement not in types:
            raise InvalidInput(f"measurements[{m.index}].id <{m.id}> names something that is not an aims:Measurement")


# -- incidents -------------------------------------------------------------------------------------


class Communication(Payload):
    """That a party was told of an incident, and when."""

    expected: ClassVar[str] = "an object with recipient and at"
    recipient: Iri
    at: PastDateTime


class Incident(Payload):
    """One checked incident report. ``informBy`` is a deadline: it may lie ahead."""

    expected: ClassVar[str] = "a JSON object describing the incident"
    id: Iri | None = None
    label: Label
    description: Text | None = None
    occurred_at: PastDateTime = Field(alias="occurredAt")
    systems: SomeIris
    risks: Iris = ()
    affected: Iris = Field((), alias="affectedStakeholders")
    must_inform: Iris = Field((), alias="mustInform")
    inform_by: DateTime | None = Field(None, alias="informBy")
    communications: Annotated[
        tuple[Communication, ...], list_of('{"recipient": IRI, "at": date-time}'), AfterValidator(unique)
    ] = ()
    owner: Iri | None = None

    @property
    def iri(self) -> str:
        if self.id is not None:
            return self.id
        return INCIDENT_BASE + _sha1(self.label + "\n" + canonical_time(self.occurred_at))[:20]

    def communication_iri(self, c: Communication) -> str:
        return COMMUNICATION_BASE + _sha1(f"{self.iri}\n{c.recipient}\n{canonical_time(c.at)}")[:20]


def read_incident(payload: object, now: datetime | None = None) -> Incident:
    """Check a decoded incident report; InvalidInput names the field."""
    return validated(Incident, payload, now=now)


@dataclass
class IncidentReport:
    incident: str
    created: bool
    risks_flagged: list[str]
    communications: list[str]
    overdue: list[str]  # parties that must be told, not yet told, past informBy

    def as_dict(self) -> dict[str, object]:
        return {
            "incident": self.incident,
            "created": self.created,
            "risksFlagged": self.risks_flagged,
            "communications": self.communications,
            "overdueCommunications": self.overdue,
        }


def incident_delta(store: GraphStore, incident: Incident, now: datetime | None = None) -> tuple[Delta, IncidentReport]:
    """The exact change that records ``incident``. The report is authoritative for the fields it
    names (label, description, dates, systems, risks, parties, owner: they replace what is
    recorded); communications are added to those recorded (once made, one stays made); status
    and openedOn are set when the incident is first recorded and left to its owner afterwards.
    InvalidInput when a named system, risk or party is not in the record as one."""
    now = now or clock.now()
    _require_typed(store, incident.systems, AIMS + "Asset", "systems", "an asset (AI system, model, dataset ...)")
    _require_typed(store, incident.risks, AIMS + "Risk", "risks", "an aims:Risk")
    parties = [
        ("affectedStakeholders", incident.affected),
        ("mustInform", incident.must_inform),
        ("owner", (incident.owner,) if incident.owner else ()),
    ]
    for name, iris in parties:
        _require_typed(store, iris, AIMS + "Agent", name, "a party, person, role or organisation")
    _require_typed(
        store,
        tuple(c.recipient for c in incident.communications),
        AIMS + "Agent",
        "communications",
        "a party, person, role or organisation",
        field_name="recipient",
    )
    node = ox.NamedNode(incident.iri)
    types = {q.object for q in store.quads(node, ox.NamedNode(RDF_TYPE), None, DATA)}
    if types and ox.NamedNode(AIMS + "Incident") not in types:
        raise InvalidInput(f"id <{incident.iri}> names something that is not an aims:Incident")
    created = not types
    quads = {
        _quad(node, RDF_TYPE, ox.NamedNode(AIMS + "Incident")),
        _quad(node, RDFS + "label", ox.Literal(incident.label)),
        _quad(node, AIMS + "occurredAt", _date_time(incident.occurred_at)),
        *(_quad(node, AIMS + "concerns", ox.NamedNode(s)) for s in incident.systems),
        *(_quad(node, AIMS + "realisesRisk", ox.NamedNode(r)) for r in incident.risks),
        *(_quad(node, AIMS + "flagsForReassessment", ox.NamedNode(r)) for r in incident.risks),
        *(_quad(node, AIMS + "affectsStakeholder", ox.NamedNode(p)) for p in incident.affected),
        *(_quad(node, AIMS + "mustInform", ox.NamedNode(p)) for p in incident.must_inform),
    }
    if incident.description is not None:
        quads.add(_quad(node, DCT + "description", ox.Literal(incident.description)))
    if incident.inform_by is not None:
        quads.add(_quad(node, AIMS + "informBy", _date_time(incident.inform_by)))
    if incident.owner is not None:
        quads.add(_quad(node, AIMS + "hasOwner", ox.NamedNode(incident.owner)))
    owned = (
        "label",
        "occurredAt",
        "concerns",
        "realisesRisk",
        "flagsForReassessment",
        "affectsStakeholder",
        "mustInform",
        "description",
        "informBy",
        "hasOwner",
    )
    removed = {
        q
        for p in owned
        for q in store.quads(node, ox.NamedNode((DCT if p == "description" else RDFS if p == "label" else AIMS) + p), None, DATA)
    } - quads
    if created:
        quads |= {
            _quad(node, AIMS + "status", ox.NamedNode(AIMS + "StatusOpen")),
            _quad(node, AIMS + "openedOn", _date(now.date())),
        }
    communications = []
    for c in incident.communications:
        iri = incident.communication_iri(c)
        communications.append(iri)
        comm = ox.NamedNode(iri)
        quads |= {
            _quad(node, AIMS + "hasCommunication", comm),
            _quad(comm, RDF_TYPE, ox.NamedNode(AIMS + "Communication")),
            _quad(comm, AIMS + "recipient", ox.NamedNode(c.recipient)),
            _quad(comm, AIMS + "communicatedAt", _date_time(c.at)),
            _quad(node, AIMS + "informed", ox.NamedNode(c.recipient)),
        }
    told = {c.recipient for c in incident.communications} | {
        o.value
        for comm in _objects(store, node, AIMS + "hasCommunication", DATA)
        for o in _objects(store, comm, AIMS + "recipient", DATA)
    }
    overdue = sorted(p for p in incident.must_inform if p not in told) if incident.inform_by and incident.inform_by < now else []
    report = IncidentReport(incident.iri, created, sorted(set(incident.risks)), communications, overdue)
    return Delta(removed, quads).exact(store), report


# -- concerns --------------------------------------------------------------------------------------


def _check_anonymous(value: object) -> bool:
    if not isinstance(value, bool):
        raise payload_error("must be true or false (true: nothing that identifies the reporter is recorded)")
    return value


class Concern(Payload):
    """One checked concern. ``anonymous`` must be given (true or false, checked first), so that
    nobody is named by accident; ``reporter`` is an IRI or a name, never set when ``anonymous``,
    and never repeated in a message."""

    expected: ClassVar[str] = "a JSON object with description and anonymous"
    anonymous: Annotated[bool, PlainValidator(_check_anonymous)] = Field(None, validate_default=True)
    reporter: str | None = None
    description: Text
    concerns: Iri | None = None

    @field_validator("reporter", mode="before")
    @classmethod
    def _reporter(cls, value: object, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.data.get("anonymous") is True:
            raise payload_error("must be left out when anonymous is true")
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_LABEL:
            raise payload_error(f"must be an IRI or a name of at most {MAX_LABEL} characters")
        return value.strip()


def read_concern(payload: object) -> Concern:
    """Check a decoded concern (see :class:`Concern`)."""
    return validated(Concern, payload)


@dataclass
class ConcernReport:
    concern: str
    anonymous: bool

    def as_dict(self) -> dict[str, object]:
        return {"concern": self.concern, "anonymous": self.anonymous}


def concern_delta(
    store: GraphStore, concern: Concern, caller: str | None = None, now: datetime | None = None, iri: str | None = None
) -> tuple[Delta, ConcernReport]:
    """The change that records ``concern`` as a new ``aims:Concern`` (a random IRI). Not
    anonymous: ``aims:reportedBy`` the reporter (an IRI, or a node labelled with the name), else
    the caller's name; InvalidInput if there is neither. Anonymous: no reporter, and
    ``aims:reportedAt`` at the start of the day (UTC), so that neither names nor times single
    anyone out. The caller must commit an anonymous concern as :data:`ANONYMOUS`."""
    now = now or clock.now()
    node = ox.NamedNode(iri or CONCERN_BASE + str(uuid.uuid4()))
    if concern.concerns is not None:
        _require_described(store, concern.concerns, "concerns")
    reported_at = now.astimezone(UTC)
    reported_at = (
        reported_at.replace(hour=0, minute=0, second=0, microsecond=0)
        if concern.anonymous
        else reported_at.replace(microsecond=0)
    )
    quads = {
        _quad(node, RDF_TYPE, ox.NamedNode(AIMS + "Concern")),
        _quad(node, DCT + "description", ox.Literal(concern.description)),
        _quad(node, AIMS + "reportedAt", _date_time(reported_at)),
        _quad(node, AIMS + "anonymous", _boolean(concern.anonymous)),
        _quad(node, AIMS + "status", ox.NamedNode(AIMS + "StatusOpen")),
        _quad(node, AIMS + "openedOn", _date(reported_at.date())),
    }
    if concern.concerns is not None:
        quads.add(_quad(node, AIMS + "concerns", ox.NamedNode(concern.concerns)))
    if not concern.anonymous:
        reporter = concern.reporter or caller
        if reporter is None:
            raise InvalidInput("a concern that is not anonymous names its reporter (reporter) or is sent with a token")
        if is_absolute_iri(reporter):
            quads.add(_quad(node, AIMS + "reportedBy", ox.NamedNode(reporter)))
        else:
            person = ox.NamedNode(REPORTER_BASE + _sha1(reporter)[:20])
            quads |= {
                _quad(node, AIMS + "reportedBy", person),
                _quad(person, RDF_TYPE, ox.NamedNode(AIMS + "Agent")),
                _quad(person, RDFS + "label", ox.Literal(reporter)),
            }
    return Delta(set(), quads).exact(store), ConcernReport(node.value, concern.anonymous)


class Triage(Payload):
    """A concern turned into a finding or a risk."""

    expected: ClassVar[str] = "a JSON object with concern, into and label"
    into: Annotated[Literal["finding", "risk"], one_of(("finding", "risk"), '"finding" or "risk"')]
    status: Annotated[str, one_of(STATUS, f"one of {', '.join(STATUS)}")] = "in-progress"  # the concern's, afterwards
    concern: Iri
    label: Label
    description: Text | None = None
    asset: Iri | None = None
    owner: Iri | None = None

    @property
    def iri(self) -> str:
        base = FINDING_BASE if self.into == "finding" else RISK_BASE
        return base + _sha1(f"{self.concern}\n{self.label}")[:20]


def read_triage(payload: object) -> Triage:
    """Check a decoded triage decision (see :class:`Triage`)."""
    return validated(Triage, payload)


def triage_delta(store: GraphStore, triage: Triage, now: datetime | None = None) -> tuple[Delta, dict[str, object]]:
    """The change that turns a concern into a finding (``aims:raisedBy`` the concern, clause
    A.3.3, open) or a risk of an asset (``aims:hasRisk`` from the asset, ``prov:wasDerivedFrom``
    the concern), links the concern to it with ``aims:triagedInto`` and sets the concern's
    status (``aims:closedOn`` today when closed)."""
    now = now or clock.now()
    concern = ox.NamedNode(triage.concern)
    if not _has(store, concern, RDF_TYPE, ox.NamedNode(AIMS + "Concern")):
        raise InvalidInput(f"concern <{triage.concern}> is not an aims:Concern in the record")
    asset = triage.asset or next(
        (o.value for o in _objects(store, concern, AIMS + "concerns", DATA) if isinstance(o, ox.NamedNode)), None
    )
    if asset is not None:
        if triage.asset is not None or triage.into == "risk":
            _require_typed(store, (asset,), AIMS + "Asset", "asset", "an asset (AI system, model, dataset ...)")
    elif triage.into == "risk":
        raise InvalidInput("asset is required to triage a concern into a risk (the concern names none)")
    if triage.owner is not None:
        _require_typed(store, (triage.owner,), AIMS + "Agent", "owner", "a party, person, role or organisation")
    node = ox.NamedNode(triage.iri)
    quads = {_quad(node, RDFS + "label", ox.Literal(triage.label))}
    if triage.description is not None:
        quads.add(_quad(node, DCT + "description", ox.Literal(triage.description)))
    if triage.into == "finding":
        quads |= {
            _quad(node, RDF_TYPE, ox.NamedNode(AIMS + "Finding")),
            _quad(node, AIMS + "raisedBy", concern),
            _quad(node, AIMS + "relatesToClause", ox.NamedNode(CLAUSE_CONCERNS)),
        }
        if asset is not None:
            quads.add(_quad(node, AIMS + "concerns", ox.NamedNode(asset)))
        if triage.owner is not None:
            quads.add(_quad(node, AIMS + "hasOwner", ox.NamedNode(triage.owner)))
        if next(store.quads(node, None, None, DATA), None) is None:
            quads |= {
                _quad(node, AIMS + "status", ox.NamedNode(AIMS + "StatusOpen")),
                _quad(node, AIMS + "openedOn", _date(now.date())),
            }
    else:
        assert asset is not None  # required to triage into a risk (checked above)
        quads |= {
            _quad(node, RDF_TYPE, ox.NamedNode(AIMS + "Risk")),
            _quad(ox.NamedNode(asset), AIMS + "hasRisk", node),
            _quad(node, PROV + "wasDerivedFrom", concern),
        }
        if triage.owner is not None:
            quads.add(_quad(node, AIMS + "hasRiskOwner", ox.NamedNode(triage.owner)))
    status = ox.NamedNode(AIMS + STATUS[triage.status])
    quads |= {_quad(concern, AIMS + "triagedInto", node), _quad(concern, AIMS + "status", status)}
    removed = {q for q in store.quads(concern, ox.NamedNode(AIMS + "status"), None, DATA) if q.object != status}
    closed = list(store.quads(concern, ox.NamedNode(AIMS + "closedOn"), None, DATA))
    if triage.status == "closed":
        if not closed:
            quads.add(_quad(concern, AIMS + "closedOn", _date(now.date())))
    else:
        removed |= set(closed)
    created = next(store.quads(node, None, None, DATA), None) is None
    return Delta(removed, quads).exact(store), {
        "concern": triage.concern,
        "into": triage.into,
        triage.into: node.value,
        "created": created,
        "concernStatus": status.value,
    }


# -- checks ----------------------------------------------------------------------------------------


def _typed(store: GraphStore, iris: list[str] | tuple[str, ...], cls: str) -> set[str]:
    """Those of ``iris`` typed in the record (data graph, or inferred) as ``cls`` or a subclass."""
    if not iris:
        return set()
    values = " ".join(f"<{i}>" for i in set(iris))
    rows = store.query(f"""SELECT DISTINCT ?x WHERE {{ VALUES ?x {{ {values} }}
        {{ GRAPH <{Graphs.DATA}> {{ ?x a ?c }} }} UNION {{ GRAPH <{Graphs.INFERRED}> {{ ?x a ?c }} }}
        ?c <{RDFS}subClassOf>* <{cls}> }}""")
    return {row["x"].value for row in rows}


def _require_typed(
    store: GraphStore, iris: tuple[str, ...], cls: str, key: str, what: str, field_name: str | None = None
) -> None:
    known = _typed(store, iris, cls)
    for i, iri in enumerate(iris):
        if iri not in known:
            where = f"{key}[{i}]" + (f".{field_name}" if field_name else "") if key not in ("owner", "asset") else key
            raise InvalidInput(f"{where} <{iri}> is not {what} in the record")


def _require_described(store: GraphStore, iri: str, key: str) -> None:
    if next(store.quads(ox.NamedNode(iri), ox.NamedNode(RDF_TYPE), None, DATA), None) is None:
        raise InvalidInput(f"{key} <{iri}> is not described in the record")


# -- RDF helpers -----------------------------------------------------------------------------------


def _quad(subject: ox.NamedNode, predicate: str, obj: ox.NamedNode | ox.Literal) -> ox.Quad:
    return ox.Quad(subject, ox.NamedNode(predicate), obj, DATA)


def _has(store: GraphStore, subject: ox.NamedNode, predicate: str, obj: ox.NamedNode | ox.Literal) -> bool:
    return store.contains(ox.Quad(subject, ox.NamedNode(predicate), obj, DATA))


def _objects(store: GraphStore, subject: ox.NamedNode, predicate: str, graph: ox.NamedNode | None = None) -> list[Any]:
    return sorted({q.object for q in store.quads(subject, ox.NamedNode(predicate), None, graph)}, key=str)


def _label(store: GraphStore, node: ox.NamedNode) -> ox.Literal | None:
    labels = [o for o in _objects(store, node, RDFS + "label", DATA) if isinstance(o, ox.Literal)]
    return next((o for o in labels if o.language == "en"), labels[0] if labels else None)


def _labelled(label: ox.Literal, suffix: str, prefix: str = "") -> ox.Literal:
    text = prefix + label.value + suffix
    return ox.Literal(text, language=label.language) if label.language else ox.Literal(text)


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _date_time(moment: datetime) -> ox.Literal:
    return ox.Literal(canonical_time(moment), datatype=ox.NamedNode(XSD + "dateTime"))


def _date(day: date) -> ox.Literal:
    return ox.Literal(day.isoformat(), datatype=ox.NamedNode(XSD + "date"))


def _boolean(value: bool) -> ox.Literal:
    return ox.Literal("true" if value else "false", datatype=ox.NamedNode(XSD + "boolean"))


def _decimal(value: Decimal) -> ox.Literal:
    """The canonical xsd:decimal, as the store keeps it: no exponent, no trailing zeros."""
    text = format(value.normalize(Context(prec=60)), "f")
    if text in ("-0", ""):
        text = "0"
    return ox.Literal(text, datatype=ox.NamedNode(XSD + "decimal"))
