"""Pages over a record larger than a page: a generated organisation of 150 AI systems (the demo
has 12), through Flask's test client on an on-disk store.

What the pages show at scale must be what the whole record says: every system and finding on
exactly one page, the top lists equal to the head of the full ranking, readiness equal to a
report computed from scratch, and the copies saved beside the store used only while they match
the store.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aimsgraph import clock
from aimsgraph.config import Settings
from aimsgraph.http.app import create_app
from aimsgraph.reporting import overview, reports
from aimsgraph.risk import impact
from aimsgraph.risk.analysis import RiskModel, saved_model
from aimsgraph.semantics import validation
from aimsgraph.store import GraphStore
from benchmarks.generate import generate
from conftest import AS_OF, FreshDataDir

SYSTEMS = 150
HTML = {"Accept": "text/html"}
EDITOR = {"Authorization": "Bearer scale-editor-token"}
NEXT = re.compile(r'<a rel="next" href="([^"]+)"')


def _app(data_dir: Path):
    return create_app(Settings.from_env({"AIMSGRAPH_TOKENS": "editor:scale:scale-editor-token"}, data_dir=data_dir, demo=False))


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A store directory holding the generated organisation, its inferences and analysis."""
    data_dir = tmp_path_factory.mktemp("scale") / "store"
    data = data_dir.parent / "org.nt"
    data.write_text(generate(SYSTEMS, seed=11))
    store = GraphStore(data_dir)
    store.initialise(demo=False)
    store.load_files([data])
    del store  # closes the store: the app opens it
    return data_dir


@pytest.fixture(scope="module")
def app(generated: Path):
    app = _app(generated)
    app.extensions["aimsgraph"].refresher.settle(120)
    return app


def _pages(client, url: str) -> list[str]:
    """The HTML of every page of a list, following the next links."""
    pages = []
    while url:
        response = client.get(url, headers=HTML)
        assert response.status_code == 200, response.text[:500]
        pages.append(response.text)
        found = NEXT.search(response.text)
        url = found.group(1).replace("&amp;", "&") if found else None
        assert len(pages) < 100
    return pages


def test_every_system_is_on_exactly_one_page(app):
    client = app.test_client()
    pages = _pages(client, "/systems")
    assert len(pages) == 2  # 100 a page
    assert "1–100 of 150" in pages[0] and "101–150 of 150" in pages[1]
    listed = [iri for page in pages for iri in re.findall(r'href="/asset\?iri=([^"]+)"', page.split('id="systems"')[1])]
    assert len(listed) == SYSTEMS == len(set(listed))
    state = app.extensions["aimsgraph"]
    snapshot = state.models.get()
    expected = [r.iri for r in overview.system_rows(snapshot.record, snapshot.model)]
    assert [iri.replace("%3A", ":").replace("%2F", "/") for iri in listed] == expected


def test_every_finding_is_on_exactly_one_page_in_order(app):
    client = app.test_client()
    store = app.extensions["aimsgraph"].store
    assert client.get("/findings", headers=HTML).status_code == 200  # the first view validates and stores
    stored = validation._read_findings(store, None)
    for url, keep in (("/findings", lambda f: True), ("/findings?severity=Warning", lambda f: f.severity == "Warning")):
        pages = _pages(client, url)
        rows = [len(re.findall(r'<tr><td><span class="sev', page)) for page in pages]
        expected = [f for f in stored if keep(f)]
        assert sum(rows) == len(expected) > 100
        assert all(n == 100 for n in rows[:-1])
        assert f"{len(expected)} findings" in pages[0]


def test_a_stale_page_key_is_a_400_not_a_wrong_page(app):
    response = app.test_client().get("/findings?after=https://w3id.org/aimsgraph/finding/nothing", headers=HTML)
    assert response.status_code == 400
    assert "after must name" in response.text


