"""What a running aimsgraph holds, whatever serves it: the store, the forked query readers, the
risk-model cache, the token registry, the refresher of the derived graphs and the notifier, opened
in one order (:meth:`Runtime.open`), and the one way a caller's change is committed
(:meth:`Runtime.commit`, :meth:`Runtime.update`).

Both front ends stand on it: the HTTP application (``http.app.create_app``) and the MCP server
(``mcp``). Layer: above ``sparql`` (it starts the query readers and evaluates updates in them),
below ``http`` and ``mcp``; it imports no web framework.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aimsgraph import limits
from aimsgraph.auth import Principal, TokenRegistry, require_write
from aimsgraph.config import Settings
from aimsgraph.errors import StoreUnavailable
from aimsgraph.records import notifications
from aimsgraph.records.refresh import Refresher, mark_stale
from aimsgraph.risk.analysis import ModelCache
from aimsgraph.semantics import validation
from aimsgraph.sparql.executor import ReaderPool, reader_selector
from aimsgraph.sparql.update import UpdateRequest, evaluate
from aimsgraph.store import GraphStore, changes

#: How often an update is evaluated outside the write lock before it is evaluated under it.
UPDATE_ATTEMPTS = 3


class Limiter:
    """At most ``per_minute`` calls in any 60 s (a sliding window)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """Count a call; None when admitted, else the seconds until one more would be."""
        now = time.monotonic()
        with self._lock:
            while self._times and now - self._times[0] >= 60:
                self._times.popleft()
            if len(self._times) >= self.per_minute:
                return max(1, math.ceil(60 - (now - self._times[0])))
            self._times.append(now)
            return None


@dataclass
class Runtime:
    """The parts of a running aimsgraph that requests and tool calls share."""

    settings: Settings
    store: GraphStore
    readers: ReaderPool
    models: ModelCache  # the risk model (scores, propagation) of the current store generation
    tokens: TokenRegistry
    refresher: Refresher  # brings the derived graphs up to date after writes
    notifier: notifications.Notifier | None = None  # None: no destination configured
    limiters: dict[str, Limiter] = field(default_factory=dict)  # of callers without a token, per kind of call
    _limiters_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        """Open (or create) the store, load the reference graphs and the demo on a first start,
        bring the derived graphs up to date and start the query readers."""
        limits.configure(settings)
        tokens = TokenRegistry.from_settings(settings)  # a bad entry stops here, before the store opens
        store = _open_store(settings)
        changed = bool(changes.recover(store))  # writes a killed process left uncommitted
        changed |= changes.initialise(store, demo=settings.demo)
        models = ModelCache(store)
        # on before the catch-up, which announces what the record came to show while nothing ran
        notifier = notifications.start(store, settings)
        refresher = Refresher(store, models)
        # A write whose refresh did not finish (the process stopped) leaves derived graphs
        # unstamped. A derived graph that cannot be computed is reported by /api/health, and the
        # service comes up anyway, serving the record and the derived graphs it has.
        refresher.catch_up(recompute=changed)
        readers = ReaderPool(store, size=settings.query_workers, timeout=settings.query_timeout)
        # the shapes compile in about a second: not in the way of the first call that needs them
        threading.Thread(target=validation.compiled_checks, name="aimsgraph-compile-shapes", daemon=True).start()
        return cls(settings, store, readers, models, tokens, refresher, notifier)

    def close(self) -> None:
        """Stop the readers and the notifier (after the send in progress), and persist the store."""
        self.readers.close()
        if self.notifier is not None:
            self.notifier.stop()
        self.store.flush()

    def limiter(self, kind: str, per_minute: int) -> Limiter:
        """The one limiter of calls of ``kind`` without a token."""
        with self._limiters_lock:
            return self.limiters.setdefault(kind, Limiter(per_minute))

    def commit(
        self,
        principal: Principal | None,
        delta: changes.Delta,
        operation: str,
        text: str | None = None,
        *,
        admitted: bool = False,
        day_only: bool = False,
        announce: Callable[[], object] | None = None,
    ) -> changes.Change | None:
        """Commit ``delta`` for ``principal``; None when it changes nothing.

        The principal's role is checked against every graph the delta touches, unless the caller
        ``admitted`` it by its own rule (a concern may come from anyone). The validation gate
        applies when configured; the derived graphs are marked stale and their refresh queued.
        ``day_only`` as in :func:`changes.commit`; ``announce`` keeps the notifications of the
        change (``records.notifications.emit``), held until it is committed."""
        agent = principal if admitted and principal else require_write(principal, delta.graphs(), self.tokens)
        gate = validation.ViolationGate(self.store) if self.settings.validation_gate else None

        def before_commit() -> None:
            mark_stale(self.store)
            if announce is not None:
                announce()

        with self.store.write_lock():
            change = changes.commit(
                self.store,
                delta,
                operation,
                agent,
                text=text,
                gate=gate,
                before_commit=before_commit,
                day_only=day_only,
            )
            if change is not None:
                self.refresher.submit(change.delta)
        return change

    def update(self, principal: Principal | None, update: UpdateRequest) -> changes.Change | None:
        """Evaluate a SPARQL Update to its exact change and commit it, against one state of the
        store: evaluated outside the write lock (WHERE clauses in the query readers, with their
        timeout) and committed only if no write came in between, else evaluated again."""
        store, selector = self.store, reader_selector(self.readers)
        for _ in range(UPDATE_ATTEMPTS):
            generation = store.generation
            delta = evaluate(store, update, selector)
            with store.write_lock():
                if store.generation == generation:
                    return self.commit(principal, delta, "sparql-update", update.text)
        with store.write_lock():  # writes keep coming: evaluate under the lock, in this process
            return self.commit(principal, evaluate(store, update), "sparql-update", update.text)


def _open_store(settings: Settings) -> GraphStore:
    """The store; a clear StoreUnavailable when another process (RocksDB allows one) holds it."""
    try:
        return GraphStore.open(settings)
    except StoreUnavailable as exc:
        if "LOCK" not in str(exc.__cause__):  # RocksDB: "While lock file: <dir>/LOCK: ..."
            raise
        raise StoreUnavailable(
            f"the store {settings.data_dir} is held by another process (a running aimsgraph serve or "
            "aimsgraph mcp?): stop that process, or give another --data-dir"
        ) from None
