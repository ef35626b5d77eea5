"""The demo organisation is rich enough to exercise every feature, consistent with the matrix, and
shows its documented gaps on whatever day it is loaded."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyoxigraph as ox
import pytest

from aimsgraph import clock, resources
from aimsgraph.config import Settings
from aimsgraph.http.app import create_app
from aimsgraph.namespaces import Graphs
from aimsgraph.store import GraphStore, demo
from test_catalogue import CONTROL_IDS, select
from test_validation import DEMO, DOCUMENTED_GAPS


def count(store: GraphStore, where: str) -> int:
    return int(select(store, f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ {where} }}")[0]["n"])


def test_register_size(demo_store: GraphStore):
    assert count(demo_store, "?x a aims:AISystem") >= 8
    assert count(demo_store, "?x a aims:Risk") >= 30
    assert count(demo_store, "?x a aims:ImplementedControl") >= 30
    assert count(demo_store, "?x a aims:InterestedParty") >= 5
    assert count(demo_store, "?x a aims:Supplier") >= 3
    assert count(demo_store, "?x a aims:Dataset") >= 5


def test_named_systems_of_the_brief_are_there(demo_store: GraphStore):
    labels = " ".join(r["l"].lower() for r in select(demo_store, "SELECT ?l WHERE { ?s a aims:AISystem ; rdfs:label ?l }"))
    for word in ("credit scoring", "fraud", "cv screening", "customer service", "document extraction"):
        assert word in labels


def test_dependency_chains_are_at_least_three_systems_deep(demo_store: GraphStore):
    rows = select(
        demo_store,
        """SELECT ?a ?b ?c WHERE {
        ?a a aims:AISystem ; aims:consumesOutputOf ?b . ?b a aims:AISystem ; aims:consumesOutputOf ?c . ?c a aims:AISystem }""",
    )
    assert rows
    deep = select(
        demo_store,
        """SELECT ?a ?z WHERE {
        ?a a aims:AISystem ; aims:dependsOn ?b . ?b aims:dependsOn ?c . ?c aims:dependsOn ?z }""",
    )
    assert deep


def test_a_shared_dataset_feeds_several_systems(demo_store: GraphStore):
    rows = select(
        demo_store,
        """SELECT ?d (COUNT(DISTINCT ?s) AS ?n) WHERE {
        ?d a aims:Dataset . ?s a aims:AISystem ; aims:dependsOn+ ?d } GROUP BY ?d ORDER BY DESC(?n) LIMIT 1""",
    )
    assert int(rows[0]["n"]) >= 4


def test_qualified_dependencies_carry_coupling_and_criticality(demo_store: GraphStore):
    rows = select(
        demo_store,
        """SELECT ?d ?strength ?critical WHERE {
        ?s aims:hasDependency ?d . ?d aims:dependencyTarget ?t ; aims:couplingStrength ?strength ; aims:isCritical ?critical }""",
    )
    assert len(rows) >= 8
    assert all(0 <= float(r["strength"]) <= 1 for r in rows)
    assert {r["critical"] for r in rows} == {"true", "false"}


def test_every_risk_level_follows_the_5x5_matrix(demo_store: GraphStore):
    rows = select(
        demo_store,
        """SELECT ?risk ?level ?expected WHERE {
        ?risk a aims:Risk ; aims:hasLikelihood ?l ; aims:hasSeverity ?s ; aims:hasRiskLevel ?level .
        ?cell aims:cellLikelihood ?l ; aims:cellSeverity ?s ; aims:cellRiskLevel ?expected .
        <https://w3id.org/aimsgraph/risk-matrix/Matrix5x5> aims:hasCell ?cell }""",
    )
    assert len(rows) >= 30
    assert [r for r in rows if r["level"] != r["expected"]] == []


def test_soa_has_one_row_per_annex_a_control_with_justified_exclusions(demo_store: GraphStore):
    rows = select(
        demo_store,
        """SELECT ?id ?applicable ?justification WHERE {
        ?soa a aims:StatementOfApplicability ; aims:hasEntry ?e . ?e aims:forControl ?c ; aims:applicable ?applicable .
        ?c skos:notation ?id OPTIONAL { ?e aims:justification ?justification } }""",
    )
    assert sorted(r["id"] for r in rows) == sorted(CONTROL_IDS)
    excluded = [r for r in rows if r["applicable"] == "false"]
    assert len([r for r in excluded if r.get("justification")]) >= 2
    # One exclusion is a documented gap: no justification.
    assert [r["id"] for r in excluded if not r.get("justification")] == ["A.8.3"]


