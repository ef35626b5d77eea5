"""Federation: SPARQL SERVICE from aimsgraph (an app in this process, driven by its test client)
to an enterprise data catalogue served by a second, real SPARQL server (``oxigraph serve`` from
the PyPI package ``oxigraph``) on loopback, reached over HTTP as in production; the allow-list;
a catalogue that is down or hangs gives a clear error, never a hang."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from aimsgraph.config import Settings
from conftest import FreshDataDir, free_port, serving
from conftest import select as select_rows

CATALOG = Path(__file__).parent / "data" / "federated-catalog.ttl"
TOKEN = "editor-token-0123456789abcdef"
OXIGRAPH = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which("oxigraph")

FEDERATED = """PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX dcat: <http://www.w3.org/ns/dcat#>
SELECT ?system ?dataset ?entry ?title WHERE {
  ?system a aims:AISystem ; aims:usesDataset ?dataset .
  ?dataset dct:identifier ?id .
  SERVICE <%s> { ?entry a dcat:Dataset ; dct:identifier ?id ; dct:title ?title }
} ORDER BY ?system ?dataset"""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory):
    """`oxigraph serve` with the catalogue loaded; yields its query endpoint."""
    assert OXIGRAPH, "the oxigraph command (PyPI package oxigraph, a test dependency) is missing"
    location = tmp_path_factory.mktemp("catalog")
    subprocess.run([OXIGRAPH, "load", "--location", str(location), "--file", str(CATALOG)], check=True, timeout=60)
    port = free_port()
    process = subprocess.Popen(
        [OXIGRAPH, "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}/query"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(endpoint, params={"query": "ASK {}"}, timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.1)
    yield endpoint
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def silent_port():
    """A port that accepts connections and never answers: a catalogue that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    yield listener.getsockname()[1]
    stop.set()
    acceptor.join(5)  # before the socket closes under it
    for connection in held:
        connection.close()
    listener.close()


def service(**env: str) -> AbstractContextManager[Flask]:
    """The service over the store in AIMSGRAPH_DATA_DIR with the settings ``env`` gives as
    variables, read as ``aimsgraph serve`` reads them; its SERVICE calls go out over HTTP."""
    return serving(Settings.from_env(env))


def hanging_endpoint(silent_port: int) -> str:
    return f"http://127.0.0.1:{silent_port}/sparql"


@pytest.fixture(scope="module")
def federating_app(
    tmp_path_factory: pytest.TempPathFactory, catalog: str, silent_port: int, fresh_data_dir: FreshDataDir
) -> Iterator[Flask]:
    with service(
        AIMSGRAPH_DATA_DIR=str(fresh_data_dir(tmp_path_factory.mktemp("federating"))),
        AIMSGRAPH_QUERY_TIMEOUT="3",
        AIMSGRAPH_SERVICE_ALLOWLIST=f"{catalog} {hanging_endpoint(silent_port)}",
        AIMSGRAPH_TOKENS=f"editor:erin:{TOKEN}",
    ) as app:
        yield app


@pytest.fixture
def federating(federating_app: Flask, catalog: str, silent_port: int) -> tuple[FlaskClient, str, str]:
    return federating_app.test_client(), catalog, hanging_endpoint(silent_port)


def select(client: FlaskClient, query: str) -> TestResponse:
    return client.post("/sparql", data={"query": query}, headers={"Accept": "application/sparql-results+json"})


