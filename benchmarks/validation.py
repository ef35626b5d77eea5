"""Validation benchmark: full and incremental validation with the store engine (shapes compiled
to SPARQL) next to whole-graph pyshacl on the same data, for generated organisations.

    python -m benchmarks.validation [--systems 1000 10000] [--pyshacl-timeout 900]

pyshacl runs in a child process with a time limit, because at 10k systems it takes many
minutes; a run that does not finish is reported as such.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.generate import generated_store

PYSHACL = """
import json, sys, time
from pathlib import Path
from aimsgraph.store import GraphStore
from aimsgraph import clock
from aimsgraph.semantics import validation
store = GraphStore(Path(sys.argv[1]))
started = time.perf_counter()
data = store.extract(validation.VALIDATED_GRAPHS)
extracted = time.perf_counter() - started
findings = validation.validate_graph(data, clock.today())
print(json.dumps({"extract": extracted, "total": time.perf_counter() - started,
                  "findings": [[f.severity, f.focus, f.shape, f.path, f.value] for f in findings]}))
"""


def pyshacl_reference(store_dir: Path, timeout: float) -> dict:
    """Whole-graph pyshacl over the validated graphs of a closed store, in a child process:
    ``{"extract": s, "total": s, "findings": [...]}``, or ``{"timeout": s}`` when it is cut off."""
    try:
        run = subprocess.run(
            [sys.executable, "-c", PYSHACL, str(store_dir)], capture_output=True, text=True, timeout=timeout, check=True
        )
    except subprocess.TimeoutExpired:  # subprocess.run has killed the child
        return {"timeout": timeout}
    return json.loads(run.stdout.strip().splitlines()[-1])


def measure(systems: int, pyshacl_timeout: float, workdir: Path) -> dict:
    from aimsgraph import clock
    from aimsgraph.semantics import validation

    store = generated_store(systems, workdir)
    store_dir = store.path
    triples = sum(store.graph_sizes().values())

    full_times = []
    for _ in range(3):
        started = time.perf_counter()
        findings = validation.validate_store(store, clock.today())
        full_times.append(time.perf_counter() - started)

    started = time.perf_counter()
    validation.validate_full(store)  # stores the findings, which incremental runs update
    stored = time.perf_counter() - started
    rng = random.Random(1)
    incremental_times = []
    for system in rng.sample(range(systems), 20):
        started = time.perf_counter()
        validation.validate_changed(store, [f"https://bench.example/org/system/{system}"])
        incremental_times.append(time.perf_counter() - started)
    store.flush()
    del store

    reference = pyshacl_reference(store_dir, pyshacl_timeout)
    ours = sorted([f.severity, f.focus, f.shape, f.path, f.value] for f in findings)
    return {
        "systems": systems,
        "triples": triples,
        "findings": len(findings),
        "full": statistics.median(full_times),
        "stored": stored,
        "incremental_median": statistics.median(incremental_times),
        "incremental_max": max(incremental_times),
        "pyshacl": reference.get("total"),
        "pyshacl_extract": reference.get("extract"),
        "pyshacl_timeout": reference.get("timeout"),
        "identical": (sorted(reference["findings"]) == ours) if "findings" in reference else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--systems", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--pyshacl-timeout", type=float, default=900)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(n, args.pyshacl_timeout, Path(tmp)) for n in args.systems]
    print(
        "| systems | triples | findings | full, store engine (median of 3) | full + storing the findings "
        "| one changed system, re-validated and stored (median / max of 20) "
        "| whole-graph pyshacl (incl. extraction) | same findings |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r["pyshacl"] is not None:
            reference = f"{r['pyshacl']:.1f} s (extract {r['pyshacl_extract']:.1f} s)"
        else:
            reference = f"not finished in {r['pyshacl_timeout']:.0f} s"
        same = {True: "yes", False: "NO", None: "n/a"}[r["identical"]]
        print(
            f"| {r['systems']:,} | {r['triples']:,} | {r['findings']:,} | {r['full']:.2f} s | {r['stored']:.1f} s | "
            f"{r['incremental_median'] * 1000:.0f} ms / {r['incremental_max'] * 1000:.0f} ms | {reference} | {same} |"
        )


if __name__ == "__main__":
    main()
