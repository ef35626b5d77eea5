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

A derived graph degrades; it never bricks the service (issue 17). At start-up
(:meth:`Refresher.catch_up`) and after writes, a step that fails (the inferences, the findings
or the analysis) is logged and kept as the refresher's :class:`Failure`: ``/api/health`` then
says ``degraded``, with the error and the derived graphs that are stale, while the service goes
on serving the record and the derived graphs as they were. The next write tries again, in full
for the step that failed and those after it (a failure of the same kind of record fails again:
the error says what to fix); a refresh that runs to its end clears the failure.

A refresh that runs to its end, and the start-up's catch-up, then announce what the record
came to show (``notifications.after_refresh``: new Violations, threshold breaches, overdue
items), when notifications are configured.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass

from aimsgraph import clock
from aimsgraph.namespaces import Graphs
from aimsgraph.records import notifications
from aimsgraph.risk.analysis import (
    ModelCache,
    RiskModel,
    refresh_analysis,
    save_model,
    saved_model,
    update_model,
    write_analysis_changes,
)
from aimsgraph.semantics.applicability import refresh_applicability
from aimsgraph.semantics.reasoning import NOT_PREMISES, refresh_inferences, update_inferences
from aimsgraph.semantics.validation import (
    Revalidation,
    changed_nodes,
    revalidate,
    save_index,
    store_revalidation,
    validate_changed,
    validate_full,
    validate_store,
)
from aimsgraph.store import GraphStore
from aimsgraph.store.changes import Delta

log = logging.getLogger(__name__)
#: Runs of the analysis refresh before it gives up on a store that keeps changing.
ANALYSIS_ATTEMPTS = 5
#: Above this many changed quads the model is built again rather than updated.
INCREMENTAL_ANALYSIS_QUADS = 50_000
#: The derived graphs that carry a freshness stamp (the findings have none of their own).
STAMPED = (Graphs.INFERRED, Graphs.APPLICABILITY, Graphs.ANALYSIS)


def mark_stale(store: GraphStore) -> None:
    """Before a write: the inferred, applicability and analysis graphs will not be current until refreshed."""
    store.invalidate(*STAMPED)


def refresh_after(store: GraphStore, delta: Delta, inferences_were_current: bool) -> str:
    """Bring the derived graphs up to date after ``delta`` was committed; says how the
    inferences were brought up to date ("inferences updated" or "inferences recomputed")."""
    with store.write_lock():
        how = refresh_record_after(store, delta, inferences_were_current)
    save_model(store, refresh_analysis(store), store.generation)
    return how


def refresh_record_after(store: GraphStore, delta: Delta, incremental: bool) -> str:
    """The inferences, classifications and stored findings after ``delta``. Call it holding the
    write lock, so that the store holds exactly the changes the delta describes. Without
    ``incremental`` (an earlier refresh failed), they are recomputed in full."""
    how = refresh_inferences_after(store, delta, incremental)
    reclassified = refresh_applicability(store, delta if incremental else None)
    if not store.is_empty(Graphs.VALIDATION):
        if incremental:
            validate_changed(store, changed_nodes(store, delta.removed | delta.added) | reclassified)
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
        now = {q.graph_name for q in store.quads(*triple) if q.graph_name not in NOT_PREMISES}
        before = (now - added_to) | removed_from
        if now and not before:
            added.add(triple)
        elif before and not now:
            removed.add(triple)
    return added, removed


@dataclass(frozen=True)
class Failure:
    """A refresh step that failed, as ``/api/health`` reports it."""

    step: str  # "inferences", "applicability", "findings" or "analysis": each reads what the ones before wrote
    during: str  # "start-up" or "refresh"
    error: str  # the exception's type and message
    at: str  # when, ISO 8601 UTC


