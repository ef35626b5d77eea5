"""OSCAL exports (catalog, profile, component definition, assessment results, POA&M): each, from
the demo, validates with compliance-trestle's models and says what the record says; the UUIDs
are the same from one export to the next; the REST route and the CLI serve them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from pydantic import ValidationError
from trestle.oscal.assessment_results import AssessmentResults
from trestle.oscal.catalog import Catalog
from trestle.oscal.component import ComponentDefinition
from trestle.oscal.poam import PlanOfActionAndMilestones
from trestle.oscal.profile import Profile

from aimsgraph.errors import ExportInvalid, NotFound
from aimsgraph.interop.exporters import oscal
from aimsgraph.store import GraphStore
from conftest import AS_OF, FreshDataDir, aimsgraph, select

MODELS = {
    "catalog": (Catalog, "catalog"),
    "profile": (Profile, "profile"),
    "component-definition": (ComponentDefinition, "component-definition"),
    "assessment-results": (AssessmentResults, "assessment-results"),
    "poam": (PlanOfActionAndMilestones, "plan-of-action-and-milestones"),
}
PREFIXES = """PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""


@pytest.fixture(scope="module")
def exported(app: Flask) -> dict[str, dict]:
    """Every export once over REST (the three catalogues too), with what the record says they
    must hold, read from the same store at the same time."""
    client = app.test_client()
    found: dict[str, dict] = {}
    for name, path in [
        *((kind, f"/api/export/oscal/{kind}") for kind in oscal.KINDS),
        ("nist", "/api/export/oscal/catalog?framework=nist-ai-rmf"),
        ("eu", "/api/export/oscal/catalog?framework=eu-ai-act"),
    ]:
        response = client.get(path)
        assert response.status_code == 200, response.text
        assert response.mimetype == "application/json"
        found[name] = {"raw": response.data, "json": json.loads(response.data)}
    found["soa"] = client.get("/api/soa", headers={"Accept": "application/json"}).get_json()
    found["findings"] = client.get("/api/findings?limit=100000").get_json()
    found["again"] = {kind: client.get(f"/api/export/oscal/{kind}").data for kind in ("profile", "assessment-results", "poam")}
    found["nonconformities"] = select(client, PREFIXES + "SELECT DISTINCT ?n WHERE { ?n a aims:Nonconformity }")
    found["actions"] = select(client, PREFIXES + "SELECT DISTINCT ?a ?n WHERE { ?a a aims:CorrectiveAction ; aims:addresses ?n }")
    found["systems"] = select(client, PREFIXES + "SELECT DISTINCT ?s WHERE { ?s a aims:AISystem }")
    found["annex"] = select(client, PREFIXES + "SELECT ?id WHERE { ?c a aims:ReferenceControl ; skos:notation ?id }")
    found["obligations"] = select(client, PREFIXES + "SELECT DISTINCT ?o WHERE { ?o a aims:Obligation }")
    return found


def _model(exported: dict, name: str, kind: str):
    model, root = MODELS[kind]
    return model.model_validate(exported[name]["json"][root])


def _controls(items: list[dict]) -> list[dict]:
    """Every control of a catalog's groups, nested ones too."""
    found = []
    for item in items:
        found += _controls(item.get("groups", []))
        for control in item.get("controls", []):
            found += [control, *_controls([{"controls": control.get("controls", [])}])]
    return found


@pytest.mark.parametrize("name,kind", [(k, k) for k in oscal.KINDS] + [("nist", "catalog"), ("eu", "catalog")])
def test_each_export_validates_with_trestle(exported: dict, name: str, kind: str) -> None:
    document = _model(exported, name, kind)
    assert document.metadata.last_modified.date() == AS_OF  # the evaluation date, not the wall clock
    assert str(document.metadata.oscal_version.root.root).startswith("1.")


def test_an_invalid_document_does_not_validate(exported: dict) -> None:
    broken = json.loads(exported["catalog"]["raw"])
    broken["catalog"]["groups"][0]["controls"][0]["id"] = "1 not a token"
    with pytest.raises(ValidationError):
        Catalog.model_validate(broken["catalog"])
    with pytest.raises(ExportInvalid, match="catalog is not valid: groups"):
        oscal.validated("catalog", broken)
    missing = json.loads(exported["poam"]["raw"])
    del missing["plan-of-action-and-milestones"]["metadata"]["last-modified"]
    with pytest.raises(ExportInvalid, match="last-modified"):
        oscal.validated("poam", missing)


