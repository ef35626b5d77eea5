"""Keeping the derived graphs (inferred, validation, analysis) up to date after writes.

A write answers as soon as it is committed. :class:`Refresher` then brings the derived graphs up
to date in a background thread, taking together the writes that arrived meanwhile:

- inferences incrementally from the net change to the premises (``reasoning.update_inferences``,
  milliseconds for a small change), under the write lock so that no write lands half-way;
- stored validation findings of the focus nodes the change can affect
  (``validation.validate_changed``), when a validation report is stored at all;
- scores and propagation (``analysis.refresh_analysis``), a full recomputation that writes only
  the difference, outside the write lock (writes go on meanwhile, and queue another refresh).

A write marks the inferred and analysis graphs stale first (``store.invalidate``), so a process
that dies before the refresh ends recomputes them at its next start. The CLI calls
:func:`refresh_after` directly.
"""

from __future__ import annotations

import logging
import threading

from aimsgraph.analysis import refresh_analysis
from aimsgraph.changes import Delta
from aimsgraph.namespaces import Graphs
from aimsgraph.reasoning import NOT_PREMISES, refresh_inferences, update_inferences
from aimsgraph.store import GraphStore
from aimsgraph.validation import changed_nodes, validate_changed

log = logging.getLogger(__name__)


def mark_stale(store: GraphStore) -> None:
    """Before a write: the inferred and analysis graphs will not be current until refreshed."""
    store.invalidate(Graphs.INFERRED, Graphs.ANALYSIS)


def refresh_after(store: GraphStore, delta: Delta, inferences_were_current: bool) -> str:
    """Bring the derived graphs up to date after ``delta`` was committed; says how the
    inferences were brought up to date ("inferences updated" or "inferences recomputed")."""
    with store.write_lock():
        how = refresh_record_after(store, delta, inferences_were_current)
    refresh_analysis(store)
    return how


def refresh_record_after(store: GraphStore, delta: Delta, incremental: bool) -> str:
    """The inferences and stored findings after ``delta``. Call it holding the write lock, so
    that the store holds exactly the changes the delta describes."""
    how = refresh_inferences_after(store, delta, incremental)
    if not store.is_empty(Graphs.VALIDATION):
        validate_changed(store, changed_nodes(store, delta.removed | delta.added))
    return how


def refresh_inferences_after(store: GraphStore, delta: Delta, incremental: bool) -> str:
    """Update the inferred graph from the premises the delta added and removed, or recompute it."""
    added, removed = premise_changes(store, delta)
    if incremental:
        try:
            if update_inferences(store, added, removed)[0] >= 0:
                return "inferences updated"
            return "inferences recomputed"  # the change touched the schema
        except Exception:
            log.exception("incremental reasoning failed; recomputing the inferences")
    refresh_inferences(store)
    return "inferences recomputed"


def premise_changes(store: GraphStore, delta: Delta) -> tuple[set, set]:
    """Triples that became premises and triples that stopped being premises, given that the
    store already holds ``delta`` (a triple may be asserted in several graphs)."""
    by_triple: dict[tuple, tuple[set, set]] = {}
    for quads, index in ((delta.added, 0), (delta.removed, 1)):
        for q in quads:
            if q.graph_name not in NOT_PREMISES:
                by_triple.setdefault((q.subject, q.predicate, q.object), (set(), set()))[index].add(q.graph_name)
    added, removed = set(), set()
    for triple, (added_to, removed_from) in by_triple.items():
        now = {q.graph_name for q in store.raw.quads_for_pattern(*triple) if q.graph_name not in NOT_PREMISES}
        before = (now - added_to) | removed_from
        if now and not before:
            added.add(triple)
        elif before and not now:
            removed.add(triple)
    return added, removed


class Refresher:
    """Refreshes the derived graphs in one background thread after each burst of writes."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self._incremental = store.is_current(Graphs.INFERRED)
        self._pending = Delta()
        self._waiting = 0  # writes not yet refreshed
        self._busy = False
        self._condition = threading.Condition()
        threading.Thread(target=self._run, name="aimsgraph-refresh", daemon=True).start()

    def submit(self, delta: Delta) -> None:
        """Queue a committed change. Call it holding the store's write lock, as the commit did,
        so that the refresh never sees a change it has not been told about."""
        with self._condition:
            self._pending.then(delta.removed, delta.added)
            self._waiting += 1
            self._condition.notify_all()

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until every submitted write is refreshed; False on timeout."""
        with self._condition:
            return self._condition.wait_for(lambda: not self._waiting and not self._busy, timeout)

    def status(self) -> dict[str, object]:
        with self._condition:
            return {"pendingWrites": self._waiting, "refreshing": self._busy,
                    "inferredCurrent": self.store.is_current(Graphs.INFERRED),
                    "analysisCurrent": self.store.is_current(Graphs.ANALYSIS)}

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._waiting > 0)
            try:
                with self.store.write_lock():
                    with self._condition:
                        delta, self._pending, self._waiting, self._busy = self._pending, Delta(), 0, True
                    refresh_record_after(self.store, delta, self._incremental)
                self._incremental = True
                refresh_analysis(self.store)
            except Exception:  # keep serving; the next start recomputes what is stale
                log.exception("refreshing the derived graphs failed")
                self._incremental = False
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()

