"""Every named query in queries/ has a header, runs on the demo, and answers what it promises."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from aimsgraph import clock
from aimsgraph.records import queries
from aimsgraph.store import GraphStore
from conftest import links

DEMO = "https://data.meridian.example/aims/"
AIMS = "https://w3id.org/aimsgraph/ontology#"
RM = "https://w3id.org/aimsgraph/risk-matrix/"
NAMED = queries.load_all()

#: The reference date of the demo data (data/demo/README.md); queries that compare dates take it
#: through the optional grlc-style parameter ?__asOf_xsd_date, so their expectations do not age.
AS_OF = "2026-11-26"


def iris(prefix: str, *names: str) -> set[str]:
    return {DEMO + prefix + "/" + name for name in names}


def column(rows: list[dict[str, str]], name: str) -> list[str]:
    return [r[name] for r in rows if name in r]


def by(rows: list[dict[str, str]], key: str) -> dict[str, dict[str, str]]:
    return {r[key]: r for r in rows}


def split(row: dict[str, str], name: str) -> set[str]:
    """A space-separated multi-valued column (GROUP_CONCAT) as a set; absent means empty."""
    return set(row.get(name, "").split())


# -- expectations on the demo (reference date 2026-11-26) ----------------------------------------


def risk_register(rows):
    levels = [r["level"] for r in rows]
    ranks = [int(r["rank"]) for r in rows]
    return (
        len(rows) == 40
        and len(set(column(rows, "risk"))) == 40
        and (levels.count(RM + "Critical"), levels.count(RM + "High"), levels.count(RM + "Medium")) == (2, 21, 17)
        and ranks == sorted(ranks, reverse=True)
        and {r["risk"] for r in rows[:2]} == iris("risk", "retail-credit-model-drift", "aml-missed-typologies")
        and all(r.get("owner") and r.get("treatment") and r.get("nextReview") for r in rows)
        and by(rows, "risk")[DEMO + "risk/next-best-offer-vulnerable-targeting"]["score"] == "12"
    )


def statement_of_applicability(rows):
    entries = by(rows, "id")
    a_9_4, a_6_2_6, a_8_3 = entries["A.9.4"], entries["A.6.2.6"], entries["A.8.3"]
    return (
        len(rows) == 38
        and [r["id"] for r in rows[:2]] == ["A.2.2", "A.2.3"]
        and rows[-1]["id"] == "A.10.4"
        and column(rows, "applicable").count("false") == 3
        and "justification" not in a_8_3
        and a_8_3["applicable"] == "false"
        and a_9_4["status"] == AIMS + "FullyImplemented"
        and not split(a_9_4, "implementedBy")
        and not split(a_9_4, "risks")
        and not split(a_9_4, "evidence")
        and DEMO + "control/chatbot-guardrails" in split(a_6_2_6, "implementedBy")
        and DEMO + "risk/chatbot-prompt-injection" in split(a_6_2_6, "risks")
        and DEMO + "evidence/fraud-backtest-2025" in split(a_6_2_6, "evidence")
        and split(entries["A.10.2"], "implementedBy")
        == iris("control", "ai-raci", "supplier-ai-due-diligence", "cv-vendor-contract", "chatbot-pii-redaction")
    )


def soa_risks(rows):
    links = {(r["id"], r["implementation"], r["relation"], r["risk"]) for r in rows}
    guardrails, injection = DEMO + "control/chatbot-guardrails", DEMO + "risk/chatbot-prompt-injection"
    return (
        len(rows) == len(links)
        and ("A.6.2.6", guardrails, AIMS + "mitigates", injection) in links
        and ("A.6.2.6", guardrails, AIMS + "detects", injection) in links
        and "A.9.4" not in column(rows, "id")
        and DEMO + "risk/next-best-offer-vulnerable-targeting" not in column(rows, "risk")
        and {r["relation"] for r in rows} == {AIMS + "mitigates", AIMS + "detects"}
    )


def soa_evidence(rows):
    stale = {(r["id"], r["evidence"]) for r in rows if r["current"] == "false"}
    return (
        stale
        == {
            ("A.6.2.4", DEMO + "evidence/fraud-backtest-2025"),
            ("A.6.2.6", DEMO + "evidence/fraud-backtest-2025"),
            ("A.10.2", DEMO + "evidence/aurora-supplier-assessment-2025"),
            ("A.10.3", DEMO + "evidence/aurora-supplier-assessment-2025"),
        }
        and all(r["today"] == AS_OF for r in rows)
        and DEMO + "control/chatbot-guardrails" not in column(rows, "implementation")
        and ("A.10.2", DEMO + "evidence/scriptura-supplier-assessment-2026") in {(r["id"], r["evidence"]) for r in rows}
    )


def systems_without_current_risk_assessment(rows):
    systems = by(rows, "system")
    claims, assistant = DEMO + "system/claims-triage", DEMO + "system/code-assistant"
    return (
        set(systems) == {claims, assistant}
        and systems[claims]["latestAssessment"] == "2025-06-12"
        and systems[claims]["inScope"] == "true"
        and systems[claims]["staleBefore"] == "2025-11-26"
        and "latestAssessment" not in systems[assistant]
        and systems[assistant]["inScope"] == "false"
    )


def high_risks_without_effective_control(rows):
    return (
        column(rows, "risk") == [DEMO + "risk/next-best-offer-vulnerable-targeting"]
        and rows[0]["treatingControls"] == "0"
        and rows[0]["appetite"] == RM + "High"
        and rows[0]["asset"] == DEMO + "system/next-best-offer"
    )


def controls_without_evidence(rows):
    found = {(r["control"], r["issue"], r.get("evidence"), r["hasCurrentEvidence"]) for r in rows}
    return len(rows) == 3 and found == {
        (DEMO + "control/chatbot-guardrails", "missing", None, "false"),
        (DEMO + "control/fraud-champion-challenger", "expired", DEMO + "evidence/fraud-backtest-2025", "false"),
        (DEMO + "control/supplier-ai-due-diligence", "expired", DEMO + "evidence/aurora-supplier-assessment-2025", "true"),
    }


def overdue_reviews(rows):
    claims_risks = iris(
        "risk", "claims-triage-unfair-routing", "claims-triage-catastrophe-surge", "claims-triage-vulnerable-delay"
    )
    types = {r["item"]: r["type"] for r in rows}
    return (
        len(rows) == 4
        and set(types) == claims_risks | iris("assessment", "ra-claims-triage-2025")
        and types[DEMO + "assessment/ra-claims-triage-2025"] == AIMS + "RiskAssessment"
        and all(types[risk] == AIMS + "Risk" for risk in claims_risks)
        and {(r["nextReview"], r["overdueBy"], r["owner"]) for r in rows} == {("2026-06-12", "P167D", DEMO + "role/claims-owner")}
    )


def stakeholders_affected_by_system(rows):
    parties = by(rows, "stakeholder")
    borrowers, board = DEMO + "party/borrowers-in-arrears", DEMO + "party/board"
    return (
        set(parties) == iris("party", "borrowers-in-arrears", "vulnerable-customers", "national-banking-supervisor", "board")
        and split(parties[borrowers], "via") == {"subject", "risk", "consequence", "impact"}
        and split(parties[board], "via") == {"consequence", "impact"}
        and split(parties[borrowers], "risks")
        == iris("risk", "collections-vulnerable-debtors", "collections-upstream-score-errors")
    )


def datasets_without_provenance_or_quality(rows):
    return (
        column(rows, "dataset") == [DEMO + "dataset/collections-contact-history"]
        and (rows[0]["hasProvenance"], rows[0]["hasQualityAssessment"]) == ("true", "false")
        and split(rows[0], "usedBy") == {DEMO + "system/collections-prioritisation", DEMO + "model/collections-model"}
    )


def ai_system_profile(rows):
    systems = by(rows, "system")
    claims = systems[DEMO + "system/claims-triage"]
    collections = systems[DEMO + "system/collections-prioritisation"]
    assistant = systems[DEMO + "system/code-assistant"]
    return (
        len(rows) == 12
        and column(rows, "id") == [f"AIS-{n:03d}" for n in range(1, 13)]
        and all(r.get("purpose") and r.get("domain") and r.get("capability") and r.get("deployer") for r in rows)
        and claims["deployer"] == DEMO + "org/meridian-assurance"
        and claims["domain"] == AIMS + "Insurance"
        and split(collections, "subjects") == iris("party", "borrowers-in-arrears", "vulnerable-customers")
        and not split(assistant, "subjects")
        and split(assistant, "models") == {DEMO + "model/aurora-llm"}
        and sum(1 for r in rows if split(r, "subjects")) == 10
    )


def risk_profile(rows):
    risks = by(rows, "risk")
    proxy = risks[DEMO + "risk/retail-credit-proxy-discrimination"]
    targeting = risks[DEMO + "risk/next-best-offer-vulnerable-targeting"]
    return (
        len(rows) == 40
        and split(proxy, "sources")
        == {DEMO + "risk-source/historical-bias", "https://w3id.org/aimsgraph/iso42001/C.3-machine-learning"}
        and split(proxy, "consequences") == {DEMO + "consequence/unfair-credit-decision"}
        and split(proxy, "impacts") == iris("impact", "discriminatory-credit-denial", "supervisory-sanction")
        and (proxy["likelihood"], proxy["severity"], proxy["level"]) == (RM + "L3", RM + "S5", RM + "High")
        and DEMO + "control/credit-fairness-testing" in split(proxy, "controls")
        and not split(targeting, "controls")
        and [r["risk"] for r in rows if not split(r, "controls")] == [DEMO + "risk/next-best-offer-vulnerable-targeting"]
    )


def affected_stakeholders_and_areas(rows):
    risks = by(rows, "risk")
    proxy = risks[DEMO + "risk/retail-credit-proxy-discrimination"]
    energy = risks[DEMO + "risk/gpu-energy-footprint"]
    return (
        len(rows) == 40
        and all(split(r, "stakeholders") and split(r, "areas") for r in rows)
        and split(proxy, "stakeholders")
        == iris("party", "retail-loan-applicants", "sme-applicants", "national-banking-supervisor", "board")
        and split(proxy, "areas") == {AIMS + "FundamentalRights", AIMS + "Financial", AIMS + "Reputation"}
        and split(energy, "stakeholders") == {DEMO + "party/general-public"}
        and split(energy, "areas") == {AIMS + "Environment"}
    )


#: One expectation per shipped query: a test fails if a query in queries/ has none.
def system_record_nodes(rows: list[dict[str, str]]) -> bool:
    records: dict[str, set[str]] = {}
    for row in rows:
        records.setdefault(row["system"], set()).add(row["node"])
    cv = records[DEMO + "system/cv-screening"]
    return (
        len(records) == 12
        and all(system in nodes for system, nodes in records.items())
        and DEMO + "system/code-assistant" in records
        and {n for n in cv if "/risk/" in n}
        and {n for n in cv if "/control/" in n}
        and {n for n in cv if "/assessment/" in n}
        and not {n for n in cv if "/risk/" in n and "cv" not in n and "talent" not in n and "screening" not in n}
    )


def why_risk(rows):
    source = by(rows, "sourceRisk")[DEMO + "risk/customer-transactions-quality"]
    scores = [float(r["residualScore"]) for r in rows]
    return (
        source["distance"] == "2"
        and source["sourceAsset"] == DEMO + "dataset/customer-transactions"
        and float(source["inherentScore"]) <= 0.48  # never more than the source risk (L3 x S4 = 12/25)
        and all(p.startswith(f"<{DEMO}system/collections-prioritisation> -") for r in rows for p in r["paths"].split("\n"))
        and scores == sorted(scores, reverse=True)
    )


def impact_revisit(rows):
    found = {(r["category"], r["item"]) for r in rows}
    return {
        ("risk", DEMO + "risk/customer-transactions-quality"),
        ("risk", DEMO + "risk/retail-credit-model-drift"),
        ("assessment", DEMO + "assessment/ia-retail-credit-scoring-2026"),
        ("soa", DEMO + "soa/A.7.4"),
        ("stakeholder", DEMO + "party/retail-customers"),
        ("control", DEMO + "control/data-quality-rules"),
    } <= found and not any(item.startswith(DEMO + "system/cv-screening") for _, item in found)


def concentration(rows):
    ranking = [(int(r["highRiskSystems"]), int(r["dependentSystems"])) for r in rows]
    counts = by(rows, "asset")
    return (
        ranking == sorted(ranking, reverse=True)
        and counts[DEMO + "dataset/customer-transactions"]["dependentSystems"] == "7"
        and counts[DEMO + "supplier/aurora-ai"]["dependentSystems"] == "2"  # the chatbot and the code assistant
    )


def open_incidents(rows):
    incidents = by(rows, "incident")
    chatbot = incidents.get(DEMO + "incident/inc-2026-0814")  # open unless the record closes it
    occurred = [r.get("occurredAt", "") for r in rows]
    return (
        len(incidents) == len(rows)
        and occurred == sorted(occurred, reverse=True)
        and all(r.get("status") != AIMS + "StatusClosed" for r in rows)
        and (
            chatbot is None
            or (
                split(chatbot, "systems") == iris("system", "customer-service-chatbot")
                and iris("system", "customer-service-chatbot") | iris("dataset", "knowledge-base") <= split(chatbot, "assets")
                and split(chatbot, "risks") == iris("risk", "chatbot-hallucination")
                and chatbot["owner"] == DEMO + "role/customer-service-owner"
            )
        )
    )


def overdue_communications(rows):
    return len({(r["incident"], r["party"]) for r in rows}) == len(rows) and all(
        r["today"] == AS_OF and r["informBy"][:10] < AS_OF and r["overdueBy"].startswith("P") for r in rows
    )


def overdue_nonconformities(rows):
    return DEMO + "action/ca-2026-01" not in column(rows, "item") and all(  # due 2027-01-31
        r["today"] == AS_OF
        and r["due"] < AS_OF
        and r["kind"] in ("Nonconformity", "Corrective action")
        and r.get("status") != AIMS + "StatusClosed"
        and r["overdueBy"].startswith("P")
        for r in rows
    )


def recurring_nonconformities(rows):
    return all(
        r["earlier"] != r["nonconformity"]
        and r["earlierOpened"] <= r["opened"]
        and r["earlierOpened"] >= str(int(r["opened"][:4]) - 1) + r["opened"][4:10]
        and split(r, "shared")
        and set(r["via"].split()) <= {"metric", "system", "clause"}
        for r in rows
    )


def metric_breaches(rows):
    gini = by(rows, "measurement").get(DEMO + "measurement/retail-pd-gini-2026-09-30")
    return (
        gini is not None
        and gini["metric"] == DEMO + "metric/retail-pd-gini"
        and (gini["value"], gini["threshold"], gini["direction"]) == ("0.53", "0.55", "lower")
        and split(gini, "systems") == iris("system", "retail-credit-scoring")
        and DEMO + "model/retail-pd-model" in split(gini, "assets")
        and DEMO + "risk/retail-credit-model-drift" in split(gini, "risks")
        and DEMO + "measurement/retail-pd-gini-2026-06-30" not in column(rows, "measurement")  # 0.58 >= 0.55
        and all(
            float(r["value"]) < float(r["threshold"]) if r["direction"] == "lower" else float(r["value"]) > float(r["threshold"])
            for r in rows
        )
    )


def due_items(rows):
    items = {(r["item"], r["kind"]): r for r in rows}
    action = items[(DEMO + "action/ca-2026-01", "Corrective action")]
    gini = items[(DEMO + "metric/retail-pd-gini", "Measurement")]
    dated = [r["due"] for r in rows if "due" in r]
    return (
        (action["due"], action["overdue"], action["owner"]) == ("2027-01-31", "false", DEMO + "role/claims-owner")
        and items[(DEMO + "assessment/ra-claims-triage-2025", "Review")]["overdue"] == "true"
        and items[(DEMO + "risk/claims-triage-unfair-routing", "Review")]["owner"] == DEMO + "role/claims-owner"
        and items[(DEMO + "evidence/fraud-backtest-2025", "Evidence expiry")]["due"] == "2026-03-31"
        and items[(DEMO + "change/replace-ocr-vendor", "Planned change")]["due"] == "2027-06-30"
        and "due" not in gini
        and gini["interval"] == "P3M"
        and gini["lastMeasured"] >= "2026-09-30"
        and dated == sorted(dated)
        and all(r["overdue"] == str(r["due"] < AS_OF).lower() for r in rows if "due" in r)
        and all("due" in r or r["kind"] == "Measurement" for r in rows)
    )


EUAIA = "https://w3id.org/aimsgraph/eu-ai-act/"


def eu_ai_act_classification(rows):
    categories: dict[str, set[str]] = {}
    for r in rows:
        categories.setdefault(r["node"], set()).add(r["category"].removeprefix(EUAIA))
    high = {r["node"]: r["basis"] for r in rows if r["category"] == EUAIA + "HighRisk"}
    return (
        {n for n in categories if "/system/" in n} == iris("system", *SYSTEMS)
        and high
        == {DEMO + "system/cv-screening": EUAIA + "AnnexIII-4-a", DEMO + "system/retail-credit-scoring": EUAIA + "AnnexIII-5-b"}
        and "TransparencyObligations" in categories[DEMO + "system/customer-service-chatbot"]
        and "TransparencyObligations" in categories[DEMO + "system/code-assistant"]
        and categories[DEMO + "system/sme-credit-scoring"] == {"MinimalRisk"}  # its applicants are businesses
        and "GPAIModelWithSystemicRisk" in categories[DEMO + "model/aurora-llm"]
        and all(r.get("label") and r.get("categoryLabel") for r in rows)
    )


def eu_ai_act_why(rows):
    premises = {(r["predicate"].rsplit("#", 1)[-1], r["object"].rsplit("/", 1)[-1], r.get("matches", "")) for r in rows}
    return {r["category"] for r in rows} == {EUAIA + "HighRisk"} and {
        ("applicationDomain", "ontology#Employment", "https://w3id.org/vair#Employment"),
        ("hasPurpose", "vair#JobApplicationScreening", "https://w3id.org/vair#JobApplicationScreening"),
        ("hasAISubject", "job-applicants", "https://w3id.org/vair#JobApplicant"),
        ("deployedBy", "meridian-bank", ""),
    } == premises


def risk_suggestions(rows):
    status = {(r["system"].rsplit("/", 1)[1], r["source"].rsplit("/", 1)[1]): r["status"] for r in rows}
    return (
        len(rows) == 21
        and status[("retail-credit-scoring", "nist-data-privacy")] == "open"  # gap 14
        and status[("retail-credit-scoring", "atlas-membership-inference-attack")] == "dismissed"
        and status[("customer-service-chatbot", "llm01-prompt-injection")] == "addressed"
        and status[("code-assistant", "llm032025-supply-chain")] == "addressed"  # by the risk on its model
        and sum(s == "open" for s in status.values()) == 6
    )


SYSTEMS = (
    "retail-credit-scoring",
    "sme-credit-scoring",
    "card-fraud-detection",
    "aml-transaction-monitoring",
    "cv-screening",
    "customer-service-chatbot",
    "document-extraction",
    "claims-triage",
    "customer-segmentation",
    "next-best-offer",
    "collections-prioritisation",
    "code-assistant",
)

EXPECTED = {
    "eu-ai-act-classification": eu_ai_act_classification,
    "eu-ai-act-why": eu_ai_act_why,
    "risk-suggestions": risk_suggestions,
    "ai-systems": lambda rows: len(rows) == 12 and all(r.get("owner") for r in rows),
    "annex-a-controls": lambda rows: len(rows) == 38 and rows[0]["id"] == "A.10.2",
    "risk-register": risk_register,
    "statement-of-applicability": statement_of_applicability,
    "soa-risks": soa_risks,
    "soa-evidence": soa_evidence,
    "dependents": lambda rows: (
        {DEMO + "system/retail-credit-scoring", DEMO + "system/card-fraud-detection"} <= {r["dependent"] for r in rows}
    ),
    "systems-without-current-risk-assessment": systems_without_current_risk_assessment,
    "high-risks-without-effective-control": high_risks_without_effective_control,
    "controls-without-evidence": controls_without_evidence,
    "overdue-reviews": overdue_reviews,
    "stakeholders-affected-by-system": stakeholders_affected_by_system,
    "datasets-without-provenance-or-quality": datasets_without_provenance_or_quality,
    "ai-system-profile": ai_system_profile,
    "risk-profile": risk_profile,
    "affected-stakeholders-and-areas": affected_stakeholders_and_areas,
    "system-record-nodes": system_record_nodes,
    "why-risk": why_risk,
    "impact-revisit": impact_revisit,
    "concentration": concentration,
    "record-counts": lambda rows: (
        [(r["label"], int(r["count"])) for r in rows][:5]
        == [("AI systems", 12), ("Models", 14), ("Datasets", 20), ("Infrastructure services", 8), ("Suppliers", 6)]
        and {r["label"]: int(r["count"]) for r in rows}["Risks"] == 40
        and {r["label"]: int(r["count"]) for r in rows}["Controls"] == 58
    ),
    "open-incidents": open_incidents,
    "overdue-communications": overdue_communications,
    "overdue-nonconformities": overdue_nonconformities,
    "recurring-nonconformities": recurring_nonconformities,
    "metric-breaches": metric_breaches,
    "due-items": due_items,
    "tasks": lambda rows: rows == [],  # the demo stores no task; tests/test_tasks.py asks it about stored ones
}
PARAMETERS = {
    "dependents": {"node": DEMO + "dataset/customer-transactions"},
    "stakeholders-affected-by-system": {"system": DEMO + "system/collections-prioritisation"},
    "why-risk": {"asset": DEMO + "system/collections-prioritisation"},
    "eu-ai-act-why": {"node": DEMO + "system/cv-screening"},
    "impact-revisit": {"node": DEMO + "dataset/customer-transactions"},
}

#: Gaps each dated query reports on any date after the demo's reference date: they only age into more.
ALWAYS_REPORTED = {
    "systems-without-current-risk-assessment": ("system", iris("system", "claims-triage", "code-assistant")),
    "high-risks-without-effective-control": ("risk", iris("risk", "next-best-offer-vulnerable-targeting")),
    "controls-without-evidence": (
        "control",
        iris("control", "chatbot-guardrails", "fraud-champion-challenger", "supplier-ai-due-diligence"),
    ),
    "overdue-reviews": ("item", iris("assessment", "ra-claims-triage-2025")),
    "due-items": ("item", iris("assessment", "ra-claims-triage-2025") | iris("action", "ca-2026-01")),
}


def dated(query: queries.NamedQuery) -> bool:
    return any(p.name == "asOf" and p.kind == "date" and not p.required for p in query.parameters)


def run(store: GraphStore, query: queries.NamedQuery, as_of: str | None = AS_OF) -> list[dict[str, str]]:
    values = dict(PARAMETERS.get(query.name, {}))
    if as_of and dated(query):
        values["asOf"] = as_of
    solutions = store.query(query.text, substitutions=query.substitutions(values))
    names = [v.value for v in solutions.variables]
    return [{n: row[n].value for n in names if row[n] is not None} for row in solutions]


def test_every_query_has_an_expectation():
    assert sorted(NAMED) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(NAMED))
def test_header_documents_the_query(name: str):
    query = NAMED[name]
    assert query.summary and query.metadata.get("description")
    assert query.metadata.get("tags") and query.metadata.get("cq", "").startswith("CQ-")
    for parameter in query.parameters:
        assert parameter.name in query.metadata.get("params", ""), f"{name}: parameter {parameter.name} undocumented"
    if dated(query):
        assert "asOf" in query.metadata.get("params", ""), f"{name}: the asOf parameter is undocumented"
    assert "ORDER BY" in query.text, f"{name}: no ORDER BY, so no stable output"


def test_competency_question_ids_are_unique():
    ids = [q.metadata["cq"] for q in NAMED.values()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", sorted(NAMED))
def test_query_answers_on_the_demo(demo_store: GraphStore, name: str):
    assert EXPECTED[name](run(demo_store, NAMED[name]))


@pytest.mark.parametrize("name", sorted(ALWAYS_REPORTED))
def test_dated_queries_default_to_today(demo_store: GraphStore, name: str):
    """Without asOf, the evaluation date is today: the suite's pinned date (conftest)."""
    rows = run(demo_store, NAMED[name], as_of=None)
    key, expected = ALWAYS_REPORTED[name]
    assert {r["today"] for r in rows} <= {clock.today().isoformat()} == {AS_OF}
    assert expected <= set(column(rows, key))


