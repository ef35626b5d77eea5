"""Request bodies are read whole or refused, and callers without a token change nothing stored
and are rate limited in expensive work (issue 17).

A chunked body announces no length: the service used to read it up to its own cap and go on
with the cut body, so a 70 MiB Graph Store PUT committed its first 64 MiB with a 201. Here the
limits are 1 MiB, and the bodies are whole N-Triples lines of 1 KiB, so that a body cut at the
limit would still parse."""

from __future__ import annotations

from collections.abc import Iterator

import pyoxigraph as ox
import pytest
import requests

from aimsgraph.config import Settings
from aimsgraph.namespaces import Graphs
from aimsgraph.runtime import Limiter
from conftest import FreshDataDir, LiveServer, serving, start_server

LIMIT = 1_048_576
LINE = 1024
EDITOR, READER = "editor-token-for-bodies-0001", "reader-token-for-bodies-0001"
TOKENS = f"editor:ed:{EDITOR} reader:rd:{READER}"
AIMS = "https://w3id.org/aimsgraph/ontology#"
SYSTEM = "http://example.org/bodies/system"


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def lines(count: int, subject: str = "http://example.org/bodies/s") -> Iterator[bytes]:
    """``count`` N-Triples lines of exactly LINE bytes each, sent as separate chunks."""
    for i in range(count):
        head = f'<{subject}{i:06d}> <http://example.org/bodies/p> "'.encode()
        yield head + b"x" * (LINE - len(head) - 4) + b'" .\n'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir) -> Iterator[LiveServer]:
    live = start_server(
        fresh_data_dir(tmp_path_factory.mktemp("bodies") / "db", demo=False),
        AIMSGRAPH_DEMO="false",
        AIMSGRAPH_TOKENS=TOKENS,
        AIMSGRAPH_MAX_UPLOAD_BYTES=str(LIMIT),
        AIMSGRAPH_MAX_BODY_BYTES=str(LIMIT),
    )
    yield live
    live.stop()


def stored(server: LiveServer, graph: str) -> int:
    rows = server.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
    return int(rows[0]["n"])


# -- chunked bodies, on a real server ------------------------------------------------------------


def test_a_chunked_upload_over_the_limit_is_refused_and_nothing_is_stored(server: LiveServer):
    assert sum(map(len, lines(1024))) == LIMIT  # cut at the limit, the body would be whole lines
    graph = "http://example.org/bodies/too-big"
    answer = requests.put(
        server.url + "/rdf-graph-store",
        params={"graph": graph},
        data=lines(1536),
        headers={"Content-Type": "application/n-triples", **auth(EDITOR)},
        timeout=60,
    )
    assert answer.status_code == 413 and "AIMSGRAPH_MAX_UPLOAD_BYTES" in answer.text
    assert stored(server, graph) == 0
    assert requests.get(server.url + "/api/health", timeout=10).status_code == 200


def test_a_chunked_upload_of_exactly_the_limit_is_stored_whole(server: LiveServer):
    graph = "http://example.org/bodies/just-fits"
    answer = requests.put(
        server.url + "/rdf-graph-store",
        params={"graph": graph},
        data=lines(1024),
        headers={"Content-Type": "application/n-triples", **auth(EDITOR)},
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    assert stored(server, graph) == 1024


def test_a_chunked_record_to_validate_over_the_limit_is_refused(server: LiveServer):
    answer = requests.post(
        server.url + "/api/validate",
        data=lines(1536, f"{AIMS}s"),
        timeout=60,
        headers={"Content-Type": "application/n-triples", **auth(READER)},
    )
    assert answer.status_code == 413 and "AIMSGRAPH_MAX_UPLOAD_BYTES" in answer.json()["detail"]


def test_a_chunked_json_body_over_the_limit_is_refused(server: LiveServer):
    def padded() -> Iterator[bytes]:
        yield b'{"node": "http://example.org/bodies/n", "pad": "'
        yield from (b"x" * LINE for _ in range(1100))
        yield b'"}'

    answer = requests.post(server.url + "/api/impact", data=padded(), headers={"Content-Type": "application/json"}, timeout=60)
    assert answer.status_code == 413 and "AIMSGRAPH_MAX_BODY_BYTES" in answer.json()["detail"]


# -- who may store findings, and how often anyone without a token may ask for expensive work -----


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir):
    settings = Settings(
        data_dir=fresh_data_dir(tmp_path_factory.mktemp("anonymous") / "db", demo=False),
        demo=False,
        tokens=tuple(TOKENS.split()),
        anonymous_expensive_per_minute=3,
    )
    with serving(settings) as service:
        service.extensions["aimsgraph"].store.backend.add(
            ox.Quad(
                ox.NamedNode(SYSTEM),
                ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                ox.NamedNode(AIMS + "AISystem"),
                ox.NamedNode(Graphs.DATA),
            )
        )
        yield service


def findings(answer) -> set[tuple[str, str]]:
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return {(f["focus"], f["message"]) for f in answer.get_json()["findings"]}


def test_only_an_editor_rewrites_the_stored_findings(app):
    client, store = app.test_client(), app.extensions["aimsgraph"].store
    validation = ox.NamedNode(Graphs.VALIDATION)
    stored_by_editor = findings(client.post("/api/validate", headers=auth(EDITOR)))
    assert any(focus == SYSTEM for focus, _ in stored_by_editor)
    sentinel = ox.Quad(ox.NamedNode("urn:sentinel"), ox.NamedNode("urn:p"), ox.Literal("kept"), validation)
    store.backend.add(sentinel)  # stands for the stored findings: a rewrite would drop it

    assert findings(client.post("/api/validate")) == stored_by_editor  # the same report, nothing written
    assert findings(client.post("/api/validate", json={"changed": [SYSTEM]}, headers=auth(READER))) == stored_by_editor
    assert sentinel in store.backend
    assert findings(client.post("/api/validate", headers=auth(EDITOR))) == stored_by_editor
    assert sentinel not in store.backend  # an editor's request validates again and stores


def test_expensive_requests_without_a_token_are_rate_limited(app):
    client = app.test_client()
    record = f"<{SYSTEM}x> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{AIMS}AISystem> .".encode()

    def validate(token: str | None = None, **args: object):
        return client.post("/api/validate", data=record, content_type="application/n-triples", headers=auth(token), **args)

    assert [validate().status_code for _ in range(3)] == [200, 200, 200]
    refused = validate()
    assert refused.status_code == 429 and "AIMSGRAPH_ANONYMOUS_EXPENSIVE_PER_MINUTE" in refused.get_json()["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert client.post("/api/validate", query_string={"asOf": "2020-01-01"}).status_code == 429  # the same budget
    assert validate(READER).status_code == 200  # a token: not limited
    assert client.post("/api/validate").status_code == 200  # the stored findings: cheap, not counted


def test_the_limiter_counts_a_sliding_minute():
    limiter = Limiter(2)
    assert limiter.take() is None and limiter.take() is None
    wait = limiter.take()
    assert wait is not None and 1 <= wait <= 60
