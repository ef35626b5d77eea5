"""Load benchmark: first start with the demo, restart, and loading a ~1M-triple file.

Every scenario runs in a fresh process, so peak RSS is that process's own; each is repeated
and the median reported, with bare pyoxigraph as the anchor for the file load.

    python -m benchmarks.load [--systems 7300] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SCENARIOS = {
    "demo first start (ontology + catalogue + demo + inference)": """
from aimsgraph.store import GraphStore
from aimsgraph.semantics.reasoning import refresh_inferences
store = GraphStore(DIR); store.initialise(demo=True); refresh_inferences(store); store.flush()
TRIPLES = sum(store.graph_sizes().values())
""",
    "restart (reopen store, reference graphs up to date)": """
from aimsgraph.store import GraphStore
PHASES["imports"] = time.perf_counter() - started
opened = time.perf_counter()
store = GraphStore(DIR); store.initialise(demo=True); store.query("ASK { ?s ?p ?o }")
PHASES["reopen"] = time.perf_counter() - opened
TRIPLES = sum(store.graph_sizes().values())
""",
    "aimsgraph load FILE (syntax check, bulk load, inference)": """
from aimsgraph.store import GraphStore, read_quads, guess_format, named_graph
from aimsgraph.semantics.reasoning import refresh_inferences
store = GraphStore(DIR); store.initialise(demo=False)
step = time.perf_counter(); read_quads(FILE, guess_format(FILE), named_graph("urn:g"), keep=False); PHASES["check"] = time.perf_counter() - step
step = time.perf_counter(); store.load_files([FILE]); PHASES["check+load"] = time.perf_counter() - step
step = time.perf_counter(); refresh_inferences(store); PHASES["inference"] = time.perf_counter() - step
store.flush()
TRIPLES = sum(store.graph_sizes().values())
""",
    "anchor: pyoxigraph Store(path).load(FILE)": """
import pyoxigraph as ox
store = ox.Store(str(DIR)); store.load(path=str(FILE), to_graph=ox.NamedNode("urn:g")); store.flush()
TRIPLES = len(store)
""",
    "anchor: pyoxigraph Store(path).bulk_load(FILE)": """
import pyoxigraph as ox
store = ox.Store(str(DIR)); store.bulk_load(path=str(FILE), to_graph=ox.NamedNode("urn:g")); store.flush()
TRIPLES = len(store)
""",
}

RUNNER = """
import json, resource, sys, time
from pathlib import Path
DIR, FILE = Path(sys.argv[1]), Path(sys.argv[2])
PHASES = {{}}
started = time.perf_counter()
{body}
elapsed = time.perf_counter() - started
print(json.dumps({{"seconds": elapsed, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "triples": TRIPLES, "phases": PHASES}}))
"""


def run(body: str, store_dir: Path, data_file: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", RUNNER.format(body=body), str(store_dir), str(data_file)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--systems", type=int, default=7300, help="synthetic systems (7300 = about 1M triples)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_file = Path(tmp) / "org.nt"
        # In a process of its own: children inherit the peak RSS of a big parent on Linux.
        subprocess.run([sys.executable, "-m", "benchmarks.generate", str(args.systems), str(data_file)], check=True)
        rows = []
        for name, body in SCENARIOS.items():
            results = []
            for attempt in range(args.runs):
                store_dir = Path(tmp) / f"store-{len(rows)}-{attempt}"
                if name.startswith("restart"):
                    run(SCENARIOS["demo first start (ontology + catalogue + demo + inference)"], store_dir, data_file)
                results.append(run(body, store_dir, data_file))
            rows.append((name, results))
        print(f"| scenario | triples in store | time (median of {args.runs}) | of which | peak RSS MB (median) |")
        print("|---|---|---|---|---|")
        for name, results in rows:
            seconds = statistics.median(r["seconds"] for r in results)
            peak = statistics.median(r["peak_mb"] for r in results)
            phases = ", ".join(
                f"{phase} {_duration(statistics.median(r['phases'][phase] for r in results))}" for phase in results[0]["phases"]
            )
            print(f"| {name} | {results[0]['triples']:,} | {_duration(seconds)} | {phases} | {peak:.0f} |")


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


if __name__ == "__main__":
    main()
