"""Hostile input against the parsers and endpoints of issues 22 and 23: a record kept as files
(``aimsgraph validate FILE|DIR``, ``records.files``, ``records.positions``), ``diff-record``'s
``REV:PATH`` (``reporting.diff_record``), the XLSX import, the MCP server over HTTP and the
GitHub Action's script. Each test is a small reproducer: what it sends once hung, crashed, read
outside the record or wrote outside its folder, and must now be refused with a one-line reason
(or, where noted, was always handled and is kept so).
"""

from __future__ import annotations

import http.server
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pyoxigraph as ox
import pytest
import requests

from aimsgraph.errors import InvalidInput
from aimsgraph.interop.importers import xlsx
from aimsgraph.namespaces import AIMS, Graphs
from aimsgraph.records.files import open_files, record_files
from aimsgraph.records.positions import turtle_places
from aimsgraph.reporting.diff_record import Skolemiser, checkout
from aimsgraph.store import GraphStore
from benchmarks.common import stop_process
from conftest import REPO, FreshDataDir, free_port, git

SYSTEMS = "name,description,system\nChatbot,a chatbot,chat-1\n"


def refusal(paths: list[Path]) -> str:
    """The one-line reason ``open_files`` gives for ``paths`` (it must refuse them)."""
    with pytest.raises(InvalidInput) as caught:
        open_files(paths)
    assert "\n" not in caught.value.message
    return caught.value.message


