"""Assess once, see every framework (issue 20): readiness of ISO/IEC 42001, the NIST AI RMF and
the EU AI Act side by side, decided through the crosswalks with weakest-link semantics; over
REST, on the dashboard, on its page and in the auditor report."""

from __future__ import annotations

import json
from datetime import date

import pytest

from aimsgraph.reporting import auditor_report, frameworks, overview
from aimsgraph.reporting.frameworks import EQUAL, INTERSECTS, SUBSET, SUPERSET, Decider
from aimsgraph.semantics import validation
from aimsgraph.store import GraphStore

AS_OF = "2026-11-26"
DAY = date.fromisoformat(AS_OF)
HTML = {"Accept": "text/html"}


def decider(status: str, relation: str = EQUAL) -> Decider:
    checks, failed = {"met": (3, 0), "not met": (3, 1), "not assessed": (0, 0)}[status]
    return Decider("https://w3id.org/aimsgraph/iso42001/x", "x", relation, status, checks, failed)


@pytest.mark.parametrize(
    ("deciders", "status"),
    [
        ([], "unmapped"),
        ([decider("met", EQUAL)], "met"),
        ([decider("met", SUPERSET)], "met"),
        ([decider("met", SUBSET)], "partial"),  # the ISO item asks for part of it
        ([decider("met", INTERSECTS), decider("met", SUBSET)], "partial"),
        ([decider("met", INTERSECTS), decider("met", EQUAL)], "met"),
        ([decider("met", EQUAL), decider("not met", SUBSET)], "not met"),  # the weakest link decides
        ([decider("met", EQUAL), decider("not assessed", EQUAL)], "not assessed"),
        ([decider("not assessed"), decider("not met")], "not met"),
    ],
)
def test_the_weakest_link_decides(deciders, status):
    assert frameworks._decide(deciders) == status


@pytest.fixture(scope="module")
def demo(demo_store):
    summary = validation.FindingsIndex(None, DAY, validation.validate_store(demo_store, DAY)).summary(demo_store)
    return {f.key: f for f in frameworks.readiness(demo_store, overview.readiness(demo_store, summary), summary.checks)}


def test_three_frameworks_side_by_side_on_the_demo(demo):
    assert list(demo) == ["iso42001", "nist-ai-rmf", "eu-ai-act"]
    assert len(demo["nist-ai-rmf"].requirements) == 72
    for framework in demo.values():
        assert sum(framework.counts.values()) == len(framework.requirements)
    iso = {r.iri.rsplit("/", 1)[1]: r.status for r in demo["iso42001"].requirements}
    assert iso["A.6.2.8"] == "not met"  # gap 11: CV screening has no event logging


def test_the_eu_registration_gap_decides_the_registration_obligation(demo):
    """Gap 13: retail credit scoring is high-risk, provided by Meridian, and not registered."""
    eu = {r.iri.rsplit("/", 1)[1]: r for r in demo["eu-ai-act"].requirements}
    [registration] = [r for key, r in eu.items() if "provider" in key and "regist" in key]
    assert registration.status == "not met"
    assert any(d.iri.endswith("EUHighRiskProviderShape-registration") and d.failed == 1 for d in registration.deciders)
    [assessment] = [r for key, r in eu.items() if "provider" in key and "conformity-assessment" in key]
    assert any(d.iri.endswith("EUHighRiskProviderShape-conformityAssessment") and d.status == "met" for d in assessment.deciders)


def test_readiness_over_rest_the_dashboard_its_page_and_the_report(client, demo_store):
    answer = client.get("/api/readiness", query_string={"asOf": AS_OF})
    assert answer.status_code == 200
    body = answer.get_json()
    assert [f["key"] for f in body["frameworks"]] == ["iso42001", "nist-ai-rmf", "eu-ai-act"]
    assert all(set(f["counts"]) == set(frameworks.STATUSES) for f in body["frameworks"])
    only = client.get("/api/readiness", query_string={"framework": "eu-ai-act", "asOf": AS_OF}).get_json()
    assert [f["key"] for f in only["frameworks"]] == ["eu-ai-act"] and only["frameworks"][0]["requirements"][0]["decidedBy"]
    refused = client.get("/api/readiness", query_string={"framework": "sox"})
    assert refused.status_code == 400 and "iso42001, nist-ai-rmf, eu-ai-act" in refused.get_data(as_text=True)
    dashboard = client.get("/", headers=HTML).get_data(as_text=True)
    assert "Readiness per framework" in dashboard and "NIST AI RMF 1.0" in dashboard and "EU AI Act" in dashboard
    page = client.get("/readiness", query_string={"framework": "eu-ai-act", "status": "not met"}, headers=HTML)
    assert page.status_code == 200 and "not met" in page.get_data(as_text=True)
    report = auditor_report.render_html(demo_store, validation.validate_store(demo_store, DAY), DAY)
    assert 'id="frameworks"' in report and "NIST AI RMF 1.0" in report


