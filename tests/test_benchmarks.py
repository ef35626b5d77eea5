"""Smoke test of the benchmark harness (``python -m benchmarks``) at a small size (40 systems).

It checks that one run produces a figure for every metric and every named query and writes the
README block between its markers without touching the rest; it asserts no speed, since the
figures depend on the machine. Short time limits keep it to well under a minute and a half on
two cores: the owlrl anchor and the slowest named query are cut off, which also exercises how a
time limit is reported.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aimsgraph.queries import load_all

REPO = Path(__file__).resolve().parents[1]
METRICS = (
    "load the file", "risk model", "propagation", "impact of one system", "service start",
    "HTTP `/sparql`", "HTTP `/api/impact`", "full validation, checking", "full validation with storing",
    "incremental validation", "reasoning closure", "reasoning refresh", "reasoning after a one-triple write",
)
FIGURE = re.compile(r"^[\d,.]+ (s|ms|req/s)$")
BEGIN, END = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, str]:
    """One harness run at 40 systems into a copy of the README: (JSON results, README before, after)."""
    work = tmp_path_factory.mktemp("benchmarks")
    readme = work / "README.md"
    before = (REPO / "README.md").read_text(encoding="utf-8")
    readme.write_text(before, encoding="utf-8")
    results = work / "results.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks", "--systems", "40", "--readme", str(readme), "--json", str(results),
         "--runs", "1", "--requests", "20", "--concurrency", "2", "--query-timeout", "3",
         "--owlrl-timeout", "3", "--pyshacl-timeout", "60", "--workdir", str(work)],
        cwd=REPO, check=True, timeout=300, capture_output=True, text=True,
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
            assert row["anchor"] is not None or row["anchor_note"] in ("", "timed out after 3 s"), row


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
    assert head.rstrip().split("\n\n")[-2] == "## Performance"
    assert "python -m benchmarks" in block and "#### 40 systems" in block
    cells = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in block.splitlines() if line.startswith("| ")}
    for name in load_all():
        assert f"query `{name}`" in cells, name
    for prefix in METRICS:
        found = [cell for metric, cell in cells.items() if metric.startswith(prefix)]
        assert found, prefix
        assert all(FIGURE.match(cell[1]) for cell in found), found
