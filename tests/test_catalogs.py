"""Linking to enterprise data catalogues over HTTP and the CLI, against real servers and stores:
DCAT import and its report, DCAT/PROV export that re-imports cleanly, and OpenLineage events
that make assessments stale until validation reports them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests
from conftest import LiveServer, start_server
from test_cli import run

DATA = Path(__file__).parent / "data"
TOKEN = "editor-token-0123456789abcdef"
EDITOR = {"Authorization": f"Bearer {TOKEN}"}
OUR_NAME = "postgres://lakehouse.meridian.example:5432/silver.core.transactions"
TRANSACTIONS = "https://data.meridian.example/aims/dataset/customer-transactions"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    live = start_server(tmp_path_factory.mktemp("catalogs"), AIMSGRAPH_TOKENS=f"editor:erin:{TOKEN}")
    yield live
    live.stop()


def settle(server: LiveServer) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        derived = requests.get(server.url + "/api/health", timeout=10).json()["derived"]
        if not derived["pendingWrites"] and not derived["refreshing"]:
            return
        time.sleep(0.1)
    raise AssertionError("the derived graphs did not catch up")


def count(server: LiveServer) -> int:
    rows = server.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
    return int(rows[0]["n"])


def test_catalogue_import_over_http_links_and_reports(server: LiveServer):
    body = (DATA / "federated-catalog.ttl").read_bytes()
    response = requests.post(server.url + "/api/import", params={"kind": "dcat"}, data=body,
                             headers={"Content-Type": "text/turtle", **EDITOR}, timeout=60)
    assert response.status_code == 200, response.text
    report = response.json()["report"]
    assert {(m["ours"].rsplit("/", 1)[1], m["how"]) for m in report["matched"]} == {
        ("customer-transactions", "identifier"), ("bureau-data", "identifier"), ("loan-applications", "identifier")}
    assert [e.rsplit("/", 1)[1] for e in report["unmatchedEntries"]] == ["branch-footfall"]
    rows = server.select("""PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
        SELECT ?system ?entry WHERE { ?system aims:usesDataset ?d . ?d aims:catalogueEntry ?entry }""")
    assert any(r["entry"].endswith("core-transactions") for r in rows)
    again = requests.post(server.url + "/api/import", params={"kind": "dcat"}, data=body,
                          headers={"Content-Type": "text/turtle", **EDITOR}, timeout=60)
    assert again.status_code == 200 and again.json()["changed"] is False
    broken = requests.post(server.url + "/api/import", params={"kind": "dcat"}, data=body[:-40],
                           headers={"Content-Type": "text/turtle", **EDITOR}, timeout=60)
    assert broken.status_code == 400


def test_the_export_is_dcat_and_passes_its_shapes(server: LiveServer):
    turtle = requests.get(server.url + "/api/export/dcat", timeout=60)
    assert turtle.status_code == 200 and turtle.headers["Content-Type"].startswith("text/turtle")
    triples = list(ox.parse(turtle.content, format=ox.RdfFormat.TURTLE))
    types = {t.object.value for t in triples if t.predicate.value.endswith("#type")}
    assert {"http://www.w3.org/ns/dcat#Catalog", "http://www.w3.org/ns/dcat#Dataset"} <= types
    assert any(t.predicate.value == "http://www.w3.org/ns/prov#wasDerivedFrom" for t in triples)
    jsonld = requests.get(server.url + "/api/export/dcat", headers={"Accept": "application/ld+json"}, timeout=60)
    assert jsonld.status_code == 200 and json.loads(jsonld.text)


def test_lineage_makes_an_assessment_stale_and_validation_reports_it(server: LiveServer):
    settle(server)
    # the record names the lakehouse table our dataset is (as the data team would, once)
    named = requests.post(server.sparql, data={"update": f'INSERT DATA {{ <{TRANSACTIONS}> <http://purl.org/dc/terms/identifier> "{OUR_NAME}" }}'},
                          headers=EDITOR, timeout=30)
    assert named.status_code == 200
    event = json.loads((DATA / "openlineage-complete.json").read_text())
    response = requests.post(server.url + "/api/lineage", json=event, headers=EDITOR, timeout=60)
    assert response.status_code == 200, response.text
    report = response.json()["report"]
    assert [m["dataset"] for m in report["matched"]] == [TRANSACTIONS]
    assert report["stale"] and all(s["dataset"] == TRANSACTIONS for s in report["stale"])
    again = requests.post(server.url + "/api/lineage", json=event, headers=EDITOR, timeout=60)
    assert again.status_code == 200 and again.json()["changed"] is False
    settle(server)
    validated = requests.post(server.url + "/api/validate", timeout=120)
    stale = [f for f in validated.json()["findings"] if "customer-transactions" in f["message"] and f["severity"] == "Warning"]
    assert {f["focus"] for f in stale} >= {s["item"] for s in report["stale"]}


def test_malformed_lineage_events_are_400_and_change_nothing(server: LiveServer):
    event = json.loads((DATA / "openlineage-complete.json").read_text())
    del event["run"]["runId"]
    before = count(server)
    refused = requests.post(server.url + "/api/lineage", json=[event], headers=EDITOR, timeout=30)
    assert refused.status_code == 400 and "runId" in refused.json()["detail"]
    assert requests.post(server.url + "/api/lineage", data="{not json", headers={"Content-Type": "application/json", **EDITOR},
                         timeout=30).status_code == 400
    assert requests.post(server.url + "/api/lineage", json=event, timeout=30).status_code == 401
    assert count(server) == before


def test_cli_import_and_export_round_trip(tmp_path: Path):
    store = tmp_path / "db"
    run("load", *(str(p) for p in sorted((DATA.parent.parent / "data" / "demo").glob("*.ttl"))), data_dir=store)
    first = run("import", "dcat", str(DATA / "federated-catalog.ttl"), "--report", "json", data_dir=store)
    assert first.returncode == 0, first.stderr
    assert len(json.loads(first.stdout)["matched"]) == 3
    exported = run("export", "dcat", "-o", str(tmp_path / "register.ttl"), data_dir=store)
    assert exported.returncode == 0, exported.stderr
    back = run("import", "dcat", str(tmp_path / "register.ttl"), "--report", "json", data_dir=store)
    assert back.returncode == 0, back.stderr
    report = json.loads(back.stdout)
    assert report["matched"] and all(m["how"] == "iri" for m in report["matched"])
    assert not report["ambiguous"]
