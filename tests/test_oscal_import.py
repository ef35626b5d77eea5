"""OSCAL imports (interop/importers/oscal.py): the exports read back. Our own catalogs map onto
the record's catalogues and change nothing; the demo's profile imported into a fresh demo store
changes nothing, and one control's inclusion edited in it changes exactly that SoA entry. Any
other catalog becomes a framework in the data graph, the same one when imported again. Hostile
or invalid documents are refused whole, naming the problem, over REST and on the command line."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aimsgraph.config import Settings
from aimsgraph.interop.importers import oscal
from conftest import FreshDataDir, aimsgraph, select, serving

TOKEN = "editor-token-oscal-0123456789"
EDITOR = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
PREFIXES = """PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""
CATALOG_UUID = "0b6f5f0e-4c1a-4e8e-9a43-3f1d2a9b7c11"


def small_catalog(title: str = "Acme AI controls", extra: list[dict] | None = None) -> dict:
    """A catalog of another organisation: no canonical link to a catalogue of the record, a
    group with an overview, a control with a label and a statement with items, a control in a
    control, and one control that links to ISO/IEC 42001 A.2.2."""
    policy = {
        "id": "gov-1",
        "title": "AI policy",
        "props": [{"name": "label", "value": "GOV 1"}],
        "links": [{"href": "https://w3id.org/aimsgraph/iso42001/A.2.2", "rel": "canonical"}],
        "parts": [
            {
                "id": "gov-1_smt",
                "name": "statement",
                "prose": "An AI policy is approved.",
                "parts": [{"id": "gov-1_smt.a", "name": "item", "prose": "It is reviewed yearly."}],
            }
        ],
        "controls": [{"id": "gov-1.1", "title": "Policy review"}],
    }
    group = {
        "id": "gov",
        "title": "Governance",
        "parts": [{"id": "gov_ovw", "name": "overview", "prose": "How AI is governed."}],
        "controls": [policy, *(extra or [])],
    }
    metadata = {"title": title, "last-modified": "2026-11-01T00:00:00+00:00", "version": "1.0", "oscal-version": "1.1.2"}
    return {"catalog": {"uuid": CATALOG_UUID, "metadata": metadata, "groups": [group]}}


@pytest.fixture(scope="module")
def exported(app: Flask) -> dict[str, dict]:
    """The demo's OSCAL catalogs and profile, as the export route serves them."""
    client = app.test_client()
    paths = {
        "iso": "/api/export/oscal/catalog",
        "nist": "/api/export/oscal/catalog?framework=nist-ai-rmf",
        "eu": "/api/export/oscal/catalog?framework=eu-ai-act",
        "profile": "/api/export/oscal/profile",
    }
    found = {}
    for name, path in paths.items():
        response = client.get(path)
        assert response.status_code == 200, response.text
        found[name] = response.get_json()
    return found


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir):
    """A fresh demo store served with an editor's token and the validation gate: imports go
    through the normal write path."""
    folder = fresh_data_dir(tmp_path_factory.mktemp("oscal-import") / "db")
    with serving(Settings(data_dir=folder, tokens=(f"editor:erin:{TOKEN}",), validation_gate=True)) as app:
        yield app


def post(client: FlaskClient, kind: str, document: dict | bytes, **headers: str):
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return client.post("/api/import", query_string={"kind": kind}, data=body, headers={**EDITOR, **headers})


def trail(client: FlaskClient) -> int:
    return len(client.get("/api/changes").get_json()["changes"])


def entry(client: FlaskClient, control: str) -> dict[str, str]:
    rows = select(
        client,
        PREFIXES
        + f"""SELECT ?applicable ?justification ?status WHERE {{
            ?e aims:forControl <https://w3id.org/aimsgraph/iso42001/{control}> ; aims:applicable ?applicable .
            OPTIONAL {{ ?e aims:justification ?justification }} OPTIONAL {{ ?e aims:implementationStatus ?status }} }}""",
    )
    assert len(rows) == 1, rows
    return rows[0]