# -- a record kept as files ---------------------------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every GET with an empty JSON-LD context, and remembers that it was asked."""

    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.asked.append(self.path)
        body = b'{"@context": {}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/ld+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def recorder() -> Iterator[str]:
    """A local web server that records what is fetched from it (nothing may be)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("context", ['"{url}/context.jsonld"', '{{"@import": "{url}/context.jsonld"}}'])
def test_a_remote_json_ld_context_is_never_fetched(tmp_path: Path, recorder: str, context: str):
    record = tmp_path / "remote.jsonld"
    record.write_text(f'{{"@context": {context.format(url=recorder)}, "@id": "http://example.org/s", "name": "x"}}')
    started = time.monotonic()
    assert "remote JSON-LD @context is never fetched" in refusal([record])
    assert time.monotonic() - started < 5 and _Recorder.asked == []


def test_json_ld_nested_deeper_than_the_limit_is_refused_before_parsing(tmp_path: Path):
    """20,000 levels crashed ``aimsgraph validate`` (SIGSEGV in pyoxigraph's JSON-LD parser);
    this is refused by the scan long before that, at the service's nesting limit."""
    depth = 20_000
    record = tmp_path / "deep.jsonld"
    record.write_text('{"@id":"http://x/s","http://x/p":' + '{"http://x/p":' * depth + "1" + "}" * (depth + 1))
    assert "nests deeper than 256 levels (AIMSGRAPH_MAX_NESTING_DEPTH)" in refusal([record])


def test_links_out_of_the_folder_and_files_that_are_no_files_are_refused(tmp_path: Path):
    """A pull request can add ``env.ttl -> /proc/self/environ``: it was read, and the parser's
    error quoted the environment. A FIFO named on the command line blocked forever."""
    outside = tmp_path / "secret.txt"
    outside.write_text("SECRET_TOKEN=abc123 .\n")
    folder = tmp_path / "record"
    folder.mkdir()
    (folder / "systems.csv").write_text(SYSTEMS)
    (folder / "inner.ttl").write_text("")
    (folder / "linked-inside.ttl").symlink_to(folder / "inner.ttl")  # a link within the record is fine
    assert [p.name for p in record_files([folder])] == ["inner.ttl", "linked-inside.ttl", "systems.csv"]

    (folder / "env.nt").symlink_to(outside)
    message = refusal([folder])
    assert "env.nt: a link out of" in message and "SECRET" not in message
    (folder / "env.nt").unlink()
    (folder / "zero.ttl").symlink_to("/dev/zero")
    assert "zero.ttl: a link out of" in refusal([folder])
    (folder / "zero.ttl").unlink()
    os.mkfifo(folder / "fifo.ttl")
    assert "fifo.ttl: not a regular file" in refusal([folder])
    assert "fifo.ttl: not a regular file" in refusal([folder / "fifo.ttl"])  # named: refused, not opened


def test_a_record_folder_or_file_turned_into_a_link_out_of_the_checkout_is_refused(tmp_path: Path, monkeypatch):
    """The action names the record (``register``) relative to the checkout; a pull request can
    replace the folder with a link to ``/`` (every .ttl and .csv of the machine) or to a file."""
    checkout, elsewhere = tmp_path / "checkout", tmp_path / "elsewhere"
    checkout.mkdir()
    elsewhere.mkdir()
    (elsewhere / "secret.ttl").write_text("SECRET_TOKEN=abc123 .\n")
    (checkout / "register").symlink_to(elsewhere)
    (checkout / "record.ttl").symlink_to(elsewhere / "secret.ttl")
    (checkout / "inside.ttl").symlink_to(checkout / "real.ttl")
    (checkout / "real.ttl").write_text("")
    monkeypatch.chdir(checkout)
    assert "register: a link out of the current directory" in refusal([Path("register")])
    assert "record.ttl: a link out of the current directory" in refusal([Path("record.ttl")])
    assert record_files([Path("inside.ttl")]) == [Path("inside.ttl")]  # a link within the checkout
    assert record_files([elsewhere / "secret.ttl"]) == [elsewhere / "secret.ttl"]  # named outside it: as named


def test_deep_collections_and_blank_nodes_are_read_without_recursion():
    """The positions tokenizer and diff-record's blank-node digests walk 10,000 levels of
    ``( ( ...))`` and ``[ :p [ :p ...]]`` (a recursive walk stops near 1,000)."""
    depth = 10_000
    lists = "<http://x/s> <http://x/p> " + "( " * depth + "1" + " )" * depth + " ."
    nodes = "<http://x/t> <http://x/p> " + "[ <http://x/p> " * depth + "1" + " ]" * depth + " ."
    started = time.monotonic()
    assert turtle_places(lists + "\n" + nodes, "file:///x").described.keys() == {"http://x/s", "http://x/t"}
    store = GraphStore(None)
    data = ox.NamedNode(Graphs.DATA)
    store.extend(
        ox.Quad(q.subject, q.predicate, q.object, data) for q in ox.parse((lists + nodes).encode(), format=ox.RdfFormat.TURTLE)
    )
    triples = Skolemiser(store).triples()
    assert len(triples) == (2 * depth + 1) + (depth + 1)  # a list of one a level: first and rest
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    "text",
    [
        "@prefix e: <http://e/> . " + " ".join(f'e:s{i} e:p "v{i}" .' for i in range(20_000)),  # 500 KB on one line
        '<http://e/s> <http://e/p> "' + 'a\\"' * 250_000 + '" .',
        '<http://e/s> <http://e/p> """' + 'a"b""c\n' * 100_000 + '""" .',
        "<http://e/s> <http://e/p> <http://e/" + "a" * 500_000 + "> .",
        "@prefix e: <http://e/> . e:s e:p e:" + "a." * 250_000 + "a .",
    ],
    ids=["one-line", "escaped-literal", "long-literal", "long-iri", "long-name"],
)
def test_the_positions_tokenizer_is_linear_on_long_lines_and_literals(text: str):
    """Each 500 KB text is tokenized in well under a second (backtracking would take minutes)."""
    assert sum(1 for _ in ox.parse(text.encode(), format=ox.RdfFormat.TURTLE)) >= 1  # it parses
    started = time.monotonic()
    turtle_places(text, "file:///x")
    assert time.monotonic() - started < 3


def test_a_huge_csv_cell_and_nul_bytes_get_a_one_line_reason(tmp_path: Path):
    big = tmp_path / "big.csv"
    big.write_text('name,description,system\nChatbot,"' + "a" * 1_000_000 + '",chat-1\n')
    assert "not valid CSV (line 2): field larger than field limit" in refusal([big])
    nul = tmp_path / "nul.csv"
    nul.write_text("na\0me,description,system\nChatbot,a chatbot,chat-1\n")
    assert "row 1 is not the header" in refusal([nul])


