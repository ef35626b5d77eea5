"""Write-path benchmark: what a write costs, and what bringing the derived graphs up to date
after it costs, on generated organisations.

    python -m benchmarks.writes [--systems 1000 10000] [--runs 20]

For each size, on an on-disk store with current inferences, analysis and a stored validation
report: a one-triple SPARQL INSERT DATA; a DELETE/INSERT WHERE that changes one risk's
likelihood; a Graph Store PUT of a new 10,000-triple graph (parse, delta, commit); the anchor
(pyoxigraph's own ``Store.update`` of the same one-triple INSERT DATA, which records nothing);
and after a likelihood change and after a new dependency, the refresh the service runs in the
background: inferences and findings (under the write lock), then the analysis graph updated from
the change, against a full rebuild of it (the anchor; the two are checked equal).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import pyoxigraph as ox

from aimsgraph.auth import Principal
from aimsgraph.records.refresh import mark_stale, refresh_record_after
from aimsgraph.risk.analysis import analysis_quads, refresh_analysis, update_model, write_analysis_changes
from aimsgraph.semantics.reasoning import refresh_inferences
from aimsgraph.semantics.validation import validate_full
from aimsgraph.sparql.update import UpdateRequest, evaluate
from aimsgraph.store import changes
from benchmarks.common import timed
from benchmarks.generate import BASE, generated_store

EDITOR = Principal("benchmark", "editor")
AIMS = "https://w3id.org/aimsgraph/ontology#"
RM = "https://w3id.org/aimsgraph/risk-matrix/"


def write(store, text: str) -> changes.Change | None:
    with store.write_lock():
        return changes.commit(
            store, evaluate(store, UpdateRequest(text)), "sparql-update", EDITOR, before_commit=lambda: mark_stale(store)
        )


def milliseconds(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(samples) * 1000, 1), "max_ms": round(max(samples) * 1000, 1)}


def other_likelihood(store, risk: str) -> int:
    """A likelihood level the risk does not have, so that the edit changes something."""
    current = {row["l"].value for row in store.query(f"SELECT ?l WHERE {{ <{risk}> <{AIMS}hasLikelihood> ?l }}")}
    return next(level for level in (3, 4, 5, 1, 2) if f"{RM}L{level}" not in current)


def new_consumer(store, systems: int, hub: int) -> int:
    """A system near the end of the estate that does not consume core system ``hub``'s output yet
    (the generated data links some of them: an edit that changes nothing is no write)."""
    for dependent in range(systems - 1, hub, -1):
        if not store.query(f"ASK {{ <{BASE}system/{dependent}> <{AIMS}consumesOutputOf> <{BASE}system/{hub}> }}"):
            return dependent
    raise RuntimeError(f"every system already consumes system {hub}'s output")


def measure(systems: int, runs: int, workdir: Path) -> dict:
    store = generated_store(systems, workdir, infer=True)
    refresh_analysis(store)
    validate_full(store)
    result: dict = {"systems": systems, "triples": sum(store.graph_sizes().values())}

    inserts = [timed(write, store, f'INSERT DATA {{ <{BASE}system/{i}> <{AIMS}version> "bench-{i}" }}')[1] for i in range(runs)]
    result["insert_data_one_triple"] = milliseconds(inserts)

    anchor = ox.Store(str(workdir / "anchor"))
    result["anchor_pyoxigraph_update"] = milliseconds(
        [timed(anchor.update, f'INSERT DATA {{ <{BASE}system/{i}> <{AIMS}version> "bench-{i}" }}')[1] for i in range(runs)]
    )

    likelihood = (
        f"DELETE {{ <{BASE}system/%d/risk/0> <{AIMS}hasLikelihood> ?l }} "
        f"INSERT {{ <{BASE}system/%d/risk/0> <{AIMS}hasLikelihood> <{RM}L%d> }} "
        f"WHERE {{ <{BASE}system/%d/risk/0> <{AIMS}hasLikelihood> ?l }}"
    )
    modifies = [timed(write, store, likelihood % (i, i, 1 + i % 5, i))[1] for i in range(runs)]
    result["delete_insert_where_one_risk"] = milliseconds(modifies)

    body = "".join(f'<{BASE}bulk/{i}> <{AIMS}version> "{i}" .\n' for i in range(10_000))
    graph = ox.NamedNode(BASE + "bulk-graph")

    def put() -> None:
        quads = {ox.Quad(q.subject, q.predicate, q.object, graph) for q in ox.parse(body, format=ox.RdfFormat.TURTLE)}
        with store.write_lock():
            current = set(store.backend.quads_for_pattern(None, None, None, graph))
            changes.commit(store, changes.Delta(current - quads, quads - current), "graph-store-put", EDITOR)

    result["graph_store_put_10k_triples_s"] = round(timed(put)[1], 2)

    # the refresh after a write, from current derived graphs: the model updated from the
    # change (what the service does) against the model built again (the anchor)
    refresh_inferences(store)
    model = refresh_analysis(store)
    dependent = new_consumer(store, systems, hub=3)
    edits = {
        "likelihood": likelihood % (1, 1, other_likelihood(store, f"{BASE}system/1/risk/0"), 1),
        "new_dependency": f"INSERT DATA {{ <{BASE}system/{dependent}> <{AIMS}consumesOutputOf> <{BASE}system/3> }}",
    }
    for name, text in edits.items():
        change = write(store, text)
        with store.write_lock():
            how, record_s = timed(refresh_record_after, store, change.delta, True)
        generation = store.generation
        updated, update_s = timed(update_model, store, model, change.delta.removed | change.delta.added)
        _, write_s = timed(write_analysis_changes, store, model, updated, generation)
        rebuilt, full_s = timed(refresh_analysis, store)
        assert set(analysis_quads(updated)) == set(analysis_quads(rebuilt))
        model = rebuilt
        result[f"refresh_after_{name}"] = {
            "inferences_and_findings_ms": round(record_s * 1000, 1),
            "inferences": how,
            "analysis_updated_ms": round((update_s + write_s) * 1000, 1),
            "analysis_rebuilt_s": round(full_s, 2),
        }
    found, history_s = timed(changes.history, store)
    result["history_ms"] = round(history_s * 1000, 1)
    result["changes_recorded"] = len(found)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    for systems in args.systems:
        with tempfile.TemporaryDirectory() as workdir:
            print(json.dumps(measure(systems, args.runs, Path(workdir))), flush=True)


if __name__ == "__main__":
    main()
