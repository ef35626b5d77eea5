"""Approvals as PROV activities: risk acceptance by the risk owner (6.1.3), the Statement of
Applicability and the AI policy approved by top management (6.1.3, 5.2), and the sign-off of a
planned change after its impact analysis (6.3).

An approval records who approved what, when, and on which version of the record (the number of
the last change in the audit trail), with a copy of what the record then said of the approved
thing (and, for the SoA, of its entries) as reified statements. :func:`approval_delta` refuses
an approval while the approved thing has open Violations; the shapes in ``shapes/approvals.ttl``
ask for a new approval once the record of the thing has changed since.

May import: base modules, store, semantics.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import pyoxigraph as ox

from aimsgraph import clock
from aimsgraph.auth import Principal
from aimsgraph.errors import Forbidden, InvalidInput, NotFound, ValidationRejected
from aimsgraph.namespaces import AIMS, APPROVAL_BASE, PROV, RDF, RDF_TYPE, TYPE, XSD, Graphs, is_absolute_iri
from aimsgraph.records import notifications
from aimsgraph.semantics.validation import Finding, validate_store
from aimsgraph.store import GraphStore
from aimsgraph.store.changes import Delta, last_sequence
from aimsgraph.store.record import Record, person_of_account


@dataclass(frozen=True)
class Kind:
    """A kind of approval: its class, what it approves, and the role that may give it."""

    key: str
    cls: str
    label: str
    approves: str  # the class of the approved thing
    role: str  # editor: the owner of a risk or change; admin: top management


KINDS = {
    k.key: k
    for k in (
        Kind("risk-acceptance", AIMS + "RiskAcceptance", "risk acceptance", AIMS + "Risk", "editor"),  # the risk owner's
        Kind("soa", AIMS + "SoAApproval", "Statement of Applicability approval", AIMS + "StatementOfApplicability", "admin"),
        Kind("policy", AIMS + "PolicyApproval", "AI policy approval", AIMS + "AIPolicy", "admin"),
        Kind("change", AIMS + "ChangeSignOff", "change sign-off", AIMS + "PlannedChange", "editor"),
    )
}
#: What an approval of these classes also covers: the SoA's entries.
PARTS = {AIMS + "StatementOfApplicability": AIMS + "hasEntry"}


@dataclass(frozen=True)
class Approval:
    """An approval: ``current`` while it is the latest and the thing has not changed since."""

    iri: str
    kind: str
    about: str
    account: str
    ended: str
    at_change: int
    current: bool  # the latest approval of its thing, and the thing has not changed since


def kind_for(store: GraphStore, about: str) -> Kind:
    """The kind of approval the thing ``about`` takes; NotFound when it takes none."""
    types = set(Record(store).objects(about, RDF_TYPE))
    for kind in KINDS.values():
        if kind.approves in types:
            return kind
    raise NotFound(f"<{about}> is no risk, Statement of Applicability, AI policy or planned change of the record")


def covered(store: GraphStore, about: str) -> list[str]:
    """The nodes an approval of ``about`` covers: the thing, and its parts (the SoA's entries)."""
    nodes = [about]
    for cls, part in PARTS.items():
        if cls in Record(store).objects(about, RDF_TYPE):
            nodes += Record(store).objects(about, part)
    return nodes


def blocking(store: GraphStore, about: str) -> list[Finding]:
    """The open Violations that stop an approval of ``about``."""
    return [f for f in validate_store(store, clock.today(), covered(store, about)) if f.severity == "Violation"]


def approval_delta(store: GraphStore, kind: Kind, about: str, approver: Principal, now: datetime | None = None) -> Delta:
    """The change that records ``approver``'s approval of ``about`` as of now. InvalidInput for
    something of another kind; ValidationRejected while it has open Violations."""
    if not is_absolute_iri(about):
        raise InvalidInput(f"{about!r} is not an IRI")
    if kind_for(store, about) != kind:
        raise InvalidInput(f"a {kind.label} approves a {Record(store).label(kind.approves)}, not <{about}>")
    violations = blocking(store, about)
    if violations:
        raise ValidationRejected(f"<{about}> has {len(violations)} open Violation(s): fix them before approving", violations)
    if kind.key == "risk-acceptance" and approver.role != "admin":  # top management may stand in
        _require_risk_owner(store, about, approver)
    now = (now or clock.now()).replace(microsecond=0)
    node, graph = ox.NamedNode(f"{APPROVAL_BASE}{uuid.uuid4()}"), ox.NamedNode(Graphs.DATA)
    quads = {
        ox.Quad(node, TYPE, ox.NamedNode(kind.cls), graph),
        ox.Quad(node, ox.NamedNode(AIMS + "approves"), ox.NamedNode(about), graph),
        ox.Quad(node, ox.NamedNode(AIMS + "approverAccount"), ox.Literal(approver.name), graph),
        ox.Quad(
            node, ox.NamedNode(PROV + "endedAtTime"), ox.Literal(now.isoformat(), datatype=ox.NamedNode(XSD + "dateTime")), graph
        ),
        ox.Quad(
            node,
            ox.NamedNode(AIMS + "approvedAtChange"),
            ox.Literal(str(last_sequence(store)), datatype=ox.NamedNode(XSD + "integer")),
            graph,
        ),
    }
    for number, statement in enumerate(_statements(store, about), 1):
        copy = ox.NamedNode(f"{node.value}/statement/{number}")
        quads |= {
            ox.Quad(node, ox.NamedNode(AIMS + "approvedStatement"), copy, graph),
            ox.Quad(copy, TYPE, ox.NamedNode(RDF + "Statement"), graph),
            ox.Quad(copy, ox.NamedNode(RDF + "subject"), statement.subject, graph),
            ox.Quad(copy, ox.NamedNode(RDF + "predicate"), statement.predicate, graph),
            ox.Quad(copy, ox.NamedNode(RDF + "object"), statement.object, graph),
        }
    return Delta(added=quads)


def _require_risk_owner(store: GraphStore, risk: str, approver: Principal) -> None:
    """Forbidden unless the approver's login is the risk owner's, or that of a person who holds
    the role that owns the risk (``aims:accountName``, ``aims:heldBy``)."""
    record = Record(store)
    owners = record.objects(risk, AIMS + "hasRiskOwner")
    person = person_of_account(store, approver.name)
    if person is None or not any(o == person or person in record.objects(o, AIMS + "heldBy") for o in owners):
        names = ", ".join(record.label(o) for o in owners) or "nobody: the risk names no owner"
        raise Forbidden(f"a risk acceptance is the risk owner's to give ({names}); {approver.name} is not the risk owner")


def announce(store: GraphStore, kind: Kind, about: str, approver: Principal) -> None:
    """Keep the notification of an approval (call it in the commit's write section)."""
    record = Record(store)
    summary = f"{approver.name} recorded a {kind.label} of {record.label(about)}"
    notifications.emit(
        store,
        "approval.recorded",
        about,
        {"summary": summary, "kind": kind.key, "approver": approver.name},
        page="/approvals?about=" + quote(about, safe=""),
    )


def _statements(store: GraphStore, about: str) -> list[ox.Quad]:
    """What the data graph says of the approved thing and its parts (links to approvals aside)."""
    graph = ox.NamedNode(Graphs.DATA)
    return sorted(
        (
            q
            for n in covered(store, about)
            for q in store.quads(ox.NamedNode(n), None, None, graph)
            if not isinstance(q.object, ox.Triple)
        ),
        key=str,
    )


def approvals(store: GraphStore, about: str) -> list[Approval]:
    """The approvals of ``about``, latest first; only the latest can be current, and only while
    the record says of the thing what it said when it was approved."""
    rows = store.query(f"""
        SELECT ?a ?cls ?account ?ended ?change WHERE {{
            ?a <{AIMS}approves> <{about}> ; a ?cls ; <{PROV}endedAtTime> ?ended .
            VALUES ?cls {{ {" ".join(f"<{k.cls}>" for k in KINDS.values())} }}
            OPTIONAL {{ ?a <{AIMS}approverAccount> ?account }}
            OPTIONAL {{ ?a <{AIMS}approvedAtChange> ?change }}
        }} ORDER BY DESC(?ended) DESC(?change)""")
    found: list[Approval] = []
    by_class = {k.cls: k.key for k in KINDS.values()}
    for row in rows:
        iri = row["a"].value
        found.append(
            Approval(
                iri,
                by_class[row["cls"].value],
                about,
                row["account"].value if row["account"] is not None else "",
                row["ended"].value,
                int(row["change"].value) if row["change"] is not None else 0,
                current=not found and _unchanged(store, iri, about),
            )
        )
    return found


def _unchanged(store: GraphStore, approval: str, about: str) -> bool:
    approved = set()
    for copy in Record(store).objects(approval, AIMS + "approvedStatement"):
        parts = [
            next(iter(store.quads(ox.NamedNode(copy), ox.NamedNode(RDF + p), None, None)), None)
            for p in ("subject", "predicate", "object")
        ]
        if all(parts):
            approved.add(tuple(q.object for q in parts if q is not None))
    now = {(q.subject, q.predicate, q.object) for q in _statements(store, about)}
    return approved == now