# -- diff-record: REV:PATH ------------------------------------------------------------------


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository: x.ttl at the top, a deep folder a/b/c, links out of rec/ (committed)."""
    repo = tmp_path_factory.mktemp("repo")
    git(repo, "init", "-q", "-b", "main")
    (repo / "x.ttl").write_text("<http://x/s> <http://x/p> 1 .\n")
    (repo / "a" / "b" / "c").mkdir(parents=True)
    (repo / "a" / "b" / "c" / "keep.ttl").write_text("")
    (repo / "rec").mkdir()
    (repo / "rec" / "passwd.ttl").symlink_to("/etc/passwd")
    (repo / "rec" / "up.ttl").symlink_to("../../x.ttl")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "hostile")
    return repo


@pytest.mark.parametrize(
    "spec,words",
    [
        ("--output=x:foo", "one starting with '-'"),
        ("-c:x.ttl", "one starting with '-'"),
        (":x.ttl", "no revision before the colon"),
        ("HEAD:../../etc", "going up with '..' is refused"),
        ("HEAD:./../../etc", "going up with '..' is refused"),
        ("HEAD;touch pwned:x.ttl", "invalid object name 'HEAD;touch pwned'"),
        ("HEAD x:x.ttl", "invalid object name 'HEAD x'"),
        ("$(touch pwned):x.ttl", "invalid object name '$(touch pwned)'"),
        ("`touch pwned`:x.ttl", "invalid object name '`touch pwned`'"),
        ("HEAD:rec", "cannot be read from git"),  # links out of the folder: tarfile's "data" filter
    ],
)
def test_revisions_are_never_options_or_shell(repository: Path, tmp_path: Path, monkeypatch, spec: str, words: str):
    monkeypatch.chdir(repository)
    with pytest.raises(InvalidInput) as caught:
        checkout(spec, tmp_path / "base")
    assert words in caught.value.message and caught.value.message.startswith(spec)
    assert not (repository / "pwned").exists() and not list(tmp_path.rglob("pwned"))


def test_a_path_going_up_cannot_write_outside_the_folder(repository: Path, tmp_path: Path, monkeypatch):
    """From a/b/c git reads ``HEAD:./../../../x.ttl`` as x.ttl; the copy went to the same
    spelling under the work folder, three levels up: out of it (with more levels, anywhere)."""
    monkeypatch.chdir(repository / "a" / "b" / "c")
    work = tmp_path / "w1" / "w2" / "base"
    with pytest.raises(InvalidInput, match=r"going up with '\.\.' is refused"):
        checkout("HEAD:./../../../x.ttl", work)
    assert not (tmp_path / "x.ttl").exists()
    assert checkout("HEAD:./keep.ttl", work) == work / "keep.ttl"  # within the folder: as before


# -- XLSX import --------------------------------------------------------------------------------


def workbook(**parts: bytes) -> bytes:
    """A small workbook (a risk register sheet with a formula cell), its parts replaced or added."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Risk register"
    sheet.append(["system", "risk", "title"])
    sheet.append(["s", "r", '=HYPERLINK("http://example.org/","x")'])
    buffer = io.BytesIO()
    book.save(buffer)
    source, out = zipfile.ZipFile(io.BytesIO(buffer.getvalue())), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            target.writestr(name, parts.pop(name, None) or source.read(name))
        for name, data in parts.items():
            target.writestr(name, data)
    return out.getvalue()


def far_workbook() -> bytes:
    """5 KB: a dimension of A1:XFD1048576 and one cell there. openpyxl pads every row to the
    declared width, so the sheet stood for 17 billion cells: the import never ended."""
    plain = zipfile.ZipFile(io.BytesIO(workbook())).read("xl/worksheets/sheet1.xml")
    far = re.sub(rb'<dimension ref="[^"]*" ?/>', b'<dimension ref="A1:XFD1048576"/>', plain)
    far = far.replace(
        b"</sheetData>", b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
    )
    assert far != plain
    return workbook(**{"xl/worksheets/sheet1.xml": far})


