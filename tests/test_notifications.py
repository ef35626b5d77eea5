"""Notifications: the outbox graph, signed webhooks and email (docs/notifications.md).

Real parts only: a webhook receiver (``http.server``) and a mail server (aiosmtpd) on loopback,
the service in this process over a store on disk, and real ``aimsgraph serve`` processes for
what must hold across a restart. The receiver checks signatures as docs/notifications.md tells
receivers to, with its own code. Backoff is shortened through the settings.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pyoxigraph as ox
import pytest
import requests
from aiosmtpd.controller import Controller
from flask import Flask

from aimsgraph import clock
from aimsgraph.auth import local_user
from aimsgraph.config import Settings
from aimsgraph.errors import ConfigError, InvalidInput
from aimsgraph.http.state import state
from aimsgraph.namespaces import LABEL, PROV, Graphs
from aimsgraph.records import notifications
from aimsgraph.store import changes
from conftest import AS_OF, free_port, serving, start_server

SECRET = "webhook-secret-for-the-tests"
TOKEN = "editor-token-for-notifications-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
AIMS = "https://w3id.org/aimsgraph/ontology#"
MB = "https://data.meridian.example/aims/"
EX = "https://example.org/notifications/"
CV_RATIO = MB + "metric/cv-selection-rate-ratio"  # lower threshold 0.8
CLAIMS_TRIAGE = MB + "system/claims-triage"  # owned by the claims owner, a role Lars Johansson holds
LARS = MB + "person/lars-johansson"
FALLBACK = "compliance@example.org"

T = TypeVar("T")


# -- the receivers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One request the webhook receiver got, and what it answered."""

    delivery: str
    kind: str
    timestamp: str
    signature: str
    body: bytes
    status: int
    at: float  # time.monotonic() on arrival

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.body)


def signed(secret: str, timestamp: str, signature: str, body: bytes, now: float) -> bool:
    """A receiver's check, as docs/notifications.md gives it: HMAC-SHA256 of the timestamp, a
    full stop and the raw body, compared in constant time, and a timestamp within 5 minutes."""
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature) and abs(now - int(timestamp)) <= 300


class Receiver:
    """A webhook on loopback: records every request; answers 500 to the kinds in ``failing``
    ("*": all), else 200."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.failing: set[str] = set()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                kind = self.headers.get("X-Aimsgraph-Event", "")
                status = 500 if {"*", kind} & receiver.failing else 200
                with receiver._lock:
                    receiver.hits.append(
                        Hit(
                            self.headers.get("X-Aimsgraph-Delivery", ""),
                            kind,
                            self.headers.get("X-Aimsgraph-Timestamp", ""),
                            self.headers.get("X-Aimsgraph-Signature", ""),
                            body,
                            status,
                            time.monotonic(),
                        )
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/aimsgraph"

    def of(self, delivery: str) -> list[Hit]:
        with self._lock:
            return [hit for hit in self.hits if hit.delivery == delivery]

    def accepted(self, kind: str | None = None) -> list[Hit]:
        with self._lock:
            return [hit for hit in self.hits if hit.status == 200 and kind in (None, hit.kind)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """The handler of the loopback mail server: keeps every message with its envelope."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def with_delivery(self, delivery: str) -> list[tuple[list[str], str]]:
        found = []
        for recipients, content in list(self.messages):
            text = content.decode("utf-8", "replace")
            if f"X-Aimsgraph-Delivery: {delivery}" in text:
                found.append((recipients, text))
        return found


