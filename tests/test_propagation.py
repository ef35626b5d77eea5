"""Risk propagation on small graphs with hand-computed answers, on the demo, and in the analysis graph.

Default edge factors (ontology): usesModel 0.8, trainedOn 0.7, usesDataset 0.7,
consumesOutputOf 0.6. A risk L4 x S5 scores 20/25 = 0.8; L3 x S4 scores 12/25 = 0.48.
"""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from aimsgraph.namespaces import Graphs
from aimsgraph.risk.analysis import RiskModel, analysis_quads, refresh_analysis
from riskgraphs import EX, inherited, model_of, store_with

CRITICAL_RISK = "a aims:Risk ; aims:hasLikelihood rm:L4 ; aims:hasSeverity rm:S5 ."
HIGH_RISK = "a aims:Risk ; aims:hasLikelihood rm:L3 ; aims:hasSeverity rm:S4 ."
DEMO = "https://data.meridian.example/aims/"

CHAIN = f"""
ex:a a aims:AISystem ; aims:usesModel ex:m .
ex:m a aims:Model ; aims:trainedOn ex:d .
ex:d a aims:Dataset ; aims:hasRisk ex:r .
ex:r {CRITICAL_RISK}
ex:b a aims:AISystem ; aims:consumesOutputOf ex:a .
ex:c a aims:AISystem ; aims:consumesOutputOf ex:b .
ex:e a aims:AISystem ; aims:consumesOutputOf ex:c .
"""


def test_chain_attenuates_by_edge_type_and_stops_below_the_threshold():
    model = model_of(CHAIN)
    expected = {"m": 0.8 * 0.7, "a": 0.8 * 0.7 * 0.8, "b": 0.8 * 0.7 * 0.8 * 0.6, "c": 0.8 * 0.7 * 0.8 * 0.6 * 0.6}
    for asset, share in expected.items():
        assert inherited(model, asset, "r").inherent_score == pytest.approx(share)
    assert expected["c"] * 0.6 < 0.1  # 0.0968: immaterial at e
    assert inherited(model, "e", "r") is None
    found = inherited(model, "a", "r")
    assert found.distance == 2 and found.source_asset == EX + "d"
    assert [p.text() for p in found.paths] == [f"<{EX}a> -usesModel(0.8)-> <{EX}m> -trainedOn(0.7)-> <{EX}d>"]


def test_diamond_combines_both_paths_with_noisy_or():
    model = model_of(f"""
    ex:a a aims:AISystem ; aims:usesModel ex:m1 , ex:m2 .
    ex:m1 a aims:Model ; aims:trainedOn ex:d .
    ex:m2 a aims:Model ; aims:trainedOn ex:d .
    ex:d a aims:Dataset ; aims:hasRisk ex:r .
    ex:r {CRITICAL_RISK}
    """)
    found = inherited(model, "a", "r")
    transmission = 1 - (1 - 0.8 * 0.7) ** 2  # 0.8064
    assert found.inherent_score == pytest.approx(0.8 * transmission)
    assert found.inherent_score <= 0.8  # never more than the source risk
    assert [p.assets() for p in found.paths] == [[EX + "d", EX + "m1", EX + "a"], [EX + "d", EX + "m2", EX + "a"]]


def test_cycle_is_reported_and_propagation_ends_deterministically():
    turtle = f"""
    ex:a a aims:AISystem ; aims:consumesOutputOf ex:b ; aims:hasRisk ex:r .
    ex:b a aims:AISystem ; aims:consumesOutputOf ex:c .
    ex:c a aims:AISystem ; aims:consumesOutputOf ex:a .
    ex:r {CRITICAL_RISK}
    """
    model = model_of(turtle)
    # risk on a flows to c (which depends on a), then to b; the edge back into a is not followed
    assert inherited(model, "c", "r").inherent_score == pytest.approx(0.8 * 0.6)
    assert inherited(model, "b", "r").inherent_score == pytest.approx(0.8 * 0.6 * 0.6)
    assert inherited(model, "a", "r") is None
    assert model.deps.cycles() == [[EX + "a", EX + "b", EX + "c"]]
    assert model.propagation.cycle_edges == {(EX + "b", EX + "a")}
    again = model_of(turtle)
    assert list(again.propagation.all()) == list(model.propagation.all())


def test_several_sources_are_kept_apart_and_exposure_is_the_highest():
    model = model_of(f"""
    ex:a a aims:AISystem ; aims:usesModel ex:m ; aims:usesDataset ex:d ; aims:hasRisk ex:own .
    ex:m a aims:Model ; aims:hasRisk ex:rm .
    ex:d a aims:Dataset ; aims:hasRisk ex:rd .
    ex:rm {HIGH_RISK}
    ex:rd {CRITICAL_RISK}
    ex:own a aims:Risk ; aims:hasLikelihood rm:L2 ; aims:hasSeverity rm:S2 .
    """)
    assert inherited(model, "a", "rm").inherent_score == pytest.approx(0.48 * 0.8)
    assert inherited(model, "a", "rd").inherent_score == pytest.approx(0.8 * 0.7)
    exposure = model.exposures[EX + "a"]
    assert exposure.score == pytest.approx(0.56) and exposure.level.label == "High"