def test_a_federated_query_joins_our_systems_with_the_catalogue(federating):
    client, catalog, _ = federating
    response = select(client, FEDERATED % catalog)
    assert response.status_code == 200, response.text
    rows = {
        (b["system"]["value"].rsplit("/", 1)[1], b["dataset"]["value"].rsplit("/", 1)[1], b["entry"]["value"])
        for b in response.get_json()["results"]["bindings"]
    }
    # what it should be: our systems using datasets DS-001, DS-003 or DS-005, from our side alone
    entries = {"DS-001": "core-transactions", "DS-003": "bureau-reports", "DS-005": "loan-applications"}
    ours = select_rows(
        client,
        """PREFIX aims: <https://w3id.org/aimsgraph/ontology#> PREFIX dct: <http://purl.org/dc/terms/>
        SELECT ?system ?dataset ?id WHERE { ?system a aims:AISystem ; aims:usesDataset ?dataset . ?dataset dct:identifier ?id }""",
    )
    expected = {
        (
            r["system"].rsplit("/", 1)[1],
            r["dataset"].rsplit("/", 1)[1],
            f"https://catalog.meridian.example/dataset/{entries[r['id']]}",
        )
        for r in ours
        if r["id"] in entries
    }
    assert rows == expected and len(rows) >= 3
    assert not any(entry.endswith("branch-footfall") for _, _, entry in rows)


LINKED = """PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX dcat: <http://www.w3.org/ns/dcat#>
SELECT ?system ?entry ?title ?steward WHERE {
  ?system a aims:AISystem ; aims:usesDataset ?dataset .
  ?dataset aims:catalogueEntry ?entry .
  SERVICE <%s> { ?entry dct:title ?title ; dcat:contactPoint ?steward }
} ORDER BY ?system ?entry"""


def test_after_linking_the_catalogue_a_federated_query_follows_the_links(federating):
    """The architect's path: import the catalogue (links, no copies), then ask the catalogue
    itself for what it alone knows (here the data stewards) about the datasets our systems use."""
    client, catalog, _ = federating
    imported = client.post(
        "/api/import",
        query_string={"kind": "dcat"},
        data=CATALOG.read_bytes(),
        headers={"Content-Type": "text/turtle", "Authorization": f"Bearer {TOKEN}"},
    )
    assert imported.status_code == 200, imported.text
    # the catalogue's description stays in its own graph: our record only links to it
    in_record = (
        "ASK { GRAPH <https://w3id.org/aimsgraph/graph/data> { ?entry <http://www.w3.org/ns/dcat#contactPoint> ?steward } }"
    )
    assert not select(client, in_record).get_json()["boolean"]
    response = select(client, LINKED % catalog)
    assert response.status_code == 200, response.text
    stewards = {
        (b["entry"]["value"].rsplit("/", 1)[1], b["steward"]["value"].rsplit("/", 1)[1])
        for b in response.get_json()["results"]["bindings"]
    }
    assert stewards == {
        ("core-transactions", "ops-data"),
        ("bureau-reports", "credit-data"),
        ("loan-applications", "credit-data"),
    }


def test_a_catalogue_not_on_the_allow_list_is_refused(federating):
    client, catalog, _ = federating
    elsewhere = catalog.replace("/query", "/other")  # same host, another path: not on the list
    response = select(client, FEDERATED % elsewhere)
    assert response.status_code == 403 and "AIMSGRAPH_SERVICE_ALLOWLIST" in response.text


def test_a_catalogue_that_hangs_is_cut_off_by_the_timeout(federating):
    client, _, hanging = federating
    started = time.monotonic()
    response = select(client, FEDERATED % hanging)
    assert response.status_code == 503 and "AIMSGRAPH_QUERY_TIMEOUT" in response.text
    assert time.monotonic() - started < 10
    assert select(client, "ASK { ?s ?p ?o }").status_code == 200  # and the service goes on


def test_a_catalogue_that_is_down_gives_a_clear_error(federating, tmp_path: Path):
    down = f"http://127.0.0.1:{free_port()}/query"
    with service(
        AIMSGRAPH_DATA_DIR=str(tmp_path / "down"),
        AIMSGRAPH_QUERY_TIMEOUT="3",
        AIMSGRAPH_SERVICE_ALLOWLIST=down,
        AIMSGRAPH_DEMO="true",
    ) as other:
        started = time.monotonic()
        response = select(other.test_client(), FEDERATED % down)
        assert response.status_code == 502 and "SERVICE" in response.text
        assert time.monotonic() - started < 5
