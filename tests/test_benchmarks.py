"""Smoke test of the benchmark harness (``python -m benchmarks``) at a small size (10 systems),
and of its route plan (``benchmarks/routes.py``) against the URL map and the demo.

It checks that one run produces a figure for every metric, every named query and every call
of the route plan, and writes the README block between its markers without touching the rest;
it asserts no speed, since the figures depend on the machine. Short time limits keep it short:
the owlrl and whole-graph pyshacl anchors (26 s of pyshacl even at 10 systems) are cut off, which
also exercises how a time limit is reported. The service's query time limit is not short: with
the rest of the suite on the same two cores, a 3 s limit once turned a query of the mixed load
into a 503 (every query worker busy past the limit), a speed the smoke test does not assert (a
named query cut off by the limit is still accepted, saying so on both sides). That aimsgraph's
engines agree with owlrl and pyshacl is the oracle tests' job (test_reasoning, test_validation).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aimsgraph.records.queries import load_all
from conftest import FreshDataDir, serving

REPO = Path(__file__).resolve().parents[1]
METRICS = (
    "load the file",
    "risk model",
    "propagation",
    "impact of one system",
    "service start",
    "HTTP `/sparql`",
    "HTTP `/api/impact`",
    "full validation, checking",
    "full validation with storing",
    "incremental validation",
    "reasoning closure",
    "reasoning refresh",
    "reasoning after a one-triple write",
    "HTTP `/sparql` (ASK)",
    "mixed load",
    "service start on this store: `aimsgraph serve --production` to first dashboard",
    "stateless validate of the demo files",
)
FIGURE = re.compile(r"^[\d,.]+ (s|ms|req/s)$")
BEGIN, END = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, str]:
    """One harness run at 10 systems into a copy of docs/performance.md: (JSON results, page before, after)."""
    work = tmp_path_factory.mktemp("benchmarks")
    readme = work / "README.md"
    before = (REPO / "docs" / "performance.md").read_text(encoding="utf-8")
    readme.write_text(before, encoding="utf-8")
    results = work / "results.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--systems",
            "10",
            "--readme",
            str(readme),
            "--json",
            str(results),
            "--runs",
            "1",
            "--requests",
            "20",
            "--concurrency",
            "2",
            "--query-timeout",
            "30",
            "--owlrl-timeout",
            "1",
            "--pyshacl-timeout",
            "1",
            "--workdir",
            str(work),
            "--route-runs",
            "1",
            "--mixed-seconds",
            "1",
            "--mixed-clients",
            "4",
        ],
        cwd=REPO,
        check=True,
        timeout=420,
        capture_output=True,
        text=True,
    )
    return json.loads(results.read_text()), before, readme.read_text(encoding="utf-8")


def timed_out(text: str) -> bool:
    return text.startswith(("timed out after", "not run (the bare run timed out)"))


@pytest.mark.slow
def test_every_metric_and_named_query_has_a_figure(run: tuple[dict, str, str]) -> None:
    results, _, _ = run
    rows = {row["metric"]: row for row in results["results"][0]["rows"]}
    for name in load_all():
        row = rows[f"query `{name}`"]
        # a query cut off by the short limit says so on both sides; every other has both figures
        if not timed_out(row["anchor_note"]):
            assert row["value"] > 0 and row["anchor"] > 0 and row["ratio"] > 0, row
    for prefix in METRICS:
        found = [row for metric, row in rows.items() if metric.startswith(prefix)]
        assert found, prefix
        for row in found:
            assert row["value"] > 0, row
            assert row["anchor"] is not None or row["anchor_note"] in ("", "timed out after 1 s"), row


@pytest.mark.slow
def test_every_call_of_the_route_plan_has_a_row_with_its_figures(run: tuple[dict, str, str]) -> None:
    from benchmarks.routes import PLAN

    results, _, after = run
    rows = {row["metric"]: row for row in results["results"][0]["rows"]}
    for call in PLAN:
        row = rows[call.metric]
        assert row["value"] > 0 and row["p99"] >= row["value"] and row["size"] is not None, row
        assert row["goal"] and ("status" in row["note"]), row
        assert f"| {call.metric.removeprefix('route ')} | " in after, call.metric
    mixed = rows["mixed load (4 clients, 1 s): throughput"]
    assert mixed["value"] > 0 and " 0 errors" in mixed["note"], mixed


@pytest.mark.slow
def test_the_readme_block_has_a_row_for_each_and_nothing_else_changed(run: tuple[dict, str, str]) -> None:
    _, before, after = run
    head, rest = after.split(BEGIN + "\n", 1)
    block, tail = rest.split(END, 1)
    if BEGIN in before:  # the block was replaced, all else kept
        old_head, old_rest = before.split(BEGIN + "\n", 1)
        assert (head, tail) == (old_head, old_rest.split(END, 1)[1])
    else:  # the markers were added under the section's first paragraph, all else kept
        assert after.replace(f"\n\n{BEGIN}\n{block}{END}", "", 1) == before
    assert head.rstrip().split("\n\n")[0] == "# Performance"
    assert "python -m benchmarks" in block and "### 10 systems" in block
    cells = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in block.splitlines() if line.startswith("| ")}
    for name in load_all():
        assert f"query `{name}`" in cells, name
    for prefix in METRICS:
        found = [cell for metric, cell in cells.items() if metric.startswith(prefix)]
        assert found, prefix
        assert all(FIGURE.match(cell[1]) for cell in found), found


# -- the route plan (benchmarks/routes.py) ---------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir):
    """The service on the demo, with the editor token the plan sends, as tests/conftest.py builds apps."""
    from aimsgraph.config import Settings
    from benchmarks import routes

    settings = Settings(
        data_dir=fresh_data_dir(tmp_path_factory.mktemp("routes") / "db"),
        demo=True,
        query_timeout=30,
        tokens=(routes.TOKENS_SETTING,),
    )
    with serving(settings) as service:
        yield service


def test_every_route_of_the_url_map_has_a_row_in_the_plan_and_no_row_names_a_gone_route(app) -> None:
    from benchmarks import routes

    rules = routes.url_rules(app)
    assert rules - routes.planned() == set(), "routes without a call in benchmarks/routes.py PLAN"
    assert routes.planned() - rules == set(), "calls in benchmarks/routes.py PLAN for routes that are gone"
    metrics = [call.metric for call in routes.PLAN]
    assert len(metrics) == len(set(metrics)), "two calls of one rule need different labels"
    assert all(call.goal in routes.GOALS or call.goal in routes.EXEMPT for call in routes.PLAN)


def test_every_call_of_the_plan_answers_the_demo_without_a_server_error(app) -> None:
    """Each call once (its prepare first), through Flask's test client, after the setup."""
    from benchmarks import routes

    client = app.test_client()
    values = routes.plan_values(app.extensions["aimsgraph"].store)

    def send(call: routes.Call, filled: dict[str, str]):
        request = routes.request_for(call, routes.run_values(filled))
        return client.open(
            request.path, method=request.method, query_string=request.params, headers=request.headers, data=request.data
        )

    for call in routes.SETUP:
        assert send(call, values).status_code < 300
    answers = {}
    for call in sorted(routes.PLAN, key=lambda c: c.write):
        filled = values
        if call.prepare is not None:
            prepared = send(call.prepare, values)
            assert prepared.status_code < 300, (call.metric, prepared.get_data(as_text=True)[:300])
            filled = routes.capture(call, prepared.get_json() if call.capture else None, values)
        answer = send(call, filled)
        answers[call.metric] = (answer.status_code, answer.get_data()[:200].decode("utf-8", "replace"))  # a workbook too
        answer.close()  # a file /static sends stays open until then
    assert {m: a for m, a in answers.items() if a[0] >= 500} == {}
    # and the plan measures the work, not an error path
    assert {m: a for m, a in answers.items() if a[0] >= 400} == {}


def test_the_mixed_load_draws_its_shares_and_fills_every_parameter() -> None:
    from benchmarks import routes

    drawn = routes.mixed_requests(2000, ["https://a.example/x", "https://a.example/y"], ["https://a.example/s"])
    shares = {kind: sum(1 for k, _ in drawn if k == kind) / len(drawn) for kind, _ in routes.MIXED}
    assert all(abs(shares[kind] - share) < 0.04 for kind, share in routes.MIXED), shares
    assert all("$" not in str(request.params) for _, request in drawn)
