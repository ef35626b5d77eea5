"""The REST API through the service's test client, over a real on-disk store with the demo:
validation, findings, the SoA and the named queries."""

from __future__ import annotations

import csv
import io

from flask.testing import FlaskClient

from conftest import select

DEMO = "https://data.meridian.example/aims/"


def test_validate_the_store_then_filter_findings(client: FlaskClient):
    report = client.post("/api/validate")
    assert report.status_code == 200 and report.headers["Content-Type"].startswith("application/json")
    body = report.get_json()
    assert body["conforms"] is False
    # gap 13 is a violation; gap 14 and the five open suggestions of gap 1 are warnings
    assert body["counts"] == {"Violation": 15, "Warning": 11, "Info": 0}
    assert {c["id"].rsplit("/", 1)[1] for c in body["readiness"]["clauses"]} >= {"4.3", "6.1.2", "A.6.2.8"}

    by_clause = client.get("/api/findings", query_string={"clause": "A.6.2.8"}).get_json()
    assert [f["focus"] for f in by_clause["findings"]] == [DEMO + "system/cv-screening"]
    warnings = client.get("/api/findings", query_string={"severity": "warning"}).get_json()
    assert warnings["count"] == 11
    of_system = client.get("/api/findings", query_string={"system": DEMO + "system/code-assistant"}).get_json()
    assert {f["focus"] for f in of_system["findings"]} == {DEMO + "system/code-assistant"}
    assert client.get("/api/findings", query_string={"severity": "fatal"}).status_code == 400


def test_validate_changed_nodes_and_report_formats(client: FlaskClient):
    changed = client.post(
        "/api/validate",
        json={"changed": [DEMO + "system/cv-screening"]},
        headers={"Accept": "application/xml"},
    )
    assert changed.status_code == 200 and changed.text.startswith("<?xml")
    turtle = client.post("/api/validate", headers={"Accept": "text/turtle"})
    assert "sh:ValidationReport" in turtle.text
    bad = client.post("/api/validate", json={"changed": ["not an iri"]})
    assert bad.status_code == 400 and "absolute IRIs" in bad.get_json()["detail"]
    odd = client.post("/api/validate", data=b"x", headers={"Content-Type": "image/png"})
    assert odd.status_code == 415


def test_an_uploaded_graph_is_validated_without_being_stored(client: FlaskClient):
    count = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <https://w3id.org/aimsgraph/graph/data> { ?s ?p ?o } }"
    before = select(client, count)
    upload = """@prefix aims: <https://w3id.org/aimsgraph/ontology#> .
        <https://example.org/sys/lonely> a aims:AISystem ; <http://www.w3.org/2000/01/rdf-schema#label> "Lonely" ."""
    response = client.post("/api/validate", data=upload.encode(), headers={"Content-Type": "text/turtle"})
    assert response.status_code == 200
    focus = {f["focus"] for f in response.get_json()["findings"]}
    assert focus == {"https://example.org/sys/lonely"}
    assert select(client, count) == before
    broken = client.post("/api/validate", data=b"<a> <b> .", headers={"Content-Type": "text/turtle"})
    assert broken.status_code == 400


def test_soa_in_json_csv_and_html(client: FlaskClient):
    as_json = client.get("/api/soa").get_json()
    assert len(as_json["rows"]) == 38
    assert {"id", "title", "applicable", "justification", "status", "implementedBy", "risks", "evidence"} <= set(
        as_json["columns"]
    )
    as_csv = client.get("/api/soa", headers={"Accept": "text/csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == 38 and rows[0]["id"] == "A.2.2"
    excluded = {r["id"] for r in rows if r["applicable"] == "false"}
    assert {"A.8.3", "A.10.4"} <= excluded
    as_html = client.get("/api/soa", headers={"Accept": "text/html"})
    assert as_html.text.count("<tr>") == 39  # header + 38 rows
    assert client.get("/api/soa", headers={"Accept": "image/png"}).status_code == 406


def test_named_queries_are_listed_and_run_with_negotiation(client: FlaskClient):
    listing = client.get("/api/queries").get_json()["queries"]
    names = {q["name"] for q in listing}
    assert {"risk-register", "statement-of-applicability", "dependents"} <= names
    dependents = next(q for q in listing if q["name"] == "dependents")
    assert dependents["parameters"] == [{"name": "node", "type": "iri", "required": True}]

    rows = client.get(
        "/api/queries/dependents",
        query_string={"node": DEMO + "dataset/customer-transactions"},
        headers={"Accept": "text/csv"},
    )
    assert rows.status_code == 200 and rows.headers["Content-Type"].startswith("text/csv")
    assert DEMO + "system/card-fraud-detection" in rows.text
    missing = client.get("/api/queries/dependents")
    assert missing.status_code == 400 and "node" in missing.get_json()["detail"]
    unknown = client.get("/api/queries/nope")
    assert unknown.status_code == 404
