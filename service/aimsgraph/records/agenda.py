"""The review calendar: everything in the record with a due date, in one agenda, and the same
agenda as an iCalendar feed (RFC 5545) for calendar programs.

The items come from ``queries/due-items.rq``, asked only for those due by the end of the window
(its ``until`` parameter; overdue ones and metrics included): review dates (policy, risks, assessments), due
dates of actions and objectives, expiry of evidence and training records, planned audits,
management reviews and changes, and each metric's next measurement. SPARQL in pyoxigraph cannot
add an ``xsd:duration`` such as ``P3M`` to a date (the sum is unbound), so the query gives a
metric's latest ``aims:measuredAt`` and its ``aims:monitoringInterval`` and this module adds
them, by calendar months as XML Schema does (2026-08-31 plus one month is 2026-09-30).

The feed is written here, not with a library: each item is one all-day VEVENT whose UID is
derived from the item's IRI and kind, so a calendar that subscribes to the feed moves an event
when its date changes instead of adding a second one. Tasks (``reporting.tasks``) come as
VTODOs (:class:`Todo`) with a due date and a status, which calendar programs with a to-do list
show there (those without one skip them).

A task stored in the record (``aims:Task``) is on the agenda by its ``aims:dueDate`` as kind
"Task"; like a closed item, a task that is done or dismissed is not.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pyoxigraph as ox

from aimsgraph.errors import InvalidInput
from aimsgraph.namespaces import (
    AIMS,
    FOAF_NAME,
    PROV_ENDED_AT,
    RDF_TYPE,
    RDFS_LABEL,
    RDFS_SUB_CLASS_OF,
    XSD_DATE,
    sparql_prefixes,
)
from aimsgraph.records import queries
from aimsgraph.store import GraphStore
from aimsgraph.store.record import Record, local_name, term_text

#: The window when none is given (GET /api/due, ``aimsgraph due``).
DEFAULT_WITHIN = "30d"
#: The longest window accepted, in days (longer ones are asked for as ``all``).
MAX_WINDOW_DAYS = 100 * 366

_WINDOW = re.compile(r"^\s*(\d{1,5})\s*([dwmy])\s*$", re.IGNORECASE)
_DURATION = re.compile(
    r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


@dataclass(frozen=True)
class DueItem:
    """One dated thing to do: review, act, renew, hold, measure."""

    iri: str
    label: str
    kind: str  # "Review", "Corrective action", "Evidence expiry", "Audit", "Measurement", ...
    due: date
    overdue: bool  # due before the reference date
    type: str | None  # the most specific aims: class
    owners: tuple[str, ...]  # IRIs (roles or people)
    owner_names: tuple[str, ...]  # the same, readable: "Lars Johansson, Business owner, claims handling"
    location: str | None = None  # a document link (aims:location)
    last_measured: date | None = None  # metrics only
    interval: str | None = None  # metrics only: the xsd:duration between measurements

    @property
    def uid(self) -> str:
        """Stable across feeds: the same item and kind always get the same UID."""
        digest = hashlib.sha1(f"{self.iri}\n{self.kind}".encode()).hexdigest()
        return f"{digest}@aimsgraph"

    def as_dict(self, as_of: date) -> dict[str, object]:
        return {
            "item": self.iri,
            "label": self.label,
            "kind": self.kind,
            "type": self.type,
            "due": self.due.isoformat(),
            "overdue": self.overdue,
            "daysLeft": (self.due - as_of).days,
            "owner": list(self.owners),
            "ownerNames": list(self.owner_names),
            "location": self.location,
            "lastMeasured": self.last_measured.isoformat() if self.last_measured else None,
            "interval": self.interval,
        }


# -- parameters ------------------------------------------------------------------------------


def parse_within(text: str, as_of: date) -> timedelta | None:
    """A window after ``as_of``: ``30d``, ``2w``, ``12m`` (calendar months from ``as_of``),
    ``1y``, or ``all`` (None: no limit). InvalidInput otherwise."""
    if text.strip().lower() == "all":
        return None
    match = _WINDOW.match(text)
    if not match:
        raise InvalidInput(
            f"within must be a number of days, weeks, months or years such as 30d, 2w, 12m or 1y (or 'all'), not {text!r}"
        )
    count, unit = int(match.group(1)), match.group(2).lower()
    if unit in "my":
        months = count * (12 if unit == "y" else 1)
        if months > 1200:
            raise InvalidInput(f"within must be at most 100 years, not {text!r}")
        return add_months(as_of, months) - as_of
    days = count * (7 if unit == "w" else 1)
    if days > MAX_WINDOW_DAYS:
        raise InvalidInput(f"within must be at most 100 years, not {text!r}")
    return timedelta(days=days)


def add_months(day: date, months: int) -> date:
    """``day`` plus calendar months, on the last day of the month when it has fewer days."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def add_duration(day: date, duration: str) -> date | None:
    """``day`` plus an xsd:duration (years and months first, then days; a time part counts in
    whole days); None when ``duration`` is not a positive duration."""
    match = _DURATION.match(duration.strip())
    if not match:
        return None
    years, months, weeks, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    shift = timedelta(days=days + 7 * weeks, hours=hours, minutes=minutes, seconds=seconds)
    if years == months == 0 and shift <= timedelta(0):
        return None
    return add_months(day, int(years) * 12 + int(months)) + timedelta(days=shift.days)


