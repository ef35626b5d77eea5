"""The `aimsgraph` command on a real on-disk store, run in this process with click's CliRunner
(exit codes and one-line errors as the console script gives them); beside a real `aimsgraph
serve` process that holds the store, and beside another process that holds it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import rdflib
import requests
from click.testing import Result

from conftest import FreshDataDir, aimsgraph, start_server


def run(*args: str, data_dir: Path) -> Result:
    """``aimsgraph ARGS --data-dir DATA_DIR`` in this process: ``exit_code``, ``stdout``, ``stderr``."""
    return aimsgraph(*args, "--data-dir", data_dir)


def test_load_query_and_export(tmp_path: Path):
    data = tmp_path / "mine.ttl"
    data.write_text(
        "@prefix aims: <https://w3id.org/aimsgraph/ontology#> .\n"
        '<https://example.org/sys/a> a aims:AISystem ; <http://www.w3.org/2000/01/rdf-schema#label> "A" .\n'
    )
    store = tmp_path / "db"
    loaded = run("load", str(data), data_dir=store)
    assert loaded.exit_code == 0, loaded.stderr
    assert "2 triples" in loaded.stdout

    query = tmp_path / "systems.rq"
    query.write_text("SELECT ?s WHERE { ?s a <https://w3id.org/aimsgraph/ontology#AISystem> }")
    as_json = run("query", "-f", str(query), "--format", "json", data_dir=store)
    assert as_json.exit_code == 0, as_json.stderr
    assert [b["s"]["value"] for b in json.loads(as_json.stdout)["results"]["bindings"]] == ["https://example.org/sys/a"]

    inline = run(
        "query", "SELECT (COUNT(*) AS ?n) WHERE { ?c a <https://w3id.org/aimsgraph/ontology#ReferenceControl> }", data_dir=store
    )
    assert inline.stdout.splitlines() == ["n", "38"]

    exported = run("export", "--graph", "https://w3id.org/aimsgraph/graph/data", "--format", "turtle", data_dir=store)
    assert exported.exit_code == 0
    graph = rdflib.Graph().parse(data=exported.stdout, format="turtle")
    assert len(graph) == 2


def test_a_bad_file_fails_with_one_line_and_exit_2_and_loads_nothing(tmp_path: Path):
    good = tmp_path / "good.ttl"
    good.write_text("<urn:a> <urn:p> <urn:b> .\n")
    bad = tmp_path / "bad.ttl"
    bad.write_text('<urn:a> <urn:p> <urn:b> .\n<urn:a> <urn:p> "unterminated .\n')
    store = tmp_path / "db"
    result = run("load", str(good), str(bad), data_dir=store)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.ttl" in lines[0]
    count = run(
        "query", "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <https://w3id.org/aimsgraph/graph/data> { ?s ?p ?o } }", data_dir=store
    )
    assert count.stdout.splitlines() == ["n", "0"]


def test_missing_file_and_bad_query_give_clear_errors(tmp_path: Path):
    store = tmp_path / "db"
    missing = run("load", str(tmp_path / "nope.ttl"), data_dir=store)
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    bad_query = run("query", "SELECT WHERE {", data_dir=store)
    assert bad_query.exit_code == 2 and "syntax" in bad_query.stderr.lower()
    both = run("query", "ASK {}", "-f", __file__, data_dir=store)
    assert both.exit_code == 2 and "exactly one" in both.stderr


def test_a_graph_name_that_is_not_an_iri_is_one_line_and_exit_2(tmp_path: Path):
    data = tmp_path / "a.nt"
    data.write_text("<urn:a> <urn:p> <urn:b> .\n")
    result = run("load", str(data), "--graph", "not an iri", data_dir=tmp_path / "db")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == ["aimsgraph: a graph name must be an absolute IRI, got 'not an iri'"]


def test_a_second_small_load_updates_inferences_incrementally_and_equals_a_full_refresh(tmp_path: Path):
    store = tmp_path / "db"
    first = tmp_path / "first.ttl"
    first.write_text(
        "@prefix aims: <https://w3id.org/aimsgraph/ontology#> .\n@prefix ex: <https://example.org/> .\n"
        "ex:a a aims:AISystem ; aims:usesModel ex:m .\nex:m aims:trainedOn ex:d .\n"
    )
    second = tmp_path / "second.ttl"
    second.write_text(
        "@prefix aims: <https://w3id.org/aimsgraph/ontology#> .\n@prefix ex: <https://example.org/> .\n"
        "ex:b aims:consumesOutputOf ex:a .\nex:d aims:hasRisk ex:r .\nex:r aims:hasRiskSource ex:s .\n"
    )
    assert "(inferences recomputed)" in run("load", str(first), data_dir=store).stdout  # a first load: full refresh
    loaded = run("load", str(second), data_dir=store)
    assert loaded.exit_code == 0, loaded.stderr
    assert "inferences updated" in loaded.stdout

    # a full refresh of the same store gives exactly what the incremental update left
    from aimsgraph.semantics.reasoning import refresh_inferences
    from aimsgraph.store import GraphStore

    opened = GraphStore(store)
    graph = ox.NamedNode("https://w3id.org/aimsgraph/graph/inferred")

    def content() -> set[tuple]:
        return {
            (q.subject, q.predicate, q.object)
            for q in opened.backend.quads_for_pattern(None, None, None, graph)
            if q.subject != graph
        }

    incremental = content()
    refresh_inferences(opened)
    assert incremental == content() and len(incremental) > 20


def test_a_small_load_with_blank_nodes_updates_inferences_and_leaves_no_orphan(tmp_path: Path):
    store = tmp_path / "db"
    data = tmp_path / "b.ttl"
    data.write_text(
        "@prefix aims: <https://w3id.org/aimsgraph/ontology#> .\n<https://example.org/a> aims:hasRisk [ a aims:Risk ] .\n"
    )
    assert run("load", str(data), data_dir=store).exit_code == 0
    again = run("load", str(data), data_dir=store)
    # the change keeps the store's own blank nodes, so the incremental update applies
    assert again.exit_code == 0 and "(inferences updated)" in again.stdout
    count = run(
        "query",
        "SELECT (COUNT(DISTINCT ?r) AS ?n) WHERE { <https://example.org/a> <https://w3id.org/airo#hasRisk> ?r }",
        data_dir=store,
    )
    assert count.stdout.splitlines() == ["n", "2"]  # one risk per load (blank nodes are not merged), no orphan


# -- while `aimsgraph serve` holds the store (issue 16) -----------------------------------------

TOKENS = "admin:ops-admin:admin-token-for-the-cli-0001 editor:ed:editor-token-for-the-cli-01"


def run_beside(*args: str, data_dir: Path, **env: str) -> Result:
    """A command run (in this process) while the service (another process) holds ``data_dir``,
    with the service's configuration."""
    return aimsgraph(*args, "--data-dir", data_dir, env={"AIMSGRAPH_TOKENS": TOKENS, **env})


