"""The forked reader pool: fresh snapshots after writes, hard timeouts, errors carried back."""

from __future__ import annotations

import csv
import io
import json
import os
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pyoxigraph as ox
import pytest

from aimsgraph.errors import InvalidInput, NotAcceptable, QueryTimeout
from aimsgraph.namespaces import PREFIXES
from aimsgraph.sparql import results
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
            store.replace_quads(
                [], [ox.Quad(ox.NamedNode("urn:a"), ox.NamedNode("urn:p"), ox.Literal("1"), ox.NamedNode("urn:g"))]
            )
            half_done.set()
            finish.wait(5)
            store.replace_quads(
                [], [ox.Quad(ox.NamedNode("urn:b"), ox.NamedNode("urn:p"), ox.Literal("2"), ox.NamedNode("urn:g"))]
            )

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


# -- answers written by pyoxigraph's serialisers (issue 18) -------------------------------------

EX = "http://example.org/native/"
XSD = "http://www.w3.org/2001/XMLSchema#"
#: Terms whose writing differs between formats or needs escapes; rows cycle through them.
AWKWARD = [
    ox.Literal('tab\there, line\nbreak, return\r, quote " and backslash \\'),
    ox.Literal('comma, and "quoted"', language="en"),
    ox.Literal("rtl", language="ar", direction=ox.BaseDirection.RTL),
    ox.Literal("42", datatype=ox.NamedNode(XSD + "integer")),
    ox.Literal("-0.5", datatype=ox.NamedNode(XSD + "decimal")),
    ox.Literal("1.0E3", datatype=ox.NamedNode(XSD + "double")),
    ox.Literal("true", datatype=ox.NamedNode(XSD + "boolean")),
    ox.Literal("2026-12-07", datatype=ox.NamedNode(XSD + "date")),
    ox.Literal("custom", datatype=ox.NamedNode(EX + "type")),
    ox.Literal('ünïcødé 💥 },{"x <result> &amp; <<( a )>>'),
    ox.NamedNode(EX + "iri?with=query&amp;#frag"),
    ox.BlankNode("b0"),
]
ROWS = 2_500  # several of the serialisers' 8 KB blocks


def awkward_store() -> ox.Store:
    store = ox.Store()
    graph = ox.NamedNode(EX + "g")
    for i in range(ROWS):
        subject = ox.NamedNode(f"{EX}s{i:05d}")
        store.add(ox.Quad(subject, ox.NamedNode(EX + "p"), AWKWARD[i % len(AWKWARD)], graph))
        if i % 3 == 0:  # ?extra is bound in a third of the rows
            store.add(ox.Quad(subject, ox.NamedNode(EX + "q"), ox.Literal(f"extra {i}"), graph))
    return store


SELECT_ALL = f"SELECT ?s ?o ?extra WHERE {{ ?s <{EX}p> ?o OPTIONAL {{ ?s <{EX}q> ?extra }} }} ORDER BY ?s"
FORMATS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}


def row_by_row(store: ox.Store, query: str, media: str, limit: int) -> tuple[bytes, int, bool]:
    """The answer as the service wrote it before issue 18: rows taken in Python, written by
    ``results.write_solutions``."""
    answer = store.query(query, use_default_graph_as_union=True)
    variables = [v.value for v in answer.variables]
    rows = []
    for solution in answer:
        if len(rows) == limit:
            return results.write_solutions(variables, rows, media), len(rows), True
        rows.append([solution[v] for v in variables])
    return results.write_solutions(variables, rows, media), len(rows), False


def solutions(body: bytes, fmt: ox.QueryResultsFormat, directions: bool = True) -> tuple[list[str], list[tuple]]:
    parsed = ox.parse_query_results(body, format=fmt)
    variables = [v.value for v in parsed.variables]
    return variables, [tuple(s[v] if directions else undirected(s[v]) for v in variables) for s in parsed]


def undirected(term):
    """``term`` without a base direction: the row-by-row JSON and XML writers left it out."""
    if isinstance(term, ox.Literal) and term.direction is not None:
        return ox.Literal(term.value, language=term.language)
    return term


def same_solutions(native: bytes, row_by_row: bytes, fmt: ox.QueryResultsFormat) -> bool:
    if fmt in (ox.QueryResultsFormat.JSON, ox.QueryResultsFormat.XML):
        # pyoxigraph keeps the direction of "rtl"@ar--rtl, which the row-by-row writers lost
        assert (
            ox.Literal("rtl", language="ar", direction=ox.BaseDirection.RTL)
            in {term for row in solutions(native, fmt)[1] for term in row}
            or b"rtl" not in native
        )
        return solutions(native, fmt, directions=False) == solutions(row_by_row, fmt)
    return solutions(native, fmt) == solutions(row_by_row, fmt)


