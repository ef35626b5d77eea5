"""The external engine: aimsgraph over a real Oxigraph server (``oxigraph serve`` from the PyPI
package ``oxigraph``) on loopback, instead of its embedded store.

The integration tests of the SPARQL protocol, the REST API and the write path that reach the
store are imported from their modules and run here again, with their fixtures meaning services
whose store is the Oxigraph server: ``server`` a real ``aimsgraph serve`` (the protocol tests and
their clients), ``app`` and ``writer_app`` apps in this process (the REST API and the writes). Left out: tests of layers in front of the
store (result formats and negotiation, parameter checks, tokens, the SERVICE allow-list), which
answer the same whatever the store, and of things only the embedded store does (the forked
readers' CPU accounting, kill -9 durability of the local files, the validation gate).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from aimsgraph.config import Settings
from conftest import LiveServer, free_port, serving, start_server
from test_api import (  # noqa: F401 - collected and run here against the external store
    test_named_queries_are_listed_and_run_with_negotiation,
    test_soa_in_json_csv_and_html,
    test_validate_changed_nodes_and_report_formats,
    test_validate_the_store_then_filter_findings,
)
from test_protocol import (  # noqa: F401
    test_default_graph_uri_restricts_the_default_graph,
    test_from_in_the_query_chooses_its_default_graph,
    test_get_post_form_and_post_direct_give_the_same_answer,
    test_malformed_query_is_a_400_with_a_readable_message,
    test_named_graph_uri_limits_graph_patterns,
    test_rdflib_sparqlstore_runs_the_same_queries,
    test_select_lists_the_demo_ai_systems,
    test_select_returns_the_38_annex_a_controls,
)
from test_writes import (  # noqa: F401
    ENV,
    ask,
    auth,
    test_concurrent_updates_are_all_kept_and_each_recorded,
    test_graph_store_default_is_the_data_graph,
    test_graph_store_lifecycle,
    test_history_and_diff_between_two_times,
    test_malformed_update_is_400_and_changes_nothing,
    test_post_to_the_store_creates_a_graph,
    test_snapshot_rebuilds_the_graph_as_it_was,
    test_spreadsheet_import_checks_every_row_and_is_all_or_nothing,
    test_update_as_form_and_as_body_writes_and_names_its_change,
    test_update_failing_halfway_changes_nothing,
    test_using_graph_uri_restricts_the_where_clause,
    update,
    writer,
)

OXIGRAPH = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which("oxigraph")
DEMO = "https://data.meridian.example/aims/"
EX = "http://example.org/external/"


class OxigraphServer:
    """``oxigraph serve --union-default-graph`` on a free loopback port."""

    def __init__(self, location: Path, union: bool = True) -> None:
        assert OXIGRAPH, "the oxigraph command (PyPI package oxigraph, a test dependency) is missing"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.query_url = self.url + "/query"
        command = [OXIGRAPH, "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"]
        self.process = subprocess.Popen(
            command + (["--union-default-graph"] if union else []), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/query", params={"query": "ASK {}"}, timeout=1).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("oxigraph serve did not start")

    def env(self) -> dict[str, str]:
        return {"AIMSGRAPH_REMOTE_QUERY_URL": self.url + "/query", "AIMSGRAPH_REMOTE_UPDATE_URL": self.url + "/update"}

    def count(self, graph: str) -> int:
        answer = requests.post(
            self.url + "/query",
            data={"query": f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"},
            headers={"Accept": "application/sparql-results+json"},
            timeout=30,
        )
        return int(answer.json()["results"]["bindings"][0]["n"]["value"])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def oxigraph(tmp_path_factory):
    store = OxigraphServer(tmp_path_factory.mktemp("oxigraph"))
    yield store
    store.stop()


@pytest.fixture(scope="module")
def engine(oxigraph):
    """The external store the fixtures below use (tests/test_external_virtuoso.py: Virtuoso)."""
    return oxigraph


@pytest.fixture(scope="module")
def server(engine, tmp_path_factory):
    """As conftest's ``server`` (demo, 3 s timeout, read-only), over the external store."""
    live = start_server(tmp_path_factory.mktemp("unused-read"), AIMSGRAPH_QUERY_TIMEOUT="3", **engine.env())
    yield live
    live.stop()


