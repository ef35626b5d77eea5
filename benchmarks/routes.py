"""A row for every route: what the harness sends to each rule of the service's URL map, and the
goals of issue 18 each answer is held to.

``PLAN`` is declarative: one ``Call`` per request the harness times, naming the URL rule it
exercises (``method``, ``rule``), the path and query parameters with ``$placeholders`` filled
from the organisation in the store (``plan_values``: a system, one of its models, a dataset it is
trained on, one of its risks) and from the run (``$n`` a number unique to the request, ``$at`` a
moment in the past), headers (``Accept: text/html`` for pages), a body for writes, whether it
needs the editor token, an untimed request to make before each timed one (``prepare``: the
graph a DELETE removes, the concern a triage decides), and its goal. ``SETUP`` runs once
before (a metric for the measurements to be of). ``tests/test_benchmarks.py`` fails when a
rule of the URL map has no call here, or a call names a rule that is gone, and sends every call
once to the demo through Flask's test client.

``measure_routes`` times the plan against a running service (reads first, then writes, the
derived graphs settled before each write route): a warm-up, then up to ``runs`` sequential
requests within ``ROUTE_BUDGET_S``, p50, p99 and the size of the answer. ``mixed_load`` is the
mixed workload of issue 18 (``MIXED``): many clients for a bounded time, 70 % named queries,
20 % impact analyses, 10 % pages.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Template

import requests

from benchmarks.common import percentiles, timed

AIMS = "https://w3id.org/aimsgraph/ontology#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
DATA_GRAPH = "https://w3id.org/aimsgraph/graph/data"
#: The graph the Graph Store writes go to: the harness's own, outside the record.
SCRATCH_GRAPH = "https://bench.example/graph/scratch"
#: The editor token the harness configures (``AIMSGRAPH_TOKENS=editor:bench:TOKEN``).
TOKEN = "bench-editor-token-0123456789"
TOKENS_SETTING = f"editor:bench:{TOKEN}"
#: A small SELECT (the service's cheapest named query) and an ASK.
SMALL_QUERY = "annex-a-controls"
ASK = f"ASK {{ ?system a <{AIMS}AISystem> }}"
#: Each call gets about this many seconds of timed runs after its warm-up (at least one run).
ROUTE_BUDGET_S = 20.0
#: A warm-up longer than this counts as a sample (a slow page is warm after one run).
WARM_UP_S = 1.0
#: Seconds to wait for the derived graphs to catch up before a write route.
SETTLE_S = 600.0
HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}
SPARQL_JSON = {"Accept": "application/sparql-results+json"}


@dataclass(frozen=True)
class Goal:
    """A target of issue 18: p50 (and p99, size) at most these."""

    name: str
    p50: float
    p99: float | None = None
    size: int | None = None

    def text(self) -> str:
        parts = [f"p50 ≤ {_ms(self.p50)}"]
        if self.p99 is not None:
            parts.append(f"p99 ≤ {_ms(self.p99)}")
        if self.size is not None:
            parts.append(f"≤ {self.size / 1_000_000:g} MB")
        return ", ".join(parts)

    def met(self, p50: float, p99: float | None, size: int | None) -> bool:
        return (
            p50 <= self.p50
            and (self.p99 is None or (p99 is not None and p99 <= self.p99))
            and (self.size is None or (size is not None and size <= self.size))
        )


GOALS = {
    "page": Goal("pages (HTML)", 0.300, size=1_000_000),
    "asset": Goal("/asset", 0.200, size=1_000_000),
    "api": Goal("REST", 0.100, p99=1.0),
    "impact": Goal("/api/impact", 0.030, p99=0.300),
}
#: Calls with no goal say why (issue 18 exempts full validation, imports, exports and reports).
EXEMPT = ("full validation", "import", "export", "report")


@dataclass(frozen=True)
class Call:
    """One request the harness times for a URL rule. Strings may hold ``$name`` placeholders."""

    method: str
    rule: str
    path: str = ""  # the rule with its arguments filled; the rule itself when empty
    params: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    json: object = None
    body: str | None = None
    content_type: str | None = None
    form: dict | None = None
    editor: bool = False
    goal: str = "api"  # a key of GOALS, or one of EXEMPT
    label: str = ""  # what tells two calls of one rule apart in the report
    prepare: Call | None = None  # untimed, before each timed request
    capture: tuple[str, tuple[str, ...]] | None = None  # (name, JSON path) from the prepare's answer

    @property
    def write(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH", "DELETE") and self.editor

    @property
    def metric(self) -> str:
        return f"route {self.method} {self.rule}" + (f" {self.label}" if self.label else "")


def _page(rule: str, label: str = "", goal: str = "page", **params: str) -> Call:
    return Call("GET", rule, params=params, headers=HTML, goal=goal, label=label)


METRIC_TTL = f"""@prefix aims: <{AIMS}> . @prefix rdfs: <{RDFS}> .
<https://bench.example/org/metric/bench> a aims:Metric ; rdfs:label "Benchmark metric"@en ;
    aims:measures <$system> ; aims:watchesRisk <$risk> ; aims:threshold 0.5 ; aims:thresholdDirection "lower" .
