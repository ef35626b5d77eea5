"""``aimsgraph validate FILE|DIR...``: a record kept as files validated without a store, each
finding placed at the file and line where its focus node is first described; SARIF 2.1.0
(checked against the vendored OASIS schema) and GitHub workflow commands.

The demo's files give the demo's documented findings, equal to those of the same files loaded
into a store; positions are checked on the demo and on small files written awkwardly on purpose.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pyoxigraph as ox
import pytest

from aimsgraph.records.files import open_files
from aimsgraph.records.positions import csv_cells, json_ld_places, turtle_places
from aimsgraph.reporting.sarif import escape_data, escape_property
from conftest import AS_OF, REPO, aimsgraph
from test_validation import DOCUMENTED_GAPS

DEMO = "https://data.meridian.example/aims/"
EX = "https://data.example.org/aims/"
SCHEMA = REPO / "tests" / "data" / "sarif" / "sarif-schema-2.1.0.json"

#: Turtle written awkwardly: a commented-out statement, a long literal holding a statement, a
#: mention before the description, SPARQL-style PREFIX, an indented subject, `;` and `,`
#: continuations and a blank node property list. The dataset is described on line 14, column 5.
REGISTER = """\
# A record written awkwardly on purpose: findings must still point at the right lines.
@prefix aims: <https://w3id.org/aimsgraph/ontology#> .
PREFIX ex: <https://data.example.org/aims/>
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .

# ex:training-data a aims:Dataset .   (a comment, not a statement)
ex:notes rdfs:comment \"\"\"A literal over several lines
ex:training-data a aims:Dataset .
that looks like a statement\"\"\" ;
    rdfs:label "notes ; . , [ ] ex:training-data" .

ex:catalogue rdfs:label "mentions the dataset first" ; rdfs:seeAlso ex:training-data, ex:other .

    ex:training-data
        rdfs:label "Training data",
                   "Données d'entraînement"@fr ;
        a aims:Dataset ;
        rdfs:seeAlso [ rdfs:label "a blank node" ; rdfs:seeAlso ex:other ] .
"""
#: A systems sheet whose second row spans two lines: row 3 starts on line 4.
SYSTEMS = 'name,description,system\n"Chatbot","a description\nover two lines",chat-1\nScorer,plain,score-1\n'


@pytest.fixture(scope="module")
def demo_report() -> dict:
    """``aimsgraph validate data/demo/ --format json`` run from the repository root."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO)
        result = aimsgraph("validate", "data/demo/", "--as-of", AS_OF.isoformat(), "--format", "json")
    assert result.exit_code == 1, result.output  # the demo has Violations
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def record_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("record")
    (folder / "register.ttl").write_text(REGISTER, encoding="utf-8")
    (folder / "systems.csv").write_text(SYSTEMS, encoding="utf-8")
    (folder / "notes.md").write_text("not a record file: skipped in a directory\n")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "broken.ttl").write_text("this is not Turtle")
    return folder


@pytest.fixture(scope="module")
def record(record_dir: Path):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(record_dir)
        return open_files([Path(".")], AS_OF)


def key(finding: dict) -> tuple[str, str]:
    return finding["focus"].removeprefix(DEMO), finding["shape"].rsplit("#", 1)[1]


# -- the demo --------------------------------------------------------------------------------


def test_the_demo_files_give_the_documented_findings_with_file_and_line(demo_report: dict):
    findings = demo_report["findings"]
    assert demo_report["counts"] == {"Violation": 15, "Warning": 11, "Info": 0}
    assert {key(f) for f in findings} == DOCUMENTED_GAPS
    for f in findings:
        location = f["location"]
        assert location["file"].startswith("data/demo/") and location["file"].endswith(".ttl")
        # the line starts with the focus node written as a prefixed name: its description
        line = (REPO / location["file"]).read_text(encoding="utf-8").splitlines()[location["line"] - 1]
        local = f["focus"].removeprefix(DEMO).split("/")[-1]
        assert re.match(rf"[a-z]+:{re.escape(local)}\b", line[location["column"] - 1 :]), (f["focus"], line)
    code_assistant = next(f for f in findings if key(f) == ("system/code-assistant", "AISystemShape-scope"))
    assert code_assistant["location"] == {"file": "data/demo/register.ttl", "line": 416, "column": 1}