def wait_for(found: Callable[[], T], timeout: float = 30) -> T:
    """``found()`` once it is truthy; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    webhook = Receiver()
    yield webhook
    webhook.close()


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture(scope="module")
def outbox_app(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver, mailbox: tuple[Mailbox, int]) -> Iterator[Flask]:
    """The demo with a webhook and a mail server configured, trying 5 times: 0.2 s apart, then
    twice as long each time, up to 0.5 s."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("outbox") / "db",
        query_timeout=5,
        tokens=(f"editor:editor:{TOKEN}",),
        webhook_urls=(receiver.url,),
        webhook_secret=SECRET,
        smtp_host="127.0.0.1",
        smtp_port=mailbox[1],
        smtp_from="aimsgraph@example.org",
        smtp_starttls=False,
        notify_emails=(FALLBACK,),
        notify_max_attempts=5,
        notify_backoff_seconds=0.2,
        notify_backoff_max_seconds=0.5,
        notify_timeout=5,
        public_url="https://aims.example.org",
    ).checked()
    with serving(settings) as app:
        yield app
        notifier = notifications.notifier_of(state(app).store)
        assert notifier is not None
        notifier.stop()


def update(app: Flask, text: str) -> None:
    """A SPARQL Update through the service, and the refresh after it."""
    response = app.test_client().post("/update", data={"update": f"PREFIX aims: <{AIMS}>\n{text}"}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert state(app).refresher.settle(60)


def sent(app: Flask) -> None:
    """Wait until no delivery is pending."""
    wait_for(lambda: app.test_client().get("/api/notifications").get_json()["counts"]["pending"] == 0)


def delivered(app: Flask, event: str) -> list[dict[str, Any]]:
    """The deliveries of a notification once none is pending (else [])."""
    listed = app.test_client().get("/api/notifications", query_string={"limit": 1000}).get_json()
    for notification in listed["notifications"]:
        if notification["id"] == event.removeprefix("urn:uuid:"):
            deliveries = notification["deliveries"]
            return deliveries if all(d["state"] != "pending" for d in deliveries) else []
    return []


# -- kept only with a destination --------------------------------------------------------------


def test_without_a_destination_nothing_is_kept_or_sent(app: Flask):
    store = state(app).store
    assert notifications.emit(store, notifications.TASK_CREATED, EX + "task") is None
    assert store.is_empty(Graphs.OUTBOX)
    listed = app.test_client().get("/api/notifications").get_json()
    assert listed == {
        "enabled": False,
        "destinations": [],
        "counts": {"pending": 0, "delivered": 0, "failed": 0},
        "notifications": [],
    }


def test_what_held_when_notifications_were_switched_on_is_not_announced(outbox_app: Flask):
    """The demo has open findings, breaches and overdue items: noted at start, not sent."""
    store = state(outbox_app).store
    kept = {q.object.value for q in store.quads(ox.NamedNode(Graphs.OUTBOX), None, None, ox.NamedNode(Graphs.OUTBOX))}
    assert {notifications.FINDING_OPENED, notifications.BREACH_OPENED, notifications.ITEM_OVERDUE} <= kept
    assert any(key.startswith(notifications.BREACH_OPENED + " ") for key in kept)
    assert any(key.startswith(notifications.ITEM_OVERDUE + " ") for key in kept)
    listed = outbox_app.test_client().get("/api/notifications").get_json()
    assert listed["enabled"] and listed["notifications"] == []
    assert listed["destinations"] == [f"webhook http://127.0.0.1:{receiver_port(outbox_app)}", "email"]


def receiver_port(app: Flask) -> int:
    return int(state(app).settings.webhook_urls[0].split(":")[2].split("/")[0])


# -- derived notifications ---------------------------------------------------------------------


def test_a_new_violation_is_announced_signed_to_the_webhook_and_by_email(
    outbox_app: Flask, receiver: Receiver, mailbox: tuple[Mailbox, int]
):
    bare = EX + "unfinished-system"
    update(outbox_app, f"INSERT DATA {{ <{bare}> a aims:AISystem }}")
    sent(outbox_app)
    hits = wait_for(
        lambda: [h for h in receiver.accepted(notifications.FINDING_OPENED) if h.document["payload"]["focus"] == bare]
    )
    assert len({h.delivery for h in hits}) == len(hits) >= 3  # one a Violation, each once
    now = clock.now().timestamp()
    for hit in hits:
        assert signed(SECRET, hit.timestamp, hit.signature, hit.body, now)
        document = hit.document
        assert document["id"] == hit.delivery and document["kind"] == hit.kind == "finding.opened"
        assert document["subject"].startswith("https://w3id.org/aimsgraph/finding/")
        assert document["payload"]["severity"] == "Violation" and document["payload"]["message"]
        assert (
            document["link"] == "https://aims.example.org/asset?iri=https%3A%2F%2Fexample.org%2Fnotifications%2Funfinished-system"
        )
    mails = wait_for(lambda: mailbox[0].with_delivery(hits[0].delivery))
    [(recipients, text)] = mails  # nobody owns the new system: the configured addresses
    assert recipients == [FALLBACK]
    assert "Subject: [aimsgraph] Finding opened: unfinished-system:" in text
    assert "https://aims.example.org/asset?iri=" in text
    assert all(d["state"] == "delivered" for d in wait_for(lambda: delivered(outbox_app, hits[0].delivery)))

    # the same findings, still open after another write, are not announced again
    update(outbox_app, f'INSERT DATA {{ <{bare}> <http://www.w3.org/2000/01/rdf-schema#label> "Unfinished" }}')
    sent(outbox_app)
    again = [h for h in receiver.accepted(notifications.FINDING_OPENED) if h.document["payload"]["focus"] == bare]
    assert sorted(h.delivery for h in again) == sorted(h.delivery for h in hits)


def test_a_threshold_breach_and_an_overdue_item_are_announced_once(outbox_app: Flask, receiver: Receiver):
    client = outbox_app.test_client()
    measured = (AS_OF - timedelta(days=1)).isoformat() + "T09:00:00Z"
    posted = client.post("/api/measurements", json=[{"metric": CV_RATIO, "value": 0.51, "measuredAt": measured}], headers=AUTH)
    assert posted.status_code == 201, posted.text
    action = EX + "overdue-action"
    overdue = (AS_OF - timedelta(days=3)).isoformat()
    update(
        outbox_app,
        f"""INSERT DATA {{ <{action}> a aims:CorrectiveAction ; <http://www.w3.org/2000/01/rdf-schema#label> "Retrain the model" ;
            aims:dueDate "{overdue}"^^<http://www.w3.org/2001/XMLSchema#date> ; aims:hasOwner <{MB}role/claims-owner> }}""",
    )
    [breach] = wait_for(lambda: [h for h in receiver.accepted("breach.opened") if h.document["payload"]["value"] == "0.51"])
    payload = breach.document["payload"]
    assert payload["metric"] == CV_RATIO and payload["direction"] == "lower" and payload["stillStands"] is True
    assert breach.document["link"] == "https://aims.example.org/due"
    [item] = wait_for(lambda: [h for h in receiver.accepted("item.overdue") if h.document["subject"] == action])
    assert item.document["payload"]["due"] == overdue and item.document["payload"]["owner"] == [MB + "role/claims-owner"]

    update(outbox_app, f'INSERT DATA {{ <{action}> <http://www.w3.org/2000/01/rdf-schema#comment> "started" }}')
    sent(outbox_app)
    assert [h.delivery for h in receiver.accepted("item.overdue") if h.document["subject"] == action] == [item.delivery]


# -- emitted notifications ---------------------------------------------------------------------


def test_email_reaches_the_owner_the_record_names(outbox_app: Flask, receiver: Receiver, mailbox: tuple[Mailbox, int]):
    store = state(outbox_app).store  # the demo gives Lars Johansson foaf:mbox <mailto:lars.johansson@meridian.example>
    event = notifications.emit(
        store, notifications.TASK_CREATED, CLAIMS_TRIAGE, {"summary": "Re-assess the claims triage risks"}, page="/my-work"
    )
    assert event is not None and event.startswith("urn:uuid:")
    [(recipients, text)] = wait_for(lambda: mailbox[0].with_delivery(event.removeprefix("urn:uuid:")))
    assert recipients == ["lars.johansson@meridian.example"]  # the system's owner is a role; Lars holds it
    assert "Subject: [aimsgraph] New task: Re-assess the claims triage risks" in text
    assert "Open: https://aims.example.org/my-work" in text
    [hit] = wait_for(lambda: receiver.of(event.removeprefix("urn:uuid:")))
    assert hit.kind == "task.created" and hit.document["payload"] == {"summary": "Re-assess the claims triage risks"}

    nobody = notifications.emit(store, notifications.APPROVAL_RECORDED, CLAIMS_TRIAGE, owners=[])
    assert nobody is not None
    [(recipients, _)] = wait_for(lambda: mailbox[0].with_delivery(nobody.removeprefix("urn:uuid:")))
    assert recipients == [FALLBACK]


def test_a_malformed_kind_or_subject_is_refused(outbox_app: Flask):
    store = state(outbox_app).store
    with pytest.raises(InvalidInput, match="kind"):
        notifications.emit(store, "Task Created", CLAIMS_TRIAGE)
    with pytest.raises(InvalidInput, match="absolute IRI"):
        notifications.emit(store, notifications.TASK_CREATED, "claims triage")


def test_failed_sends_back_off_and_then_give_up(outbox_app: Flask, receiver: Receiver):
    receiver.failing.add("test.backoff")
    event = notifications.emit(state(outbox_app).store, "test.backoff", EX + "backoff")
    assert event is not None
    deliveries = {d["destination"].split()[0]: d for d in wait_for(lambda: delivered(outbox_app, event))}
    webhook = deliveries["webhook"]
    assert webhook["state"] == "failed" and webhook["attempts"] == 5 and webhook["lastError"] == "HTTP 500"
    assert deliveries["email"]["state"] == "delivered"  # each destination keeps its own state
    hits = receiver.of(event.removeprefix("urn:uuid:"))
    assert [h.status for h in hits] == [500] * 5
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(hits)]
    assert 0.15 < gaps[0] < gaps[1] - 0.1  # 0.2 s, then 0.4 s ...
    assert (
        gaps[2] > 0.45 and gaps[3] < 1.0
    )  # ... then 0.5 s twice: capped (AIMSGRAPH_NOTIFY_BACKOFF_MAX_SECONDS), not 0.8 and 1.6
    failed = outbox_app.test_client().get("/api/notifications", query_string={"state": "failed"}).get_json()
    assert [n["id"] for n in failed["notifications"]] == [event.removeprefix("urn:uuid:")]
    assert failed["counts"]["failed"] == 1


