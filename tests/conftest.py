"""Shared fixtures.

Most tests drive the service in this process: ``client`` is Flask's test client of an app over
a real on-disk store with the demo, and :func:`aimsgraph` runs a command with click's CliRunner.
Tests of the protocol, of clients, of the browser, of crashes and of external engines start real
``aimsgraph serve`` processes on loopback (:func:`start_server`, the ``server`` fixture).
"""

from __future__ import annotations

import fcntl
import gc
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import pytest
import requests
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from aimsgraph import clock, resources
from aimsgraph.cli import cli
from aimsgraph.config import Settings
from aimsgraph.http.app import create_app
from aimsgraph.store import demo

REPO = Path(__file__).resolve().parents[1]

#: The evaluation date of the whole suite. Pinned (here, before any test or server starts, so
#: that subprocess servers inherit it) so that no test depends on the day it runs: the default
#: "today" of validation, due items and queries is this date, and the demo is dated for it.
#: tests/test_clock.py checks that nothing but aimsgraph.clock reads the wall clock, and
#: test_demo loads the demo on other dates.
AS_OF = demo.REFERENCE_DATE
os.environ[clock.TODAY_VARIABLE] = AS_OF.isoformat()


#: About how long each of the longer test files takes on 2 cores, in seconds (the sum of its
#: tests' times, set-up included, in a whole run). xdist hands out whole files as its workers
#: run short of work, so the longest go first and the shortest last: a long file handed out near
#: the end would keep one worker busy while the other has finished. Files not listed take less
#: than 3 s and keep their collection order after these. xdist would otherwise order the files by
#: their number of tests, which put test_workflow.py (one test, 11 s) last
#: (--no-loadscope-reorder in pyproject.toml).
FILE_SECONDS = {
    "test_external_virtuoso.py": 51,
    "test_validation.py": 38,
    "test_external.py": 31,
    "test_forms.py": 28,
    "test_benchmarks.py": 27,
    "test_reasoning.py": 27,
    "test_web.py": 23,
    "test_writes.py": 21,
    "test_pages_at_scale.py": 20,
    "test_degraded.py": 18,
    "test_integrations.py": 15,
    "test_notifications.py": 14,
    "test_demo.py": 13,
    "test_protocol.py": 12,
    "test_eu_ai_act.py": 12,
    "test_workflow.py": 11,
    "test_operations_api.py": 10,
    "test_tasks.py": 9,
    "test_lineage.py": 9,
    "test_crosswalks.py": 9,
    "test_fuzz.py": 9,
    "test_pdf.py": 8,
    "test_agenda.py": 8,
    "test_catalogs.py": 8,
    "test_impact.py": 8,
    "test_cli.py": 7,
    "test_oidc.py": 7,
    "test_openapi.py": 7,
    "test_federation.py": 7,
    "test_hostile_routes.py": 7,
    "test_yasgui.py": 6,
    "test_analysis_update.py": 6,
    "test_ontology.py": 6,
    "test_mcp.py": 6,
    "test_clock.py": 6,
    "test_bodies.py": 5,
    "test_packaging.py": 5,
    "test_production.py": 5,
    "test_queries_portable.py": 5,
    "test_client_habits.py": 4,
    "test_hostile_parsers.py": 4,
    "test_diff_record.py": 4,
    "test_atlas_nexus.py": 4,
    "test_queries.py": 4,
    "test_layers.py": 4,
    "test_store.py": 4,
    "test_hostile_records.py": 4,
    "test_executor.py": 4,
    "test_xlsx.py": 3,
    "test_changes.py": 3,
    "test_operations_shapes.py": 3,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: -FILE_SECONDS.get(item.path.name, 0))  # stable: a file's tests keep their order


#: A worker holds large object graphs for its whole run (rdflib graphs, parsed shapes, modules),
#: which CPython's cycle collector walked again and again: with its default thresholds a full
#: collection ran 89 times in eight of the files, a sixth of their CPU time. Young objects are
#: now collected after 10,000 allocations rather than 700 (the same collections, rarer), and
#: what exists once the tests are collected is left out of the walks (below).
gc.set_threshold(10_000, 10, 10)


def _prepare_each_rdflib_query_once() -> None:
    """pyshacl, the reference the oracle tests compare with, hands rdflib the text of a SPARQL
    constraint again for every shape it checks, and rdflib parses it anew each time with
    pyparsing. A worker now prepares each text once and evaluates the prepared query, as users of
    rdflib's own ``prepareQuery`` do; the results are the same (a prepared query is made to be
    evaluated again, with other bindings)."""
    from rdflib.plugins.sparql import processor

    evaluate, prepared = processor.SPARQLProcessor.query, {}

    def query(self, strOrQuery, initBindings=None, initNs=None, base=None, DEBUG=False):
        if isinstance(strOrQuery, str):
            key = (strOrQuery, base, tuple(sorted((initNs or {}).items())))
            if key not in prepared:
                prepared[key] = processor.translateQuery(processor.parseQuery(strOrQuery), base, initNs)
            strOrQuery = prepared[key]
        return evaluate(self, strOrQuery, initBindings, initNs, base, DEBUG)

    processor.SPARQLProcessor.query = query


