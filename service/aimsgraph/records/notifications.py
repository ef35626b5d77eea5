"""Notifications: an outbox in the store, signed webhooks and email (docs/notifications.md).

People hear of new findings, threshold breaches, overdue items, new tasks and approvals without
watching the pages. This module owns:

- **the outbox**, the named graph ``Graphs.OUTBOX`` (terms in ``ontology/notifications.ttl``):
  each notification with its kind, subject, JSON payload and time, and per configured
  destination a delivery (pending, delivered or failed; attempts; next attempt; last error).
  Only aimsgraph writes it (``auth.SERVICE_GRAPHS``); nothing is kept when no destination is
  configured;
- **emitting**: :func:`emit` for what a write does (``task.created``, ``approval.recorded``),
  and :meth:`Notifier.reconcile` for what the record comes to show: new SHACL Violations among
  the stored findings (``finding.opened``), new threshold breaches (``breach.opened``) and items
  that became overdue as of the evaluation date (``item.overdue``, once per item and due date);
- **delivery**: :class:`Notifier`'s dispatcher thread POSTs each notification to every webhook
  URL of the configuration, signed with HMAC-SHA256 (:func:`sign`), and emails it through the
  configured SMTP server; it retries with capped exponential backoff and marks a delivery
  delivered only after a 2xx answer (or the mail server's acceptance).

Nothing is lost across a crash or a restart. Derived notifications are reconciled from the
stored state: the conditions already announced are kept in the outbox (``aims:openCondition``)
and written in the same transaction as the notifications that announce them, so a refresh that
stopped half-way is caught up by the next reconcile (the service's start runs one). A
notification emitted inside a commit (its ``before_commit``) is held until the change is marked
committed, and dropped if the change is undone. Deliveries are at least once: a process killed
between a webhook's 2xx and the write that records it sends again, with the same
``X-Aimsgraph-Delivery`` id, which receivers use to drop the copy.

Outbox writes are write sections that do not count as record writes (``write_lock(counted=
False)``): sending a notification must not make the risk model, the agenda or the query
readers start over. SPARQL therefore sees the outbox as of the last write of the record; the
REST listing reads it directly. With an external store shared by several instances, configure
destinations on one instance only: each would announce the same conditions.

May import: the base modules, ``aimsgraph.store``, ``aimsgraph.semantics`` and the records
modules below it (``agenda``, ``queries``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pyoxigraph as ox

from aimsgraph import __version__, clock
from aimsgraph.config import Settings
from aimsgraph.errors import ConfigError, InvalidInput
from aimsgraph.namespaces import AIMS, FOAF, GENERATED_AT, PROV, RDF, TYPE, XSD, XSD_DATETIME, Graphs, is_absolute_iri
from aimsgraph.records import agenda, queries
from aimsgraph.semantics import validation
from aimsgraph.store import GraphStore
from aimsgraph.store.changes import CHANGE_CLASS, CHANGES, COMMITTED, TRUE
from aimsgraph.store.record import Record, term_text

log = logging.getLogger(__name__)

# -- the kinds --------------------------------------------------------------------------------

FINDING_OPENED = "finding.opened"  # a SHACL Violation appeared among the stored findings
BREACH_OPENED = "breach.opened"  # a measurement crossed its metric's threshold
ITEM_OVERDUE = "item.overdue"  # a dated item of the agenda passed its date
TASK_CREATED = "task.created"  # emitted by the tasks module
APPROVAL_RECORDED = "approval.recorded"  # emitted where approvals are written
#: What a kind looks like: lower-case dotted words.
_KIND = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$")
#: The subject line of an email, per kind (others use the kind itself).
TITLES = {
    FINDING_OPENED: "Finding opened",
    BREACH_OPENED: "Threshold breached",
    ITEM_OVERDUE: "Overdue",
    TASK_CREATED: "New task",
    APPROVAL_RECORDED: "Approval recorded",
}

# -- the terms of the outbox (ontology/notifications.ttl) ---------------------------------------

OUTBOX = ox.NamedNode(Graphs.OUTBOX)
NOTIFICATION = ox.NamedNode(AIMS + "Notification")
DELIVERY = ox.NamedNode(AIMS + "NotificationDelivery")
KIND = ox.NamedNode(AIMS + "notificationKind")
SUBJECT = ox.NamedNode(AIMS + "notificationSubject")
PAYLOAD = ox.NamedNode(AIMS + "notificationPayload")
PAGE = ox.NamedNode(AIMS + "notificationPage")
CAUSE = ox.NamedNode(PROV + "wasGeneratedBy")
OPEN_CONDITION = ox.NamedNode(AIMS + "openCondition")
WATCHED_KIND = ox.NamedNode(AIMS + "watchedKind")
DELIVERY_OF = ox.NamedNode(AIMS + "deliveryOf")
DESTINATION = ox.NamedNode(AIMS + "deliveryDestination")
RECIPIENT = ox.NamedNode(AIMS + "deliveryRecipient")
STATE = ox.NamedNode(AIMS + "deliveryState")
ATTEMPTS = ox.NamedNode(AIMS + "deliveryAttempts")
NEXT_ATTEMPT = ox.NamedNode(AIMS + "nextAttemptAt")
LAST_ATTEMPT = ox.NamedNode(AIMS + "lastAttemptAt")
DELIVERED_AT = ox.NamedNode(AIMS + "deliveredAt")
LAST_ERROR = ox.NamedNode(AIMS + "lastDeliveryError")
PENDING = ox.NamedNode(AIMS + "DeliveryPending")
DELIVERED = ox.NamedNode(AIMS + "DeliveryDelivered")
FAILED = ox.NamedNode(AIMS + "DeliveryFailed")
STATES = {PENDING: "pending", DELIVERED: "delivered", FAILED: "failed"}
JSON_LITERAL = ox.NamedNode(RDF + "JSON")
MBOX = FOAF + "mbox"
CHANGED_RESOURCE = ox.NamedNode(AIMS + "changedResource")
#: Who answers for a node, in the record: its owners (risk owners are owners too) and the
#: assignee of a task.
OWNER_PROPERTIES = (AIMS + "hasOwner", AIMS + "hasRiskOwner", AIMS + "assignee")
#: Classes whose nodes have a page of their own (/asset).
ASSET_CLASSES = {"AISystem", "Model", "Dataset", "InfrastructureService", "Supplier"}

# -- the webhook signature --------------------------------------------------------------------

EVENT_HEADER = "X-Aimsgraph-Event"
DELIVERY_HEADER = "X-Aimsgraph-Delivery"
TIMESTAMP_HEADER = "X-Aimsgraph-Timestamp"
SIGNATURE_HEADER = "X-Aimsgraph-Signature"
#: How far a receiver should let a timestamp lie from its own clock (replays older are refused).
TOLERANCE_SECONDS = 300

#: The longest the dispatcher sleeps: it also notices a new day (overdue items) and prunes.
POLL_SECONDS = 30.0
#: The longest one round of sends runs before its outcomes are written.
ROUND_SECONDS = 2.0
#: Most bytes of a webhook's answer read (it is not used; reading lets the connection close cleanly).
ANSWER_BYTES = 4096
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Aimsgraph-Signature`` value: ``sha256=`` and the hex HMAC-SHA256, keyed with the
    shared secret, of the timestamp header's value, a full stop, and the raw body."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, signature: str, body: bytes, now: float, tolerance: float = TOLERANCE_SECONDS) -> bool:
    """What a receiver checks (docs/notifications.md): the signature matches the timestamp and
    the body, compared in constant time, and the timestamp is within ``tolerance`` seconds of
    ``now`` (Unix seconds), so that a captured request cannot be replayed later."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


