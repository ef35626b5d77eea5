"""Query execution with a hard timeout: a pool of forked reader processes.

pyoxigraph cannot cancel a running query, and a thread cannot be stopped, so a CPU-bound
plan (a cross product, a runaway property path) would run on after its HTTP request gave
up. Each query therefore runs in a reader process forked from the service; the reader
inherits the open store and answers over a pipe. When a query overruns, its reader is
killed (SIGKILL) and the client gets :class:`QueryTimeout` (HTTP 503), never a partial 200.

A forked reader sees the store as it was when it was forked, so readers are forked only
between writes (never half-way through one), remember the store's write generation and are
replaced after a write. Forking costs about 20 ms at a few hundred MB of resident memory; it
happens only after a write or a timeout, not per query.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, Pipe

import pyoxigraph as ox

from aimsgraph import errors
from aimsgraph.errors import AimsgraphError, InvalidInput, NotAcceptable, QueryTimeout, RemoteServiceError, StoreUnavailable
from aimsgraph.sparql import results
from aimsgraph.sparql.guard import has_dataset_clause, may_call_remote
from aimsgraph.store import GraphStore
from aimsgraph.store.record import Term
from aimsgraph.store.remote import DatasetOptions, RawStore, RemoteStore

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
READY_TIMEOUT = 2.0  # seconds a new reader has to answer its first storage read
FORK_ATTEMPTS = 5

try:  # loaded here, not in the child: dlopen after fork is not safe
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not a POSIX libc
    _LIBC = None


class _NotReady(Exception):
    """A forked reader did not come up."""


@dataclass(frozen=True)
class QueryJob:
    """Everything a reader needs to evaluate one query and serialise its answer."""

    query: str
    base_iri: str | None = None
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    solution_type: str | None = None  # media type for SELECT/ASK, None if none acceptable
    graph_type: str | None = None  # media type for CONSTRUCT/DESCRIBE, None if none acceptable
    limit: int = 100_000
    prefixes: dict[str, str] = field(default_factory=dict)
    #: values for variables, as (variable, datatype IRI or "iri", lexical value): picklable
    bindings: tuple[tuple[str, str, str], ...] = ()
    #: with ``default_graphs``: every named graph stays available (the dataset of WITH in updates)
    all_named_graphs: bool = False

    def run_here(self, store: GraphStore) -> QueryOutcome:
        """:meth:`run` over ``store`` in this process, without a timeout (the CLI)."""
        return self.run(store.backend)

    def run(self, store: RawStore) -> QueryOutcome:
        try:
            return self._evaluate(store)
        except RuntimeError as exc:
            # pyoxigraph evaluates lazily and reports what the query asks that it cannot do (an
            # unknown function, say) as RuntimeError while the rows are read: the query's fault.
            if may_call_remote(self.query):
                raise RemoteServiceError(f"the query failed, possibly in a SERVICE call: {exc}") from None
            raise InvalidInput(f"cannot evaluate the query: {exc}") from None

    def _evaluate(self, store: RawStore) -> QueryOutcome:
        substitutions: dict[ox.Variable, Term] = {
            ox.Variable(var): ox.NamedNode(value) if kind == "iri" else ox.Literal(value, datatype=ox.NamedNode(kind))
            for var, kind, value in self.bindings
        }
        answer: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples | list[ox.Triple]
        try:
            if isinstance(store, RemoteStore):  # a user's query: the external engine plans it
                answer = store.query(
                    self.query, base_iri=self.base_iri, substitutions=substitutions, as_written=True, **self._dataset()
                )
            else:
                answer = store.query(self.query, base_iri=self.base_iri, substitutions=substitutions, **self._dataset())
        except SyntaxError as exc:
            raise InvalidInput(f"SPARQL syntax error: {exc}") from None
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"cannot evaluate the query: {exc}") from None
        if isinstance(answer, ox.QueryBoolean):
            media = self._need(self.solution_type, "an ASK result")
            return QueryOutcome(results.write_boolean(bool(answer), media), media, 1, False)
        # written by pyoxigraph, evaluated only up to the first row past the limit (results.py)
        if isinstance(answer, ox.QuerySolutions):
            media = self._need(self.solution_type, "SELECT results")
            return self._outcome(results.write_query_solutions(answer, media, self.limit), media)
        media = self._need(self.graph_type, "an RDF graph")
        return self._outcome(results.write_query_triples(answer, media, self.limit, self.prefixes), media)

    @staticmethod
    def _outcome(written: tuple[bytes, int, bool], media: str) -> QueryOutcome:
        body, count, truncated = written
        return QueryOutcome(body, media, count, truncated)

    def _dataset(self) -> DatasetOptions:
        # SPARQL 1.1 Protocol 2.1.4: request parameters replace the query's dataset; without
        # them the query's FROM / FROM NAMED apply; without either the default graph is the
        # union of every named graph.
        if not self.default_graphs and not self.named_graphs:
            return {} if has_dataset_clause(self.query) else {"use_default_graph_as_union": True}
        dataset: DatasetOptions = {"default_graph": [ox.NamedNode(g) for g in self.default_graphs]}
        if not self.all_named_graphs:
            dataset["named_graphs"] = [ox.NamedNode(g) for g in self.named_graphs]
        return dataset

    @staticmethod
    def _need(media_type: str | None, what: str) -> str:
        if media_type is None:
            raise NotAcceptable(f"the Accept header allows no format for {what}")
        return media_type


@dataclass(frozen=True)
class QueryOutcome:
    body: bytes
    media_type: str
    count: int
    truncated: bool


class _Reader:
    """One forked reader process and the parent's end of its pipe.

    A child forked while one of the store's background threads holds a lock would wait for
    it forever; such a child never reports ready, so it is killed and the fork retried.
    """

    def __init__(self, store: GraphStore) -> None:
        parent_pid = os.getpid()
        parent_end, child_end = Pipe()
        with store.between_writes() as generation:  # a snapshot of whole changes only
            self.generation = generation
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child; covered by the service tests
                parent_end.close()
                _serve(child_end, store.backend, parent_pid)
        child_end.close()
        self.pid, self.conn = pid, parent_end
        try:
            ready = self.conn.poll(READY_TIMEOUT) and self.conn.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.kill()
            raise _NotReady()

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.conn.close()
        os.waitpid(self.pid, 0)


def _serve(conn: Connection, store: RawStore, parent_pid: int) -> None:  # pragma: no cover - child
    try:
        _detach_from_parent(conn.fileno(), parent_pid)
        store.query("ASK { ?s ?p ?o }")  # touches the storage: hangs here if a lock was held at fork
        conn.send("ready")
        while True:
            try:
                job = conn.recv()
            except (EOFError, OSError):
                break
            conn.send(_answer(job, store))
    finally:
        os._exit(0)  # never run the store's destructors or atexit hooks in a forked child


def _detach_from_parent(keep_fd: int, parent_pid: int) -> None:  # pragma: no cover - child
    """Make the reader die with the service and let go of its sockets (the HTTP listener)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if _LIBC is not None and hasattr(_LIBC, "prctl"):
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # otherwise it exits when its pipe closes
    if os.getppid() != parent_pid:
        os._exit(0)
    for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []:
        fd = int(name)
        try:
            if fd != keep_fd and stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
        except OSError:
            pass