def test_effective_controls_depend_on_the_reference_date(demo_store: GraphStore):
    query = NAMED["high-risks-without-effective-control"]
    # ev:extraction-qa-2026-q3, the only evidence for SME statement extraction, expires 2027-01-07.
    later = column(run(demo_store, query, as_of="2027-01-08"), "risk")
    assert set(later) == iris("risk", "next-best-offer-vulnerable-targeting", "sme-credit-statement-extraction")
    # On 2026-03-30 the claims-triage assessment of 2025-06-12 was still less than 12 months old.
    systems = column(run(demo_store, NAMED["systems-without-current-risk-assessment"], as_of="2026-03-30"), "system")
    assert systems == [DEMO + "system/code-assistant"]


def test_parameters_are_typed_and_checked():
    [as_of] = NAMED["overdue-reviews"].parameters
    assert (as_of.name, as_of.kind, as_of.required) == ("asOf", "date", False)
    with pytest.raises(Exception, match="absolute IRI"):
        NAMED["dependents"].substitutions({"node": "not an iri"})
    with pytest.raises(Exception, match="no parameter"):
        NAMED["dependents"].substitutions({"node": DEMO, "other": "x"})


def test_missing_parameter_is_named():
    with pytest.raises(Exception, match="node"):
        NAMED["dependents"].substitutions({})
    with pytest.raises(Exception, match="system"):
        NAMED["stakeholders-affected-by-system"].substitutions({})


