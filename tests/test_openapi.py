"""The OpenAPI contract (``http/openapi``): ``GET /api/openapi.json`` is a valid OpenAPI 3.1
document, every /api route and method has an operation in it, and the service's real answers
match it: every GET (with the arguments a required parameter needs) and every write with an
example body below is sent to a demo service, and the status, media type and JSON body of each
answer are checked against the operation's responses (JSON Schema 2020-12, ``$ref`` resolved in
the document). The page ``/api/docs`` (Swagger UI, vendored) renders the contract in Chromium
under the pages' content security policy."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import OpenAPIV31SpecValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from aimsgraph.config import Settings
from aimsgraph.http import openapi
from conftest import AS_OF, REPO, serving

DEMO = "https://data.meridian.example/aims/"
SYSTEM = DEMO + "system/claims-triage"
RISK = DEMO + "risk/aurora-lock-in"
ADMIN = "admin-token-for-the-contract-test"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
NOON = datetime.combine(AS_OF, time(12), tzinfo=UTC)
VENDOR = REPO / "service" / "aimsgraph" / "http" / "web" / "static" / "vendor" / "swagger-ui"
DOC_URI = "urn:aimsgraph:openapi"

#: Calls of the GET operations that need arguments (a required or a path parameter), by
#: ``METHOD path`` as the document names it: the query string, or a function of the client that
#: gives the whole URL.
ARGUMENTS: dict[str, str | Callable[[FlaskClient], str]] = {
    "GET /api/impact": "node=" + quote(SYSTEM, safe="") + "&change=retire",
    "GET /api/approvals": "about=" + quote(RISK, safe=""),
    "GET /api/changes/snapshot": "at=" + quote(NOON.isoformat(), safe=""),
    "GET /api/queries/{name}": lambda client: "/api/queries/" + _first_query_without_parameters(client),
    "GET /api/tasks/{task_id}": lambda client: "/api/tasks/" + _first_task(client),
    "GET /api/export/oscal/{kind}": lambda client: "/api/export/oscal/catalog",
    "GET /sparql": "query=" + quote("ASK { ?s ?p ?o }"),
    "GET /rdf-graph-store": "default",
}
#: More calls of GET operations, for answers of another form than the plain call gives.
MORE_CALLS = (
    ("GET /api/eu-ai-act", "/api/eu-ai-act?node=" + quote(SYSTEM, safe="")),
    ("GET /api/review-pack", "/api/review-pack?format=json"),
    ("GET /api/changes/diff", "/api/changes/diff?from=" + quote((NOON - timedelta(days=400)).isoformat(), safe="")),
)


def _ago(days: int) -> str:
    return (NOON - timedelta(days=days)).isoformat().replace("+00:00", "Z")


#: The writes and posted reads sent, in this order (a later body may use an earlier answer):
#: ``METHOD path``, then the query string and body (JSON unless a media type is given).
Example = tuple[str, str, Any, str]
EXAMPLES: list[Example] = [
    ("POST /api/validate", "", {"changed": [SYSTEM]}, "application/json"),
    ("POST /api/impact", "", {"node": SYSTEM, "change": "retire"}, "application/json"),
    ("POST /api/eu-ai-act/what-if", "", {"node": SYSTEM, "remove": []}, "application/json"),
    (
        "POST /api/measurements",
        "",
        [{"metric": DEMO + "metric/retail-pd-psi", "value": 0.12, "measuredAt": _ago(2)}],
        "application/json",
    ),
    (
        "POST /api/incidents",
        "",
        {"label": "Claims triage mislabelled a batch", "occurredAt": _ago(1), "systems": [SYSTEM]},
        "application/json",
    ),
    ("POST /api/concerns", "", {"description": "The triage seems to favour one region.", "anonymous": True}, "application/json"),
    ("POST /api/concerns/triage", "", "concern", "application/json"),  # filled from the concern's answer
    ("POST /api/tasks/{task_id}", "", {"status": "in-progress"}, "application/json"),
    ("PATCH /api/tasks/{task_id}", "", {"note": "Looked at by the contract test."}, "application/json"),
    ("POST /api/impact/tasks", "", {"node": SYSTEM, "change": "retire"}, "application/json"),
    ("POST /api/approvals", "", {"about": RISK}, "application/json"),
    ("POST /api/lineage", "", (REPO / "tests" / "data" / "openlineage-complete.json").read_text(), "application/json"),
    ("POST /api/import", "kind=rdf", f"<{DEMO}contract-test> <{DEMO}note> 'posted by the contract test' .", "text/turtle"),
]


@pytest.fixture(scope="module")
def service(tmp_path_factory, fresh_data_dir) -> Iterator[Flask]:
    """A demo service of this module's own (it is written to), with an admin token."""
    folder = fresh_data_dir(tmp_path_factory.mktemp("openapi") / "db")
    with serving(Settings(data_dir=folder, query_timeout=3, tokens=(f"admin:contract:{ADMIN}",))) as app:
        yield app