# -- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Smtp:
    """The mail server notifications are sent through."""

    host: str
    port: int
    sender: str
    starttls: bool
    user: str = ""
    password: str = field(default="", repr=False)


@dataclass(frozen=True)
class Config:
    """The destinations and the retry policy, from the settings (see :meth:`from_settings`)."""

    webhooks: dict[str, str] = field(repr=False)  # destination key -> URL
    secret: str = field(repr=False)
    smtp: Smtp | None
    emails: tuple[str, ...]  # recipients when the record names none
    max_attempts: int
    backoff: float
    backoff_max: float
    timeout: float
    keep_days: int
    public_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Config | None:
        """The configuration, or None when no destination is configured (nothing is kept)."""
        if not settings.webhook_urls and not settings.smtp_host:
            return None
        smtp = None
        if settings.smtp_host:
            smtp = Smtp(
                settings.smtp_host,
                settings.smtp_port,
                settings.smtp_from,
                settings.smtp_starttls,
                settings.smtp_user,
                settings.smtp_password,
            )
        return cls(
            webhooks={webhook_key(url): url for url in settings.webhook_urls},
            secret=_secret(settings),
            smtp=smtp,
            emails=settings.notify_emails,
            max_attempts=settings.notify_max_attempts,
            backoff=settings.notify_backoff_seconds,
            backoff_max=settings.notify_backoff_max_seconds,
            timeout=settings.notify_timeout,
            keep_days=settings.notify_keep_days,
            public_url=(settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/"),
        )

    def wait_after(self, attempts: int) -> float:
        """Seconds before the next attempt after ``attempts`` failed ones: doubling, capped."""
        return min(self.backoff * 2 ** (attempts - 1), self.backoff_max)

    def shown(self, key: str) -> str:
        """A destination as the listing shows it: a webhook by scheme and host only (its path
        and query may hold a token), email as it is."""
        url = self.webhooks.get(key)
        if url is None:
            return "email" if key == "email" else "webhook (no longer configured)"
        parts = urlsplit(url)
        return f"webhook {parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def webhook_key(url: str) -> str:
    """A webhook's name in the outbox: a digest of its URL, which stays in the configuration."""
    return "webhook:" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def _secret(settings: Settings) -> str:
    if settings.webhook_secret or not settings.webhook_secret_file:
        return settings.webhook_secret
    path = Path(settings.webhook_secret_file)
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"AIMSGRAPH_WEBHOOK_SECRET_FILE: cannot read {path}: {exc.strerror}") from None
    if not secret:
        raise ConfigError(f"AIMSGRAPH_WEBHOOK_SECRET_FILE: {path} is empty")
    return secret


# -- emitting ---------------------------------------------------------------------------------