<https://bench.example/org/change/bench> a aims:PlannedChange ; rdfs:label "Benchmark change"@en ; aims:changeTarget <$system> ."""
#: A planned change the approval calls sign off (it has no shape: never blocked by a Violation).
PLANNED_CHANGE = "https://bench.example/org/change/bench"
#: Requests made once before the plan (editor): what the writes refer to.
SETUP = (Call("POST", "/api/import", params={"kind": "rdf"}, body=METRIC_TTL, content_type="text/turtle", editor=True),)
#: A record of one AI system, sent to be validated without being stored: a scratch store a request.
UPLOADED_TTL = f"""@prefix aims: <{AIMS}> . @prefix rdfs: <{RDFS}> .
<https://bench.example/upload/system> a aims:AISystem ; rdfs:label "Uploaded system"@en ."""
SCRATCH_TTL = '<https://bench.example/org/scratch/$n> <http://www.w3.org/2000/01/rdf-schema#label> "scratch $n" .'
PUT_SCRATCH = Call(
    "PUT", "/rdf-graph-store", params={"graph": SCRATCH_GRAPH}, body=SCRATCH_TTL, content_type="text/turtle", editor=True
)
NEW_CONCERN = Call(
    "POST", "/api/concerns", json={"description": "Benchmark concern $n", "anonymous": True, "concerns": "$system"}, editor=True
)

#: The evidence form with a name only (its field key comes from the shapes, as the page's does).
EVIDENCE_FORM = {"kind": "Evidence", "f_label_" + format(zlib.crc32((RDFS + "label").encode()), "x"): "Benchmark evidence $n"}

#: The first task of the work list (untimed): what the task calls read and change.
FIRST_TASK = Call("GET", "/api/tasks", params={"pageSize": "1"})