@pytest.mark.parametrize("media", list(FORMATS))
def test_native_answers_equal_the_row_by_row_answers_and_are_valid(media: str):
    store = awkward_store()
    outcome = QueryJob(SELECT_ALL, solution_type=media, limit=100_000).run(store)
    expected, count, truncated = row_by_row(store, SELECT_ALL, media, 100_000)
    assert (outcome.count, outcome.truncated) == (count, truncated) == (ROWS, False)
    if media == "text/csv":  # CSV cannot be read back into terms: the same text, cell for cell
        assert list(csv.reader(io.StringIO(outcome.body.decode()))) == list(csv.reader(io.StringIO(expected.decode())))
    else:
        assert same_solutions(outcome.body, expected, FORMATS[media])
    if media == "application/sparql-results+json":
        document = json.loads(outcome.body)
        assert document["head"]["vars"] == ["s", "o", "extra"] and len(document["results"]["bindings"]) == ROWS
    elif media == "application/sparql-results+xml":
        ns = "{http://www.w3.org/2005/sparql-results#}"
        assert len(ET.fromstring(outcome.body).find(f"{ns}results").findall(f"{ns}result")) == ROWS
    elif media == "text/tab-separated-values":
        assert outcome.body.count(b"\n") == ROWS + 1  # a line per row, line breaks in literals escaped


@pytest.mark.parametrize("media", list(FORMATS))
@pytest.mark.parametrize("limit", [1, 7, 1_000, ROWS - 1, ROWS, ROWS + 1])
def test_the_result_limit_cuts_native_answers_after_the_same_rows(media: str, limit: int):
    store = awkward_store()
    outcome = QueryJob(SELECT_ALL, solution_type=media, limit=limit).run(store)
    expected, count, truncated = row_by_row(store, SELECT_ALL, media, limit)
    assert (outcome.count, outcome.truncated) == (count, truncated) == (min(limit, ROWS), limit < ROWS)
    if media == "text/csv":
        assert outcome.body.decode().count("\r\n") >= count + 1
        assert list(csv.reader(io.StringIO(outcome.body.decode()))) == list(csv.reader(io.StringIO(expected.decode())))
    else:
        assert same_solutions(outcome.body, expected, FORMATS[media])


def test_triple_terms_in_csv_keep_their_unambiguous_form():
    store = ox.Store()
    inner = ox.Triple(ox.NamedNode(EX + "a"), ox.NamedNode(EX + "b"), ox.Literal("c, d"))
    store.add(ox.Quad(ox.NamedNode(EX + "s"), ox.NamedNode(EX + "p"), inner, ox.NamedNode(EX + "g")))
    query = "SELECT ?o WHERE { ?s ?p ?o }"
    outcome = QueryJob(query, solution_type="text/csv").run(store)
    assert outcome.body == row_by_row(store, query, "text/csv", 10)[0]
    assert f'<< <{EX}a> <{EX}b> ""c, d"" >>' in outcome.body.decode()


def test_no_variables_and_no_rows():
    store = awkward_store()
    for media, fmt in FORMATS.items():
        empty = QueryJob(f"SELECT ?s WHERE {{ ?s <{EX}nothing> ?o }}", solution_type=media).run(store)
        assert (empty.count, empty.truncated) == (0, False)
        one = QueryJob("SELECT * WHERE {}", solution_type=media).run(store)
        assert (one.count, one.truncated) == (1, False)
        if fmt != ox.QueryResultsFormat.CSV:
            assert solutions(empty.body, fmt) == (["s"], [])
            assert solutions(one.body, fmt) == ([], [()])


@pytest.mark.parametrize("media", list(results.GRAPH_TYPES))
def test_construct_answers_are_pyoxigraphs_and_the_limit_cuts_them(media: str):
    store = awkward_store()
    query = f"CONSTRUCT {{ ?s <{EX}p> ?o }} WHERE {{ ?s <{EX}p> ?o }}"
    everything = list(store.query(query, use_default_graph_as_union=True))
    whole = QueryJob(query, graph_type=media, prefixes=PREFIXES).run(store)
    assert (whole.count, whole.truncated) == (ROWS, False)
    assert whole.body == results.write_graph(everything, media, PREFIXES)
    cut = QueryJob(query, graph_type=media, limit=10, prefixes=PREFIXES).run(store)
    assert (cut.count, cut.truncated) == (10, True)
    parsed = [q.triple for q in ox.parse(cut.body, format=results.GRAPH_TYPES[media])]
    assert len(parsed) == 10 and set(parsed) <= set(everything)


def test_a_huge_answer_stops_being_evaluated_at_the_limit():
    """The serialiser is stopped at the first row past the limit, and the evaluation with it: a
    cross product of 25 million rows answers its first rows at once."""
    store = ox.Store()
    for i in range(5_000):
        store.add(ox.Quad(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(EX + "p"), ox.Literal(str(i)), ox.NamedNode(EX + "g")))
    started = time.perf_counter()
    for media in (*FORMATS, "application/n-triples"):
        if media in FORMATS:
            outcome = QueryJob("SELECT * WHERE { ?a ?p ?b . ?c ?q ?d }", solution_type=media, limit=100).run(store)
        else:
            outcome = QueryJob("CONSTRUCT { ?a ?p ?d } WHERE { ?a ?p ?b . ?c ?q ?d }", graph_type=media, limit=100).run(store)
        assert (outcome.count, outcome.truncated) == (100, True)
    assert time.perf_counter() - started < 10