#: The notifier of each store the service opened (none: notifications are off for it).
_NOTIFIERS: weakref.WeakKeyDictionary[GraphStore, Notifier] = weakref.WeakKeyDictionary()


def emit(
    store: GraphStore,
    kind: str,
    subject: str,
    payload: dict[str, Any] | None = None,
    *,
    page: str | None = None,
    owners: Iterable[str] | None = None,
) -> str | None:
    """Keep a notification for every configured destination; its IRI (``urn:uuid:<id>``), or
    None when notifications are off (no destination configured, or the CLI).

    ``kind``: dotted lower-case words (``task.created``, ``approval.recorded``); ``subject``:
    the IRI of the node it is about; ``payload``: JSON-serialisable details, sent as they are
    (a ``summary`` string, if given, is the email's subject and first line); ``page``: the path
    of the web page to link to (default ``/``); ``owners``: the people or roles to email
    (default: the subject's owners and assignee in the record; a role reaches its holders).

    Call it in the write section of the change that causes it: in ``before_commit`` of
    ``changes.commit`` the notification is held until the change is marked committed (and
    dropped if the change is undone, by a refusal or a crash); called after ``commit`` returns,
    hold the store's write lock around both, so that nothing comes between them.
    InvalidInput for a malformed kind or subject."""
    if not _KIND.match(kind):
        raise InvalidInput(f"a notification kind is lower-case dotted words such as task.created, not {kind!r}")
    if not is_absolute_iri(subject):
        raise InvalidInput(f"a notification's subject must be an absolute IRI, not {subject!r}")
    notifier = _NOTIFIERS.get(store)
    if notifier is None:
        return None
    with store.write_lock(counted=False):
        event, quads = notifier.notification(
            kind, subject, dict(payload or {}), page or "/", owners, _open_change(store, subject)
        )
        store.replace_quads(remove=[], add=quads)
    notifier.wake()
    return event.value


def _open_change(store: GraphStore, subject: str) -> ox.NamedNode | None:
    """The change being committed that touches ``subject``, if :func:`emit` is called inside
    one (under the write lock, only the commit in progress is journalled and not committed)."""
    for quad in store.quads(None, CHANGED_RESOURCE, ox.NamedNode(subject), CHANGES):
        change = quad.subject
        if isinstance(change, ox.NamedNode) and not store.contains(ox.Quad(change, COMMITTED, TRUE, CHANGES)):
            return change
    return None


def notifier_of(store: GraphStore) -> Notifier | None:
    """The notifier of a store, when notifications are on."""
    return _NOTIFIERS.get(store)


def start(store: GraphStore, settings: Settings) -> Notifier | None:
    """Turn notifications on for ``store`` when the settings name a destination, and start the
    dispatcher (it sends what a previous process left pending at once). None when off."""
    config = Config.from_settings(settings)
    if config is None:
        return None
    notifier = Notifier(store, config)
    _NOTIFIERS[store] = notifier
    notifier.start()
    return notifier


def after_refresh(store: GraphStore) -> None:
    """The refresher's hook: announce what the refreshed record shows (never raises: a
    notification must not stop the derived graphs)."""
    notifier = _NOTIFIERS.get(store)
    if notifier is None:
        return
    try:
        notifier.reconcile()
    except Exception:
        log.exception("the notifications of the refreshed record could not be worked out; the next refresh tries again")


# -- the conditions the record shows ----------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """Something the record shows that people hear of once, while it lasts."""

    key: str  # kind, node and (for dated items) the date: what makes it the same condition
    kind: str
    subject: str
    describe: Callable[[Record], tuple[dict[str, Any], str, tuple[str, ...]]]  # payload, page, owners


def conditions(store: GraphStore, today: date) -> dict[str, dict[str, Condition]]:
    """The conditions of each kind the record shows now, by key: stored Violations, threshold
    breaches, overdue items."""
    return {
        FINDING_OPENED: {c.key: c for c in _violations(store)},
        BREACH_OPENED: {c.key: c for c in _breaches(store)},
        ITEM_OVERDUE: {c.key: c for c in _overdue(store, today)},
    }


def _violations(store: GraphStore) -> list[Condition]:
    found = []
    for finding in validation.findings_index(store).findings:
        if finding.severity == "Violation":
            found.append(Condition(f"{FINDING_OPENED} {finding.iri}", FINDING_OPENED, finding.iri, _finding_details(finding)))
    return found


def _finding_details(finding: validation.Finding) -> Callable[[Record], tuple[dict[str, Any], str, tuple[str, ...]]]:
    def describe(record: Record) -> tuple[dict[str, Any], str, tuple[str, ...]]:
        label = record.label(finding.focus)
        payload = {
            "summary": f"{label}: {finding.message}",
            "focus": finding.focus,
            "focusLabel": label,
            "severity": finding.severity,
            "shape": finding.shape,
            "path": finding.path,
            "value": finding.value,
            "message": finding.message,
            "clauses": list(finding.clauses),
        }
        asset = ASSET_CLASSES & record.types(finding.focus)
        page = f"/asset?iri={quote(finding.focus, safe='')}" if asset else "/findings?severity=Violation"
        return payload, page, _owners(record, finding.focus)

    return describe


