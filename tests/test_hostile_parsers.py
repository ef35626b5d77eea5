"""Every parser runs under limits (issue 17): nesting depth, size, no entity expansion, time.

pyoxigraph's SPARQL and JSON-LD parsers recurse once a nesting level: a few thousand levels
crashed the process (SIGSEGV), so deep input is refused before a parser sees it. An RDF/XML
entity declaration can expand without bound, so none is accepted anywhere. Most tests use the
test client with inputs just past the limit, which the old code parsed (and which do not crash
this process); the reproducers themselves go to a real server, which must survive them."""

from __future__ import annotations

import http.server
import io
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from aimsgraph import limits
from aimsgraph.config import Settings
from aimsgraph.errors import Forbidden, InvalidInput
from aimsgraph.sparql.guard import check_nesting, check_remote_calls
from conftest import FreshDataDir, LiveServer, serving, start_server

TOKEN = "editor-token-for-hostile-parsers"
EDITOR = {"Authorization": f"Bearer {TOKEN}"}
DEPTH = "AIMSGRAPH_MAX_NESTING_DEPTH"
LIMIT = Settings.max_nesting_depth
PREFIX = "PREFIX : <http://example.org/hostile/>\n"


def json_ld(depth: int) -> bytes:
    """The issue's reproducer at any depth: ``depth`` objects nested in one property."""
    return ('{"@id":"http://x/s","http://x/p":' + '{"http://x/p":' * depth + "1" + "}" * (depth + 1)).encode()


def deep_json(depth: int) -> bytes:
    return b'{"changed":' + b"[" * depth + b"]" * depth + b"}"


def groups(depth: int) -> str:
    return "{" * depth + "?s ?p ?o" + "}" * depth


def blank_nodes(depth: int) -> str:
    return PREFIX + "INSERT DATA { :s :p " + "[ :p " * depth + "1" + " ]" * depth + " }"


def bomb(doctype: str = "DOCTYPE") -> bytes:
    """Three levels of ten-fold entity expansion: small, so that where it is not refused (the old
    code read it from a SPARQL LOAD) nothing is hurt."""
    entities = '<!ENTITY a0 "ha">' + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 4))
    return (
        f'<?xml version="1.0"?><!{doctype} rdf:RDF [{entities}]>'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:aims="https://w3id.org/aimsgraph/ontology#">'
        '<aims:AISystem rdf:about="http://example.org/hostile/system"><aims:intendedPurpose>&a3;</aims:intendedPurpose>'
        "</aims:AISystem></rdf:RDF>"
    ).encode()


#: No entity at all: RDF needs no DOCTYPE either, and refusing any is the one simple rule.
DOCTYPE_ONLY = b'<?xml version="1.0"?><!DOCTYPE rdf:RDF><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'


# -- documents a SPARQL LOAD fetches ---------------------------------------------------------


DOCUMENTS = {"/bomb.rdf": ("application/rdf+xml", bomb()), "/deep.jsonld": ("application/ld+json", json_ld(LIMIT + 1))}


class _Documents(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        media_type, body = DOCUMENTS[self.path]
        self.send_response(200)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def documents() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Documents)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, documents: str, fresh_data_dir: FreshDataDir):
    settings = Settings(
        data_dir=fresh_data_dir(tmp_path_factory.mktemp("hostile") / "db", demo=False),
        demo=False,
        query_timeout=10,
        tokens=(f"editor:hostile:{TOKEN}",),
        service_allowlist=(documents,),
    )
    with serving(settings) as app:
        yield app.test_client()


def refused(answer, *words: str) -> bool:
    text = answer.get_data(as_text=True)
    return answer.status_code == 400 and all(word in text for word in words)


# -- JSON and JSON-LD ------------------------------------------------------------------------


RDF_ENTRY_POINTS = [
    ("POST", "/api/validate", {}),
    ("PUT", "/rdf-graph-store?graph=http://example.org/hostile/g", EDITOR),
    ("POST", "/api/import?kind=rdf", EDITOR),
    ("POST", "/api/import?kind=airo", EDITOR),
    ("POST", "/api/import?kind=dcat", EDITOR),
]


@pytest.mark.parametrize("method,path,headers", RDF_ENTRY_POINTS)
def test_json_ld_nested_past_the_limit_is_refused_before_parsing(client, method, path, headers):
    answer = client.open(path, method=method, data=json_ld(1500), content_type="application/ld+json", headers=headers)
    assert refused(answer, DEPTH), answer.get_data(as_text=True)[:300]


def test_an_uploaded_json_ld_file_is_scanned_by_its_name_too(client):
    upload = {"file": (io.BytesIO(json_ld(LIMIT + 1)), "deep.jsonld", "text/plain")}
    graph = "http://example.org/hostile/multipart"
    answer = client.put(f"/rdf-graph-store?graph={graph}", data=upload, content_type="multipart/form-data", headers=EDITOR)
    assert refused(answer, DEPTH, "deep.jsonld")
    assert client.get(f"/rdf-graph-store?graph={graph}").status_code == 404  # nothing stored


