"""Every measurement in one run, on the same generated organisation, each next to its anchor.

Owns the order of the phases over one on-disk store per size, the parameter values of the named
queries, the HTTP measurements against a real ``aimsgraph serve``, and the results as rows
(metric, aimsgraph, anchor, ratio, note). The topic modules own their measuring functions
(``benchmarks.validation``, ``reasoning``, ``propagation``), which are reused here; ``bare`` owns
the bare-pyoxigraph query anchor and ``report`` the Markdown.

Phases per size, in this order because a store is opened for writing by one process at a time,
and because the later phases write (findings, one-triple changes, each undone):
1. generate the organisation (fixed seed) to N-Triples; load it with bare pyoxigraph (the
   anchors), then with ``aimsgraph load`` into an initialised store (inferences and analysis);
2. in process, read-only: the risk model, propagation, impact of one node, the anchor of the
   impact load test;
3. ``aimsgraph serve --production`` (waitress, the documented production server) on the store,
   with the bare worker reading the same store: the start to the first impact answer; every
   named query, its HTTP and bare runs alternating; bounded concurrent load on /sparql (a small
   SELECT and an ASK, next to bare pyoxigraph) and /api/impact; the mixed load (many clients:
   named queries, impact, pages);
4. on a copy of the store (the writes stay off the figures of the later phases), a second
   production server: the start to the first dashboard answer, then a row for every route of
   the URL map (``benchmarks.routes``: reads, then writes);
5. in process: full and incremental validation, reasoning closure, refresh and incremental
   refresh;
6. the store closed: whole-graph pyshacl and owlrl in child processes, each with a time limit.

``Options.phases`` picks a subset (``PHASES``; ``python -m benchmarks --only routes,sparql``):
the organisation is generated and loaded whatever the subset, the rest runs only when asked.
"""

from __future__ import annotations

import gc
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import asdict, dataclass
from io import StringIO
from pathlib import Path

import pyoxigraph as ox
import requests

from benchmarks import routes
from benchmarks.bare import BareWorker
from benchmarks.common import (
    load_test,
    percentiles,
    production_command,
    start_server,
    timed,
)
from benchmarks.generate import BASE, generate

#: The named query of the /sparql load test: cheap, so that the figures are the service's cost.
LOAD_QUERY = "annex-a-controls"
#: The ASK of the /sparql load test.
LOAD_ASK = routes.ASK
#: The phases, in the order they run (``--only`` picks some; the store is built whatever the pick).
PHASES = ("load", "analysis", "start", "queries", "sparql", "impact", "mixed", "routes", "validation", "reasoning")
#: The phases that need the service running on the store.
SERVED = ("start", "queries", "sparql", "impact", "mixed", "routes")
#: Each named query gets about this many seconds of repeated runs (at least one on each side).
QUERY_BUDGET_S = 30.0
#: A first run longer than this counts as a sample: the warm-up matters only to short queries.
WARM_UP_S = 1.0
#: Repeated in-process steps stop after this many seconds (at 10k systems a closure takes a minute).
STEP_BUDGET_S = 60.0
#: The service's result limit in the benchmark (its default, 100,000, would cut answers at 10k systems).
UNLIMITED_ROWS = 100_000_000
ACCEPT = "application/sparql-results+json, application/n-triples;q=0.9"
DATA_GRAPH = "https://w3id.org/aimsgraph/graph/data"


@dataclass
class Options:
    runs: int = 5  # timed runs of each query and in-process step (the p50 is reported)
    requests: int = 500  # requests per endpoint in the load test
    concurrency: int = 4  # client threads in the load test
    query_timeout: float = 120  # per query run, on both sides (the service's AIMSGRAPH_QUERY_TIMEOUT)
    pyshacl_timeout: float = 900
    owlrl_timeout: float = 600
    start_timeout: float = 900  # seconds the service may take to open the store and answer
    route_runs: int = 20  # timed requests per call of the route plan (fewer when slow: routes.ROUTE_BUDGET_S)
    route_timeout: float = 300  # per request of the route plan; a timeout is a row with a note
    mixed_clients: int = 50  # client threads of the mixed load
    mixed_seconds: float = 60  # how long the mixed load sends
    mixed_requests: int = 100_000  # at most this many requests in the mixed load
    mixed_timeout: float = 120  # per request of the mixed load (an error past it)
    phases: tuple[str, ...] = PHASES


