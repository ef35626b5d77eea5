"""Keeping the derived graphs (inferred, validation, analysis) up to date after writes.

A write answers as soon as it is committed. :class:`Refresher` then brings the derived graphs up
to date in a background thread, taking together the writes that arrived meanwhile:

- inferences incrementally from the net change to the premises (``reasoning.update_inferences``,
  milliseconds for a small change), under the write lock so that no write lands half-way;
- stored validation findings of the focus nodes the change can affect
  (``validation.revalidate``), when a validation report is stored at all: read outside the
  write lock, stored only if no write came in meanwhile;
- scores and propagation: the risk model updated from the changed quads, re-reading only the
  risks and assets they name and re-propagating only the flows they can change
  (``analysis.update_model``), and the analysis graph changed where the model did; after
  changes to the risk criteria or matrix, a full recomputation (``analysis.refresh_analysis``).
  Both read outside the write lock and write only if no write came in meanwhile.

A write marks the inferred and analysis graphs stale first (``store.invalidate``), so a process
that dies before the refresh ends recomputes them at its next start. The CLI calls
:func:`refresh_after` directly.
"""

from __future__ import annotations

import logging
import threading
import time

from aimsgraph import clock
from aimsgraph.analysis import ModelCache, RiskModel, refresh_analysis, update_model, write_analysis_changes
from aimsgraph.changes import Delta
from aimsgraph.namespaces import Graphs
from aimsgraph.reasoning import NOT_PREMISES, refresh_inferences, update_inferences
from aimsgraph.store import GraphStore
from aimsgraph.validation import (
    Revalidation,
    changed_nodes,
    revalidate,
    store_revalidation,
    validate_changed,
    validate_full,
    validate_store,
)

log = logging.getLogger(__name__)
#: Runs of the analysis refresh before it gives up on a store that keeps changing.
ANALYSIS_ATTEMPTS = 5
#: Above this many changed quads the model is built again rather than updated.
INCREMENTAL_ANALYSIS_QUADS = 50_000


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
    that the store holds exactly the changes the delta describes. Without ``incremental`` (an
    earlier refresh failed), both are recomputed in full."""
    how = refresh_inferences_after(store, delta, incremental)
    if not store.is_empty(Graphs.VALIDATION):
        if incremental:
            validate_changed(store, changed_nodes(store, delta.removed | delta.added))
        else:
            validate_full(store)
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

    def __init__(self, store: GraphStore, models: ModelCache, model: RiskModel | None = None) -> None:
        """``model``: the risk model the analysis graph holds now, if known (else the first
        refresh builds it)."""
        self.store, self.models = store, models
        self._model = model if store.is_current(Graphs.ANALYSIS) else None
        self._start = (store.generation, store.is_current(Graphs.ANALYSIS))
        self._last: dict[str, object] = {}  # how the last refresh went, for /api/health
        self._analysis_written = False
        self._analysis_quads: set = set()  # quads changed since the analysis graph held self._model
        self._validation_nodes: set[str] = set()  # record nodes changed since findings were stored
        self._validate_all = False  # a failed refresh: recompute every finding
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
                    "analysisCurrent": self.store.is_current(Graphs.ANALYSIS), "lastRefresh": self._last}

    def _refresh_findings(self) -> str | None:
        """Re-validate the focus nodes the changes can affect, read outside the write lock (a
        hub's change can touch thousands) and stored only if no write came in meanwhile."""
        if self.store.is_empty(Graphs.VALIDATION):
            self._validation_nodes, self._validate_all = set(), False
            return None
        if not self._validation_nodes and not self._validate_all:
            return None
        for _ in range(ANALYSIS_ATTEMPTS):
            generation = self.store.generation
            as_of = clock.today()
            if self._validate_all:
                plan = Revalidation(None, validate_store(self.store, as_of), as_of)
            else:
                plan = revalidate(self.store, self._validation_nodes, as_of)
            with self.store.write_lock():
                if self.store.generation == generation:
                    store_revalidation(self.store, plan)
                    self._validation_nodes, self._validate_all = set(), False
                    return "findings revalidated in full" if plan.affected is None else f"{len(plan.affected)} focus nodes revalidated"
            if self._writes_waiting():
                return None
        log.warning("the stored findings could not be refreshed: writes kept changing the store")
        return None

    def _refresh_analysis(self) -> str | None:
        """Bring the analysis graph up to date: the model updated from the changed quads when it
        can be (``analysis.update_model``), else built again. Either is read outside the write
        lock and written only if no write came in meanwhile (a write the validation gate refused
        is applied and undone, and queues nothing): try again until one run sees a quiet store,
        or leave it to the next round when writes are queued."""
        for _ in range(ANALYSIS_ATTEMPTS):
            generation = self.store.generation
            model = self._model
            if model is not None and len(self._analysis_quads) <= INCREMENTAL_ANALYSIS_QUADS:
                updated = update_model(self.store, model, self._analysis_quads)
                if updated is not None:
                    written = write_analysis_changes(self.store, model, updated, generation)
                    if written is not None:
                        self._analysed(updated, written)
                        return "analysis updated"
                    if self._writes_waiting():
                        return None
                    continue
            built = refresh_analysis(self.store, generation)
            if built is not None:
                self._analysed(built, None)
                return "analysis recomputed"
            if self._writes_waiting():
                return None
        log.warning("the analysis graph could not be refreshed: writes kept changing the store")
        return None

    def adopt(self, model: RiskModel, generation: int) -> None:
        """Take a model built in the background at start-up (at ``generation``) as the one the
        analysis graph holds, if the graph was current then and has not been rewritten since."""
        with self._condition:
            if self._model is None and not self._analysis_written and self._start == (generation, True):
                self._model = model

    def _analysed(self, model: RiskModel, generation: int | None) -> None:
        with self._condition:
            self._model, self._analysis_quads, self._analysis_written = model, set(), True
        if generation is not None:
            self.models.seed(model, generation)

    def _writes_waiting(self) -> bool:
        with self._condition:
            return self._waiting > 0

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._waiting > 0)
            try:
                started = time.perf_counter()
                with self.store.write_lock():  # the inferences: milliseconds, and exact only here
                    with self._condition:
                        delta, self._pending, self._waiting, self._busy = self._pending, Delta(), 0, True
                    inferences = refresh_inferences_after(self.store, delta, self._incremental)
                    self._validation_nodes |= changed_nodes(self.store, delta.removed | delta.added)
                self._incremental = True
                self._analysis_quads |= delta.removed | delta.added
                inferred = time.perf_counter()
                findings = self._refresh_findings()
                validated = time.perf_counter()
                analysis = self._refresh_analysis()
                self._last = {"inferences": inferences, "inferencesSeconds": round(inferred - started, 3),
                              "findings": findings, "findingsSeconds": round(validated - inferred, 3),
                              "analysis": analysis, "analysisSeconds": round(time.perf_counter() - validated, 3)}
            except Exception:  # keep serving; the next start recomputes what is stale
                log.exception("refreshing the derived graphs failed")
                self._incremental, self._model, self._validate_all = False, None, True
                self._analysis_written = True  # refuse a late start-up model: it lacks this round
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()