def test_the_findings_equal_those_of_the_files_loaded_into_a_store(demo_report: dict, tmp_path: Path, fresh_data_dir):
    data_dir = fresh_data_dir(tmp_path / "db", demo=False)
    files = sorted((REPO / "data" / "demo").glob("*.ttl"))
    assert aimsgraph("load", *files, "--data-dir", data_dir).exit_code == 0
    stored = aimsgraph("validate", "--data-dir", data_dir, "--as-of", AS_OF.isoformat(), "--format", "json")
    assert stored.exit_code == 1
    from_store = json.loads(stored.stdout)
    assert "location" not in from_store["findings"][0]  # a store has no files
    assert [{k: v for k, v in f.items() if k != "location"} for f in demo_report["findings"]] == from_store["findings"]
    assert demo_report["readiness"] == from_store["readiness"]


# -- positions ----------------------------------------------------------------------------------


def test_a_finding_points_at_the_line_that_describes_its_focus(record):
    dataset = [f for f in record.findings if f.focus == EX + "training-data"]
    assert dataset, "the dataset without a quality assessment has findings"
    assert {str(record.positions[f.focus]) for f in dataset} == {"register.ttl:14:5"}


def test_a_blank_node_is_placed_at_the_statement_of_the_node_that_refers_to_it(record):
    blank = next(q.subject for q in record.quads if isinstance(q.subject, ox.BlankNode))
    assert str(record.position(f"_:{blank.value}")) == "register.ttl:14:5"
    column = REGISTER.splitlines()[11].index("ex:other") + 1
    assert str(record.position(EX + "other")) == f"register.ttl:12:{column}"  # never described: first mention
    assert record.position(EX + "nowhere") is None


def test_sheet_records_are_placed_at_the_cell_that_names_them(record):
    chat, score = (record.positions[EX + f"system/{name}"] for name in ("chat-1", "score-1"))
    assert (chat.file, chat.line, chat.column, chat.cell) == ("systems.csv", 3, 17, "C2")
    assert (score.line, score.column, score.cell) == (4, 14, "C3")  # row 3 starts on line 4
    assert str(score) == "systems.csv:4:14 (C3)"


def test_tricky_turtle_layouts():
    text = """@base <http://example.org/base/> .
@prefix : <http://example.org/> .
<relative> :p "x" .
:a\\.b :p <<( :s :p :o )>> .
:c :p ( :d :e ), 1.5, .5, -3 ; :q 'it\\'s' .
_:blank :p :f .
[ :p :g ] :q :h .
:i :p '''one
:j :p :k .
two''' .
"""
    ox.parse(text.encode(), format=ox.RdfFormat.TURTLE)  # it is valid Turtle
    places = turtle_places(text, "file:///x.ttl")
    assert places.described == {
        "http://example.org/base/relative": (3, 1),
        "http://example.org/a.b": (4, 1),
        "http://example.org/c": (5, 1),
        "http://example.org/i": (8, 1),
    }
    assert places.mentioned["http://example.org/s"] == (4, 14)
    assert places.mentioned["http://example.org/g"] == (7, 6)
    assert "http://example.org/j" not in places.mentioned  # inside a literal


def test_trig_and_n_triples():
    trig = "@prefix : <http://e/> .\n:g { :a :p :b . :c :p :d }\nGRAPH :h {\n  :e :p :f }\n"
    ox.parse(trig.encode(), format=ox.RdfFormat.TRIG)
    assert turtle_places(trig, "file:///x.trig").described == {
        "http://e/a": (2, 6),
        "http://e/c": (2, 17),
        "http://e/e": (4, 3),
    }
    nt = '<http://e/a> <http://e/p> "x" .\n\n<http://e/b> <http://e/p> <http://e/a> <http://e/g> .\n'
    assert turtle_places(nt, "file:///x.nq").described == {"http://e/a": (1, 1), "http://e/b": (3, 1)}


def test_json_ld_ids_written_in_full():
    text = '{"@graph": [\n {"p": {"@id": "http://e/a"}},\n {"@id": "http://e/a",\n  "p": 1},\n {"q": 2, "@id": "rel"}\n]}'
    places = json_ld_places(text, "http://base/x")
    assert places.mentioned["http://e/a"] == (2, 9)  # a bare reference
    assert places.described == {"http://e/a": (3, 3), "http://base/rel": (5, 11)}


def test_csv_cells_follow_quotes_and_line_breaks():
    rows = csv_cells('a;"b;\r\nc";""""\r\n;x', ";")
    assert [[c.text for c in row] for row in rows] == [["a", "b;\r\nc", '"'], ["", "x"]]
    assert [(c.line, c.column, c.reference) for c in rows[1]] == [(3, 1, "A2"), (3, 2, "B2")]
    assert [(c.line, c.column) for c in rows[0]] == [(1, 1), (1, 3), (2, 4)]