def test_json_ld_at_the_limit_is_read_and_brackets_in_strings_are_text(client):
    # the reproducer's outer object is one level more than its nested ones
    at_limit = client.put(
        "/rdf-graph-store?graph=http://example.org/hostile/at-limit",
        data=json_ld(LIMIT - 1),
        content_type="application/ld+json",
        headers=EDITOR,
    )
    assert at_limit.status_code == 201, at_limit.get_data(as_text=True)
    past = client.put(
        "/rdf-graph-store?graph=http://example.org/hostile/past",
        data=json_ld(LIMIT),
        content_type="application/ld+json",
        headers=EDITOR,
    )
    assert refused(past, DEPTH)
    text = ('{"@id": "http://x/s", "http://x/p": "' + "[{" * 2000 + '\\" ]} \\\\"}').encode()
    assert (
        client.put(
            "/rdf-graph-store?graph=http://example.org/hostile/strings",
            data=text,
            content_type="application/ld+json",
            headers=EDITOR,
        ).status_code
        == 201
    )


@pytest.mark.parametrize(
    "path,headers",
    [
        ("/api/validate", {}),
        ("/api/impact", {}),
        ("/api/concerns", {}),
        ("/api/measurements", EDITOR),
        ("/api/incidents", EDITOR),
        ("/api/concerns/triage", EDITOR),
        ("/api/lineage", EDITOR),
    ],
)
def test_deep_json_bodies_are_400_naming_the_setting(client, path, headers):
    # 1500 levels: Python's json gave up with RecursionError (a 500 on /api/validate and /api/impact)
    answer = client.post(path, data=deep_json(1500), content_type="application/json", headers=headers)
    assert refused(answer, DEPTH), answer.get_data(as_text=True)[:300]


def test_the_json_scan_is_exact_about_strings_and_escapes():
    limits.check_json(b'["' + b"[" * 5000 + b'\\"[[", "\\\\", ' + b"[" * (LIMIT - 1) + b"]" * (LIMIT - 1) + b"]")
    with pytest.raises(InvalidInput, match=DEPTH):
        limits.check_json(b'["\\\\"' + b"[" * LIMIT + b"]" * LIMIT + b"]")  # the string ends after \\
    with pytest.raises(InvalidInput, match=DEPTH):
        limits.check_json(b'{"a": "x", "b": ' + b"[" * (LIMIT + 1))  # unclosed: a parser recursed all the same


# -- SPARQL ------------------------------------------------------------------------------------


def sparql(client, text: str, update: bool = False):
    if update:
        return client.post("/update", data=text, content_type="application/sparql-update", headers=EDITOR)
    return client.post(
        "/sparql", data=text, content_type="application/sparql-query", headers={"Accept": "application/sparql-results+json"}
    )


@pytest.mark.parametrize(
    "text,update",
    [
        ("SELECT * WHERE " + groups(LIMIT + 1), False),
        ("SELECT * WHERE { ?s ?p ?o FILTER(" + "(" * LIMIT + "true" + ")" * LIMIT + ") }", False),
        # '<' as less-than: what looks like an IRI to a scanner may hold parentheses that nest
        ("SELECT * WHERE { ?s ?p ?o FILTER(?o<" + "(" * LIMIT + "1" + ")" * LIMIT + ">?s) }", False),
        ("DELETE { ?s ?p ?o } WHERE " + groups(LIMIT + 1), True),
        (blank_nodes(LIMIT), True),
    ],
)
def test_sparql_nested_past_the_limit_is_refused_before_parsing(client, text, update):
    assert refused(sparql(client, text, update), DEPTH)


def test_sparql_at_the_limit_runs_in_the_request_thread_and_brackets_in_text_do_not_count(client):
    inserted = sparql(client, blank_nodes(LIMIT - 1), update=True)  # and its braces: LIMIT levels
    assert inserted.status_code == 200 and inserted.get_json()["added"] == LIMIT
    assert sparql(client, "SELECT * WHERE " + groups(LIMIT)).status_code == 200
    quoted = (
        'SELECT ?x WHERE { BIND("' + "{[(" * 1000 + "\\\"\" AS ?x) BIND('''" + "(" * 1000 + "''' AS ?y) "
        "?s <http://example.org/#" + "(" * 10 + "> ?o }\n# " + "{" * 1000
    )
    assert sparql(client, quoted).status_code == 200


def test_the_sparql_scan_sees_escapes_as_both_parsers_read_them():
    with pytest.raises(InvalidInput, match=DEPTH):  # rdflib decodes \u escapes before parsing
        check_nesting("SELECT * WHERE " + "\\u007B" * (LIMIT + 1), LIMIT)
    with pytest.raises(InvalidInput, match=DEPTH):  # a '#' in a prefixed name's escape is no comment
        check_nesting("SELECT * WHERE { ?s :a\\#b ?o FILTER(" + "(" * LIMIT + "1" + ")" * LIMIT + ") }", LIMIT)


