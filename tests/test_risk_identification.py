"""Risk identification from the taxonomies (issue 20): suggestion rules propose taxonomy risks
from the register's facts, each explained by its premises; a shape asks that each is addressed
by a risk or dismissed with a reason; the questionnaire page walks an owner through them."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from aimsgraph.config import Settings
from aimsgraph.semantics import suggestions
from aimsgraph.store import GraphStore
from conftest import FreshDataDir, serving, settle

DEMO = "https://data.meridian.example/aims/"
AIMS = "https://w3id.org/aimsgraph/ontology#"
TAX = "https://w3id.org/aimsgraph/taxonomy/"
EDITOR = "editor-token-for-suggestions-1"


def test_each_suggestion_is_explained_by_its_premises(demo_store: GraphStore):
    found = {(s.node, s.source): s for s in suggestions.suggestions(demo_store, suggestions.load_rules(demo_store))}
    injection = found[(DEMO + "system/customer-service-chatbot", TAX + "owasp-llm-2.0/llm01-prompt-injection")]
    assert injection.rules == {"https://w3id.org/aimsgraph/risk-identification/third-party-gpai"}
    assert {(s.removeprefix(DEMO), p.removeprefix(AIMS), str(o)) for s, p, o in injection.premises} == {
        ("system/customer-service-chatbot", "usesModel", f"<{DEMO}model/aurora-llm>"),
        ("model/aurora-llm", "isGeneralPurposeAIModel", '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>'),
        ("model/aurora-llm", "suppliedBy", f"<{DEMO}supplier/aurora-ai>"),
    }
    privacy = found[(DEMO + "system/retail-credit-scoring", TAX + "nist-ai-rmf/nist-data-privacy")]
    assert (DEMO + "dataset/credit-performance-history", AIMS + "containsPersonalData") in {
        (s, p) for s, p, _ in privacy.premises
    }
    # a system no rule speaks of gets no suggestion
    assert not any(node == DEMO + "system/card-fraud-detection" for node, _ in found)


def test_a_pattern_that_is_not_a_basic_graph_pattern_is_skipped(caplog):
    store = GraphStore(None)
    store.initialise(demo=False)
    store.extend(
        ox.Quad(q.subject, q.predicate, q.object, ox.NamedNode("https://w3id.org/aimsgraph/graph/data"))
        for q in ox.parse(
            f"""@prefix aims: <{AIMS}> .
            <urn:rule:optional> a aims:SuggestionRule ; aims:suggestsSource <urn:source> ;
                aims:premisePattern "?this aims:usesModel ?m OPTIONAL {{ ?m aims:trainedOn ?d }}" .
            <urn:rule:broken> a aims:SuggestionRule ; aims:suggestsSource <urn:source> ; aims:premisePattern "?this aims:usesModel" .""",
            format=ox.RdfFormat.TURTLE,
        )
    )
    rules = {r.iri for r in suggestions.load_rules(store)}
    assert "urn:rule:optional" not in rules and "urn:rule:broken" not in rules
    assert "https://w3id.org/aimsgraph/risk-identification/third-party-gpai" in rules  # the shipped ones stay
    assert "not a basic graph pattern" in caplog.text


@pytest.fixture()
def service(tmp_path, fresh_data_dir: FreshDataDir):
    settings = Settings(data_dir=fresh_data_dir(tmp_path / "db"), demo=True, tokens=(f"editor:owner:{EDITOR}",))
    with serving(settings) as app:
        client = app.test_client()
        assert client.post("/api/validate", headers={"Authorization": f"Bearer {EDITOR}"}).status_code == 200
        yield client


def open_sources(client, system: str) -> set[str]:
    settle(client)
    findings = client.get("/api/findings", query_string={"system": DEMO + system}).get_json()["findings"]
    return {f["value"] for f in findings if f["shape"].endswith("RiskSuggestionShape")}


def turtle(client, body: str):
    answer = client.post(
        "/api/import",
        query_string={"kind": "rdf"},
        data=f"@prefix aims: <{AIMS}> . {body}",
        headers={"Content-Type": "text/turtle", "Authorization": f"Bearer {EDITOR}"},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)


def test_a_suggestion_is_closed_by_a_risk_citing_it_or_by_a_dismissal_with_a_reason(service):
    privacy = TAX + "nist-ai-rmf/nist-data-privacy"
    assert open_sources(service, "system/retail-credit-scoring") == {privacy}  # gap 14
    turtle(
        service,
        f"<{DEMO}system/retail-credit-scoring> aims:hasRisk <urn:risk:privacy> . <urn:risk:privacy> a aims:Risk ; aims:hasRiskSource <{privacy}> .",
    )
    assert open_sources(service, "system/retail-credit-scoring") == set()
    # a dismissal without a reason closes nothing, and is itself incomplete
    prompt = TAX + "owasp-llm-2.0/llm01-prompt-injection"
    assert prompt in open_sources(service, "system/code-assistant")
    turtle(
        service,
        f"<urn:dismissal:1> a aims:RiskSourceDismissal ; aims:dismissedFor <{DEMO}system/code-assistant> ; aims:dismissedSource <{prompt}> .",
    )
    assert prompt in open_sources(service, "system/code-assistant")
    missing = service.get("/api/findings", query_string={"shape": "RiskSourceDismissalShape-justification"}).get_json()
    assert any(f["focus"] == "urn:dismissal:1" for f in missing["findings"])
    turtle(service, '<urn:dismissal:1> aims:justification "Developers never paste untrusted content into the assistant." .')
    assert prompt not in open_sources(service, "system/code-assistant")


def test_the_questionnaire_shows_the_premises_and_what_to_record(service):
    page = service.get("/suggestions", query_string={"system": DEMO + "system/code-assistant"}, headers={"Accept": "text/html"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "(open)" in text and "(addressed)" in text  # supply chain, by the risk on its model
    assert "Aurora-3 Large language model" in text  # a premise, by its label
    assert "ontology#RiskSourceDismissal" in text and "ontology#hasRiskSource" in text  # the two answers
    listing = service.get("/suggestions", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "Internal code assistant" in listing
    assert (
        service.get(
            "/suggestions", query_string={"system": "https://nowhere.example/x"}, headers={"Accept": "text/html"}
        ).status_code
        == 404
    )