PLAN: tuple[Call, ...] = (
    # pages
    _page("/", "(dashboard)"),
    _page("/systems"),
    _page("/findings"),
    _page("/findings", "?system=", system="$system"),
    _page("/due"),
    _page("/my-work"),
    _page("/heatmap"),
    _page("/soa"),
    _page("/eu-ai-act"),
    _page("/eu-ai-act", "?node=", node="$system"),
    _page("/readiness"),
    _page("/suggestions"),
    _page("/suggestions", "?system=", system="$system"),
    _page("/readiness", "?framework=eu-ai-act", framework="eu-ai-act"),
    _page("/query"),
    _page("/impact", "?node=", node="$system"),
    _page("/asset", "?iri=system", goal="asset", iri="$system"),
    _page("/asset", "?iri=model", goal="asset", iri="$model"),
    _page("/asset", "?iri=dataset", goal="asset", iri="$dataset"),
    _page("/records/new", "?kind=Risk", kind="Risk"),
    _page("/records/edit", "?iri=system", iri="$system"),
    _page("/approvals", "?about=change", about=PLANNED_CHANGE),
    _page("/login"),
    Call("POST", "/login", form={"token": TOKEN, "next": "/systems"}, goal="page", label="(the editor token)"),
    Call("POST", "/logout", goal="page"),
    Call("POST", "/records/save", form={**EVIDENCE_FORM, "action": "check"}, editor=True, goal="page", label="(check)"),
    Call("POST", "/records/save", form={**EVIDENCE_FORM, "action": "save"}, editor=True, goal="page", label="(save)"),
    Call("POST", "/approvals", form={"about": PLANNED_CHANGE}, editor=True, goal="page"),
    Call("GET", "/api/approvals", params={"about": PLANNED_CHANGE}),
    Call("GET", "/api/notifications"),
    Call("POST", "/api/approvals", json={"about": PLANNED_CHANGE}, editor=True),
    Call("GET", "/static/<path:filename>", path="/static/$static", goal="api"),
    Call("GET", "/favicon.ico"),
    # REST questions
    Call("GET", "/api/health"),
    Call("GET", "/api/graphs"),
    Call("GET", "/api/openapi.json"),
    Call("GET", "/api/docs", headers=HTML, goal="page"),
    Call("GET", "/api/queries"),
    Call(
        "GET",
        "/api/queries/<name>",
        path="/api/queries/dependents",
        params={"node": "$system"},
        headers=SPARQL_JSON,
        label="(dependents?node=)",
    ),
    Call("GET", "/sparql", params={"query": ASK}, headers=SPARQL_JSON, label="(ASK)"),
    Call(
        "POST",
        "/sparql",
        body="$small_query",
        content_type="application/sparql-query",
        headers=SPARQL_JSON,
        label=f"({SMALL_QUERY})",
    ),
    Call("GET", "/api/impact", params={"node": "$system"}, goal="impact"),
    Call("POST", "/api/impact", json={"node": "$system"}, goal="impact"),
    Call("GET", "/api/concentration"),
    Call("GET", "/api/eu-ai-act"),
    Call("GET", "/api/readiness"),
    Call("GET", "/api/eu-ai-act", params={"node": "$system"}, label="?node="),
    Call(
        "POST",
        "/api/eu-ai-act/what-if",
        json={"node": "$system", "add": [{"predicate": "https://w3id.org/aimsgraph/ontology#inEUScope", "value": True}]},
    ),
    Call("GET", "/api/findings"),
    Call("GET", "/api/findings", params={"system": "$system"}, label="?system="),
    Call("GET", "/api/due"),
    Call("GET", "/api/tasks"),
    Call("GET", "/api/tasks/<task_id>", path="/api/tasks/$task", prepare=FIRST_TASK, capture=("task", ("tasks", 0, "id"))),
    Call("GET", "/api/soa"),
    Call("GET", "/api/changes"),
    Call("GET", "/api/changes/diff", params={"from": "$since"}, label="?from= (the phase's start)"),
    # exports and reports (no goal)
    Call("GET", "/api/changes/snapshot", params={"at": "$since"}, goal="export", label="?at= (the data graph)"),
    Call(
        "GET",
        "/rdf-graph-store",
        params={"graph": DATA_GRAPH},
        headers={"Accept": "application/n-triples"},
        goal="export",
        label="?graph=data",
    ),
    Call("GET", "/api/export/dcat", goal="export"),
    Call("GET", "/api/export/oscal/<kind>", path="/api/export/oscal/component-definition", goal="export", label="components"),
    Call("GET", "/api/export/oscal/<kind>", path="/api/export/oscal/catalog", goal="export", label="catalog"),
    Call("GET", "/api/export/oscal/<kind>", path="/api/export/oscal/poam", goal="export", label="poam"),
    Call("GET", "/api/export/xlsx", goal="export"),
    Call("GET", "/api/due.ics", goal="export"),
    Call("GET", "/api/tasks.ics", goal="export"),
    Call("GET", "/soa.csv", goal="export"),
    Call("GET", "/api/review-pack", goal="report"),
    # writes (editor), after the reads
    Call("POST", "/api/validate", json={"changed": ["$system"]}, editor=True, label="(changed: one system)"),
    Call("POST", "/api/validate", editor=True, goal="full validation", label="(full)"),
    Call("POST", "/api/validate", body=UPLOADED_TTL, content_type="text/turtle", editor=True, label="(an uploaded record)"),
    Call(
        "POST",
        "/api/measurements",
        editor=True,
        json=[{"metric": "https://bench.example/org/metric/bench", "value": 0.9, "measuredAt": "$at"}],
    ),
    Call(
        "POST",
        "/api/incidents",
        editor=True,
        json={"label": "Benchmark incident $n", "occurredAt": "$at", "systems": ["$system"]},
    ),
    NEW_CONCERN,
    Call(
        "POST",
        "/api/concerns/triage",
        editor=True,
        prepare=NEW_CONCERN,
        capture=("concern", ("report", "concern")),
        json={"concern": "$concern", "into": "finding", "label": "Benchmark finding $n"},
    ),
    Call(
        "POST",
        "/api/tasks/<task_id>",
        path="/api/tasks/$task",
        editor=True,
        prepare=FIRST_TASK,
        capture=("task", ("tasks", 0, "id")),
        json={"status": "in-progress"},
    ),
    Call(
        "PATCH",
        "/api/tasks/<task_id>",
        path="/api/tasks/$task",
        editor=True,
        prepare=FIRST_TASK,
        capture=("task", ("tasks", 0, "id")),
        json={"note": "Benchmark note $n"},
    ),
    Call(
        "POST",
        "/my-work/status",
        editor=True,
        goal="page",
        prepare=FIRST_TASK,
        capture=("task", ("tasks", 0, "id")),
        form={"task": "$task", "status": "in-progress"},
    ),
    Call("POST", "/api/impact/tasks", editor=True, json={"node": "$system", "change": "retire"}),
    Call(
        "POST",
        "/api/lineage",
        editor=True,
        json={
            "eventType": "COMPLETE",
            "eventTime": "$at",
            "run": {"runId": "$uuid"},
            "job": {"namespace": "bench", "name": "bench.job"},
            "inputs": [{"namespace": "bench://lake", "name": "input.$n"}],
            "outputs": [{"namespace": "bench://lake", "name": "output.$n"}],
        },
    ),
    Call(
        "POST",
        "/api/import",
        params={"kind": "rdf"},
        content_type="text/turtle",
        editor=True,
        goal="import",
        body='<https://bench.example/org/imported/$n> <http://www.w3.org/2000/01/rdf-schema#label> "imported $n" .',
        label="?kind=rdf (one triple)",
    ),
    Call(
        "POST",
        "/update",
        content_type="application/sparql-update",
        editor=True,
        body='INSERT DATA { <https://bench.example/org/updated/$n> <http://www.w3.org/2000/01/rdf-schema#label> "updated $n" }',
    ),
    PUT_SCRATCH,
    Call("POST", "/rdf-graph-store", params={"graph": SCRATCH_GRAPH}, body=SCRATCH_TTL, content_type="text/turtle", editor=True),
    Call("DELETE", "/rdf-graph-store", params={"graph": SCRATCH_GRAPH}, editor=True, prepare=PUT_SCRATCH),
)


