"""Tasks: the work list of risk and control owners ("My work"), computed from the record.

A task is one thing an agent has to do by a date (``ontology/work.ttl``). Five kinds:

- ``finding``: a Violation or Warning of the stored completeness findings, one task a finding.
  It is due now (the evaluation date): the record does not conform while it stands. Once
  someone changes its status, it is due in :data:`FINDING_DAYS` (by severity) unless a due
  date is given.
- ``due``: an item of the review calendar due within :data:`DUE_LEAD` or overdue
  (``records.agenda``), due on the item's date.
- ``breach``: a metric whose latest measurement breaches its threshold, while a nonconformity
  it raised is not closed (or none was raised): the owner decides and documents what to do
  within :data:`BREACH_DECISION_DAYS` of the measurement.
- ``concern``: a concern that is not closed: to triage within :data:`CONCERN_TRIAGE_DAYS` of
  being reported, or, once triaged into a finding or risk, to follow up and give feedback
  within :data:`CONCERN_FEEDBACK_MONTHS` months (the time limits of the EU Whistleblowing
  Directive, Art. 9).
- ``impact``: a risk that an impact analysis says to re-assess before a change, stored by
  :func:`impact_tasks_delta`, due on the date given, else the planned change's date, else in
  :data:`IMPACT_TASK_DAYS`.

Identity: a task's IRI is ``TASK_BASE + "<kind>-<hash of its cause>"``, so the same cause gives
the same task on every computation, and a status written for it sticks (:func:`update_delta`
stores the whole task in the data graph the first time). A stored task whose cause the record
no longer shows is ``resolved`` while it was open or in progress; an impact task is resolved
once a risk assessment of its risk is dated on or after the task's creation, or the risk is gone.

Assignee: the task's stored assignees, else the owners of what it is about (``aims:hasOwner``,
risk owners included), else the owners of what holds it (the asset of a risk, the control of
evidence), else the owners of the AI management system. A person's work is the tasks of the
person and of the roles they hold (``aims:heldBy``); the signed-in person is found by
``aims:accountName``.

Scale: at 10,000 systems the stored findings number 440,000. They are not made into task
objects: a :class:`WorkList` (one per store generation and evaluation date) keeps the other
tasks (thousands) as objects and the findings as they are, in order, and turns into tasks only
the findings of the page asked for. Filters by assignee resolve owners per focus node, once per
filter and generation.

Imports: base modules, ``store``, ``semantics``, ``risk``, ``records`` and ``reporting.overview``;
never Flask (the web view and the API render what this module returns).
"""

from __future__ import annotations

import hashlib
import re
import weakref
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar

import pyoxigraph as ox
from pydantic import AfterValidator, Field, PlainValidator

from aimsgraph.errors import InvalidInput
from aimsgraph.namespaces import (
    AIMS,
    DCT,
    FINDING_BASE,
    RDF_TYPE,
    RDFS_LABEL,
    RDFS_SUB_CLASS_OF,
    SH,
    TASK_BASE,
    XSD_DATE,
    XSD_DATETIME,
    Graphs,
)
from aimsgraph.records import agenda
from aimsgraph.records.payloads import (
    Iri,
    Iris,
    Payload,
    Text,
    canonical_time,
    list_of,
    one_of,
    payload_error,
    shown,
    validated,
)
from aimsgraph.reporting import overview
from aimsgraph.risk import impact
from aimsgraph.risk.analysis import RiskModel
from aimsgraph.semantics import validation
from aimsgraph.semantics.validation import Finding, FindingsIndex
from aimsgraph.store import GraphStore
from aimsgraph.store.changes import Delta
from aimsgraph.store.record import Record, local_name, term_text

# -- kinds, statuses, time limits ------------------------------------------------------------------

KINDS = ("finding", "due", "breach", "concern", "impact")
#: Within one day, tasks list in this order (findings last: at scale they are the many).
_KIND_RANK = {"impact": 0, "breach": 1, "concern": 2, "due": 3, "finding": 4}
KIND_CONCEPTS = {
    "finding": AIMS + "TaskFromFinding",
    "due": AIMS + "TaskFromDueItem",
    "breach": AIMS + "TaskFromBreach",
    "concern": AIMS + "TaskFromConcern",
    "impact": AIMS + "TaskFromImpactAnalysis",
}
KIND_LABELS = {
    "finding": "Finding",
    "due": "Due item",
    "breach": "Threshold breach",
    "concern": "Concern",
    "impact": "Impact analysis",
}
#: The statuses people set, by the names of the API (``skos:notation`` in aims:TaskStatuses).
STATUSES = {
    "open": AIMS + "TaskOpen",
    "in-progress": AIMS + "TaskInProgress",
    "done": AIMS + "TaskDone",
    "dismissed": AIMS + "TaskDismissed",
}
#: The status the service reports for a stored task whose cause is gone.
RESOLVED = "resolved"
ACTIVE = ("open", "in-progress")
CLOSED = ("done", "dismissed")
#: What ``?status=`` takes: a status, ``active`` (open and in progress, the default) or ``all``.
STATUS_FILTERS = {**{s: (s,) for s in (*STATUSES, RESOLVED)}, "active": ACTIVE, "all": (*STATUSES, RESOLVED)}

#: Severities of findings that become tasks (an Info finding is a hint, not work).
FINDING_SEVERITIES = ("Violation", "Warning")
#: Days to fix a finding, counted from the day someone first changes its task's status.
FINDING_DAYS = {"Violation": 30, "Warning": 90}
#: Items of the review calendar become tasks this long before they are due (the agenda's default
#: window, so the two share one computation).
DUE_LEAD = agenda.DEFAULT_WITHIN
BREACH_DECISION_DAYS = 30
CONCERN_TRIAGE_DAYS = 7
CONCERN_FEEDBACK_MONTHS = 3
IMPACT_TASK_DAYS = 30
#: Filtered lists a work list keeps (the next page of the same list is a lookup).
KEPT_SELECTIONS = 32

