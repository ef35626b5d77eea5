"""Impact analysis before a change, what-if and concentration: in Python, over HTTP (the
service's test client) and in the CLI (run in this process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from flask.testing import FlaskClient

from aimsgraph.errors import InvalidInput, NotFound
from aimsgraph.namespaces import Graphs
from aimsgraph.records import queries
from aimsgraph.risk import impact
from aimsgraph.risk.analysis import RiskModel, refresh_analysis
from aimsgraph.semantics.reasoning import refresh_inferences
from aimsgraph.store import GraphStore
from aimsgraph.store.record import Record
from conftest import aimsgraph, select
from riskgraphs import EX, model_of, store_with

DEMO = "https://data.meridian.example/aims/"
AIMS = "https://w3id.org/aimsgraph/ontology#"
SHARED_DATASET = DEMO + "dataset/customer-transactions"
#: The AI systems that depend on the shared dataset, directly or through the feature store and
#: models (data/demo/README.md, "Propagation story").
SHARED_DATASET_SYSTEMS = {
    DEMO + "system/" + s
    for s in (
        "retail-credit-scoring",
        "sme-credit-scoring",
        "card-fraud-detection",
        "aml-transaction-monitoring",
        "next-best-offer",
        "customer-segmentation",
        "collections-prioritisation",
    )
}
SECTIONS = {
    "risk": "risksToReassess",
    "assessment": "assessmentsToRedo",
    "control": "controlsToRetest",
    "evidence": "staleEvidence",
    "stakeholder": "stakeholdersToInform",
    "soa": "soaRowsTouched",
}


@pytest.fixture(scope="module")
def demo_model(demo_store) -> RiskModel:
    return RiskModel.build(demo_store)


def iris(items: list[dict]) -> set[str]:
    return {item["iri"] for item in items}


def sparql_dependents(store: GraphStore, node: str) -> set[str]:
    rows = store.query(f"PREFIX aims: <{AIMS}> SELECT DISTINCT ?d WHERE {{ ?d aims:dependsOn+ <{node}> }}")
    return {row["d"].value for row in rows}


def test_shared_dataset_change_lists_every_dependent_with_path_and_what_to_revisit(demo_store, demo_model):
    answer = impact.analyse(Record(demo_store), demo_model, SHARED_DATASET, "data-change")
    affected = {item["iri"]: item for item in answer["affected"]}
    assert set(affected) == sparql_dependents(demo_store, SHARED_DATASET)
    systems = {iri for iri, item in affected.items() if item["kind"] == "AISystem"}
    assert systems == SHARED_DATASET_SYSTEMS
    collections = affected[DEMO + "system/collections-prioritisation"]
    assert collections["distance"] == 2 and collections["path"][0] == SHARED_DATASET
    assert collections["path"][-1] == DEMO + "system/collections-prioritisation"
    assert len(collections["via"]) == 2
    assert DEMO + "risk/customer-transactions-quality" in iris(answer["risksToReassess"])
    assert DEMO + "assessment/ia-retail-credit-scoring-2026" in iris(answer["assessmentsToRedo"])
    assert DEMO + "control/data-quality-rules" in iris(answer["controlsToRetest"])
    assert DEMO + "party/retail-customers" in iris(answer["stakeholdersToInform"])
    assert DEMO + "soa/A.7.4" in iris(answer["soaRowsTouched"])
    assert answer["summary"]["affectedSystems"] == 7
    assert "not computed" in answer["risk"]["afterNote"]


@pytest.mark.parametrize(
    "node, change",
    [
        (SHARED_DATASET, "data-change"),
        (DEMO + "supplier/scriptura", "supplier-exit"),
        (DEMO + "model/aurora-llm", "replace"),
        (DEMO + "system/code-assistant", "retire"),
    ],
)
def test_python_and_the_sparql_query_agree(demo_store, demo_model, node: str, change: str):
    answer = impact.analyse(Record(demo_store), demo_model, node, change)
    query = queries.load_all()["impact-revisit"]
    rows = demo_store.query(query.text, substitutions=query.substitutions({"node": node}))
    found = {(row["category"].value, row["item"].value) for row in rows}
    for category, key in SECTIONS.items():
        assert {item for c, item in found if c == category} == iris(answer[key]), category


def test_retiring_a_system_flags_critical_dependents_and_computes_after(demo_store, demo_model):
    answer = impact.analyse(Record(demo_store), demo_model, DEMO + "system/document-extraction", "retire")
    direct = {item["iri"]: item.get("disruption") for item in answer["affected"] if item["distance"] == 1}
    assert direct[DEMO + "system/sme-credit-scoring"] == "loses a critical dependency"
    assert direct[DEMO + "system/retail-credit-scoring"] == "loses a dependency"
    rows = {row["iri"]: row for row in answer["risk"]["assets"]}
    assert rows[DEMO + "system/document-extraction"]["after"] is None  # retired
    assert all("after" in row for row in answer["risk"]["assets"])


def test_cycles_through_the_affected_assets_are_reported():
    store = store_with("""
    ex:a a aims:AISystem ; aims:consumesOutputOf ex:b .
    ex:b a aims:AISystem ; aims:consumesOutputOf ex:a ; aims:usesModel ex:m .
    ex:m a aims:Model .
    ex:other a aims:AISystem .
    """)
    model = RiskModel.build(store)
    answer = impact.analyse(Record(store), model, EX + "m", "retrain")
    assert answer["cycles"] == [[EX + "a", EX + "b"]]
    assert {a["iri"]: a["distance"] for a in answer["affected"]} == {EX + "b": 1, EX + "a": 2}
    assert impact.analyse(Record(store), model, EX + "other", "modify")["cycles"] == []


def test_bad_input_names_the_problem(demo_store, demo_model):
    with pytest.raises(InvalidInput, match="unknown change kind 'explode'"):
        impact.analyse(Record(demo_store), demo_model, SHARED_DATASET, "explode")
    with pytest.raises(NotFound, match="unknown node"):  # 404: the IRI may be right and the record behind
        impact.analyse(Record(demo_store), demo_model, DEMO + "dataset/nope", "retire")
    with pytest.raises(InvalidInput, match="not an asset"):
        impact.analyse(Record(demo_store), demo_model, DEMO + "risk/aurora-lock-in", "retire")
    with pytest.raises(InvalidInput, match="applies to Supplier"):
        impact.analyse(Record(demo_store), demo_model, SHARED_DATASET, "supplier-exit")
    with pytest.raises(InvalidInput, match="modification 1: unknown op"):
        impact.analyse(Record(demo_store), demo_model, SHARED_DATASET, "modify", [{"op": "teleport"}])
    with pytest.raises(InvalidInput, match="does not depend on"):
        impact.what_if(
            demo_model, [{"op": "remove-dependency", "dependent": SHARED_DATASET, "dependency": DEMO + "supplier/scriptura"}]
        )


# -- what-if equals a full recomputation of the changed record -----------------------------------

BASE = """
ex:a a aims:AISystem ; aims:usesModel ex:m1 , ex:m2 .
ex:m1 a aims:Model ; aims:trainedOn ex:d .
ex:m2 a aims:Model ; aims:trainedOn ex:d ; aims:hasRisk ex:rm .
ex:d a aims:Dataset ; aims:hasRisk ex:r .
ex:b a aims:AISystem ; aims:consumesOutputOf ex:a .
ex:s a aims:AISystem .
ex:r a aims:Risk ; aims:hasLikelihood rm:L4 ; aims:hasSeverity rm:S5 .
ex:rm a aims:Risk ; aims:hasLikelihood rm:L3 ; aims:hasSeverity rm:S4 .
ex:c a aims:ImplementedControl ; aims:mitigates ex:r ; aims:controlStatus aims:Implemented ; aims:effectiveness 0.6 .
"""


def snapshot(model: RiskModel) -> dict:
    inherited = {
        (i.asset, i.source_risk): (round(i.inherent_score, 9), round(i.residual_score, 9), i.distance)
        for i in model.propagation.all()
    }
    exposures = {a: (round(e.score, 9), e.level.iri) for a, e in model.exposures.items()}
    return {"inherited": inherited, "exposures": exposures}


@pytest.mark.parametrize(
    "modification, changed_record",
    [
        (
            {"op": "remove-dependency", "dependent": EX + "a", "dependency": EX + "m2"},
            BASE.replace("aims:usesModel ex:m1 , ex:m2", "aims:usesModel ex:m1"),
        ),
        (
            {"op": "add-dependency", "dependent": EX + "s", "dependency": EX + "d", "type": AIMS + "usesDataset"},
            BASE + "ex:s aims:usesDataset ex:d .",
        ),
        (
            {"op": "set-likelihood", "risk": EX + "r", "level": "https://w3id.org/aimsgraph/risk-matrix/L2"},
            BASE.replace("aims:hasLikelihood rm:L4", "aims:hasLikelihood rm:L2"),
        ),
        ({"op": "remove-control", "control": EX + "c"}, BASE.replace("aims:effectiveness 0.6", "aims:effectiveness 0.0")),
        (
            {"op": "remove-asset", "asset": EX + "m2"},
            BASE.replace("aims:usesModel ex:m1 , ex:m2", "aims:usesModel ex:m1").replace(
                "ex:m2 a aims:Model ; aims:trainedOn ex:d ; aims:hasRisk ex:rm .", ""
            ),
        ),
    ],
)
def test_what_if_equals_recomputing_the_changed_record(modification: dict, changed_record: str):
    proposed = impact.what_if(model_of(BASE), [modification])
    assert snapshot(proposed) == snapshot(model_of(changed_record))
    assert snapshot(proposed) != snapshot(model_of(BASE))


def test_what_if_leaves_the_store_byte_for_byte_unchanged(tmp_path: Path):
    store = GraphStore(tmp_path / "db")
    store.initialise(demo=True)
    refresh_inferences(store)
    refresh_analysis(store)
    before = store.dump()
    model = RiskModel.build(store)
    answer = impact.analyse(
        Record(store),
        model,
        SHARED_DATASET,
        "data-change",
        [
            {"op": "remove-control", "control": DEMO + "control/data-quality-rules"},
            {
                "op": "set-likelihood",
                "risk": DEMO + "risk/customer-transactions-quality",
                "level": "https://w3id.org/aimsgraph/risk-matrix/L5",
            },
        ],
    )
    assert any(r["iri"] == DEMO + "risk/customer-transactions-quality" for r in answer["risk"]["risksChanged"])
    assert store.dump() == before


# -- concentration -------------------------------------------------------------------------------


def test_concentration_ranks_shared_assets_by_high_risk_dependents():
    model_store = store_with("""
    ex:criteria a aims:RiskCriteria ; aims:riskAppetite rm:High .
    ex:s1 a aims:AISystem ; aims:usesModel ex:shared ; aims:hasRisk ex:r1 .
    ex:s2 a aims:AISystem ; aims:usesModel ex:shared , ex:solo .
    ex:s3 a aims:AISystem ; aims:consumesOutputOf ex:s1 .
    ex:shared a aims:Model . ex:solo a aims:Model .
    ex:r1 a aims:Risk ; aims:hasLikelihood rm:L3 ; aims:hasSeverity rm:S4 .
    """)
    model = RiskModel.build(model_store)
    ranking = impact.concentration(Record(model_store), model)
    # s1 carries a High risk; s3 inherits it as 0.48 x 0.6 = 0.288 (Medium), so only s1 is high-risk
    assert [(r["iri"], r["dependentSystems"], r["highRiskSystems"]) for r in ranking] == [
        (EX + "shared", 3, 1),
        (EX + "solo", 1, 0),
    ]
    assert ranking[0]["highRiskSystemList"] == [EX + "s1"]


def test_concentration_on_the_demo_matches_the_sparql_query(demo_store, demo_model):
    ranking = impact.concentration(Record(demo_store), demo_model, limit=1000)
    query = queries.load_all()["concentration"]
    rows = {
        row["asset"].value: (int(row["dependentSystems"].value), int(row["highRiskSystems"].value))
        for row in demo_store.query(query.text)
    }
    assert {r["iri"]: (r["dependentSystems"], r["highRiskSystems"]) for r in ranking if r["dependentSystems"]} == rows


# -- over HTTP and in the CLI ----------------------------------------------------------------------


def all_quads(client: FlaskClient) -> list[dict]:
    """Every quad of the organisation's and the derived graphs (reference graphs are replaced
    only from files, and listing them all would pass the test service's 3 s timeout)."""
    return select(
        client,
        f"""SELECT ?g ?s ?p ?o WHERE {{ GRAPH ?g {{ ?s ?p ?o }}
        FILTER(?g IN (<{Graphs.DATA}>, <{Graphs.INFERRED}>, <{Graphs.ANALYSIS}>, <{Graphs.VALIDATION}>)) }}
        ORDER BY ?g ?s ?p ?o""",
    )