def url_rules(app) -> set[tuple[str, str]]:
    """(method, rule) of every rule of a Flask app's URL map (HEAD and OPTIONS are Flask's)."""
    return {(method, rule.rule) for rule in app.url_map.iter_rules() for method in rule.methods - {"HEAD", "OPTIONS"}}


#: Routes the harness cannot time on its own, and why: they answer only within a sign-in at an
#: OpenID provider, which the harness does not run (tests/test_oidc.py drives them).
UNTIMED = {
    ("GET", "/login/oidc"): "needs an OpenID provider",
    ("GET", "/login/oidc/callback"): "needs an OpenID provider",
}


def planned() -> set[tuple[str, str]]:
    return {(call.method, call.rule) for call in PLAN} | set(UNTIMED)


# -- filling in -----------------------------------------------------------------------------------


def plan_values(store, system: str | None = None) -> dict[str, str]:
    """The values the plan's placeholders take from the record: ``system`` (the given one, else
    the first system with a model trained on a dataset and a risk), one of its models, a
    dataset that model is trained on, one of its risks; and the rest the plan needs."""
    import pyoxigraph as ox

    from aimsgraph.records.queries import load_all

    chosen = f"VALUES ?system {{ <{system}> }}" if system else ""
    rows = list(
        store.backend.query(
            f"""SELECT ?system ?model ?dataset ?risk WHERE {{ {chosen}
        ?system a <{AIMS}AISystem> ; <{AIMS}usesModel> ?model ; <{AIMS}hasRisk> ?risk .
        ?model <{AIMS}trainedOn> ?dataset }} ORDER BY ?system ?model ?dataset ?risk LIMIT 1""",
            use_default_graph_as_union=True,
        )
    )
    if not rows:
        raise RuntimeError(f"no system {system or ''} with a model trained on a dataset and a risk in the store")
    found = {name: rows[0][name].value for name in ("system", "model", "dataset", "risk")}
    assert all(isinstance(rows[0][name], ox.NamedNode) for name in found)
    return {
        **found,
        "static": static_file(),
        "small_query": load_all()[SMALL_QUERY].text,
        "token": TOKEN,
        "since": datetime.now(UTC).isoformat(),
    }


