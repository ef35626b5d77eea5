"""SPARQL 1.1 Protocol behaviour of /sparql, exercised over HTTP against a real server."""

from __future__ import annotations

import csv
import io
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import rdflib
import requests
from rdflib.plugins.stores.sparqlstore import SPARQLStore

from conftest import FreshDataDir, LiveServer, free_port, serving, start_server

AIMS = "https://w3id.org/aimsgraph/ontology#"
SYSTEMS = f"SELECT ?s ?label WHERE {{ ?s a <{AIMS}AISystem> ; <http://www.w3.org/2000/01/rdf-schema#label> ?label }} ORDER BY ?s"
CONTROLS = f"""PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?control ?id WHERE {{ ?control a <{AIMS}ReferenceControl> ; skos:notation ?id }} ORDER BY ?id"""
CONSTRUCT = f"CONSTRUCT {{ ?c ?p ?o }} WHERE {{ ?c a <{AIMS}ReferenceControl> ; ?p ?o }}"
CPU_BOUND = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
SPARQL_JSON = "application/sparql-results+json"


def get(server: LiveServer, query: str, accept: str | None = SPARQL_JSON, **params) -> requests.Response:
    headers = {"Accept": accept} if accept else {}
    return requests.get(server.sparql, params={"query": query, **params}, headers=headers, timeout=30)


# -- the acceptance queries ---------------------------------------------------------------


def test_select_lists_the_demo_ai_systems(server: LiveServer):
    rows = server.select(SYSTEMS)
    assert len(rows) >= 8
    labels = " ".join(row["label"].lower() for row in rows)
    for expected in ("credit", "fraud", "cv", "customer service", "ocr"):
        assert expected in labels


def test_select_returns_the_38_annex_a_controls(server: LiveServer):
    rows = server.select(CONTROLS)
    assert len(rows) == 38
    assert {row["id"] for row in rows} >= {"A.2.2", "A.6.2.4", "A.10.4"}


def test_rdflib_sparqlstore_runs_the_same_queries(server: LiveServer):
    graph = rdflib.Graph(store=SPARQLStore(server.sparql))
    systems = list(graph.query(SYSTEMS))
    controls = list(graph.query(CONTROLS))
    assert [str(r.s) for r in systems] == [row["s"] for row in server.select(SYSTEMS)]
    assert len(controls) == 38
    assert graph.query(f"ASK {{ ?c a <{AIMS}ReferenceControl> }}").askAnswer is True
    constructed = graph.query(CONSTRUCT).graph
    assert len(set(constructed.subjects())) == 38


# -- request forms -------------------------------------------------------------------------


def test_get_post_form_and_post_direct_give_the_same_answer(server: LiveServer):
    by_get = get(server, CONTROLS).json()
    by_form = requests.post(server.sparql, data={"query": CONTROLS}, headers={"Accept": SPARQL_JSON}, timeout=30).json()
    by_body = requests.post(
        server.sparql,
        data=CONTROLS.encode(),
        headers={"Content-Type": "application/sparql-query", "Accept": SPARQL_JSON},
        timeout=30,
    ).json()
    assert by_get == by_form == by_body
    assert len(by_get["results"]["bindings"]) == 38


def test_default_graph_uri_restricts_the_default_graph(server: LiveServer):
    count = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?c a <{AIMS}ReferenceControl> }}"
    in_catalogue = get(server, count, **{"default-graph-uri": "https://w3id.org/aimsgraph/graph/catalogue"})
    in_data = get(server, count, **{"default-graph-uri": "https://w3id.org/aimsgraph/graph/data"})
    assert in_catalogue.json()["results"]["bindings"][0]["n"]["value"] == "38"
    assert in_data.json()["results"]["bindings"][0]["n"]["value"] == "0"


def test_default_graph_uri_on_a_direct_post(server: LiveServer):
    count = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?c a <{AIMS}ReferenceControl> }}"
    response = requests.post(
        server.sparql,
        params={"default-graph-uri": "https://w3id.org/aimsgraph/graph/ontology"},
        data=count.encode(),
        headers={"Content-Type": "application/sparql-query", "Accept": SPARQL_JSON},
        timeout=30,
    )
    assert response.json()["results"]["bindings"][0]["n"]["value"] == "0"


