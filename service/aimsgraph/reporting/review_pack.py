"""The management review pack: the input top management needs to review the AI management
system (ISO/IEC 42001 9.3.2), assembled from the record and rendered as Markdown, as one
self-contained HTML file, or as data (JSON).

In aimsgraph's words, the review considers: how the actions from earlier reviews stand; what
changed in the issues, context and interested parties the AIMS depends on; how the AIMS
performs, with trends, in nonconformities and corrective actions, monitoring and measurement
results, incidents and audit results; and where it can improve. One section per input, each
saying plainly when there is nothing to report.

The previous management review is the latest ``aims:ManagementReview`` held on or before the
reference date (``aims:reviewDate``, else the date of ``prov:startedAtTime``). Changes are those
in the audit trail since then. The period under review, for incidents, breaches, audits and
findings, runs from the previous review or twelve months before the reference date, whichever
is earlier. Trends compare the risk profile and readiness with the record as it stood at the
previous review, rebuilt from the audit trail (:func:`aimsgraph.store.changes.state_at`), when the
trail reaches back that far; otherwise the pack says why there is no comparison.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
import pyoxigraph as ox

from aimsgraph import clock
from aimsgraph.errors import InvalidInput
from aimsgraph.namespaces import AIMS, DCT, PROV, RDF_TYPE, RDFS, RDFS_LABEL, SKOS_NOTATION, Graphs
from aimsgraph.records import agenda
from aimsgraph.reporting import charts, reports
from aimsgraph.risk.analysis import RiskModel
from aimsgraph.risk.scoring import Level
from aimsgraph.semantics import validation
from aimsgraph.semantics.reasoning import refresh_inferences
from aimsgraph.semantics.validation import Finding
from aimsgraph.store import GraphStore, changes
from aimsgraph.store.record import Record, local_name, term_text

CLOSED = AIMS + "StatusClosed"
FORMATS = ("md", "html", "json")
MEDIA_TYPES = {"md": "text/markdown", "html": "text/html", "json": "application/json"}
#: How far back the period under review reaches at least (months before the reference date).
PERIOD_MONTHS = 12
#: Changed records named per kind in the changes section.
EXAMPLES_PER_KIND = 3

#: The sections, in order: id, heading, the ISO/IEC 42001 clauses they serve.
SECTIONS = (
    ("actions", "Actions from previous management reviews", "9.3.2 a), 10.2"),
    ("changes", "Changes in external and internal issues", "9.3.2 b), c); 4.1, 4.2, 6.3"),
    ("trends", "Risk and readiness trends", "9.3.2 d); 6.1.2, 8.2"),
    ("nonconformities", "Nonconformities and corrective actions", "9.3.2 d) 1); 10.2"),
    ("monitoring", "Monitoring and measurement results", "9.3.2 d) 2); 9.1"),
    ("incidents", "Incidents", "9.3.2 d); A.8.4"),
    ("audits", "Audit results", "9.3.2 d) 3); 9.2"),
    ("improvement", "Opportunities for improvement", "9.3.2 e); 10.1"),
)
HEADINGS = {key: title for key, title, _ in SECTIONS}


@dataclass
class Table:
    """Rows with the columns shown (key, heading); rows may hold more keys (IRIs) for JSON."""

    id: str
    caption: str
    columns: list[tuple[str, str]]
    rows: list[dict[str, Any]]  # values to show (text, numbers), and IRIs for JSON
    empty: str  # said instead of the table when it has no rows


@dataclass
class Section:
    id: str
    title: str
    clause: str
    purpose: str
    empty: str  # said when the section has nothing to report
    notes: list[str] = field(default_factory=list)
    figures: list[tuple[str, object]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.figures and all(not t.rows for t in self.tables)


@dataclass
class ReviewPack:
    title: str
    generated_at: datetime
    as_of: date
    period_start: date
    previous_review: dict[str, str] | None
    next_review: dict[str, str] | None
    sections: list[Section]
    readiness: list[reports.Readiness] = field(default_factory=list)  # for the HTML chart
    levels: dict[str, Level] = field(default_factory=dict)  # risk levels by label, for the HTML badges

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.id == key)


# -- assembling ------------------------------------------------------------------------------


def build(
    store: GraphStore, model: RiskModel, findings: list[Finding], as_of: date | None = None, generated_at: datetime | None = None
) -> ReviewPack:
    """The pack for ``store`` as it is now, reviewed as of ``as_of`` (default today), with
    ``model`` (its risk model) and ``findings`` (its completeness findings as of that date)."""
    generated_at = generated_at or clock.now()
    as_of = clock.as_of(as_of)
    record = Record(store)
    reviews = _reviews(store, record)
    held = [r for r in reviews if r["held"] and r["held"] <= as_of]
    previous = max(held, key=lambda r: (r["held"], r["iri"])) if held else None
    planned = [r for r in reviews if not r["held"] and r["planned"]]
    upcoming = min(planned, key=lambda r: (r["planned"], r["iri"])) if planned else None
    year_before = agenda.add_months(as_of, -PERIOD_MONTHS)
    period_start = min(previous["held"], year_before) if previous else year_before
    context = _Context(store, record, as_of, period_start, previous)
    readiness = reports.build(store, findings, as_of).clauses
    sections = [
        _actions(context),
        _changes(context),
        _trends(context, model, readiness),
        _nonconformities(context),
        _monitoring(context),
        _incidents(context),
        _audits(context),
        _improvement(context, findings),
    ]
    return ReviewPack(
        title=_title(store),
        generated_at=generated_at,
        as_of=as_of,
        period_start=period_start,
        previous_review=_review_dict(previous, "held"),
        next_review=_review_dict(upcoming, "planned"),
        sections=sections,
        readiness=readiness,
        levels={level.label: level for level in model.criteria.matrix.levels.values()},
    )


@dataclass
class _Context:
    store: GraphStore
    record: Record
    as_of: date
    period_start: date
    previous: dict | None

    @property
    def since(self) -> datetime | None:
        """The moment of the previous review: its start time, else its date at 00:00 UTC."""
        if self.previous is None:
            return None
        return self.previous["moment"] or datetime.combine(self.previous["held"], time(), tzinfo=UTC)

    def label(self, iri: str) -> str:
        return self.record.label(iri)

    def labels(self, iris) -> str:
        return ", ".join(sorted(self.record.label(i) for i in iris))

    def first(self, iri: str, prop: str) -> str | None:
        return min(self.record.objects(iri, prop), default=None)

    def values(self, iri: str, prop: str) -> list[str]:
        return self.record.objects(iri, AIMS + prop)

    def date_of(self, iri: str, *props: str) -> date | None:
        """The earliest date among the values of ``props`` (dates or date-times)."""
        found = [d for prop in props for value in self.record.objects(iri, prop) if (d := _date(value))]
        return min(found, default=None)

    def owners(self, iri: str, prop: str = AIMS + "hasOwner") -> str:
        return "; ".join(agenda.owner_name(self.record, o) for o in self.record.objects(iri, prop)) or "not recorded"

    def closed(self, iri: str) -> bool:
        closed_on = self.date_of(iri, AIMS + "closedOn")
        return CLOSED in self.values(iri, "status") or (closed_on is not None and closed_on <= self.as_of)

    def status(self, iri: str) -> str:
        """The recorded status and status note, or "not recorded"."""
        status = [_status_label(self.record, s) for s in self.values(iri, "status")]
        note = self.first(iri, AIMS + "statusNote")
        text = ", ".join(status)
        if note:
            text = f"{text}: {note}" if text else note
        return text or "not recorded"

    def instances(self, cls: str) -> list[str]:
        """Nodes of ``cls`` or a subclass of it (asserted or inferred), in IRI order."""
        rows = self.store.query(f"""PREFIX rdfs: <{RDFS}>
            SELECT DISTINCT ?node WHERE {{ ?node a/rdfs:subClassOf* <{AIMS}{cls}> . FILTER(isIRI(?node)) }}""")
        return sorted(row["node"].value for row in rows)

    def run(self, name: str, dated: bool = False) -> list[dict[str, str]]:
        """A named query's rows as {variable: value}; ``dated`` binds asOf to the reference date."""
        query = agenda.named_query(name)
        values = {"asOf": self.as_of.isoformat()} if dated else {}
        solutions = self.store.query(query.text, substitutions=query.substitutions(values))
        names = [v.value for v in solutions.variables]
        return [{n: term_text(row[n]) for n in names if row[n] is not None} for row in solutions]

    def in_period(self, day: date | None) -> bool:
        return day is not None and self.period_start <= day <= self.as_of

    @cached_property
    def findings(self) -> list[dict[str, Any]]:
        return _findings(self)