def external_app(engine, data_dir: Path, **environ: str) -> Iterator[Flask]:
    with serving(Settings.from_env({**environ, **engine.env()}, data_dir=data_dir)) as app:
        yield app


@pytest.fixture(scope="module")
def app(server, engine, tmp_path_factory) -> Iterator[Flask]:
    """As conftest's ``app`` (demo, 3 s timeout), in this process, over the external store
    (after ``server``, which loaded the demo into it)."""
    yield from external_app(engine, tmp_path_factory.mktemp("unused-app"), AIMSGRAPH_QUERY_TIMEOUT="3")


@pytest.fixture(scope="module")
def writer_app(server, engine, tmp_path_factory) -> Iterator[Flask]:
    """As test_writes' ``writer_app`` (tokens, small upload limit), over the same external store."""
    yield from external_app(engine, tmp_path_factory.mktemp("unused-write"), **ENV)


def test_the_nodes_a_change_affects_are_those_the_embedded_store_finds(app: Flask):
    """At an external store the record nodes among a change's neighbours are asked for in one
    query, not one request each: the same nodes as the embedded store's lookups give."""
    import pyoxigraph as ox

    from aimsgraph.http.state import state
    from aimsgraph.namespaces import Graphs
    from aimsgraph.semantics.validation import affected_nodes
    from aimsgraph.store import GraphStore

    remote = state(app).store
    data = ox.NamedNode(Graphs.DATA)
    local = GraphStore(None)
    local.extend(remote.quads(None, None, None, data))
    subjects = sorted({q.subject.value for q in local.quads(None, None, None, data) if isinstance(q.subject, ox.NamedNode)})
    assert len(subjects) > 100
    for subject in [DEMO + "system/card-fraud-detection", *subjects[::40]]:
        assert affected_nodes(remote, [subject]) == affected_nodes(local, [subject]), subject


def test_the_service_keeps_no_state_of_its_own(engine, server, tmp_path):
    """The demo went into the external store, and the service's data directory stays empty."""
    assert engine.count("https://w3id.org/aimsgraph/graph/data") > 4000
    assert engine.count("https://w3id.org/aimsgraph/graph/inferred") > 0
    assert not any(server.data_dir.iterdir()) if server.data_dir.exists() else True


def test_a_second_instance_sees_the_first_ones_writes_at_once(engine, writer: FlaskClient, tmp_path_factory):  # noqa: F811
    """Two instances behind a load balancer: a write through one shows in the other's SPARQL,
    impact analysis and derived graphs (its caches follow the shared generation). The other is a
    process of its own, so that nothing but the external store can carry the write to it."""
    other = start_server(tmp_path_factory.mktemp("second"), **ENV, **engine.env())
    try:
        model = DEMO + "model/extra-external-model"
        system = DEMO + "system/card-fraud-detection"
        before = requests.post(
            other.url + "/api/impact", json={"node": DEMO + "supplier/aurora-ai", "change": "supplier-exit"}, timeout=60
        )
        assert before.ok
        written = update(
            writer,
            f"""PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
            INSERT DATA {{ <{model}> a aims:Model ; <http://www.w3.org/2000/01/rdf-schema#label> "Extra" ;
                           aims:suppliedBy <{DEMO}supplier/aurora-ai> . <{system}> aims:usesModel <{model}> . }}""",
        )
        assert written.status_code == 200, written.text
        seen = requests.post(
            other.sparql,
            data={"query": f"ASK {{ <{system}> <https://w3id.org/aimsgraph/ontology#usesModel> <{model}> }}"},
            headers={"Accept": "application/sparql-results+json"},
            timeout=30,
        )
        assert seen.json()["boolean"]
        after = requests.post(
            other.url + "/api/impact", json={"node": DEMO + "supplier/aurora-ai", "change": "supplier-exit"}, timeout=60
        )
        affected = {a["iri"] for a in after.json()["affected"]}
        assert {model, system} <= affected
        assert system not in {a["iri"] for a in before.json()["affected"]}
    finally:
        other.stop()