def test_named_graph_uri_limits_graph_patterns(server: LiveServer):
    query = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g"
    everything = {row["g"] for row in server.select(query)}
    assert {"https://w3id.org/aimsgraph/graph/catalogue", "https://w3id.org/aimsgraph/graph/data"} <= everything
    only = get(server, query, **{"named-graph-uri": "https://w3id.org/aimsgraph/graph/catalogue"})
    assert [b["g"]["value"] for b in only.json()["results"]["bindings"]] == ["https://w3id.org/aimsgraph/graph/catalogue"]


def test_from_in_the_query_chooses_its_default_graph(server: LiveServer):
    count = "SELECT (COUNT(*) AS ?n) FROM <%s> WHERE { ?s ?p ?o }"
    empty = server.select(count % "https://example.org/no-such-graph")
    catalogue = server.select(count % "https://w3id.org/aimsgraph/graph/catalogue")
    everything = server.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert empty == [{"n": "0"}]
    assert 0 < int(catalogue[0]["n"]) < int(everything[0]["n"])
    # ...unless the request names the dataset, which takes precedence (Protocol 2.1.4).
    overridden = get(
        server, count % "https://example.org/no-such-graph", **{"default-graph-uri": "https://w3id.org/aimsgraph/graph/catalogue"}
    )
    assert overridden.json()["results"]["bindings"][0]["n"]["value"] == catalogue[0]["n"]


def test_relative_iris_resolve_against_the_endpoint(server: LiveServer):
    rows = server.select("SELECT ?x WHERE { BIND(<relative/thing> AS ?x) }")
    assert rows == [{"x": server.sparql.rsplit("/", 1)[0] + "/relative/thing"}]


# -- result formats and content negotiation ----------------------------------------------------


def test_select_in_json_xml_csv_and_tsv(server: LiveServer):
    query = CONTROLS + " LIMIT 3"
    as_json = get(server, query, SPARQL_JSON)
    assert as_json.headers["Content-Type"].startswith(SPARQL_JSON)
    ids = [b["id"]["value"] for b in as_json.json()["results"]["bindings"]]

    as_xml = get(server, query, "application/sparql-results+xml")
    assert as_xml.headers["Content-Type"].startswith("application/sparql-results+xml")
    ns = {"r": "http://www.w3.org/2005/sparql-results#"}
    root = ET.fromstring(as_xml.content)
    assert [e.text for e in root.findall(".//r:binding[@name='id']/r:literal", ns)] == ids

    as_csv = get(server, query, "text/csv")
    assert as_csv.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["id"] for r in rows] == ids

    as_tsv = get(server, query, "text/tab-separated-values")
    lines = as_tsv.text.strip().split("\n")
    assert lines[0] == "?control\t?id"
    assert [line.split("\t")[1] for line in lines[1:]] == [f'"{i}"' for i in ids]


def test_results_parse_with_rdflib_result_parsers(server: LiveServer):
    query = CONTROLS + " LIMIT 5"
    for media, fmt in [
        (SPARQL_JSON, "json"),
        ("application/sparql-results+xml", "xml"),
        ("text/csv", "csv"),
        ("text/tab-separated-values", "tsv"),
    ]:
        parsed = rdflib.query.Result.parse(io.BytesIO(get(server, query, media).content), format=fmt)
        assert len(list(parsed)) == 5, media


def test_ask_in_json_and_xml(server: LiveServer):
    ask = f"ASK {{ ?c a <{AIMS}ReferenceControl> }}"
    assert get(server, ask).json() == {"head": {}, "boolean": True}
    assert b"<boolean>true</boolean>" in get(server, ask, "application/sparql-results+xml").content


@pytest.mark.parametrize(
    "media,rdflib_format",
    [
        ("text/turtle", "turtle"),
        ("application/n-triples", "nt"),
        ("application/ld+json", "json-ld"),
        ("application/rdf+xml", "xml"),
        ("application/trig", "trig"),
        ("application/n-quads", "nquads"),
    ],
)
def test_construct_in_every_rdf_format(server: LiveServer, media: str, rdflib_format: str):
    response = get(server, CONSTRUCT, media)
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == media
    graph = rdflib.Dataset() if rdflib_format in ("trig", "nquads") else rdflib.Graph()
    graph.parse(data=response.content, format=rdflib_format)
    subjects = (
        {s for s, _, _ in graph.triples((None, None, None))}
        if rdflib_format not in ("trig", "nquads")
        else {q[0] for q in graph.quads((None, None, None, None))}
    )
    assert len(subjects) == 38