# -- the agenda ------------------------------------------------------------------------------

#: How many agendas (windows and reference dates) one store generation keeps (see :func:`due_items`).
CACHED_AGENDAS = 16
_PROLOGUE = sparql_prefixes("aims", "xsd")
#: The items dated on or before ?until (every dated item when it is unbound), one property at a
#: time: the same filter as ``queries/due-items.rq``, evaluated on the stored dates without
#: decoding them, so that a narrow window reads only its own items.
_DATED = _PROLOGUE + "SELECT ?item ?due ?until WHERE {{ ?item <{}> ?due . FILTER(COALESCE(?due <= ?until, true)) }}"
#: The metrics with a monitoring interval and their latest measurement (as in ``queries/due-items.rq``).
_METRICS = (
    _PROLOGUE
    + """SELECT ?item ?interval (MAX(?measured) AS ?lastMeasured) WHERE {
  ?item a aims:Metric ; aims:monitoringInterval ?interval .
  OPTIONAL { ?measurement aims:ofMetric ?item ; aims:measuredAt ?measured }
}
GROUP BY ?item ?interval"""
)
#: (date property, kinds by class, the kind of an item of none of those classes), in the order
#: of ``queries/due-items.rq``: the first class an item belongs to (or to a subclass of) names it.
_DATED_KINDS: tuple[tuple[str, tuple[tuple[str, str], ...], str], ...] = (
    (AIMS + "nextReviewDate", (), "Review"),
    (
        AIMS + "dueDate",
        (
            (AIMS + "Task", "Task"),
            (AIMS + "CorrectiveAction", "Corrective action"),
            (AIMS + "ImprovementAction", "Improvement action"),
            (AIMS + "AIObjective", "Objective"),
        ),
        "Action",
    ),
    (AIMS + "validUntil", ((AIMS + "Evidence", "Evidence expiry"), (AIMS + "TrainingRecord", "Training expiry")), "Expiry"),
    (
        AIMS + "plannedDate",
        ((AIMS + "Audit", "Audit"), (AIMS + "ManagementReview", "Management review"), (AIMS + "PlannedChange", "Planned change")),
        "Planned",
    ),
)
#: Statuses that take an item off the agenda: closed work items, done or dismissed tasks.
CLOSED_STATUSES = (AIMS + "StatusClosed", AIMS + "TaskDone", AIMS + "TaskDismissed")
#: Who answers for an item, in the order ``queries/due-items.rq`` concatenates them.
_OWNER_PROPERTIES = (AIMS + "hasOwner", AIMS + "hasRiskOwner", AIMS + "assessor", AIMS + "trainee")