_prepare_each_rdflib_query_once()


class _ResolvedNamespace:
    """An rdflib namespace whose terms, once asked for, are plain attributes."""

    def __init__(self, namespace: object) -> None:
        self._namespace = namespace

    def __getattr__(self, name: str) -> object:  # only for names not resolved yet
        term = getattr(self._namespace, name)
        setattr(self, name, term)
        return term

    def __getitem__(self, key: str) -> object:
        return self._namespace[key]  # type: ignore[index]


def _resolve_owlrl_terms_once() -> None:
    """owlrl, the reference the oracle tests compare with, names each term its rules test as an
    attribute of rdflib's namespaces (``OWL.sameAs``), and rdflib's DefinedNamespace looks each
    one up again through its ``__getattr__``: 5.5 million times in the closure of the demo. In a
    worker owlrl's modules see namespaces that look each name up once: the same URIRefs, and the
    same closure (10.0 s -> 6.9 s for the demo)."""
    import importlib
    import pkgutil

    import owlrl

    for info in pkgutil.iter_modules(owlrl.__path__):
        module = vars(importlib.import_module(f"owlrl.{info.name}"))
        for name in ("OWL", "RDF", "RDFS", "XSD"):
            if name in module:
                module[name] = _ResolvedNamespace(module[name])


_resolve_owlrl_terms_once()


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()  # the imported modules and the collected tests live until the worker ends


@dataclass
class LiveServer:
    """A running service: its base URL, SPARQL endpoint, process and store directory."""

    url: str
    process: subprocess.Popen
    data_dir: Path
    log_path: Path

    @property
    def sparql(self) -> str:
        return self.url + "/sparql"

    def select(self, query: str, **params: object) -> list[dict[str, str]]:
        """Run a SELECT and return rows as {variable: value} dicts."""
        response = requests.post(
            self.sparql,
            data={"query": query, **params},
            headers={"Accept": "application/sparql-results+json"},
            timeout=30,
        )
        response.raise_for_status()
        return [{k: v["value"] for k, v in row.items()} for row in response.json()["results"]["bindings"]]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path, **env_overrides: str) -> LiveServer:
    """Start `python -m aimsgraph.cli serve` and wait until /api/health answers."""
    port = free_port()
    env = {**os.environ, "AIMSGRAPH_DATA_DIR": str(data_dir), **env_overrides}
    log_path = data_dir.with_name(data_dir.name + ".log")
    with log_path.open("wb") as log:  # a file, not a pipe: a full pipe would block the server
        process = subprocess.Popen(
            [sys.executable, "-m", "aimsgraph.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", process, data_dir, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log_path.read_text(errors="replace")
            raise RuntimeError(f"aimsgraph serve exited with {process.returncode}:\n{output}")
        try:
            if requests.get(server.url + "/api/health", timeout=1).status_code == 200:
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    server.stop()
    raise RuntimeError("aimsgraph serve did not become healthy within 60 s")


#: Run in a process of its own: ``create_app`` over an empty directory, as at a first start, and
#: the process ends, which closes the store (RocksDB locks a store while it is open, and a copy
#: of an open one could catch it half written).
FIRST_START = """
import sys
from pathlib import Path
from aimsgraph.config import Settings
from aimsgraph.http.app import create_app
state = create_app(Settings(data_dir=Path(sys.argv[1]), demo=sys.argv[2] == "demo")).extensions["aimsgraph"]
state.readers.close()
state.store.flush()
"""


class FreshDataDir(Protocol):
    """The ``fresh_data_dir`` fixture: ``fresh_data_dir(folder, demo=True) -> folder``."""

    def __call__(self, folder: Path, demo: bool = True) -> Path: ...


@pytest.fixture(scope="session")
def fresh_data_dir(tmp_path_factory: pytest.TempPathFactory) -> FreshDataDir:
    """``fresh_data_dir(folder, demo=True)`` fills ``folder`` (new, or empty) with a store as a
    first start of the service leaves it, ``create_app(Settings(data_dir=folder, demo=demo))``
    (reference graphs, the demo dated for AS_OF, the trail, the derived graphs, the saved risk
    model), and returns ``folder``.

    The first call in a run builds that store; every call copies it (12 ms against 1.3 s for a
    first start). Built in every run, with this checkout's code and AS_OF, never kept between
    runs. For tests of what a store holds and serves: tests of the first start itself (demo
    loading, reference sync, recovery, other dates or settings that change what is loaded) make
    their store from nothing."""
    # the folder all xdist workers of this run share (pytest-of-<user>/pytest-<n>), else ours
    shared = tmp_path_factory.getbasetemp()
    shared = shared.parent if os.environ.get("PYTEST_XDIST_WORKER") else shared

    def copy(folder: Path, demo: bool = True) -> Path:
        shutil.copytree(
            _first_start(shared / ("first-start" if demo else "first-start-no-demo"), demo), folder, dirs_exist_ok=True
        )
        return folder

    return copy


def _first_start(folder: Path, demo: bool) -> Path:
    """``folder``/db, a store as the first start leaves it, built by the first worker that asks
    (the others wait for it)."""
    folder.mkdir(exist_ok=True)
    template = folder / "db"
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not template.exists():
            building = folder / "building"
            shutil.rmtree(building, ignore_errors=True)
            env = {**os.environ, clock.TODAY_VARIABLE: AS_OF.isoformat()}  # whatever a test set meanwhile
            argv = [sys.executable, "-c", FIRST_START, str(building), "demo" if demo else "no-demo"]
            subprocess.run(argv, env=env, check=True, timeout=300)
            building.rename(template)  # complete, or not there
    return template


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir):
    """The service with demo data, default limits and a 3 s query timeout."""
    live = start_server(fresh_data_dir(tmp_path_factory.mktemp("store")), AIMSGRAPH_QUERY_TIMEOUT="3")
    yield live
    live.stop()


@contextmanager
def serving(settings: Settings) -> Iterator[Flask]:
    """``create_app(settings)`` for the block; then its query readers (forked processes) stop."""
    service = create_app(settings)
    try:
        yield service
    finally:
        service.extensions["aimsgraph"].readers.close()


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir) -> Iterator[Flask]:
    """The service with demo data, default limits and a 3 s query timeout, as ``server`` is, but
    in this process over an on-disk store: shared by the tests of a worker, as ``server`` is."""
    with serving(Settings(data_dir=fresh_data_dir(tmp_path_factory.mktemp("app") / "db"), query_timeout=3)) as service:
        yield service


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Flask's test client of ``app``: requests without a socket (a fresh cookie jar a test)."""
    return app.test_client()


