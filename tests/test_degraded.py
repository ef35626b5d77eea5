"""A derived-graph failure degrades the service and never bricks it (issue 17).

Each test drives real on-disk stores through ``create_app`` and Flask's test client, one
process per life of the service: a restart is the next life on the same data directory (the
store allows one process at a time, and an app cannot be closed inside a process).

- RDF 1.2 triple terms and blank nodes anywhere in the record: every derived graph stays
  current (before the fix, one triple term stopped every refresh, and start-up, for good);
- a derived step that does fail (risk criteria the risk model cannot use): ``/api/health`` says
  ``degraded`` with the error and the stale graphs, pages serve what there is, a restart comes
  up, and fixing the record heals it;
- :mod:`aimsgraph.store.record`'s term helpers, which every reader goes through.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest

from aimsgraph.store.record import node, node_text, number, term_of, term_parts
from conftest import FreshDataDir

TOKEN = "editor-token-0123456789abcdef"
AIMS = "https://w3id.org/aimsgraph/ontology#"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
GRAPH = "https://w3id.org/aimsgraph/graph/"
MB = "https://data.meridian.example/aims/"
TRIPLE_TERM = "<<( <http://x/a> <http://x/b> <http://x/c> )>>"
PAGES = ("/", "/systems", "/findings", "/api/findings")
#: Every page and API answer that reads the derived graphs or the record through the readers.
READERS = (
    *PAGES,
    "/heatmap",
    "/heatmap?view=residual",
    "/soa",
    "/soa.csv",
    "/api/soa",
    "/due",
    "/api/due",
    "/api/due.ics",
    "/api/review-pack",
    "/api/concentration",
    "/api/graphs",
    f"/asset?iri={MB}system/code-assistant",
    f"/impact?node={MB}system/code-assistant",
    f"/api/impact?node={MB}system/code-assistant",
    f"/findings?system={MB}system/code-assistant",
)

#: What every life runs first: the app over the data directory, an editor, and helpers.
LIFE = f"""
import json, sys
from pathlib import Path
from aimsgraph.http.app import create_app
from aimsgraph.config import Settings
from aimsgraph.records.refresh import mark_stale

app = create_app(Settings(data_dir=Path(sys.argv[1]), demo=True, tokens=("editor:alice:{TOKEN}",), query_workers=1))
client = app.test_client()
state = app.extensions["aimsgraph"]
EDITOR = {{"Authorization": "Bearer {TOKEN}"}}
out = {{}}

def update(text):
    response = client.post("/update", data=text, headers={{**EDITOR, "Content-Type": "application/sparql-update"}})
    assert response.status_code == 200, response.get_data(as_text=True)

def health():
    assert state.refresher.settle(120), "the refresher did not take the writes within 120 s"
    return client.get("/api/health").get_json()

def ask(text):
    response = client.post("/sparql", data={{"query": text}}, headers={{"Accept": "application/sparql-results+json"}})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["boolean"]