def test_describe_returns_turtle_by_default(server: LiveServer):
    response = get(server, "DESCRIBE <https://w3id.org/aimsgraph/iso42001/A.6.2.4>", accept=None)
    assert response.headers["Content-Type"].startswith("text/turtle")
    graph = rdflib.Graph().parse(data=response.text, format="turtle")
    assert (
        rdflib.URIRef("https://w3id.org/aimsgraph/iso42001/A.6.2.4"),
        rdflib.SKOS.notation,
        rdflib.Literal("A.6.2.4"),
    ) in graph


def test_negotiation_honours_q_values_and_wildcards(server: LiveServer):
    query = CONTROLS + " LIMIT 1"
    prefers_csv = get(server, query, "application/sparql-results+json;q=0.5, text/csv;q=0.9")
    assert prefers_csv.headers["Content-Type"].startswith("text/csv")
    wildcard = get(server, query, "text/*")
    assert wildcard.headers["Content-Type"].split(";")[0] in ("text/csv", "text/tab-separated-values")
    anything = get(server, query, "*/*")
    assert anything.headers["Content-Type"].startswith(SPARQL_JSON)
    refused_json = get(server, query, "application/sparql-results+json;q=0, */*;q=0.1")
    assert not refused_json.headers["Content-Type"].startswith(SPARQL_JSON)
    assert "Accept" in anything.headers["Vary"]


def test_406_when_no_format_fits(server: LiveServer):
    response = get(server, CONTROLS, "image/png")
    assert response.status_code == 406
    assert "Accept" in response.text or "format" in response.text
    construct_as_csv = get(server, CONSTRUCT, "text/csv")
    assert construct_as_csv.status_code == 406


# -- errors ----------------------------------------------------------------------------------


def test_malformed_query_is_a_400_with_a_readable_message(server: LiveServer):
    response = get(server, "SELECT ?s WHERE { ?s ?p }")
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "syntax" in response.text.lower()


def test_bad_parameters_are_400(server: LiveServer):
    two_queries = requests.get(server.sparql, params=[("query", "ASK {}"), ("query", "ASK {}")], timeout=10)
    assert two_queries.status_code == 400 and "exactly one" in two_queries.text
    relative_graph = get(server, "ASK {}", **{"default-graph-uri": "not an iri"})
    assert relative_graph.status_code == 400 and "default-graph-uri" in relative_graph.text
    empty_form = requests.post(server.sparql, data={"nothing": "x"}, timeout=10)
    assert empty_form.status_code == 400 and "query" in empty_form.text
    update_by_get = requests.get(server.sparql, params={"update": "CLEAR ALL"}, timeout=10)
    assert update_by_get.status_code == 400 and "GET" in update_by_get.text
    update_as_query = get(server, "CLEAR ALL")
    assert update_as_query.status_code == 400 and "Update" in update_as_query.text


def test_update_without_configured_tokens_is_refused(server: LiveServer):
    """The default service has no tokens: it is read-only, and says how to change that."""
    before = server.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    for response in (
        requests.post(server.sparql, data={"update": "CLEAR ALL"}, timeout=10),
        requests.post(server.sparql, data=b"CLEAR ALL", headers={"Content-Type": "application/sparql-update"}, timeout=10),
    ):
        assert response.status_code == 401
        assert "AIMSGRAPH_TOKENS" in response.text
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert server.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }") == before


def test_unsupported_content_type_is_415(server: LiveServer):
    response = requests.post(server.sparql, data=b"ASK {}", headers={"Content-Type": "text/plain"}, timeout=10)
    assert response.status_code == 415
    assert "application/sparql-query" in response.text


def test_oversized_body_is_413(server: LiveServer):
    huge = "ASK {}" + " " * 2_000_000
    response = requests.post(server.sparql, data=huge.encode(), headers={"Content-Type": "application/sparql-query"}, timeout=30)
    assert response.status_code == 413


def test_other_methods_are_405(server: LiveServer):
    response = requests.put(server.sparql, data=b"x", timeout=10)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


# -- service description and CORS ------------------------------------------------------------