def _section(key: str, purpose: str, empty: str) -> Section:
    title = HEADINGS[key]
    clause = next(c for k, _, c in SECTIONS if k == key)
    return Section(key, title, clause, purpose, empty)


# -- 9.3.2 a): actions from previous reviews ------------------------------------------------


def _actions(ctx: _Context) -> Section:
    section = _section(
        "actions",
        "How the actions decided in earlier management reviews, and the corrective actions, stand: owner, due date and status.",
        "Nothing to report: no improvement actions from management reviews and no corrective actions are recorded.",
    )
    decided: list[dict[str, Any]] = []
    corrective: list[dict[str, Any]] = []
    improvements = set(ctx.instances("ImprovementAction"))
    for action in sorted(improvements | set(ctx.instances("CorrectiveAction"))):
        due = ctx.date_of(action, AIMS + "dueDate")
        closed = ctx.closed(action)
        reviews = ctx.values(action, "decidedIn")
        row = {
            "iri": action,
            "action": ctx.label(action),
            "kind": "Improvement action" if action in improvements else "Corrective action",
            "origin": ("decided in " + ctx.labels(reviews))
            if reviews
            else (("addresses " + ctx.labels(ctx.values(action, "addresses"))) if ctx.values(action, "addresses") else ""),
            "owner": ctx.owners(action),
            "due": due.isoformat() if due else "",
            "status": ctx.status(action),
            "state": _state(closed, due, ctx.as_of),
        }
        (decided if reviews or row["kind"] == "Improvement action" else corrective).append(row)

    def key(row: dict) -> tuple:
        return {"overdue": 0, "open": 1, "closed": 2}[row["state"]], row["due"] or "9999", row["action"]

    columns = [
        ("action", "Action"),
        ("origin", "Origin"),
        ("owner", "Owner"),
        ("due", "Due"),
        ("state", "State"),
        ("status", "Status"),
    ]
    section.tables = [
        Table(
            "review-actions",
            "Actions decided in management reviews",
            columns,
            sorted(decided, key=key),
            "No actions decided in a management review are recorded (aims:ImprovementAction with aims:decidedIn).",
        ),
        Table(
            "corrective-actions",
            "Corrective actions",
            columns,
            sorted(corrective, key=key),
            "No corrective actions are recorded.",
        ),
    ]
    everything = decided + corrective
    if everything:
        states = Counter(r["state"] for r in everything)
        section.figures = [
            ("Actions", len(everything)),
            ("Open", states["open"] + states["overdue"]),
            ("Overdue", states["overdue"]),
            ("Closed", states["closed"]),
        ]
    if ctx.previous:
        section.notes.append(f"Previous management review: {ctx.previous['label']}, held on {ctx.previous['held'].isoformat()}.")
    else:
        section.notes.append("No earlier management review is recorded: this is the first review.")
    return section


def _state(closed: bool, due: date | None, as_of: date) -> str:
    if closed:
        return "closed"
    return "overdue" if due is not None and due < as_of else "open"


# -- 9.3.2 b), c): changes ------------------------------------------------------------------


