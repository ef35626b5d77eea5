"""``aimsgraph mcp`` (issue 22, part 4) driven by the MCP SDK's own client: one streamable HTTP
server per module (a subprocess on loopback over a copy of the demo store, with tokens and the
write tools on), and one stdio round trip (the SDK's stdio client spawning the command, writes
off). Checks the tools answer from the demo, bad input and refusals come back as tool errors
naming the problem, the resources are the files, and tokens and roles are enforced as the REST
API enforces them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import requests
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from aimsgraph import resources
from aimsgraph.namespaces import AIMS, RDFS, Graphs
from aimsgraph.records import queries
from benchmarks.common import stop_process
from conftest import REPO, FreshDataDir, aimsgraph, free_port

READER = "reader-token-for-mcp-tests"
EDITOR = "editor-token-for-mcp-tests"
TOKENS = f"reader:rita:{READER} editor:eddie:{EDITOR}"
READ_TOOLS = {"sparql_query", "impact", "what_if", "explain_risk", "validate", "due_items", "readiness"}
WRITE_TOOLS = {"record_measurements", "sparql_update"}
PREFIXES = f"PREFIX aims: <{AIMS}>\nPREFIX rdfs: <{RDFS}>\n"


@dataclass(frozen=True)
class McpServer:
    url: str
    data_dir: Path
    process: subprocess.Popen


def _env(**extra: str) -> dict[str, str]:
    """This process's AIMSGRAPH_* settings (AIMSGRAPH_TODAY above all), with ``extra``."""
    return {**{k: v for k, v in os.environ.items() if k.startswith("AIMSGRAPH_")}, **extra}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir) -> Iterator[McpServer]:
    """``aimsgraph mcp --transport http`` over a copy of the demo, tokens and writes on."""
    data_dir = fresh_data_dir(tmp_path_factory.mktemp("mcp") / "db")
    port = free_port()
    env = {**os.environ, **_env(AIMSGRAPH_DATA_DIR=str(data_dir), AIMSGRAPH_TOKENS=TOKENS, AIMSGRAPH_MCP_WRITES="1")}
    log_path = data_dir.with_name("mcp.log")
    with log_path.open("wb") as log:  # a file, not a pipe: a full pipe would block the server
        command = [sys.executable, "-m", "aimsgraph.cli", "mcp", "--transport", "http", "--port", str(port)]  # on 127.0.0.1
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    live = McpServer(f"http://127.0.0.1:{port}/mcp", data_dir, process)
    try:
        _wait_until_listening(live, log_path)
        yield live
    finally:
        stop_process(process, grace=20)