def test_deliberate_gaps_are_present_as_documented(demo_store: GraphStore):
    # A selection of the gaps listed in data/demo/README.md; validation (shapes) will report them all.
    high_without_control = select(
        demo_store,
        """SELECT ?r WHERE {
        ?r a aims:Risk ; aims:hasRiskLevel ?level . ?level aims:rank ?rank FILTER(?rank >= 3)
        FILTER NOT EXISTS { ?c aims:mitigates|aims:detects ?r } }""",
    )
    assert [r["r"].rsplit("/", 1)[1] for r in high_without_control] == ["next-best-offer-vulnerable-targeting"]
    not_in_scope = select(demo_store, "SELECT ?s WHERE { ?s a aims:AISystem FILTER NOT EXISTS { ?scope aims:inScope ?s } }")
    assert [r["s"].rsplit("/", 1)[1] for r in not_in_scope] == ["code-assistant"]
    no_logging = select(demo_store, "SELECT ?s WHERE { ?s a aims:AISystem FILTER NOT EXISTS { ?s aims:hasEventLogging ?l } }")
    assert "cv-screening" in [r["s"].rsplit("/", 1)[1] for r in no_logging]


# -- the demo does not age -------------------------------------------------------------------


def _first_start_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, day: date) -> tuple[dict, set]:
    """Start the service on an empty store "on" ``day`` (the pinned evaluation date) and read
    its findings through the API, as a user would on that day."""
    monkeypatch.setenv(clock.TODAY_VARIABLE, day.isoformat())
    app = create_app(Settings(data_dir=tmp_path / day.isoformat()))
    body = app.test_client().get("/api/findings").get_json()
    return body, {(f["focus"].removeprefix(DEMO), f["shape"].rsplit("#", 1)[1]) for f in body["findings"]}


@pytest.mark.parametrize(
    "offset", [timedelta(0), timedelta(days=365), timedelta(days=5 * 365)], ids=["today", "one year on", "five years on"]
)
def test_the_demo_shows_its_documented_gaps_on_any_day_it_is_loaded(tmp_path, monkeypatch, offset):
    day = datetime.now(UTC).date() + offset  # the wall clock on purpose: the days a user loads it
    body, found = _first_start_findings(tmp_path, monkeypatch, day)
    assert body["asOf"] == day.isoformat()
    assert found == DOCUMENTED_GAPS


@pytest.mark.parametrize("day", ["2028-02-29", "2027-01-31", "2030-12-31", "2026-03-01"])
def test_the_demo_has_no_gap_on_the_edge_of_a_month(tmp_path, monkeypatch, day):
    """Month-based intervals (P3M monitoring, P12M reviews) meet day-based shifts at month ends."""
    assert _first_start_findings(tmp_path, monkeypatch, date.fromisoformat(day))[1] == DOCUMENTED_GAPS


def test_dates_move_with_the_load_date_and_durations_do_not():
    graph = ox.NamedNode(Graphs.DATA)
    later = demo.REFERENCE_DATE + timedelta(days=400)
    original, moved = demo.quads(graph, demo.REFERENCE_DATE), demo.quads(graph, later)
    assert len(original) == len(moved)
    pairs = [(a.object, b.object) for a, b in zip(original, moved, strict=True) if a.object != b.object]
    assert pairs and all(isinstance(a, ox.Literal) and a.datatype.value.endswith(("#date", "#dateTime")) for a, _ in pairs)
    for before, after in pairs:
        if before.datatype.value.endswith("#date"):
            assert date.fromisoformat(after.value) - date.fromisoformat(before.value) == timedelta(days=400)
        else:
            assert after.value.endswith("Z") == before.value.endswith("Z")
            assert datetime.fromisoformat(after.value) - datetime.fromisoformat(before.value) == timedelta(days=400)


def test_the_readme_states_the_reference_date_the_code_uses():
    readme = resources.path("data", "demo", "README.md").read_text(encoding="utf-8")
    assert f"the reference date of the data is **{demo.REFERENCE_DATE.isoformat()}**" in readme
