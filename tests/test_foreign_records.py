"""Foreign records are first-class (issue 16.3): a record written the way other people write
them (``#`` fragment IRIs, no labels, assets without dependencies, an organisation's own
subclass of AI system) must not break a page. Every page and API answers for every asset of
such a record, labels fall back to local names, an asset without edges has an empty impact,
readiness counts unlabelled systems and says "no checks" where nothing is checked, and an IRI
the record does not hold is a 404 with a message."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest

from aimsgraph import clock
from aimsgraph.config import Settings
from aimsgraph.reporting import auditor_report, overview, reports
from aimsgraph.semantics.reasoning import refresh_inferences
from aimsgraph.store import GraphStore
from aimsgraph.store.record import Record
from conftest import FreshDataDir, serving

ACME = "https://records.example.net/acme#"
#: As a partner's tool exports it: no labels, edgeless assets of every kind, an own subclass.
RECORD = f"""
@prefix aims: <https://w3id.org/aimsgraph/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix : <{ACME}> .
:Chatbot rdfs:subClassOf aims:AISystem .
:chatbot a aims:AISystem .
:helpdesk a :Chatbot .
:triage a aims:AISystem ; aims:usesDataset :loans ; aims:hasRisk :r1 .
:r1 a aims:Risk .
:gbm a aims:Model .
:loans a aims:Dataset .
:cloud a aims:InfrastructureService .
:vendor a aims:Supplier .
"""
KINDS = {
    "chatbot": "AISystem",
    "helpdesk": "AISystem",
    "triage": "AISystem",
    "gbm": "Model",
    "loans": "Dataset",
    "cloud": "InfrastructureService",
    "vendor": "Supplier",
}
SYSTEMS = [name for name, kind in KINDS.items() if kind == "AISystem"]
EDGELESS = ["chatbot", "helpdesk", "gbm", "cloud", "vendor"]
NOT_HELD = ACME + "nobody-wrote-this"
PAGES = ["/", "/systems", "/heatmap", "/heatmap?view=residual", "/findings", "/soa", "/soa.csv", "/due", "/query"]


@pytest.fixture(scope="module")
def app(tmp_path_factory, fresh_data_dir: FreshDataDir):
    """The service over an on-disk store with the record loaded, demo off."""
    folder = tmp_path_factory.mktemp("foreign")
    with serving(Settings(data_dir=fresh_data_dir(folder / "db", demo=False), demo=False)) as service:
        store = service.extensions["aimsgraph"].store
        (folder / "acme.ttl").write_text(RECORD)
        store.load_files([folder / "acme.ttl"])
        refresh_inferences(store)
        yield service


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def store(app):
    return app.extensions["aimsgraph"].store


def page(client, path: str) -> str:
    """The page's HTML, which must have been served with 200."""
    answer = client.get(path, headers={"Accept": "text/html"})
    assert answer.status_code == 200, (path, answer.get_data(as_text=True)[-500:])
    return answer.get_data(as_text=True)


def arg(name: str) -> str:
    return quote(ACME + name, safe="")


def impact_over_api(client, name: str) -> dict:
    """The impact of modifying ``name``, asked by POST and by GET, which must agree."""
    posted = client.post("/api/impact", json={"node": ACME + name, "change": "modify"})
    fetched = client.get(f"/api/impact?node={arg(name)}&change=modify")
    assert posted.status_code == fetched.status_code == 200, posted.get_data(as_text=True)
    assert posted.get_json() == fetched.get_json()
    return posted.get_json()


# -- every page and API for every asset -------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_every_page_answers(client, path: str):
    page(client, path)


@pytest.mark.parametrize("name", KINDS)
def test_every_asset_has_a_page_and_an_impact_named_by_its_local_name(client, name: str):
    asset = page(client, f"/asset?iri={arg(name)}")
    assert f"<h1>{name}</h1>" in asset
    assert f'<h2 id="result-h">Modify {name}</h2>' in page(client, f"/impact?node={arg(name)}&change=modify")
    answer = impact_over_api(client, name)
    assert answer["node"] == {"iri": ACME + name, "label": name, "kind": KINDS[name]}


@pytest.mark.parametrize("name", SYSTEMS)
def test_every_system_has_its_findings_page(client, name: str):
    """The findings of a system's record, unlabelled as it is (the record query needed a label)."""
    assert re.search(r'<span class="sev sev-\w+">', page(client, f"/findings?system={arg(name)}"))


def test_the_systems_page_and_the_impact_picker_list_every_asset_by_local_name(client):
    impact = page(client, "/impact")
    for name, kind in KINDS.items():
        systems = page(client, "/systems" if kind == "AISystem" else f"/systems?kind={kind}")
        assert re.search(rf'href="/asset\?iri=[^"]+%23{name}">{name}</a>', systems), name
        assert f'<option value="{ACME + name}">{name}</option>' in impact