def test_load_import_query_and_validate_go_through_the_running_service(tmp_path: Path, fresh_data_dir: FreshDataDir):
    data_dir = fresh_data_dir(tmp_path / "db", demo=False)
    server = start_server(data_dir, AIMSGRAPH_TOKENS=TOKENS, AIMSGRAPH_DEMO="false")
    try:
        announced = json.loads((data_dir / "aimsgraph-service.json").read_text())
        assert announced["url"] == server.url and announced["pid"] == server.process.pid
        data = tmp_path / "mine.ttl"
        data.write_text(
            "@prefix aims: <https://w3id.org/aimsgraph/ontology#> .\n"
            '<https://example.org/sys/a> a aims:AISystem ; aims:intendedPurpose "A" .\n'
        )
        loaded = run_beside("load", str(data), data_dir=data_dir)
        assert loaded.exit_code == 0, loaded.stderr
        assert "loaded 2 triples, 2 of them new" in loaded.stdout and server.url in loaded.stdout

        sample = Path(__file__).parent / "data" / "airo-system.ttl"
        imported = run_beside("import", "airo", str(sample), "--report-format", "json", data_dir=data_dir)
        assert imported.exit_code == 0, imported.stderr
        report = json.loads(imported.stdout)
        assert report["file"] == str(sample) and report["triplesWritten"] > 0 and report["unmapped"] == {"airo:Purpose": 1}
        again = json.loads(run_beside("import", "airo", str(sample), "--report-format", "json", data_dir=data_dir).stdout)
        assert (again["triplesWritten"], again["change"]) == (0, None)

        counted = run_beside(
            "query",
            "SELECT (COUNT(*) AS ?n) WHERE { ?s a <https://w3id.org/aimsgraph/ontology#AISystem> "
            "FILTER(?s = <https://example.org/sys/a>) }",
            data_dir=data_dir,
        )
        assert counted.exit_code == 0 and counted.stdout.splitlines() == ["n", "1"], counted.stderr
        bad = run_beside("query", "SELECT WHERE {", data_dir=data_dir)
        assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "syntax" in bad.stderr.lower()

        report_json = run_beside("validate", "--format", "json", "--fail-on", "none", data_dir=data_dir)
        assert report_json.exit_code == 0, report_json.stderr
        findings = json.loads(report_json.stdout)["findings"]
        assert any(f["focus"] == "https://hr.example/ai/screener" for f in findings)
        assert run_beside("validate", data_dir=data_dir).exit_code == 1  # violations, as --fail-on violation says

        # the writes are the service's, journalled like any request, as the configured admin token
        trail = requests.get(server.url + "/api/changes", timeout=30).json()["changes"]
        assert [(c["operation"], c["agent"]) for c in trail if c["agent"] != "aimsgraph"] == [
            ("load", "ops-admin"),
            ("import-airo", "ops-admin"),
        ]
        assert trail[-1]["added"] == report["triplesWritten"]

        refused = run_beside("history", data_dir=data_dir)
        assert refused.exit_code == 3 and refused.stderr.count("\n") == 1
        assert "cannot run while the service at " + server.url in refused.stderr
        unauthorised = run_beside("load", str(data), data_dir=data_dir, AIMSGRAPH_TOKENS="")
        assert unauthorised.exit_code == 2 and "AIMSGRAPH_TOKEN" in unauthorised.stderr
    finally:
        server.stop()
    assert not (data_dir / "aimsgraph-service.json").exists()  # a stopped service withdraws it
    assert run("history", data_dir=data_dir).exit_code == 0


