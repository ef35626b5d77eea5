"""Propagation and impact benchmark on a generated organisation (default 10k systems).

    python -m benchmarks.propagation [--systems 10000] [--requests 200] [--json out.json]

Measures, on one store on disk:
- building the risk model (scores, dependency graph from SPARQL, full propagation) and writing
  the analysis graph;
- impact analysis of single nodes (systems, models and datasets picked at random) in process and
  over HTTP against a real ``aimsgraph serve`` (p50, p95, max), after one warm-up request;
- concentration ranking;
- networkx against rustworkx for the graph work impact and concentration need (build, dependents
  of the same nodes, condensation and topological order), when rustworkx is installed.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
from pathlib import Path

import requests

from benchmarks.common import percentiles, start_server, timed
from benchmarks.generate import generated_store


def model_costs(store) -> tuple[dict, object]:
    from aimsgraph.risk import analysis, scoring
    from aimsgraph.risk.propagation import DependencyGraph, exposures, propagate, risks_by_asset

    criteria, t_criteria = timed(scoring.load_criteria, store)
    risks, t_risks = timed(scoring.load_risks, store, criteria)
    deps, t_deps = timed(DependencyGraph.from_store, store)
    by_asset = risks_by_asset(risks.values())
    result, t_propagate = timed(propagate, deps, by_asset, criteria.threshold)
    exposed, t_exposures = timed(exposures, by_asset, result, criteria)
    model = analysis.RiskModel(criteria, risks, by_asset, deps, result, exposed)
    quads, t_quads = timed(lambda: list(analysis.analysis_quads(model)))
    _, t_first = timed(analysis.refresh_analysis, store)
    _, t_again = timed(analysis.refresh_analysis, store)
    return {
        "scoring_s": t_criteria + t_risks,
        "dependency_graph_s": t_deps,
        "propagation_s": t_propagate,
        "exposures_s": t_exposures,
        "analysis_quads_s": t_quads,
        "refresh_analysis_new_graph_s": t_first,
        "refresh_analysis_unchanged_s": t_again,
        "assets": deps.graph.number_of_nodes(),
        "edges": deps.graph.number_of_edges(),
        "risks": len(risks),
        "inherited_risks": sum(1 for _ in result.all()),
        "analysis_triples": len(quads),
    }, model


def pick_nodes(model, count: int) -> list[str]:
    rng = random.Random(7)
    candidates = sorted(
        a for a, kind in model.deps.kinds.items() if kind in ("AISystem", "Model", "Dataset") and a in model.deps.graph
    )
    return rng.sample(candidates, min(count, len(candidates)))


def in_process_impact(store, model, nodes: list[str], change: str = "modify") -> dict:
    """Each node once, each on a fresh Record (no memo), as the first request after a write."""
    from aimsgraph.risk import impact
    from aimsgraph.store.record import Record

    samples, affected = [], []
    for node in nodes:
        answer, seconds = timed(impact.analyse, Record(store), model, node, change)
        samples.append(seconds)
        affected.append(len(answer["affected"]))
    return {**percentiles(samples), "affected_p50": statistics.median(affected), "affected_max": max(affected)}


def http_impact(store_dir: Path, nodes: list[str]) -> dict:
    server = start_server(store_dir)
    try:
        session = requests.Session()
        warm_up, first = timed(session.post, server.url + "/api/impact", json={"node": nodes[0]}, timeout=600)
        warm_up.raise_for_status()
        samples = []
        for node in nodes:
            response, seconds = timed(session.post, server.url + "/api/impact", json={"node": node}, timeout=60)
            response.raise_for_status()
            samples.append(seconds)
        _, concentration = timed(session.get, server.url + "/api/concentration", timeout=60)
        return {**percentiles(samples), "first_request_s": first, "concentration_ms": 1000 * concentration}
    finally:
        server.stop()


def graph_libraries(model, nodes: list[str]) -> dict:
    import networkx as nx

    edges = list(model.deps.graph.edges())
    found: dict[str, float] = {}
    graph, found["build_nx_ms"] = timed(nx.DiGraph, edges)
    _, found["dependents_nx_ms"] = timed(lambda: [nx.descendants(graph, n) for n in nodes])
    _, found["condensation_topo_nx_ms"] = timed(lambda: list(nx.topological_sort(nx.condensation(graph))))
    try:
        import rustworkx as rx
    except ImportError:
        return {key: value * 1000 for key, value in found.items()}

    def build_rx():
        g = rx.PyDiGraph()
        index = {n: g.add_node(n) for n in graph.nodes}
        g.add_edges_from_no_data([(index[a], index[b]) for a, b in edges])
        return g, index

    (rx_graph, index), found["build_rx_ms"] = timed(build_rx)
    _, found["dependents_rx_ms"] = timed(lambda: [rx.descendants(rx_graph, index[n]) for n in nodes])
    _, found["condensation_topo_rx_ms"] = timed(
        lambda: (
            rx.topological_sort(rx.condensation(rx_graph))
            if hasattr(rx, "condensation")
            else rx.strongly_connected_components(rx_graph)
        )
    )
    return {key: value * 1000 for key, value in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from aimsgraph.risk import impact
    from aimsgraph.risk.analysis import RiskModel
    from aimsgraph.store.record import Record

    with tempfile.TemporaryDirectory(prefix="aimsgraph-bench-") as tmp:
        store = generated_store(args.systems, Path(tmp), infer=True)
        store_dir = store.path
        report = {"systems": args.systems, "triples": sum(store.graph_sizes().values())}
        report["model"], model = model_costs(store)
        _, report["model"]["full_build_s"] = timed(RiskModel.build, store)
        nodes = pick_nodes(model, args.requests)
        report["impact_in_process"] = in_process_impact(store, model, nodes)
        report["impact_retire_in_process"] = in_process_impact(store, model, nodes[:50], "retire")
        _, seconds = timed(impact.concentration, Record(store), model)
        report["concentration_ms"] = 1000 * seconds
        report["graph_libraries"] = graph_libraries(model, nodes)
        store.flush()
        del store, model
        report["impact_http"] = http_impact(store_dir, nodes)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