def linked(items: list[dict]) -> int:
    """Groups and controls, at any depth, with a canonical link."""
    count = 0
    for item in items:
        count += any(link.get("rel") == "canonical" for link in item.get("links", []))
        count += linked(item.get("groups", []) + item.get("controls", []))
    return count


@pytest.mark.parametrize("name", ["iso", "nist", "eu"])
def test_our_own_catalogs_map_onto_the_record_and_change_nothing(service: Flask, exported: dict, name: str) -> None:
    client = service.test_client()
    before = trail(client)
    answer = post(client, "oscal-catalog", exported[name])
    assert answer.status_code == 200, answer.text
    body = answer.get_json()
    report = body["report"]
    assert body["changed"] is False and trail(client) == before
    assert report["framework"] == "known" and report["titlesDiffering"] == []
    assert report["scheme"] == exported[name]["catalog"]["metadata"]["links"][0]["href"]
    # every linked group and control is one of the record's concepts; the groups that only
    # arrange the document (the clauses, the EU AI Act's roles) have no link and need none
    assert report["matched"] == linked(exported[name]["catalog"]["groups"]) > 0


def test_a_known_catalog_with_a_control_the_record_lacks_is_refused(service: Flask, exported: dict) -> None:
    document = copy.deepcopy(exported["iso"])
    document["catalog"]["groups"][0]["controls"].append({"id": "A.2.99", "title": "Invented"})
    answer = post(service.test_client(), "oscal-catalog", document)
    assert answer.status_code == 400
    assert "A.2.99" in answer.get_json()["detail"] and "remove that link" in answer.get_json()["detail"]
    retitled = copy.deepcopy(exported["iso"])
    retitled["catalog"]["groups"][0]["controls"][0]["title"] = "Our AI policy"
    report = post(service.test_client(), "oscal-catalog", retitled).get_json()
    assert report["changed"] is False and report["report"]["titlesDiffering"] == ["A.2.2"]


def test_the_demo_profile_round_trips_and_one_edit_changes_exactly_its_entry(service: Flask, exported: dict) -> None:
    client = service.test_client()
    before = trail(client)
    same = post(client, "oscal-profile", exported["profile"])
    assert same.status_code == 200, same.text
    assert same.get_json()["changed"] is False and trail(client) == before
    assert same.get_json()["report"] | {"entriesChanged": None} == {
        "kind": "profile",
        "statementOfApplicability": "https://data.meridian.example/aims/soa",
        "applicable": 35,
        "excluded": 3,
        "entriesChanged": None,
        "entriesCreated": [],
        "triplesAdded": 0,
        "triplesRemoved": 0,
    }

    edited = exclude(exported["profile"], "A.2.2", "Covered by the group policy.")
    changed = post(client, "oscal-profile", edited)
    assert changed.status_code == 200, changed.text
    body = changed.get_json()
    assert body["changed"] is True and body["report"]["entriesChanged"] == ["A.2.2"]
    assert (body["added"], body["removed"]) == (2, 2)  # aims:applicable and aims:justification of one entry
    assert entry(client, "A.2.2")["applicable"] == "false"
    assert entry(client, "A.2.2")["justification"] == "Covered by the group policy."
    again = client.get("/api/export/oscal/profile").get_json()["profile"]
    assert "A.2.2" not in again["imports"][0]["include-controls"][0]["with-ids"]
    assert {"A.2.2": "Covered by the group policy."}.items() <= {
        p["value"]: p["remarks"] for p in again["metadata"]["props"]
    }.items()

    restored = post(client, "oscal-profile", exported["profile"])
    assert restored.get_json()["report"]["entriesChanged"] == ["A.2.2"]
    assert entry(client, "A.2.2")["applicable"] == "true"
    assert client.get("/api/export/oscal/profile").get_json() == exported["profile"]


def exclude(profile: dict, control: str, why: str | None) -> dict:
    """The profile with ``control`` no longer selected, excluded with ``why`` (None: no justification)."""
    document = copy.deepcopy(profile)
    body = document["profile"]
    body["imports"][0]["include-controls"][0]["with-ids"].remove(control)
    body["modify"]["alters"] = [a for a in body["modify"]["alters"] if a["control-id"] != control]
    if why is not None:
        body["metadata"]["props"].append(
            {"name": "excluded-control", "ns": oscal.NS, "class": "soa-exclusion", "value": control, "remarks": why}
        )
    return document