def select(client: FlaskClient, query: str, **params: str) -> list[dict[str, str]]:
    """Run a SELECT through ``client`` and return rows as {variable: value} dicts."""
    response = client.post("/sparql", data={"query": query, **params}, headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200, response.text
    return [{k: v["value"] for k, v in row.items()} for row in response.get_json()["results"]["bindings"]]


def settle(client: FlaskClient, headers: dict[str, str] | None = None) -> dict:
    """Wait until the derived graphs (inferences, analysis, stored findings) caught up with
    every write; their state from /api/health."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        derived = client.get("/api/health", headers=headers or {}).get_json()["derived"]
        current = derived["inferredCurrent"] and derived["analysisCurrent"]
        if not derived["pendingWrites"] and not derived["refreshing"] and current:
            return derived
        time.sleep(0.02)  # a health request costs about a millisecond; a write settles in ~0.1 s
    raise AssertionError("the derived graphs did not catch up within 120 s")


def links(response: TestResponse) -> dict[str, str]:
    """The Link header as {rel: URL}, as requests' ``Response.links`` gives it, each URL without
    its scheme and host: the test client takes paths."""
    found: dict[str, str] = {}
    for url, rel in re.findall(r'<([^>]*)>\s*;\s*rel="([^"]*)"', response.headers.get("Link", "")):
        parts = urlsplit(url)
        found[rel] = parts.path + ("?" + parts.query if parts.query else "")
    return found


def aimsgraph(*args: str | Path, env: dict[str, str] | None = None, input: str | bytes | None = None) -> Result:
    """Run ``aimsgraph ARGS`` in this process with click's CliRunner: ``exit_code``, ``stdout``,
    ``stderr`` and ``output`` (both) as the console script gives them (see cli._CommandGroup)."""
    result = CliRunner().invoke(cli, [str(arg) for arg in args], env=env, input=input, catch_exceptions=False)
    _release_frames(result.exception)
    return result


def _release_frames(error: BaseException | None) -> None:
    """Let go of what a failed command's frames hold: its store above all, which RocksDB locks
    until the last reference goes, so that the next command or test can open it."""
    while error is not None:
        if error.__traceback__ is not None:
            traceback.clear_frames(error.__traceback__)
        error = error.__context__


@pytest.fixture(scope="session")
def demo_store():
    """The demo (ontology, catalogue, organisation, inferences, classifications, analysis) in an in-memory store, read-only use."""
    from aimsgraph.risk.analysis import refresh_analysis
    from aimsgraph.semantics.applicability import refresh_applicability
    from aimsgraph.semantics.reasoning import refresh_inferences
    from aimsgraph.store import GraphStore

    store = GraphStore(None)
    store.initialise(demo=True)
    refresh_inferences(store)
    refresh_applicability(store)
    refresh_analysis(store)
    return store


def git(folder: Path, *args: str) -> str:
    """Run git in ``folder`` with a test author; its standard output, stripped."""
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture(scope="session")
def resource_root() -> Path:
    return resources.root()