def test_a_huge_dimension_is_refused_at_once():
    started = time.monotonic()
    with pytest.raises(InvalidInput, match=r"more than 4000000 cells \(sheet 'Risk register' reaches row \d+, 16384 columns"):
        xlsx.read_sheets(far_workbook())
    assert time.monotonic() - started < 2


def test_shared_strings_bombs_entities_formulas_and_external_links(recorder: str):
    strings = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>' + b"A" * 20_000_000
    with pytest.raises(InvalidInput, match=r"sharedStrings\.xml' unpacks to 200"):
        xlsx.read_sheets(workbook(**{"xl/sharedStrings.xml": strings + b"</t></si></sst>"}))
    entity = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    with pytest.raises(InvalidInput, match="declares a DOCTYPE or entities"):
        xlsx.read_sheets(workbook(**{"xl/worksheets/sheet1.xml": entity.decode().encode("utf-16")}))
    link = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLinkPath" '
        f'Target="{recorder}/book.xlsx" TargetMode="External"/></Relationships>'
    )
    sheets = xlsx.read_sheets(workbook(**{"xl/externalLinks/_rels/externalLink1.xml.rels": link.encode()}))
    assert sheets["Risk register"][1] == ("s", "r", '=HYPERLINK("http://example.org/","x")')  # text, never run
    assert _Recorder.asked == []


# -- MCP over HTTP --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mcp_url(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir) -> Iterator[str]:
    """``aimsgraph mcp --transport http`` over a copy of the demo, bodies capped at 64 KiB."""
    data_dir = fresh_data_dir(tmp_path_factory.mktemp("mcp") / "db")
    port = free_port()
    env = {**os.environ, "AIMSGRAPH_DATA_DIR": str(data_dir), "AIMSGRAPH_MAX_BODY_BYTES": "65536"}
    log = data_dir.with_name("mcp.log")
    with log.open("wb") as out:
        command = [sys.executable, "-m", "aimsgraph.cli", "mcp", "--transport", "http", "--port", str(port)]
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert process.poll() is None, log.read_text(errors="replace")
        yield url
    finally:
        stop_process(process, grace=20)


SYSTEM = f"SELECT ?s WHERE {{ ?s a <{AIMS}AISystem> }} LIMIT 1"
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def rpc(url: str, method: str, params: dict, session: str | None = None, ident: int = 1) -> requests.Response:
    headers = {**HEADERS, **({"Mcp-Session-Id": session} if session else {})}
    body = {"jsonrpc": "2.0", "id": ident, "method": method, "params": params}
    return requests.post(url, data=json.dumps(body), headers=headers, timeout=30)


def result(answer: requests.Response) -> dict:
    """The JSON-RPC result of an answer sent as JSON or as one server-sent event."""
    assert answer.status_code == 200, answer.text
    text = answer.text
    payload = json.loads(
        text if text.startswith("{") else next(line[5:] for line in text.splitlines() if line.startswith("data:"))
    )
    return payload["result"]


def test_mcp_bodies_past_the_cap_are_413_and_deep_json_is_400(mcp_url: str):
    huge = requests.post(mcp_url, data=b'{"x":"' + b"a" * 200_000 + b'"}', headers=HEADERS, timeout=30)
    assert huge.status_code == 413 and "too large" in huge.text
    streamed = requests.post(mcp_url, data=iter([b'{"x":"', b"a" * 100_000, b'"}']), headers=HEADERS, timeout=30)
    assert streamed.status_code == 413  # chunked, no length declared: counted as it arrives
    deep = requests.post(mcp_url, data=b"[" * 20_000 + b"]" * 20_000, headers=HEADERS, timeout=30)
    assert deep.status_code == 400 and "Parse error" in deep.text