def test_every_observation_and_finding_is_checked_not_only_the_first(exported: dict) -> None:
    """The growing lists of the assessment results are checked an item at a time (scale)."""
    broken = json.loads(exported["assessment-results"]["raw"])
    result = broken["assessment-results"]["results"][0]
    assert len(result["observations"]) > 2 and len(result["findings"]) > 2
    result["findings"][2]["target"]["status"]["state"] = "maybe"
    with pytest.raises(ExportInvalid, match=r"results\.0\.findings\.2\.target"):
        oscal.serialize("assessment-results", broken["assessment-results"])
    del result["findings"][2]["target"]["status"]["state"], result["observations"][1]["methods"]
    result["findings"][2]["target"]["status"]["state"] = "satisfied"
    with pytest.raises(ExportInvalid, match=r"results\.0\.observations\.1\.methods"):
        oscal.serialize("assessment-results", broken["assessment-results"])


def test_a_record_without_nonconformities_has_no_poam() -> None:
    """OSCAL asks for at least one POA&M item: 404, not an invalid document (a generated
    organisation of 1,000 systems has none)."""
    store = GraphStore(None)
    store.initialise(demo=False)
    with pytest.raises(NotFound, match="no nonconformities"):
        oscal.export(store, "poam", AS_OF)


def test_the_iso_catalog_has_annex_a_by_topic_and_the_clauses(exported: dict) -> None:
    catalog = exported["catalog"]["json"]["catalog"]
    groups = {g["id"]: g for g in catalog["groups"]}
    assert list(groups) == ["A.2", "A.3", "A.4", "A.5", "A.6", "A.7", "A.8", "A.9", "A.10", "clauses"]
    annex = [c for g in catalog["groups"] if g["id"] != "clauses" for c in _controls([g])]
    assert sorted(c["id"] for c in annex) == sorted(row["id"] for row in exported["annex"])
    assert {g["id"] for g in groups["A.6"]["groups"]} == {"A.6.1", "A.6.2"}  # objectives as sub-groups
    policy = next(c for c in annex if c["id"] == "A.2.2")
    assert policy["title"] == "AI policy" and policy["props"] == [{"name": "label", "value": "A.2.2"}]
    assert policy["parts"][0]["name"] == "statement" and "documented policy" in policy["parts"][0]["prose"]
    clauses = {c["id"] for c in _controls([groups["clauses"]])}
    assert {"clause-4", "clause-6.1.2", "clause-10.2"} <= clauses
    assert "not reproduced" in catalog["metadata"]["remarks"]


def test_the_nist_and_eu_ai_act_catalogs(exported: dict) -> None:
    nist = exported["nist"]["json"]["catalog"]
    assert [g["id"] for g in nist["groups"]] == ["GOVERN", "MAP", "MEASURE", "MANAGE"]
    assert len(_controls(nist["groups"])) == 72  # the subcategories
    eu = exported["eu"]["json"]["catalog"]
    obligations = {c["id"] for c in _controls(eu["groups"])}
    assert len(obligations) == len(exported["obligations"]) > 0
    literacy = next(c for c in _controls(eu["groups"]) if c["id"] == "obligation-provider-ai-literacy")
    assert any(p["name"] == "basis" for p in literacy["props"])


def test_the_profile_selects_the_applicable_controls_with_their_justifications(exported: dict) -> None:
    profile = exported["profile"]["json"]["profile"]
    rows = exported["soa"]["rows"]
    applicable = [r["id"] for r in rows if r.get("applicable") == "true"]
    selected = profile["imports"][0]["include-controls"][0]["with-ids"]
    assert selected == applicable and 0 < len(selected) < len(rows)  # the demo excludes some
    alters = {a["control-id"]: a["adds"][0] for a in profile["modify"]["alters"]}
    assert set(alters) == set(applicable)
    justified = {r["id"]: r["justification"] for r in rows if "justification" in r}
    for cid, add in alters.items():
        if cid in justified:
            assert add["parts"][0]["name"] == "justification" and add["parts"][0]["prose"] == justified[cid]
    exclusions = {p["value"]: p["remarks"] for p in profile["metadata"]["props"] if p.get("class") == "soa-exclusion"}
    assert set(exclusions) == {r["id"] for r in rows if r.get("applicable") != "true"}
    resource = profile["back-matter"]["resources"][0]
    assert profile["imports"][0]["href"] == "#" + resource["uuid"]