def _answer(job: QueryJob, store: RawStore) -> tuple:  # pragma: no cover - child
    try:
        return ("ok", job.run(store))
    except AimsgraphError as exc:
        return ("error", errors.error_name(exc), exc.message)
    except OSError as exc:
        if may_call_remote(job.query):
            return ("error", RemoteServiceError.__name__, f"the query failed, possibly in a SERVICE call: {exc}")
        return ("error", StoreUnavailable.__name__, f"cannot read the store: {exc}")
    except Exception as exc:
        return ("error", AimsgraphError.__name__, f"{type(exc).__name__}: {exc}")


class ReaderPool:
    """Runs :class:`QueryJob` s in at most ``size`` forked readers, each with a timeout.

    Readers are forked by one long-lived thread, because a reader asks to be killed when the
    thread that forked it ends (PR_SET_PDEATHSIG), and request threads come and go.
    """

    def __init__(self, store: GraphStore, size: int = 2, timeout: float = 30.0) -> None:
        self.store, self.size, self.timeout = store, size, timeout
        self._idle: queue.LifoQueue[_Reader] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._forker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aimsgraph-forker")

    def run(self, job: QueryJob, timeout: float | None = None) -> QueryOutcome:
        """Evaluate ``job`` in a reader; raises QueryTimeout if it overruns ``timeout`` seconds,
        counting the wait for a free reader."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if not self._slots.acquire(timeout=timeout):
            raise QueryTimeout(f"all {self.size} query workers stayed busy for {timeout:g} s; try again")
        try:
            reply = self._exchange(job, deadline, timeout)
        finally:
            self._slots.release()
        if reply[0] == "ok":
            return reply[1]
        raise errors.error_class(reply[1])(reply[2])

    def _exchange(self, job: QueryJob, deadline: float, timeout: float) -> tuple:
        reader = self._checkout(deadline)
        try:
            reader.conn.send(job)
        except OSError:  # an idle reader died: try once more with a fresh one
            reader.kill()
            reader = self._fork(deadline)
            reader.conn.send(job)
        try:
            ready = reader.conn.poll(max(0.0, deadline - time.monotonic()))
            reply = reader.conn.recv() if ready else None
        except (EOFError, OSError):
            reader.kill()
            raise StoreUnavailable("the query worker died while evaluating the query") from None
        except BaseException:
            reader.kill()  # e.g. the request thread was interrupted: never leave it running
            raise
        if reply is None:
            reader.kill()
            raise QueryTimeout(f"query stopped after {timeout:g} s (AIMSGRAPH_QUERY_TIMEOUT); narrow it or add a LIMIT")
        self._idle.put(reader)
        return reply

    def _checkout(self, deadline: float) -> _Reader:
        while True:
            try:
                reader = self._idle.get_nowait()
            except queue.Empty:
                return self._fork(deadline)
            if reader.generation == self.store.generation:
                return reader
            reader.kill()  # it holds a snapshot from before the latest write

    def _fork(self, deadline: float) -> _Reader:
        """A new reader; it is forked between writes, so waiting for a write counts against the
        query's deadline."""
        for attempt in range(FORK_ATTEMPTS):
            try:
                return self._forker.submit(_Reader, self.store).result(timeout=max(0.0, deadline - time.monotonic()))
            except _NotReady:
                time.sleep(0.05 * (attempt + 1))  # let the store's background work finish
            except TimeoutError:
                raise QueryTimeout("a write in progress kept the query waiting past AIMSGRAPH_QUERY_TIMEOUT; try again") from None
        raise StoreUnavailable(f"no query worker came up in {FORK_ATTEMPTS} attempts; try again")

    def close(self) -> None:
        """Stop every idle reader (busy ones stop when their pipe closes)."""
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                break
        self._forker.shutdown(wait=False)


def reader_selector(pool: ReaderPool):
    """A ``sparql.update`` selector that runs WHERE clauses in the query readers, so that an
    update's WHERE clause has the query timeout, and does not run in the service process."""
    from aimsgraph.sparql.update import Dataset, too_many_solutions

    def select(query: str, base_iri: str | None, dataset: Dataset, limit: int) -> list[dict[str, Term]]:
        job = QueryJob(
            query,
            base_iri,
            default_graphs=dataset.default or (),
            named_graphs=dataset.named or (),
            solution_type=SOLUTIONS_JSON,
            limit=limit,
            all_named_graphs=dataset.default is not None and dataset.named is None,
        )
        outcome = pool.run(job)
        if outcome.truncated:
            raise too_many_solutions(limit)
        solutions = ox.parse_query_results(outcome.body, format=ox.QueryResultsFormat.JSON)
        assert isinstance(solutions, ox.QuerySolutions)  # the answer of a SELECT query
        names = [v.value for v in solutions.variables]
        return [{name: s[name] for name in names if s[name] is not None} for s in solutions]

    return select


SOLUTIONS_JSON = "application/sparql-results+json"