@pytest.fixture(scope="module")
def document(service: Flask) -> dict:
    response = service.test_client().get("/api/openapi.json")  # no token: the contract is public
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def test_the_document_is_valid_openapi_3_1(document):
    OpenAPIV31SpecValidator(document).validate()
    assert document["openapi"] == "3.1.0"
    schemas = document["components"]["schemas"]
    # the request bodies are the payload models' own schemas, leaf types included
    measurement = schemas["Measurement"]["properties"]
    assert measurement["measuredAt"]["format"] == "date-time" and measurement["value"]["type"] == "number"
    assert schemas["Triage"]["properties"]["into"]["enum"] == ["finding", "risk"]


def test_every_api_route_and_method_has_an_operation(service, document):
    assert openapi.missing(service) == []
    for rule in service.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^<>]*:)?(\w+)>", r"{\1}", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                operation = document["paths"][path][method.lower()]
                assert operation["summary"] and operation["responses"]["default"], f"{method} {path}"


def test_a_route_without_a_contract_is_reported_missing(service):
    """The coverage check itself: a route added without @contract is named."""
    app = Flask(__name__)
    app.add_url_rule("/api/undescribed", "undescribed", lambda: "", methods=["GET", "POST"])
    app.add_url_rule("/api/health", "api.health", service.view_functions["api.health"])
    assert openapi.missing(app) == ["GET /api/undescribed", "POST /api/undescribed"]
    assert list(openapi.document(app)["paths"]) == ["/api/health"]


def test_every_get_answers_as_the_contract_says(service, document):
    client = service.test_client()
    calls = [*((key, _url(client, key)) for key in _operations(document, "get")), *MORE_CALLS]
    for key, url in calls:
        _check(document, key, client.get(url), url)


def test_the_writes_answer_as_the_contract_says(service, document):
    sent = {key for key, *_ in EXAMPLES}
    assert sent == set(_operations(document, "post", "put", "patch", "delete")) - {
        "POST /sparql",  # the protocols: W3C's test suites and tests/test_protocol.py cover them
        "POST /update",
        "POST /rdf-graph-store",
        "PUT /rdf-graph-store",
        "DELETE /rdf-graph-store",
    }
    client = service.test_client()
    answers: dict[str, dict] = {}
    for key, query, body, media in EXAMPLES:
        method, path = key.split(" ")
        url = (path.replace("{task_id}", _first_task(client)) if "{task_id}" in path else path) + (f"?{query}" if query else "")
        if body == "concern":
            body = {"concern": answers["POST /api/concerns"]["report"]["concern"], "into": "finding", "label": "Regional bias"}
        data = body if isinstance(body, str) else json.dumps(body)
        response = client.open(url, method=method, data=data, content_type=media, headers=AUTH)
        answers[key] = _check(document, key, response, url)


def test_the_page_loads_swagger_ui_from_this_site(service):
    page = service.test_client().get("/api/docs")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert 'data-document="/api/openapi.json"' in page.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in sources and "/static/api-docs.js" in sources
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    assert "<script>" not in page.text and " style=" not in page.text  # nothing inline: the policy runs none


