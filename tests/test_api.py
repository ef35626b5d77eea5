"""The REST API over a real server: validation, findings, the SoA and the named queries."""

from __future__ import annotations

import csv
import io

import requests

from conftest import LiveServer

DEMO = "https://data.meridian.example/aims/"


def test_validate_the_store_then_filter_findings(server: LiveServer):
    report = requests.post(server.url + "/api/validate", timeout=60)
    assert report.status_code == 200 and report.headers["Content-Type"].startswith("application/json")
    body = report.json()
    assert body["conforms"] is False
    assert body["counts"] == {"Violation": 14, "Warning": 4, "Info": 0}
    assert {c["id"].rsplit("/", 1)[1] for c in body["readiness"]["clauses"]} >= {"4.3", "6.1.2", "A.6.2.8"}

    by_clause = requests.get(server.url + "/api/findings", params={"clause": "A.6.2.8"}, timeout=30).json()
    assert [f["focus"] for f in by_clause["findings"]] == [DEMO + "system/cv-screening"]
    warnings = requests.get(server.url + "/api/findings", params={"severity": "warning"}, timeout=30).json()
    assert warnings["count"] == 4
    of_system = requests.get(server.url + "/api/findings", params={"system": DEMO + "system/code-assistant"}, timeout=30).json()
    assert {f["focus"] for f in of_system["findings"]} == {DEMO + "system/code-assistant"}
    assert requests.get(server.url + "/api/findings", params={"severity": "fatal"}, timeout=30).status_code == 400


def test_validate_changed_nodes_and_report_formats(server: LiveServer):
    changed = requests.post(
        server.url + "/api/validate",
        json={"changed": [DEMO + "system/cv-screening"]},
        headers={"Accept": "application/xml"},
        timeout=60,
    )
    assert changed.status_code == 200 and changed.text.startswith("<?xml")
    turtle = requests.post(server.url + "/api/validate", headers={"Accept": "text/turtle"}, timeout=60)
    assert "sh:ValidationReport" in turtle.text
    bad = requests.post(server.url + "/api/validate", json={"changed": ["not an iri"]}, timeout=30)
    assert bad.status_code == 400 and "absolute IRIs" in bad.json()["detail"]
    odd = requests.post(server.url + "/api/validate", data=b"x", headers={"Content-Type": "image/png"}, timeout=30)
    assert odd.status_code == 415


def test_an_uploaded_graph_is_validated_without_being_stored(server: LiveServer):
    count = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <https://w3id.org/aimsgraph/graph/data> { ?s ?p ?o } }"
    before = server.select(count)
    upload = """@prefix aims: <https://w3id.org/aimsgraph/ontology#> .
        <https://example.org/sys/lonely> a aims:AISystem ; <http://www.w3.org/2000/01/rdf-schema#label> "Lonely" ."""
    response = requests.post(
        server.url + "/api/validate", data=upload.encode(), headers={"Content-Type": "text/turtle"}, timeout=60
    )
    assert response.status_code == 200
    focus = {f["focus"] for f in response.json()["findings"]}
    assert focus == {"https://example.org/sys/lonely"}
    assert server.select(count) == before
    broken = requests.post(server.url + "/api/validate", data=b"<a> <b> .", headers={"Content-Type": "text/turtle"}, timeout=30)
    assert broken.status_code == 400


def test_soa_in_json_csv_and_html(server: LiveServer):
    as_json = requests.get(server.url + "/api/soa", timeout=30).json()
    assert len(as_json["rows"]) == 38
    assert {"id", "title", "applicable", "justification", "status", "implementedBy", "risks", "evidence"} <= set(
        as_json["columns"]
    )
    as_csv = requests.get(server.url + "/api/soa", headers={"Accept": "text/csv"}, timeout=30)
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == 38 and rows[0]["id"] == "A.2.2"
    excluded = {r["id"] for r in rows if r["applicable"] == "false"}
    assert {"A.8.3", "A.10.4"} <= excluded
    as_html = requests.get(server.url + "/api/soa", headers={"Accept": "text/html"}, timeout=30)
    assert as_html.text.count("<tr>") == 39  # header + 38 rows
    assert requests.get(server.url + "/api/soa", headers={"Accept": "image/png"}, timeout=30).status_code == 406


def test_named_queries_are_listed_and_run_with_negotiation(server: LiveServer):
    listing = requests.get(server.url + "/api/queries", timeout=30).json()["queries"]
    names = {q["name"] for q in listing}
    assert {"risk-register", "statement-of-applicability", "dependents"} <= names
    dependents = next(q for q in listing if q["name"] == "dependents")
    assert dependents["parameters"] == [{"name": "node", "type": "iri", "required": True}]

    rows = requests.get(
        server.url + "/api/queries/dependents",
        params={"node": DEMO + "dataset/customer-transactions"},
        headers={"Accept": "text/csv"},
        timeout=30,
    )
    assert rows.status_code == 200 and rows.headers["Content-Type"].startswith("text/csv")
    assert DEMO + "system/card-fraud-detection" in rows.text
    missing = requests.get(server.url + "/api/queries/dependents", timeout=30)
    assert missing.status_code == 400 and "node" in missing.json()["detail"]
    unknown = requests.get(server.url + "/api/queries/nope", timeout=30)
    assert unknown.status_code == 404