def test_impact_over_http_with_what_if(client: FlaskClient, demo_store, demo_model):
    before = all_quads(client)
    response = client.post(
        "/api/impact",
        json={
            "node": SHARED_DATASET,
            "change": "data-change",
            "whatIf": [{"op": "remove-control", "control": DEMO + "control/data-quality-rules"}],
        },
    )
    assert response.status_code == 200, response.text
    answer = response.get_json()
    local = impact.analyse(Record(demo_store), demo_model, SHARED_DATASET, "data-change")
    assert [a["iri"] for a in answer["affected"]] == [a["iri"] for a in local["affected"]]
    assert DEMO + "risk/customer-transactions-quality" in iris(answer["risk"]["risksChanged"])
    assert all_quads(client) == before


@pytest.mark.parametrize(
    "body, message",
    [
        ({"node": SHARED_DATASET, "change": "explode"}, "unknown change kind"),
        ({"node": "not an iri", "change": "retire"}, "not an absolute IRI"),
        ({"change": "retire"}, '"node" must be'),
        ({"node": SHARED_DATASET, "whatIf": [{"op": "set-likelihood", "risk": DEMO + "risk/x"}]}, "unknown risk"),
        ([1, 2], "JSON object"),
    ],
)
def test_impact_rejects_bad_input_with_400(client: FlaskClient, body, message: str):
    response = client.post("/api/impact", json=body)
    assert response.status_code == 400 and message in response.get_json()["detail"]