def _changes(ctx: _Context) -> Section:
    section = _section(
        "changes",
        "What changed in the record that describes the AIMS's context, interested parties, systems, risks and "
        "controls since the previous review (from the audit trail), the changes planned next, and the concerns "
        "people raised.",
        "Nothing to report: the audit trail records no change since the previous review, no changes are planned and "
        "no concerns are open.",
    )
    since = ctx.since
    section.notes.append(
        f"Changes committed since the previous review ({since.isoformat(timespec='minutes')})."
        if since
        else "No earlier management review: every change in the audit trail is counted."
    )
    trail = changes.history(ctx.store, since=since)
    groups: dict[tuple[str, str], dict] = {}
    for change in trail:
        for graph in change.graphs or ("",):
            entry = groups.setdefault(
                (change.operation, graph),
                {
                    "operation": change.operation,
                    "graph": _graph_name(graph),
                    "graphIri": graph,
                    "changes": 0,
                    "added": 0,
                    "removed": 0,
                    "first": change.ended,
                    "last": change.ended,
                },
            )
            entry["changes"] += 1
            entry["added"] += change.added
            entry["removed"] += change.removed
            entry["last"] = max(entry["last"], change.ended)
    rows = []
    for entry in sorted(groups.values(), key=lambda e: (e["graph"], e["operation"])):
        entry["first"] = entry["first"].date().isoformat()
        entry["last"] = entry["last"].date().isoformat()
        rows.append(entry)
    section.tables.append(
        Table(
            "trail",
            "Changes to the record by operation and graph",
            [
                ("operation", "Operation"),
                ("graph", "Graph"),
                ("changes", "Changes"),
                ("added", "Triples added"),
                ("removed", "Triples removed"),
                ("first", "First"),
                ("last", "Last"),
            ],
            rows,
            "The audit trail records no change in this period.",
        )
    )
    section.tables.append(_changed_records(ctx, since, trail))
    planned = []
    for planned_change in ctx.instances("PlannedChange"):
        if ctx.closed(planned_change):
            continue
        day = ctx.date_of(planned_change, AIMS + "plannedDate")
        planned.append(
            {
                "iri": planned_change,
                "change": ctx.label(planned_change),
                "targets": ctx.labels(ctx.values(planned_change, "changeTarget")),
                "kinds": ", ".join(sorted(local_name(k) for k in ctx.values(planned_change, "changeKind"))),
                "planned": day.isoformat() if day else "",
                "owner": ctx.owners(planned_change),
                "status": ctx.status(planned_change),
            }
        )
    planned.sort(key=lambda r: (r["planned"] or "9999", r["change"]))
    section.tables.append(
        Table(
            "planned-changes",
            "Planned changes (6.3)",
            [
                ("change", "Change"),
                ("targets", "Affects"),
                ("kinds", "Kind"),
                ("planned", "Planned for"),
                ("owner", "Owner"),
                ("status", "Status"),
            ],
            planned,
            "No planned changes are recorded (aims:PlannedChange).",
        )
    )
    concerns = []
    for concern in ctx.instances("Concern"):
        reported = ctx.date_of(concern, AIMS + "reportedAt")
        if ctx.closed(concern) and not ctx.in_period(reported) and not ctx.in_period(ctx.date_of(concern, AIMS + "closedOn")):
            continue
        concerns.append(
            {  # who reported it is left out: the pack circulates, and concerns may be anonymous
                "iri": concern,
                "concern": ctx.first(concern, DCT + "description") or ctx.label(concern),
                "reported": reported.isoformat() if reported else "",
                "about": ctx.labels(ctx.values(concern, "concerns")),
                "state": "closed" if ctx.closed(concern) else "open",
                "owner": ctx.owners(concern),
                "status": ctx.status(concern),
                "became": ctx.labels(ctx.values(concern, "triagedInto")),
            }
        )
    concerns.sort(key=lambda r: (r["state"] == "closed", r["reported"], r["iri"]))
    section.tables.append(
        Table(
            "concerns",
            "Concerns raised by staff and others (A.3.3)",
            [
                ("concern", "Concern"),
                ("reported", "Reported"),
                ("about", "About"),
                ("state", "State"),
                ("became", "Triaged into"),
                ("owner", "Owner"),
                ("status", "Status"),
            ],
            concerns,
            "No concern is open, and none was raised or closed in the period.",
        )
    )
    return section