# -- formats and exit codes -----------------------------------------------------------------------


def test_sarif_is_valid_and_points_at_the_lines(record_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(record_dir)
    result = aimsgraph("validate", ".", "--as-of", AS_OF.isoformat(), "--format", "sarif", "--output", "out.sarif")
    assert result.exit_code == 1  # Violations
    log = json.loads((record_dir / "out.sarif").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text(encoding="utf-8"))).validate(log)
    (run,) = log["runs"]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert rules["DatasetShape-qualityAssessment"]["properties"]["tags"] == ["ISO/IEC 42001 A.7.4"]
    assert "quality" in rules["DatasetShape-qualityAssessment"]["help"]["text"]
    result = next(r for r in run["results"] if r["ruleId"] == "DatasetShape-qualityAssessment")
    assert result["level"] == "error"
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "register.ttl"},
        "region": {"startLine": 14, "startColumn": 5},
    }
    levels = {r["level"] for r in run["results"]}
    assert levels == {"error", "warning"}
    fingerprints = [r["partialFingerprints"]["aimsgraphFinding/v1"] for r in run["results"]]
    assert len(set(fingerprints)) == len(fingerprints)
    # stable: a finding keeps its fingerprint when the lines above it move
    (record_dir / "register.ttl").write_text("\n\n" + REGISTER, encoding="utf-8")
    try:
        aimsgraph("validate", ".", "--as-of", AS_OF.isoformat(), "--format", "sarif", "--output", "moved.sarif")
    finally:
        (record_dir / "register.ttl").write_text(REGISTER, encoding="utf-8")
    moved = json.loads((record_dir / "moved.sarif").read_text(encoding="utf-8"))["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in moved] == [r["partialFingerprints"] for r in run["results"]]
    assert next(r for r in moved if r["ruleId"] == "DatasetShape-qualityAssessment")["locations"][0]["physicalLocation"][
        "region"
    ] == {"startLine": 16, "startColumn": 5}


def test_github_workflow_commands(record_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(record_dir)
    result = aimsgraph("validate", "systems.csv", "register.ttl", "--as-of", AS_OF.isoformat(), "--format", "github")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[-1] == "aimsgraph: 17 violations, 5 warnings, 0 infos"
    assert (
        "::error file=register.ttl,line=14,col=5,title=DatasetShape-qualityAssessment (ISO/IEC 42001 A.7.4)::"
        "This dataset has no data quality assessment."
    ) in "\n".join(lines)
    assert any(line.startswith("::warning file=systems.csv,line=4,col=14,title=") for line in lines)
    assert all(re.match(r"::(error|warning|notice) file=[^:]+::", line) for line in lines[:-1])
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A" and escape_data("a:b,c%\r") == "a:b,c%25%0D"


def test_the_table_shows_file_and_line(record_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(record_dir)
    result = aimsgraph("validate", "register.ttl", "--as-of", AS_OF.isoformat(), "--fail-on", "none")
    assert result.exit_code == 0  # --fail-on none
    row = next(line for line in result.stdout.splitlines() if "no data quality assessment" in line)
    assert row.split()[:3] == ["Violation", "A.7.4", "register.ttl:14:5"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("@prefix ex: <http://e/> .\nex:a ex:b ex:c .\nex:d ex:e ex:f ;; ]\n", "bad.ttl: Parser error at line 3 column 19"),
        ("system;risk\nx;y\n", "bad.csv: row 1 is not the header of a risk register or systems sheet"),
        ("system,name\n,no id\n", "bad.csv: the systems sheet has 1 error: row 2, column 'system': empty; every row"),
    ],
)
def test_a_bad_file_exits_2_naming_file_and_line(tmp_path: Path, content: str, problem: str):
    bad = tmp_path / ("bad.csv" if "system" in content else "bad.ttl")
    bad.write_text(content, encoding="utf-8")
    result = aimsgraph("validate", bad)
    assert result.exit_code == 2
    assert problem in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_usage_errors(tmp_path: Path):
    ttl = tmp_path / "a.ttl"
    ttl.write_text("")
    both = aimsgraph("validate", ttl, "--data-dir", tmp_path / "db")
    assert both.exit_code == 2 and "not both" in both.stderr
    assert "files are validated whole" in aimsgraph("validate", ttl, "--changed", "http://e/a").stderr
    assert aimsgraph("validate", tmp_path / "missing.ttl").exit_code == 2
    other = tmp_path / "a.txt"
    other.write_text("x")
    assert "not a record file" in aimsgraph("validate", other).stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no record files" in aimsgraph("validate", empty).stderr