def test_a_bad_signature_is_detected(outbox_app: Flask, receiver: Receiver):
    event = notifications.emit(state(outbox_app).store, notifications.TASK_CREATED, EX + "signed", {"summary": "signed"})
    assert event is not None
    [hit] = wait_for(lambda: receiver.of(event.removeprefix("urn:uuid:")))
    now = clock.now().timestamp()
    assert signed(SECRET, hit.timestamp, hit.signature, hit.body, now)
    assert notifications.verify(SECRET, hit.timestamp, hit.signature, hit.body, now)
    tampered = hit.body.replace(b"signed", b"forged")
    later = str(int(hit.timestamp) + 1)
    for secret, timestamp, body, at in (
        ("another-secret", hit.timestamp, hit.body, now),  # not signed by us
        (SECRET, hit.timestamp, tampered, now),  # the body changed on the way
        (SECRET, later, hit.body, now),  # the timestamp changed: it is signed too
        (SECRET, hit.timestamp, hit.body, now + 600),  # replayed ten minutes later
    ):
        assert not signed(secret, timestamp, hit.signature, body, at)
        assert not notifications.verify(secret, timestamp, hit.signature, body, at)


def test_a_notification_of_a_change_waits_for_its_commit_and_goes_with_an_undone_one(outbox_app: Flask, receiver: Receiver):
    store = state(outbox_app).store
    subject = ox.NamedNode(EX + "approval")
    delta = changes.Delta(added={ox.Quad(subject, LABEL, ox.Literal("approved"), ox.NamedNode(Graphs.DATA))})
    emitted: list[str | None] = []

    def refused() -> None:
        emitted.append(notifications.emit(store, notifications.APPROVAL_RECORDED, subject.value, {"summary": "refused"}))
        raise RuntimeError("refused after the notification was written")

    with pytest.raises(RuntimeError):
        changes.commit(store, delta, "approve", local_user(), before_commit=refused)
    change = changes.commit(
        store,
        delta,
        "approve",
        local_user(),
        before_commit=lambda: emitted.append(notifications.emit(store, notifications.APPROVAL_RECORDED, subject.value)),
    )
    assert change is not None
    undone, kept = emitted
    assert undone and kept
    [hit] = wait_for(lambda: receiver.of(kept.removeprefix("urn:uuid:")))
    assert hit.status == 200
    cause = ox.Quad(
        ox.NamedNode(kept), ox.NamedNode(PROV + "wasGeneratedBy"), ox.NamedNode(change.iri), ox.NamedNode(Graphs.OUTBOX)
    )
    assert store.contains(cause)
    wait_for(lambda: notifications.read_message(store, ox.NamedNode(undone)) is None)
    assert receiver.of(undone.removeprefix("urn:uuid:")) == []


