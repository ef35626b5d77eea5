"""The risk model updated after a write (``analysis.update_model``), which re-reads only the
risks and assets the write names and re-propagates only the flows it can change, must equal the
model built again from the whole store; and the analysis graph it writes, the graph a full
refresh writes."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from aimsgraph.namespaces import Graphs
from aimsgraph.records.refresh import refresh_record_after
from aimsgraph.risk.analysis import RiskModel, analysis_changes, analysis_quads, refresh_analysis, update_model
from aimsgraph.semantics.reasoning import refresh_inferences
from aimsgraph.sparql.update import UpdateRequest, evaluate
from aimsgraph.store import GraphStore, changes

PREFIXES = """PREFIX aims: <https://w3id.org/aimsgraph/ontology#> PREFIX rm: <https://w3id.org/aimsgraph/risk-matrix/>
PREFIX sys: <https://data.meridian.example/aims/system/> PREFIX mdl: <https://data.meridian.example/aims/model/>
PREFIX ds: <https://data.meridian.example/aims/dataset/> PREFIX risk: <https://data.meridian.example/aims/risk/>
PREFIX ctl: <https://data.meridian.example/aims/control/> PREFIX mb: <https://data.meridian.example/aims/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""

SCENARIOS = {
    "likelihood": "DELETE { risk:retail-credit-model-drift aims:hasLikelihood ?l } INSERT { risk:retail-credit-model-drift aims:hasLikelihood rm:L1 } WHERE { risk:retail-credit-model-drift aims:hasLikelihood ?l }",
    "severity up": "DELETE { risk:retail-credit-explainability aims:hasSeverity ?s } INSERT { risk:retail-credit-explainability aims:hasSeverity rm:S5 } WHERE { risk:retail-credit-explainability aims:hasSeverity ?s }",
    "control no longer implemented": "DELETE DATA { ctl:credit-reason-codes aims:controlStatus aims:Implemented } ; INSERT DATA { ctl:credit-reason-codes aims:controlStatus aims:Planned }",
    "control now implemented": "DELETE DATA { ctl:document-forgery-checks aims:controlStatus aims:InProgress } ; INSERT DATA { ctl:document-forgery-checks aims:controlStatus aims:Implemented ; aims:effectiveness 0.9 }",
    "control effectiveness": "DELETE { ctl:credit-reason-codes aims:effectiveness ?e } INSERT { ctl:credit-reason-codes aims:effectiveness 0.1 } WHERE { ctl:credit-reason-codes aims:effectiveness ?e }",
    "new dependency": "INSERT DATA { sys:new-pricing a aims:AISystem ; aims:usesModel mdl:retail-pd-model ; aims:consumesOutputOf sys:retail-credit-scoring }",
    "dependency removed": "DELETE DATA { sys:retail-credit-scoring aims:usesDataset ds:bureau-data }",
    "new risk": "INSERT DATA { sys:retail-credit-scoring aims:hasRisk risk:new-one . risk:new-one a aims:Risk ; aims:hasLikelihood rm:L5 ; aims:hasSeverity rm:S5 }",
    "risk unlinked": "DELETE WHERE { ?asset aims:hasRisk risk:retail-credit-model-drift }",
    "system retired": "DELETE WHERE { sys:document-extraction ?p ?o } ; DELETE WHERE { ?s ?p sys:document-extraction }",
    "coupling changed": "DELETE { ?d aims:couplingStrength ?c } INSERT { ?d aims:couplingStrength 0.05 } WHERE { sys:retail-credit-scoring aims:hasDependency ?d . ?d aims:couplingStrength ?c }",
    "qualified dependency dropped": "DELETE WHERE { sys:retail-credit-scoring aims:hasDependency ?d . ?d ?p ?o }",
    "label only": 'DELETE { sys:retail-credit-scoring rdfs:label ?l } INSERT { sys:retail-credit-scoring rdfs:label "Retail credit" } WHERE { sys:retail-credit-scoring rdfs:label ?l }',
}