def test_the_dashboard_ranks_and_counts_as_the_whole_record_does(app):
    state = app.extensions["aimsgraph"]
    snapshot = state.models.get()
    assert overview.top_systems(snapshot.record, snapshot.model, 5) == overview.system_rows(snapshot.record, snapshot.model)[:5]
    assert overview.top_risks(snapshot.record, snapshot.model, 10) == overview.risk_rows(snapshot.record, snapshot.model)[:10]
    findings = validation._read_findings(state.store, None)
    from_scratch = reports.build(state.store, findings, AS_OF).clauses
    summary = overview.findings_summary(state.store)
    assert overview.readiness(state.store, summary) == from_scratch
    assert summary.severities == dict(overview.severity_counts(findings))
    page = app.test_client().get("/", headers=HTML).text
    for row in overview.system_rows(snapshot.record, snapshot.model)[:5]:
        assert row.label in page


def test_the_heat_map_counts_every_risk_and_lists_a_cell_a_page_at_a_time(app):
    snapshot = app.extensions["aimsgraph"].models.get()
    full = overview.heat_map(snapshot.record, snapshot.model)
    counted = overview.heat_map(snapshot.record, snapshot.model, listed=None)
    assert {k: c.count for k, c in counted.cells.items()} == {k: len(c.risks) for k, c in full.cells.items()}
    busiest = max(full.cells.values(), key=lambda c: c.count)
    assert busiest.count > 100
    pages = _pages(app.test_client(), f"/heatmap?likelihood={busiest.likelihood}&severity={busiest.severity}")
    assert len(pages) == -(-busiest.count // 100)
    assert f"{busiest.count} risks in this cell" in pages[0]
    listed = [len(re.findall(r"<tr", page.split('id="cell-risks"')[1].split("</section>")[0])) - 1 for page in pages]
    assert sum(listed) == busiest.count


def test_the_findings_index_follows_writes_without_reading_them_back(app):
    """After a write, the refresher updates the index from the revalidation; it must equal the
    findings read back from the store, and the readiness a full report computes."""
    state = app.extensions["aimsgraph"]
    client = app.test_client()
    before = validation.findings_index(state.store)
    system = "https://bench.example/org/system/42"
    update = f"PREFIX aims: <https://w3id.org/aimsgraph/ontology#> DELETE WHERE {{ <{system}> aims:hasOwner ?o }}"
    response = client.post("/update", data={"update": update}, headers=EDITOR)
    assert response.status_code in (200, 204), response.text
    assert state.refresher.settle(120)
    after = validation.findings_index(state.store)
    assert after.version != before.version
    assert after.findings == validation._read_findings(state.store, None) != before.findings
    assert after.targets == validation.targets_per_shape(state.store, AS_OF)


def test_a_restart_starts_from_the_saved_copies_and_ignores_overtaken_ones(app, generated: Path):
    state = app.extensions["aimsgraph"]
    state.refresher.settle(120)
    saved = saved_model(state.store)
    assert saved is not None
    assert saved.exposures == RiskModel.build(state.store).exposures
    summary = validation.saved_summary(state.store)
    assert summary is not None and summary.version == validation.stored_version(state.store)

    with state.store.write_lock():  # any write makes the analysis stale: its saved model no longer counts
        state.store.invalidate("https://w3id.org/aimsgraph/graph/analysis")
    assert saved_model(state.store) is None
    state.refresher.catch_up(recompute=False)
    assert saved_model(state.store) is not None


def test_saved_copies_of_another_format_or_torn_are_ignored(tmp_path: Path):
    store = GraphStore(tmp_path / "store")
    path = store.cache_file("x.pickle")
    store.save_cache(path, {"a": 1})
    assert store.load_cache(path) == {"a": 1}
    path.write_bytes(path.read_bytes()[:10])
    assert store.load_cache(path) is None
    assert GraphStore(None).cache_file("x.pickle") is None


def test_a_systems_record_is_what_the_named_query_says(demo_store: GraphStore):
    """overview.system_record reads by index lookups what queries/system-record-nodes.rq selects."""
    from aimsgraph.records import queries
    from aimsgraph.store.record import node_text

    rows = demo_store.query(queries.load_all()["system-record-nodes"].text)
    by_system: dict[str, set[str]] = {}
    for row in rows:
        by_system.setdefault(node_text(row["system"]), set()).add(node_text(row["node"]))
    assert len(by_system) == 12
    for system, nodes in by_system.items():
        assert overview.system_record(demo_store, system) == nodes, system


def test_the_findings_api_pages_through_every_finding_once(app):
    client = app.test_client()
    assert client.get("/findings", headers=HTML).status_code == 200  # today's findings stored
    stored = validation._read_findings(app.extensions["aimsgraph"].store, None)
    seen, url, pages = [], "/api/findings?severity=warning&limit=700", 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        body = response.get_json()
        assert body["count"] == sum(f.severity == "Warning" for f in stored) and body["start"] == len(seen)
        seen += [(f["focus"], f["shape"], f["message"]) for f in body["findings"]]
        link = response.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
        pages += 1
    assert pages > 1 and len(seen) == len(set(seen)) == body["count"]
    assert client.get("/api/findings?limit=0").status_code == 400


def test_the_saved_dashboard_follows_the_record(app):
    """The dashboard is kept and saved under the analysis stamp and the findings version: a
    write must show on it once refreshed, and the saved copy must be of the new state."""
    state = app.extensions["aimsgraph"]
    client = app.test_client()
    state.refresher.settle(120)
    before = overview.dashboard(state.store, state.models, AS_OF)
    assert client.get("/", headers=HTML).status_code == 200
    saved = state.store.load_cache(state.store.cache_file(overview.DASHBOARD_FILE))
    assert saved is not None and saved[1] == before
    new = "https://bench.example/org/system/new-one"
    update = (
        f"PREFIX aims: <https://w3id.org/aimsgraph/ontology#> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
        f'INSERT DATA {{ <{new}> a aims:AISystem ; rdfs:label "A new one" }}'
    )
    assert client.post("/update", data={"update": update}, headers=EDITOR).status_code in (200, 204)
    assert state.refresher.settle(120)
    after = overview.dashboard(state.store, state.models, AS_OF)
    counted = lambda board: dict(board.counts)  # noqa: E731
    assert sum(counted(after).values()) == sum(counted(before).values()) + 1
    assert after.severities != before.severities  # the new system lacks most of its record
    assert client.get("/", headers=HTML).status_code == 200
    assert state.store.load_cache(state.store.cache_file(overview.DASHBOARD_FILE))[1] == after


def test_on_a_new_day_pages_show_yesterdays_findings_while_todays_are_computed(
    tmp_path: Path, monkeypatch, fresh_data_dir: FreshDataDir
):
    import time
    from datetime import timedelta

    from aimsgraph import clock

    app = create_app(Settings.from_env({}, data_dir=fresh_data_dir(tmp_path / "store"), demo=True))
    client = app.test_client()
    store = app.extensions["aimsgraph"].store
    assert f"as of {AS_OF.isoformat()}." in client.get("/", headers=HTML).text  # the first view validates
    tomorrow = AS_OF + timedelta(days=1)
    monkeypatch.setenv(clock.TODAY_VARIABLE, tomorrow.isoformat())
    page = client.get("/", headers=HTML).text  # answers at once: validating the demo takes a second
    assert f"as of {AS_OF.isoformat()}:\n  those of {tomorrow.isoformat()} are being computed" in page
    deadline = time.monotonic() + 120
    while validation.stored_as_of(store) != tomorrow and time.monotonic() < deadline:
        time.sleep(0.2)
    assert validation.stored_as_of(store) == tomorrow
    page = client.get("/", headers=HTML).text
    assert f"as of {tomorrow.isoformat()}." in page and "being computed" not in page
    assert client.get("/api/findings").get_json()["asOf"] == tomorrow.isoformat()


def test_kept_impact_answers_end_with_the_store_generation(app):
    state = app.extensions["aimsgraph"]
    client = app.test_client()
    node = "https://bench.example/org/system/149"  # the last system: few or none depend on it
    first = client.get("/api/impact", query_string={"node": node}).get_json()
    assert client.get("/api/impact", query_string={"node": node}).get_json() == first  # the kept answer
    consumer = "https://bench.example/org/system/consumer-of-149"
    update = (
        f"PREFIX aims: <https://w3id.org/aimsgraph/ontology#> INSERT DATA {{ <{consumer}> a aims:AISystem ; "
        f"aims:consumesOutputOf <{node}> }}"
    )
    assert client.post("/update", data={"update": update}, headers=EDITOR).status_code in (200, 204)
    assert state.refresher.settle(120)
    after = client.get("/api/impact", query_string={"node": node}).get_json()
    assert after["summary"]["affectedAssets"] == first["summary"]["affectedAssets"] + 1
    assert consumer in {a["iri"] for a in after["affected"]}


def test_a_kept_concentration_ranking_cut_shorter_equals_one_ranked_at_that_length(app):
    snapshot = app.extensions["aimsgraph"].models.get()
    client = app.test_client()
    long = client.get("/api/concentration?limit=50&kind=Dataset").get_json()["ranking"]
    short = client.get("/api/concentration?limit=7&kind=Dataset").get_json()["ranking"]
    assert short == long[:7] == impact.concentration(snapshot.record, snapshot.model, ["Dataset"], 7)
    assert client.get("/api/concentration?limit=60&kind=Dataset").get_json()["ranking"] == impact.concentration(
        snapshot.record, snapshot.model, ["Dataset"], 60
    )


def test_validating_a_change_reports_on_what_it_affects(app):
    """``{"changed": [...]}`` answers with the findings and readiness of the focus nodes the
    change can affect, for an editor (who stores them) and for anyone else (stored ones), as
    ``aimsgraph validate --changed`` does: not with the whole record's findings."""
    client, store = app.test_client(), app.extensions["aimsgraph"].store
    system = "https://bench.example/org/system/7"
    affected = set(validation.affected_nodes(store, [system]))
    everything = client.post("/api/validate", json={}, headers=EDITOR).get_json()
    for headers in (EDITOR, {}):
        scoped = client.post("/api/validate", json={"changed": [system]}, headers=headers).get_json()
        focus = {f["focus"] for f in scoped["findings"]}
        assert focus and focus <= affected
        expected = {(f["focus"], f["message"]) for f in everything["findings"] if f["focus"] in affected}
        assert {(f["focus"], f["message"]) for f in scoped["findings"]} == expected
        assert len(scoped["findings"]) < len(everything["findings"]) / 5
        # the report counts the checks from the index's focus nodes: as a fresh query gives them
        today = clock.today()
        assert validation.findings_index(store).targets is not None  # so the index is what answers
        assert validation.known_targets(store, today, sorted(affected)) == validation.targets_per_shape(
            store, today, sorted(affected)
        )
        checks = {s["id"]: s["checks"] for s in scoped["readiness"]["systems"]}
        full = {s["id"]: s["checks"] for s in everything["readiness"]["systems"]}
        assert checks[system] == full[system]  # every check on the changed system's record
        assert sum(checks.values()) < sum(full.values())


def test_graph_counts_answer_at_once_after_a_write_and_catch_up(app):
    """GET /api/graphs answers the last counts at once after a write, marked not current,
    while a recount runs; then the counts of the store as it is."""
    import time

    from aimsgraph.namespaces import Graphs

    client, store = app.test_client(), app.extensions["aimsgraph"].store

    def data_count(answer) -> int:
        return next(g["triples"] for g in answer["graphs"] if g["graph"] == Graphs.DATA)

    first = client.get("/api/graphs").get_json()
    assert first["current"] and data_count(first) == store.graph_sizes()[Graphs.DATA]
    store.update(f"INSERT DATA {{ GRAPH <{Graphs.DATA}> {{ <urn:count:a> <urn:count:p> <urn:count:b> }} }}")
    stale = client.get("/api/graphs").get_json()
    assert not stale["current"] and data_count(stale) == data_count(first)
    for _ in range(300):
        latest = client.get("/api/graphs").get_json()
        if latest["current"]:
            break
        time.sleep(0.1)
    assert latest["current"] and data_count(latest) == data_count(first) + 1
    store.update(f"DELETE DATA {{ GRAPH <{Graphs.DATA}> {{ <urn:count:a> <urn:count:p> <urn:count:b> }} }}")
