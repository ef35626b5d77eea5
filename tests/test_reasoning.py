"""The inferred graph: what it entails, that it never repeats asserted triples, and its repair."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest

from aimsgraph.config import Settings
from aimsgraph.namespaces import Graphs
from aimsgraph.semantics import reasoning
from aimsgraph.semantics.reasoning import refresh_inferences
from aimsgraph.store import GraphStore
from conftest import serving

AIMS = "https://w3id.org/aimsgraph/ontology#"
DEMO = "https://data.meridian.example/aims/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def rows(store: GraphStore, query: str) -> list[dict[str, str]]:
    solutions = store.query(query)
    names = [v.value for v in solutions.variables]
    return [{n: r[n].value for n in names if r[n] is not None} for r in solutions]


def test_typed_edges_make_dependson_paths(demo_store: GraphStore):
    dependents = rows(demo_store, f"SELECT DISTINCT ?x WHERE {{ ?x <{AIMS}dependsOn>+ <{DEMO}supplier/nimbus-cloud> }}")
    assert len(dependents) >= 10
    assets = rows(demo_store, f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ ?x a <{AIMS}Asset> }}")
    systems_models_datasets = rows(
        demo_store,
        f"""SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{
        VALUES ?c {{ <{AIMS}AISystem> <{AIMS}Model> <{AIMS}Dataset> }} ?x a ?c }}""",
    )
    assert int(assets[0]["n"]) > int(systems_models_datasets[0]["n"])


def test_inferred_triples_never_repeat_asserted_ones(demo_store: GraphStore):
    repeated = rows(
        demo_store,
        f"""SELECT (COUNT(*) AS ?n) WHERE {{
        GRAPH <{Graphs.INFERRED}> {{ ?s ?p ?o }} GRAPH ?g {{ ?s ?p ?o }} FILTER(?g != <{Graphs.INFERRED}>) }}""",
    )
    assert repeated == [{"n": "0"}]
    edges = rows(
        demo_store,
        f"SELECT (COUNT(*) AS ?all) (COUNT(DISTINCT CONCAT(STR(?a), STR(?b))) AS ?distinct) WHERE {{ ?a <{AIMS}dependsOn> ?b }}",
    )
    assert edges[0]["all"] == edges[0]["distinct"]


def test_refresh_is_idempotent(tmp_path: Path):
    store = GraphStore(tmp_path / "db")
    store.initialise(demo=True)
    first = refresh_inferences(store)
    sizes = store.graph_sizes()
    assert refresh_inferences(store) == first
    assert store.graph_sizes() == sizes
    assert store.is_current(Graphs.INFERRED)


def test_an_interrupted_refresh_is_repaired_at_the_next_start(tmp_path: Path):
    data_dir = tmp_path / "db"
    # A first process builds the store, then "crashes" in the middle of a write: the stamp is
    # gone and the inferred graph is wiped.
    crash = f"""