def test_a_long_query_is_refused_before_it_is_read(client):
    long = "SELECT * WHERE { ?s ?p ?o } # " + "x" * Settings.max_query_bytes
    answer = sparql(client, long)
    assert answer.status_code == 413 and "AIMSGRAPH_MAX_QUERY_BYTES" in answer.get_data(as_text=True)


def test_the_service_check_is_bounded_in_time():
    """rdflib parsed a 500 KB query for 9 to 39 s in the server. With no endpoint allowed, text
    that may call one is refused at once; with some allowed, rdflib runs in a child process that
    is stopped at the time limit."""
    filters = " || ".join(f"?o = {i}" for i in range(3000))
    ambiguous = f"SELECT * WHERE {{ BIND(1<'>' AS ?z) ?s ?p ?o FILTER({filters}) BIND('SERVICE' AS ?y) }}"
    started = time.monotonic()
    with pytest.raises(Forbidden, match="AIMSGRAPH_SERVICE_ALLOWLIST"):
        check_remote_calls(ambiguous, ())
    assert time.monotonic() - started < 2
    allowed = ("http://catalog.example/sparql",)
    slow = f"SELECT * WHERE {{ SERVICE <{allowed[0]}> {{ ?s ?p ?o }} FILTER({filters}) }}"
    started = time.monotonic()
    with pytest.raises(Forbidden, match="not parsed within 1 s"):
        check_remote_calls(slow, allowed, timeout=1)
    assert time.monotonic() - started < 10


# -- XML declarations ------------------------------------------------------------------------


@pytest.mark.parametrize("method,path,headers", RDF_ENTRY_POINTS)
@pytest.mark.parametrize("document", [bomb(), bomb("doctype"), DOCTYPE_ONLY])
def test_xml_with_a_doctype_or_entities_is_refused_everywhere(client, method, path, headers, document):
    answer = client.open(path, method=method, data=document, content_type="application/rdf+xml", headers=headers)
    assert refused(answer, "entity declarations"), answer.get_data(as_text=True)[:300]


def test_an_uploaded_rdf_xml_file_is_scanned_by_its_name_too(client):
    upload = {"file": (io.BytesIO(bomb()), "bomb.rdf", "application/octet-stream")}
    answer = client.put(
        "/rdf-graph-store?graph=http://example.org/hostile/g", data=upload, content_type="multipart/form-data", headers=EDITOR
    )
    assert refused(answer, "entity declarations", "bomb.rdf")


@pytest.mark.parametrize("document,words", [("/bomb.rdf", "entity declarations"), ("/deep.jsonld", DEPTH)])
def test_a_document_load_fetches_is_scanned_as_an_upload(client, documents, document, words):
    graph = f"http://example.org/hostile/loaded{document.replace('/', '-')}"
    answer = sparql(client, f"LOAD <{documents}{document}> INTO GRAPH <{graph}>", update=True)
    assert answer.status_code == 502 and words in answer.get_data(as_text=True)
    assert client.get(f"/rdf-graph-store?graph={graph}").status_code == 404


# -- the reproducers, against a real server that must survive them ----------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir) -> Iterator[LiveServer]:
    live = start_server(
        fresh_data_dir(tmp_path_factory.mktemp("crash") / "db", demo=False),
        AIMSGRAPH_DEMO="false",
        AIMSGRAPH_TOKENS=f"editor:hostile:{TOKEN}",
    )
    yield live
    live.stop()


def test_the_reproducers_of_issue_17_are_refused_and_the_server_survives(server: LiveServer):
    def post(path: str, body: bytes | str, media_type: str, headers: dict | None = None) -> requests.Response:
        return requests.post(
            server.url + path,
            data=body.encode() if isinstance(body, str) else body,
            headers={"Content-Type": media_type, **(headers or {})},
            timeout=60,
        )

    reproducers = [
        ("/api/validate", json_ld(4000), "application/ld+json", None),  # SIGSEGV in the JSON-LD parser
        ("/api/validate", deep_json(100_000), "application/json", None),  # RecursionError: 500
        ("/api/impact", b'{"node": ' + b"[" * 100_000, "application/json", None),
        ("/update", "DELETE { ?s ?p ?o } WHERE " + groups(3000), "application/sparql-update", EDITOR),  # SIGSEGV
        ("/update", blank_nodes(10_000), "application/sparql-update", EDITOR),  # SIGSEGV
        ("/sparql", "SELECT * WHERE " + groups(10_000), "application/sparql-query", None),  # a reader killed: 503
    ]
    for path, body, media_type, headers in reproducers:
        answer = post(path, body, media_type, headers)
        assert answer.status_code == 400 and DEPTH in answer.text, (path, answer.status_code, answer.text[:200])
        assert server.process.poll() is None, f"{path} stopped the server"
    # the limit itself is safe in the server's request threads and its readers
    assert post("/update", blank_nodes(LIMIT - 1), "application/sparql-update", EDITOR).status_code == 200
    assert post("/sparql", "SELECT * WHERE " + groups(LIMIT), "application/sparql-query").status_code == 200
    assert requests.get(server.url + "/api/health", timeout=10).status_code == 200
    assert server.process.poll() is None