@pytest.fixture(scope="module")
def built_demo() -> GraphStore:
    """The demo with its inferences and analysis, built once: each test writes into a copy."""
    store = GraphStore(None)
    store.initialise(demo=True)
    refresh_inferences(store)
    refresh_analysis(store)
    return store


@pytest.fixture()
def demo(built_demo: GraphStore) -> tuple[GraphStore, RiskModel]:
    store = GraphStore(None)
    store.extend(built_demo.quads())
    return store, refresh_analysis(store)


def write(store: GraphStore, text: str) -> changes.Delta:
    change = changes.commit(store, evaluate(store, UpdateRequest(PREFIXES + text)), "test", changes.local_user())
    assert change is not None
    with store.write_lock():
        refresh_record_after(store, change.delta, incremental=True)
    return change.delta


@pytest.mark.parametrize("name", SCENARIOS)
def test_updated_model_equals_a_full_build(demo, name: str):
    store, before = demo
    delta = write(store, SCENARIOS[name])
    updated = update_model(store, before, delta.removed | delta.added)
    assert updated is not None
    full = RiskModel.build(store)
    assert set(analysis_quads(updated)) == set(analysis_quads(full))
    assert updated.deps.kinds == full.deps.kinds  # what the impact analysis says each asset is
    remove, add = analysis_changes(before, updated)
    assert (set(analysis_quads(before)) - remove) | add == set(analysis_quads(full))
    assert bool(remove or add) == (name != "label only")  # each scenario moves the analysis, but the label


def test_settings_changes_build_the_model_again(demo):
    store, before = demo
    delta = write(
        store,
        "DELETE DATA { mb:risk-criteria aims:riskAppetite rm:High } ; INSERT DATA { mb:risk-criteria aims:riskAppetite rm:Critical }",
    )
    assert update_model(store, before, delta.removed | delta.added) is None
    # any statement about a settings node, not only its settings (a matrix cell, say)
    delta = write(store, 'INSERT DATA { mb:risk-criteria rdfs:comment "reviewed" }')
    assert update_model(store, before, delta.removed | delta.added) is None


def test_a_chain_of_writes_stays_equal(demo):
    store, model = demo
    for text in SCENARIOS.values():
        delta = write(store, text)
        model = update_model(store, model, delta.removed | delta.added)
    assert set(analysis_quads(model)) == set(analysis_quads(RiskModel.build(store)))
    assert not list(store.backend.quads_for_pattern(None, None, None, ox.NamedNode(Graphs.CHANGES + "x")))


def test_two_inherited_shares_of_one_risk_on_one_asset_stay_right(demo):
    """A risk of two assets that both reach one dependent gives two items with one IRI: a change
    to one of them must not drop what the other still states (found by review)."""
    store, model = demo
    steps = [
        "PREFIX ex: <https://example.org/> INSERT DATA { ex:d1 aims:hasRisk ex:shared . ex:d2 aims:hasRisk ex:shared . "
        "ex:shared a aims:Risk ; aims:hasLikelihood rm:L5 ; aims:hasSeverity rm:S5 . ex:sysX aims:usesDataset ex:d2 ; "
        "aims:consumesOutputOf ex:sysY . ex:sysY aims:usesModel ex:m1 . ex:m1 aims:trainedOn ex:d1 }",
        "PREFIX ex: <https://example.org/> DELETE DATA { ex:m1 aims:trainedOn ex:d1 }",
    ]
    graph = set(analysis_quads(model))
    for text in steps:
        delta = write(store, text)
        updated = update_model(store, model, delta.removed | delta.added)
        remove, add = analysis_changes(model, updated)
        graph = (graph - remove) | add
        model = updated
    assert graph == set(analysis_quads(RiskModel.build(store)))


def test_schema_statements_in_the_record_build_the_model_again(demo):
    store, before = demo
    delta = write(store, "PREFIX ex: <https://example.org/> INSERT DATA { ex:feeds rdfs:subPropertyOf aims:dependsOn }")
    assert update_model(store, before, delta.removed | delta.added) is None