def static_file() -> str:
    """A file the web blueprint serves from /static (its stylesheet)."""
    import aimsgraph.http.web

    return min(p.name for p in (Path(aimsgraph.http.web.__file__).parent / "static").glob("*.css"))


_numbers = itertools.count(1)


def run_values(values: dict[str, str]) -> dict[str, str]:
    """``values`` and what each request needs unique: ``$n``, ``$uuid``, ``$at`` (a past moment)."""
    n = next(_numbers)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1) + timedelta(seconds=n)
    return {**values, "n": str(n), "uuid": f"00000000-0000-4000-8000-{n:012d}", "at": at.isoformat().replace("+00:00", "Z")}


def fill(value, values: dict[str, str]):
    """``value`` with every ``$name`` in its strings replaced (KeyError names a missing one)."""
    if isinstance(value, str):
        return Template(value).substitute(values)
    if isinstance(value, dict):
        return {fill(k, values): fill(v, values) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [fill(v, values) for v in value]
    return value


@dataclass
class Request:
    """A call with its values filled: what a client sends."""

    method: str
    path: str
    params: dict
    headers: dict
    data: bytes | dict | None


def request_for(call: Call, values: dict[str, str]) -> Request:
    import json

    headers = fill(call.headers, values)
    if call.editor:
        headers["Authorization"] = f"Bearer {TOKEN}"
    data: bytes | dict | None = None
    if call.json is not None:
        data, headers["Content-Type"] = json.dumps(fill(call.json, values)).encode(), "application/json"
    elif call.body is not None:
        data, headers["Content-Type"] = fill(call.body, values).encode(), call.content_type
    elif call.form is not None:
        data = fill(call.form, values)
    return Request(call.method, fill(call.path or call.rule, values), fill(call.params, values), headers, data)


def capture(call: Call, answer_json: object, values: dict[str, str]) -> dict[str, str]:
    """``values`` with what ``call.capture`` names taken from the prepare's JSON answer."""
    if call.capture is None:
        return values
    name, path = call.capture
    for key in path:
        answer_json = answer_json[key]
    return {**values, name: answer_json}


# -- measuring over HTTP ------------------------------------------------------------------------------


class Client:
    """A ``requests`` session against a base URL; no redirects followed, no cookies kept."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url, self.timeout, self.session = url, timeout, requests.Session()

    def send(self, request: Request) -> requests.Response:
        try:
            return self.session.request(
                request.method,
                self.url + request.path,
                params=request.params,
                headers=request.headers,
                data=request.data,
                timeout=self.timeout,
                allow_redirects=False,
            )
        finally:
            self.session.cookies.clear()  # a login's session must not carry over

    def call(self, call: Call, values: dict[str, str]) -> tuple[requests.Response, float]:
        """Prepare (untimed), then the timed request."""
        values = run_values(values)
        if call.prepare is not None:
            prepared = self.send(request_for(call.prepare, run_values(values)))
            prepared.raise_for_status()
            values = capture(call, prepared.json() if call.capture else None, values)
        return timed(self.send, request_for(call, values))


@dataclass
class RouteResult:
    call: Call
    samples: list[float] = field(default_factory=list)
    size: int | None = None
    statuses: set[int] = field(default_factory=set)
    missing: str = ""  # why there is no figure
    notes: list[str] = field(default_factory=list)


def run_setup(client: Client, values: dict[str, str]) -> None:
    for call in SETUP:
        client.call(call, values)[0].raise_for_status()


def measure_call(client: Client, call: Call, values: dict[str, str], runs: int, budget: float = ROUTE_BUDGET_S) -> RouteResult:
    """A warm-up, then up to ``runs`` sequential timed requests while ``budget`` seconds last
    (at least one). A timeout or failure ends the call with a note, never an exception."""
    result = RouteResult(call)
    rounds, spent = runs, 0.0
    for k in range(runs + 1):
        if k > rounds:
            break
        try:
            response, seconds = client.call(call, values)
        except requests.Timeout:
            result.missing = f"timed out after {client.timeout:g} s"
            break
        except (requests.RequestException, KeyError, ValueError) as exc:
            result.missing = f"failed: {type(exc).__name__}: {str(exc)[:120]}"
            break
        result.statuses.add(response.status_code)
        result.size = len(response.content)
        if k == 0:  # the warm-up sets how many runs fit the budget
            rounds = max(1, min(runs, int(budget / max(seconds, 1e-3))))
            if seconds > WARM_UP_S:
                result.samples.append(seconds)
                rounds -= 1
            continue
        result.samples.append(seconds)
        spent += seconds
        if spent >= budget:
            break
    return result


def settle(client: Client, seconds: float = SETTLE_S) -> bool:
    """Wait until the derived graphs caught up with every write; False if they did not in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            derived = client.session.get(client.url + "/api/health", timeout=30).json().get("derived", {})
        except (requests.RequestException, ValueError):
            derived = None
        if (
            derived is not None
            and not derived.get("pendingWrites")
            and not derived.get("refreshing")
            and derived.get("inferredCurrent", True)
            and derived.get("analysisCurrent", True)
        ):
            return True
        time.sleep(0.05)
    return False


def measure_routes(
    url: str, values: dict[str, str], runs: int, timeout: float, log: Callable[[str], None] = lambda message: None
) -> list[RouteResult]:
    """Every call of the plan, reads first; the derived graphs settled before each write call."""
    client = Client(url, timeout)
    run_setup(client, values)
    settle(client)
    results = []
    for call in sorted(PLAN, key=lambda c: c.write):  # stable: the plan's order within each
        if call.write and not settle(client):
            log(f"{call.metric}: the derived graphs did not settle in {SETTLE_S:g} s")
        started = time.monotonic()
        result = measure_call(client, call, values, runs)
        if call.write:
            result.notes.append("derived graphs settled before the first request, not between them")
        log(f"{call.metric}: {len(result.samples)} timed in {time.monotonic() - started:.1f} s {result.missing}".rstrip())
        results.append(result)
    settle(client)
    return results


def judged(result: RouteResult) -> dict:
    """The row's figures: p50, p99, size, the goal and whether it is met, notes."""
    call, samples = result.call, result.samples
    figures = percentiles(samples) if samples and not result.missing else None
    p50 = figures["p50_ms"] / 1000 if figures else None
    p99 = nearest_rank(samples, 0.99) if figures else None
    notes = []
    if figures:
        notes.append(f"{figures['n']} run{'s' if figures['n'] != 1 else ''}")
    bad = sorted(s for s in result.statuses if not 200 <= s < 400)
    if result.statuses:
        notes.append("status " + ", ".join(str(s) for s in sorted(result.statuses)))
    if bad:
        notes.append(f"NOT A SUCCESS: {', '.join(map(str, bad))}")
    notes += result.notes
    goal = GOALS.get(call.goal)
    if goal is None:
        goal_text, met = f"none ({call.goal})", None
    else:
        goal_text = f"{goal.name}: {goal.text()}"
        met = goal.met(p50, p99, result.size) if p50 is not None and not bad else False
    return {
        "p50": p50,
        "p99": p99,
        "size": result.size,
        "goal": goal_text,
        "goal_met": met,
        "missing": result.missing,
        "note": "; ".join(notes),
    }


# -- the mixed load ------------------------------------------------------------------------------------


#: Named queries of the mixed load (cheap to moderate at 1,000 systems) and their parameters:
#: ``asset`` a random system, model or dataset, ``system`` a random system.
MIXED_QUERIES: tuple[tuple[str, dict[str, str]], ...] = (
    ("dependents", {"node": "asset"}),
    ("why-risk", {"asset": "asset"}),
    ("stakeholders-affected-by-system", {"system": "system"}),
    ("annex-a-controls", {}),
    ("record-counts", {}),
    ("high-risks-without-effective-control", {}),
    ("metric-breaches", {}),
    ("open-incidents", {}),
    ("overdue-nonconformities", {}),
    ("statement-of-applicability", {}),
)
#: Pages of the mixed load; ``/asset`` of a random asset.
MIXED_PAGES: tuple[tuple[str, dict[str, str]], ...] = (
    ("/", {}),
    ("/systems", {}),
    ("/findings", {}),
    ("/due", {}),
    ("/heatmap", {}),
    ("/asset", {"iri": "asset"}),
)
#: The mix: (kind, share).
MIXED = (("query", 0.70), ("impact", 0.20), ("page", 0.10))


def mixed_requests(count: int, assets: list[str], systems: list[str], seed: int = 18) -> list[tuple[str, Request]]:
    """``count`` requests of the mix, drawn with a fixed seed: (kind, request)."""
    rng = random.Random(seed)
    kinds = [kind for kind, _ in MIXED]
    weights = [share for _, share in MIXED]
    drawn = []
    for _ in range(count):
        kind = rng.choices(kinds, weights)[0]
        pick = {"asset": rng.choice(assets), "system": rng.choice(systems)}
        if kind == "query":
            name, params = rng.choice(MIXED_QUERIES)
            drawn.append(
                (kind, Request("GET", f"/api/queries/{name}", {k: pick[v] for k, v in params.items()}, dict(SPARQL_JSON), None))
            )
        elif kind == "impact":
            import json

            drawn.append(
                (
                    kind,
                    Request(
                        "POST",
                        "/api/impact",
                        {},
                        {"Content-Type": "application/json"},
                        json.dumps({"node": pick["asset"]}).encode(),
                    ),
                )
            )
        else:
            path, params = rng.choice(MIXED_PAGES)
            drawn.append((kind, Request("GET", path, {k: pick[v] for k, v in params.items()}, dict(HTML), None)))
    return drawn


def mixed_load(url: str, assets: list[str], systems: list[str], clients: int, seconds: float, total: int, timeout: float) -> dict:
    """``clients`` threads, a session each, sending the mix until ``seconds`` pass or ``total``
    requests were sent; an error is an exception or a status outside 2xx. Requests still in
    flight at the deadline finish (each within ``timeout``)."""
    drawn = mixed_requests(total, assets, systems)
    counter = itertools.count()
    lock = threading.Lock()
    samples: dict[str, list[float]] = {kind: [] for kind, _ in MIXED}
    errors: dict[str, int] = {kind: 0 for kind, _ in MIXED}
    first_errors: list[str] = []
    deadline = time.monotonic() + seconds

    def worker() -> None:
        session = requests.Session()
        while time.monotonic() < deadline and (i := next(counter)) < total:
            kind, request = drawn[i]
            started = time.perf_counter()
            try:
                response = session.request(
                    request.method,
                    url + request.path,
                    params=request.params,
                    headers=request.headers,
                    data=request.data,
                    timeout=timeout,
                    allow_redirects=False,
                )
                error = None if 200 <= response.status_code < 300 else f"{request.path}: HTTP {response.status_code}"
            except requests.RequestException as exc:
                error = f"{request.path}: {type(exc).__name__}"
            elapsed = time.perf_counter() - started
            with lock:
                if error is None:
                    samples[kind].append(elapsed)
                else:
                    errors[kind] += 1
                    if len(first_errors) < 3:
                        first_errors.append(error)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + timeout + 60)
    elapsed = time.perf_counter() - started
    every = [s for kind_samples in samples.values() for s in kind_samples]
    result = {
        "answered": len(every),
        "errors": sum(errors.values()),
        "seconds": elapsed,
        "throughput": len(every) / elapsed,
        "first_errors": first_errors,
        "kinds": {
            kind: {
                "answered": len(samples[kind]),
                "errors": errors[kind],
                **(percentiles(samples[kind]) if samples[kind] else {}),
            }
            for kind, _ in MIXED
        },
    }
    return {**result, **percentiles(every)} if every else result


def nearest_rank(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile: of 20 samples the p99 is the largest, of 2 the larger."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:g} ms" if seconds < 1 else f"{seconds:g} s"
