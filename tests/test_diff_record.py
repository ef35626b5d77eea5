"""``aimsgraph diff-record``: what a change to a record kept as files does (issue 23, part 3).

Two versions of real records are compared through the command: the demo and the demo with one
dependency added (two directories), and the worked example of docs/record-as-code.md, a git
repository of the demo split per system where a branch adds a dataset to the high-risk retail
credit scoring system (a git revision against the working tree). The docs' pasted outputs are
checked against what the commands give.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from contextlib import chdir
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from rdflib import RDF, BNode, URIRef

from aimsgraph.namespaces import AIMS, Graphs
from aimsgraph.reporting import diff_record
from aimsgraph.store import GraphStore
from conftest import AS_OF, REPO, aimsgraph, git

MB = "https://data.meridian.example/aims/"
DAY = AS_OF.isoformat()
DOCS = REPO / "docs" / "record-as-code.md"
ASSET_CLASSES = ("AISystem", "Model", "Dataset", "InfrastructureService", "Supplier")

#: The pull request of the worked example: a dataset file, and one line in the system's file.
NEW_DATASET = """@prefix aims: <https://w3id.org/aimsgraph/ontology#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix ds: <https://data.meridian.example/aims/dataset/> .
@prefix infra: <https://data.meridian.example/aims/infrastructure/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix role: <https://data.meridian.example/aims/role/> .

# Payslips and bank statements that applicants upload to prove their income.
ds:payslip-scans a aims:Dataset ;
    rdfs:label "Payslip and bank statement scans"@en ;
    dct:description "Documents applicants upload to prove their income."@en ;
    aims:containsPersonalData true ;
    aims:hasOwner role:retail-credit-owner ;
    aims:hostedOn infra:data-lakehouse .
"""
NEW_DEPENDENCY = "\nsys:retail-credit-scoring aims:usesDataset ds:payslip-scans .\n"


def split_demo(into: Path) -> list[Path]:
    """The demo's triples as a register repository would keep them: one file per AI system
    (the system and what only it refers to: its qualified dependencies, documentation, event
    logging), the rest in the demo's files. Written by rdflib, so without the demo's comments."""
    graphs = {p.name: rdflib.Graph().parse(p, format="turtle") for p in sorted((REPO / "data" / "demo").glob("*.ttl"))}
    union = rdflib.Graph()
    for graph in graphs.values():
        union += graph
    assets = {URIRef(AIMS + name) for name in ASSET_CLASSES}
    owned_by: dict[URIRef, set] = {}
    for system in sorted(union.subjects(RDF.type, URIRef(AIMS + "AISystem"))):
        assert isinstance(system, URIRef)
        owned, frontier = {system}, [system]
        while frontier:
            for o in union.objects(frontier.pop()):
                own = isinstance(o, URIRef | BNode) and o not in owned and (o, None, None) in union
                if own and not set(union.objects(o, RDF.type)) & assets and set(union.subjects(None, o)) <= owned:
                    owned.add(o)
                    frontier.append(o)
        owned_by[system] = owned
    moved = set().union(*owned_by.values())
    written = []
    namespaces = list(graphs["register.ttl"].namespaces())
    for system, owned in owned_by.items():
        path = into / "systems" / (str(system).rsplit("/", 1)[1] + ".ttl")
        written.append(_write_turtle(path, (t for n in owned for t in union.triples((n, None, None))), namespaces))
    for name, graph in graphs.items():
        written.append(_write_turtle(into / name, (t for t in graph if t[0] not in moved), list(graph.namespaces())))
    return written


def _write_turtle(path: Path, triples, namespaces) -> Path:
    graph = rdflib.Graph(bind_namespaces="none")
    for prefix, iri in namespaces:
        graph.bind(prefix, iri, replace=True)
    for triple in triples:
        graph.add(triple)
    path.parent.mkdir(parents=True, exist_ok=True)
    graph.serialize(path, format="turtle")
    return path


def make_register_repo(folder: Path) -> Path:
    """The worked example: ``main`` holds the split demo under register/; the checked-out
    branch ``payslip-scans`` adds the dataset and its use by retail credit scoring."""
    folder.mkdir(parents=True, exist_ok=True)
    git(folder, "init", "-q", "-b", "main")
    split_demo(folder / "register")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "The register, one file per AI system")
    git(folder, "checkout", "-q", "-b", "payslip-scans")
    (folder / "register" / "datasets").mkdir()
    (folder / "register" / "datasets" / "payslip-scans.ttl").write_text(NEW_DATASET, encoding="utf-8")
    with (folder / "register" / "systems" / "retail-credit-scoring.ttl").open("a", encoding="utf-8") as system:
        system.write(NEW_DEPENDENCY)
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "Retail credit scoring reads payslip scans")
    return folder


@pytest.fixture(scope="module")
def dependency_added(tmp_path_factory) -> dict:
    """The demo against the demo where document extraction also uses the transaction data."""
    folder = tmp_path_factory.mktemp("dependency")
    shutil.copytree(REPO / "data" / "demo", folder / "base")
    shutil.copytree(REPO / "data" / "demo", folder / "head")
    with (folder / "head" / "register.ttl").open("a", encoding="utf-8") as register:
        register.write("\nsys:document-extraction aims:usesDataset ds:customer-transactions .\n")
    result = aimsgraph("diff-record", folder / "base", folder / "head", "--format", "json", "--as-of", DAY)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def register_repo(tmp_path_factory) -> Iterator[Path]:
    folder = make_register_repo(tmp_path_factory.mktemp("example") / "register-repo")
    with chdir(folder):
        yield folder


@pytest.fixture(scope="module")
def example(register_repo: Path) -> dict:
    """The worked example's comparison: main against the branch, both read from git."""
    result = aimsgraph(
        "diff-record", "main:register", "HEAD:register", "--format", "json", "--fail-on", "violation", "--as-of", DAY
    )
    assert result.exit_code == 1, result.output  # the change adds Violations
    return json.loads(result.stdout)


