"""The forked reader pool: fresh snapshots after writes, hard timeouts, errors carried back."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aimsgraph.errors import InvalidInput, NotAcceptable, QueryTimeout
from aimsgraph.sparql.executor import QueryJob, ReaderPool
from aimsgraph.store import GraphStore

JSON = "application/sparql-results+json"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


@pytest.fixture()
def store(tmp_path: Path) -> GraphStore:
    return GraphStore(tmp_path / "db")


@pytest.fixture()
def pool(store: GraphStore):
    readers = ReaderPool(store, size=1, timeout=5)
    yield readers
    readers.close()


def count(pool: ReaderPool) -> str:
    body = pool.run(QueryJob(COUNT, solution_type=JSON)).body
    return json.loads(body)["results"]["bindings"][0]["n"]["value"]


def test_readers_see_writes_made_after_they_were_forked(tmp_path: Path, store: GraphStore, pool: ReaderPool):
    assert count(pool) == "0"
    data = tmp_path / "d.nt"
    data.write_text("<urn:a> <urn:p> <urn:b> .\n")
    store.load_files([data])
    assert count(pool) == "1"


def test_readers_are_forked_between_writes_and_waiting_counts_against_the_timeout(store: GraphStore, tmp_path: Path):
    """A query that needs a new reader while a write is in progress waits for the write (so the
    reader never sees half of it), and gives up at its deadline."""
    import threading
    import time

    import pyoxigraph as ox

    readers = ReaderPool(store, size=1, timeout=0.5)
    half_done = threading.Event()
    finish = threading.Event()

    def slow_write() -> None:
        with store.write_lock():
            store.replace_quads([], [ox.Quad(ox.NamedNode("urn:a"), ox.NamedNode("urn:p"), ox.Literal("1"), ox.NamedNode("urn:g"))])
            half_done.set()
            finish.wait(5)
            store.replace_quads([], [ox.Quad(ox.NamedNode("urn:b"), ox.NamedNode("urn:p"), ox.Literal("2"), ox.NamedNode("urn:g"))])

    writer = threading.Thread(target=slow_write)
    writer.start()
    try:
        half_done.wait(5)
        started = time.monotonic()
        with pytest.raises(QueryTimeout, match="write in progress"):
            readers.run(QueryJob(COUNT, solution_type=JSON))
        assert time.monotonic() - started < 2
    finally:
        finish.set()
        writer.join()
    try:
        assert count(readers) == "2"  # both halves, never one
    finally:
        readers.close()


def test_a_runaway_query_is_killed_and_the_pool_recovers(store: GraphStore, tmp_path: Path):
    data = tmp_path / "d.nt"
    data.write_text("".join(f"<urn:s{i}> <urn:p> <urn:o{i}> .\n" for i in range(300)))
    store.load_files([data])
    pool = ReaderPool(store, size=1, timeout=1)
    try:
        pool.run(QueryJob(COUNT, solution_type=JSON))
        [reader] = list(pool._idle.queue)
        with pytest.raises(QueryTimeout, match="stopped after 1 s"):
            pool.run(QueryJob("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }", solution_type=JSON))
        with pytest.raises(ChildProcessError):
            os.waitpid(reader.pid, os.WNOHANG)  # reaped: the process is gone, not left running
        assert count(pool) == "300"
    finally:
        pool.close()


def test_errors_come_back_as_their_own_types(pool: ReaderPool):
    with pytest.raises(InvalidInput, match="syntax"):
        pool.run(QueryJob("SELECT WHERE {", solution_type=JSON))
    with pytest.raises(NotAcceptable):
        pool.run(QueryJob("CONSTRUCT WHERE { ?s ?p ?o }", solution_type=JSON, graph_type=None))


def test_result_limit_truncates_and_says_so(tmp_path: Path, store: GraphStore, pool: ReaderPool):
    data = tmp_path / "d.nt"
    data.write_text("".join(f"<urn:s{i}> <urn:p> <urn:o{i}> .\n" for i in range(5)))
    store.load_files([data])
    capped = pool.run(QueryJob("SELECT * WHERE { ?s ?p ?o }", solution_type="text/csv", limit=3))
    assert capped.truncated and capped.count == 3
    assert len(capped.body.decode().strip().splitlines()) == 4  # header + 3 rows
    exact = pool.run(QueryJob("SELECT * WHERE { ?s ?p ?o }", solution_type="text/csv", limit=5))
    assert not exact.truncated and exact.count == 5