DATA = ox.NamedNode(Graphs.DATA)
_ID = re.compile(r"^(finding|due|breach|concern|impact)-([0-9a-f]{20,40})$")
_IRI_IN_TEXT = re.compile(r"https?://[^\s,;()<>\"]+[^\s,;()<>\".]")
_PATH_PART = re.compile(r"<([^<>]*)>|\s-([^\s]*)->\s")
#: Kinds whose path ends at what the task is about (the risk to re-assess, what a concern became);
#: the others' path starts there (the focus node, the item, the metric).
_ABOUT_LAST = ("impact", "concern")
#: The verb of a task from a due item, by the agenda's kind.
_DUE_VERBS = {
    "Review": "Review",
    "Corrective action": "Complete",
    "Improvement action": "Complete",
    "Action": "Complete",
    "Objective": "Achieve",
    "Evidence expiry": "Renew the evidence",
    "Training expiry": "Renew the training",
    "Expiry": "Renew",
    "Audit": "Hold",
    "Management review": "Hold",
    "Planned": "Hold",
    "Planned change": "Prepare",
    "Measurement": "Measure",
}
_GERUNDS = {
    "modify": "modifying",
    "retrain": "retraining",
    "replace": "replacing",
    "retire": "retiring",
    "data-change": "changing the data of",
    "supplier-exit": "leaving",
}


@dataclass(frozen=True, slots=True)
class Task:
    """One task, as computed or stored. ``path`` runs from the cause to what the task is about;
    ``via[i]`` is the property from ``path[i]`` to ``path[i + 1]`` ("" when unknown)."""

    iri: str
    kind: str
    label: str
    about: str  # the node the task is about: its owners are the assignees
    cause: str
    due: date | None
    due_basis: str  # "record" (a date of the item), "rule" (a time limit), "now" (a standing finding), "set"
    status: str = "open"
    assignees: tuple[str, ...] = ()
    path: tuple[str, ...] = ()
    via: tuple[str, ...] = ()
    detail: str = ""
    severity: str | None = None  # findings
    clauses: tuple[str, ...] = ()  # findings: catalogue IRIs
    change: str | None = None  # impact: the change kind's name
    related: str | None = None  # impact: the planned change
    stored: bool = False
    note: str | None = None
    created: date | None = None
    modified: str | None = None

    @property
    def id(self) -> str:
        return self.iri.removeprefix(TASK_BASE)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def overdue(self, as_of: date) -> bool:
        return self.active and self.due is not None and self.due < as_of

    def sort_key(self) -> tuple:
        return (self.due or date.max, _KIND_RANK[self.kind], self.severity or "", self.about, self.iri)


def task_iri(kind: str, *cause: str) -> str:
    """The IRI of the task of ``kind`` for a cause (the parts that identify it)."""
    return f"{TASK_BASE}{kind}-{hashlib.sha1(chr(10).join(cause).encode()).hexdigest()[:20]}"


def finding_task_iri(finding: Finding) -> str:
    """A finding's task: named after the finding's own stable name (a hash of what it is)."""
    return f"{TASK_BASE}finding-{finding.iri.rsplit('/', 1)[-1]}"


def path_text(path: Iterable[str], via: Iterable[str]) -> str:
    """``<a> -p-> <b> -q-> <c>``: the form of aims:taskPath."""
    nodes, steps = list(path), list(via)
    parts = [f"<{nodes[0]}>"] if nodes else []
    for step, nxt in zip(steps, nodes[1:], strict=False):
        parts.append(f"-{step or 'then'}-> <{nxt}>")
    return " ".join(parts)