def test_the_vendored_files_are_the_npm_packages_own(service):
    table = (VENDOR / "README.md").read_text()
    entries = re.findall(r"\| `([^`]+)` \| [^|]+ \| [^|]+ \| `([0-9a-f]{64})` \|", table)
    assert {name for name, _ in entries} == {p.name for p in VENDOR.iterdir() if p.name != "README.md"}
    client = service.test_client()
    for name, digest in entries:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
        with client.get(f"/static/vendor/swagger-ui/{name}") as served:  # a file response: closed after
            assert served.status_code == 200


def test_swagger_ui_shows_every_operation_under_the_policy(service, document, tmp_path):
    """Chromium over a real server: Swagger UI renders an entry per operation, and the console has
    no error (a script or style the policy blocked would be one)."""
    import browser  # Selenium: only this test needs it

    server = make_server("127.0.0.1", 0, service, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    chrome = browser.start_chromium(tmp_path / "chromium")
    try:
        chrome.get(f"http://127.0.0.1:{server.server_port}/api/docs")
        count = sum(len(item) for item in document["paths"].values())
        shown = _wait(lambda: len(chrome.find_elements("css selector", ".opblock")) >= count)
        assert shown, "Swagger UI did not render the operations"
        assert "/api/openapi.json" in chrome.find_element("css selector", ".info").text
        assert browser.console_errors(chrome) == []
    finally:
        chrome.quit()
        server.shutdown()


# -- helpers ---------------------------------------------------------------------------------------


def _operations(document: dict, *methods: str) -> list[str]:
    return [f"{m.upper()} {path}" for path, item in document["paths"].items() for m in item if m in methods]


def _url(client: FlaskClient, key: str) -> str:
    path = key.split(" ", 1)[1]
    given = ARGUMENTS.get(key)
    if callable(given):
        return given(client)
    if "{" in path:
        raise AssertionError(f"{key} has a path parameter: give its call in ARGUMENTS")
    return path + (f"?{given}" if given else "")


def _check(document: dict, key: str, response: TestResponse, url: str) -> dict:
    """The answer against the operation: a status it lists, a media type it lists, a JSON body
    valid against that media type's schema. Returns the JSON body ({} for others)."""
    method, path = key.split(" ")
    operation = document["paths"][path][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{key} ({url}) answered {status}, not listed: {response.text[:300]}"
    if status in ("204",) or not response.data:
        return {}
    content = operation["responses"][status].get("content", {})
    assert response.mimetype in content, f"{key} answered {response.mimetype}; the contract lists {list(content)}"
    if "schema" not in content[response.mimetype] or not response.is_json:
        return {}
    pointer = "/".join(part.replace("~", "~0").replace("/", "~1") for part in ("paths", path, method.lower()))
    pointer += f"/responses/{status}/content/" + response.mimetype.replace("/", "~1") + "/schema"
    body = response.get_json()
    errors = list(
        jsonschema.Draft202012Validator({"$ref": f"{DOC_URI}#/{pointer}"}, registry=_registry(document)).iter_errors(body)
    )
    assert not errors, f"{key} ({url}): {errors[0].message} at {list(errors[0].absolute_path)}"
    return body


_REGISTRIES: dict[int, Registry] = {}


def _registry(document: dict) -> Registry:
    """The document as a JSON Schema 2020-12 resource, where the schemas' ``$ref``s resolve: made once."""
    if id(document) not in _REGISTRIES:
        _REGISTRIES[id(document)] = Registry().with_resource(DOC_URI, Resource.from_contents(document, DRAFT202012)).crawl()
    return _REGISTRIES[id(document)]


def _first_query_without_parameters(client: FlaskClient) -> str:
    listed = client.get("/api/queries").get_json()["queries"]
    return next(q["name"] for q in listed if not any(p["required"] for p in q["parameters"]))


def _first_task(client: FlaskClient) -> str:
    return client.get("/api/tasks?pageSize=1").get_json()["tasks"][0]["id"]


def _wait(condition: Callable[[], bool], seconds: float = 20) -> bool:
    import time as clock

    deadline = clock.monotonic() + seconds
    while clock.monotonic() < deadline:
        if condition():
            return True
        clock.sleep(0.1)
    return False