# -- across a restart --------------------------------------------------------------------------


def test_each_notification_reaches_the_webhook_once_across_restarts(tmp_path: Path, receiver: Receiver):
    """Pending when the service stops, sent after it starts again, and never sent twice."""
    env = {
        "AIMSGRAPH_WEBHOOK_URLS": receiver.url,
        "AIMSGRAPH_WEBHOOK_SECRET": SECRET,
        "AIMSGRAPH_NOTIFY_BACKOFF_SECONDS": "0.2",
        "AIMSGRAPH_NOTIFY_BACKOFF_MAX_SECONDS": "0.4",
        "AIMSGRAPH_NOTIFY_MAX_ATTEMPTS": "1000",
        "AIMSGRAPH_TOKENS": f"editor:editor:{TOKEN}",
        "AIMSGRAPH_QUERY_WORKERS": "1",
    }
    data_dir = tmp_path / "db"
    receiver.failing.add("*")
    try:
        first = start_server(data_dir, **env)
        try:
            bare = EX + "restarted-system"
            inserted = requests.post(
                first.url + "/update", data={"update": f"INSERT DATA {{ <{bare}> a <{AIMS}AISystem> }}"}, headers=AUTH, timeout=30
            )
            assert inserted.status_code == 200, inserted.text

            def tried_twice() -> list[str]:
                listed = requests.get(first.url + "/api/notifications", timeout=30).json()["notifications"]
                ids = [n["id"] for n in listed]
                return ids if ids and all(len(receiver.of(i)) >= 2 for i in ids) else []

            ids = wait_for(tried_twice)
        finally:
            first.stop()
    finally:
        receiver.failing.discard("*")
    assert all(hit.status == 500 for i in ids for hit in receiver.of(i))

    second = start_server(data_dir, **env)
    try:
        wait_for(lambda: all(any(h.status == 200 for h in receiver.of(i)) for i in ids))
        counts = wait_for(lambda: requests.get(second.url + "/api/notifications", timeout=30).json()["counts"]["pending"] == 0)
        assert counts
    finally:
        second.stop()
    for i in ids:
        assert [h.status for h in receiver.of(i) if h.status == 200] == [200]  # delivered once
        assert signed(
            SECRET, receiver.of(i)[-1].timestamp, receiver.of(i)[-1].signature, receiver.of(i)[-1].body, clock.now().timestamp()
        )

    requests_so_far = len(receiver.hits)
    with serving(Settings.from_env(env, data_dir=data_dir)) as third:
        time.sleep(1.0)  # a dispatcher round at start, and more than one backoff period
        listed = third.test_client().get("/api/notifications").get_json()
        notifier = notifications.notifier_of(state(third).store)
        assert notifier is not None
        notifier.stop()
    assert listed["counts"] == {"pending": 0, "delivered": len(ids), "failed": 0}
    assert len(receiver.hits) == requests_so_far  # nothing delivered went out again