def test_service_description_without_a_query(server: LiveServer):
    response = requests.get(server.sparql, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/turtle")
    graph = rdflib.Graph().parse(data=response.text, format="turtle")
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    service = next(graph.subjects(rdflib.RDF.type, sd.Service))
    assert (service, sd.endpoint, rdflib.URIRef(server.sparql)) in graph
    assert (service, sd.supportedLanguage, sd.SPARQL11Query) in graph
    assert (service, sd.feature, sd.UnionDefaultGraph) in graph
    names = set(graph.objects(None, sd.name))
    assert rdflib.URIRef("https://w3id.org/aimsgraph/graph/catalogue") in names
    as_jsonld = requests.get(server.sparql, headers={"Accept": "application/ld+json"}, timeout=10)
    assert as_jsonld.headers["Content-Type"].startswith("application/ld+json")
    json.loads(as_jsonld.text)


def test_cors_preflight_allows_authorization(server: LiveServer):
    response = requests.options(
        server.sparql,
        headers={
            "Origin": "https://yasgui.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
        timeout=10,
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    actual = requests.get(server.sparql, params={"query": "ASK {}"}, headers={"Origin": "https://yasgui.example"}, timeout=10)
    assert actual.headers["Access-Control-Allow-Origin"] == "*"


# -- guards: SERVICE/LOAD, timeout, result cap ---------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * WHERE { SERVICE <http://169.254.169.254/latest/meta-data/> { ?s ?p ?o } }",
        "PREFIX internal: <http://10.0.0.1/> SELECT * WHERE { SERVICE SILENT internal:sparql { ?s ?p ?o } }",
        "SELECT * WHERE { BIND(<http://127.0.0.1:1/sparql> AS ?e) SERVICE ?e { ?s ?p ?o } }",
        "BASE <http://internal.example/> select * where { service <sparql> { ?s ?p ?o } }",
        # '<' as an operator followed by a quote once fooled the token scanner.
        "SELECT * WHERE { BIND(1<'>' AS ?z) SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } BIND('x' AS ?y) }",
    ],
)
def test_service_to_a_host_off_the_allow_list_is_refused(server: LiveServer, query: str):
    response = get(server, query)
    assert response.status_code == 403
    assert "AIMSGRAPH_SERVICE_ALLOWLIST" in response.text


def test_service_keyword_inside_a_string_is_not_a_call(server: LiveServer):
    rows = server.select('SELECT ?x WHERE { BIND("SERVICE <http://10.0.0.1/>" AS ?x) } # SERVICE <http://x/>')
    assert rows == [{"x": "SERVICE <http://10.0.0.1/>"}]


def _child_stats(pid: int) -> dict[int, list[str]]:
    """The /proc stat fields (after the command name) of each live child process of ``pid``."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            children[int(stat.parent.name)] = fields
    return children


def _children(pid: int) -> list[int]:
    return list(_child_stats(pid))


def _children_cpu_seconds(pid: int) -> float:
    """CPU time (user + system, in 1/100 s ticks) of the live children of ``pid``."""
    return sum(int(f[11]) + int(f[12]) for f in _child_stats(pid).values()) / 100.0


def test_cpu_bound_query_is_stopped_by_the_timeout(server: LiveServer):
    started = time.monotonic()
    response = get(server, CPU_BOUND)
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert "timeout" in response.text.lower() or "stopped" in response.text.lower()
    assert elapsed < 10  # timeout is 3 s
    # The evaluation itself is stopped, not abandoned: no child keeps burning CPU.
    before = _children_cpu_seconds(server.process.pid)
    time.sleep(1.0)
    after = _children_cpu_seconds(server.process.pid)
    assert after - before < 0.3
    # And the service still answers.
    assert len(server.select(CONTROLS)) == 38


CLOSED_PORT = free_port()  # nothing listens here: an allowed SERVICE call fails fast, on loopback
ALLOWED_ENDPOINT = f"http://127.0.0.1:{CLOSED_PORT}/sparql"


@pytest.fixture(scope="module")
def capped_server(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir):
    live = start_server(
        fresh_data_dir(tmp_path_factory.mktemp("capped"), demo=False),
        AIMSGRAPH_RESULT_LIMIT="10",
        AIMSGRAPH_DEMO="false",
        AIMSGRAPH_SERVICE_ALLOWLIST=ALLOWED_ENDPOINT,
    )
    yield live
    live.stop()


def test_result_cap_is_announced(capped_server: LiveServer):
    response = get(capped_server, CONTROLS)
    assert response.status_code == 200
    assert len(response.json()["results"]["bindings"]) == 10
    assert response.headers["X-Aimsgraph-Result-Truncated"] == "10"
    assert "truncated" in response.headers["Warning"]
    small = get(capped_server, CONTROLS + " LIMIT 10")
    assert "X-Aimsgraph-Result-Truncated" not in small.headers
    constructed = get(capped_server, CONSTRUCT, "application/n-triples")
    assert len(constructed.text.strip().split("\n")) == 10
    assert constructed.headers["X-Aimsgraph-Result-Truncated"] == "10"
    again = get(capped_server, CONTROLS)  # the same query again: from the result cache, still cut and said so
    assert again.content == response.content and again.headers["X-Aimsgraph-Result-Truncated"] == "10"


def test_allow_list_admits_only_its_own_endpoint(capped_server: LiveServer):
    lookalike = get(capped_server, f"SELECT * WHERE {{ SERVICE <{ALLOWED_ENDPOINT}x> {{ ?s ?p ?o }} }}")
    assert lookalike.status_code == 403
    # The allowed endpoint passes the guard; nothing listens there, so the call itself fails
    # with a clear error (502), and SILENT turns that into one empty solution.
    down = get(capped_server, f"SELECT * WHERE {{ SERVICE <{ALLOWED_ENDPOINT}> {{ ?s ?p ?o }} }}")
    assert down.status_code == 502
    assert "SERVICE" in down.text
    silent = get(capped_server, f"SELECT * WHERE {{ SERVICE SILENT <{ALLOWED_ENDPOINT}> {{ ?s ?p ?o }} }}")
    assert silent.status_code == 200
    assert silent.json()["results"]["bindings"] == [{}]


def test_readers_die_with_the_server_and_free_its_port(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir):
    live = start_server(fresh_data_dir(tmp_path_factory.mktemp("killed")), AIMSGRAPH_QUERY_TIMEOUT="60")
    port = int(live.url.rsplit(":", 1)[1])
    try:
        import threading

        threading.Thread(target=lambda: _quietly(lambda: get(live, CPU_BOUND)), daemon=True).start()
        deadline = time.monotonic() + 10
        while not (readers := _children(live.process.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert readers, "the query should be running in a reader process"
        live.process.kill()
        live.process.wait()
        deadline = time.monotonic() + 5
        while any(Path(f"/proc/{pid}").exists() for pid in readers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [
            pid
            for pid in readers
            if Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        ]
        import socket

        with socket.socket() as sock:  # nobody holds the listening port any more
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
    finally:
        live.stop()


def _quietly(call) -> None:
    try:
        call()
    except requests.RequestException:
        pass


# -- the result cache (issue 18) -----------------------------------------------------------------

CACHE_TOKEN = "cache-editor-token-0123456789"
COUNT_THINGS = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <https://w3id.org/aimsgraph/graph/data> { ?s a <urn:thing> } }"


def _app_with_a_result_cache(data_dir: Path):
    from aimsgraph.config import Settings

    settings = Settings(
        data_dir=data_dir, demo=False, tokens=(f"editor:cache-editor:{CACHE_TOKEN}",), result_cache_bytes=1_048_576
    )
    with serving(settings) as app:
        yield app


@pytest.fixture()
def cached_app(tmp_path: Path, fresh_data_dir: FreshDataDir):
    yield from _app_with_a_result_cache(fresh_data_dir(tmp_path / "store", demo=False))


@pytest.fixture(scope="module")
def uncached_answers_app(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir):
    """One app for the answers that must never be cached: each test finds its cache still empty."""
    yield from _app_with_a_result_cache(fresh_data_dir(tmp_path_factory.mktemp("uncached") / "store", demo=False))


def _post_query(client, text: str, **headers):
    return client.post(
        "/sparql", data=text, headers={"Content-Type": "application/sparql-query", "Accept": SPARQL_JSON, **headers}
    )


def _count(response) -> int:
    assert response.status_code == 200, response.text
    return int(response.json["results"]["bindings"][0]["n"]["value"])


def test_a_repeated_query_is_answered_from_the_cache_until_the_next_write(cached_app):
    from aimsgraph.http.protocol import RESULT_CACHE

    client = cached_app.test_client()
    assert _count(_post_query(client, COUNT_THINGS)) == 0
    answers = cached_app.extensions[RESULT_CACHE]
    assert _count(_post_query(client, COUNT_THINGS)) == 0
    assert answers.hits == 1
    inserted = client.post(
        "/update",
        data="INSERT DATA { GRAPH <https://w3id.org/aimsgraph/graph/data> { <urn:a> a <urn:thing> } }",
        headers={"Content-Type": "application/sparql-update", "Authorization": f"Bearer {CACHE_TOKEN}"},
    )
    assert inserted.status_code in (200, 204), inserted.text
    assert _count(_post_query(client, COUNT_THINGS)) == 1  # the write made the cached answer stale
    assert answers.hits == 1
    assert cached_app.extensions["aimsgraph"].refresher.settle(60)  # its refresh writes derived graphs too
    assert _count(_post_query(client, COUNT_THINGS)) == 1
    hits = answers.hits
    assert _count(_post_query(client, COUNT_THINGS)) == 1 and answers.hits == hits + 1
    # another format, limit or dataset is another answer
    csv_answer = _post_query(client, COUNT_THINGS, Accept="text/csv")
    assert csv_answer.status_code == 200 and csv_answer.data.splitlines() == [b"n", b"1"]
    assert answers.hits == hits + 1


@pytest.mark.parametrize(
    "query",
    [
        "SELECT (NOW() AS ?t) WHERE {}",
        "SELECT (rand() AS ?r) WHERE {}",
        "SELECT (STRUUID() AS ?u) WHERE {}",
        "SELECT (BNODE() AS ?b) WHERE {}",
        "CONSTRUCT { _:x <urn:p> ?s } WHERE { ?s ?p ?o } LIMIT 1",
        "CONSTRUCT { [] <urn:p> ?s } WHERE { ?s ?p ?o } LIMIT 1",
    ],
)
def test_answers_that_change_without_a_write_are_never_cached(uncached_answers_app, query: str):
    from aimsgraph.http.protocol import RESULT_CACHE

    cached_app = uncached_answers_app
    client = cached_app.test_client()
    first = _post_query(client, query, Accept="*/*")
    second = _post_query(client, query, Accept="*/*")
    assert first.status_code == second.status_code == 200
    answers = cached_app.extensions.get(RESULT_CACHE)
    assert answers is None or (answers.hits, len(answers._entries)) == (0, 0)
    if "NOW" not in query and "BNODE" not in query:
        assert first.data != second.data  # fresh random values, UUIDs and blank nodes each time


def test_the_cache_is_bounded_and_drops_stale_entries():
    from aimsgraph.sparql.cache import ENTRY_OVERHEAD, ResultCache, key
    from aimsgraph.sparql.executor import QueryJob, QueryOutcome

    answers = ResultCache(8 * (1000 + ENTRY_OVERHEAD + 20))
    jobs = [QueryJob(f"SELECT {i:08d}", solution_type=SPARQL_JSON) for i in range(20)]
    for job in jobs:
        answers.put(key(job), 1, QueryOutcome(b"x" * 1000, SPARQL_JSON, 1, False))
    assert answers.size <= answers.max_bytes and len(answers._entries) < 20
    assert answers.get(key(jobs[-1]), 1) is not None and answers.get(key(jobs[0]), 1) is None  # oldest out first
    assert answers.get(key(jobs[-1]), 2) is None and key(jobs[-1]) not in answers._entries  # read before a write
    answers.put(key(jobs[0]), 2, QueryOutcome(b"x" * answers.max_bytes, SPARQL_JSON, 1, False))  # too big for one
    assert key(jobs[0]) not in answers._entries


def test_a_cached_answer_still_needs_the_token_when_reads_are_closed(tmp_path: Path, fresh_data_dir: FreshDataDir):
    from aimsgraph.config import Settings

    settings = Settings(
        data_dir=fresh_data_dir(tmp_path / "store", demo=False),
        demo=False,
        open_reads=False,
        tokens=(f"reader:cache-reader:{CACHE_TOKEN}",),
    )
    with serving(settings) as app:
        client = app.test_client()
        assert _count(_post_query(client, COUNT_THINGS, Authorization=f"Bearer {CACHE_TOKEN}")) == 0
        assert _post_query(client, COUNT_THINGS).status_code == 401