def due_items(store: GraphStore, as_of: date, within: timedelta | None) -> list[DueItem]:
    """Everything due up to ``as_of + within`` (everything dated when ``within`` is None),
    overdue items (due before ``as_of``) included and marked, soonest first.

    The same items, in the same order and with the same fields, as ``queries/due-items.rq``
    gives (``tests/test_agenda.py`` compares them), computed faster: one index query per date
    property for the items of the window, and each item's classes, label, owners and document
    looked up by index and read in Python (the query's per-item subqueries cost about 1.5 ms a
    row: 9 s for 5,600 items at 10,000 systems). The agenda is kept per store generation (the
    last :data:`CACHED_AGENDAS` windows), and so is what was looked up about each item, so that
    the next page, or another window, costs no second pass.
    """
    until = None if within is None else as_of + within
    cache = _cache(store)
    key = (as_of, until)
    found = cache.agendas.get(key)
    if found is None:
        found = _compute(store, cache, as_of, until)
        if len(cache.agendas) >= CACHED_AGENDAS:
            cache.agendas.pop(next(iter(cache.agendas)), None)
        cache.agendas[key] = found
    return list(found)


@dataclass
class _Details:
    """What the agenda shows of one item, whatever its date: read once per store generation."""

    label: str | None
    types: frozenset[str]  # IRIs of its classes
    type: str | None  # the most specific aims: class
    owners: tuple[str, ...]
    owner_names: tuple[str, ...]
    location: str | None


@dataclass
class _Cache:
    """What the agendas of one store generation share (GraphStore.per_generation). It holds the
    record's lookups, not a Record: the store keeps this cache, and a Record refers back to the
    store, which would be a cycle that only the garbage collector frees (and RocksDB's lock
    with it)."""

    lookups: dict = field(default_factory=dict)  # Record's memo: (direction, node, property) -> values
    agendas: dict = field(default_factory=dict)  # (as_of, until) -> list[DueItem]
    details: dict = field(default_factory=dict)  # item text -> _Details
    present: dict = field(default_factory=dict)  # property IRI -> used in the store at all
    supers: dict | None = None  # class -> its direct superclasses (rdfs:subClassOf)
    ancestors: dict = field(default_factory=dict)  # class -> every superclass (rdfs:subClassOf+)


def _cache(store: GraphStore) -> _Cache:
    return store.per_generation("due-items", _Cache)


def _compute(store: GraphStore, cache: _Cache, as_of: date, until: date | None) -> list[DueItem]:
    closed = {
        q.subject
        for status in CLOSED_STATUSES
        for q in store.quads(None, ox.NamedNode(AIMS + "status"), ox.NamedNode(status), None)
    }
    substitutions = (
        {ox.Variable("until"): ox.Literal(until.isoformat(), datatype=ox.NamedNode(XSD_DATE))} if until is not None else {}
    )
    # (due, kind, label, item, interval) -> the item: the query's order, its first row per item, kind and date
    found: dict[tuple[str, str, date], tuple[tuple, DueItem]] = {}

    def add(
        term, due: date, kind_of, last_measured: date | None = None, interval: str | None = None, expires: bool = False
    ) -> None:
        if until is not None and due > until:
            return
        iri = term_text(term)
        details = _details(store, cache, term, iri, expires)
        kind = kind_of(details) if callable(kind_of) else kind_of
        label = details.label if details.label is not None else local_name(iri)
        order = (due, kind, details.label is not None, details.label or "", iri, interval or "")
        known = found.get((iri, kind, due))
        if known is not None and known[0] <= order:
            return
        found[(iri, kind, due)] = (
            order,
            DueItem(
                iri=iri,
                label=label,
                kind=kind,
                due=due,
                overdue=due < as_of,
                type=details.type,
                owners=details.owners,
                owner_names=details.owner_names,
                location=details.location,
                last_measured=last_measured,
                interval=interval,
            ),
        )

    for prop, kinds, otherwise in _DATED_KINDS:
        if not _present(store, cache, prop):
            continue
        query = _DATED.format(prop)
        rows = (
            store.query(query, substitutions=substitutions)
            if substitutions
            else store.query(query.replace(" ?until WHERE", " WHERE"))
        )
        planned = prop == AIMS + "plannedDate"
        for row in rows:
            term = row["item"]
            if term in closed:
                continue
            due = _day(row["due"])
            if due is None:  # not a date: the shapes report it
                continue
            if planned and _held(store, term):
                continue
            add(
                term,
                due,
                functools.partial(_kind, cache, store, kinds, otherwise) if kinds else otherwise,
                expires=prop == AIMS + "validUntil",
            )
    if _present(store, cache, AIMS + "monitoringInterval"):
        for row in store.query(_METRICS):
            term = row["item"]
            if term in closed:
                continue
            last_measured, interval = _day(row["lastMeasured"]), term_text(row["interval"])
            if last_measured is None:
                continue  # never measured: no date to put it on (the query lists it)
            due = add_duration(last_measured, interval)
            if due is not None:
                add(term, due, "Measurement", last_measured, interval)
    return [item for _, item in sorted(found.values(), key=lambda entry: _sort_key(entry[1]))]


