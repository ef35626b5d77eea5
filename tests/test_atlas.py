"""MITRE ATLAS import: what the store holds matches the YAML file, bad input changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import Result

from aimsgraph import resources
from aimsgraph.errors import InvalidInput
from aimsgraph.interop.importers.atlas import AtlasReport, import_atlas
from aimsgraph.namespaces import AIMS, Graphs
from aimsgraph.semantics.reasoning import refresh_inferences
from aimsgraph.store import GraphStore
from conftest import aimsgraph

ATLAS_FILE = resources.path("data", "atlas", "ATLAS.yaml")
ATLAS = "https://w3id.org/aimsgraph/atlas/"


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(ATLAS_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def matrix(document: dict) -> dict:
    [only] = document["matrices"]  # the shipped release has one matrix
    return only


@pytest.fixture(scope="module")
def imported() -> tuple[GraphStore, AtlasReport]:
    store = GraphStore(None)
    store.initialise(demo=False)
    report = import_atlas(store, ATLAS_FILE)
    refresh_inferences(store)
    return store, report


@pytest.fixture(scope="module")
def store(imported: tuple[GraphStore, AtlasReport]) -> GraphStore:
    return imported[0]


@pytest.fixture(scope="module")
def report(imported: tuple[GraphStore, AtlasReport]) -> AtlasReport:
    return imported[1]


def select(store: GraphStore, where: str, var: str = "x") -> set[str]:
    rows = store.query(f"PREFIX aims: <{AIMS}> SELECT ?{var} WHERE {{ GRAPH <{Graphs.ATLAS}> {{ {where} }} }}")
    return {row[var].value for row in rows}


def pairs(store: GraphStore, predicate: str) -> set[tuple[str, str]]:
    rows = store.query(f"PREFIX aims: <{AIMS}> SELECT ?s ?o WHERE {{ GRAPH <{Graphs.ATLAS}> {{ ?s {predicate} ?o }} }}")
    return {(row["s"].value.removeprefix(ATLAS), row["o"].value.removeprefix(ATLAS)) for row in rows}


def ids(iris: set[str]) -> set[str]:
    return {iri.removeprefix(ATLAS) for iri in iris}


def atlas_graph(store: GraphStore) -> set[str]:
    return set(store.dump([Graphs.ATLAS]).decode().splitlines())


def test_counts_in_the_store_match_the_file(store: GraphStore, report: AtlasReport, document: dict, matrix: dict):
    techniques = matrix["techniques"]
    parents = {t["id"] for t in techniques if "subtechnique-of" not in t}
    subs = {(t["id"], t["subtechnique-of"]) for t in techniques if "subtechnique-of" in t}
    tactic_links = {(t["id"], tactic) for t in techniques for tactic in t.get("tactics", [])}
    mitigation_links = {(m["id"], t["id"]) for m in matrix["mitigations"] for t in m["techniques"]}

    assert ids(select(store, "?x a aims:ThreatTactic")) == {t["id"] for t in matrix["tactics"]}
    assert ids(select(store, "?x a aims:ThreatTechnique")) == parents | {s for s, _ in subs}
    assert ids(select(store, "?x a aims:ReferenceMitigation")) == {m["id"] for m in matrix["mitigations"]}
    assert pairs(store, "aims:subTechniqueOf") == subs
    assert pairs(store, "aims:achievesTactic") == tactic_links
    assert pairs(store, "aims:mitigatesTechnique") == mitigation_links

    assert (report.version, report.tactics, report.techniques, report.subtechniques, report.mitigations) == (
        str(document["version"]),
        len(matrix["tactics"]),
        len(parents),
        len(subs),
        len(matrix["mitigations"]),
    )
    assert (report.tactic_links, report.mitigation_links) == (len(tactic_links), len(mitigation_links))
    assert report.triples == len(atlas_graph(store))
    assert f"{len(matrix['tactics'])} tactics" in report.summary()


def test_a_technique_has_its_identifier_name_and_tactics(store: GraphStore, matrix: dict):
    by_id = {t["id"]: t for t in matrix["techniques"]}
    for technique in ("AML.T0043", "AML.T0015"):  # one tactic; three tactics
        assert ids(select(store, f"<{ATLAS}{technique}> aims:achievesTactic ?x")) == set(by_id[technique]["tactics"])
    [name] = select(
        store, '?t <http://purl.org/dc/terms/identifier> "AML.T0043" ; <http://www.w3.org/2000/01/rdf-schema#label> ?x'
    )
    assert name == by_id["AML.T0043"]["name"]
    pages = select(store, f"<{ATLAS}AML.T0043> <http://www.w3.org/2000/01/rdf-schema#seeAlso> ?x")
    assert "https://atlas.mitre.org/techniques/AML.T0043" in pages


def test_sub_techniques_link_to_their_parent(store: GraphStore, matrix: dict):
    expected = {t["id"] for t in matrix["techniques"] if t.get("subtechnique-of") == "AML.T0043"}
    assert expected  # the file has sub-techniques of Craft Adversarial Data
    assert ids(select(store, f"?x aims:subTechniqueOf <{ATLAS}AML.T0043>")) == expected
    # the file gives tactics on the parent only; reasoning gives the sub-technique the same ones
    assert select(store, f"<{ATLAS}AML.T0043.000> aims:achievesTactic ?x") == set()  # select reads the atlas graph

    def tactics(technique: str) -> set[str]:
        query = f"SELECT ?x WHERE {{ <{ATLAS}{technique}> <{AIMS}achievesTactic> ?x }}"  # with inferences
        return {row["x"].value for row in store.query(query)}

    assert tactics("AML.T0043.000") == tactics("AML.T0043") != set()


def test_a_mitigation_links_to_the_techniques_the_file_names(store: GraphStore, matrix: dict):
    mitigation = next(m for m in matrix["mitigations"] if m["id"] == "AML.M0000")
    expected = {t["id"] for t in mitigation["techniques"]}
    assert ids(select(store, f"<{ATLAS}AML.M0000> aims:mitigatesTechnique ?x")) == expected


def test_tactics_and_techniques_are_risk_sources_after_reasoning(store: GraphStore, matrix: dict):
    rows = store.query(f"PREFIX aims: <{AIMS}> SELECT ?x WHERE {{ ?x a aims:RiskSource }}")
    sources = {row["x"].value for row in rows}
    for entry in matrix["tactics"] + matrix["techniques"]:
        assert ATLAS + entry["id"] in sources
    assert not any(ATLAS + m["id"] in sources for m in matrix["mitigations"])
    assert not store.query(f"ASK {{ ?m a <{AIMS}ReferenceControl> FILTER(STRSTARTS(STR(?m), '{ATLAS}')) }}")


def test_importing_twice_leaves_the_same_graph(store: GraphStore, report: AtlasReport):
    before = atlas_graph(store)
    again = import_atlas(store, ATLAS_FILE)
    assert atlas_graph(store) == before
    assert again == report


def minimal() -> dict:
    """A small ATLAS-shaped document, to break in one place at a time."""
    return {
        "id": "ATLAS",
        "version": "0.1",
        "matrices": [
            {
                "id": "ATLAS",
                "tactics": [{"id": "AML.TA0000", "name": "Tactic"}],
                "techniques": [{"id": "AML.T0000", "name": "Technique", "tactics": ["AML.TA0000"]}],
                "mitigations": [{"id": "AML.M0000", "name": "Mitigation", "techniques": [{"id": "AML.T0000"}]}],
            }
        ],
    }


def _dangling_tactic(document: dict) -> None:
    document["matrices"][0]["techniques"][0]["tactics"] = ["AML.TA9999"]


def _dangling_parent(document: dict) -> None:
    document["matrices"][0]["techniques"][0]["subtechnique-of"] = "AML.T9999"


def _unsafe_id(document: dict) -> None:
    document["matrices"][0]["mitigations"][0]["id"] = "AML.M0000> <urn:x"


def _id_with_newline(document: dict) -> None:
    document["matrices"][0]["tactics"][0]["id"] = "AML.TA0000\n"


def _no_name(document: dict) -> None:
    del document["matrices"][0]["tactics"][0]["name"]


def test_a_minimal_document_imports(tmp_path: Path):
    path = tmp_path / "ATLAS.yaml"
    path.write_text(yaml.safe_dump(minimal()), encoding="utf-8")
    report = import_atlas(GraphStore(None), path)
    assert (report.version, report.tactics, report.techniques, report.mitigations) == ("0.1", 1, 1, 1)
    assert (report.tactic_links, report.mitigation_links, report.subtechniques) == (1, 1, 0)


@pytest.mark.parametrize(
    "content",
    [
        "matrices: [unclosed\n  version: 1\n",  # not YAML
        "- just\n- a list\n",  # YAML, not ATLAS
        "version: '1'\nmatrices: []\n",
        "!!python/object/apply:os.system ['true']\n",  # safe_load refuses to construct objects
        _dangling_tactic,
        _dangling_parent,
        _unsafe_id,
        _id_with_newline,
        _no_name,
    ],
)
def test_bad_input_raises_invalid_input_and_changes_nothing(store: GraphStore, tmp_path: Path, content):
    path = tmp_path / "ATLAS.yaml"
    if callable(content):
        document = minimal()
        content(document)
        content = yaml.safe_dump(document)
    path.write_text(content, encoding="utf-8")
    before = atlas_graph(store)
    with pytest.raises(InvalidInput) as raised:
        import_atlas(store, path)
    assert "\n" not in raised.value.message and str(path) in raised.value.message
    assert atlas_graph(store) == before


def test_a_missing_file_raises_invalid_input(store: GraphStore, tmp_path: Path):
    with pytest.raises(InvalidInput, match="cannot read"):
        import_atlas(store, tmp_path / "nope.yaml")


def cli(*args: str, data_dir: Path) -> Result:
    """``aimsgraph import atlas ARGS`` in this process, as the console script runs it."""
    return aimsgraph("import", "atlas", *args, "--data-dir", data_dir)


def test_cli_imports_the_shipped_copy_and_reports_bad_files(tmp_path: Path, matrix: dict):
    done = cli(data_dir=tmp_path / "db")
    assert done.exit_code == 0, done.stderr
    assert f"{len(matrix['tactics'])} tactics" in done.stdout and Graphs.ATLAS in done.stdout
    assert 1 <= len(done.stdout.strip().splitlines()) <= 3

    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nmatrices: [{tactics: 3}]\n", encoding="utf-8")
    failed = cli(str(bad), data_dir=tmp_path / "db")
    assert failed.exit_code == 2 and failed.stdout == ""
    assert len(failed.stderr.strip().splitlines()) == 1 and "bad.yaml" in failed.stderr
    store = GraphStore(tmp_path / "db")
    assert store.is_current(Graphs.INFERRED) and store.is_current(Graphs.ANALYSIS)  # bad input changed nothing
    del store

    missing = cli(str(tmp_path / "nope.yaml"), data_dir=tmp_path / "db")
    assert missing.exit_code == 2 and "nope.yaml" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