import pyoxigraph as ox
import subprocess
import sys
from pathlib import Path
from aimsgraph.store import GraphStore
from aimsgraph.semantics.reasoning import refresh_inferences
store = GraphStore(Path({str(data_dir)!r})); store.initialise(demo=True)
print(refresh_inferences(store))
store.invalidate({Graphs.INFERRED!r}); store.backend.remove_graph(ox.NamedNode({Graphs.INFERRED!r})); store.flush()
"""
    result = subprocess.run([sys.executable, "-c", crash], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    inferred = int(result.stdout.strip())

    with serving(Settings(data_dir=data_dir)) as app:
        store = app.extensions["aimsgraph"].store
        assert store.is_current(Graphs.INFERRED)
        assert store.graph_sizes()[Graphs.INFERRED] == inferred + 2  # and the generatedAtTime and digest stamps


# -- the fast engine equals the owlrl reference --------------------------------------------------


def without_blank_nodes(triples: set) -> set:
    """Blank-node labels change in the round trip through rdflib; compare the rest."""
    return {t for t in triples if not any(isinstance(term, ox.BlankNode) for term in t)}


@pytest.mark.oracle
def test_fast_engine_equals_owlrl_on_the_demo():
    store = GraphStore(None)
    store.initialise(demo=True)
    premises = reasoning.premises(store)
    fast = reasoning.fast_inferences(premises)
    assert len(fast) > 3000
    assert without_blank_nodes(fast) == without_blank_nodes(reasoning.owlrl_inferences(premises))


EDGE_CASES = """
@prefix aims: <https://w3id.org/aimsgraph/ontology#> .
@prefix ex: <https://example.org/> .
ex:a a aims:AISystem ; aims:consumesOutputOf ex:b ; aims:hasDependency ex:q .
ex:b a aims:AISystem ; aims:consumesOutputOf ex:a .
ex:q aims:dependencyTarget ex:m ; aims:couplingStrength 0.4 .
ex:m aims:hasRisk ex:r .
ex:r aims:hasRiskSource ex:src ; aims:hasConsequence ex:c .
ex:ctl aims:mitigates ex:r ; aims:hasOwner ex:person .
"""


@pytest.mark.oracle
def test_fast_engine_equals_owlrl_on_a_generated_record_with_cycles_and_chains():
    from benchmarks.generate import generate

    store = GraphStore(None)
    store.initialise(demo=False)
    data = ox.NamedNode(Graphs.DATA)
    store.backend.load(generate(15).encode(), format=ox.RdfFormat.N_TRIPLES, to_graph=data)
    store.backend.load(EDGE_CASES.encode(), format=ox.RdfFormat.TURTLE, to_graph=data)
    premises = reasoning.premises(store)
    fast = reasoning.fast_inferences(premises)
    assert without_blank_nodes(fast) == without_blank_nodes(reasoning.owlrl_inferences(premises))
    ex = "https://example.org/"
    expected = {  # chain (qualified dependency), transitivity through a cycle, chain to the risk, inverse
        (ex + "a", AIMS + "dependsOn", ex + "m"),
        (ex + "a", AIMS + "transitivelyDependsOn", ex + "a"),
        (ex + "a", AIMS + "exposedTo", ex + "r"),
        (ex + "a", AIMS + "exposedToRiskSource", ex + "src"),
        (ex + "r", AIMS + "isRiskOf", ex + "m"),
        (ex + "m", RDF_TYPE, AIMS + "Asset"),  # from the domain of hasRisk
    }
    assert expected <= {(s.value, p.value, o.value) for s, p, o in fast}


AIRO = "https://w3id.org/airo#"
DPV = "https://w3id.org/dpv#"


def test_a_user_who_knows_only_airo_lists_systems_risks_consequences_and_controls(demo_store: GraphStore):
    def count(query: str) -> int:
        return int(rows(demo_store, f"PREFIX airo: <{AIRO}> PREFIX dpv: <{DPV}> {query}")[0]["n"])

    assert count("SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a airo:AISystem }") == 12
    assert count("SELECT (COUNT(DISTINCT ?r) AS ?n) WHERE { ?r a airo:Risk }") == 40
    assert count("SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?r airo:hasConsequence ?c . ?c a airo:Consequence }") >= 17
    mitigating = count(f"SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {{ ?c <{AIMS}mitigates> ?r }}")
    assert (
        count("SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?c a airo:RiskControl ; airo:mitigatesRiskConcept ?r }")
        == mitigating
        > 30
    )
    assert count("SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?c a airo:RiskControl }") == 58
    assert count("SELECT (COUNT(DISTINCT ?r) AS ?n) WHERE { ?r a airo:Risk ; dpv:hasRiskLevel ?l }") == 40


def test_demo_risks_reach_vair_risk_sources_through_the_crosswalk(demo_store: GraphStore):
    found = rows(
        demo_store,
        """PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
        PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT DISTINCT ?risk ?vair ?label WHERE {
          ?risk a aims:Risk ; aims:hasRiskSource ?source .
          ?source skos:exactMatch|skos:closeMatch|skos:narrowMatch|skos:broadMatch ?vair .
          ?vair rdfs:label ?label .
          FILTER(STRSTARTS(STR(?vair), "https://w3id.org/vair#"))
        }""",
    )
    assert len({r["risk"] for r in found}) >= 5
    assert all(r["label"] for r in found)


# -- incremental maintenance equals a full refresh -----------------------------------------------


def stamps_of(store: GraphStore) -> set:
    return stamps_in(inferred_graph(store))


def stamps_in(inferred: set) -> set:
    return {t for t in inferred if t[1] in (reasoning.GENERATED_AT, reasoning.HAS_VERSION)}


CLASSES = ("AISystem", "Model", "Dataset", "Risk", "ImplementedControl", "Supplier", "ThreatTechnique")


def inferred_graph(store: GraphStore) -> set:
    graph = ox.NamedNode(Graphs.INFERRED)
    return {
        (q.subject, q.predicate, q.object) for q in store.backend.quads_for_pattern(None, None, None, graph) if q.subject != graph
    }


@pytest.mark.parametrize("seed", [5, 11])
def test_incremental_updates_equal_a_full_refresh_after_random_edits(seed: int):
    import random

    from benchmarks.generate import generate

    rng = random.Random(seed)
    store = GraphStore(None)
    store.initialise(demo=False)
    data = ox.NamedNode(Graphs.DATA)
    store.backend.load(generate(30, seed=3).encode(), format=ox.RdfFormat.N_TRIPLES, to_graph=data)
    store.backend.load(EDGE_CASES.encode(), format=ox.RdfFormat.TURTLE, to_graph=data)
    refresh_inferences(store)
    inferred = inferred_graph(store)  # read once an edit: reading the graph costs more than the update
    asserted = sorted(
        ((q.subject, q.predicate, q.object) for q in store.backend.quads_for_pattern(None, None, None, data)), key=str
    )
    subjects = sorted({t[0] for t in asserted}, key=str)
    predicates = [
        ox.NamedNode(AIMS + p)
        for p in (
            "consumesOutputOf",
            "usesModel",
            "hasRisk",
            "hasDependency",
            "dependencyTarget",
            "hasRiskSource",
            "mitigates",
            "hasOwner",
        )
    ]
    for _ in range(15):
        removed = set(rng.sample(asserted, 3))
        added = {(rng.choice(subjects), rng.choice(predicates), rng.choice(subjects)) for _ in range(3)}
        added.add((rng.choice(subjects), ox.NamedNode(RDF_TYPE), ox.NamedNode(AIMS + rng.choice(CLASSES))))
        # asserting what was inferred, and the inverse of a removed assertion ("flip")
        added |= set(rng.sample(sorted(without_blank_nodes(inferred - stamps_in(inferred)), key=str), 2))
        flipped = next(iter(sorted(removed, key=str)))
        if flipped[1].value == AIMS + "hasRisk":
            added.add((flipped[2], ox.NamedNode(AIMS + "isRiskOf"), flipped[0]))
        added -= set(asserted)
        store.backend.extend(ox.Quad(*t, data) for t in added)
        for t in removed:
            store.backend.remove(ox.Quad(*t, data))
        asserted = sorted((set(asserted) - removed) | added, key=str)
        reasoning.update_inferences(store, added, removed)
        incremental = inferred_graph(store)
        refresh_inferences(store)
        inferred = inferred_graph(store)
        assert without_blank_nodes(incremental - stamps_in(incremental)) == without_blank_nodes(inferred - stamps_in(inferred))


def test_incremental_updates_after_a_schema_change_use_the_new_schema():
    """Updates keep the schema they read (reasoning._schema); a schema change, refreshed in
    full, must drop it, or the next update would infer by the old one."""
    store = GraphStore(None)
    store.initialise(demo=False)
    data = ox.NamedNode(Graphs.DATA)
    ex = "https://example.org/"
    a, b, x, y = (ox.NamedNode(ex + n) for n in ("A", "B", "x", "y"))
    rdf_type, sub_class = ox.NamedNode(RDF_TYPE), ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#subClassOf")

    def assert_and_update(triple: tuple) -> None:
        store.backend.extend([ox.Quad(*triple, data)])
        reasoning.update_inferences(store, {triple}, set())

    refresh_inferences(store)
    assert_and_update((x, rdf_type, a))  # an update that reads (and keeps) the schema
    assert_and_update((a, sub_class, b))  # a schema change: refreshed in full
    assert (x, rdf_type, b) in inferred_graph(store)
    assert_and_update((y, rdf_type, a))  # an update after it: y is a B by the new axiom
    assert (y, rdf_type, b) in inferred_graph(store)


def test_a_reloaded_reference_graph_drops_the_kept_schema(tmp_path: Path):
    """A reference graph replaced in the same process (its files changed) may bring axioms: the
    next update reads the schema anew (GraphStore clears what it kept of the content)."""
    store = GraphStore(None)
    store.initialise(demo=False)
    data = ox.NamedNode(Graphs.DATA)
    ex = "https://example.org/"
    x, y, a, b = (ox.NamedNode(ex + n) for n in ("x", "y", "A", "B"))
    rdf_type = ox.NamedNode(RDF_TYPE)
    refresh_inferences(store)
    store.backend.extend([ox.Quad(x, rdf_type, a, data)])
    reasoning.update_inferences(store, {(x, rdf_type, a)}, set())  # reads and keeps the schema
    axioms = tmp_path / "extra.ttl"
    axioms.write_text(f"<{a.value}> <http://www.w3.org/2000/01/rdf-schema#subClassOf> <{b.value}> .", encoding="utf-8")
    assert store._sync_reference(Graphs.ONTOLOGY, [axioms]) == "loaded"
    store.backend.extend([ox.Quad(y, rdf_type, a, data)])
    reasoning.update_inferences(store, {(y, rdf_type, a)}, set())
    assert (y, rdf_type, b) in inferred_graph(store)


def test_incremental_update_when_an_inferred_triple_is_asserted_and_an_assertion_is_flipped():
    store = GraphStore(None)
    store.initialise(demo=False)
    data = ox.NamedNode(Graphs.DATA)
    ex = "https://example.org/"
    store.backend.load(
        f"""@prefix aims: <{AIMS}> . @prefix ex: <{ex}> .
        ex:a aims:consumesOutputOf ex:b ; aims:hasRisk ex:r .""".encode(),
        format=ox.RdfFormat.TURTLE,
        to_graph=data,
    )
    refresh_inferences(store)
    a, r, b = (ox.NamedNode(ex + n) for n in "arb")
    asserted = (a, ox.NamedNode(AIMS + "dependsOn"), b)  # was inferred
    flipped_out = (a, ox.NamedNode(AIMS + "hasRisk"), r)
    flipped_in = (r, ox.NamedNode(AIMS + "isRiskOf"), a)  # was inferred, now the assertion
    store.backend.extend([ox.Quad(*asserted, data), ox.Quad(*flipped_in, data)])
    store.backend.remove(ox.Quad(*flipped_out, data))
    reasoning.update_inferences(store, {asserted, flipped_in}, {flipped_out})
    incremental = inferred_graph(store) - stamps_of(store)
    refresh_inferences(store)
    assert incremental == inferred_graph(store) - stamps_of(store)
    assert flipped_out in incremental and asserted not in incremental