def _sort_key(item: DueItem) -> tuple:
    return (item.due, item.kind, item.label, item.iri)


def _present(store: GraphStore, cache: _Cache, prop: str) -> bool:
    """Whether any triple has the property (at 10,000 systems most items have no assessor,
    trainee or document: a lookup per item for each would be wasted)."""
    known = cache.present.get(prop)
    if known is None:
        known = cache.present[prop] = any(True for _ in store.quads(None, ox.NamedNode(prop), None, None))
    return known


def _held(store: GraphStore, term) -> bool:
    """A planned activity already held: it has prov:endedAtTime or aims:reviewDate."""
    return any(True for prop in (PROV_ENDED_AT, AIMS + "reviewDate") for _ in store.quads(term, ox.NamedNode(prop), None, None))


def _kind(cache: _Cache, store: GraphStore, kinds: tuple[tuple[str, str], ...], otherwise: str, details: _Details) -> str:
    """The kind of the first of ``kinds`` whose class the item belongs to, directly or by a
    subclass (``a/rdfs:subClassOf*``)."""
    for cls, kind in kinds:
        if any(t == cls or cls in _ancestors(store, cache, t) for t in details.types):
            return kind
    return otherwise


def _ancestors(store: GraphStore, cache: _Cache, cls: str) -> frozenset[str]:
    """Every superclass of a class (``rdfs:subClassOf+``, the class itself only on a cycle)."""
    known = cache.ancestors.get(cls)
    if known is None:
        if cache.supers is None:
            supers: dict[str, set[str]] = {}
            for quad in store.quads(None, ox.NamedNode(RDFS_SUB_CLASS_OF), None, None):
                supers.setdefault(term_text(quad.subject), set()).add(term_text(quad.object))
            cache.supers = supers
        seen: set[str] = set()
        todo = list(cache.supers.get(cls, ()))
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(cache.supers.get(current, ()))
        known = cache.ancestors[cls] = frozenset(seen)
    return known


def _details(store: GraphStore, cache: _Cache, term, iri: str, expires: bool = False) -> _Details:
    """The item's details (``expires``: it is known to have an aims:validUntil)."""
    known = cache.details.get(iri)
    if known is not None:
        return known

    def objects(prop: str) -> list:
        if not _present(store, cache, prop):
            return []
        return [q.object for q in store.quads(term, ox.NamedNode(prop), None, None)]

    types = {term_text(t) for t in objects(RDF_TYPE) if isinstance(t, ox.NamedNode | ox.BlankNode)}
    # the most specific aims: classes: no other class of the item is a subclass of them; the smallest IRI
    narrower = set().union(*(_ancestors(store, cache, t) - {t} for t in types)) if types else set()
    specific = [t for t in types if t.startswith(AIMS) and t not in narrower]
    labels = objects(RDFS_LABEL)
    responsible = {prop: objects(prop) for prop in _OWNER_PROPERTIES}
    owners = dict.fromkeys(
        term_text(o) for prop in _OWNER_PROPERTIES for o in responsible[prop] if not isinstance(o, ox.BlankNode)
    )
    if not responsible[AIMS + "hasOwner"] and (expires or objects(AIMS + "validUntil")):
        # evidence without an owner: the owners of what holds it
        for quad in store.quads(None, ox.NamedNode(AIMS + "hasEvidence"), term, None):
            for owner in store.quads(quad.subject, ox.NamedNode(AIMS + "hasOwner"), None, None):
                if not isinstance(owner.object, ox.BlankNode):
                    owners.setdefault(term_text(owner.object))
    locations = [term_text(o) for o in objects(AIMS + "location") if not isinstance(o, ox.BlankNode)]
    record = Record(store, cache.lookups)
    found = cache.details[iri] = _Details(
        label=term_text(min(labels, key=_term_order)) if labels else None,
        types=frozenset(types),
        type=min(specific) if specific else None,
        owners=tuple(owners),
        owner_names=tuple(owner_name(record, o) for o in owners),
        location=min(locations) if locations else None,
    )
    return found


