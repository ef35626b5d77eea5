"""The audit trail and the journal (``changes``): recovery of a write a crash (a real process
killed) left uncommitted, and the CLI's spreadsheet import, history and diff over a real
on-disk store (in this process, with click's CliRunner)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph as ox
from click.testing import Result

from aimsgraph.namespaces import Graphs
from aimsgraph.store import GraphStore, changes
from conftest import aimsgraph

TEMPLATES = Path(__file__).resolve().parents[1] / "data" / "templates"
CRASH = ox.Quad(
    ox.NamedNode("http://example.org/crash"), ox.NamedNode("http://example.org/p"), ox.Literal("1"), ox.NamedNode(Graphs.DATA)
)


def test_a_write_killed_before_its_commit_is_undone_at_the_next_open(tmp_path: Path):
    data_dir = tmp_path / "db"
    code = f"""
import os
import pyoxigraph as ox
from pathlib import Path
from aimsgraph.store import changes
from aimsgraph.auth import Principal
from aimsgraph.store import GraphStore
store = GraphStore(Path({str(data_dir)!r}))
class DieBeforeCommit:
    def before(self, quads): pass
    def after(self, quads): os._exit(9)  # applied and journalled, not committed
quad = ox.Quad(ox.NamedNode("http://example.org/crash"), ox.NamedNode("http://example.org/p"), ox.Literal("1"),
               ox.NamedNode({Graphs.DATA!r}))
changes.commit(store, changes.Delta(added={{quad}}), "test", Principal("t", "editor"), gate=DieBeforeCommit())
"""
    died = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert died.returncode == 9, died.stderr
    store = GraphStore(data_dir)
    assert CRASH in store.backend  # the crash left the change half done ...
    assert len(changes.recover(store)) == 1
    assert CRASH not in store.backend  # ... and recovery took it back, with its journal entry
    assert not list(store.backend.quads_for_pattern(None, None, None, changes.CHANGES))
    assert changes.recover(store) == []


def test_cli_spreadsheet_import_history_and_diff(tmp_path: Path):
    data_dir = tmp_path / "db"

    def run(*args: str) -> Result:
        return aimsgraph(*args, "--data-dir", data_dir)

    systems, risks = TEMPLATES / "systems.csv", TEMPLATES / "risk-register.csv"
    assert run("import", "csv", str(systems), "--kind", "systems").exit_code == 0
    middle = datetime.now(UTC).isoformat()
    imported = run("import", "csv", str(risks), "--kind", "risk-register")
    assert imported.exit_code == 0 and "triples added" in imported.stdout, imported.stderr
    again = run("import", "csv", str(risks), "--kind", "risk-register")
    assert again.exit_code == 0 and "nothing changed" in again.stdout

    lines = risks.read_text().splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "\n".join(
            [
                *lines,
                lines[1].replace("mortgage-variable-income-overstated", "seventh", 1).replace(",Possible,", ",Very often,", 1),
            ]
        )
        + "\n"
    )
    refused = run("import", "csv", str(bad), "--kind", "risk-register")
    assert refused.exit_code == 2 and "row 7" in refused.stderr and "likelihood" in refused.stderr

    history = run("history")
    rows = [line for line in history.stdout.splitlines() if "import-csv" in line]
    assert [r.split()[4:6] for r in rows] == [["import-csv", "systems"], ["import-csv", "risk-register"]]
    assert all("local:" in r for r in rows)

    diff = run("diff", middle).stdout.splitlines()
    added = int(rows[1].split()[6].lstrip("+"))
    assert len(diff) == added and all(line.startswith("+ ") for line in diff)
    assert any("/risk/seventh" in line for line in diff) is False
    assert any("mortgage-variable-income-overstated" in line for line in diff)


def test_state_at_and_diff_compose_changes(tmp_path: Path):
    store = GraphStore(tmp_path / "db")
    agent = changes.local_user()
    a, b = (
        ox.Quad(
            ox.NamedNode("http://example.org/s"), ox.NamedNode("http://example.org/p"), ox.Literal(v), ox.NamedNode(Graphs.DATA)
        )
        for v in ("a", "b")
    )
    start = datetime.now(UTC)
    changes.commit(store, changes.Delta(added={a}), "one", agent)
    middle = datetime.now(UTC)
    changes.commit(store, changes.Delta(removed={a}, added={b}), "two", agent)
    assert changes.state_at(store, start, [Graphs.DATA]) == set()
    assert changes.state_at(store, middle, [Graphs.DATA]) == {a}
    net = changes.diff(store, start, None)
    assert (net.removed, net.added) == (set(), {b})
    assert changes.commit(store, changes.Delta(added={b}), "three", agent) is None  # no change, no record
    assert [c.operation for c in changes.history(store)] == ["one", "two"]


def test_an_analysis_refresh_overlapping_a_refused_write_is_not_kept():
    """The refresh runs outside the write lock; if a write (here one the gate refuses and
    undoes) happens while it reads, its result is dropped instead of stamped current."""
    import threading
    import time

    from aimsgraph.errors import ValidationRejected
    from aimsgraph.risk.analysis import refresh_analysis
    from aimsgraph.semantics.reasoning import refresh_inferences

    store = GraphStore(None)
    store.initialise(demo=True)
    refresh_inferences(store)
    refresh_analysis(store)
    risk = ox.NamedNode("https://data.meridian.example/aims/risk/retail-credit-model-drift")
    likelihood = ox.NamedNode("https://w3id.org/aimsgraph/ontology#hasLikelihood")
    score = ox.NamedNode("https://w3id.org/aimsgraph/ontology#inherentScore")
    old = next(store.backend.quads_for_pattern(risk, likelihood, None, ox.NamedNode(Graphs.DATA)))
    new = ox.Quad(risk, likelihood, ox.NamedNode("https://w3id.org/aimsgraph/risk-matrix/L1"), old.graph_name)
    applied = threading.Event()

    class SlowRefusal:
        def before(self, quads):
            pass

        def after(self, quads):
            applied.set()
            time.sleep(1)
            raise ValidationRejected("refused", [])

    def write():
        try:
            changes.commit(store, changes.Delta({old}, {new}), "test", changes.local_user(), gate=SlowRefusal())
        except ValidationRejected:
            pass

    writer = threading.Thread(target=write)
    writer.start()
    applied.wait(5)
    assert refresh_analysis(store, store.generation) is None  # it read the refused write
    writer.join()
    assert refresh_analysis(store, store.generation) is not None
    assert {q.object.value for q in store.backend.quads_for_pattern(risk, score, None, ox.NamedNode(Graphs.ANALYSIS))} == {"0.8"}
