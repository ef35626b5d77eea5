"""The write path and the audit trail (ISO/IEC 42001 7.5: documented information is controlled).

Every change to the record (a SPARQL Update, a Graph Store Protocol request, a spreadsheet import,
a CLI load) is first computed as an exact :class:`Delta`: the quads it removes, which are there,
and the quads it adds, which are not. :func:`commit` then

1. writes the change as a PROV activity in the changes graph, with the delta's quads;
2. applies the removals and additions;
3. runs the optional gate (the validation gate), which may refuse the change;
4. marks the activity committed.

A caller answers 2xx only after step 4. A process that dies before step 4 leaves an activity
that is not marked committed, and :func:`recover` (run whenever the store is opened for writing)
undoes its delta and removes it: a write is applied completely or not at all. Because every
activity keeps the quads it removed and added, the record as it was at a past time can be rebuilt
(:func:`state_at`) and two times compared (:func:`diff`).
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote

import pyoxigraph as ox

from aimsgraph import clock
from aimsgraph.auth import SERVICE_GRAPHS, Principal, local_user
from aimsgraph.errors import InvalidInput
from aimsgraph.namespaces import AIMS, ENDED_AT, LABEL, PROV, RDFS, TYPE, XSD, XSD_BOOLEAN, XSD_DATETIME, Graphs
from aimsgraph.store import GraphStore, serialize_quads
from aimsgraph.store.record import graph_of

CHANGES = ox.NamedNode(Graphs.CHANGES)
CHANGE_CLASS = ox.NamedNode(AIMS + "RecordChange")
COMMITTED = ox.NamedNode(AIMS + "changeCommitted")
ASSOCIATED = ox.NamedNode(PROV + "wasAssociatedWith")
ADDED_QUADS = ox.NamedNode(AIMS + "addedQuads")
REMOVED_QUADS = ox.NamedNode(AIMS + "removedQuads")
TRIPLES_ADDED = ox.NamedNode(AIMS + "triplesAdded")
QUADS_RECORDED = ox.NamedNode(AIMS + "quadsRecorded")
#: Who the trail names for what aimsgraph does by itself (first start, reference updates).
SERVICE = Principal("aimsgraph", "admin")
TRUE = ox.Literal("true", datatype=ox.NamedNode(XSD_BOOLEAN))


@dataclass
class Delta:
    """What a write does: quads removed (present before) and quads added (absent before)."""

    removed: set[ox.Quad] = field(default_factory=set)
    added: set[ox.Quad] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.removed or self.added)

    def then(self, removed: Iterable[ox.Quad], added: Iterable[ox.Quad]) -> None:
        """Compose with a later change: its removals, then its additions."""
        for quad in removed:
            if quad in self.added:
                self.added.discard(quad)
            else:
                self.removed.add(quad)
        for quad in added:
            if quad in self.removed:
                self.removed.discard(quad)
            else:
                self.added.add(quad)

    def graphs(self) -> set[str]:
        return {graph_of(q) for q in self.removed | self.added}

    def subjects(self) -> set[str]:
        return {q.subject.value for q in self.removed | self.added if isinstance(q.subject, ox.NamedNode)}

    def exact(self, store: GraphStore) -> Delta:
        """This delta without removals of absent quads, additions of present ones, and quads
        both removed and added (they stay as they are)."""
        return Delta(
            {q for q in self.removed - self.added if store.contains(q)},
            {q for q in self.added - self.removed if not store.contains(q)},
        )


def upsert(
    store: GraphStore, quads: Iterable[ox.Quad], replaced: Iterable[tuple[ox.NamedNode, ox.NamedNode]], graph: str = Graphs.DATA
) -> Delta:
    """The change that adds ``quads`` and drops the other values that the (subject, predicate)
    pairs in ``replaced`` have in ``graph`` (an import that is authoritative for them)."""
    new, name = set(quads), ox.NamedNode(graph)
    old = {q for s, p in replaced for q in store.quads(s, p, None, name)}
    return Delta(removed=old - new, added=new)


class Gate(Protocol):
    """A check a commit must pass: ``before`` sees the store without the change, ``after``
    with it (not yet committed) and raises to refuse it."""

    def before(self, quads: Iterable[ox.Quad]) -> None: ...

    def after(self, quads: Iterable[ox.Quad]) -> None: ...


@dataclass(frozen=True)
class Change:
    """A committed write, as the history reports it."""

    iri: str
    sequence: int
    operation: str
    agent: str
    role: str
    started: datetime
    ended: datetime
    graphs: tuple[str, ...]
    added: int
    removed: int
    quads_recorded: bool = True
    delta: Delta = field(default_factory=Delta, repr=False, compare=False)  # as committed

    def as_dict(self) -> dict[str, object]:
        return {
            "change": self.iri,
            "sequence": self.sequence,
            "operation": self.operation,
            "agent": self.agent,
            "role": self.role,
            "started": self.started.isoformat(),
            "ended": self.ended.isoformat(),
            "graphs": list(self.graphs),
            "added": self.added,
            "removed": self.removed,
            "quadsRecorded": self.quads_recorded,
        }


def commit(
    store: GraphStore,
    delta: Delta,
    operation: str,
    agent: Principal,
    *,
    text: str | None = None,
    gate: Gate | None = None,
    before_commit: Callable[[], None] | None = None,
    day_only: bool = False,
) -> Change | None:
    """Apply ``delta`` atomically and record it in the changes graph; None if it changes nothing.

    ``day_only`` records the day, not the time, of the change (an anonymous report: its exact
    time could tell who sent it).

    ``gate.after`` runs after the delta is applied and before it is committed: whatever it
    raises undoes the change and propagates. ``before_commit`` runs after the gate passed (to
    mark derived graphs stale: a refused change leaves them current).
    """
    with store.write_lock():
        delta = delta.exact(store)
        if not delta:
            return None
        if gate is not None:
            gate.before(delta.removed | delta.added)
        activity = ox.NamedNode(f"urn:uuid:{uuid.uuid4()}")
        sequence, started = _next_sequence(store), _now(day_only)
        store.replace_quads(remove=[], add=_journal(activity, sequence, operation, agent, started, delta, text))
        try:
            store.replace_quads(remove=delta.removed, add=delta.added)
            if gate is not None:
                gate.after(delta.removed | delta.added)
            if before_commit is not None:
                before_commit()
        except BaseException:
            _undo(store, activity, delta)
            raise
        ended = _now(day_only)
        store.replace_quads(
            remove=[], add=[ox.Quad(activity, ENDED_AT, _time(ended), CHANGES), ox.Quad(activity, COMMITTED, TRUE, CHANGES)]
        )
    return Change(
        activity.value,
        sequence,
        operation,
        agent.name,
        agent.role,
        started,
        ended,
        tuple(sorted(delta.graphs())),
        len(delta.added),
        len(delta.removed),
        delta=delta,
    )


def _now(day_only: bool = False) -> datetime:
    now = clock.now()
    return now.replace(hour=0, minute=0, second=0, microsecond=0) if day_only else now


def local_writer(store: GraphStore, operation: str) -> Callable[[Delta], Change | None]:
    """Commit a change as the local user (the CLI, library use), without refreshing anything."""
    return lambda delta: commit(store, delta, operation, local_user())


def record(store: GraphStore, operation: str, agent: Principal, graph: str, added: int | set[ox.Quad]) -> Change:
    """Record a write that was applied outside :func:`commit` (first start, the bulk loader):
    the quads it added when given, else only their number, and then times before it cannot be
    rebuilt from the trail."""
    recorded = not isinstance(added, int)
    delta = Delta(added=set() if isinstance(added, int) else added)
    count = added if isinstance(added, int) else len(added)
    activity = ox.NamedNode(f"urn:uuid:{uuid.uuid4()}")
    with store.write_lock():
        sequence, now = _next_sequence(store), clock.now()
        quads = [
            q
            for q in _journal(activity, sequence, operation, agent, now, delta, None, graphs={graph})
            if q.predicate != TRIPLES_ADDED
        ]
        quads += [
            ox.Quad(activity, TRIPLES_ADDED, _integer(count), CHANGES),
            ox.Quad(activity, QUADS_RECORDED, _boolean(recorded), CHANGES),
            ox.Quad(activity, ENDED_AT, _time(now), CHANGES),
            ox.Quad(activity, COMMITTED, TRUE, CHANGES),
        ]
        store.replace_quads(remove=[], add=quads)
    return Change(activity.value, sequence, operation, agent.name, agent.role, now, now, (graph,), count, 0, recorded)


def initialise(store: GraphStore, demo: bool) -> bool:
    """``store.initialise`` (reference graphs up to date, the demo into an empty store), with
    what it did recorded in the trail: the demo's triples, the reference graphs' sizes. True if
    anything changed."""
    actions = store.initialise(demo=demo)
    # counted once, before the trail is written (which changes no graph counted here): each
    # record is a write, and graph_sizes would count every graph again after it
    sizes = store.graph_sizes() if "loaded" in actions.values() else {}
    for graph, action in actions.items():
        if action == "loaded demo":
            record(store, "load-demo", SERVICE, graph, set(store.quads(None, None, None, ox.NamedNode(graph))))
        elif action != "up to date":
            record(store, "reference-sync", SERVICE, graph, sizes[graph])
    return any(action != "up to date" for action in actions.values())


def recover(store: GraphStore) -> list[str]:
    """Undo the writes that were journalled but never committed (the process died); returns
    their activity IRIs."""
    undone = []
    for activity in _activities(store, committed=False):
        _undo(store, activity, _recorded_delta(store, activity))
        undone.append(activity.value)
    return undone


# -- reading the trail -----------------------------------------------------------------------


def history(
    store: GraphStore,
    since: datetime | None = None,
    until: datetime | None = None,
    resource: str | None = None,
) -> list[Change]:
    """Committed changes in order, ended after ``since`` and at or before ``until``, optionally
    only those that changed triples about ``resource``."""
    about = f"?change <{AIMS}changedResource> <{resource}> ." if resource else ""
    rows = store.query(f"""
        PREFIX prov: <{PROV}> PREFIX aims: <{AIMS}> PREFIX rdfs: <{RDFS}>
        SELECT ?change ?n ?op ?name ?role ?start ?end ?added ?removed ?recorded
               (GROUP_CONCAT(STR(?g); SEPARATOR=" ") AS ?graphs)
        WHERE {{ GRAPH <{Graphs.CHANGES}> {{
          ?change a aims:RecordChange ; aims:changeCommitted true ; aims:sequenceNumber ?n ;
            aims:changeOperation ?op ; aims:agentRole ?role ; prov:startedAtTime ?start ;
            prov:endedAtTime ?end ; aims:triplesAdded ?added ; aims:triplesRemoved ?removed ;
            prov:wasAssociatedWith/rdfs:label ?name .
          OPTIONAL {{ ?change aims:changedGraph ?g }}
          OPTIONAL {{ ?change aims:quadsRecorded ?recorded }}
          {about} }} }}
        GROUP BY ?change ?n ?op ?name ?role ?start ?end ?added ?removed ?recorded ORDER BY ?n""")
    changes = []
    for row in rows:
        ended = parse_time(row["end"].value)
        if (since is not None and ended <= since) or (until is not None and ended > until):
            continue
        recorded = row["recorded"] is None or row["recorded"].value == "true"
        changes.append(
            Change(
                row["change"].value,
                int(row["n"].value),
                row["op"].value,
                row["name"].value,
                row["role"].value,
                parse_time(row["start"].value),
                ended,
                tuple(row["graphs"].value.split()),
                int(row["added"].value),
                int(row["removed"].value),
                recorded,
            )
        )
    return changes


def diff(store: GraphStore, since: datetime | None, until: datetime | None, graphs: Iterable[str] | None = None) -> Delta:
    """What changed between two times, in ``graphs`` (all when None): the net effect of the
    changes ended in (since, until]."""
    wanted = None if graphs is None else set(graphs)
    net = Delta()
    for change in history(store, since, until):
        if wanted is not None and not wanted & set(change.graphs):
            continue
        if not change.quads_recorded:
            raise InvalidInput(
                f"change {change.iri} ({change.operation}, {change.ended.isoformat()}) did not keep its "
                "triples (a bulk load); the record cannot be compared across it"
            )
        recorded = _recorded_delta(store, ox.NamedNode(change.iri))
        net.then(_within(recorded.removed, wanted), _within(recorded.added, wanted))
    return net


def _within(quads: set[ox.Quad], graphs: set[str] | None) -> set[ox.Quad]:
    return quads if graphs is None else {q for q in quads if graph_of(q) in graphs}


def state_at(store: GraphStore, when: datetime, graphs: Iterable[str]) -> set[ox.Quad]:
    """The quads of ``graphs`` as they were at ``when``: today's, with every later change undone.
    The graphs aimsgraph derives or keeps itself are not journalled and have no past."""
    graphs = set(graphs)
    if unjournalled := graphs & SERVICE_GRAPHS:
        raise InvalidInput(f"<{min(unjournalled)}> is derived or kept by aimsgraph, not journalled: it has no history")
    later = diff(store, when, None, graphs)
    now = {q for g in graphs for q in store.quads(None, None, None, ox.NamedNode(g))}
    return (now - later.added) | later.removed


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or date-time; UTC when no offset is given. InvalidInput otherwise."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{text!r} is not an ISO 8601 date or date-time (e.g. 2026-11-26T14:30:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- journal ---------------------------------------------------------------------------------


def _journal(
    activity: ox.NamedNode,
    sequence: int,
    operation: str,
    agent: Principal,
    started: datetime,
    delta: Delta,
    text: str | None,
    graphs: set[str] | None = None,
) -> list[ox.Quad]:
    agent_iri = ox.NamedNode("urn:aimsgraph:agent:" + quote(agent.name, safe=""))

    def quad(s: ox.NamedNode, p: str, o: ox.NamedNode | ox.Literal) -> ox.Quad:
        return ox.Quad(s, ox.NamedNode(p), o, CHANGES)

    quads = [
        quad(activity, TYPE.value, CHANGE_CLASS),
        quad(activity, TYPE.value, ox.NamedNode(PROV + "Activity")),
        quad(activity, AIMS + "sequenceNumber", _integer(sequence)),
        quad(activity, AIMS + "changeOperation", ox.Literal(operation)),
        quad(activity, ASSOCIATED.value, agent_iri),
        quad(activity, AIMS + "agentRole", ox.Literal(agent.role)),
        quad(activity, PROV + "startedAtTime", _time(started)),
        quad(activity, TRIPLES_ADDED.value, _integer(len(delta.added))),
        quad(activity, AIMS + "triplesRemoved", _integer(len(delta.removed))),
        quad(activity, ADDED_QUADS.value, _nquads(delta.added)),
        quad(activity, REMOVED_QUADS.value, _nquads(delta.removed)),
        quad(agent_iri, TYPE.value, ox.NamedNode(PROV + "Agent")),
        quad(agent_iri, LABEL.value, ox.Literal(agent.name)),
    ]
    quads += [quad(activity, AIMS + "changedGraph", ox.NamedNode(g)) for g in sorted(graphs or delta.graphs())]
    quads += [quad(activity, AIMS + "changedResource", ox.NamedNode(s)) for s in sorted(delta.subjects())]
    if text is not None:
        quads.append(quad(activity, AIMS + "requestText", ox.Literal(text)))
    return quads


def _undo(store: GraphStore, activity: ox.NamedNode, delta: Delta) -> None:
    """Reverse an uncommitted delta and drop its journal entry (and its agent, if no other
    change names it)."""
    with store.write_lock():
        store.replace_quads(
            remove=[q for q in delta.added if store.contains(q)], add=[q for q in delta.removed if not store.contains(q)]
        )
        entry = list(store.quads(activity, None, None, CHANGES))
        # the trail's agents are IRIs (see _journal)
        agents = {q.object for q in entry if q.predicate == ASSOCIATED and isinstance(q.object, ox.NamedNode)}
        store.replace_quads(remove=entry, add=[])
        orphans = [
            q
            for agent in agents
            if next(store.quads(None, ASSOCIATED, agent, CHANGES), None) is None
            for q in store.quads(agent, None, None, CHANGES)
        ]
        store.replace_quads(remove=orphans, add=[])


def _recorded_delta(store: GraphStore, activity: ox.NamedNode) -> Delta:
    def quads(prop: ox.NamedNode) -> set[ox.Quad]:
        found = next(store.quads(activity, prop, None, CHANGES), None)
        if found is None:
            return set()
        assert isinstance(found.object, ox.Literal)  # N-Quads text (see _nquads)
        return set(ox.parse(found.object.value, format=ox.RdfFormat.N_QUADS))

    return Delta(quads(REMOVED_QUADS), quads(ADDED_QUADS))


def _activities(store: GraphStore, committed: bool) -> list[ox.NamedNode]:
    found = []
    for quad in store.quads(None, TYPE, CHANGE_CLASS, CHANGES):
        activity = quad.subject
        assert isinstance(activity, ox.NamedNode)  # a change is named by its urn:uuid IRI (see record)
        is_committed = any(True for _ in store.quads(activity, COMMITTED, None, CHANGES))
        if is_committed == committed:
            found.append(activity)
    return found


#: The last sequence number handed out, per open store (read from the trail once, then counted).
_LAST_SEQUENCE: weakref.WeakKeyDictionary[GraphStore, int] = weakref.WeakKeyDictionary()


def last_sequence(store: GraphStore) -> int:
    """The number of the last committed change: the version of the record as it stands (0 for
    a record with no change yet)."""
    rows = store.query(f"""SELECT (MAX(?n) AS ?last) WHERE {{ GRAPH <{Graphs.CHANGES}> {{
        ?c <{AIMS}sequenceNumber> ?n ; <{COMMITTED.value}> true }} }}""")
    found = next(iter(rows))["last"]
    return int(found.value) if found is not None else 0


def _next_sequence(store: GraphStore) -> int:
    """Call under the write lock. Numbers of undone changes are not reused."""
    last = _LAST_SEQUENCE.get(store)
    if last is None:
        rows = store.query(f"SELECT (MAX(?n) AS ?last) WHERE {{ GRAPH <{Graphs.CHANGES}> {{ ?c <{AIMS}sequenceNumber> ?n }} }}")
        found = next(iter(rows))["last"]
        last = int(found.value) if found is not None else 0
    _LAST_SEQUENCE[store] = last + 1
    return last + 1


def _nquads(quads: set[ox.Quad]) -> ox.Literal:
    return ox.Literal(serialize_quads(sorted(quads, key=str), ox.RdfFormat.N_QUADS).decode())


def _time(value: datetime) -> ox.Literal:
    return ox.Literal(value.isoformat(timespec="microseconds"), datatype=ox.NamedNode(XSD_DATETIME))


def _integer(value: int) -> ox.Literal:
    return ox.Literal(str(value), datatype=ox.NamedNode(XSD + "integer"))


def _boolean(value: bool) -> ox.Literal:
    return ox.Literal("true" if value else "false", datatype=ox.NamedNode(XSD_BOOLEAN))