def _term_order(term) -> tuple[int, str]:
    """SPARQL's ORDER BY among terms of one column: blank nodes, then IRIs, then literals."""
    rank = 0 if isinstance(term, ox.BlankNode) else 1 if isinstance(term, ox.NamedNode) else 2
    return rank, term_text(term)


def _day(term: object) -> date | None:
    """The date a literal starts with; None for another term or text that is no date."""
    if not isinstance(term, ox.Literal):
        return None
    try:
        return date.fromisoformat(term.value[:10])
    except ValueError:
        return None


def query_due_items(store: GraphStore, as_of: date, within: timedelta | None) -> list[DueItem]:
    """:func:`due_items` as ``queries/due-items.rq`` computes it, row by row: the reference the
    fast path is tested against (slow on a large record)."""
    query = named_query("due-items")
    until = None if within is None else as_of + within
    values = {"asOf": as_of.isoformat()}
    if until is not None:  # the query then looks up only the items in the window (and metrics)
        values["until"] = until.isoformat()
    solutions = store.query(query.text, substitutions=query.substitutions(values))
    record = Record(store)
    found: dict[tuple[str, str, date], DueItem] = {}
    for row in solutions:
        text = {name: term_text(row[name]) if row[name] is not None else None for name in _DUE_COLUMNS}
        iri, kind = text["item"], text["kind"]
        assert iri is not None and kind is not None  # bound in every row of the query
        last_measured = interval = None
        if row["due"] is not None:
            due = _day(row["due"])
            if due is None:  # not a date: the shapes report it
                continue
        else:  # a metric: its next measurement
            last_measured, interval = _day(row["lastMeasured"]), text["interval"]
            if last_measured is None or interval is None:
                continue  # never measured: no date to put it on (the query lists it)
            due = add_duration(last_measured, interval)
            if due is None:
                continue
        if until is not None and due > until:
            continue
        owners = tuple(text["owner"].split()) if text["owner"] is not None else ()
        key = (iri, kind, due)
        if key in found:
            continue
        found[key] = DueItem(
            iri=iri,
            label=text["label"] if text["label"] is not None else local_name(iri),
            kind=kind,
            due=due,
            overdue=due < as_of,
            type=text["type"],
            owners=owners,
            owner_names=tuple(owner_name(record, o) for o in owners),
            location=text["location"],
            last_measured=last_measured,
            interval=interval,
        )
    return sorted(found.values(), key=_sort_key)


#: The columns of ``queries/due-items.rq`` read as text (any term: an editor can put a triple
#: term or a blank node anywhere).
_DUE_COLUMNS = ("item", "kind", "interval", "owner", "label", "type", "location")


@functools.cache
def named_query(name: str) -> queries.NamedQuery:
    """A shipped named query (read once: the files do not change while the process runs)."""
    return queries.load_all()[name]


def owner_name(record: Record, owner: str) -> str:
    """A role as "holder names, role label"; a person by name."""
    holders = [_name(record, person) for person in record.objects(owner, AIMS + "heldBy")]
    if holders:
        return f"{', '.join(holders)}, {record.label(owner)}"
    return _name(record, owner)


def _name(record: Record, node: str) -> str:
    return min(record.objects(node, FOAF_NAME), default=None) or record.label(node)


def item_key(item: DueItem) -> str:
    """What names an item of an agenda (the same item can be due twice, under two kinds or on
    two dates): the page that starts after it (the /due page's ``after``)."""
    return f"{item.due.isoformat()} {item.kind} {item.iri}"