# -- the rewrites for scale (issue 18) answer as the queries they replaced ------------------------

#: queries/impact-revisit.rq before it was rewritten to find the node's dependents first (with the
#: node unbound in its UNION branches it timed out at 1,000 systems); the rewrite must agree with it.
IMPACT_REVISIT_BEFORE = """PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT DISTINCT ?_node_iri ?category ?item ?label WHERE {
  ?asset aims:dependsOn* ?_node_iri .  # the node itself and everything that depends on it
  {
    BIND("risk" AS ?category)
    ?asset aims:hasRisk ?item .
  } UNION {
    BIND("assessment" AS ?category)
    { ?item aims:assesses ?asset } UNION { ?asset aims:hasRisk ?risk . ?item aims:assesses|aims:identifiedRisk ?risk }
    VALUES ?assessmentType { aims:RiskAssessment aims:ImpactAssessment aims:VerificationValidation aims:DataQualityAssessment }
    ?item a ?assessmentType .
  } UNION {
    BIND("evidence" AS ?category)
    ?asset aims:hasEvidence ?item .
  } UNION {
    BIND("stakeholder" AS ?category)
    { ?asset aims:hasAISubject|aims:hasUser|aims:hasOwner ?item }
    UNION { ?asset aims:hasRisk/(aims:hasOwner|aims:hasRiskOwner|aims:affectsStakeholder) ?item }
    UNION { ?asset aims:hasRisk/aims:hasConsequence/aims:affectsStakeholder ?item }
    UNION { ?asset aims:hasRisk/aims:hasConsequence/aims:hasImpact/aims:affectsStakeholder ?item }
  } UNION {
    BIND("control" AS ?category)
    { ?item aims:appliesTo ?asset } UNION { ?asset aims:hasRisk/^(aims:mitigates|aims:detects) ?item }
    FILTER NOT EXISTS { ?item aims:controlStatus aims:Retired }
  } UNION {
    # what hangs on those controls: their evidence, their owners, the SoA rows they implement
    { ?control aims:appliesTo ?asset } UNION { ?asset aims:hasRisk/^(aims:mitigates|aims:detects) ?control }
    FILTER NOT EXISTS { ?control aims:controlStatus aims:Retired }
    { BIND("evidence" AS ?category) ?control aims:hasEvidence ?item . }
    UNION { BIND("stakeholder" AS ?category) ?control aims:hasOwner ?item . }
    UNION { BIND("soa" AS ?category) ?item aims:implementedBy ?control . }
    UNION { BIND("soa" AS ?category) ?control aims:implements/^aims:forControl ?item . }
  }
  OPTIONAL { ?item rdfs:label ?label }
}
ORDER BY ?category ?item
"""


