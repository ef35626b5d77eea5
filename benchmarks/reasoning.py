"""Reasoning benchmark: the fast OWL 2 RL engine on generated organisations, owlrl as anchor.

    python -m benchmarks.reasoning [--systems 1000 10000] [--owlrl-timeout 900]

For each size: read the premises from the on-disk store, compute the closure, write the inferred
graph (new, then unchanged), the incremental update after one system starts or stops
consuming another's output (three edges, added then removed), and a full refresh after one. owlrl runs in a child process on the same premises with a time limit
(at 1k systems only: beyond that it does not finish in useful time).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pyoxigraph as ox

from benchmarks.common import timed
from benchmarks.generate import generated_store

OWLRL = """
import sys, time
from pathlib import Path
from aimsgraph.store import GraphStore
from aimsgraph.semantics import reasoning
store = GraphStore(Path(sys.argv[1]))
premises = reasoning.premises(store)
started = time.perf_counter()
found = reasoning.owlrl_inferences(premises)
print(len(found), time.perf_counter() - started)
"""


DATA = ox.NamedNode("https://w3id.org/aimsgraph/graph/data")


def one_change_edges(systems: int) -> list:
    """Three ``consumesOutputOf`` edges, each one system starting to consume another's output,
    in different parts of the estate."""
    return [_edge(systems - 1, systems // 2), _edge(systems // 2, systems // 3), _edge(systems - 2, 5)]


def _edge(dependent: int, dependency: int):
    org = "https://bench.example/org/system/"
    return (
        ox.NamedNode(f"{org}{dependent}"),
        ox.NamedNode("https://w3id.org/aimsgraph/ontology#consumesOutputOf"),
        ox.NamedNode(f"{org}{dependency}"),
    )


def measure(systems: int, owlrl_timeout: float, workdir: Path) -> dict:
    from aimsgraph.semantics import reasoning

    store = generated_store(systems, workdir)
    premises, t_read = timed(reasoning.premises, store)
    inferred, t_closure = timed(reasoning.fast_inferences, premises)
    _, t_first = timed(reasoning.refresh_inferences, store)
    _, t_again = timed(reasoning.refresh_inferences, store)
    edges = one_change_edges(systems)
    incremental = []
    for edge in edges:  # one system starts (then stops) consuming another's output
        store.backend.add(ox.Quad(*edge, DATA))
        _, seconds = timed(reasoning.update_inferences, store, {edge}, set())
        store.backend.remove(ox.Quad(*edge, DATA))
        _, seconds_back = timed(reasoning.update_inferences, store, set(), {edge})
        incremental += [seconds, seconds_back]
    store.backend.add(ox.Quad(*edges[0], DATA))
    _, t_change = timed(reasoning.refresh_inferences, store)
    report = {
        "systems": systems,
        "premises": len(premises),
        "inferred": len(inferred),
        "read_premises_s": t_read,
        "closure_s": t_closure,
        "refresh_new_graph_s": t_first,
        "refresh_unchanged_s": t_again,
        "full_refresh_after_one_change_s": t_change,
        "incremental_one_change_ms": sorted(round(1000 * s) for s in incremental),
    }
    store.flush()
    store_dir = store.path
    del store
    if owlrl_timeout and systems <= 1000:
        reference = owlrl_reference(store_dir, owlrl_timeout)
        report["owlrl"] = f"did not finish in {owlrl_timeout:.0f} s" if "timeout" in reference else reference
    return report


def owlrl_reference(store_dir: Path, timeout: float) -> dict:
    """owlrl's closure of the premises of a closed store, in a child process:
    ``{"inferred": n, "closure_s": s}``, or ``{"timeout": s}`` when it is cut off."""
    try:
        run = subprocess.run(
            [sys.executable, "-c", OWLRL, str(store_dir)], capture_output=True, text=True, timeout=timeout, check=True
        )
    except subprocess.TimeoutExpired:  # subprocess.run has killed the child
        return {"timeout": timeout}
    count, seconds = run.stdout.split()
    return {"inferred": int(count), "closure_s": float(seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--owlrl-timeout", type=float, default=900)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="aimsgraph-bench-") as tmp:
        for systems in args.systems:
            results.append(measure(systems, args.owlrl_timeout, Path(tmp)))
            print(json.dumps(results[-1], indent=2), flush=True)


if __name__ == "__main__":
    main()
