"""Answers of /sparql kept for the same query asked again before the next write.

Every write bumps the store's generation (``GraphStore.generation``) and the query readers are
forked again; until then a query reads the same snapshot and gives the same answer, so an answer
read at a generation may be given again while the store is at that generation. Left out: what
does not depend on the store alone (SERVICE, NOW, RAND, UUID, STRUUID, BNODE: :func:`cacheable`,
which errs on the side of evaluating), CONSTRUCT templates with blank nodes (fresh ones each
time), errors and timeouts (never stored), and external stores (written by others).

Bounded by bytes (AIMSGRAPH_RESULT_CACHE_BYTES), least recently used first out; one answer takes
at most an eighth of the budget.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

from aimsgraph.sparql.executor import QueryJob, QueryOutcome
from aimsgraph.sparql.guard import may_call_remote, memoised

#: Words of functions whose value is not the store's: anywhere in the text, even in a string or a
#: comment, they keep the answer out of the cache (cheaper than telling, and never wrong).
_VOLATILE = re.compile(r"(?<![\w:])(?:NOW|RAND|UUID|STRUUID|BNODE)(?![\w:])", re.IGNORECASE)
#: Bytes an entry is counted for besides its body and query text.
ENTRY_OVERHEAD = 256


@memoised
def cacheable(text: str, form: str | None) -> bool:
    """Whether the answer to query ``text`` of ``form`` depends only on the store's content."""
    if form not in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
        return False
    if form == "CONSTRUCT" and ("_:" in text or "[" in text):
        return False  # a template's blank nodes are new ones in every answer
    return _VOLATILE.search(text) is None and not may_call_remote(text)


def key(job: QueryJob) -> tuple:
    """Everything of ``job`` its answer depends on."""
    return (
        job.query,
        job.base_iri,
        job.default_graphs,
        job.named_graphs,
        job.solution_type,
        job.graph_type,
        job.limit,
        tuple(job.prefixes.items()),
        job.bindings,
        job.all_named_graphs,
    )


class ResultCache:
    """Outcomes by (:func:`key`, generation), at most ``max_bytes`` of them."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_entry = max_bytes // 8
        self.size = 0
        self.hits = self.misses = 0
        self._entries: OrderedDict[tuple, tuple[int, QueryOutcome, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, job_key: tuple, generation: int) -> QueryOutcome | None:
        with self._lock:
            entry = self._entries.get(job_key)
            if entry is None or entry[0] != generation:
                if entry is not None and entry[0] < generation:  # read before a write: never again
                    del self._entries[job_key]
                    self.size -= entry[2]
                self.misses += 1
                return None
            self._entries.move_to_end(job_key)
            self.hits += 1
            return entry[1]

    def put(self, job_key: tuple, generation: int, outcome: QueryOutcome) -> None:
        cost = len(outcome.body) + len(job_key[0]) + ENTRY_OVERHEAD
        if cost > self.max_entry:
            return
        with self._lock:
            old = self._entries.pop(job_key, None)
            if old is not None:
                self.size -= old[2]
            self._entries[job_key] = (generation, outcome, cost)
            self.size += cost
            while self.size > self.max_bytes:
                _, (_, _, freed) = self._entries.popitem(last=False)
                self.size -= freed

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.size = 0