def _wait_until_listening(live: McpServer, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if live.process.poll() is not None:
            raise RuntimeError(f"aimsgraph mcp exited with {live.process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            requests.get(live.url, timeout=1)  # any answer: the socket listens
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError("aimsgraph mcp did not listen within 60 s")


@asynccontextmanager
async def session(server: McpServer, token: str | None = None) -> AsyncIterator[Client]:
    """An SDK client of ``server``, sending ``token`` as its bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0)) as http:
        async with Client(streamable_http_client(server.url, http_client=http)) as client:
            yield client


def call(server: McpServer, tool: str, arguments: dict[str, Any], token: str | None = None) -> CallToolResult:
    """One tool call in a session of its own."""

    async def run() -> CallToolResult:
        async with session(server, token) as client:
            return await client.call_tool(tool, arguments)

    return anyio.run(run)


def data(result: CallToolResult) -> dict[str, Any]:
    """The structured answer of a call that succeeded, after checking the text content says the same."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert json.loads(result.content[1].text) == result.structured_content  # type: ignore[union-attr]
    return result.structured_content


def error(result: CallToolResult) -> str:
    """The message of a call that failed."""
    assert result.is_error, result.structured_content
    return result.content[0].text  # type: ignore[union-attr]


def rows(server: McpServer, query: str, token: str | None = None) -> list[dict[str, str]]:
    return data(call(server, "sparql_query", {"query": PREFIXES + query}, token))["rows"]


def iri_of(server: McpServer, label: str) -> str:
    found = rows(server, f'SELECT DISTINCT ?node WHERE {{ ?node rdfs:label ?label FILTER(STR(?label) = "{label}") }}')
    assert len(found) == 1, found
    return found[0]["node"]


# -- tools ------------------------------------------------------------------------------------


def test_the_client_lists_the_read_tools_and_the_configured_write_tools(server: McpServer):
    async def run():
        async with session(server) as client:
            return (await client.list_tools()).tools

    listed = {tool.name: tool for tool in anyio.run(run)}
    assert set(listed) == READ_TOOLS | WRITE_TOOLS
    assert all(listed[name].annotations.read_only_hint for name in READ_TOOLS)  # type: ignore[union-attr]
    assert not any(listed[name].annotations.read_only_hint for name in WRITE_TOOLS)  # type: ignore[union-attr]
    assert listed["sparql_query"].input_schema["required"] == ["query"]
    assert listed["impact"].description and "Impact analysis" in listed["impact"].description


def test_a_sparql_query_answers_rows(server: McpServer):
    query = PREFIXES + "SELECT ?system ?label WHERE { ?system a aims:AISystem ; rdfs:label ?label } ORDER BY ?label"
    answer = data(call(server, "sparql_query", {"query": query}))
    assert answer["variables"] == ["system", "label"] and answer["truncated"] is False
    labels = [row["label"] for row in answer["rows"]]
    assert "SME credit scoring" in labels and labels == sorted(labels)
    cut = call(server, "sparql_query", {"query": query, "limit": 2})
    assert data(cut)["rows"] == answer["rows"][:2] and data(cut)["truncated"] is True
    assert "cut at 2" in cut.content[0].text  # type: ignore[union-attr]
    assert data(call(server, "sparql_query", {"query": PREFIXES + "ASK { ?s a aims:AISystem }"}))["boolean"] is True


def test_a_service_call_to_another_host_is_refused(server: McpServer):
    query = "SELECT * WHERE { SERVICE <http://203.0.113.7/sparql> { ?s ?p ?o } }"
    assert "AIMSGRAPH_SERVICE_ALLOWLIST" in error(call(server, "sparql_query", {"query": query}))


def test_sparql_query_refuses_updates_and_bad_input(server: McpServer):
    update = f"INSERT DATA {{ GRAPH <{Graphs.DATA}> {{ <urn:x:query-update> <{RDFS}label> 'not written' }} }}"
    assert "sparql_query only reads" in error(call(server, "sparql_query", {"query": update}))
    assert rows(server, "SELECT ?l WHERE { <urn:x:query-update> rdfs:label ?l }") == []
    assert "SPARQL syntax error" in error(call(server, "sparql_query", {"query": "SELECT ?s WHERE { ?s"}))
    assert "limit must be a whole number" in error(call(server, "sparql_query", {"query": "ASK {}", "limit": 0}))
    assert "limit" in error(call(server, "sparql_query", {"query": "ASK {}", "limit": "many"}))
    assert "query" in error(call(server, "sparql_query", {}))


def test_impact_analysis_of_a_shared_model(server: McpServer):
    model = iri_of(server, "Meridian document extraction model")
    result = call(server, "impact", {"node": model, "change": "retire"})
    answer = data(result)
    affected = {item["label"]: item for item in answer["affected"]}
    assert affected["Document extraction (OCR)"]["distance"] == 1
    assert affected["SME credit scoring"]["distance"] == 2  # through the OCR system it consumes
    assert answer["summary"]["affectedAssets"] == len(answer["affected"])
    assert result.content[0].text.startswith("retire of Meridian document extraction model (Model)")  # type: ignore[union-attr]
    assert "unknown node" in error(call(server, "impact", {"node": "https://example.org/nothing"}))
    assert "unknown change kind 'melt'" in error(call(server, "impact", {"node": model, "change": "melt"}))


def test_what_if_evaluates_a_proposal_without_writing(server: McpServer):
    system, ocr = iri_of(server, "SME credit scoring"), iri_of(server, "Document extraction (OCR)")
    proposal = [{"op": "remove-dependency", "dependent": system, "dependency": ocr}]
    answer = data(call(server, "what_if", {"node": ocr, "modifications": proposal}))
    before_after = {row["label"]: row for row in answer["risk"]["assets"]}["SME credit scoring"]
    assert before_after["after"]["residualScore"] <= before_after["before"]["residualScore"]
    assert data(call(server, "impact", {"node": ocr}))["affected"]  # the record still has the dependency
    assert "at least one modification" in error(call(server, "what_if", {"node": ocr, "modifications": []}))
    assert "modification 1: unknown op 'fly'" in error(call(server, "what_if", {"node": ocr, "modifications": [{"op": "fly"}]}))


def test_explain_risk_gives_the_paths_from_the_asset_to_each_source(server: McpServer):
    answer = data(call(server, "explain_risk", {"node": iri_of(server, "SME credit scoring"), "limit": 3}))
    assert answer["inheritedTotal"] >= len(answer["inheritedRisks"]) > 0
    for risk in answer["inheritedRisks"]:
        assert risk["paths"][0].startswith("SME credit scoring -") and risk["paths"][0].endswith(risk["sourceAssetLabel"])
    scores = [r["residualScore"] for r in answer["inheritedRisks"]]
    assert scores == sorted(scores, reverse=True)
    risk = answer["inheritedRisks"][0]["risk"]
    reach = data(call(server, "explain_risk", {"node": risk}))
    assert "SME credit scoring" in {row["assetLabel"] for row in reach["reaches"]}
    assert "absolute IRI" in error(call(server, "explain_risk", {"node": "credit scoring"}))


def test_validate_due_items_and_readiness(server: McpServer):
    findings = data(call(server, "validate", {"limit": 5}))
    assert findings["findingsTotal"] == sum(findings["counts"].values()) > len(findings["findings"]) == 5
    violations = data(call(server, "validate", {"severity": "violation", "limit": 1000}))["findings"]
    assert violations and {f["severity"] for f in violations} == {"Violation"}
    assert "severity must be one of" in error(call(server, "validate", {"severity": "dire"}))
    assert "as_of" in error(call(server, "validate", {"as_of": "2026-13-01"}))
    due = data(call(server, "due_items", {"within": "1y", "limit": 3}))
    assert due["total"] >= len(due["items"]) and len(due["items"]) <= 3 and due["overdue"] >= 0
    assert "within must be" in error(call(server, "due_items", {"within": "soon"}))
    readiness = data(call(server, "readiness", {"framework": "iso42001"}))
    [iso] = readiness["frameworks"]
    assert iso["key"] == "iso42001" and {r["status"] for r in iso["requirements"]} <= {"not met", "not assessed", "partial"}
    assert "framework must be one of" in error(call(server, "readiness", {"framework": "iso9001"}))


# -- resources ----------------------------------------------------------------------------------


def test_resources_are_the_ontology_shapes_and_named_queries(server: McpServer):
    async def run():
        async with session(server) as client:
            listed = (await client.list_resources()).resources
            query = await client.read_resource("aimsgraph://queries/why-risk.rq")
            ontology = await client.read_resource("aimsgraph://ontology/aims.ttl")
            return listed, query.contents[0], ontology.contents[0]

    listed, query, ontology = anyio.run(run)
    uris = {str(r.uri) for r in listed}
    assert {f"aimsgraph://queries/{name}.rq" for name in queries.load_all()} <= uris
    assert {f"aimsgraph://ontology/{p.name}" for p in resources.ontology_files()} <= uris
    assert "aimsgraph://shapes/risk.ttl" in uris
    assert query.text == resources.path("queries", "why-risk.rq").read_text(encoding="utf-8")
    assert query.mime_type == "application/sparql-query"
    assert ontology.text == resources.path("ontology", "aims.ttl").read_text(encoding="utf-8")


# -- tokens and roles ---------------------------------------------------------------------------


def test_a_bad_token_is_refused(server: McpServer):
    async def run():
        async with session(server, "not-a-configured-token") as client:
            await client.list_tools()

    with pytest.raises(BaseException) as refused:  # the SDK raises its error inside task groups
        anyio.run(run)
    assert "error response" in str(_leaves(refused.value))
    answer = requests.post(
        server.url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers={"Authorization": "Bearer nope"}
    )
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert answer.json()["error_description"] == "the token is not valid"


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def test_a_write_is_refused_without_the_editor_role(server: McpServer):
    update = f"INSERT DATA {{ GRAPH <{Graphs.DATA}> {{ <urn:x:refused> <{RDFS}label> 'refused' }} }}"
    measurement = [{"metric": f"{AIMS}none", "value": 1, "measuredAt": "2026-11-20T10:00:00Z"}]
    assert error(call(server, "sparql_update", {"update": update})).endswith(
        "SPARQL Update needs a bearer token with the editor role"
    )
    assert "needs the editor role; the token of rita has the reader role" in error(
        call(server, "record_measurements", {"measurements": measurement}, READER)
    )
    assert "needs the editor role" in error(call(server, "sparql_update", {"update": update}, READER))
    assert rows(server, "SELECT ?l WHERE { <urn:x:refused> rdfs:label ?l }") == []


def test_an_editor_writes_through_the_write_path(server: McpServer):
    update = f"INSERT DATA {{ GRAPH <{Graphs.DATA}> {{ <urn:x:written> <{RDFS}label> 'written by eddie' }} }}"
    answer = data(call(server, "sparql_update", {"update": update}, EDITOR))
    assert answer["changed"] is True and answer["added"] == 1
    assert rows(server, "SELECT ?l WHERE { <urn:x:written> rdfs:label ?l }") == [{"l": "written by eddie"}]
    trail = rows(server, f"SELECT ?agent WHERE {{ GRAPH <{Graphs.CHANGES}> {{ <{answer['change']}> ?p ?agent }} }}")
    assert trail, "the change is in the audit trail"
    assert data(call(server, "sparql_update", {"update": update}, EDITOR))["changed"] is False
    assert "measurements[0]" in error(call(server, "record_measurements", {"measurements": [{"value": 1}]}, EDITOR))


# -- the command itself ---------------------------------------------------------------------------


def test_stdio_round_trip_with_writes_off(tmp_path: Path, fresh_data_dir: FreshDataDir):
    data_dir = fresh_data_dir(tmp_path / "db")
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "aimsgraph.cli", "mcp", "--data-dir", str(data_dir)],
        env=_env(AIMSGRAPH_TOKENS=TOKENS, AIMSGRAPH_MCP_TOKEN=READER, AIMSGRAPH_MCP_WRITES="0"),
        cwd=REPO,
    )

    async def run():
        with (tmp_path / "stderr.log").open("w") as errlog:
            async with Client(stdio_client(parameters, errlog=errlog)) as client:
                names = {tool.name for tool in (await client.list_tools()).tools}
                asked = await client.call_tool("sparql_query", {"query": PREFIXES + "ASK { ?s a aims:AISystem }"})
                written = await client.call_tool("sparql_update", {"update": "CLEAR ALL"})
                return names, asked, written

    names, asked, written = anyio.run(run)
    assert names == READ_TOOLS  # no write tool unless configured
    assert data(asked)["boolean"] is True
    assert "sparql_update" in error(written)


def test_the_command_checks_its_token_and_the_store_before_serving(server: McpServer, tmp_path: Path):
    wrong = aimsgraph("mcp", "--data-dir", tmp_path, env={"AIMSGRAPH_TOKENS": TOKENS, "AIMSGRAPH_MCP_TOKEN": "wrong"})
    assert wrong.exit_code == 2 and "the token is not valid" in wrong.stderr
    closed = aimsgraph("mcp", "--data-dir", tmp_path, env={"AIMSGRAPH_TOKENS": TOKENS, "AIMSGRAPH_OPEN_READS": "false"})
    assert closed.exit_code == 2 and "AIMSGRAPH_MCP_TOKEN" in closed.stderr
    assert not any(tmp_path.iterdir()), "no store was created"
    held = aimsgraph("mcp", "--transport", "http", "--data-dir", server.data_dir)
    assert held.exit_code == 3 and "held by another process" in held.stderr