def parse_path(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The nodes and steps of a :func:`path_text`."""
    nodes, steps = [], []
    for match in _PATH_PART.finditer(text):
        if match.group(1) is not None:
            nodes.append(match.group(1))
        else:
            steps.append("" if match.group(2) == "then" else match.group(2))
    return tuple(nodes), tuple(steps[: max(len(nodes) - 1, 0)])


# -- owners ------------------------------------------------------------------------------------------


class Owners:
    """Who answers for what: index lookups, memoised for the store generation (a scan of every
    owner costs seconds at 10,000 systems; a page needs the owners of a hundred nodes).

    Kept with the work list in the store's memo, it refers to the store weakly: a strong
    reference would be a cycle that only the garbage collector frees, and RocksDB's lock with it."""

    def __init__(self, store: GraphStore, lookups: dict) -> None:
        self.store = weakref.proxy(store)
        self.record = record = Record(self.store, lookups)
        systems = record.subjects(RDF_TYPE, AIMS + "AIManagementSystem")
        self.fallback = tuple(sorted({o for s in systems for o in self.direct(s)}))  # the AIMS's owners
        self._of: dict[str, tuple[str, ...]] = {}

    def direct(self, node: str) -> tuple[str, ...]:
        """The node's own owners (aims:hasOwner, risk owners included)."""
        return tuple(sorted({*self.record.objects(node, AIMS + "hasOwner"), *self.record.objects(node, AIMS + "hasRiskOwner")}))

    def holders(self, node: str) -> list[str]:
        """What holds the node: the asset of a risk, what has a piece of evidence."""
        return self.record.subjects(AIMS + "hasRisk", node) + self.record.subjects(AIMS + "hasEvidence", node)

    def of(self, node: str) -> tuple[str, ...]:
        """The node's owners, else its holders', else the AI management system's."""
        found = self._of.get(node)
        if found is None:
            found = self.direct(node) or next((o for h in self.holders(node) if (o := self.direct(h))), self.fallback)
            self._of[node] = found
        return found

    def nodes_of(self, agents: frozenset[str], candidates: Iterable[str]) -> set[str]:
        """Those of ``candidates`` whose owners include one of ``agents``. Found from the agents'
        side (what they own, and what that holds) unless an agent owns the AI management system:
        then every candidate that nobody else owns is theirs too, and each candidate is checked."""
        if not agents.isdisjoint(self.fallback):
            return self._fallen_to(agents, candidates)
        owned = {n for a in agents for p in ("hasOwner", "hasRiskOwner") for n in self.record.subjects(AIMS + p, a)}
        held = {h for n in owned for p in ("hasRisk", "hasEvidence") for h in self.record.objects(n, AIMS + p)}
        mine = owned | {h for h in held - owned if not agents.isdisjoint(self.of(h))}
        return mine & set(candidates) if not isinstance(candidates, set) else mine & candidates

    def _fallen_to(self, agents: frozenset[str], candidates: Iterable[str]) -> set[str]:
        """``nodes_of`` for the owners of the AI management system: every candidate is checked,
        with owners and holders read in one scan per property (at 10,000 systems, 2 s against
        18 s for a lookup per node)."""
        owned = _scan(self.store, ("hasOwner", "hasRiskOwner"))
        held = _scan(self.store, ("hasRisk", "hasEvidence"), backwards=True)

        def of(node: str) -> tuple[str, ...] | set[str]:
            return owned.get(node) or next((owned[h] for h in held.get(node, ()) if h in owned), self.fallback)

        return {n for n in candidates if not agents.isdisjoint(of(n))}


def _scan(store: GraphStore, names: tuple[str, ...], backwards: bool = False) -> dict[str, set[str]]:
    """Subject -> objects of the properties (object -> subjects ``backwards``) over the union of
    graphs, between IRIs."""
    found: dict[str, set[str]] = {}
    for name in names:
        for row in store.query(f"SELECT ?s ?o WHERE {{ ?s <{AIMS}{name}> ?o }}"):
            subject, obj = row["s"], row["o"]
            if isinstance(subject, ox.NamedNode) and isinstance(obj, ox.NamedNode):
                key, value = (obj.value, subject.value) if backwards else (subject.value, obj.value)
                found.setdefault(key, set()).add(value)
    return found


def agents_of(store: GraphStore, agent: str) -> frozenset[str]:
    """The agent and, for a person, the roles they hold: whose tasks are the person's."""
    roles = {term_text(q.subject) for q in store.quads(None, ox.NamedNode(AIMS + "heldBy"), ox.NamedNode(agent), None)}
    return frozenset({agent, *roles})


def persons(store: GraphStore, record: Record, limit: int) -> list[tuple[str, str]] | None:
    """(IRI, name) of the people of the record, by name; None when there are more than ``limit``."""
    found = sorted(
        {
            q.subject.value
            for q in store.quads(None, ox.NamedNode(RDF_TYPE), ox.NamedNode(AIMS + "Person"), None)
            if isinstance(q.subject, ox.NamedNode)
        }
    )
    if len(found) > limit:
        return None
    return sorted(((p, agenda.owner_name(record, p)) for p in found), key=lambda p: (p[1], p[0]))


# -- the work list -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wanted:
    """A filter of the work list: kinds, statuses and (None: anyone) the agents assigned."""

    kinds: tuple[str, ...] = KINDS
    statuses: tuple[str, ...] = ACTIVE
    agents: frozenset[str] | None = None


@dataclass
class Selection:
    """The tasks a filter selects, in order: ``before`` (due by the evaluation date), the
    standing findings (due now, still findings), ``after``; a page is turned into tasks."""

    before: list[Task]
    findings: list[Finding]
    after: list[Task]

    def __len__(self) -> int:
        return len(self.before) + len(self.findings) + len(self.after)

    def tasks(self) -> Iterator[Task]:
        """The tasks that are objects already (not the standing findings)."""
        yield from self.before
        yield from self.after


@dataclass
class WorkList:
    """Every task as of one evaluation date, for one store generation."""

    as_of: date
    owners: Owners
    tasks: dict[str, Task]  # every task but the standing findings, by IRI
    ordered: list[Task]  # the same, in order
    findings: list[Finding]  # the standing findings that are tasks, in their index's order
    index: FindingsIndex
    lookups: dict = field(default_factory=dict, repr=False)  # Record's memo (see records.agenda)
    _selections: dict = field(default_factory=dict, repr=False)
    _foci_kept: set[str] | None = field(default=None, repr=False)

    def _foci(self) -> set[str]:
        """The focus nodes of the standing findings."""
        if self._foci_kept is None:
            self._foci_kept = {f.focus for f in self.findings}
        return self._foci_kept

    def record(self, store: GraphStore) -> Record:
        return Record(store, self.lookups)

    def select(self, wanted: Wanted) -> Selection:
        """The tasks ``wanted`` selects (kept: the next page is a lookup)."""
        found = self._selections.get(wanted)
        if found is None:
            found = self._select(wanted)
            if len(self._selections) >= KEPT_SELECTIONS:
                self._selections.clear()
            self._selections[wanted] = found
        return found

    def _select(self, wanted: Wanted) -> Selection:
        agents = wanted.agents

        def chosen(task: Task) -> bool:
            return (
                task.kind in wanted.kinds
                and task.status in wanted.statuses
                and (agents is None or not agents.isdisjoint(task.assignees))
            )

        tasks = [t for t in self.ordered if chosen(t)]
        findings: list[Finding] = []
        if "finding" in wanted.kinds and "open" in wanted.statuses:
            findings = self.findings
            if agents is not None:
                mine = self.owners.nodes_of(agents, self._foci())
                findings = [f for f in findings if f.focus in mine]
        split = next((i for i, t in enumerate(tasks) if t.due is None or t.due > self.as_of), len(tasks))
        return Selection(tasks[:split], findings, tasks[split:])

    def page(self, store: GraphStore, selection: Selection, offset: int, size: int) -> list[Task]:
        """Tasks ``offset`` to ``offset + size`` of a selection, the standing findings among them
        made into tasks."""
        record = self.record(store)
        shown: list[Task] = []
        first, middle = len(selection.before), len(selection.before) + len(selection.findings)
        for position in range(offset, min(offset + size, len(selection))):
            if position < first:
                shown.append(selection.before[position])
            elif position < middle:
                shown.append(finding_task(selection.findings[position - first], self.as_of, record, self.owners))
            else:
                shown.append(selection.after[position - middle])
        return shown

    def find(self, store: GraphStore, iri: str) -> Task | None:
        """The task named ``iri``: computed, stored or a standing finding's."""
        known = self.tasks.get(iri)
        if known is not None:
            return known
        match = _ID.match(iri.removeprefix(TASK_BASE))
        if match is None or match.group(1) != "finding" or not iri.startswith(TASK_BASE):
            return None
        # the task is named after its finding, which the validation graph keeps under its own name:
        # read it there (naming every standing finding's task would hash 440,000 of them)
        result = ox.NamedNode(FINDING_BASE + match.group(2))
        focus = next(store.quads(result, ox.NamedNode(SH + "focusNode"), None, ox.NamedNode(Graphs.VALIDATION)), None)
        if focus is None:
            return None
        found = validation.stored_findings(store, [term_text(focus.object)])
        finding = next((f for f in found if f.iri == result.value and f.severity in FINDING_SEVERITIES), None)
        return finding_task(finding, self.as_of, self.record(store), self.owners) if finding is not None else None


def work_list(store: GraphStore, as_of: date) -> WorkList:
    """The work list as of ``as_of``, kept for the store generation."""
    kept: dict[date, WorkList] = store.per_generation("tasks", dict)
    found = kept.get(as_of)
    if found is None:
        found = kept[as_of] = _build(store, as_of)
    return found


def _build(store: GraphStore, as_of: date) -> WorkList:
    lookups: dict = {}
    record = Record(store, lookups)
    owners = Owners(store, lookups)
    stored = _stored_tasks(store)
    index = overview.findings_index(store, wait=False)
    computed = {t.iri: t for t in _computed(store, record, owners, index, as_of, set(stored))}
    tasks = dict(computed)
    for iri, task in stored.items():
        tasks[iri] = _merged(store, record, owners, index, as_of, task, computed.get(iri))
    standing = index.view(("task findings",), lambda: [f for f in index.findings if f.severity in FINDING_SEVERITIES])
    taken = {t.cause for t in stored.values() if t.kind == "finding"}
    if taken:
        # only the findings on the focus nodes of stored tasks need their (hashed) names
        foci = {t.about for t in stored.values() if t.kind == "finding"}
        standing = [f for f in standing if f.focus not in foci or f.iri not in taken]
    ordered = sorted(tasks.values(), key=Task.sort_key)
    return WorkList(as_of, owners, tasks, ordered, standing, index, lookups)


def _computed(
    store: GraphStore, record: Record, owners: Owners, index: FindingsIndex, as_of: date, stored: set[str]
) -> Iterator[Task]:
    yield from _due_tasks(store, owners, as_of, stored)
    yield from _breach_tasks(store, record, owners)
    yield from _concern_tasks(store, record, owners)


def _merged(
    store: GraphStore,
    record: Record,
    owners: Owners,
    index: FindingsIndex,
    as_of: date,
    stored: Task,
    computed: Task | None,
) -> Task:
    """A stored task with what the record says now: its computed twin's due date and assignees
    where it stores none; ``resolved`` when its cause is gone while it was active."""
    if stored.kind == "finding" and computed is None:
        # the stored findings of its focus node, read by index (not the index's by-focus map: a
        # grouping of every finding, again after every write)
        finding = next((f for f in validation.stored_findings(store, [stored.about]) if f.iri == stored.cause), None)
        if finding is not None:
            computed = finding_task(finding, as_of, record, owners)
    if stored.kind == "impact":
        gone = _reassessed(record, stored)
    else:
        gone = computed is None
    due, basis = stored.due, stored.due_basis
    if due is None and computed is not None:
        due, basis = computed.due, computed.due_basis
    assignees = stored.assignees or (computed.assignees if computed is not None else owners.of(stored.about))
    status = RESOLVED if gone and stored.status in ACTIVE else stored.status
    severity, clauses = (computed.severity, computed.clauses) if computed is not None else (stored.severity, stored.clauses)
    return replace(stored, due=due, due_basis=basis, assignees=assignees, status=status, severity=severity, clauses=clauses)


def _reassessed(record: Record, task: Task) -> bool:
    """An impact task's risk is gone, or was assessed on or after the task was created."""
    risk = task.about
    if not record.objects(risk, RDF_TYPE):
        return True
    since = (task.created or date.min).isoformat()
    assessments = record.subjects(AIMS + "assesses", risk) + record.subjects(AIMS + "identifiedRisk", risk)
    return any(day[:10] >= since for a in assessments for day in record.objects(a, AIMS + "assessmentDate"))


# -- the kinds -------------------------------------------------------------------------------------


def finding_task(finding: Finding, as_of: date, record: Record, owners: Owners) -> Task:
    """The task of a standing finding: due now, assigned to the owners of its focus node."""
    value = finding.value if finding.value_type == "iri" and finding.value else None
    path = (finding.focus, value) if value else (finding.focus,)
    via = (local_name(finding.path) if finding.path else "",) if value else ()
    return Task(
        iri=finding_task_iri(finding),
        kind="finding",
        label=f"{record.label(finding.focus)}: {_named(_first_sentence(finding.message), record)}",
        about=finding.focus,
        cause=finding.iri,
        due=as_of,
        due_basis="now",
        assignees=owners.of(finding.focus),
        path=path,
        via=via,
        detail=finding.message,
        severity=finding.severity,
        clauses=finding.clauses,
    )


def _named(text: str, record: Record) -> str:
    """``text`` with the IRIs in it replaced by what they name."""
    return _IRI_IN_TEXT.sub(lambda m: record.label(m.group(0)), text)


def _first_sentence(text: str) -> str:
    head = re.split(r"(?<=[a-z0-9)])\.\s", text, maxsplit=1)[0]
    return head.rstrip(".")


def _due_tasks(store: GraphStore, owners: Owners, as_of: date, stored: set[str]) -> Iterator[Task]:
    for item in agenda.due_items(store, as_of, agenda.parse_within(DUE_LEAD, as_of)):
        if item.iri in stored or item.kind == "Task":
            continue  # a stored task is on the calendar itself: not a task to do a task
        yield Task(
            iri=task_iri("due", item.iri, item.kind, item.due.isoformat()),
            kind="due",
            label=f"{_DUE_VERBS.get(item.kind, 'Complete')}: {item.label}",
            about=item.iri,
            cause=item.iri,
            due=item.due,
            due_basis="record",
            assignees=item.owners or owners.of(item.iri),
            path=(item.iri,),
            detail=f"{item.kind} due {item.due.isoformat()}" + (f" (every {item.interval})" if item.interval else ""),
        )


def _breach_tasks(store: GraphStore, record: Record, owners: Owners) -> Iterator[Task]:
    breaches = store.per_generation("task breaches", lambda: overview.breaches(store, Record(store)))
    for breach in breaches:
        raised = [str(nc["iri"]) for nc in breach.nonconformities]
        closed = [nc for nc in raised if AIMS + "StatusClosed" in record.objects(nc, AIMS + "status")]
        if not breach.still_stands or (raised and len(closed) == len(raised)):
            continue
        measured = date.fromisoformat(breach.measured_at)
        where = "below" if breach.direction == "lower" else "above"
        yield Task(
            iri=task_iri("breach", breach.measurement),
            kind="breach",
            label=f"Decide on the breach of {breach.metric_label}: {breach.value} {where} {breach.threshold}",
            about=breach.metric,
            cause=breach.measurement,
            due=measured + timedelta(days=BREACH_DECISION_DAYS),
            due_basis="rule",
            assignees=owners.of(breach.metric),
            path=(breach.metric, breach.measurement, *raised),
            via=("measurement", *("raised" for _ in raised)),
            detail=(
                f"{breach.metric_label} measured {breach.value} on {breach.measured_at}, {where} its threshold "
                f"{breach.threshold}. Decide and document the response within {BREACH_DECISION_DAYS} days (ISO/IEC 42001 9.1, 10.2)."
            ),
        )


def _concern_tasks(store: GraphStore, record: Record, owners: Owners) -> Iterator[Task]:
    concerns = sorted(
        q.subject.value
        for q in store.quads(None, ox.NamedNode(RDF_TYPE), ox.NamedNode(AIMS + "Concern"), DATA)
        if isinstance(q.subject, ox.NamedNode)
    )
    for concern in concerns:
        if AIMS + "StatusClosed" in record.objects(concern, AIMS + "status"):
            continue
        opened = record.objects(concern, AIMS + "openedOn") or record.objects(concern, AIMS + "reportedAt")
        reported = _day(min(opened, default=""))
        name = _concern_name(record, concern)
        targets = record.objects(concern, AIMS + "triagedInto")
        if not targets:
            yield Task(
                iri=task_iri("concern", concern),
                kind="concern",
                label=f"Triage the concern: {name}",
                about=concern,
                cause=concern,
                due=reported + timedelta(days=CONCERN_TRIAGE_DAYS) if reported else None,
                due_basis="rule",
                assignees=owners.of(concern),
                path=(concern,),
                detail=f"Acknowledge and triage the concern within {CONCERN_TRIAGE_DAYS} days: turn it into a finding or a risk, or close it (ISO/IEC 42001 A.3.3).",
            )
        for target in targets:
            yield Task(
                iri=task_iri("concern", concern, target),
                kind="concern",
                label=f"Follow up the concern: {record.label(target)}",
                about=target,
                cause=concern,
                due=agenda.add_months(reported, CONCERN_FEEDBACK_MONTHS) if reported else None,
                due_basis="rule",
                assignees=owners.direct(target) or owners.of(concern),
                path=(concern, target),
                via=("triagedInto",),
                detail=(
                    f"The concern “{name}” was triaged into this; deal with it and give the reporter feedback within "
                    f"{CONCERN_FEEDBACK_MONTHS} months of the report (ISO/IEC 42001 A.3.3)."
                ),
            )


def _concern_name(record: Record, concern: str) -> str:
    labels = record.objects(concern, RDFS_LABEL)
    if labels:
        return min(labels)
    text = min(record.objects(concern, DCT + "description"), default=local_name(concern))
    return text if len(text) <= 80 else text[:77] + "..."


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


# -- stored tasks ------------------------------------------------------------------------------------


def _stored_tasks(store: GraphStore) -> dict[str, Task]:
    """The tasks of the data graph, by IRI: those of impact analyses and every task whose status
    someone changed."""
    found = {}
    for quad in store.quads(None, ox.NamedNode(RDF_TYPE), ox.NamedNode(AIMS + "Task"), DATA):
        if isinstance(quad.subject, ox.NamedNode):
            found[quad.subject.value] = _read_task(store, quad.subject)
    return found


def after_write(store: GraphStore, before: Task) -> Task:
    """``before`` as the store holds it now (after a status change), with what the record gave it
    where the stored task has nothing of its own; without computing the work list again."""
    stored = _read_task(store, ox.NamedNode(before.iri))
    status = RESOLVED if before.status == RESOLVED and stored.status in ACTIVE else stored.status
    due, basis = (stored.due, stored.due_basis) if stored.due is not None else (before.due, before.due_basis)
    return replace(
        stored,
        status=status,
        due=due,
        due_basis=basis,
        assignees=stored.assignees or before.assignees,
        severity=before.severity,
        clauses=before.clauses,
    )


def _read_task(store: GraphStore, node: ox.NamedNode) -> Task:
    values: dict[str, list] = {}
    for quad in store.quads(node, None, None, DATA):
        values.setdefault(quad.predicate.value, []).append(quad.object)

    def first(prop: str) -> str | None:
        found = sorted(term_text(v) for v in values.get(prop, ()))
        return found[0] if found else None

    kinds = {v: k for k, v in KIND_CONCEPTS.items()}
    statuses = {v: k for k, v in STATUSES.items()}
    kind = kinds.get(first(AIMS + "taskKind") or "", "impact")
    path, via = parse_path(first(AIMS + "taskPath") or "")
    cause = first(AIMS + "taskCause") or node.value
    due = first(AIMS + "dueDate")
    change = first(AIMS + "taskChangeKind")
    return Task(
        iri=node.value,
        kind=kind,
        label=first(RDFS_LABEL) or local_name(node.value),
        about=(path[-1] if kind in _ABOUT_LAST else path[0]) if path else cause,
        cause=cause,
        due=_day(due) if due else None,
        due_basis="set" if due else "record",
        status=statuses.get(first(AIMS + "status") or "", "open"),
        assignees=tuple(sorted(term_text(v) for v in values.get(AIMS + "assignee", ()) if isinstance(v, ox.NamedNode))),
        path=path,
        via=via,
        detail=first(DCT + "description") or "",
        change=_change_name(change) if change else None,
        related=first(DCT + "relation"),
        stored=True,
        note=first(AIMS + "statusNote"),
        created=_day(first(DCT + "created") or ""),
        modified=first(DCT + "modified"),
    )


def _change_name(iri: str) -> str:
    try:
        return impact.change_kind(iri).name
    except InvalidInput:
        return local_name(iri)


# -- reading the list --------------------------------------------------------------------------------


def wanted_from(kind: str | None, status: str | None, agents: frozenset[str] | None) -> Wanted:
    """A filter from the request's ``kind`` and ``status`` (comma-separated); InvalidInput names
    a value that is neither."""
    kinds = _choices(kind, KINDS, "kind") if kind else KINDS
    statuses: tuple[str, ...] = ()
    for name in _choices(status, tuple(STATUS_FILTERS), "status") if status else ("active",):
        statuses += tuple(s for s in STATUS_FILTERS[name] if s not in statuses)
    return Wanted(kinds, statuses, agents)


def _choices(text: str, known: tuple[str, ...], name: str) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    unknown = [v for v in values if v not in known]
    if unknown or not values:
        raise InvalidInput(f"{name} must be one or more of {', '.join(known)} (comma-separated), not {text!r}")
    return values


def counts(work: WorkList, selection: Selection) -> dict[str, Any]:
    """Totals of a selection: tasks, overdue, per kind and per status."""
    kinds = Counter(t.kind for t in selection.tasks())
    statuses = Counter(t.status for t in selection.tasks())
    if selection.findings:
        kinds["finding"] += len(selection.findings)
        statuses["open"] += len(selection.findings)
    return {
        "total": len(selection),
        "overdue": sum(t.overdue(work.as_of) for t in selection.before),
        "kinds": {k: kinds[k] for k in KINDS if kinds[k]},
        "statuses": {s: statuses[s] for s in STATUS_FILTERS["all"] if statuses[s]},
    }


def as_dict(task: Task, record: Record, as_of: date) -> dict[str, Any]:
    """A task as JSON-ready data."""
    return {
        "id": task.id,
        "task": task.iri,
        "kind": task.kind,
        "label": task.label,
        "status": task.status,
        "assignee": list(task.assignees),
        "assigneeNames": [agenda.owner_name(record, a) for a in task.assignees],
        "due": task.due.isoformat() if task.due else None,
        "dueBasis": task.due_basis,
        "overdue": task.overdue(as_of),
        "daysLeft": (task.due - as_of).days if task.due else None,
        "cause": task.cause,
        "about": task.about,
        "aboutLabel": record.label(task.about),
        "path": path_steps(task, record),
        "pathText": path_text(task.path, task.via),
        "detail": task.detail,
        "severity": task.severity,
        "clauses": [c.rsplit("/", 1)[-1] for c in task.clauses],
        "change": task.change,
        "plannedChange": task.related,
        "stored": task.stored,
        "note": task.note,
        "created": task.created.isoformat() if task.created else None,
        "modified": task.modified,
    }


def path_steps(task: Task, record: Record) -> list[dict[str, str | None]]:
    """The path as steps: each node with its label and the property that led to it."""
    return [
        {"iri": node, "label": record.label(node), "via": task.via[i - 1] if 0 < i <= len(task.via) else None}
        for i, node in enumerate(task.path)
    ]


def bucket(task: Task, as_of: date) -> str:
    """Where "My work" lists a task: by how soon it is due."""
    if not task.active:
        return "Closed"
    if task.due is None:
        return "No due date"
    days = (task.due - as_of).days
    if days < 0:
        return "Overdue"
    if days == 0:
        return "Due today"
    if days <= 7:
        return "Due within a week"
    if days <= 30:
        return "Due within 30 days"
    return "Later"


BUCKETS = ("Overdue", "Due today", "Due within a week", "Due within 30 days", "Later", "No due date", "Closed")


def bucket_counts(work: WorkList, selection: Selection) -> dict[str, int]:
    """Tasks of a selection per :data:`BUCKETS` entry (standing findings are due today)."""
    found = Counter(bucket(t, work.as_of) for t in selection.tasks())
    found["Due today"] += len(selection.findings)
    return {b: found[b] for b in BUCKETS if found[b]}


# -- the calendar feed and what is new ---------------------------------------------------------------

_VTODO_STATUS = {"open": "NEEDS-ACTION", "in-progress": "IN-PROCESS"}


def todos(store: GraphStore, as_of: date, within: timedelta | None, agents: frozenset[str] | None = None) -> list[agenda.Todo]:
    """The open and in-progress tasks with a due date up to ``as_of + within`` (overdue ones
    included) as VTODOs of the calendar feed. Standing findings are left out: they have no date
    of their own (they are due now, every day) until someone takes them on."""
    work = work_list(store, as_of)
    record = work.record(store)
    until = None if within is None else as_of + within
    found = []
    for task in work.select(Wanted(agents=agents)).tasks():
        if task.due is None or (until is not None and task.due > until):
            continue
        names = "; ".join(agenda.owner_name(record, a) for a in task.assignees) or "nobody"
        description = [f"Assignee: {names}", f"Why: {_readable_path(task, record)}", f"Task: {task.iri}"]
        if task.detail:
            description.append(task.detail)
        found.append(
            agenda.Todo(
                uid=f"{hashlib.sha1(task.iri.encode()).hexdigest()}@aimsgraph",
                summary=task.label,
                due=task.due,
                status=_VTODO_STATUS[task.status],
                description="\n".join(description),
                categories=("Task", KIND_LABELS[task.kind], *(["Overdue"] if task.overdue(as_of) else [])),
            )
        )
    return found


def _readable_path(task: Task, record: Record) -> str:
    steps = path_steps(task, record)
    return " ".join((f"-{s['via']}-> " if s["via"] else ("-> " if i else "")) + str(s["label"]) for i, s in enumerate(steps))


def task_ids(store: GraphStore, as_of: date) -> frozenset[str]:
    """The IRIs of every active task: what :func:`new_tasks_since` compares with."""
    work = work_list(store, as_of)
    return frozenset({t.iri for t in work.ordered if t.active} | {finding_task_iri(f) for f in work.findings})


def new_tasks_since(store: GraphStore, known: Collection[str], as_of: date) -> list[Task]:
    """The active tasks whose IRIs are not in ``known`` (an earlier :func:`task_ids`), in
    order: what a notifier tells the assignees about."""
    work = work_list(store, as_of)
    record = work.record(store)
    fresh = [t for t in work.ordered if t.active and t.iri not in known]
    fresh += [finding_task(f, as_of, record, work.owners) for f in work.findings if finding_task_iri(f) not in known]
    return sorted(fresh, key=Task.sort_key)


# -- writes: a status change -------------------------------------------------------------------------


def _check_day(value: object) -> date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise payload_error(f"must be a date such as 2027-01-31, not {shown(value)}")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise payload_error(f"is not a valid date: {shown(value)} ({exc})") from None


#: A calendar date, YYYY-MM-DD.
Day = Annotated[date, PlainValidator(_check_day)]


def _some_assignees(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise payload_error("must name at least one person or role")
    return value


class TaskUpdate(Payload):
    """``{"status": "in-progress", "note": "...", "assignee": [IRI], "dueDate": "2027-01-31"}``:
    what to change, at least one of them. Dismissing needs a note that says why."""

    expected: ClassVar[str] = 'a JSON object such as {"status": "in-progress"}'
    status: Annotated[str, one_of(STATUSES, f"one of {', '.join(STATUSES)}")] | None = None
    note: Text | None = None
    assignee: Annotated[Iris, AfterValidator(_some_assignees)] | None = None
    due_date: Day | None = Field(None, alias="dueDate")


def read_update(payload: object) -> TaskUpdate:
    """Check a decoded status change; InvalidInput names the problem."""
    if isinstance(payload, dict) and isinstance(payload.get("assignee"), str):
        payload = {**payload, "assignee": [payload["assignee"]]}  # one IRI is a list of one
    update = validated(TaskUpdate, payload)
    if update.status is None and update.note is None and update.assignee is None and update.due_date is None:
        raise InvalidInput("the body changes nothing: give status, note, assignee or dueDate")
    if update.status == "dismissed" and update.note is None:
        raise InvalidInput("note is missing: say why the task is dismissed")
    return update


def update_delta(store: GraphStore, task: Task, update: TaskUpdate, as_of: date, now: datetime) -> Delta:
    """The change that applies ``update`` to ``task``: a task not stored yet is stored whole
    first (what it is, why, its assignees and due date as the record gives them today); each
    value the update gives replaces the stored one. ``aims:closedOn`` follows done or dismissed,
    ``dct:modified`` any change."""
    if update.assignee is not None:
        _require_agents(store, update.assignee)
    node = ox.NamedNode(task.iri)
    added: set[ox.Quad] = set() if task.stored else _task_quads(task, as_of)
    removed: set[ox.Quad] = set()

    def put(prop: str, values: Iterable[ox.NamedNode | ox.Literal]) -> None:
        new = {_quad(node, prop, v) for v in values}
        removed.update(q for q in store.quads(node, ox.NamedNode(prop), None, DATA) if q not in new)
        added.difference_update(q for q in list(added) if q.predicate.value == prop)
        added.update(new)

    status = update.status or (task.status if task.status in STATUSES else "open")
    put(AIMS + "status", [ox.NamedNode(STATUSES[status])])
    if update.note is not None:
        put(AIMS + "statusNote", [ox.Literal(update.note)])
    if update.assignee is not None:
        put(AIMS + "assignee", [ox.NamedNode(a) for a in update.assignee])
    if update.due_date is not None:
        put(AIMS + "dueDate", [_date(update.due_date)])
    closed = list(store.quads(node, ox.NamedNode(AIMS + "closedOn"), None, DATA))
    if status in CLOSED and not closed:
        added.add(_quad(node, AIMS + "closedOn", _date(as_of)))
    elif status not in CLOSED:
        removed.update(closed)
    delta = Delta(removed, added).exact(store)
    if delta:
        stamp = ox.Literal(canonical_time(now.replace(microsecond=0)), datatype=ox.NamedNode(XSD_DATETIME))
        delta.added.add(_quad(node, DCT + "modified", stamp))
        delta.removed.update(store.quads(node, ox.NamedNode(DCT + "modified"), None, DATA))
    return delta


def _task_quads(task: Task, as_of: date) -> set[ox.Quad]:
    """A computed task, stored: what it is and why, with the assignees and due date it has now
    (a due item's task keeps the item's own date: stored twice, the calendar would list it twice)."""
    node = ox.NamedNode(task.iri)
    quads = {
        _quad(node, RDF_TYPE, ox.NamedNode(AIMS + "Task")),
        _quad(node, RDFS_LABEL, ox.Literal(task.label)),
        _quad(node, AIMS + "taskKind", ox.NamedNode(KIND_CONCEPTS[task.kind])),
        _quad(node, AIMS + "taskCause", ox.NamedNode(task.cause)),
        _quad(node, AIMS + "taskPath", ox.Literal(path_text(task.path, task.via))),
        _quad(node, DCT + "created", _date(as_of)),
        *(_quad(node, AIMS + "assignee", ox.NamedNode(a)) for a in task.assignees),
    }
    if task.detail:
        quads.add(_quad(node, DCT + "description", ox.Literal(task.detail)))
    due = task.due
    if task.kind == "finding":
        due = as_of + timedelta(days=FINDING_DAYS.get(task.severity or "", 90))
    if due is not None and task.kind != "due":
        quads.add(_quad(node, AIMS + "dueDate", _date(due)))
    return quads


def _require_agents(store: GraphStore, iris: tuple[str, ...]) -> None:
    """Each IRI names a person, role or other agent of the record; InvalidInput names the first
    that does not."""
    values = " ".join(f"<{i}>" for i in set(iris))
    rows = store.query(
        f"SELECT DISTINCT ?x WHERE {{ VALUES ?x {{ {values} }} ?x a ?c . ?c <{RDFS_SUB_CLASS_OF}>* <{AIMS}Agent> }}"
    )
    known = {row["x"].value for row in rows}
    for i, iri in enumerate(iris):
        if iri not in known:
            raise InvalidInput(f"assignee[{i}] <{iri}> is not a person, role or other agent in the record")


# -- writes: tasks from an impact analysis -----------------------------------------------------------


def _modification(value: object) -> dict:
    if not isinstance(value, dict):
        raise payload_error('must be an object such as {"op": "remove-dependency", ...}')
    return value


def _change(value: object) -> str:
    if not isinstance(value, str):
        raise payload_error(f"must be one of {', '.join(impact.CHANGE_KINDS)}, not {shown(value)}")
    try:
        return impact.change_kind(value).name
    except InvalidInput:
        raise payload_error(f"must be one of {', '.join(impact.CHANGE_KINDS)}, not {shown(value)}") from None


class ImpactTasks(Payload):
    """The body of POST /api/impact (``node``, ``change``, ``whatIf``), and when the risks must be
    re-assessed by: ``dueDate``, else the date of ``plannedChange`` (an aims:PlannedChange of
    the node), else in :data:`IMPACT_TASK_DAYS`."""

    expected: ClassVar[str] = 'a JSON object such as {"node": "https://...", "change": "retire"}'
    node: Iri
    change: Annotated[str, PlainValidator(_change)] = "modify"
    what_if: Annotated[tuple[Annotated[dict, PlainValidator(_modification)], ...], list_of("modifications")] = Field(
        (), alias="whatIf"
    )
    planned_change: Iri | None = Field(None, alias="plannedChange")
    due_date: Day | None = Field(None, alias="dueDate")


def read_impact_tasks(payload: object) -> ImpactTasks:
    return validated(ImpactTasks, payload)


@dataclass
class ImpactTaskReport:
    """What POST /api/impact/tasks did: the tasks of the analysis, new and already stored."""

    node: str
    change: str
    tasks: list[Task]
    created: list[str]
    existing: list[str]


def impact_tasks_delta(
    store: GraphStore, record: Record, model: RiskModel, owners: Owners, request: ImpactTasks, as_of: date
) -> tuple[Delta, ImpactTaskReport]:
    """One stored task per risk the analysis says to re-assess, with the dependency path from the
    changed node to the risk; tasks stored already are left as they are (their status stays)."""
    answer = impact.analyse(record, model, request.node, request.change, [dict(m) for m in request.what_if])
    planned = _planned_date(record, request)  # checked even when a due date is given
    due = request.due_date or planned or as_of + timedelta(days=IMPACT_TASK_DAYS)
    paths = {a["iri"]: (tuple(a["path"]), tuple(a["via"])) for a in answer["affected"]}
    tasks, added = [], set()
    for risk in answer["risksToReassess"]:
        task = _impact_task(record, owners, request, risk, paths, due)
        tasks.append(task)
        if next(store.quads(ox.NamedNode(task.iri), None, None, DATA), None) is None:
            added |= _impact_quads(task, as_of)
    created = sorted({q.subject.value for q in added if isinstance(q.subject, ox.NamedNode)})
    existing = [t.iri for t in tasks if t.iri not in created]
    return Delta(set(), added).exact(store), ImpactTaskReport(request.node, request.change, tasks, created, existing)


def _planned_date(record: Record, request: ImpactTasks) -> date | None:
    if request.planned_change is None:
        return None
    change = request.planned_change
    if "PlannedChange" not in record.types(change):
        raise InvalidInput(f"plannedChange <{change}> is not an aims:PlannedChange in the record")
    targets = record.objects(change, AIMS + "changeTarget")
    if targets and request.node not in targets:
        raise InvalidInput(f"plannedChange <{change}> does not target <{request.node}> (its aims:changeTarget)")
    return min((d for d in map(_day, record.objects(change, AIMS + "plannedDate")) if d), default=None)


def _impact_task(
    record: Record,
    owners: Owners,
    request: ImpactTasks,
    risk: dict,
    paths: dict[str, tuple[tuple[str, ...], tuple[str, ...]]],
    due: date,
) -> Task:
    """The task of one risk to re-assess: the shortest path from the changed node to an asset
    that has the risk, and on to the risk."""
    node = request.node
    routes = []
    for reason in risk["reasons"]:
        match = re.fullmatch(r"risk of <(.+)>", reason)
        if match:
            asset = match.group(1)
            path, via = paths.get(asset, ((node,), ()))
            routes.append((len(path), path + (risk["iri"],), via + ("hasRisk",)))
    _, path, via = min(routes, default=(0, (node, risk["iri"]), ("hasRisk",)))
    gerund = _GERUNDS[impact.change_kind(request.change).name]
    reached = path[-2]
    how = (
        "is a risk of it"
        if reached == node
        else f"is a risk of {record.label(reached)}, which depends on it ({len(path) - 2} step{'s' if len(path) > 3 else ''})"
    )
    return Task(
        iri=task_iri("impact", node, impact.change_kind(request.change).name, risk["iri"]),
        kind="impact",
        label=f"Re-assess {risk['label']} before {gerund} {record.label(node)}",
        about=risk["iri"],
        cause=node,
        due=due,
        due_basis="set",
        assignees=owners.of(risk["iri"]),
        path=path,
        via=via,
        detail=(
            f"Before {gerund} {record.label(node)}: the risk {risk['label']} {how}. Re-assess it and record the risk "
            "assessment (ISO/IEC 42001 6.3, 8.2); the task is resolved when an assessment of the risk is dated on or after it was created."
        ),
        change=impact.change_kind(request.change).name,
        related=request.planned_change,
        stored=True,
    )


def _impact_quads(task: Task, as_of: date) -> set[ox.Quad]:
    node = ox.NamedNode(task.iri)
    assert task.change is not None and task.due is not None  # an impact task has both
    quads = _task_quads(task, as_of) | {
        _quad(node, AIMS + "status", ox.NamedNode(STATUSES["open"])),
        _quad(node, AIMS + "taskChangeKind", ox.NamedNode(impact.CHANGE_KINDS[task.change].iri)),
        _quad(node, AIMS + "dueDate", _date(task.due)),
    }
    if task.related:
        quads.add(_quad(node, DCT + "relation", ox.NamedNode(task.related)))
    return quads


# -- RDF helpers -------------------------------------------------------------------------------------


def _quad(subject: ox.NamedNode, predicate: str, obj: ox.NamedNode | ox.Literal) -> ox.Quad:
    return ox.Quad(subject, ox.NamedNode(predicate), obj, DATA)


def _date(day: date) -> ox.Literal:
    return ox.Literal(day.isoformat(), datatype=ox.NamedNode(XSD_DATE))