def _breaches(store: GraphStore) -> list[Condition]:
    found = []
    for row in store.query(queries.load_all()["metric-breaches"].text):
        value = {name: term_text(row[name]) if row[name] is not None else "" for name in _BREACH_COLUMNS}
        key = f"{BREACH_OPENED} {value['measurement']}"
        found.append(Condition(key, BREACH_OPENED, value["measurement"], _breach_details(value)))
    return found


_BREACH_COLUMNS = (
    "measurement",
    "metric",
    "metricLabel",
    "owner",
    "value",
    "threshold",
    "direction",
    "measuredAt",
    "latest",
    "systems",
)


def _breach_details(value: dict[str, str]) -> Callable[[Record], tuple[dict[str, Any], str, tuple[str, ...]]]:
    def describe(record: Record) -> tuple[dict[str, Any], str, tuple[str, ...]]:
        metric = value["metricLabel"] or record.label(value["metric"])
        beyond = "below" if value["direction"] == "lower" else "above"
        payload = {
            "summary": f"{metric} measured {value['value']}, {beyond} its threshold {value['threshold']}",
            "measurement": value["measurement"],
            "metric": value["metric"],
            "metricLabel": metric,
            "value": value["value"],
            "threshold": value["threshold"],
            "direction": value["direction"],
            "measuredAt": value["measuredAt"] or None,
            "stillStands": value["latest"] == "true",
            "systems": value["systems"].split(),
        }
        return payload, "/due", tuple(value["owner"].split())

    return describe


def _overdue(store: GraphStore, today: date) -> list[Condition]:
    found = []
    for item in agenda.due_items(store, today, timedelta(0)):
        if item.overdue:
            key = f"{ITEM_OVERDUE} {item.iri} {item.kind} {item.due.isoformat()}"
            found.append(Condition(key, ITEM_OVERDUE, item.iri, _item_details(item, today)))
    return found


def _item_details(item: agenda.DueItem, today: date) -> Callable[[Record], tuple[dict[str, Any], str, tuple[str, ...]]]:
    def describe(record: Record) -> tuple[dict[str, Any], str, tuple[str, ...]]:
        payload = {"summary": f"{item.label} ({item.kind.lower()}) was due on {item.due.isoformat()}", **item.as_dict(today)}
        return payload, "/due", item.owners

    return describe


def _owners(record: Record, node: str) -> tuple[str, ...]:
    return tuple(sorted({owner for p in OWNER_PROPERTIES for owner in record.objects(node, p)}))


def emails_of(record: Record, agents: Iterable[str]) -> list[str]:
    """The email addresses (foaf:mbox, a mailto: IRI or a plain address) of the people among
    ``agents`` and of the holders of the roles among them."""
    found = set()
    for agent in agents:
        for person in (agent, *record.objects(agent, AIMS + "heldBy")):
            for box in record.objects(person, MBOX):
                address = box.removeprefix("mailto:").strip()
                if _ADDRESS.match(address):
                    found.add(address)
    return sorted(found)