@pytest.mark.parametrize(
    "node",
    [
        "dataset/customer-transactions",
        "system/collections-prioritisation",
        "supplier/aurora-ai",
        "model/aurora-llm",
        "system/cv-screening",
        "no-such-node",
    ],
)
def test_impact_revisit_answers_as_before_the_rewrite(demo_store: GraphStore, node: str):
    before = queries.NamedQuery("impact-revisit-before", IMPACT_REVISIT_BEFORE, {})
    old = run_with(demo_store, before, {"node": DEMO + node})
    new = run_with(demo_store, NAMED["impact-revisit"], {"node": DEMO + node})
    assert sorted(map(sorted_items, new)) == sorted(map(sorted_items, old))
    assert new == sorted(new, key=lambda r: (r["category"], r["item"], r.get("label", "")))


def run_with(
    store: GraphStore, query: queries.NamedQuery, values: dict[str, str], page: queries.Page | None = None
) -> list[dict[str, str]]:
    solutions = store.query(query.paged_text(page), substitutions=query.substitutions(values))
    names = [v.value for v in solutions.variables]
    return [{n: row[n].value for n in names if row[n] is not None} for row in solutions]


def sorted_items(row: dict[str, str]) -> tuple:
    return tuple(sorted(row.items()))


PAGED = sorted(name for name, q in NAMED.items() if q.page_size)