def test_one_dependency_lists_the_affected_systems_and_the_risks_to_reassess(dependency_added):
    answer = dependency_added
    assert answer["triples"] == {
        "added": [[f"<{MB}system/document-extraction>", f"<{AIMS}usesDataset>", f"<{MB}dataset/customer-transactions>"]],
        "removed": [],
    }
    [component] = answer["impact"]
    assert component["node"] == {
        "iri": MB + "system/document-extraction",
        "label": "Document extraction (OCR)",
        "kind": "AISystem",
    }
    systems = {MB + "system/" + s for s in ("document-extraction", "retail-credit-scoring", "sme-credit-scoring")}
    systems |= {MB + "system/" + s for s in ("claims-triage", "collections-prioritisation")}
    assert set(answer["summary"]["affectedSystems"]) == systems
    reassess = set(answer["summary"]["risksToReassess"])
    # the risks of the system and its dependents, and the risk the new edge brings to them
    assert {MB + "risk/" + r for r in ("document-extraction-forgery", "claims-triage-unfair-routing")} <= reassess
    assert MB + "risk/customer-transactions-quality" in reassess
    reached = {(r["asset"], r["risk"]): r for r in answer["risks"]["propagated"]}
    quality = reached[(MB + "system/document-extraction", MB + "risk/customer-transactions-quality")]
    assert quality["before"] is None and quality["after"]["inherent"] == "Medium"
    assert answer["findings"] == {"appeared": [], "resolved": []}
    assert answer["summary"]["findings"]["base"] == {"Violation": 15, "Warning": 11, "Info": 0}


def test_the_comment_says_it_in_markdown(dependency_added):
    comment = diff_record.render_markdown(dependency_added)
    assert comment.startswith(diff_record.MARKER + "\n")
    assert "5 AI systems affected" in comment.splitlines()[3]
    assert comment.count("<details") == comment.count("</details>") >= 5
    row = "| + | <code>sys:document-extraction</code> | <code>aims:usesDataset</code> | <code>ds:customer-transactions</code> |"
    assert row in comment
    assert "| 2 | Collections prioritisation (<code>sys:collections-prioritisation</code>) | AISystem |" in comment


def test_a_dataset_added_to_a_high_risk_system_gets_its_findings_and_impact(example):
    appeared = example["findings"]["appeared"]
    assert {(f["severity"], f["focus"], f["where"]) for f in appeared} == {
        ("Violation", MB + "dataset/payslip-scans", "register/datasets/payslip-scans.ttl:9")
    }  # the repository's path, not the temporary folder's
    assert sorted(c.rsplit("/", 1)[1] for f in appeared for c in f["clauses"]) == ["A.7.3", "A.7.4", "A.7.5"]
    assert [i["node"]["iri"] for i in example["impact"]] == [MB + "dataset/payslip-scans", MB + "system/retail-credit-scoring"]
    assert set(example["summary"]["affectedSystems"]) == {
        MB + "system/retail-credit-scoring",
        MB + "system/collections-prioritisation",
    }
    clauses = {r["label"].split(" ")[0]: r for r in example["readiness"]["clauses"]}
    assert clauses["A.7.4"]["before"] == {"checks": 20, "failed": 1, "readiness": 0.95}
    assert clauses["A.7.4"]["after"]["failed"] == 2
    assert example["summary"]["findings"]["head"]["Violation"] == 18