# -- the outbox as read back ------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """A notification as it is sent."""

    iri: str
    kind: str
    subject: str
    payload: dict[str, Any]
    created: str
    page: str
    cause: ox.NamedNode | None

    @property
    def id(self) -> str:
        return self.iri.removeprefix("urn:uuid:")

    def body(self, public_url: str) -> bytes:
        """The webhook's JSON body: compact, keys sorted (the signature covers these bytes)."""
        document = {
            "id": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "created": self.created,
            "link": public_url + self.page,
            "payload": self.payload,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")

    @property
    def summary(self) -> str:
        return str(self.payload.get("summary") or f"{self.kind} {self.subject}")


@dataclass(frozen=True)
class Delivery:
    """One destination's delivery of a notification, as stored."""

    iri: ox.NamedNode
    notification: ox.NamedNode
    destination: str
    state: str
    attempts: int
    next_attempt: datetime | None
    recipients: tuple[str, ...]
    last_error: str | None
    delivered_at: str | None


def read_delivery(store: GraphStore, iri: ox.NamedNode) -> Delivery | None:
    values: dict[ox.NamedNode, list[Any]] = {}
    for quad in store.quads(iri, None, None, OUTBOX):
        values.setdefault(quad.predicate, []).append(quad.object)
    if not values.get(DELIVERY_OF):
        return None
    notification, state = values[DELIVERY_OF][0], values.get(STATE, [FAILED])[0]
    next_at = values.get(NEXT_ATTEMPT)
    return Delivery(
        iri,
        notification,
        _text(values.get(DESTINATION)) or "",
        STATES.get(state, "failed"),
        int(_text(values.get(ATTEMPTS)) or 0),
        _moment(next_at[0]) if next_at else None,
        tuple(sorted(r.value.removeprefix("mailto:") for r in values.get(RECIPIENT, []))),
        _text(values.get(LAST_ERROR)),
        _text(values.get(DELIVERED_AT)),
    )


def read_message(store: GraphStore, iri: ox.NamedNode) -> Message | None:
    values: dict[ox.NamedNode, list[Any]] = {}
    for quad in store.quads(iri, None, None, OUTBOX):
        values.setdefault(quad.predicate, []).append(quad.object)
    if not values.get(KIND) or not values.get(SUBJECT):
        return None
    try:
        payload = json.loads(_text(values.get(PAYLOAD)) or "{}")
    except ValueError:
        payload = {}
    cause = values.get(CAUSE, [None])[0]
    return Message(
        iri.value,
        _text(values[KIND]) or "",
        values[SUBJECT][0].value,
        payload if isinstance(payload, dict) else {"value": payload},
        _text(values.get(GENERATED_AT)) or "",
        _text(values.get(PAGE)) or "/",
        cause if isinstance(cause, ox.NamedNode) else None,
    )


def _text(found: list[Any] | None) -> str | None:
    return found[0].value if found else None


def deliveries(store: GraphStore, state: ox.NamedNode) -> list[Delivery]:
    """The deliveries in ``state`` (index lookups: pending and failed ones are few)."""
    found = []
    for quad in store.quads(None, STATE, state, OUTBOX):
        if isinstance(quad.subject, ox.NamedNode) and (delivery := read_delivery(store, quad.subject)) is not None:
            found.append(delivery)
    return found


def listing(store: GraphStore, config: Config | None, state: str | None = None, limit: int = 100) -> dict[str, Any]:
    """The outbox for ``GET /api/notifications``: counts per state, and the newest ``limit``
    notifications (those with a delivery in ``state``, when given) with all their deliveries.
    Only the notifications shown are read in full."""
    counts = {name: sum(1 for _ in store.quads(None, STATE, node, OUTBOX)) for node, name in STATES.items()}
    chosen: set[object]
    if state is None:
        chosen = {q.subject for q in store.quads(None, TYPE, NOTIFICATION, OUTBOX)}
    else:
        wanted = next(node for node, name in STATES.items() if name == state)
        chosen = {
            d.object for q in store.quads(None, STATE, wanted, OUTBOX) for d in store.quads(q.subject, DELIVERY_OF, None, OUTBOX)
        }
    created = {
        n: term_text(q.object) for n in chosen if isinstance(n, ox.NamedNode) for q in store.quads(n, GENERATED_AT, None, OUTBOX)
    }
    newest = sorted(created, key=lambda n: (created[n], n.value), reverse=True)[:limit]
    shown = config.shown if config is not None else str
    destinations = [*(config.webhooks if config else ()), *(["email"] if config and config.smtp else [])]
    listed = []
    for node in newest:
        message = read_message(store, node)
        found = [
            read_delivery(store, q.subject)
            for q in store.quads(None, DELIVERY_OF, node, OUTBOX)
            if isinstance(q.subject, ox.NamedNode)
        ]
        if message is not None:
            listed.append(_listed(message, [d for d in found if d is not None], shown))
    return {
        "enabled": config is not None,
        "destinations": [shown(k) for k in destinations],
        "counts": counts,
        "notifications": listed,
    }


def _listed(message: Message, found: list[Delivery], shown: Callable[[str], str]) -> dict[str, Any]:
    return {
        "id": message.id,
        "kind": message.kind,
        "subject": message.subject,
        "created": message.created,
        "summary": message.summary,
        "deliveries": [
            {
                "destination": shown(d.destination),
                "state": d.state,
                "attempts": d.attempts,
                "nextAttempt": d.next_attempt.isoformat() if d.next_attempt and d.state == "pending" else None,
                "deliveredAt": d.delivered_at,
                "lastError": d.last_error,
            }
            for d in sorted(found, key=lambda d: d.destination)
        ],
    }


# -- the notifier -----------------------------------------------------------------------------


class DeliveryError(Exception):
    """A send that failed: the message says why, without the destination's URL. A ``final``
    one is not tried again (the destination is no longer configured); an ``unreachable`` one
    got no answer at all (refused, timed out)."""

    def __init__(self, message: str, final: bool = False, unreachable: bool = False) -> None:
        super().__init__(message)
        self.final, self.unreachable = final, unreachable


class Notifier:
    """The outbox of one store: writes notifications, reconciles derived ones, and delivers
    them in a background thread (:meth:`start`, :meth:`stop`)."""

    def __init__(self, store: GraphStore, config: Config) -> None:
        self.store, self.config = store, config
        self._condition = threading.Condition()
        self._woken = False
        self._stopping = False
        self._reconciling = threading.Lock()
        self._watched: tuple[date, str | None] | None = None  # (day, findings version) last reconciled
        self._pruned_on: date | None = None
        self._thread: threading.Thread | None = None

    # -- writing notifications

    def notification(
        self,
        kind: str,
        subject: str,
        payload: dict[str, Any],
        page: str,
        owners: Iterable[str] | None,
        cause: ox.NamedNode | None = None,
        record: Record | None = None,
    ) -> tuple[ox.NamedNode, list[ox.Quad]]:
        """A new notification's quads, with a pending delivery for each destination (email only
        when someone has an address)."""
        record = record or Record(self.store)
        now = _time(clock.now())
        event = ox.NamedNode(f"urn:uuid:{uuid.uuid4()}")
        text = json.dumps(payload, sort_keys=True, default=str)
        quads = [
            ox.Quad(event, TYPE, NOTIFICATION, OUTBOX),
            ox.Quad(event, KIND, ox.Literal(kind), OUTBOX),
            ox.Quad(event, SUBJECT, ox.NamedNode(subject), OUTBOX),
            ox.Quad(event, PAYLOAD, ox.Literal(text, datatype=JSON_LITERAL), OUTBOX),
            ox.Quad(event, PAGE, ox.Literal(page), OUTBOX),
            ox.Quad(event, GENERATED_AT, now, OUTBOX),
        ]
        if cause is not None:
            quads.append(ox.Quad(event, CAUSE, cause, OUTBOX))
        for key in self.config.webhooks:
            quads += _delivery(event, key, now, ())
        if self.config.smtp is not None:
            agents = _owners(record, subject) if owners is None else tuple(owners)
            recipients = emails_of(record, agents) or list(self.config.emails)
            if recipients:
                quads += _delivery(event, "email", now, recipients)
        return event, quads

    def reconcile(self) -> bool:
        """Announce the conditions that appeared since the last reconcile, and forget those that
        ended. A kind seen for the first time is noted without announcing it. The findings
        are brought to today's evaluation date first. False when a write came in meanwhile
        (the refresh after it reconciles again)."""
        with self._reconciling:
            today = clock.today()
            self._validate_for(today)
            generation = self.store.generation
            found = conditions(self.store, today)
            with self.store.write_lock(counted=False):
                if self.store.generation != generation:
                    return False
                announced = self._apply(found)
            self._watched = (today, validation.stored_version(self.store))
        if announced:
            log.info("%d notification(s) to send", announced)
            self.wake()
        return True

    def _validate_for(self, today: date) -> None:
        """Stored findings of today, so that new Violations are seen (validated in full when
        none are stored or they are of another day; stored if no write came in meanwhile)."""
        if validation.stored_as_of(self.store) == today:
            return
        generation = self.store.generation
        plan = validation.revalidate(self.store, [], today)
        with self.store.write_lock():
            if self.store.generation == generation:
                validation.store_revalidation(self.store, plan)

    def _apply(self, found: dict[str, dict[str, Condition]]) -> int:
        """Write the notifications of new conditions and the conditions' marks in one
        transaction; drop the marks of ended ones. Call it holding the write lock."""
        known = {term_text(q.object) for q in self.store.quads(OUTBOX, OPEN_CONDITION, None, OUTBOX)}
        watched = {term_text(q.object) for q in self.store.quads(OUTBOX, WATCHED_KIND, None, OUTBOX)}
        record = Record(self.store)
        add: list[ox.Quad] = []
        remove: list[ox.Quad] = []
        announced = 0
        for kind, current in found.items():
            if kind not in watched:
                add.append(ox.Quad(OUTBOX, WATCHED_KIND, ox.Literal(kind), OUTBOX))
            for key, condition in current.items():
                if key in known:
                    continue
                add.append(ox.Quad(OUTBOX, OPEN_CONDITION, ox.Literal(key), OUTBOX))
                if kind in watched:
                    payload, page, owners = condition.describe(record)
                    add += self.notification(kind, condition.subject, payload, page, owners, record=record)[1]
                    announced += 1
            prefix = kind + " "
            ended = [key for key in known if key.startswith(prefix) and key not in current]
            remove += [ox.Quad(OUTBOX, OPEN_CONDITION, ox.Literal(key), OUTBOX) for key in ended]
        self.store.replace_quads(remove=remove, add=add)
        return announced

    # -- the dispatcher thread

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="aimsgraph-notifications", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the send in progress, its outcome written; waits at most ``timeout``
        seconds (default: one send's timeout and a little)."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self.config.timeout + 5 if timeout is None else timeout)

    def wake(self) -> None:
        """Look for due deliveries now (a notification was written)."""
        with self._condition:
            self._woken = True
            self._condition.notify_all()

    def _run(self) -> None:
        while not self._stopped():
            wait = POLL_SECONDS
            try:
                self._watch_the_day()
                wait = self._round()
                if self._pruned_on != clock.now().date():
                    self._pruned_on = clock.now().date()
                    self.prune()
            except Exception:  # the next round tries again; the outbox keeps what is pending
                log.exception("delivering notifications failed")
            with self._condition:
                self._condition.wait_for(lambda: self._stopping or self._woken, timeout=wait)
                self._woken = False

    def _stopped(self) -> bool:
        with self._condition:
            return self._stopping

    def _watch_the_day(self) -> None:
        """A new evaluation date, or findings stored by someone else (a page, /api/validate):
        items may have become overdue and findings opened without a write. Only once the
        service's start has reconciled (``Refresher.catch_up``): before, the derived graphs may
        not reflect the record yet, and what they show would be taken as the starting point."""
        if self._watched is not None and self._watched != (clock.today(), validation.stored_version(self.store)):
            self.reconcile()

    def _round(self) -> float:
        """Send the due deliveries, longest due first, for at most ROUND_SECONDS; write their
        outcomes; say how long to sleep until the next is due. A destination that cannot be
        reached (refused, timed out) is not tried again in the round: the others due to it wait
        for its backoff instead of each waiting out a timeout."""
        pending = deliveries(self.store, PENDING)
        now = clock.now()
        due = sorted((d for d in pending if d.next_attempt is None or d.next_attempt <= now), key=_due_order)
        sent = {d.iri for d in due}
        started, changes, later = time.monotonic(), _Changes(), []
        unreachable: dict[str, float] = {}  # destination -> seconds until it is tried again
        for delivery in due:
            if self._stopped() or time.monotonic() - started > ROUND_SECONDS:
                later.append(0.0)
                break
            if delivery.destination in unreachable:
                later.append(unreachable[delivery.destination])
                continue
            later.append(self._attempt(delivery, changes, unreachable))
        self._write(changes)
        waits = [(d.next_attempt - now).total_seconds() for d in pending if d.iri not in sent and d.next_attempt is not None]
        return max(0.0, min([*waits, *later, POLL_SECONDS]))

    def _attempt(self, delivery: Delivery, changes: _Changes, unreachable: dict[str, float]) -> float:
        """Send one delivery, noting its new state in ``changes`` (and in ``unreachable`` a
        destination that could not be reached); seconds until it is due again."""
        message = read_message(self.store, delivery.notification)
        if message is None:  # pruned or torn: nothing to send
            changes.replace(self.store, delivery.iri, {STATE: FAILED, LAST_ERROR: ox.Literal("the notification is gone")})
            return POLL_SECONDS
        cause = self._cause(message)
        if cause == "in progress":  # the change that made it is being committed
            return 0.2
        if cause == "undone":
            changes.drop(self.store, ox.NamedNode(message.iri))
            return POLL_SECONDS
        moment = clock.now()
        attempts = delivery.attempts + 1
        values: dict[ox.NamedNode, ox.NamedNode | ox.Literal] = {ATTEMPTS: _integer(attempts), LAST_ATTEMPT: _time(moment)}
        try:
            self._send(delivery, message)
        except DeliveryError as exc:
            log.warning("notification %s to %s: %s", message.id, self.config.shown(delivery.destination), exc)
            wait = self.config.wait_after(attempts)
            if exc.unreachable:
                unreachable[delivery.destination] = wait
            values[LAST_ERROR] = ox.Literal(str(exc))
            if attempts >= self.config.max_attempts or exc.final:
                values[STATE] = FAILED
            else:
                values[NEXT_ATTEMPT] = _time(moment + timedelta(seconds=wait))
            changes.replace(self.store, delivery.iri, values)
            return wait
        values[STATE], values[DELIVERED_AT] = DELIVERED, _time(clock.now())
        changes.replace(self.store, delivery.iri, values)
        return POLL_SECONDS

    def _cause(self, message: Message) -> str:
        """ "committed" (or no change named), "in progress" or "undone"."""
        if message.cause is None or self.store.contains(ox.Quad(message.cause, COMMITTED, TRUE, CHANGES)):
            return "committed"
        if self.store.contains(ox.Quad(message.cause, TYPE, CHANGE_CLASS, CHANGES)):
            return "in progress"
        return "undone"

    def _send(self, delivery: Delivery, message: Message) -> None:
        if delivery.destination == "email":
            if self.config.smtp is None:
                raise DeliveryError("email is no longer configured (AIMSGRAPH_SMTP_HOST)", final=True)
            send_email(self.config.smtp, self.config.timeout, delivery.recipients, message, self.config.public_url)
            return
        url = self.config.webhooks.get(delivery.destination)
        if url is None:
            raise DeliveryError("this webhook is no longer configured (AIMSGRAPH_WEBHOOK_URLS)", final=True)
        post_webhook(url, self.config.secret, self.config.timeout, message, message.body(self.config.public_url))

    def _write(self, changes: _Changes) -> None:
        if changes.remove or changes.add:
            with self.store.write_lock(counted=False):
                self.store.replace_quads(remove=changes.remove, add=changes.add)

    def prune(self) -> int:
        """Drop the notifications older than AIMSGRAPH_NOTIFY_KEEP_DAYS whose deliveries have
        all ended (delivered or failed); how many. The dispatcher does it once a day."""
        before = clock.now() - timedelta(days=self.config.keep_days)
        changes, dropped = _Changes(), 0
        for quad in self.store.quads(None, TYPE, NOTIFICATION, OUTBOX):
            event = quad.subject
            created = next(self.store.quads(event, GENERATED_AT, None, OUTBOX), None)
            if not isinstance(event, ox.NamedNode) or created is None or _moment(created.object) >= before:
                continue
            if any(
                self.store.contains(ox.Quad(d.subject, STATE, PENDING, OUTBOX))
                for d in self.store.quads(None, DELIVERY_OF, event, OUTBOX)
            ):
                continue
            changes.drop(self.store, event)
            dropped += 1
        self._write(changes)
        return dropped


@dataclass
class _Changes:
    """The outbox quads a round of sends removes and adds, written together."""

    remove: list[ox.Quad] = field(default_factory=list)
    add: list[ox.Quad] = field(default_factory=list)

    def replace(self, store: GraphStore, subject: ox.NamedNode, values: dict[ox.NamedNode, Any]) -> None:
        """Set these properties of ``subject`` (a functional property each); a delivery no
        longer pending loses its next attempt time."""
        names = set(values) | ({NEXT_ATTEMPT} if values.get(STATE) in (DELIVERED, FAILED) else set())
        self.remove += [q for name in names for q in store.quads(subject, name, None, OUTBOX)]
        self.add += [ox.Quad(subject, name, value, OUTBOX) for name, value in values.items()]

    def drop(self, store: GraphStore, event: ox.NamedNode) -> None:
        """Remove a notification and its deliveries."""
        nodes = [event, *(q.subject for q in store.quads(None, DELIVERY_OF, event, OUTBOX))]
        self.remove += [q for n in nodes if isinstance(n, ox.NamedNode) for q in store.quads(n, None, None, OUTBOX)]


def _due_order(delivery: Delivery) -> tuple[str, str]:
    """Longest due first, so that a destination that fails does not starve the others."""
    return (delivery.next_attempt.isoformat() if delivery.next_attempt else "", delivery.iri.value)


def _delivery(event: ox.NamedNode, destination: str, now: ox.Literal, recipients: Iterable[str]) -> list[ox.Quad]:
    node = ox.NamedNode(f"{event.value}#{destination.replace(':', '-')}")
    quads = [
        ox.Quad(node, TYPE, DELIVERY, OUTBOX),
        ox.Quad(node, DELIVERY_OF, event, OUTBOX),
        ox.Quad(node, DESTINATION, ox.Literal(destination), OUTBOX),
        ox.Quad(node, STATE, PENDING, OUTBOX),
        ox.Quad(node, ATTEMPTS, _integer(0), OUTBOX),
        ox.Quad(node, NEXT_ATTEMPT, now, OUTBOX),
    ]
    quads += [ox.Quad(node, RECIPIENT, ox.NamedNode("mailto:" + address), OUTBOX) for address in recipients]
    return quads


def _moment(term: object) -> datetime:
    """An xsd:dateTime of the outbox (always with its offset, see :func:`_time`)."""
    return datetime.fromisoformat(term_text(term))


def _time(moment: datetime) -> ox.Literal:
    return ox.Literal(moment.isoformat(timespec="microseconds"), datatype=ox.NamedNode(XSD_DATETIME))


def _integer(value: int) -> ox.Literal:
    return ox.Literal(str(value), datatype=ox.NamedNode(XSD + "integer"))


# -- sending ----------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a new destination: only configured URLs are called."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post_webhook(url: str, secret: str, timeout: float, message: Message, body: bytes) -> None:
    """POST the signed body; DeliveryError unless the answer is 2xx."""
    timestamp = str(int(clock.now().timestamp()))
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": f"aimsgraph/{__version__}",
            EVENT_HEADER: message.kind,
            DELIVERY_HEADER: message.id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            answer.read(ANSWER_BYTES)
            status = answer.status
    except urllib.error.HTTPError as exc:  # 3xx (no redirect is followed), 4xx, 5xx
        exc.close()
        raise DeliveryError(f"HTTP {exc.code}") from None
    except TimeoutError:
        raise DeliveryError(f"no answer within {timeout:g} s (AIMSGRAPH_NOTIFY_TIMEOUT)", unreachable=True) from None
    except urllib.error.URLError as exc:
        raise DeliveryError(f"cannot reach the webhook: {_reason(exc.reason)}", unreachable=True) from None
    except OSError as exc:
        raise DeliveryError(f"cannot reach the webhook: {_reason(exc)}", unreachable=True) from None
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}")


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)