def test_the_component_definition_has_every_ai_system_and_its_controls(exported: dict) -> None:
    components = exported["component-definition"]["json"]["component-definition"]["components"]
    canonical = {c["links"][0]["href"]: c for c in components}
    assert {row["s"] for row in exported["systems"]} <= set(canonical)
    chatbot = canonical["https://data.meridian.example/aims/system/customer-service-chatbot"]
    requirements = chatbot["control-implementations"][0]["implemented-requirements"]
    annex = {row["id"] for row in exported["annex"]}
    assert requirements and {r["control-id"] for r in requirements} <= annex
    evidence = [link for r in requirements for link in r["links"] if link["rel"] == "evidence"]
    assert evidence and all(link["href"].startswith("https://dms.meridian.example/") for link in evidence)
    managed = [c for c in components if c["type"] == "process-procedure"]
    policy = managed[0]["control-implementations"][0]["implemented-requirements"]
    assert any(r["control-id"] == "A.2.2" for r in policy)  # the AI policy applies to no one system


def test_the_assessment_results_are_the_stored_findings_with_their_evidence(exported: dict) -> None:
    document = exported["assessment-results"]["json"]["assessment-results"]
    result = document["results"][0]
    stored = exported["findings"]
    assert len(result["findings"]) == stored["count"] == len(stored["findings"]) > 0
    severities = sorted(next(p["value"] for p in f["props"] if p["name"] == "severity") for f in result["findings"])
    assert severities == sorted(f["severity"] for f in stored["findings"])
    observations = {o["uuid"]: o for o in result["observations"]}
    for finding in result["findings"]:
        observation = observations[finding["related-observations"][0]["observation-uuid"]]
        assert observation["methods"] == ["TEST"] and finding["target"]["status"]["state"] == "not-satisfied"
    resources = {r["uuid"] for r in document["back-matter"]["resources"]}
    subjects = [s for o in result["observations"] for s in o.get("subjects", [])]
    assert subjects and {s["subject-uuid"] for s in subjects} <= resources
    assert document["import-ap"]["href"].removeprefix("#") in resources
    with_evidence = [o for o in result["observations"] if "relevant-evidence" in o]
    assert all(e["description"] for o in with_evidence for e in o["relevant-evidence"])


def test_the_poam_has_an_item_per_nonconformity_and_its_corrective_actions(exported: dict) -> None:
    document = exported["poam"]["json"]["plan-of-action-and-milestones"]
    items = document["poam-items"]
    assert len(items) == len(exported["nonconformities"]) > 0
    risks = {r["uuid"]: r for r in document["risks"]}
    remediations = [m for i in items for m in risks[i["related-risks"][0]["risk-uuid"]].get("remediations", [])]
    assert len(remediations) == len(exported["actions"])
    closed = [m for m in remediations if m["lifecycle"] == "completed"]
    assert closed and all(m["tasks"][0]["timing"]["on-date"]["date"] for m in remediations)


def test_uuids_are_stable_and_unique(exported: dict) -> None:
    for kind, again in exported["again"].items():
        assert again == exported[kind]["raw"], kind
    for name in ("catalog", "profile", "component-definition", "assessment-results", "poam"):
        text = exported[name]["raw"].decode()
        uuids = [value for key, value in _pairs(json.loads(text)) if key == "uuid"]
        assert len(uuids) == len(set(uuids)), name


def _pairs(value: object):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _pairs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _pairs(item)


def test_rest_refuses_what_it_cannot_export(app: Flask) -> None:
    client = app.test_client()
    unknown = client.get("/api/export/oscal/ssp")
    assert unknown.status_code == 400 and "catalog, profile" in unknown.get_json()["detail"]
    assert client.get("/api/export/oscal/catalog?framework=cobit").status_code == 400
    assert client.get("/api/export/oscal/poam?asOf=yesterday").status_code == 400
    assert client.get("/api/export/oscal/poam", headers={"Accept": "text/csv"}).status_code == 406


def test_the_cli_writes_the_same_documents(tmp_path: Path, fresh_data_dir: FreshDataDir, exported: dict) -> None:
    data_dir = fresh_data_dir(tmp_path / "db")
    out = tmp_path / "profile.json"
    result = aimsgraph("export", "oscal", "profile", "--data-dir", data_dir, "-o", out)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == exported["profile"]["raw"]  # another store, the same record: the same UUIDs
    later = aimsgraph("export", "oscal", "poam", "--as-of", "2027-01-15", "--data-dir", data_dir)
    assert later.exit_code == 0, later.output
    poam = PlanOfActionAndMilestones.model_validate(json.loads(later.stdout)["plan-of-action-and-milestones"])
    assert poam.metadata.last_modified.date().isoformat() == "2027-01-15"
    wrong = aimsgraph("export", "oscal", "ssp", "--data-dir", data_dir)
    assert wrong.exit_code == 2 and "ssp" in wrong.stderr