@dataclass
class Row:
    """One measurement. ``unit`` is "s" (lower is better) or "req/s" (higher is better); the ratio
    is always aimsgraph's cost over the anchor's, so above 1 is slower than the anchor. A figure
    that is missing says why in ``value_note`` or ``anchor_note``."""

    metric: str
    value: float | None
    anchor: float | None = None
    unit: str = "s"
    note: str = ""
    value_note: str = ""
    anchor_note: str = ""
    # route rows (``benchmarks.routes``): the value is the p50
    p99: float | None = None
    size: int | None = None  # bytes of the answer's body
    goal: str = ""  # the goal of issue 18 it is held to, or why none
    goal_met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if not self.value or not self.anchor:
            return None
        return self.value / self.anchor if self.unit == "s" else self.anchor / self.value

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


def failed(what: str, exc: Exception) -> Row:
    return Row(what, None, value_note="failed", anchor_note="not run", note=f"{type(exc).__name__}: {exc}")


def log(systems: int, message: str) -> None:
    print(f"[{systems} systems {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measure(systems: int, options: Options, workdir: Path) -> dict:
    """The phases in ``options.phases`` for one size: ``{"systems", "generated_triples",
    "store_triples", "parameters", "phases", "rows"}``."""
    from aimsgraph.store import GraphStore

    phases = set(options.phases)
    unknown = phases - set(PHASES)
    if unknown:
        raise ValueError(f"unknown phase(s) {', '.join(sorted(unknown))}; the phases are {', '.join(PHASES)}")
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / f"org-{systems}.nt"
    data.write_text(generate(systems))
    facts: dict = {
        "systems": systems,
        "generated_triples": sum(1 for _ in data.open()),
        "phases": [p for p in PHASES if p in phases],
    }
    store_dir = workdir / "store"
    log(systems, f"generated {facts['generated_triples']:,} triples; loading")
    load = load_row(data, store_dir, workdir, anchors="load" in phases)

    store = GraphStore(store_dir)
    facts["store_triples"] = sum(store.graph_sizes().values())
    values = parameter_values(store, systems)
    route_values = routes.plan_values(store, values["system"]) if "routes" in phases else {}
    log(systems, "risk model, propagation and impact in process")
    analysed = in_process_analysis(store, values["system"], options, phases)
    del store
    gc.collect()  # closes the store: the service opens it next

    query_rows, service_rows, route_rows, dependents = [], [], [], None
    if phases & set(SERVED):
        log(systems, "aimsgraph serve --production: " + ", ".join(p for p in SERVED if p in phases))
        try:
            query_rows, service_rows, dependents = served(store_dir, values, analysed, options, phases, systems)
        except Exception as exc:
            service_rows = [failed("HTTP measurements", exc)]
        if phases & {"start", "routes"}:
            try:
                route_rows = served_copy(store_dir, workdir, route_values, options, phases, systems)
            except Exception as exc:
                route_rows = [failed("HTTP measurements on a copy of the store (dashboard start, routes)", exc)]

    rows = [load] if "load" in phases else []
    rows += [*query_rows, *(analysis_rows(analysed, dependents) if "analysis" in phases else []), *service_rows]
    start_rows = [row for row in route_rows if not row.metric.startswith("route ")]
    rows += [*start_rows, *[row for row in route_rows if row.metric.startswith("route ")]]
    if phases & {"validation", "reasoning"}:
        store = GraphStore(store_dir)
        log(systems, "validation and reasoning in process")
        checked = validation_in_process(store, systems, options) if "validation" in phases else None
        reasoned = reasoning_in_process(store, systems, options) if "reasoning" in phases else None
        del store
        gc.collect()
        log(systems, "anchors: whole-graph pyshacl and owlrl in child processes")
        if checked is not None:
            rows += validation_rows(checked, store_dir, options)
        if reasoned is not None:
            rows += reasoning_rows(reasoned, store_dir, options)
    shutil.rmtree(store_dir, ignore_errors=True)
    data.unlink()
    return {**facts, "parameters": values, "rows": rows}


# -- 1. load -----------------------------------------------------------------------------------


def load_row(data: Path, store_dir: Path, workdir: Path, anchors: bool = True) -> Row:
    """``aimsgraph load FILE`` into an initialised store, against pyoxigraph's bulk loader
    (``anchors`` False: the store only, the anchors not measured)."""
    from aimsgraph.cli import cli
    from aimsgraph.store import BULK_LOAD_BYTES, GraphStore, changes

    bulk = transactional = None
    if anchors:
        bulk_dir, load_dir = workdir / "anchor-bulk", workdir / "anchor-load"
        bulk = timed(_bare_load, bulk_dir, data, bulk=True)[1]
        transactional = timed(_bare_load, load_dir, data, bulk=False)[1]
        for scratch in (bulk_dir, load_dir):
            shutil.rmtree(scratch, ignore_errors=True)

    store = GraphStore(store_dir)
    changes.initialise(store, demo=False)  # ontology, catalogue, vocabularies: not part of the figure
    store.flush()
    del store
    gc.collect()
    with redirect_stdout(StringIO()):  # in process: Python's start and imports are not counted
        seconds = timed(cli.main, ["load", "--data-dir", str(store_dir), str(data)], standalone_mode=False)[1]
    gc.collect()
    how = "bulk loader" if data.stat().st_size > BULK_LOAD_BYTES else "one journalled transaction"
    return Row(
        "load the file: `aimsgraph load` (check, load, inferences, analysis)",
        seconds,
        bulk,
        note=f"{how}; anchor: `Store.bulk_load`; transactional `Store.load` {format_seconds(transactional)}"
        if transactional is not None
        else how,
        anchor_note="" if anchors else "not measured",
    )


def _bare_load(directory: Path, data: Path, bulk: bool) -> None:
    store = ox.Store(str(directory))
    load = store.bulk_load if bulk else store.load
    load(path=str(data), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(DATA_GRAPH))
    store.flush()


# -- 2. in process, read-only ------------------------------------------------------------------


def parameter_values(store, systems: int) -> dict[str, str]:
    """Values for the named queries' parameters, from the generated data: a system half-way
    through the estate (inside a business unit, with upstream systems and so inherited risks)."""
    system = f"{BASE}system/{systems // 2}"
    if not store.query(f"ASK {{ <{system}> a <https://w3id.org/aimsgraph/ontology#AISystem> }}"):
        raise RuntimeError(f"the generated data has no system <{system}>")
    return {"system": system, "node": system, "asset": system}


def in_process_analysis(store, node: str, options: Options, phases: set[str] | None = None) -> dict:
    """Risk model build, propagation, impact of one node (fresh lookups each time, as the first
    request after a write), and the anchor of the /api/impact load test: the same nodes from as
    many threads, lookups memoised (as in the service once every node was asked for). Only what
    ``phases`` need; the nodes of the impact and mixed loads always (systems, models, datasets)."""
    from aimsgraph.risk import impact
    from aimsgraph.risk.analysis import RiskModel
    from aimsgraph.store.record import Record
    from benchmarks.propagation import in_process_impact, pick_nodes

    phases = set(PHASES) if phases is None else phases
    model, builds = repeat(RiskModel.build, options.runs if "analysis" in phases else 1, store)
    nodes = pick_nodes(model, min(200, options.requests))
    systems = sorted(a for a, kind in model.deps.kinds.items() if kind == "AISystem")
    found = {"nodes": nodes, "systems": systems, "build_s": statistics.median(builds)}
    if "analysis" in phases:
        computes = repeat(RiskModel.compute, options.runs, model.criteria, model.risks, model.deps)[1]
        found |= {
            "compute_s": statistics.median(computes),
            "one": in_process_impact(store, model, [node] * options.runs),
            "size": f"{model.deps.graph.number_of_nodes():,} assets, {model.deps.graph.number_of_edges():,} edges, "
            f"{len(model.risks):,} risks, {sum(1 for _ in model.propagation.all()):,} inherited",
        }
    if "impact" in phases:
        record = Record(store)
        for item in nodes:  # the same warm-up pass the HTTP test makes
            impact.analyse(record, model, item, "modify")
        found["impact_anchor"] = load_test(
            lambda: lambda i: impact.analyse(record, model, nodes[i % len(nodes)], "modify"),
            options.concurrency,
            options.requests,
        )
    return found


def analysis_rows(analysed: dict, dependents: float | None) -> list[Row]:
    one = analysed["one"]
    return [
        Row("risk model: `RiskModel.build` (read risks and dependencies, propagate)", analysed["build_s"], note=analysed["size"]),
        Row("propagation: `RiskModel.compute` (propagate, exposures)", analysed["compute_s"]),
        Row(
            "impact of one system in process: `impact.analyse`, fresh lookups",
            one["p50_ms"] / 1000,
            dependents,
            anchor_note="not measured",
            note=f"p50 of {one['n']}; {one['affected_p50']:.0f} affected assets; "
            "anchor: bare pyoxigraph `dependents` query of the same node",
        ),
    ]


# -- 3. over HTTP, next to the bare worker -----------------------------------------------------


def named_queries() -> dict:
    from aimsgraph.records.queries import load_all

    return load_all()


def served(
    store_dir: Path, values: dict[str, str], analysed: dict, options: Options, phases: set[str], systems: int = 0
) -> tuple[list[Row], list[Row], float | None]:
    """Start the production service (and the bare worker) on the store: (query rows, service
    rows, the bare p50 of the ``dependents`` query, the anchor of the impact row)."""
    started = time.perf_counter()
    server = start_service(store_dir, options)
    bare = BareWorker(store_dir)
    try:
        session = requests.Session()
        nodes = analysed["nodes"]
        # the first impact answer waits for the risk model the service builds at start
        session.post(server.url + "/api/impact", json={"node": nodes[0]}, timeout=options.start_timeout).raise_for_status()
        service_rows = []
        if "start" in phases:
            service_rows.append(
                Row(
                    "service start on this store: `aimsgraph serve --production` to first impact answer",
                    time.perf_counter() - started,
                    note="opens the store, builds the risk model",
                )
            )
        query_rows, dependents = [], None
        if "queries" in phases:
            log(systems, "named queries, HTTP and bare pyoxigraph alternating")
            for name, named in named_queries().items():
                row, bare_p50 = query_row(session, server.url, bare, named, values, options)
                query_rows.append(row)
                dependents = bare_p50 if name == "dependents" else dependents
        if "sparql" in phases:
            log(systems, f"/sparql load: {options.concurrency} clients")
            service_rows += sparql_load_rows(server.url, bare, options)
        if "impact" in phases:
            log(systems, f"/api/impact load: {options.concurrency} clients")
            service_rows += impact_load_rows(server.url, nodes, analysed["impact_anchor"], options)
        if "mixed" in phases:
            log(systems, f"mixed load: {options.mixed_clients} clients for {options.mixed_seconds:g} s")
            service_rows += mixed_rows(server.url, analysed, options)
        return query_rows, service_rows, dependents
    finally:
        bare.stop()
        server.stop()


def start_service(store_dir: Path, options: Options):
    """``aimsgraph serve --production`` on the store: the query time limit of the options, no
    result limit (the anchor serialises whole answers, so the service must too), the editor
    token the route plan sends."""
    return start_server(
        store_dir,
        options.start_timeout,
        command=production_command,
        AIMSGRAPH_QUERY_TIMEOUT=f"{options.query_timeout:g}",
        AIMSGRAPH_RESULT_LIMIT=str(UNLIMITED_ROWS),
        AIMSGRAPH_TOKENS=routes.TOKENS_SETTING,
    )


def served_copy(
    store_dir: Path, workdir: Path, route_values: dict[str, str], options: Options, phases: set[str], systems: int = 0
) -> list[Row]:
    """A second production service, on a copy of the store when the routes' writes are
    measured: the start to the first dashboard answer, then every call of the route plan."""
    copy = workdir / "store-copy" if "routes" in phases else store_dir
    if copy != store_dir:
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(store_dir, copy)
    rows = []
    try:
        started = time.perf_counter()
        server = start_service(copy, options)
        try:
            try:
                first = requests.get(server.url + "/", headers=routes.HTML, timeout=options.start_timeout)
                seconds, how = time.perf_counter() - started, f"HTTP {first.status_code}, {len(first.content):,} bytes"
            except requests.RequestException as exc:
                seconds, how = None, f"{type(exc).__name__}: {exc}"
            if "start" in phases:
                rows.append(
                    Row(
                        "service start on this store: `aimsgraph serve --production` to first dashboard answer",
                        seconds,
                        value_note="failed" if seconds is None else "",
                        note=f"GET / (Accept: text/html), {how}; opens the store, builds the risk model",
                    )
                )
            if "routes" in phases:
                log(systems, f"routes: {len(routes.PLAN)} calls, up to {options.route_runs} runs each")
                results = routes.measure_routes(
                    server.url, route_values, options.route_runs, options.route_timeout, log=lambda message: log(systems, message)
                )
                rows += [route_row(result) for result in results]
        finally:
            server.stop()
    finally:
        if copy != store_dir:
            shutil.rmtree(copy, ignore_errors=True)
    return rows


def route_row(result: routes.RouteResult) -> Row:
    judged = routes.judged(result)
    return Row(
        result.call.metric,
        judged["p50"],
        note=judged["note"],
        value_note=judged["missing"],
        p99=judged["p99"],
        size=judged["size"],
        goal=judged["goal"],
        goal_met=judged["goal_met"],
    )


def http_call(session: requests.Session, url: str, named, bound: dict[str, str], timeout: float) -> requests.Response:
    """A named query as a client sends it: POST /sparql with the text; a query with parameters
    through /api/queries/NAME, which binds them as pyoxigraph substitutions (/sparql takes no
    bindings, and splicing an IRI into the text would change the query)."""
    if bound:
        response = session.get(f"{url}/api/queries/{named.name}", params=bound, headers={"Accept": ACCEPT}, timeout=timeout)
    else:
        response = session.post(
            url + "/sparql",
            data=named.text.encode(),
            timeout=timeout,
            headers={"Content-Type": "application/sparql-query", "Accept": ACCEPT},
        )
    response.raise_for_status()
    return response


def query_row(session, url: str, bare: BareWorker, named, values: dict[str, str], options: Options) -> tuple[Row, float | None]:
    """One named query: a warm-up on each side, then HTTP and bare runs alternating, so that both
    see the machine in the same state (p50 of each); returns the row and the bare p50."""
    metric = f"query `{named.name}`"
    missing = [p.name for p in named.parameters if p.required and p.name not in values]
    if missing:
        return Row(
            metric, None, value_note="not run", anchor_note="not run", note=f"no value for its parameter {', '.join(missing)}"
        ), None
    bound = {p.name: values[p.name] for p in named.parameters if p.required}  # optional ones stay unbound
    ours = _HttpSide(session, url, named, bound, options.query_timeout)
    anchor = _BareSide(bare, {"query": named.name, "values": bound}, options.query_timeout)
    counted = anchor.count()  # also the bare side's warm-up
    if "timeout" in counted:  # the same engine would overrun in the service too: spare the time
        ours.missing = "not run (the bare run timed out)"
    else:
        ours.warm_up()
    rounds = max(1, min(options.runs, int(QUERY_BUDGET_S / max(ours.longest, anchor.longest, 1e-3))))
    for _ in range(rounds):
        if len(ours.samples) < rounds:  # a long first HTTP run already counts as one
            ours.run()
        anchor.run()
    how = f"GET /api/queries/{named.name}?{'&'.join(bound)}=..." if bound else "POST /sparql"
    note = f"{how}; {counted['rows']:,} rows" if "rows" in counted else how
    if ours.p50 is not None or anchor.p50 is not None:
        note += f"; p50 of {len(ours.samples)} / {len(anchor.samples)}"
    if ours.cut:
        note += f"; HTTP answer cut at {int(ours.cut):,} rows"
    row = Row(metric, ours.p50, anchor.p50, note=note, value_note=ours.missing, anchor_note=anchor.missing)
    return row, anchor.p50


class _Side:
    """The timed runs of one side of a query row, and why it has no figure if it has none."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.samples: list[float] = []
        self.missing = ""
        self.longest = 0.0  # the warm-up's time, which sets how many runs fit the budget

    @property
    def p50(self) -> float | None:
        return statistics.median(self.samples) if self.samples and not self.missing else None


class _HttpSide(_Side):
    def __init__(self, session, url: str, named, bound: dict[str, str], timeout: float) -> None:
        super().__init__(timeout)
        self.call = lambda: http_call(session, url, named, bound, timeout + 30)  # the service stops at timeout
        self.cut = ""  # the service's result limit, when it cut the answer

    def warm_up(self) -> None:
        seconds = self._timed()
        if seconds is not None:
            self.longest = seconds
            if seconds > WARM_UP_S:  # a long first run is warm already
                self.samples.append(seconds)

    def run(self) -> None:
        seconds = self._timed() if not self.missing else None
        if seconds is not None:
            self.samples.append(seconds)

    def _timed(self) -> float | None:
        try:
            response, seconds = timed(self.call)
        except requests.RequestException as exc:
            response = getattr(exc, "response", None)
            timed_out = response is not None and response.status_code == 503
            self.missing = f"timed out after {self.timeout:g} s" if timed_out else f"failed: {type(exc).__name__}: {exc}"
            return None
        self.cut = response.headers.get("X-Aimsgraph-Result-Truncated", "")
        return seconds


class _BareSide(_Side):
    def __init__(self, bare: BareWorker, job: dict, timeout: float) -> None:
        super().__init__(timeout)
        self.bare, self.job = bare, job

    def count(self) -> dict:
        counted, self.longest = timed(self.bare.run, {**self.job, "op": "count"}, self.timeout)
        if "rows" not in counted:
            self.missing = _why(counted, self.timeout)
        return counted

    def run(self) -> None:
        if self.missing:
            return
        reply = self.bare.run({**self.job, "op": "run"}, self.timeout)
        if "seconds" in reply:
            self.samples.append(reply["seconds"])
        else:
            self.missing = _why(reply, self.timeout)


def _why(reply: dict, timeout: float) -> str:
    return f"timed out after {timeout:g} s" if "timeout" in reply else f"failed: {reply.get('error')}"


def sparql_load_rows(url: str, bare: BareWorker, options: Options) -> list[Row]:
    """Bounded concurrent load on /sparql: ``options.concurrency`` client threads, a Session
    each, a small SELECT, then an ASK; each next to the same from as many threads on bare pyoxigraph."""
    from aimsgraph.records.queries import NamedQuery

    timeout = options.query_timeout + 30
    where = f"production server; {options.concurrency} client threads, {options.requests} requests, loopback"
    rows = []
    for what, named, job in (
        (f"HTTP `/sparql` (`{LOAD_QUERY}`)", named_queries()[LOAD_QUERY], {"query": LOAD_QUERY}),
        ("HTTP `/sparql` (ASK)", NamedQuery("ask", LOAD_ASK), {"text": LOAD_ASK}),
    ):

        def sparql_client(named=named) -> Callable[[int], object]:
            session = requests.Session()
            return lambda i: http_call(session, url, named, {}, timeout)

        bare_load = bare.run(
            {"op": "load", **job, "concurrency": options.concurrency, "requests": options.requests},
            options.query_timeout * options.requests,
        )
        measured = load_test(sparql_client, options.concurrency, options.requests)
        rows += _load_rows(
            what, measured, bare_load, f"{where}; anchor: bare pyoxigraph, {options.concurrency} threads in one process"
        )
    return rows


def impact_load_rows(url: str, nodes: list[str], impact_anchor: dict, options: Options) -> list[Row]:
    """Bounded concurrent load on /api/impact over ``nodes``, each asked once first."""
    timeout = options.query_timeout + 30

    def impact_client() -> Callable[[int], object]:
        session = requests.Session()
        return lambda i: session.post(
            url + "/api/impact", json={"node": nodes[i % len(nodes)]}, timeout=timeout
        ).raise_for_status()

    warm = impact_client()
    for i in range(len(nodes)):  # every node once: the service's lookups as warm as the anchor's
        warm(i)
    impacts = load_test(impact_client, options.concurrency, options.requests)
    where = f"production server; {options.concurrency} client threads, {options.requests} requests, loopback"
    return _load_rows(
        "HTTP `/api/impact` (systems, models, datasets)",
        impacts,
        impact_anchor,
        f"{where}, {len(nodes)} nodes; anchor: `impact.analyse` in process, {options.concurrency} threads, memoised lookups",
    )


def mixed_rows(url: str, analysed: dict, options: Options) -> list[Row]:
    """The mixed load (``routes.mixed_load``): throughput, p50 and p99 over every answered
    request; the requests, the errors and each kind's figures in the notes."""
    measured = routes.mixed_load(
        url,
        analysed["nodes"],
        analysed["systems"],
        options.mixed_clients,
        options.mixed_seconds,
        options.mixed_requests,
        options.mixed_timeout,
    )
    what = f"mixed load ({options.mixed_clients} clients, {options.mixed_seconds:g} s)"
    sent = measured["answered"] + measured["errors"]
    note = (
        f"{sent:,} requests in {measured['seconds']:.1f} s, {measured['errors']:,} errors (a status outside 2xx, "
        f"or no answer within {options.mixed_timeout:g} s)"
    )
    if measured["first_errors"]:
        note += f" such as {'; '.join(measured['first_errors'])}"
    note += (
        "; production server, loopback; 70 % named queries (GET /api/queries/NAME, cheap to moderate, "
        "random assets), 20 % POST /api/impact (random assets), 10 % pages (/, /systems, /findings, /due, "
        "/heatmap, /asset)"
    )
    kinds = []
    for kind, figures in measured["kinds"].items():
        text = f"{kind}: {figures['answered']:,} answered, {figures['errors']:,} errors"
        if "p50_ms" in figures:
            text += f", p50 {format_seconds(figures['p50_ms'] / 1000)}, p99 {format_seconds(figures['p99_ms'] / 1000)}"
        kinds.append(text)
    rows = [Row(f"{what}: throughput", measured["throughput"], unit="req/s", note=note)]
    for key, label in (("p50_ms", "p50"), ("p99_ms", "p99")):
        value = measured.get(key)
        rows.append(
            Row(
                f"{what}: {label} latency",
                value / 1000 if value is not None else None,
                value_note="" if value is not None else "every request failed",
                note="; ".join(kinds) if label == "p50" else "",
            )
        )
    return rows


def _load_rows(what: str, measured: dict, anchor: dict, note: str) -> list[Row]:
    if measured["errors"]:
        note += f"; {measured['errors']} failed ({measured['first_error']})"
    missing = "" if "throughput" in anchor else _why(anchor, 0)
    rows = [
        Row(f"{what}: throughput", measured["throughput"], anchor.get("throughput"), unit="req/s", note=note, anchor_note=missing)
    ]
    for key, label in (("p50_ms", "p50"), ("p99_ms", "p99")):
        value, base = measured.get(key), anchor.get(key)
        rows.append(
            Row(
                f"{what}: {label} latency",
                value / 1000 if value is not None else None,
                base / 1000 if base is not None else None,
                anchor_note=missing,
                value_note="" if value is not None else "every request failed",
            )
        )
    return rows


# -- 4. validation and reasoning in process ----------------------------------------------------


def validation_in_process(store, systems: int, options: Options) -> tuple[dict, list]:
    """Full validation (checking alone, then ``validate_full`` with storing), and incremental
    validation of one system after a one-triple change to it (undone after each sample)."""
    from aimsgraph import clock
    from aimsgraph.semantics import validation

    findings, check_s = timed(validation.validate_store, store, clock.today())
    full_s = timed(validation.validate_full, store)[1]
    samples, affected = [], []
    comment = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#comment")
    for k in range(options.runs):
        if sum(samples) >= STEP_BUDGET_S:
            break
        system = f"{BASE}system/{(systems // 2 + 37 * k) % systems}"
        quad = ox.Quad(ox.NamedNode(system), comment, ox.Literal("benchmark change"), ox.NamedNode(DATA_GRAPH))
        affected.append(len(validation.affected_nodes(store, [system])))
        store.backend.add(quad)
        samples.append(timed(validation.validate_changed, store, [system])[1])
        store.backend.remove(quad)
        validation.validate_changed(store, [system])  # the stored findings as they were
    store.flush()
    ours = sorted([f.severity, f.focus, f.shape, f.path, f.value] for f in findings)
    return {"check_s": check_s, "full_s": full_s, "incremental": samples, "affected": affected, "findings": len(findings)}, ours


def validation_rows(checked: tuple[dict, list], store_dir: Path, options: Options) -> list[Row]:
    from benchmarks.validation import pyshacl_reference

    measured, ours = checked
    reference = pyshacl_reference(store_dir, options.pyshacl_timeout)
    if "timeout" in reference:
        anchor, anchor_note, same = None, f"timed out after {options.pyshacl_timeout:g} s", ""
    else:
        anchor, anchor_note = reference["total"], ""
        same = "; same findings as pyshacl" if sorted(reference["findings"]) == ours else "; findings DIFFER from pyshacl"
        same += f" (its extraction {format_seconds(reference['extract'])})"
    incremental = percentiles(measured["incremental"])
    return [
        Row(
            "full validation, checking: `validation.validate_store`",
            measured["check_s"],
            anchor,
            anchor_note=anchor_note,
            note=f"{measured['findings']:,} findings; anchor: whole-graph pyshacl incl. extraction{same}",
        ),
        Row(
            "full validation with storing the findings: `validation.validate_full`",
            measured["full_s"],
            anchor,
            anchor_note=anchor_note,
        ),
        Row(
            "incremental validation of one changed system: `validation.validate_changed`",
            incremental["p50_ms"] / 1000,
            measured["check_s"],
            note=f"p50 of {incremental['n']}, max {format_seconds(incremental['max_ms'] / 1000)}; "
            f"{statistics.median(measured['affected']):.0f} affected focus nodes (median); "
            "anchor: the full check above",
        ),
        stateless_demo_row(options),
    ]


def stateless_demo_row(options: Options) -> Row:
    """``aimsgraph validate data/demo/`` (no store) in a new process each run, as a pre-commit
    hook runs it: Python's start and imports included (issue 23: at most 2 s on 2 cores)."""
    import subprocess

    from aimsgraph import resources
    from aimsgraph.store.demo import REFERENCE_DATE

    demo = resources.path("data", "demo")
    command = [sys.executable, "-m", "aimsgraph.cli", "validate", str(demo), "--as-of", REFERENCE_DATE.isoformat()]
    command += ["--fail-on", "none", "--format", "sarif"]
    runs = [timed(subprocess.run, command, check=True, capture_output=True)[1] for _ in range(options.runs)]
    seconds = statistics.median(runs)
    return Row(
        "stateless validate of the demo files: `aimsgraph validate data/demo/` (a new process)",
        seconds,
        note=f"p50 of {len(runs)} runs, Python's start included; SARIF output; the demo's 6 Turtle files read, "
        f"reasoned and validated in memory; goal {'met' if seconds <= 2.0 else '**missed**'}",
        goal="at most 2 s (issue 23)",
        goal_met=seconds <= 2.0,
    )


def reasoning_in_process(store, systems: int, options: Options) -> dict:
    """Closure of the premises, a full refresh (inferred graph current: compute and compare),
    and incremental refreshes after one-triple writes, each undone."""
    from aimsgraph.semantics import reasoning
    from benchmarks.reasoning import DATA, one_change_edges

    premises, read_s = timed(reasoning.premises, store)
    inferred, closures = repeat(reasoning.fast_inferences, options.runs, premises)
    refresh = repeat(reasoning.refresh_inferences, options.runs, store)[1]
    incremental = []
    for edge in one_change_edges(systems):  # one system starts, then stops, consuming another's output
        store.backend.add(ox.Quad(*edge, DATA))
        incremental.append(timed(reasoning.update_inferences, store, {edge}, set())[1])
        store.backend.remove(ox.Quad(*edge, DATA))
        incremental.append(timed(reasoning.update_inferences, store, set(), {edge})[1])
    store.flush()
    return {
        "premises": len(premises),
        "inferred": len(inferred),
        "read_s": read_s,
        "closure_s": statistics.median(closures),
        "refresh_s": statistics.median(refresh),
        "incremental": incremental,
    }


def reasoning_rows(measured: dict, store_dir: Path, options: Options) -> list[Row]:
    from benchmarks.reasoning import owlrl_reference

    reference = owlrl_reference(store_dir, options.owlrl_timeout)
    if "timeout" in reference:
        anchor, anchor_note, same = None, f"timed out after {options.owlrl_timeout:g} s", ""
    else:
        anchor, anchor_note = reference["closure_s"], ""
        same = (
            "; same count as owlrl"
            if reference["inferred"] == measured["inferred"]
            else f"; owlrl inferred {reference['inferred']:,}"
        )
    incremental = percentiles(measured["incremental"])
    return [
        Row(
            "reasoning closure: `reasoning.fast_inferences`",
            measured["closure_s"],
            anchor,
            anchor_note=anchor_note,
            note=f"{measured['premises']:,} premises (read in {format_seconds(measured['read_s'])}), "
            f"{measured['inferred']:,} inferred; anchor: owlrl OWL 2 RL closure{same}",
        ),
        Row(
            "reasoning refresh, graph current: `reasoning.refresh_inferences`",
            measured["refresh_s"],
            anchor,
            anchor_note=anchor_note,
            note="read, compute, compare digests; anchor: owlrl closure alone",
        ),
        Row(
            "reasoning after a one-triple write: `reasoning.update_inferences`",
            incremental["p50_ms"] / 1000,
            measured["refresh_s"],
            note=f"p50 of {incremental['n']} (3 edges added, then removed), max "
            f"{format_seconds(incremental['max_ms'] / 1000)}; anchor: the full refresh above",
        ),
    ]


def repeat(function, runs: int, *args) -> tuple[object, list[float]]:
    """Up to ``runs`` timed calls, fewer once STEP_BUDGET_S is spent: (the last result, seconds each)."""
    samples: list[float] = []
    while True:
        result, seconds = timed(function, *args)
        samples.append(seconds)
        if len(samples) >= runs or sum(samples) >= STEP_BUDGET_S:
            return result, samples


def format_seconds(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"