def email_message(smtp: Smtp, recipients: Iterable[str], message: Message, public_url: str) -> EmailMessage:
    """The plain-text email of a notification, with a link to its page."""
    title = TITLES.get(message.kind, message.kind)
    mail = EmailMessage()
    mail["Subject"] = _one_line(f"[aimsgraph] {title}: {message.summary}", 160)
    mail["From"] = smtp.sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = format_datetime(clock.now())
    mail["Message-ID"] = f"<{message.id}@aimsgraph>"
    mail[EVENT_HEADER] = message.kind
    mail[DELIVERY_HEADER] = message.id
    details = "\n".join(f"  {name}: {_shown(value)}" for name, value in sorted(message.payload.items()) if name != "summary")
    mail.set_content(
        f"{message.summary}\n\n"
        f"Open: {public_url}{message.page}\n"
        f"About: {message.subject}\n\n"
        f"Details:\n{details}\n\n"
        f"-- \naimsgraph notification {message.id} ({message.kind}), {message.created}\n"
    )
    return mail


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())  # no line breaks in a header
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return "-" if value is None or value == "" else " ".join(str(value).split())


def send_email(smtp: Smtp, timeout: float, recipients: Iterable[str], message: Message, public_url: str) -> None:
    """Send the email; DeliveryError unless the mail server accepts it for every recipient."""
    recipients = list(recipients)
    if not recipients:
        raise DeliveryError("no recipient")
    mail = email_message(smtp, recipients, message, public_url)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout) as server:
            if smtp.starttls:
                server.starttls(context=ssl.create_default_context())
            if smtp.user:
                server.login(smtp.user, smtp.password)
            refused = server.send_message(mail)
    except smtplib.SMTPException as exc:
        raise DeliveryError(f"the mail server: {type(exc).__name__}: {exc}") from None
    except OSError as exc:  # refused, timed out, TLS failed
        raise DeliveryError(f"cannot reach the mail server: {_reason(exc)}", unreachable=True) from None
    if refused:
        raise DeliveryError(f"the mail server refused {', '.join(sorted(refused))}")
