"""The bare-pyoxigraph anchor of the query measurements, in a process of its own.

``python -m benchmarks.bare STORE_DIR`` opens the store read-only (next to the ``aimsgraph serve``
that holds it), reads one JSON job a line from stdin and answers each with one JSON line on
stdout. A process of its own for two reasons: pyoxigraph cannot cancel a query, so one that
overruns is stopped by killing the process (``BareWorker`` then starts a fresh one); and its runs
can alternate with the HTTP runs of the same query, so that both sides of a ratio see the same
machine (the project's machine is shared and noisy).

Jobs: ``{"op": "run", "query": NAME, "values": {...}}`` (one timed run: evaluate and serialise
the whole answer), ``{"op": "count", ...}`` (rows of the answer; doubles as the warm-up), and
``{"op": "load", "query": NAME, "concurrency": C, "requests": N}`` (the same query from C threads).
Instead of ``"query": NAME`` a job may give ``"text": QUERY``, a query of no name.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox


def service_dataset(text: str) -> dict[str, object]:
    """The dataset /sparql gives a query without dataset parameters (see ``sparql.executor``):
    the union of the named graphs, unless the query has FROM or FROM NAMED."""
    from aimsgraph.sparql.guard import has_dataset_clause

    return {} if has_dataset_clause(text) else {"use_default_graph_as_union": True}


def evaluate(raw: ox.Store, named, values: dict[str, str]):
    return raw.query(named.text, substitutions=named.substitutions(values), **service_dataset(named.text))


def serialised(raw: ox.Store, named, values: dict[str, str]) -> bytes:
    """The anchor's whole answer, written by pyoxigraph in the format the HTTP client asks for."""
    answer = evaluate(raw, named, values)
    if isinstance(answer, ox.QuerySolutions):
        return answer.serialize(format=ox.QueryResultsFormat.JSON)
    if isinstance(answer, ox.QueryTriples):
        return answer.serialize(format=ox.RdfFormat.N_TRIPLES)
    return b"true" if answer else b"false"


def answer(raw: ox.Store, queries: dict, job: dict) -> dict:
    from aimsgraph.records.queries import NamedQuery
    from benchmarks.common import load_test, timed

    named = queries[job["query"]] if "query" in job else NamedQuery("ad hoc", job["text"])
    values = job.get("values", {})
    if job["op"] == "run":
        return {"seconds": timed(serialised, raw, named, values)[1]}
    if job["op"] == "count":
        found = evaluate(raw, named, values)
        return {"rows": 1 if isinstance(found, ox.QueryBoolean) else sum(1 for _ in found)}
    if job["op"] == "load":
        return load_test(lambda: lambda i: serialised(raw, named, values), job["concurrency"], job["requests"])
    raise ValueError(f"unknown job {job['op']!r}")


def main() -> None:
    from aimsgraph.records.queries import load_all

    raw = ox.Store.read_only(sys.argv[1])
    queries = load_all()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        try:
            reply = answer(raw, queries, json.loads(line))
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), flush=True)


class BareWorker:
    """The harness's end: jobs with a time limit; a job that overruns kills the worker (the
    next job starts a new one) and answers ``{"timeout": seconds}``."""

    def __init__(self, store_dir: Path) -> None:
        self.store_dir = store_dir
        self.process: subprocess.Popen | None = None

    def run(self, job: dict, timeout: float) -> dict:
        if self.process is None:
            self._start()
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        reply = self._reply(timeout)
        if reply is None:
            self.stop()
            return {"timeout": timeout}
        return reply

    def _start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bare", str(self.store_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        if self._reply(120) != {"ready": True}:
            self.stop()
            raise RuntimeError(f"the bare-pyoxigraph worker did not open {self.store_dir}")

    def _reply(self, timeout: float) -> dict | None:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        return json.loads(line) if line else None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)  # it may be inside a query that cannot stop
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:  # a pipe to a killed process
                pass
        self.process = None


if __name__ == "__main__":
    main()
