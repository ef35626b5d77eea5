"""Linking to enterprise data catalogues over HTTP and the CLI, in this process over on-disk stores:
DCAT import and its report, DCAT/PROV export that re-imports cleanly, and OpenLineage events
that make assessments stale until validation reports them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import Result
from flask.testing import FlaskClient

from aimsgraph.config import Settings
from conftest import AS_OF, FreshDataDir, aimsgraph, select, serving, settle

DATA = Path(__file__).parent / "data"
TOKEN = "editor-token-0123456789abcdef"
EDITOR = {"Authorization": f"Bearer {TOKEN}"}
OUR_NAME = "postgres://lakehouse.meridian.example:5432/silver.core.transactions"
TRANSACTIONS = "https://data.meridian.example/aims/dataset/customer-transactions"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir) -> Iterator[FlaskClient]:
    """The service with the demo and an editor token, in this process (its own store: it writes)."""
    with serving(
        Settings(data_dir=fresh_data_dir(tmp_path_factory.mktemp("catalogs") / "db"), tokens=(f"editor:erin:{TOKEN}",))
    ) as app:
        yield app.test_client()


def run(*args: str, data_dir: Path) -> Result:
    return aimsgraph(*args, "--data-dir", data_dir)


def count(client: FlaskClient) -> int:
    rows = select(client, "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
    return int(rows[0]["n"])


def test_catalogue_import_over_http_links_and_reports(client: FlaskClient):
    body = (DATA / "federated-catalog.ttl").read_bytes()
    response = client.post(
        "/api/import",
        query_string={"kind": "dcat"},
        data=body,
        headers={"Content-Type": "text/turtle", **EDITOR},
    )
    assert response.status_code == 200, response.text
    report = response.get_json()["report"]
    assert {(m["ours"].rsplit("/", 1)[1], m["how"]) for m in report["matched"]} == {
        ("customer-transactions", "identifier"),
        ("bureau-data", "identifier"),
        ("loan-applications", "identifier"),
    }
    assert [e.rsplit("/", 1)[1] for e in report["unmatchedEntries"]] == ["branch-footfall"]
    rows = select(
        client,
        """PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
        SELECT ?system ?entry WHERE { ?system aims:usesDataset ?d . ?d aims:catalogueEntry ?entry }""",
    )
    assert any(r["entry"].endswith("core-transactions") for r in rows)
    again = client.post(
        "/api/import",
        query_string={"kind": "dcat"},
        data=body,
        headers={"Content-Type": "text/turtle", **EDITOR},
    )
    assert again.status_code == 200 and again.get_json()["changed"] is False
    broken = client.post(
        "/api/import",
        query_string={"kind": "dcat"},
        data=body[:-40],
        headers={"Content-Type": "text/turtle", **EDITOR},
    )
    assert broken.status_code == 400


def test_the_export_is_dcat_and_passes_its_shapes(client: FlaskClient):
    turtle = client.get("/api/export/dcat")
    assert turtle.status_code == 200 and turtle.headers["Content-Type"].startswith("text/turtle")
    triples = list(ox.parse(turtle.data, format=ox.RdfFormat.TURTLE))
    types = {t.object.value for t in triples if t.predicate.value.endswith("#type")}
    assert {"http://www.w3.org/ns/dcat#Catalog", "http://www.w3.org/ns/dcat#Dataset"} <= types
    assert any(t.predicate.value == "http://www.w3.org/ns/prov#wasDerivedFrom" for t in triples)
    jsonld = client.get("/api/export/dcat", headers={"Accept": "application/ld+json"})
    assert jsonld.status_code == 200 and json.loads(jsonld.text)


def test_lineage_makes_an_assessment_stale_and_validation_reports_it(client: FlaskClient):
    settle(client)
    # the record names the lakehouse table our dataset is (as the data team would, once)
    named = client.post(
        "/sparql",
        data={"update": f'INSERT DATA {{ <{TRANSACTIONS}> <http://purl.org/dc/terms/identifier> "{OUR_NAME}" }}'},
        headers=EDITOR,
    )
    assert named.status_code == 200
    event = json.loads((DATA / "openlineage-complete.json").read_text())
    response = client.post("/api/lineage", json=event, headers=EDITOR)
    assert response.status_code == 200, response.text
    report = response.get_json()["report"]
    assert [m["dataset"] for m in report["matched"]] == [TRANSACTIONS]
    assert report["stale"] and all(s["dataset"] == TRANSACTIONS for s in report["stale"])
    again = client.post("/api/lineage", json=event, headers=EDITOR)
    assert again.status_code == 200 and again.get_json()["changed"] is False
    settle(client)
    validated = client.post("/api/validate")
    stale = [
        f for f in validated.get_json()["findings"] if "customer-transactions" in f["message"] and f["severity"] == "Warning"
    ]
    assert {f["focus"] for f in stale} >= {s["item"] for s in report["stale"]}


def test_malformed_lineage_events_are_400_and_change_nothing(client: FlaskClient):
    event = json.loads((DATA / "openlineage-complete.json").read_text())
    del event["run"]["runId"]
    before = count(client)
    refused = client.post("/api/lineage", json=[event], headers=EDITOR)
    assert refused.status_code == 400 and "runId" in refused.get_json()["detail"]
    assert (
        client.post("/api/lineage", data="{not json", headers={"Content-Type": "application/json", **EDITOR}).status_code == 400
    )
    assert client.post("/api/lineage", json=event).status_code == 401
    assert count(client) == before


def test_cli_import_and_export_round_trip(tmp_path: Path):
    store = tmp_path / "db"
    run("load", *(str(p) for p in sorted((DATA.parent.parent / "data" / "demo").glob("*.ttl"))), data_dir=store)
    first = run("import", "dcat", str(DATA / "federated-catalog.ttl"), "--report", "json", data_dir=store)
    assert first.exit_code == 0, first.stderr
    assert len(json.loads(first.stdout)["matched"]) == 3
    exported = run("export", "dcat", "-o", str(tmp_path / "register.ttl"), data_dir=store)
    assert exported.exit_code == 0, exported.stderr
    back = run("import", "dcat", str(tmp_path / "register.ttl"), "--report", "json", data_dir=store)
    assert back.exit_code == 0, back.stderr
    report = json.loads(back.stdout)
    assert report["matched"] and all(m["how"] == "iri" for m in report["matched"])
    assert not report["ambiguous"]


def test_the_readme_flow_an_event_finds_our_dataset_through_its_catalogue_entry():
    """Catalogue linked (step 1 of the README), then a pipeline event naming the lakehouse table
    (step 4): no hand-made identifier needed, the catalogue entry carries it."""
    from aimsgraph.interop.importers import dcat, openlineage
    from aimsgraph.store import GraphStore

    store = GraphStore(None)
    store.initialise(demo=True)
    delta, _ = dcat.link(store, dcat.read_catalog((DATA / "federated-catalog.ttl").read_bytes(), ox.RdfFormat.TURTLE))
    store.replace_quads(delta.removed, delta.added)
    events = openlineage.read_events(json.loads((DATA / "openlineage-complete.json").read_text()))
    _, report = openlineage.lineage_delta(store, events)
    assert [m["dataset"] for m in report.as_dict()["matched"]] == [TRANSACTIONS]


def test_a_second_event_of_the_same_run_keeps_who_changed_the_data():
    """The second event restates the same run as the last change: that must not erase it."""
    from aimsgraph.interop.importers import dcat, openlineage
    from aimsgraph.store import GraphStore
    from aimsgraph.store.changes import commit, local_user

    store = GraphStore(None)
    store.initialise(demo=True)
    delta, _ = dcat.link(store, dcat.read_catalog((DATA / "federated-catalog.ttl").read_bytes(), ox.RdfFormat.TURTLE))
    store.replace_quads(delta.removed, delta.added)
    complete = json.loads((DATA / "openlineage-complete.json").read_text())
    running = json.loads(json.dumps(complete))
    running["eventType"] = "RUNNING"
    running["eventTime"] = "2026-10-20T07:00:00Z"
    running["outputs"][0]["facets"]["version"] = {"datasetVersion": "41"}
    for event in (running, complete):
        delta, _ = openlineage.lineage_delta(store, openlineage.read_events(event))
        commit(store, delta, "test", local_user())
    changed_by = list(
        store.backend.quads_for_pattern(
            ox.NamedNode(TRANSACTIONS), ox.NamedNode("https://w3id.org/aimsgraph/ontology#lastChangedBy"), None, None
        )
    )
    assert len(changed_by) == 1


def test_events_from_the_future_are_refused():
    from aimsgraph.errors import InvalidInput
    from aimsgraph.interop.importers import openlineage

    event = json.loads((DATA / "openlineage-complete.json").read_text())
    event["eventTime"] = "2099-01-01T00:00:00Z"
    with pytest.raises(InvalidInput, match="future"):
        openlineage.read_events(event)


def test_rdf_xml_with_entity_declarations_is_refused(client: FlaskClient):
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">'
        '<rdf:Description rdf:about="http://example.org/x"><ex:p>&b;</ex:p></rdf:Description></rdf:RDF>'
    )
    for url, params in (
        ("/api/import", {"kind": "dcat"}),
        ("/rdf-graph-store", {"graph": "http://example.org/g"}),
    ):
        method = client.post if "import" in url else client.put
        response = method(url, query_string=params, data=bomb.encode(), headers={"Content-Type": "application/rdf+xml", **EDITOR})
        assert response.status_code == 400 and "entit" in response.text


def test_a_catalogue_cannot_stand_in_for_the_record():
    """A catalogue that describes one of our own datasets (our export, re-imported, does) must not
    hide a gap in the record from validation: both engines still see it."""
    from aimsgraph.interop.exporters import dcat as export
    from aimsgraph.interop.importers import dcat
    from aimsgraph.namespaces import Graphs
    from aimsgraph.semantics import validation
    from aimsgraph.semantics.reasoning import refresh_inferences
    from aimsgraph.store import GraphStore

    store = GraphStore(None)
    store.initialise(demo=True)
    refresh_inferences(store)
    exported = export.serialize_export(export.export_register(store))
    delta, _ = dcat.link(store, dcat.read_catalog(exported, ox.RdfFormat.TURTLE))
    store.replace_quads(delta.removed, delta.added)
    generated = ox.NamedNode("http://www.w3.org/ns/prov#wasGeneratedBy")
    for quad in list(store.backend.quads_for_pattern(ox.NamedNode(TRANSACTIONS), generated, None, ox.NamedNode(Graphs.DATA))):
        store.backend.remove(quad)
    refresh_inferences(store)
    fast = {f for f in validation.validate_store(store, AS_OF, [TRANSACTIONS]) if f.severity == "Violation"}
    reference = {
        f
        for f in validation.validate_graph(store.extract(validation.VALIDATED_GRAPHS), AS_OF)
        if f.focus == TRANSACTIONS and f.severity == "Violation"
    }
    assert fast and fast == reference


def test_a_catalogue_without_a_name_is_refused():
    from aimsgraph.errors import InvalidInput
    from aimsgraph.interop.importers import dcat
    from aimsgraph.store import GraphStore

    store = GraphStore(None)
    store.initialise(demo=True)
    anonymous = b"""@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
    [] a dcat:Catalog ; dcat:dataset <https://catalog.example/d1> . <https://catalog.example/d1> a dcat:Dataset ; dct:identifier "DS-001" ."""
    with pytest.raises(InvalidInput, match="blank node"):
        dcat.link(store, dcat.read_catalog(anonymous, ox.RdfFormat.TURTLE))