# -- configuration -----------------------------------------------------------------------------


def test_settings_that_cannot_work_are_refused(tmp_path: Path):
    with pytest.raises(ConfigError, match="SECRET"):
        Settings(webhook_urls=("https://hooks.example.org/x",)).checked()
    with pytest.raises(ConfigError, match="http") as refused:
        Settings(webhook_urls=("ftp://hooks.example.org/token-in-path",), webhook_secret="s").checked()
    assert "token-in-path" not in str(refused.value)  # a URL may hold a token: never echoed
    with pytest.raises(ConfigError, match="AIMSGRAPH_SMTP_FROM"):
        Settings(smtp_host="mail.example.org").checked()
    with pytest.raises(ConfigError, match="AIMSGRAPH_NOTIFY_EMAILS"):
        Settings(smtp_host="mail.example.org", smtp_from="a@example.org", notify_emails=("nobody",)).checked()
    with pytest.raises(ConfigError, match="BACKOFF_MAX"):
        Settings(notify_backoff_seconds=10, notify_backoff_max_seconds=1).checked()
    missing = Settings(webhook_urls=("https://hooks.example.org/x",), webhook_secret_file=tmp_path / "absent").checked()
    with pytest.raises(ConfigError, match="AIMSGRAPH_WEBHOOK_SECRET_FILE"):
        notifications.Config.from_settings(missing)
    (tmp_path / "secret").write_text("from-a-file\n")
    config = notifications.Config.from_settings(
        Settings(webhook_urls=("https://hooks.example.org/x?token=abc",), webhook_secret_file=tmp_path / "secret").checked()
    )
    assert config is not None and config.secret == "from-a-file"
    assert config.shown(next(iter(config.webhooks))) == "webhook https://hooks.example.org"
    assert notifications.Config.from_settings(Settings()) is None