def test_git_revision_of_one_file(register_repo):
    path = "register/systems/retail-credit-scoring.ttl"
    result = aimsgraph("diff-record", f"main:{path}", path, "--format", "json", "--as-of", DAY)
    assert result.exit_code == 0, result.output
    added = [f"<{MB}system/retail-credit-scoring>", f"<{AIMS}usesDataset>", f"<{MB}dataset/payslip-scans>"]
    assert json.loads(result.stdout)["triples"] == {"added": [added], "removed": []}


@pytest.mark.parametrize(
    ("base", "head", "message"),
    [
        ("no-such-folder", "register", "no-such-folder: no such file or directory"),
        ("no-such-branch:register", "register", "no-such-branch:register: "),
        ("main:no-such-path", "register", "main:no-such-path: "),
        (":register", "register", ":register: no revision before the colon"),
        ("--output=x:register", "register", "--output=x:register: no revision before the colon"),
    ],
)
def test_bad_versions_are_refused(register_repo, base, head, message):
    result = aimsgraph("diff-record", "--", base, head)  # "--": a spec may start with a dash
    assert result.exit_code == 2
    assert result.stderr.startswith(f"aimsgraph: {message}") and result.stderr.count("\n") == 1


def test_a_syntax_error_is_refused_with_its_file(tmp_path, register_repo):
    broken = tmp_path / "broken.ttl"
    broken.write_text("@prefix ex: <https://example.org/> .\nex:a ex:b .\n", encoding="utf-8")
    output = tmp_path / "comment.md"
    result = aimsgraph("diff-record", "main:register/soa.ttl", broken, "--output", output)
    assert result.exit_code == 2 and "broken.ttl" in result.stderr
    assert not output.exists()  # nothing written


def _store(turtle: str) -> GraphStore:
    store = GraphStore(None)
    data = ox.NamedNode(Graphs.DATA)
    store.extend(ox.Quad(t.subject, t.predicate, t.object, data) for t in ox.parse(turtle.encode(), format=ox.RdfFormat.TURTLE))
    return store


def test_blank_nodes_compare_by_what_they_say():
    head = """@prefix ex: <https://example.org/> .
        ex:s ex:p [ ex:q [ ex:r 1 ] ], [ ex:q 2 ] ."""
    base = """@prefix ex: <https://example.org/> .
        _:x ex:q 2 . _:y ex:r 1 . _:z ex:q _:y . ex:s ex:p _:x, _:z ."""
    same = [diff_record.Skolemiser(_store(text)).triples() for text in (head, base)]
    assert same[0] == same[1] and len(same[0]) == 5
    changed = diff_record.Skolemiser(_store(head.replace("ex:r 1", "ex:r 3"))).triples()
    # the inner node changed, and with it its parent's description: both show as replaced
    assert len(changed - same[0]) == len(same[0] - changed) == 3
    items = " ".join(str(i) for i in range(3000))  # a list: a chain of 3,000 blank nodes, deeper than recursion goes
    listed = diff_record.Skolemiser(_store(f"<https://example.org/s> <https://example.org/p> ( {items} ) .")).triples()
    assert len(listed) == 6001


def _fenced(name: str) -> str:
    """The fenced block of the docs page that follows ``<!-- name -->``."""
    found = re.search(rf"<!-- {name} -->\s*```[a-z]*\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    assert found, f"docs/record-as-code.md has no block marked <!-- {name} -->"
    return found.group(1)


def test_the_docs_show_what_the_commands_give(example, register_repo):
    assert _fenced("comment") == diff_record.render_markdown(example)
    annotations = aimsgraph("validate", "register", "--format", "github", "--as-of", DAY, "--fail-on", "none").stdout
    new = [line for line in annotations.splitlines() if "payslip-scans.ttl" in line]
    assert len(new) == 3
    assert _fenced("annotations") == "\n".join(new) + "\n"
    files = sorted(p.relative_to(register_repo).as_posix() for p in (register_repo / "register").rglob("*.ttl"))
    assert _fenced("layout") == "\n".join(files) + "\n"
