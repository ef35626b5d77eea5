"""The inferred graph: what it entails, that it never repeats asserted triples, and its repair."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from aimsgraph.app import create_app
from aimsgraph.config import Settings
from aimsgraph.namespaces import Graphs
from aimsgraph.reasoning import refresh_inferences
from aimsgraph.store import GraphStore

AIMS = "https://w3id.org/aimsgraph/ontology#"
DEMO = "https://data.meridian.example/aims/"


def rows(store: GraphStore, query: str) -> list[dict[str, str]]:
    solutions = store.query(query)
    names = [v.value for v in solutions.variables]
    return [{n: r[n].value for n in names if r[n] is not None} for r in solutions]


def test_typed_edges_make_dependson_paths(demo_store: GraphStore):
    dependents = rows(demo_store, f"SELECT DISTINCT ?x WHERE {{ ?x <{AIMS}dependsOn>+ <{DEMO}supplier/nimbus-cloud> }}")
    assert len(dependents) >= 10
    assets = rows(demo_store, f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ ?x a <{AIMS}Asset> }}")
    systems_models_datasets = rows(demo_store, f"""SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{
        VALUES ?c {{ <{AIMS}AISystem> <{AIMS}Model> <{AIMS}Dataset> }} ?x a ?c }}""")
    assert int(assets[0]["n"]) > int(systems_models_datasets[0]["n"])


def test_inferred_triples_never_repeat_asserted_ones(demo_store: GraphStore):
    repeated = rows(demo_store, f"""SELECT (COUNT(*) AS ?n) WHERE {{
        GRAPH <{Graphs.INFERRED}> {{ ?s ?p ?o }} GRAPH ?g {{ ?s ?p ?o }} FILTER(?g != <{Graphs.INFERRED}>) }}""")
    assert repeated == [{"n": "0"}]
    edges = rows(demo_store, f"SELECT (COUNT(*) AS ?all) (COUNT(DISTINCT CONCAT(STR(?a), STR(?b))) AS ?distinct) WHERE {{ ?a <{AIMS}dependsOn> ?b }}")
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
from aimsgraph.reasoning import refresh_inferences
store = GraphStore(Path({str(data_dir)!r})); store.initialise(demo=True)
print(refresh_inferences(store))
store.invalidate({Graphs.INFERRED!r}); store.raw.remove_graph(ox.NamedNode({Graphs.INFERRED!r})); store.flush()
"""
    result = subprocess.run([sys.executable, "-c", crash], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    inferred = int(result.stdout.strip())

    app = create_app(Settings(data_dir=data_dir))
    store = app.extensions["aimsgraph"].store
    assert store.is_current(Graphs.INFERRED)
    assert store.graph_sizes()[Graphs.INFERRED] == inferred + 1  # and the prov:generatedAtTime stamp
    app.extensions["aimsgraph"].readers.close()