def test_a_critical_edge_passes_risk_on_without_attenuation():
    def model(critical: str):
        return model_of(f"""
        ex:a a aims:AISystem ; aims:usesModel ex:m ; aims:hasDependency ex:q .
        ex:q a aims:Dependency ; aims:dependencyTarget ex:m ; aims:dependencyType aims:usesModel ;
            aims:couplingStrength 0.3 ; aims:isCritical {critical} .
        ex:m a aims:Model ; aims:hasRisk ex:r .
        ex:r {HIGH_RISK}
        """)

    assert inherited(model("true"), "a", "r").inherent_score == pytest.approx(0.48)
    assert inherited(model("false"), "a", "r").inherent_score == pytest.approx(0.48 * 0.3)


def test_an_organisation_overrides_the_default_coupling_of_an_edge_type():
    model = model_of(f"""
    aims:usesModel aims:defaultCouplingStrength 0.5 .
    ex:a a aims:AISystem ; aims:usesModel ex:m .
    ex:m a aims:Model ; aims:hasRisk ex:r .
    ex:r {HIGH_RISK}
    """)
    assert inherited(model, "a", "r").inherent_score == pytest.approx(0.48 * 0.5)


def test_residual_scores_propagate_with_the_same_transmission():
    model = model_of(
        CHAIN + "ex:c1 a aims:ImplementedControl ; aims:mitigates ex:r ; "
        "aims:controlStatus aims:Implemented ; aims:effectiveness 1.0 ."
    )
    found = inherited(model, "a", "r")
    assert found.residual_score == pytest.approx((5 / 25) * 0.7 * 0.8)  # L1 x S5 after the control


def test_demo_upstream_dataset_risk_reaches_at_least_three_systems(demo_store):
    model = RiskModel.build(demo_store)
    reached = {
        i.asset
        for i in model.propagation.all()
        if i.source_risk == DEMO + "risk/customer-transactions-quality" and model.deps.kinds[i.asset] == "AISystem"
    }
    assert {
        DEMO + f"system/{s}"
        for s in ("retail-credit-scoring", "card-fraud-detection", "aml-transaction-monitoring", "collections-prioritisation")
    } <= reached
    assert len(reached) >= 3
    assert model.deps.cycles() == []


def test_analysis_graph_answers_why_a_system_is_at_risk():
    store = store_with(CHAIN)
    refresh_analysis(store)
    assert store.is_current(Graphs.ANALYSIS)
    rows = list(
        store.query(f"""
        PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
        PREFIX prov: <http://www.w3.org/ns/prov#>
        SELECT ?source ?score ?level ?path ?via ?derived ?when WHERE {{
          GRAPH <{Graphs.ANALYSIS}> {{
            <{EX}a> aims:hasInheritedRisk ?i .
            ?i aims:sourceRisk ?source ; aims:inherentScore ?score ; aims:computedRiskLevel ?level ;
               aims:explanationPath ?path ; aims:viaAsset ?via ; prov:wasDerivedFrom ?derived .
            <{Graphs.ANALYSIS}> prov:generatedAtTime ?when .
          }}
        }}""")
    )
    assert len(rows) == 1
    row = rows[0]
    assert row["source"].value == row["derived"].value == EX + "r"
    assert float(row["score"].value) == pytest.approx(0.448) and row["level"].value.endswith("/High")
    assert row["via"].value == EX + "m" and row["path"].value.startswith(f"<{EX}a> -usesModel")


def test_refresh_after_an_edit_writes_exactly_a_fresh_analysis():
    store = store_with(CHAIN)
    refresh_analysis(store)
    store.update(f"""PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
        DELETE {{ GRAPH ?g {{ <{EX}r> aims:hasLikelihood ?l }} }}
        INSERT {{ GRAPH <{Graphs.DATA}> {{ <{EX}r> aims:hasLikelihood <https://w3id.org/aimsgraph/risk-matrix/L2> }} }}
        WHERE {{ GRAPH ?g {{ <{EX}r> aims:hasLikelihood ?l }} }}""")
    refresh_analysis(store)
    graph = ox.NamedNode(Graphs.ANALYSIS)
    stored = {q for q in store.backend.quads_for_pattern(None, None, None, graph) if q.subject != graph}
    assert stored == set(analysis_quads(RiskModel.build(store)))
    assert inherited(RiskModel.build(store), "b", "r").inherent_score == pytest.approx(0.4 * 0.7 * 0.8 * 0.6)


def test_analysis_graph_records_cycles_and_refresh_replaces_it():
    store = store_with(f"""
    ex:a a aims:AISystem ; aims:consumesOutputOf ex:b .
    ex:b a aims:AISystem ; aims:consumesOutputOf ex:a ; aims:hasRisk ex:r .
    ex:r {CRITICAL_RISK}
    """)
    refresh_analysis(store)
    first = store.graph_sizes()[Graphs.ANALYSIS]
    refresh_analysis(store)
    assert store.graph_sizes()[Graphs.ANALYSIS] == first
    members = {
        row["m"].value
        for row in store.query(
            "PREFIX aims: <https://w3id.org/aimsgraph/ontology#> SELECT ?m WHERE { ?c a aims:DependencyCycle ; aims:cycleMember ?m }"
        )
    }
    assert members == {EX + "a", EX + "b"}