def test_a_profile_that_contradicts_itself_or_the_annex_is_refused_whole(service: Flask, exported: dict) -> None:
    client = service.test_client()
    before = trail(client)
    unjustified = post(client, "oscal-profile", exclude(exported["profile"], "A.2.3", None))
    assert unjustified.status_code == 400
    assert "A.2.3 becomes excluded without a justification" in unjustified.get_json()["detail"]
    both = copy.deepcopy(exported["profile"])
    both["profile"]["metadata"]["props"].append(
        {"name": "excluded-control", "ns": oscal.NS, "class": "soa-exclusion", "value": "A.2.2", "remarks": "no"}
    )
    contradiction = post(client, "oscal-profile", both)
    assert contradiction.status_code == 400 and "A.2.2 is both selected and excluded" in contradiction.get_json()["detail"]
    status = copy.deepcopy(exported["profile"])
    status["profile"]["modify"]["alters"][0]["adds"][0]["props"][0]["value"] = "Done"
    assert "'Done'" in post(client, "oscal-profile", status).get_json()["detail"]
    everything = copy.deepcopy(exported["profile"])
    everything["profile"]["imports"] = [{"href": "#x", "include-all": {}}]
    everything["profile"]["metadata"].pop("props")
    flips = post(client, "oscal-profile", everything).get_json()["detail"]
    assert all(f"{c} becomes applicable without a justification" in flips for c in ("A.4.4", "A.8.3", "A.10.4"))
    foreign = copy.deepcopy(exported["profile"])
    foreign["profile"]["imports"] = [{"href": "#x", "include-controls": [{"with-ids": ["ac-1", "ac-2"]}]}]
    foreign["profile"]["metadata"].pop("props")
    foreign["profile"].pop("modify")
    nothing = post(client, "oscal-profile", foreign)
    assert nothing.status_code == 422 and "'ac-1'" in nothing.get_json()["detail"]
    assert trail(client) == before


def test_another_catalog_becomes_a_framework_in_the_data_graph(service: Flask) -> None:
    client = service.test_client()
    first = post(client, "oscal-catalog", small_catalog())
    assert first.status_code == 200, first.text
    report = first.get_json()["report"]
    scheme = oscal.CATALOG_BASE + CATALOG_UUID
    assert report["framework"] == "imported" and report["scheme"] == scheme and report["groupsAndControls"] == 3
    rows = select(
        client,
        PREFIXES
        + f"""SELECT ?c ?notation ?title ?definition ?broader ?match WHERE {{
            GRAPH <https://w3id.org/aimsgraph/graph/data> {{ <{scheme}> a skos:ConceptScheme .
            ?c skos:inScheme <{scheme}> ; a aims:LegalProvision ; skos:notation ?notation ; skos:prefLabel ?title .
            OPTIONAL {{ ?c skos:definition ?definition }} OPTIONAL {{ ?c skos:broader ?broader }}
            OPTIONAL {{ ?c skos:exactMatch ?match }} }} }}""",
    )
    found = {row["c"].removeprefix(scheme + "/"): row for row in rows}
    assert set(found) == {"gov", "gov-1", "gov-1.1"}
    assert found["gov-1"]["notation"] == "GOV 1" and found["gov-1.1"]["notation"] == "gov-1.1"
    assert found["gov-1"]["definition"] == "An AI policy is approved.\nIt is reviewed yearly."
    assert found["gov"]["definition"] == "How AI is governed." and "broader" not in found["gov"]
    assert found["gov-1.1"]["broader"] == scheme + "/gov-1" and found["gov-1"]["broader"] == scheme + "/gov"
    assert found["gov-1"]["match"] == "https://w3id.org/aimsgraph/iso42001/A.2.2"

    assert post(client, "oscal-catalog", small_catalog()).get_json()["changed"] is False  # the same IRIs again
    revised = small_catalog("Acme AI controls v2", extra=[{"id": "gov-2", "title": "Oversight"}])
    revised["catalog"]["groups"][0]["controls"][0].pop("controls")  # gov-1.1 withdrawn
    answer = post(client, "oscal-catalog", revised).get_json()
    assert answer["changed"] is True
    concepts = select(client, PREFIXES + f"SELECT ?c WHERE {{ ?c skos:inScheme <{scheme}> }}")
    assert {row["c"].removeprefix(scheme + "/") for row in concepts} == {"gov", "gov-1", "gov-2"}