@pytest.mark.parametrize("name", EDGELESS)
def test_an_asset_without_edges_has_an_empty_impact(client, name: str):
    answer = impact_over_api(client, name)
    assert answer["affected"] == [] and not any(answer["summary"].values())
    assert "Nothing depends on it." in page(client, f"/impact?node={arg(name)}&change=retire")
    assert "None recorded." in page(client, f"/asset?iri={arg(name)}")


def test_the_dataset_still_reaches_the_system_that_uses_it(client):
    """The other side of the empty impact: edges the record has are followed."""
    assert [a["iri"] for a in impact_over_api(client, "loans")["affected"]] == [ACME + "triage"]


# -- IRIs the record does not hold ------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/asset?iri={quote(NOT_HELD, safe='')}",
        f"/impact?node={quote(NOT_HELD, safe='')}",
        f"/findings?system={quote(NOT_HELD, safe='')}",
        f"/api/impact?node={quote(NOT_HELD, safe='')}",
    ],
)
def test_an_iri_the_record_does_not_hold_is_404_with_a_message(client, path: str):
    answer = client.get(path, headers={"Accept": "text/html"})
    assert answer.status_code == 404
    assert NOT_HELD in answer.get_data(as_text=True)


def test_impact_of_an_iri_the_record_does_not_hold_is_404_over_post(client):
    answer = client.post("/api/impact", json={"node": NOT_HELD, "change": "retire"})
    assert answer.status_code == 404 and "unknown node" in answer.get_json()["detail"]


def test_impact_without_a_node_is_400_by_get_as_by_post(client):
    assert client.get("/api/impact").status_code == client.post("/api/impact", json={}).status_code == 400


# -- readiness --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(client, store) -> reports.Report:
    page(client, "/")  # validates the record once
    return reports.build(store, overview.findings(store), clock.today())


def test_an_unlabelled_system_has_readiness_under_its_local_name(report):
    assert {r.key: r.label for r in report.systems} == {ACME + name: name for name in SYSTEMS}
    assert all(r.total for r in report.systems)


def test_a_clause_without_checks_reads_no_checks_not_100_percent():
    nothing = reports.Readiness("https://w3id.org/aimsgraph/iso42001/7.2", "7.2 Competence")
    assert (nothing.ratio, nothing.percent(), reports._readiness(nothing)["readiness"]) == (None, "no checks", None)
    assert reports.Readiness("k", "l", total=8, failed=1).percent() == "88 %"


def unchecked(report: reports.Report) -> list[reports.Readiness]:
    """The clauses nothing in this small record is checked against (7.2 Competence among them)."""
    clauses = [r for r in report.clauses if r.total == 0]
    assert clauses, "the record was meant to leave some clause without checks"
    return clauses


def test_json_and_table_say_no_checks(report):
    as_json = {c["id"]: c for c in json.loads(reports.render(report, "json"))["readiness"]["clauses"]}
    table = reports.render(report, "table")
    for clause in unchecked(report):
        assert as_json[clause.key]["readiness"] is None
        assert re.search(rf"no checks\s+{re.escape(clause.label)} \(0/0\)", table)
    assert "100.0 %" not in "".join(line for line in table.splitlines() if "(0/0)" in line)


def test_the_validation_api_says_null_for_no_checks_and_names_unlabelled_systems(client):
    answer = client.post("/api/validate", headers={"Accept": "application/json"})
    readiness = answer.get_json()["readiness"]
    assert all(c["readiness"] is None for c in readiness["clauses"] if c["checks"] == 0)
    assert {s["label"] for s in readiness["systems"]} == set(SYSTEMS)


def assert_no_checks_shown(html: str, report: reports.Report) -> None:
    """Every unchecked clause's row and bar say "no checks"; no bar claims 100 % of nothing."""
    for clause in unchecked(report):
        assert re.search(rf"{re.escape(clause.label)}(</a>)?</td>\s*<td>no checks</td>", html), clause.label
    assert "no checks (0/0)</text>" in html and "100% (0/0)" not in html and "100 % (0/0)" not in html


def test_the_dashboard_says_no_checks(client, report):
    assert_no_checks_shown(page(client, "/"), report)


def test_the_auditor_report_says_no_checks(store, report):
    assert_no_checks_shown(auditor_report.render_html(store, overview.findings(store), clock.today()), report)


# -- labels -----------------------------------------------------------------------------------


def test_labels_fall_back_to_the_local_name():
    label = Record(GraphStore()).label
    assert (label(ACME + "gbm"), label("https://records.example.net/acme/assets/gbm")) == ("gbm", "gbm")


def test_an_iri_without_a_local_name_is_labelled_by_the_whole_iri():
    label = Record(GraphStore()).label
    assert (label(ACME), label("https://records.example.net/acme/")) == (ACME, "https://records.example.net/acme/")