def test_two_catalogues_listing_one_entry_do_not_undo_each_others_links():
    from aimsgraph.interop.importers import dcat
    from aimsgraph.store import GraphStore

    store = GraphStore(None)
    store.initialise(demo=True)
    head = b"@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> . @prefix e: <https://catalog.example/> .\n"
    a = head + b'e:a a dcat:Catalog ; dcat:dataset e:tx . e:tx a dcat:Dataset ; dct:title "Transactions" .'
    b = head + b'e:b a dcat:Catalog ; dcat:dataset e:tx . e:tx a dcat:Dataset ; dct:identifier "DS-001" .'

    def load(body: bytes) -> dcat.LinkReport:
        delta, report = dcat.link(store, dcat.read_catalog(body, ox.RdfFormat.TURTLE))
        store.replace_quads(delta.removed, delta.added)
        return report

    link = ox.Quad(
        ox.NamedNode(TRANSACTIONS),
        ox.NamedNode("https://w3id.org/aimsgraph/ontology#catalogueEntry"),
        ox.NamedNode("https://catalog.example/tx"),
        ox.NamedNode("https://w3id.org/aimsgraph/graph/data"),
    )
    load(a)
    load(b)
    assert link in store.backend
    assert load(a).links_removed == 0 and link in store.backend  # A knows no identifier, but does not withdraw B's link
    assert load(b).links_added == 0