def test_the_command_line_gives_the_same_readiness(tmp_path):
    """``aimsgraph readiness`` on a demo store: the counts the REST API gives, as text and JSON."""
    from conftest import aimsgraph

    data_dir = tmp_path / "db"
    GraphStore(data_dir).initialise()  # and let go of it: RocksDB locks a store while it is open
    text = aimsgraph("readiness", "--as-of", AS_OF, "--data-dir", data_dir)
    assert text.exit_code == 0, text.output
    assert text.output.splitlines()[0].startswith("ISO/IEC 42001:") and "NIST AI RMF 1.0:" in text.output
    assert "not met      " in text.output
    answer = aimsgraph("readiness", "--framework", "eu-ai-act", "--format", "json", "--as-of", AS_OF, "--data-dir", data_dir)
    body = json.loads(answer.output)
    assert [f["key"] for f in body["frameworks"]] == ["eu-ai-act"] and body["frameworks"][0]["counts"]["not met"] >= 1
    assert aimsgraph("readiness", "--framework", "sox", "--data-dir", data_dir).exit_code == 2


def test_nist_readiness_computed_by_hand_from_the_crosswalk_file(demo, demo_store):
    """The NIST AI RMF column recomputed another way: the crosswalk file read with rdflib, an
    ISO item's checks summed over the items numbered under it, the weakest-link rules spelled out."""
    import rdflib

    from aimsgraph import resources

    sssom, aims = rdflib.Namespace("https://w3id.org/sssom/"), rdflib.Namespace(frameworks.AIMS)
    crosswalk = rdflib.Graph().parse(resources.path("data", "crosswalks", "iso42001-nist-ai-rmf.ttl"))
    mapped: dict[str, list[tuple[str, str]]] = {}
    for m in crosswalk.subjects(rdflib.RDF.type, sssom.Mapping):
        iso_item = str(crosswalk.value(m, sssom.subject_id)).rsplit("/", 1)[1]
        subcategory = str(crosswalk.value(m, sssom.object_id))
        mapped.setdefault(subcategory, []).append((iso_item, str(crosswalk.value(m, aims.olirRelationship))))
    summary = validation.FindingsIndex(None, DAY, validation.validate_store(demo_store, DAY)).summary(demo_store)
    clauses = {r.key.rsplit("/", 1)[1]: r for r in overview.readiness(demo_store, summary)}
    assert {r.iri.rsplit("/", 1)[1] for r in demo["iso42001"].requirements} == clauses.keys()

    def item_status(item: str) -> str:
        under = [r for key, r in clauses.items() if key == item or key.startswith(item + ".")]
        total, failed = sum(r.total for r in under), sum(r.failed for r in under)
        return "not assessed" if not total else "not met" if failed else "met"

    by_hand = {}
    for requirement in demo["nist-ai-rmf"].requirements:
        pairs = mapped.get(requirement.iri, [])
        statuses = [item_status(item) for item, _ in pairs]
        if not pairs:
            by_hand[requirement.iri] = "unmapped"
        elif "not met" in statuses:
            by_hand[requirement.iri] = "not met"
        elif "not assessed" in statuses:
            by_hand[requirement.iri] = "not assessed"
        elif any(relation.endswith(("OlirEqual", "OlirSupersetOf")) for _, relation in pairs):
            by_hand[requirement.iri] = "met"
        else:
            by_hand[requirement.iri] = "partial"
    assert {r.iri: r.status for r in demo["nist-ai-rmf"].requirements} == by_hand
    assert set(by_hand.values()) >= {"not met", "unmapped"}  # the demo's gaps show through