def get(path):  # as a browser asks, so that / is the dashboard rather than the service index
    return client.get(path, headers={{"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}})

def statuses(*paths):
    return {{path: get(path).status_code for path in paths}}
"""


def life(data_dir: Path, steps: str) -> dict:
    """Start the service (with the demo) on ``data_dir`` in a new process, run ``steps``
    (Python, after :data:`LIFE`) and return what they put in ``out``."""
    script = LIFE + steps + "\nprint(json.dumps(out))\n"
    result = subprocess.run([sys.executable, "-c", script, str(data_dir)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-6000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


#: What the first test looks at in each life: health, findings, every reader, the stored graphs.
OBSERVE = f"""
out["health"] = health()
out["findings"] = client.get("/api/findings").get_json()["findings"]
out["statuses"] = statuses(*{READERS!r})
out["findings page"] = get("/findings").get_data(as_text=True)
out["stored value"] = ask("ASK {{ GRAPH <{GRAPH}validation> {{ ?r <http://www.w3.org/ns/shacl#value> {TRIPLE_TERM} }} }}")
out["inferred"] = ask("ASK {{ GRAPH <{GRAPH}inferred> {{ ?s a <{AIMS}Asset> }} "
                      "GRAPH <{GRAPH}data> {{ ?s <{RDFS_LABEL}> 'Unnamed system' }} }}")
"""


def assert_current(life_out: dict) -> None:
    """The service is healthy, every reader answered, and the derived graphs hold the new record:
    a finding on the blank-node system, the triple term as a finding's value (kept a triple
    term), inferences."""
    health, derived = life_out["health"], life_out["health"]["derived"]
    assert health["status"] == "ok" and derived["inferredCurrent"] and derived["analysisCurrent"], health
    assert derived["stale"] == [] and derived["failure"] is None
    assert {path: status for path, status in life_out["statuses"].items() if status != 200} == {}
    blank = [f for f in life_out["findings"] if f["focus"].startswith("_:")]
    assert any(f["path"] == AIMS + "hasOwner" for f in blank), blank
    valued = [f for f in life_out["findings"] if f["valueType"] == "triple"]
    assert valued and all(f["value"] == TRIPLE_TERM for f in valued)
    assert any(f["focus"] == MB + "risk/retail-credit-model-drift" for f in valued)
    assert life_out["stored value"] and life_out["inferred"]
    assert "Unnamed system" in life_out["findings page"]


@pytest.mark.slow
def test_a_triple_term_and_a_blank_node_system_after_a_stored_validation_keep_every_derived_graph_current(
    tmp_path: Path, fresh_data_dir: FreshDataDir
):
    """The issue's reproducer, and a triple term as the object of a property with a range (the
    reasoner typed the triple term as a subject, and every refresh and start-up failed), and a
    blank-node AI system (its findings could not be stored)."""
    insert = (
        f"INSERT DATA {{ <http://x/s> <http://x/p> {TRIPLE_TERM} . "
        f"<{MB}risk/retail-credit-model-drift> <{AIMS}hasRiskSource> {TRIPLE_TERM} . "
        f'[] a <{AIMS}AISystem> ; <{RDFS_LABEL}> "Unnamed system" }}'
    )
    first = life(
        fresh_data_dir(tmp_path),
        f"""
assert client.post("/api/validate", headers=EDITOR).status_code == 200  # findings are stored
update({insert!r})
{OBSERVE}
mark_stale(state.store)  # as a process that stopped before its refresh ended leaves the store
""",
    )
    assert_current(first)
    assert first["health"]["derived"]["lastRefresh"]["analysis"]  # the analysis ran after the write

    again = life(tmp_path, OBSERVE)  # start-up recomputes every derived graph
    assert_current(again)
    assert sorted(map(json.dumps, again["findings"])) == sorted(map(json.dumps, first["findings"]))


@pytest.mark.slow
def test_a_failing_refresh_is_reported_degraded_and_a_restart_comes_up(tmp_path: Path, fresh_data_dir: FreshDataDir):
    """Risk criteria the risk model cannot use (a propagation threshold of 5) fail the analysis
    for real. Before, /api/health said "ok" and the pages answered 500."""
    criteria, threshold = f"<{MB}risk-criteria>", f"<{AIMS}propagationThreshold>"
    broken = life(
        fresh_data_dir(tmp_path),
        f"""
assert client.post("/api/validate", headers=EDITOR).status_code == 200
update("DELETE {{ {criteria} {threshold} ?t }} INSERT {{ {criteria} {threshold} 5 }} WHERE {{ {criteria} {threshold} ?t }}")
out["health"] = health()
out["statuses"] = statuses(*{PAGES!r})
""",
    )
    health = broken["health"]
    assert health["status"] == "degraded", health
    assert "aims:propagationThreshold must be a number between 0 and 1, not 5" in health["error"]
    assert health["derived"]["failure"]["step"] == "analysis" and health["derived"]["failure"]["during"] == "refresh"
    assert health["stale"] == [GRAPH + "analysis"]  # the inferences and findings were brought up to date
    assert broken["statuses"] == dict.fromkeys(PAGES, 200)  # the last risk model built serves on

    restarted = life(
        tmp_path,
        f"""
out["health"] = health()
out["statuses"] = statuses(*{PAGES!r})
out["dashboard"] = get("/").get_data(as_text=True)
update("DELETE DATA {{ {criteria} {threshold} 5 }}")  # an editor fixes the record
out["healed"] = health()
out["after"] = statuses(*{PAGES!r})
""",
    )
    health = restarted["health"]
    assert health["status"] == "degraded" and health["derived"]["failure"]["during"] == "start-up", health
    assert "propagationThreshold" in health["error"] and GRAPH + "analysis" in health["stale"]
    # the record and the stored findings serve; pages that need the risk model say why they cannot
    assert restarted["statuses"] == {"/": 503, "/systems": 503, "/findings": 503, "/api/findings": 200}
    assert "propagationThreshold" in restarted["dashboard"]
    assert restarted["healed"]["status"] == "ok" and restarted["healed"]["derived"]["stale"] == []
    assert restarted["after"] == dict.fromkeys(PAGES, 200)


@pytest.mark.slow
def test_every_reader_takes_triple_terms_and_blank_nodes_anywhere_in_the_record(tmp_path: Path, fresh_data_dir: FreshDataDir):
    """A triple term as the object of every property the demo uses, and a blank-node copy of
    one record node of every class (with its links both ways), written through the Graph Store."""
    hostile = life(
        fresh_data_dir(tmp_path),
        f"""
import pyoxigraph as ox
data, kind = ox.NamedNode("{GRAPH}data"), ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
term = ox.Triple(ox.NamedNode("http://x/a"), ox.NamedNode("http://x/b"), ox.NamedNode("http://x/c"))
raw, quads, predicates, classes = state.store.backend, [], {{}}, set()
for q in raw.quads_for_pattern(None, None, None, data):
    if isinstance(q.subject, ox.NamedNode):
        predicates.setdefault(q.predicate, q.subject)
quads += [ox.Triple(s, p, term) for p, s in predicates.items()]
for q in list(raw.quads_for_pattern(None, kind, None, data)):
    if q.object not in classes and isinstance(q.subject, ox.NamedNode):
        classes.add(q.object)
        copy = ox.BlankNode()
        quads += [ox.Triple(copy, x.predicate, x.object) for x in raw.quads_for_pattern(q.subject, None, None, data)]
        quads += [ox.Triple(x.subject, x.predicate, copy) for x in raw.quads_for_pattern(None, None, q.subject, data)]
assert client.post("/api/validate", headers=EDITOR).status_code == 200
body = ox.serialize(quads, format=ox.RdfFormat.N_TRIPLES)
response = client.post("/rdf-graph-store?graph={GRAPH}data", data=body,
                       headers={{**EDITOR, "Content-Type": "application/n-triples"}})
assert response.status_code in (200, 204), response.get_data(as_text=True)
out["health"] = health()
out["statuses"] = statuses(*{READERS!r})
mark_stale(state.store)
""",
    )
    derived = hostile["health"]["derived"]
    assert hostile["health"]["status"] == "ok" and derived["inferredCurrent"] and derived["analysisCurrent"], derived
    assert derived["stale"] == [] and derived["failure"] is None
    assert {path: status for path, status in hostile["statuses"].items() if status != 200} == {}
    restarted = life(
        tmp_path,
        f"""
out["health"] = health()
out["statuses"] = statuses(*{READERS!r})
""",
    )
    assert restarted["health"]["status"] == "ok", restarted["health"]
    assert {path: status for path, status in restarted["statuses"].items() if status != 200} == {}


# -- the term helpers --------------------------------------------------------------------------

TERMS = [
    ox.NamedNode("http://x/a"),
    ox.BlankNode("b1"),
    ox.Literal("plain"),
    ox.Literal("7", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
    ox.Literal("hallo", language="de"),
    ox.Literal("right", language="ar", direction=ox.BaseDirection.RTL),
    ox.Triple(ox.NamedNode("http://x/a"), ox.NamedNode("http://x/b"), ox.Literal("c", language="en")),
    ox.Triple(
        ox.BlankNode("b2"),
        ox.NamedNode("http://x/b"),
        ox.Triple(ox.NamedNode("http://x/a"), ox.NamedNode("http://x/b"), ox.NamedNode("http://x/c")),
    ),
]


@pytest.mark.parametrize("term", TERMS, ids=str)
def test_every_kind_of_term_reads_as_text_and_back(term: object):
    text, kind = term_parts(term)
    assert term_of(text, kind) == term
    assert (node_text(term) is not None) == isinstance(term, ox.NamedNode | ox.BlankNode)
    if node_text(term) is not None:
        assert node(node_text(term)) == term


def test_triple_terms_read_as_n_triples_and_name_no_node():
    text, kind = term_parts(TERMS[-1])
    assert (text, kind) == ("<<( _:b2 <http://x/b> <<( <http://x/a> <http://x/b> <http://x/c> )>> )>>", "triple")
    assert node(text) is None and node("not an IRI") is None


def test_numbers_are_read_from_well_formed_literals_only():
    decimal = ox.NamedNode("http://www.w3.org/2001/XMLSchema#decimal")
    assert number(ox.Literal("0.4", datatype=decimal)) == 0.4
    assert number(ox.Literal("high", datatype=decimal)) is None  # ill-typed: the shapes report it
    assert number(ox.Literal("NaN", datatype=decimal)) is None
    assert number(ox.NamedNode("http://x/0.4")) is None and number(TERMS[-1]) is None and number(None) is None


def test_the_dcat_export_leaves_out_triple_term_values(tmp_path):
    """DCAT is RDF 1.1: a title that is a triple term is not exported, and the export check still runs."""
    from aimsgraph.interop.exporters import dcat
    from aimsgraph.store import GraphStore

    store = GraphStore(tmp_path / "db")
    store.initialise(demo=True)
    store.update("""INSERT DATA { GRAPH <https://w3id.org/aimsgraph/graph/data> {
        <https://data.meridian.example/aims/system/cv-screening> <http://purl.org/dc/terms/title>
            <<( <http://x/a> <http://x/b> <http://x/c> )>> } }""")
    triples = dcat.export_register(store)
    assert triples and not any(isinstance(t.object, ox.Triple) for t in triples)
    # the system's only title was the triple term: the export's own check says so, and nothing else
    findings = dcat.validate_export(triples)
    assert [(f.focus.rsplit("/", 1)[1], f.path) for f in findings] == [("cv-screening", "http://purl.org/dc/terms/title")]
