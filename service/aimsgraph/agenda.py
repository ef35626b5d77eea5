"""The review calendar: everything in the record with a due date, in one agenda, and the same
agenda as an iCalendar feed (RFC 5545) for calendar programs.

The items come from ``queries/due-items.rq``: review dates (policy, risks, assessments), due
dates of actions and objectives, expiry of evidence and training records, planned audits,
management reviews and changes, and each metric's next measurement. SPARQL in pyoxigraph cannot
add an ``xsd:duration`` such as ``P3M`` to a date (the sum is unbound), so the query gives a
metric's latest ``aims:measuredAt`` and its ``aims:monitoringInterval`` and this module adds
them, by calendar months as XML Schema does (2026-08-31 plus one month is 2026-09-30).

The feed is written here, not with a library: each item is one all-day VEVENT whose UID is
derived from the item's IRI and kind, so a calendar that subscribes to the feed moves an event
when its date changes instead of adding a second one.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyoxigraph as ox

from aimsgraph import queries
from aimsgraph.errors import InvalidInput
from aimsgraph.record import AIMS, Record, local_name, term_text
from aimsgraph.store import GraphStore

FOAF_NAME = "http://xmlns.com/foaf/0.1/name"
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
            "item": self.iri, "label": self.label, "kind": self.kind, "type": self.type,
            "due": self.due.isoformat(), "overdue": self.overdue,
            "daysLeft": (self.due - as_of).days,
            "owner": list(self.owners), "ownerNames": list(self.owner_names), "location": self.location,
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
            f"within must be a number of days, weeks, months or years such as 30d, 2w, 12m or 1y (or 'all'), "
            f"not {text!r}")
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


def due_items(store: GraphStore, as_of: date, within: timedelta | None) -> list[DueItem]:
    """Everything due up to ``as_of + within`` (everything dated when ``within`` is None),
    overdue items (due before ``as_of``) included and marked, soonest first."""
    query = named_query("due-items")
    solutions = store.query(query.text, substitutions=query.substitutions({"asOf": as_of.isoformat()}))
    record = Record(store.raw)
    until = None if within is None else as_of + within
    found: dict[tuple[str, str, date], DueItem] = {}
    for row in solutions:
        text = {name: term_text(row[name]) if row[name] is not None else None for name in _DUE_COLUMNS}
        iri, kind = text["item"], text["kind"]
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
            iri=iri, label=text["label"] if text["label"] is not None else local_name(iri), kind=kind,
            due=due, overdue=due < as_of, type=text["type"], owners=owners,
            owner_names=tuple(owner_name(record, o) for o in owners), location=text["location"],
            last_measured=last_measured, interval=interval,
        )
    return sorted(found.values(), key=lambda i: (i.due, i.kind, i.label, i.iri))


#: The columns of ``queries/due-items.rq`` read as text (any term: an editor can put a triple
#: term or a blank node anywhere).
_DUE_COLUMNS = ("item", "kind", "interval", "owner", "label", "type", "location")


def _day(term: object) -> date | None:
    """The date a literal starts with; None for another term or text that is no date."""
    if not isinstance(term, ox.Literal):
        return None
    try:
        return date.fromisoformat(term.value[:10])
    except ValueError:
        return None


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


def as_dict(items: list[DueItem], as_of: date, within: str) -> dict[str, object]:
    """The agenda as JSON-ready data."""
    return {
        "asOf": as_of.isoformat(), "within": within,
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


def to_ical(items: list[DueItem], generated_at: datetime, name: str = "aimsgraph: due items") -> str:
    """An iCalendar object with one all-day VEVENT per item: CRLF line ends, lines folded at
    75 octets, TEXT values escaped."""
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
    current, size = [], 0
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