class Refresher:
    """Refreshes the derived graphs in one background thread after each burst of writes."""

    def __init__(self, store: GraphStore, models: ModelCache) -> None:
        self.store, self.models = store, models
        self._model: RiskModel | None = None  # the risk model the analysis graph holds, when known
        self._start = (store.generation, store.is_current(Graphs.ANALYSIS))
        self._last: dict[str, object] = {}  # how the last refresh went, for /api/health
        self._failure: Failure | None = None  # the last failed step, until a refresh runs through
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

    def catch_up(self, recompute: bool) -> None:
        """At start-up, before serving: recompute the derived graphs that a stopped process left
        stale (all of them with ``recompute``: writes were recovered or data first loaded). A
        failure is logged and reported, never raised: the service comes up with what it has."""
        step = "inferences"
        try:
            if recompute or not self.store.is_current(Graphs.INFERRED):
                refresh_inferences(self.store)
                recompute = True
            step = "applicability"
            if recompute or not self.store.is_current(Graphs.APPLICABILITY):
                refresh_applicability(self.store)
                step = "findings"
                if not self.store.is_empty(Graphs.VALIDATION):
                    validate_full(self.store)
                recompute = True  # the findings and scores may read what the inferences changed
            step = "analysis"
            if recompute or not self.store.is_current(Graphs.ANALYSIS):
                self._model = refresh_analysis(self.store)
                self.models.seed(self._model)
                save_model(self.store, self._model, self.store.generation)
        except Exception as exc:
            self._failed(step, "start-up", exc)
        # what the record came to show while no service ran (a crash, a CLI write) is announced
        # now, before serving and before the saved copies are trusted (mark_started)
        notifications.after_refresh(self.store)
        self._incremental = self.store.is_current(Graphs.INFERRED)
        self._start = (self.store.generation, self.store.is_current(Graphs.ANALYSIS))
        self.store.mark_started()
        if self._model is None and self._failure is None:
            # the analysis graph was current: build its model in the background, so that the
            # first impact request need not wait
            threading.Thread(target=self._warm_up, name="aimsgraph-risk-model", daemon=True).start()

    def _warm_up(self) -> None:
        """Build the risk model of the store as opened, for impact requests and the refresher;
        a copy saved for this state of the analysis graph spares the build."""
        generation = self.store.generation
        try:
            saved = saved_model(self.store) if self.store.unchanged_since_start() else None
            model = saved or RiskModel.build(self.store)
        except Exception as exc:  # the analysis graph was current, yet cannot be computed again
            self._failed("analysis", "start-up", exc)
            return
        with self.store.between_writes() as now:
            if now != generation:  # a write overlapped the build: the model may hold half of it
                return
            self.models.seed(model, generation)
            self.adopt(model, generation)
        if saved is None:
            save_model(self.store, model, generation)

    def _failed(self, step: str, during: str, exc: Exception) -> None:
        """Keep the failure for /api/health, and have the step that failed and those after it
        (they did not run, or read what it left half done) recomputed in full: by the next
        write's refresh, and by a restart. Never raises: the refresh thread must live on."""
        log.error("the %s failed during %s; serving the derived graphs as they are", step, during, exc_info=exc)
        failure = Failure(step, during, f"{type(exc).__name__}: {exc}", clock.now().isoformat(timespec="seconds"))
        with self._condition:
            self._failure = failure
        if step != "analysis":
            self._incremental, self._validate_all = False, True
        self._model = None
        self._analysis_written = True  # refuse a late start-up model: it lacks this round
        # The findings have no stamp of their own: a stale inferred graph makes a restart
        # validate in full.
        graphs = (Graphs.ANALYSIS,) if step == "analysis" else STAMPED
        try:
            self.store.invalidate(*graphs)
        except Exception:
            log.exception("the derived graphs could not be marked stale")

    def stale(self) -> list[str]:
        """The derived graphs that do not reflect the record yet (being refreshed, or failed)."""
        stale = [g for g in STAMPED if not self.store.is_current(g)]
        if (self._validate_all or self._validation_nodes) and not self.store.is_empty(Graphs.VALIDATION):
            stale.insert(1, Graphs.VALIDATION)
        return stale

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
            failure = asdict(self._failure) if self._failure else None
            return {
                "pendingWrites": self._waiting,
                "refreshing": self._busy,
                "inferredCurrent": self.store.is_current(Graphs.INFERRED),
                "analysisCurrent": self.store.is_current(Graphs.ANALYSIS),
                "stale": self.stale(),
                "lastRefresh": self._last,
                "failure": failure,
            }

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
                    return (
                        "findings revalidated in full"
                        if plan.affected is None
                        else f"{len(plan.affected)} focus nodes revalidated"
                    )
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

    def _save_when_quiet(self) -> None:
        """Save the risk model and the findings index beside the store when no write is waiting,
        so that a restart starts from them (each is saved with the stamp it matches, and
        ignored once the store moved on)."""
        if self._writes_waiting():
            return
        if self._model is not None:
            save_model(self.store, self._model, self.store.generation)
        save_index(self.store)

    def _writes_waiting(self) -> bool:
        with self._condition:
            return self._waiting > 0

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._waiting > 0)
            step = "inferences"
            try:
                started = time.perf_counter()
                with self.store.write_lock():  # the inferences: milliseconds, and exact only here
                    with self._condition:
                        delta, self._pending, self._waiting, self._busy = self._pending, Delta(), 0, True
                    inferences = refresh_inferences_after(self.store, delta, self._incremental)
                    step = "applicability"
                    self._validation_nodes |= refresh_applicability(self.store, delta if self._incremental else None)
                    self._validation_nodes |= changed_nodes(self.store, delta.removed | delta.added)
                self._incremental = True
                self._analysis_quads |= delta.removed | delta.added
                inferred, step = time.perf_counter(), "findings"
                findings = self._refresh_findings()
                validated, step = time.perf_counter(), "analysis"
                analysis = self._refresh_analysis()
                with self._condition:
                    self._failure = None
                self._save_when_quiet()
                self._last = {
                    "inferences": inferences,
                    "inferencesSeconds": round(inferred - started, 3),
                    "findings": findings,
                    "findingsSeconds": round(validated - inferred, 3),
                    "analysis": analysis,
                    "analysisSeconds": round(time.perf_counter() - validated, 3),
                }
                notifications.after_refresh(self.store)  # new findings, breaches, overdue items
            except Exception as exc:  # keep serving what there is; the next write tries again
                self._failed(step, "refresh", exc)
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()