def test_a_store_held_by_another_process_is_one_line_and_exit_3(tmp_path: Path):
    data_dir = tmp_path / "db"
    # another process holds it, as another command would: RocksDB's lock is per process
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pyoxigraph; store = pyoxigraph.Store(sys.argv[1]); print('held', flush=True); sys.stdin.read()",
            str(data_dir),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        result = run("query", "ASK {}", data_dir=data_dir)
    finally:
        holder.communicate(timeout=60)  # closes its stdin: the holder lets go and exits
    assert result.exit_code == 3 and result.stderr.count("\n") == 1
    assert "in use by another process" in result.stderr


def test_a_bulk_load_leaves_the_store_ready_to_serve(tmp_path: Path, monkeypatch):
    """After a bulk load the inferences, the analysis and today's findings are current and the
    model and findings are saved beside the store: a service's first dashboard need not wait
    for a full validation (minutes at 10,000 systems). Through click's CliRunner, in-process."""
    from aimsgraph import cli, clock
    from aimsgraph import store as store_module
    from aimsgraph.namespaces import Graphs
    from aimsgraph.risk.analysis import saved_model
    from aimsgraph.semantics import validation
    from aimsgraph.store import GraphStore
    from benchmarks.generate import generate

    for module in (cli, store_module):
        monkeypatch.setattr(module, "BULK_LOAD_BYTES", 1000)  # make this file "big"
    data = tmp_path / "org.nt"
    data.write_text(generate(5, seed=3))
    result = run("load", str(data), data_dir=tmp_path / "db")
    assert result.exit_code == 0, result.output
    assert "bulk loader" in result.output and "findings validated and stored" in result.output

    store = GraphStore(tmp_path / "db")
    assert store.is_current(Graphs.INFERRED) and store.is_current(Graphs.ANALYSIS)
    assert validation.stored_as_of(store) == clock.today()
    assert any(f.focus.endswith("/system/1") for f in validation.stored_findings(store))
    assert saved_model(store) is not None
    assert validation._saved_index(store, validation.stored_version(store)) is not None