def test_sent_notifications_are_pruned_after_the_days_kept(outbox_app: Flask, receiver: Receiver):
    store = state(outbox_app).store
    old, recent = (notifications.emit(store, notifications.TASK_CREATED, EX + name) for name in ("old", "recent"))
    assert old is not None and recent is not None
    wait_for(lambda: delivered(outbox_app, old) and delivered(outbox_app, recent))
    outbox, created = ox.NamedNode(Graphs.OUTBOX), ox.NamedNode(PROV + "generatedAtTime")
    stamp = next(store.quads(ox.NamedNode(old), created, None, outbox))
    long_ago = (clock.now() - timedelta(days=91)).isoformat()  # AIMSGRAPH_NOTIFY_KEEP_DAYS is 90
    with store.write_lock(counted=False):  # as if it had been sent 91 days ago
        store.replace_quads(
            remove=[stamp], add=[ox.Quad(stamp.subject, created, ox.Literal(long_ago, datatype=stamp.object.datatype), outbox)]
        )
    notifier = notifications.notifier_of(store)
    assert notifier is not None and notifier.prune() == 1
    assert not any(store.quads(ox.NamedNode(old), None, None, outbox))
    assert not any(store.quads(None, None, ox.NamedNode(old), outbox))  # its deliveries went with it
    assert notifications.read_message(store, ox.NamedNode(recent)) is not None