def _changed_records(ctx: _Context, since: datetime | None, trail: list) -> Table:
    """Records of the data graph added, changed or removed since ``since``, counted by kind."""
    table = Table(
        "changed-records",
        "Changed records by kind (interested parties, systems, risks, ...)",
        [("kind", "Kind"), ("records", "Records changed"), ("examples", "For example")],
        [],
        "No record in the data graph changed in this period.",
    )
    if not any(Graphs.DATA in c.graphs for c in trail):
        return table
    try:
        delta = changes.diff(ctx.store, since, None, [Graphs.DATA])
    except InvalidInput as exc:
        table.empty = f"The changed records cannot be listed: {exc.message}"
        return table
    subjects = {q.subject.value for q in delta.removed | delta.added if isinstance(q.subject, ox.NamedNode)}
    kinds: dict[str, set[str]] = defaultdict(set)
    typed: dict[str, set[str]] = defaultdict(set)  # by subject: a scan per subject was quadratic (240 s at 1,000 systems)
    for q in delta.removed | delta.added:
        if q.predicate.value == RDF_TYPE and isinstance(q.subject, ox.NamedNode):
            typed[q.subject.value].add(term_text(q.object))
    for subject in subjects:
        asserted = {
            term_text(q.object)
            for q in ctx.store.quads(ox.NamedNode(subject), ox.NamedNode(RDF_TYPE), None, ox.NamedNode(Graphs.DATA))
        }
        asserted |= typed.get(subject, set())
        names = {local_name(t) for t in asserted if t.startswith(AIMS)} or {"other"}
        for name in names:
            kinds[name].add(subject)
    for kind, members in sorted(kinds.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        examples = sorted(ctx.label(m) for m in members)[:EXAMPLES_PER_KIND]
        table.rows.append({"kind": kind, "records": len(members), "examples": "; ".join(examples)})
    return table


def _graph_name(graph: str) -> str:
    return graph.rsplit("/", 1)[-1] if graph else "(none)"


# -- 9.3.2 d): risk and readiness trends ------------------------------------------------------


def _trends(ctx: _Context, model: RiskModel, readiness: list[reports.Readiness]) -> Section:
    section = _section(
        "trends",
        "The risk profile (inherent and residual risk by level, from the risk model) and the readiness per "
        "clause (the share of completeness checks that pass), compared with the previous review.",
        "Nothing to report: no risks are recorded and no completeness checks apply.",
    )
    levels = sorted(model.criteria.matrix.levels.values(), key=lambda level: -level.rank)
    now_inherent, now_residual, now_above = _risk_counts(model)
    past = (
        _past(ctx) if ctx.previous else "This is the first management review recorded: there is no earlier state to compare with."
    )
    compared = not isinstance(past, str)
    if not isinstance(past, str):
        past_model, past_readiness = past
        past_inherent, past_residual, past_above = _risk_counts(past_model)
        since = ctx.since
        assert since is not None  # there is a previous review: past is its state
        section.notes.append(
            f"Compared with the record as it stood at the previous review ({since.isoformat(timespec='minutes')}), "
            "rebuilt from the audit trail; its completeness checks use that date as today."
        )
    else:
        section.notes.append(past)
    rows = []
    for level in levels:
        row = {
            "level": level.label,
            "levelIri": level.iri,
            "inherent": now_inherent[level.label],
            "residual": now_residual[level.label],
        }
        if compared:
            row |= {
                "inherentBefore": past_inherent[level.label],
                "residualBefore": past_residual[level.label],
                "inherentChange": _signed(now_inherent[level.label] - past_inherent[level.label]),
                "residualChange": _signed(now_residual[level.label] - past_residual[level.label]),
            }
        rows.append(row)
    columns = [("level", "Level"), ("inherent", "Inherent now"), ("residual", "Residual now")]
    if compared:
        columns += [
            ("inherentBefore", "Inherent at previous review"),
            ("residualBefore", "Residual at previous review"),
            ("inherentChange", "Change (inherent)"),
            ("residualChange", "Change (residual)"),
        ]
    scored = sum(now_inherent.values())
    section.tables.append(
        Table("risk-levels", "Risks by level", columns, rows if scored else [], "No scored risks are recorded.")
    )
    appetite = model.criteria.appetite
    section.figures = [("Risks", len(model.risks)), ("Scored", scored)]
    if appetite:
        section.figures.append((f"Residual at or above appetite ({appetite.label})", now_above))
        if compared:
            section.figures.append(("At or above appetite at previous review", past_above))
    before = {r.key: r for r in past_readiness} if compared else {}
    clause_rows = []
    for r in readiness:
        row = {"clause": r.label, "clauseIri": r.key, "readiness": r.percent(), "checks": r.total, "passing": r.total - r.failed}
        if compared:
            old = before.get(r.key)
            row["before"] = old.percent() if old else "not checked"
            row["change"] = (
                _signed_points(r.ratio - old.ratio) if old is not None and r.ratio is not None and old.ratio is not None else ""
            )
        clause_rows.append(row)
    clause_columns = [("clause", "Clause"), ("readiness", "Readiness"), ("passing", "Passing"), ("checks", "Checks")]
    if compared:
        clause_columns += [("before", "At previous review"), ("change", "Change")]
    section.tables.append(
        Table("readiness", "Readiness per clause", clause_columns, clause_rows, "No completeness check applies to the record.")
    )
    total = sum(r.total for r in readiness)
    if total:
        section.figures.append(("Checks passing", _percent(sum(r.total - r.failed for r in readiness) / total)))
    return section


def _risk_counts(model: RiskModel) -> tuple[Counter, Counter, int]:
    inherent = Counter(r.inherent.label for r in model.risks.values() if r.inherent)
    residual = Counter(r.residual.label for r in model.risks.values() if r.residual)
    above = sum(1 for r in model.risks.values() if r.residual and model.criteria.exceeds(r.residual))
    return inherent, residual, above


def _past(ctx: _Context) -> tuple[RiskModel, list[reports.Readiness]] | str:
    """The risk model and readiness of the record at the previous review, or why they are unknown."""
    since, previous = ctx.since, ctx.previous
    assert since is not None and previous is not None  # called when there is a previous review
    trail = [c for c in changes.history(ctx.store) if Graphs.DATA in c.graphs]
    if not trail:
        return "No trend: the audit trail holds no change to the record, so its state at the previous review is unknown."
    if trail[0].ended > since:
        return (
            f"No trend: the audit trail of the record starts on {trail[0].ended.date().isoformat()}, after the "
            f"previous review ({previous['held'].isoformat()}), so the record as it stood then is unknown."
        )
    try:
        quads = changes.state_at(ctx.store, since, [Graphs.DATA])
    except InvalidInput as exc:
        return f"No trend: the record at the previous review cannot be rebuilt ({exc.message})."
    past = GraphStore(None)
    reference = [q for g in (Graphs.ONTOLOGY, Graphs.CATALOGUE) for q in ctx.store.quads(None, None, None, ox.NamedNode(g))]
    past.extend([*reference, *quads])
    refresh_inferences(past)
    held = previous["held"]
    found = validation.validate_store(past, held)
    return RiskModel.build(past), reports.build(past, found, held).clauses


def _percent(share: float) -> str:
    return f"{share * 100:.0f} %"


def _signed(value: int) -> str:
    return f"{value:+d}" if value else "0"


def _signed_points(value: float) -> str:
    points = round(value * 100)
    return f"{points:+d} points" if points else "no change"


# -- 9.3.2 d) 1): nonconformities and corrective actions --------------------------------------


def _findings(ctx: _Context) -> list[dict[str, Any]]:
    """Every audit finding, nonconformity and opportunity for improvement, with its dates and state."""
    ncs = set(ctx.instances("Nonconformity"))
    ofis = set(ctx.instances("OpportunityForImprovement"))
    rows = []
    for finding in ctx.instances("Finding"):
        sources = ctx.values(finding, "raisedBy")
        opened = ctx.date_of(finding, AIMS + "openedOn") or min(
            (
                d
                for s in sources
                if (d := ctx.date_of(s, PROV + "startedAtTime", AIMS + "measuredAt", AIMS + "occurredAt", PROV + "endedAtTime"))
            ),
            default=None,
        )
        actions = ctx.record.subjects(AIMS + "addresses", finding)
        rows.append(
            {
                "iri": finding,
                "id": ctx.first(finding, DCT + "identifier") or "",
                "finding": ctx.label(finding),
                "kind": "Nonconformity" if finding in ncs else "Opportunity for improvement" if finding in ofis else "Finding",
                "raisedBy": ctx.labels(sources),
                "raisedByIris": sources,
                "clauses": _clauses(ctx, finding),
                "opened": opened.isoformat() if opened else "",
                "closedOn": (d.isoformat() if (d := ctx.date_of(finding, AIMS + "closedOn")) else ""),
                "closed": ctx.closed(finding),
                "owner": ctx.owners(finding),
                "status": ctx.status(finding),
                "actions": "; ".join(
                    f"{ctx.label(a)}" + (f" (due {d.isoformat()})" if (d := ctx.date_of(a, AIMS + "dueDate")) else "")
                    for a in actions
                )
                or "none recorded",
                "rootCause": ctx.first(finding, AIMS + "rootCause") or "",
            }
        )
    return rows


def _clauses(ctx: _Context, iri: str) -> str:
    return ", ".join(
        sorted((ctx.first(c, SKOS_NOTATION) or local_name(c) for c in ctx.values(iri, "relatesToClause")), key=_clause_key)
    )


def _clause_key(notation: str) -> tuple:
    return tuple((0, int(p)) if p.isdecimal() else (1, p) for p in notation.split("."))


def _nonconformities(ctx: _Context) -> Section:
    section = _section(
        "nonconformities",
        "Nonconformities that are open or were opened or closed in the period, their corrective actions, those past "
        "their due date, and nonconformities that recur (same metric, system or clause within 12 months).",
        "Nothing to report: no nonconformities are open or were raised or closed in the period.",
    )
    found = [dict(f) for f in ctx.findings if f["kind"] == "Nonconformity"]
    shown = [f for f in found if not f["closed"] or ctx.in_period(_date(f["opened"])) or ctx.in_period(_date(f["closedOn"]))]
    shown.sort(key=lambda f: (f["closed"], f["opened"] or "9999", f["finding"]))
    for f in shown:
        f["state"] = "closed" if f["closed"] else "open"
    section.tables.append(
        Table(
            "nonconformity-list",
            "Nonconformities",
            [
                ("id", "Id"),
                ("finding", "Nonconformity"),
                ("raisedBy", "Raised by"),
                ("clauses", "Clauses"),
                ("opened", "Opened"),
                ("state", "State"),
                ("owner", "Owner"),
                ("actions", "Corrective actions"),
            ],
            shown,
            "No nonconformity is open or was raised or closed in the period.",
        )
    )
    overdue = ctx.run("overdue-nonconformities", dated=True)
    section.tables.append(
        Table(
            "overdue-nonconformities",
            "Past their due date",
            [("kind", "Kind"), ("label", "Item"), ("ownerNames", "Owner"), ("due", "Due"), ("daysOverdue", "Days overdue")],
            [
                {
                    "iri": r["item"],
                    "kind": r["kind"],
                    "label": r.get("label", local_name(r["item"])),
                    "ownerNames": "; ".join(agenda.owner_name(ctx.record, o) for o in r.get("owner", "").split())
                    or "not recorded",
                    "due": r["due"],
                    "daysOverdue": (ctx.as_of - date.fromisoformat(r["due"][:10])).days,
                }
                for r in overdue
            ],
            "No nonconformity or corrective action is past its due date.",
        )
    )
    recurring = ctx.run("recurring-nonconformities")
    section.tables.append(
        Table(
            "recurring-nonconformities",
            "Recurring nonconformities",
            [
                ("label", "Nonconformity"),
                ("opened", "Opened"),
                ("earlierLabel", "Earlier one"),
                ("earlierOpened", "Opened"),
                ("sharedLabels", "Shared"),
            ],
            [
                {
                    "iri": r["nonconformity"],
                    "label": r.get("label", local_name(r["nonconformity"])),
                    "opened": r["opened"],
                    "earlier": r["earlier"],
                    "earlierLabel": r.get("earlierLabel", local_name(r["earlier"])),
                    "earlierOpened": r["earlierOpened"],
                    "shared": r.get("shared", "").split(),
                    "sharedLabels": ctx.labels(r.get("shared", "").split()),
                }
                for r in recurring
            ],
            "No nonconformity recurs: none shares a metric, system or clause with one opened in the 12 months before it.",
        )
    )
    if found:
        section.figures = [
            ("Open nonconformities", sum(not f["closed"] for f in found)),
            ("Opened in the period", sum(ctx.in_period(_date(f["opened"])) for f in found)),
            ("Closed in the period", sum(f["closed"] and ctx.in_period(_date(f["closedOn"])) for f in found)),
            ("Past due", len(overdue)),
            ("Recurring", len({r["nonconformity"] for r in recurring})),
        ]
    return section


# -- 9.3.2 d) 2): monitoring and measurement ----------------------------------------------------


def _monitoring(ctx: _Context) -> Section:
    section = _section(
        "monitoring",
        "The latest result of every metric against its threshold, and the threshold breaches in the period or still "
        "standing, with the systems, risks and nonconformities they concern.",
        "Nothing to report: no metrics with thresholds are recorded.",
    )
    rows = []
    for metric in ctx.instances("Metric"):
        measurements = ctx.record.subjects(AIMS + "ofMetric", metric)
        dated = sorted(
            (m for m in measurements if ctx.first(m, AIMS + "measuredAt")), key=lambda m: ctx.first(m, AIMS + "measuredAt") or ""
        )
        latest = dated[-1] if dated else None
        threshold, direction = (
            ctx.first(metric, AIMS + "threshold"),
            (ctx.first(metric, AIMS + "thresholdDirection") or "").lower(),
        )
        value = ctx.first(latest, AIMS + "value") if latest else None
        measured = _date(ctx.first(latest, AIMS + "measuredAt")) if latest else None
        interval = ctx.first(metric, AIMS + "monitoringInterval")
        next_due = agenda.add_duration(measured, interval) if measured and interval else None
        rows.append(
            {
                "iri": metric,
                "metric": ctx.label(metric),
                "threshold": (("at least " if direction == "lower" else "at most " if direction == "upper" else "") + threshold)
                if threshold
                else "none",
                "latest": value or "not measured",
                "measured": measured.isoformat() if measured else "",
                "result": _result(value, threshold, direction),
                "next": (next_due.isoformat() + (" (overdue)" if next_due < ctx.as_of else "")) if next_due else "",
                "owner": ctx.owners(metric),
            }
        )
    rows.sort(key=lambda r: (r["result"] != "breach", r["metric"]))
    section.tables.append(
        Table(
            "metrics",
            "Metrics: latest results",
            [
                ("metric", "Metric"),
                ("latest", "Latest value"),
                ("threshold", "Threshold"),
                ("measured", "Measured"),
                ("result", "Result"),
                ("next", "Next measurement"),
                ("owner", "Owner"),
            ],
            rows,
            "No metrics are recorded.",
        )
    )
    breaches = []
    for r in ctx.run("metric-breaches"):
        measured = _date(r.get("measuredAt", ""))
        standing = r.get("latest") == "true"
        if not (standing or ctx.in_period(measured)):
            continue
        breaches.append(
            {
                "iri": r["measurement"],
                "metricIri": r["metric"],
                "metric": r.get("metricLabel", local_name(r["metric"])),
                "value": r["value"],
                "threshold": ("at least " if r["direction"] == "lower" else "at most ") + r["threshold"],
                "measured": measured.isoformat() if measured else "",
                "standing": "yes" if standing else "no",
                "systems": ctx.labels(r.get("systems", "").split()) or ctx.labels(r.get("assets", "").split()),
                "risks": ctx.labels(r.get("risks", "").split()),
                "nonconformities": ctx.labels(r.get("nonconformities", "").split()) or "none opened",
            }
        )
    section.tables.append(
        Table(
            "breaches",
            "Threshold breaches",
            [
                ("metric", "Metric"),
                ("value", "Value"),
                ("threshold", "Threshold"),
                ("measured", "Measured"),
                ("standing", "Still standing"),
                ("systems", "Systems"),
                ("risks", "Risks"),
                ("nonconformities", "Nonconformity"),
            ],
            breaches,
            "No metric crossed its threshold in the period, and none stands in breach.",
        )
    )
    if rows:
        section.figures = [
            ("Metrics", len(rows)),
            ("In breach now", sum(r["result"] == "breach" for r in rows)),
            ("Breaches in the period", sum(ctx.in_period(_date(b["measured"])) for b in breaches)),
        ]
    return section


def _result(value: str | None, threshold: str | None, direction: str) -> str:
    if value is None:
        return "not measured"
    if threshold is None or direction not in ("lower", "upper"):
        return "no threshold"
    try:
        v, t = float(value), float(threshold)
    except ValueError:
        return "not comparable"
    return "breach" if (v < t if direction == "lower" else v > t) else "within threshold"


# -- incidents ----------------------------------------------------------------------------------


def _incidents(ctx: _Context) -> Section:
    section = _section(
        "incidents",
        "AI incidents that are open or occurred or were closed in the period: what they concern, the risks they "
        "realised, who was affected, and communications past their deadline.",
        "Nothing to report: no incident is open or occurred in the period.",
    )
    rows = []
    for incident in ctx.instances("Incident"):
        occurred = ctx.date_of(incident, AIMS + "occurredAt")
        closed = ctx.closed(incident)
        closed_on = ctx.date_of(incident, AIMS + "closedOn")
        if closed and not (ctx.in_period(occurred) or ctx.in_period(closed_on)):
            continue
        rows.append(
            {
                "iri": incident,
                "id": ctx.first(incident, DCT + "identifier") or "",
                "incident": ctx.label(incident),
                "occurred": occurred.isoformat() if occurred else "",
                "state": "closed" if closed else "open",
                "status": ctx.status(incident),
                "concerns": ctx.labels(ctx.values(incident, "concerns")),
                "risks": ctx.labels(ctx.values(incident, "realisesRisk")),
                "affected": ctx.labels(ctx.values(incident, "affectsStakeholder")),
                "owner": ctx.owners(incident),
            }
        )
    rows.sort(key=lambda r: (r["state"] == "closed", r["occurred"], r["incident"]), reverse=False)
    section.tables.append(
        Table(
            "incident-list",
            "Incidents",
            [
                ("id", "Id"),
                ("incident", "Incident"),
                ("occurred", "Occurred"),
                ("concerns", "Concerns"),
                ("risks", "Risks realised"),
                ("affected", "Affected"),
                ("owner", "Owner"),
                ("status", "Status"),
            ],
            rows,
            "No incident is open, and none occurred or was closed in the period.",
        )
    )
    overdue = ctx.run("overdue-communications", dated=True)
    section.tables.append(
        Table(
            "overdue-communications",
            "Communications past their deadline",
            [("incidentLabel", "Incident"), ("partyLabel", "Party to inform"), ("informBy", "Deadline")],
            [
                {
                    "iri": r["incident"],
                    "incidentLabel": r.get("incidentLabel", local_name(r["incident"])),
                    "party": r["party"],
                    "partyLabel": r.get("partyLabel", local_name(r["party"])),
                    "informBy": r["informBy"],
                }
                for r in overdue
            ],
            "No interested party that must be informed of an incident is past its deadline.",
        )
    )
    if rows:
        section.figures = [
            ("Open incidents", sum(r["state"] == "open" for r in rows)),
            ("Occurred in the period", sum(ctx.in_period(_date(r["occurred"])) for r in rows)),
            ("Communications overdue", len(overdue)),
        ]
    return section


# -- 9.3.2 d) 3): audits ---------------------------------------------------------------------


def _audits(ctx: _Context) -> Section:
    section = _section(
        "audits",
        "Internal and external audits held in the period or planned, and what they found.",
        "Nothing to report: no audit was held in the period and none is planned.",
    )
    findings = ctx.findings
    audits, shown_audits = [], set()
    for audit in ctx.instances("Audit"):
        held = ctx.date_of(audit, PROV + "endedAtTime") or ctx.date_of(audit, PROV + "startedAtTime")
        planned = ctx.date_of(audit, AIMS + "plannedDate")
        if held is not None:
            if not ctx.in_period(held) and not (held > ctx.as_of):
                continue
            state = "held"
        elif planned is not None:
            state = "overdue" if planned < ctx.as_of else "planned"
        else:
            state = "not dated"
        raised = [f for f in findings if audit in f["raisedByIris"]]
        counts = Counter(f["kind"] for f in raised)
        audits.append(
            {
                "iri": audit,
                "id": ctx.first(audit, DCT + "identifier") or "",
                "audit": ctx.label(audit),
                "date": when.isoformat() if (when := held or planned) else "",
                "state": state,
                "clauses": _clauses(ctx, audit),
                "owner": ctx.owners(audit),
                "findings": ", ".join(f"{n} {k.lower()}{'s' if n > 1 else ''}" for k, n in sorted(counts.items())) or "none",
            }
        )
        shown_audits.add(audit)
    audits.sort(key=lambda r: (r["date"] or "9999", r["audit"]))
    section.tables.append(
        Table(
            "audit-list",
            "Audits",
            [
                ("id", "Id"),
                ("audit", "Audit"),
                ("date", "Held or planned"),
                ("state", "State"),
                ("clauses", "Scope"),
                ("owner", "Owner"),
                ("findings", "Findings"),
            ],
            audits,
            "No audit was held in the period and none is planned.",
        )
    )
    raised = [dict(f, state="closed" if f["closed"] else "open") for f in findings if set(f["raisedByIris"]) & shown_audits]
    raised.sort(key=lambda f: (f["id"], f["finding"]))
    section.tables.append(
        Table(
            "audit-findings",
            "Audit findings",
            [
                ("id", "Id"),
                ("finding", "Finding"),
                ("kind", "Kind"),
                ("clauses", "Clauses"),
                ("state", "State"),
                ("owner", "Owner"),
            ],
            raised,
            "The audits listed raised no findings.",
        )
    )
    programmes = ctx.instances("AuditProgramme")
    for programme in programmes:
        planned_audits = ctx.values(programme, "plansAudit")
        section.notes.append(
            f"Audit programme {ctx.label(programme)}: {len(planned_audits)} audit{'' if len(planned_audits) == 1 else 's'} planned."
        )
    if audits:
        section.figures = [
            ("Audits held", sum(a["state"] == "held" for a in audits)),
            ("Audits planned", sum(a["state"] in ("planned", "overdue") for a in audits)),
            ("Findings", len(raised)),
            ("Nonconformities", sum(f["kind"] == "Nonconformity" for f in raised)),
        ]
    return section


# -- 9.3.2 e): improvement --------------------------------------------------------------------


def _improvement(ctx: _Context, completeness: list[Finding]) -> Section:
    section = _section(
        "improvement",
        "Opportunities for improvement and other open findings (audit observations and the like), and the open "
        "completeness findings of the record.",
        "Nothing to report: no opportunities for improvement, open findings or completeness findings are recorded.",
    )
    findings = [f for f in ctx.findings if not f["closed"]]
    columns = [
        ("id", "Id"),
        ("finding", "Finding"),
        ("raisedBy", "Raised by"),
        ("clauses", "Clauses"),
        ("owner", "Owner"),
        ("status", "Status"),
    ]
    section.tables.append(
        Table(
            "opportunities",
            "Opportunities for improvement",
            columns,
            [f for f in findings if f["kind"] == "Opportunity for improvement"],
            "No open opportunity for improvement is recorded (aims:OpportunityForImprovement).",
        )
    )
    section.tables.append(
        Table(
            "open-findings",
            "Open findings",
            columns,
            [f for f in findings if f["kind"] == "Finding"],
            "No other finding is open.",
        )
    )
    severities = Counter(f.severity for f in completeness)
    if completeness:
        section.figures = [
            (f"Completeness findings: {s.lower()}s", severities.get(s, 0)) for s in ("Violation", "Warning", "Info")
        ]
        section.notes.append("The completeness findings are listed by `aimsgraph validate` and on the findings page.")
    return section


# -- reviews and small helpers -----------------------------------------------------------------


def _reviews(store: GraphStore, record: Record) -> list[dict]:
    rows = store.query(f"""PREFIX rdfs: <{RDFS}>
        SELECT DISTINCT ?review WHERE {{ ?review a/rdfs:subClassOf* <{AIMS}ManagementReview> . FILTER(isIRI(?review)) }}""")
    reviews = []
    for iri in sorted(row["review"].value for row in rows):
        held_dates = [d for v in record.objects(iri, AIMS + "reviewDate") if (d := _date(v))]
        started = sorted(record.objects(iri, PROV + "startedAtTime"))
        moment = _datetime(started[0]) if started else None
        held = min(held_dates) if held_dates else (moment.date() if moment else None)
        if held_dates and moment and moment.date() != held:
            moment = None  # the recorded review date wins
        planned = [d for v in record.objects(iri, AIMS + "plannedDate") if (d := _date(v))]
        reviews.append(
            {"iri": iri, "label": record.label(iri), "held": held, "moment": moment, "planned": min(planned) if planned else None}
        )
    return reviews


def _review_dict(review: dict | None, which: str) -> dict[str, str] | None:
    if review is None:
        return None
    return {"iri": review["iri"], "label": review["label"], "date": review[which].isoformat()}


def _status_label(record: Record, status: str) -> str:
    labels = record.objects(status, RDFS_LABEL)
    if labels:
        return min(labels)
    name = local_name(status)
    return name.removeprefix("Status") or name


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _datetime(value: str) -> datetime | None:
    try:
        return changes.parse_time(value)
    except InvalidInput:
        return None


def _title(store: GraphStore) -> str:
    rows = list(
        store.query(f"""PREFIX rdfs: <{RDFS}>
        SELECT ?label WHERE {{ ?aims a <{AIMS}AIManagementSystem> ; rdfs:label ?label }} ORDER BY ?label LIMIT 1""")
    )
    return term_text(rows[0]["label"]) if rows else "AI management system"


# -- rendering ---------------------------------------------------------------------------------


def as_dict(pack: ReviewPack) -> dict[str, object]:
    """The pack as JSON-ready data: every table with all its row fields (IRIs included)."""
    return {
        "title": pack.title,
        "generated": pack.generated_at.isoformat(timespec="seconds"),
        "asOf": pack.as_of.isoformat(),
        "periodStart": pack.period_start.isoformat(),
        "previousReview": pack.previous_review,
        "nextReview": pack.next_review,
        "sections": [
            {
                "id": s.id,
                "title": s.title,
                "clause": s.clause,
                "purpose": s.purpose,
                "empty": s.is_empty,
                "emptyText": s.empty if s.is_empty else None,
                "notes": s.notes,
                "figures": [{"label": label, "value": value} for label, value in s.figures],
                "tables": [
                    {
                        "id": t.id,
                        "caption": t.caption,
                        "columns": [{"key": k, "title": title} for k, title in t.columns],
                        "rows": [_jsonable(r) for r in t.rows],
                        "emptyText": t.empty if not t.rows else None,
                    }
                    for t in s.tables
                ],
            }
            for s in pack.sections
        ],
    }


def _jsonable(row: dict[str, object]) -> dict[str, object]:
    return {k: (v.isoformat() if isinstance(v, (date, datetime)) else v) for k, v in row.items()}


def render_markdown(pack: ReviewPack) -> str:
    """The pack as Markdown (GitHub tables), one ``##`` heading per input."""
    lines = [f"# Management review input: {_md(pack.title)}", "", " ".join(_md(p) for p in header_lines(pack)), ""]
    for section in pack.sections:
        lines += [f"## {section.title}", "", f"*ISO/IEC 42001 {section.clause}.* {section.purpose}", ""]
        if section.is_empty:
            lines += [f"**{section.empty}**", ""]
        lines += [_md(note) for note in section.notes]
        if section.notes:
            lines.append("")
        if section.figures:
            lines += [f"- {_md(label)}: **{_md(str(value))}**" for label, value in section.figures]
            lines.append("")
        for table in section.tables:
            lines += [f"### {table.caption}", ""]
            if not table.rows:
                lines += [f"None: {_md(table.empty)}", ""]
                continue
            lines.append("| " + " | ".join(_md(title) for _, title in table.columns) + " |")
            lines.append("|" + "|".join("---" for _ in table.columns) + "|")
            for row in table.rows:
                lines.append("| " + " | ".join(_md(_cell(row.get(key))) for key, _ in table.columns) + " |")
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def header_lines(pack: ReviewPack) -> list[str]:
    """The sentences under the title: when, as of, previous and next review, the period."""
    parts = [
        (
            f"Generated by aimsgraph on {pack.generated_at.strftime('%Y-%m-%d %H:%M UTC')} from the record as it "
            f"stands, as of {pack.as_of.isoformat()}."
        )
    ]
    if pack.previous_review:
        parts.append(f"Previous management review: {pack.previous_review['label']}, held on {pack.previous_review['date']}.")
    else:
        parts.append("No earlier management review is recorded.")
    if pack.next_review:
        parts.append(f"Next: {pack.next_review['label']}, planned for {pack.next_review['date']}.")
    parts.append(f"Period under review: {pack.period_start.isoformat()} to {pack.as_of.isoformat()}.")
    parts.append("The inputs follow ISO/IEC 42001 9.3.2; descriptions are aimsgraph's own words.")
    return parts


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell or paragraph: pipes escaped, lines joined."""
    return " ".join(str(text).replace("\\", "\\\\").replace("|", "\\|").split())


def render_html(pack: ReviewPack) -> str:
    """One self-contained HTML file: inline styles and SVG, no script, no external reference."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("review-pack.html").render(
        pack=pack,
        header=header_lines(pack),
        levels=pack.levels,
        readiness_chart=charts.readiness_bars(pack.readiness) if pack.readiness else "",
        cell=_cell,
    )


def render(pack: ReviewPack, fmt: str) -> str:
    """The pack as ``md``, ``html`` or ``json``."""
    if fmt == "md":
        return render_markdown(pack)
    if fmt == "html":
        return render_html(pack)
    if fmt == "json":
        import json

        return json.dumps(as_dict(pack), indent=2, ensure_ascii=False) + "\n"
    raise InvalidInput(f"the review pack comes as {', '.join(FORMATS)}, not {fmt!r}")