def test_mcp_tool_arguments_of_the_wrong_type_or_size_are_tool_errors(mcp_url: str):
    opened = rpc(
        mcp_url, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    )
    session = opened.headers["Mcp-Session-Id"]
    result(opened)
    requests.post(
        mcp_url,
        data=json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        headers={**HEADERS, "Mcp-Session-Id": session},
        timeout=30,
    )
    system = result(rpc(mcp_url, "tools/call", {"name": "sparql_query", "arguments": {"query": SYSTEM}}, session, 2))
    node = system["structuredContent"]["rows"][0]["s"]
    calls = [
        ("sparql_query", {"query": "SELECT * WHERE { ?s ?p ?o }", "limit": "many"}, "limit"),
        ("sparql_query", {"query": ["not", "text"]}, "query"),
        ("sparql_query", {"query": "#" * 60_000 + "\nASK {}", "limit": 10**40}, None),
        ("what_if", {"node": node, "modifications": [{"op": 5}]}, "modification 1: unknown op 5"),
        ("what_if", {"node": node, "modifications": [{"op": "remove-control", "control": {"x": 1}}]}, "control must be"),
        ("what_if", {"node": node, "modifications": "remove everything"}, "modifications"),
        ("explain_risk", {"node": 42}, "node"),
        ("due_items", {"within": "9" * 5000 + "d"}, "within must be a number"),
        ("validate", {"limit": -1}, "limit must be a whole number from 1 to 1000"),
    ]
    for number, (tool, arguments, words) in enumerate(calls, start=3):
        answer = result(rpc(mcp_url, "tools/call", {"name": tool, "arguments": arguments}, session, number))
        text = answer["content"][0]["text"]
        if words is None:
            assert not answer.get("isError"), text  # a huge limit is cut to AIMSGRAPH_RESULT_LIMIT
        else:
            assert answer.get("isError") and words in text, (tool, text)
    still = result(rpc(mcp_url, "tools/call", {"name": "sparql_query", "arguments": {"query": "ASK {}"}}, session, 99))
    assert not still.get("isError") and still["structuredContent"]["boolean"] is True


# -- the GitHub Action's script ------------------------------------------------------------------


SCRIPT = REPO / ".github" / "aimsgraph-action.sh"


def action(step: str, folder: Path, event: dict, **env: str) -> subprocess.CompletedProcess:
    (folder / "event.json").write_text(json.dumps(event))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_"))}
    base["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), base.get("PATH", "")])
    github = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(folder / "event.json"),
        "GITHUB_OUTPUT": str(folder / "output"),
        "RUNNER_TEMP": str(folder / "runner"),
    }
    command = ["bash", str(SCRIPT), step]  # stderr into stdout, in order, as the runner's log has them
    return subprocess.run(
        command, cwd=folder, env=base | github | env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_the_action_takes_no_command_from_the_record_and_no_shell_from_the_event(tmp_path: Path):
    """A file name holding a newline and ``::set-output`` went to the log as a workflow command;
    a base "sha" of ``$(...)`` is refused before git sees it (branch names are never read)."""
    record = tmp_path / "record"
    record.mkdir()
    (record / "a\n::set-output name=status::0\n.ttl").write_text("not turtle")
    done = action("validate", tmp_path, {}, AIMSGRAPH_PATH="record")
    assert done.returncode == 2
    log = done.stdout.splitlines()
    token = next(line for line in log if line.startswith("::stop-commands::")).removeprefix("::stop-commands::")
    injected = log.index("::set-output name=status::0")
    assert log.index(f"::stop-commands::{token}") < injected < log.index(f"::{token}::")
    event = {"pull_request": {"number": 1, "base": {"sha": "$(touch pwned)"}, "head": {"ref": "`touch pwned`;$(touch pwned)"}}}
    diff = action("diff", tmp_path, event, AIMSGRAPH_PATH="record")
    assert diff.returncode == 2 and "no pull_request.base.sha (a commit id)" in diff.stdout
    assert not list(tmp_path.rglob("pwned")) and not (REPO / "pwned").exists()