def test_the_long_queries_are_paged_by_default():
    assert {
        "risk-register",
        "risk-profile",
        "affected-stakeholders-and-areas",
        "system-record-nodes",
        "due-items",
        "ai-systems",
    } <= set(PAGED)


@pytest.mark.parametrize("name", PAGED)
def test_pages_give_every_row_exactly_once(demo_store: GraphStore, name: str):
    query = NAMED[name]
    values = dict(PARAMETERS.get(name, {}))
    if dated(query):
        values["asOf"] = AS_OF
    whole = run_with(demo_store, query, values)
    size = 7 if len(whole) > 7 else 1  # several pages even of a short answer (one dataset on the demo)
    assert whole
    walked, number = [], 1
    while True:
        page = run_with(demo_store, query, values, queries.Page(number, size))
        walked += page[:size]
        if len(page) <= size:  # the one row more says whether a next page exists
            break
        number += 1
    assert walked == whole and number == -(-len(whole) // size)


def test_paging_parameters_are_taken_out_and_checked():
    query = NAMED["risk-register"]
    assert query.page({}) == (queries.Page(1, 1000), {})
    assert query.page({"page": "3", "pageSize": "50", "asset": DEMO}) == (queries.Page(3, 50), {"asset": DEMO})
    assert NAMED["annex-a-controls"].page({}) == (None, {})  # no pagination header: whole unless asked
    assert NAMED["annex-a-controls"].page({"page": "2"}) == (queries.Page(2, queries.DEFAULT_PAGE_SIZE), {})
    for bad in ({"page": "0"}, {"page": "x"}, {"pageSize": "-1"}, {"pageSize": "1.5"}):
        with pytest.raises(Exception, match="positive integer"):
            query.page(bad)
    with pytest.raises(Exception, match="at most 10"):
        query.page({"pageSize": "11"}, max_size=10)
    assert query.paged_text(queries.Page(3, 50)).endswith("LIMIT 51\nOFFSET 100\n")


@pytest.mark.parametrize(
    ("name", "key", "asset"),
    [
        ("risk-register", "asset", "system/retail-credit-scoring"),
        ("risk-profile", "asset", "system/retail-credit-scoring"),
        ("affected-stakeholders-and-areas", "asset", "dataset/customer-transactions"),
        ("system-record-nodes", "system", "system/cv-screening"),
    ],
)
def test_the_asset_or_system_parameter_keeps_its_rows_only(demo_store: GraphStore, name: str, key: str, asset: str):
    query = NAMED[name]
    parameter = "system" if key == "system" else "asset"
    whole = run_with(demo_store, query, {})
    one = run_with(demo_store, query, {parameter: DEMO + asset})

    def normal(rows: list[dict[str, str]]) -> list:
        visible = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
        return sorted(sorted_items({k: " ".join(sorted(v.split())) for k, v in r.items()}) for r in visible)

    assert one and normal(one) == normal([r for r in whole if r.get(key) == DEMO + asset])
    assert all(r["__" + parameter + "_iri"] == DEMO + asset for r in one)


def test_due_items_until_leaves_out_only_what_is_due_later(demo_store: GraphStore):
    query = NAMED["due-items"]
    whole = run_with(demo_store, query, {"asOf": AS_OF})
    cut = run_with(demo_store, query, {"asOf": AS_OF, "until": "2027-01-31"})
    without = lambda rows: [{k: v for k, v in r.items() if k != "__until_xsd_date"} for r in rows]  # noqa: E731
    assert without(cut) == [r for r in whole if "due" not in r or r["due"][:10] <= "2027-01-31"]
    assert len(cut) < len(whole) and any("due" not in r for r in cut)  # metrics stay


def test_the_api_pages_with_link_headers(client: FlaskClient):
    url = "/api/queries/risk-register"
    json_rows = lambda r: [{k: v["value"] for k, v in b.items()} for b in r.get_json()["results"]["bindings"]]  # noqa: E731
    first = client.get(url, query_string={"pageSize": "15"}, headers={"Accept": "application/sparql-results+json"})
    assert first.status_code == 200 and first.headers["Aimsgraph-Page"] == "1"
    assert len(json_rows(first)) == 15 and "X-Aimsgraph-Result-Truncated" not in first.headers
    walked, response = json_rows(first), first
    while "next" in links(response):
        response = client.get(links(response)["next"], headers={"Accept": "application/sparql-results+json"})
        assert response.status_code == 200 and "prev" in links(response)
        walked += json_rows(response)
    assert len(walked) == 40 and len({r["risk"] for r in walked}) == 40 and response.headers["Aimsgraph-Page"] == "3"
    whole = client.get(url, query_string={"pageSize": "1000"}, headers={"Accept": "application/sparql-results+json"})
    assert json_rows(whole) == walked and "next" not in links(whole)  # 1,000 rows a page by default
    assert client.get(url, query_string={"page": "0"}).status_code == 400
    listing = {q["name"]: q for q in client.get("/api/queries").get_json()["queries"]}
    assert listing["risk-register"]["pageSize"] == 1000 and listing["annex-a-controls"]["pageSize"] is None


#: queries/concentration.rq and queries/controls-without-evidence.rq before they were rewritten
#: for scale (issue 18: 165 s and 32 s at 10,000 systems): the rewrites must answer as they did.
CONCENTRATION_BEFORE = """PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?asset ?label ?kind (COUNT(DISTINCT ?system) AS ?dependentSystems) (COUNT(DISTINCT ?highRisk) AS ?highRiskSystems) WHERE {
  VALUES ?kind { aims:Model aims:Dataset aims:Supplier aims:InfrastructureService }
  ?asset a ?kind .
  ?system aims:dependsOn+ ?asset ; a aims:AISystem .
  OPTIONAL {
    ?system aims:highestInherentRiskLevel/aims:rank ?rank .
    ?criteria a aims:RiskCriteria ; aims:riskAppetite/aims:rank ?appetiteRank .
    FILTER(?rank >= ?appetiteRank)
    BIND(?system AS ?highRisk)
  }
  OPTIONAL { ?asset rdfs:label ?label }
}
GROUP BY ?asset ?label ?kind
ORDER BY DESC(?highRiskSystems) DESC(?dependentSystems) ?asset
"""
CONTROLS_WITHOUT_EVIDENCE_BEFORE = """PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
SELECT ?control ?id ?label ?owner ?issue ?evidence ?validUntil ?hasCurrentEvidence ?lastTested ?today ?__asOf_xsd_date WHERE {
  BIND(xsd:date(?__asOf_xsd_date) AS ?today)
  {
    ?control a aims:ImplementedControl ; aims:controlStatus aims:Implemented .
    FILTER NOT EXISTS { ?control aims:hasEvidence ?anyEvidence }
    BIND("missing" AS ?issue)
  }
  UNION
  {
    ?control a aims:ImplementedControl ; aims:controlStatus aims:Implemented ; aims:hasEvidence ?evidence .
    ?evidence aims:validUntil ?validUntil .
    BIND("expired" AS ?issue)
  }
  FILTER(?issue = "missing" || ?validUntil < ?today)
  ?control rdfs:label ?label .
  OPTIONAL { ?control dct:identifier ?id }
  OPTIONAL { ?control aims:hasOwner ?owner }
  OPTIONAL { ?control aims:lastTested ?lastTested }
  BIND(EXISTS {
    ?control aims:hasEvidence ?current .
    ?current aims:validUntil ?currentUntil .
    FILTER(?currentUntil >= ?today)
    FILTER NOT EXISTS { ?current aims:validFrom ?currentFrom . FILTER(?currentFrom > ?today) }
  } AS ?hasCurrentEvidence)
}
ORDER BY ?issue ?label ?evidence
"""


def without_parameters(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if not k.startswith("__") or k == "__asOf_xsd_date"} for r in rows]


@pytest.mark.parametrize("as_of", ["2025-01-01", AS_OF, "2027-06-01", "2030-01-01"])
def test_controls_without_evidence_answers_as_before_the_rewrite(demo_store: GraphStore, as_of: str):
    before = queries.NamedQuery("controls-without-evidence-before", CONTROLS_WITHOUT_EVIDENCE_BEFORE, {})
    old = run_with(demo_store, before, {"asOf": as_of})
    assert run_with(demo_store, NAMED["controls-without-evidence"], {"asOf": as_of}) == old and old


def test_concentration_answers_as_before_the_rewrite_and_for_one_asset(demo_store: GraphStore):
    before = queries.NamedQuery("concentration-before", CONCENTRATION_BEFORE, {})
    old = run_with(demo_store, before, {})
    whole = run_with(demo_store, NAMED["concentration"], {})
    assert without_parameters(whole) == old and all(r["__asset_iri"] == r["asset"] for r in whole)
    for row in whole[:3] + whole[-3:]:
        [one] = run_with(demo_store, NAMED["concentration"], {"asset": row["asset"]})
        assert one == row
    assert run_with(demo_store, NAMED["concentration"], {"asset": DEMO + "system/claims-triage"}) == []  # no shared kind