@pytest.mark.parametrize(
    "kind,body,status,words",
    [
        ("oscal-catalog", b'{"catalog": {"uuid": "a", "uuid": "b"}}', 400, "'uuid' is given twice"),
        ("oscal-catalog", '{"catalog": {"metadata": "\u00e9"}}'.encode("utf-16"), 400, "not UTF-8"),
        ("oscal-catalog", b'{"catalog": ' + b"[" * 300 + b"]" * 300 + b"}", 400, "nests deeper than"),
        ("oscal-catalog", b'{"catalog": {"uuid": "not a uuid"}}', 400, "not valid OSCAL"),
        ("oscal-catalog", b"catalog:\n  uuid: x\n", 400, "not JSON"),
        ("oscal-catalog", b"[]", 400, "not an OSCAL catalog"),
        ("oscal-profile", json.dumps(small_catalog()).encode(), 400, "is an OSCAL catalog, not a profile"),
    ],
)
def test_hostile_and_invalid_documents_are_refused(service: Flask, kind: str, body: bytes, status: int, words: str) -> None:
    client = service.test_client()
    before = trail(client)
    answer = post(client, kind, body)
    assert answer.status_code == status, answer.text
    assert words in answer.get_json()["detail"]
    assert trail(client) == before


def test_rest_needs_an_editor_and_json(service: Flask, exported: dict) -> None:
    client = service.test_client()
    body = json.dumps(exported["profile"]).encode()
    anonymous = client.post("/api/import?kind=oscal-profile", data=body, headers={"Content-Type": "application/json"})
    assert anonymous.status_code == 401
    assert post(client, "oscal-profile", body, **{"Content-Type": "application/xml"}).status_code == 415


def test_the_cli_imports_and_refuses_as_rest_does(tmp_path: Path, fresh_data_dir: FreshDataDir, exported: dict) -> None:
    data_dir = fresh_data_dir(tmp_path / "db")
    edited, catalog = tmp_path / "edited.json", tmp_path / "iso.json"
    edited.write_text(json.dumps(exclude(exported["profile"], "A.2.2", "Covered by the group policy.")), encoding="utf-8")
    catalog.write_text(json.dumps(exported["iso"]), encoding="utf-8")
    result = aimsgraph("import", "oscal", edited, "--data-dir", data_dir)
    assert result.exit_code == 0, result.output
    assert "entries changed: A.2.2; 2 triples added, 2 removed" in result.stdout
    history = aimsgraph("history", "--format", "json", "--data-dir", data_dir)
    assert history.stdout.count('"import-oscal-profile"') == 1
    known = aimsgraph("import", "oscal", catalog, "--data-dir", data_dir, "--report", "json")
    assert known.exit_code == 0 and json.loads(known.stdout)["triplesAdded"] == 0
    too_big = aimsgraph("import", "oscal", catalog, "--data-dir", data_dir, env={"AIMSGRAPH_MAX_UPLOAD_BYTES": "1000"})
    assert too_big.exit_code == 2 and "the limit is 1000" in too_big.stderr
    unjustified = tmp_path / "unjustified.json"
    unjustified.write_text(json.dumps(exclude(exported["profile"], "A.2.3", None)), encoding="utf-8")
    refused = aimsgraph("import", "oscal", unjustified, "--data-dir", data_dir)
    assert refused.exit_code == 2 and "unjustified.json" in refused.stderr and "A.2.3" in refused.stderr