def kind_counts(items: list[DueItem]) -> dict[str, int]:
    """Items per kind, by kind."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    return dict(sorted(counts.items()))


def as_dict(items: list[DueItem], as_of: date, within: str) -> dict[str, object]:
    """The agenda as JSON-ready data."""
    return {
        "asOf": as_of.isoformat(),
        "within": within,
        "overdue": sum(i.overdue for i in items),
        "items": [i.as_dict(as_of) for i in items],
    }


def render_table(items: list[DueItem], as_of: date) -> str:
    """A plain-text table, soonest first (``aimsgraph due``)."""
    lines = [f"{len(items)} items due, {sum(i.overdue for i in items)} of them overdue (as of {as_of.isoformat()})"]
    if items:
        lines.append("")
        lines.append(f"{'due':<10}  {'':<7}  {'kind':<18}  {'item':<60}  owner")
    for item in items:
        flag = "OVERDUE" if item.overdue else ""
        label = item.label if len(item.label) <= 60 else item.label[:57] + "..."
        lines.append(f"{item.due.isoformat():<10}  {flag:<7}  {item.kind:<18}  {label:<60}  {'; '.join(item.owner_names)}")
    return "\n".join(lines) + "\n"


# -- iCalendar (RFC 5545) --------------------------------------------------------------------


@dataclass(frozen=True)
class Todo:
    """A task in the feed: one VTODO (RFC 5545 3.6.2) due on a day, with its status
    (NEEDS-ACTION, IN-PROCESS, COMPLETED or CANCELLED) and a UID that stays with the task."""

    uid: str
    summary: str
    due: date
    status: str
    description: str
    categories: tuple[str, ...]


def to_ical(items: list[DueItem], generated_at: datetime, name: str = "aimsgraph: due items", todos: Iterable[Todo] = ()) -> str:
    """An iCalendar object with one all-day VEVENT per item and one VTODO per task: CRLF line
    ends, lines folded at 75 octets, TEXT values escaped."""
    stamp = _utc(generated_at)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//aimsgraph//review calendar//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:" + escape_text(name),
    ]
    for item in items:
        description = [f"Owner: {'; '.join(item.owner_names) or 'not recorded'}", f"Item: {item.iri}"]
        if item.type:
            description.append(f"Type: {local_name(item.type)}")
        if item.overdue:
            description.append(f"Overdue since {item.due.isoformat()}")
        if item.last_measured and item.interval:
            description.append(f"Last measured {item.last_measured.isoformat()}, every {item.interval}")
        if item.location:
            description.append(f"Document: {item.location}")
        lines += [
            "BEGIN:VEVENT",
            "UID:" + item.uid,
            "DTSTAMP:" + stamp,
            "DTSTART;VALUE=DATE:" + item.due.strftime("%Y%m%d"),
            "DTEND;VALUE=DATE:" + (item.due + timedelta(days=1)).strftime("%Y%m%d"),
            "SUMMARY:" + escape_text(f"{item.kind}: {item.label} due"),
            "DESCRIPTION:" + escape_text("\n".join(description)),
            "CATEGORIES:" + ",".join(escape_text(c) for c in (item.kind, *(["Overdue"] if item.overdue else []))),
            "TRANSP:TRANSPARENT",
        ]
        if item.location and re.match(r"^https?://[^\s\"<>]+$", item.location):
            lines.append("URL:" + item.location)
        lines.append("END:VEVENT")
    for todo in todos:
        lines += [
            "BEGIN:VTODO",
            "UID:" + todo.uid,
            "DTSTAMP:" + stamp,
            "DUE;VALUE=DATE:" + todo.due.strftime("%Y%m%d"),
            "SUMMARY:" + escape_text(todo.summary),
            "DESCRIPTION:" + escape_text(todo.description),
            "STATUS:" + todo.status,
            "CATEGORIES:" + ",".join(escape_text(c) for c in todo.categories),
            "END:VTODO",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newlines escaped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str, limit: int = 75) -> str:
    """Fold a content line into lines of at most ``limit`` octets (RFC 5545 3.1), never inside
    a UTF-8 character; continuation lines start with one space."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > (limit if not parts else limit - 1):
            parts.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    parts.append("".join(current))
    return "\r\n ".join(parts)


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