def test_impact_of_a_node_the_record_does_not_hold_is_404(client: FlaskClient):
    response = client.post("/api/impact", json={"node": DEMO + "dataset/nope", "change": "retire"})
    assert response.status_code == 404 and "unknown node" in response.get_json()["detail"]


def test_impact_needs_json(client: FlaskClient):
    response = client.post("/api/impact", data="node=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415


def test_concentration_over_http(client: FlaskClient):
    response = client.get("/api/concentration", query_string={"kind": "Supplier", "limit": "3"})
    assert response.status_code == 200
    ranking = response.get_json()["ranking"]
    assert len(ranking) == 3 and {r["kind"] for r in ranking} == {"Supplier"}
    assert client.get("/api/concentration", query_string={"limit": "0"}).status_code == 400
    assert client.get("/api/concentration", query_string={"kind": "Cat"}).status_code == 400


def test_why_query_over_http(client: FlaskClient):
    response = client.get(
        "/api/queries/why-risk",
        query_string={"asset": DEMO + "system/collections-prioritisation"},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert response.status_code == 200
    sources = {b["sourceRisk"]["value"] for b in response.get_json()["results"]["bindings"]}
    assert DEMO + "risk/customer-transactions-quality" in sources


def cli(*args: str, data_dir: Path) -> Result:
    """``aimsgraph ARGS --data-dir DATA_DIR``, in this process."""
    return aimsgraph(*args, "--data-dir", data_dir)


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("cli") / "db"
    store = GraphStore(data_dir)
    store.initialise(demo=True)
    store.flush()
    del store  # closes the store, so that the CLI commands can open it
    return data_dir


def test_cli_impact_on_the_shared_dataset(cli_store: Path):
    result = cli("impact", SHARED_DATASET, "--change", "data-change", data_dir=cli_store)
    assert result.exit_code == 0, result.stderr
    assert "Affected assets: 20 (7 AI systems)" in result.stdout
    assert "Collections prioritisation (AISystem)" in result.stdout
    assert "Stakeholders and owners to inform (A.8)" in result.stdout
    data = json.loads(cli("impact", SHARED_DATASET, "--change", "data-change", "--format", "json", data_dir=cli_store).stdout)
    assert data["summary"]["affectedSystems"] == 7


def test_cli_rejects_a_bad_change_kind_in_one_line(cli_store: Path):
    result = cli("impact", SHARED_DATASET, "--change", "explode", data_dir=cli_store)
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "unknown change kind" in result.stderr


def test_cli_concentration(cli_store: Path):
    result = cli("concentration", "--kind", "Dataset", "--limit", "2", "--format", "json", data_dir=cli_store)
    assert result.exit_code == 0, result.stderr
    ranking = json.loads(result.stdout)
    assert len(ranking) == 2 and all(r["kind"] == "Dataset" for r in ranking)


def test_what_if_on_an_existing_edge_leaves_the_cached_model_alone():
    model = model_of(BASE)
    before = dict(model.deps.graph.edges[EX + "m1", EX + "a"])
    impact.what_if(
        model, [{"op": "add-dependency", "dependent": EX + "a", "dependency": EX + "m1", "coupling": 0.1, "critical": True}]
    )
    assert model.deps.graph.edges[EX + "m1", EX + "a"] == before