def test_a_write_is_one_request_to_the_external_store(engine, writer: FlaskClient):  # noqa: F811
    """All or nothing at the remote: the journal entry, the change and its commit mark arrive
    together, so no instance ever sees a change without its trail (or the reverse)."""
    subject = f"<{EX}atomic>"
    assert update(writer, f"INSERT DATA {{ {subject} <{EX}p> 1 }}").status_code == 200
    history = writer.get("/api/changes", query_string={"resource": EX + "atomic"}, headers=auth("reader"))
    [change] = history.get_json()["changes"]
    assert change["operation"] and change["agent"] == "editor-user"
    answer = requests.post(
        engine.query_url,
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
        data={
            "query": "PREFIX aims: <https://w3id.org/aimsgraph/ontology#> ASK { GRAPH ?g { ?c aims:changeCommitted true ; "
            f"aims:changedResource {subject} }} }}"
        },
    )
    assert answer.json()["boolean"]


def test_an_unreachable_external_store_is_a_clear_startup_error(tmp_path):
    port = free_port()
    env = {
        "AIMSGRAPH_REMOTE_QUERY_URL": f"http://127.0.0.1:{port}/query",
        "AIMSGRAPH_REMOTE_UPDATE_URL": f"http://127.0.0.1:{port}/update",
    }
    with pytest.raises(RuntimeError, match="cannot reach the external store"):
        start_server(tmp_path / "db", **env)


def test_a_store_without_a_union_default_graph_is_refused(tmp_path):
    plain = OxigraphServer(tmp_path / "plain", union=False)
    try:
        with pytest.raises(RuntimeError, match="union of its named graphs"):
            start_server(tmp_path / "db", **plain.env())
    finally:
        plain.stop()


def test_half_configured_external_store_is_a_config_error(tmp_path):
    with pytest.raises(RuntimeError, match="AIMSGRAPH_REMOTE_UPDATE_URL"):
        start_server(tmp_path / "db", AIMSGRAPH_REMOTE_QUERY_URL="http://127.0.0.1:1/query")


def test_a_slow_remote_query_gets_503_at_the_timeout(server: LiveServer):
    started = time.monotonic()
    answer = requests.post(
        server.sparql, timeout=60, data={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"}
    )
    assert answer.status_code == 503
    assert time.monotonic() - started < 10


def test_named_query_parameters_are_bound_at_the_external_store(server: LiveServer):
    answer = requests.get(
        server.url + "/api/queries/why-risk",
        params={"asset": DEMO + "system/collections-prioritisation"},
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    )
    rows = answer.json()["results"]["bindings"]
    sources = {row["sourceRisk"]["value"]: row["distance"]["value"] for row in rows}
    assert sources[DEMO + "risk/customer-transactions-quality"] == "2"
    overdue = requests.get(
        server.url + "/api/queries/overdue-reviews",
        params={"asOf": "2026-07-01"},
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    ).json()
    assert {row["today"]["value"] for row in overdue["results"]["bindings"]} == {"2026-07-01"}


def test_the_web_pages_render_over_the_external_store(server: LiveServer):
    for path in (
        "/",
        "/heatmap?likelihood=3&severity=4",
        "/findings",
        "/soa",
        "/impact?change=data-change&node=" + DEMO + "dataset/customer-transactions",
    ):
        page = requests.get(server.url + path, headers={"Accept": "text/html"}, timeout=60)
        assert page.status_code == 200, path
    assert "AIR-035" in requests.get(server.url + "/heatmap?likelihood=3&severity=4", timeout=60).text


def test_parameters_bind_at_the_start_of_the_outermost_group():
    import pyoxigraph as ox

    from aimsgraph.store.remote import bind_values

    query = "PREFIX ex: <http://ex/#x> # a { in a comment\nSELECT ?a WHERE { BIND(COALESCE(?d, 1) AS ?a) }"
    bound = bind_values(
        query, {ox.Variable("d"): ox.Literal("2026-01-01", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#date"))}
    )
    assert 'WHERE { VALUES (?d) { ("2026-01-01"^^<http://www.w3.org/2001/XMLSchema#date>) }  BIND' in bound
    store = ox.Store()
    assert [row["a"].value for row in store.query(bound)] == ["2026-01-01"]


def test_the_dataset_clause_is_read_with_prefixes_and_base():
    from aimsgraph.sparql.guard import dataset_clause

    text = "BASE <http://b/> PREFIX g: <http://g/> SELECT * FROM <x> FROM g:one FROM NAMED g:two FROM NAMED <y> { ?s ?p ?o }"
    assert dataset_clause(text) == (["http://b/x", "http://g/one"], ["http://g/two", "http://b/y"])
    assert dataset_clause("SELECT * { ?s <http://from/p> 'FROM <no>' }") == ([], [])
