"""The README's production command holds slow clients (issue 17).

Under the production command the README documented before, ``gunicorn -w 1 --threads 8``, eight
sockets that sent one request line and then nothing blocked every client for 90 s or more. The
production command is now ``aimsgraph serve --production`` (waitress, docs/production.md): its
front reads whole requests before a worker thread sees them. This starts that command on a free
loopback port, opens 20 idle sockets that have sent part of a request, and checks that probes
of /api/health and a small /sparql query each answer within a few seconds, while the server
keeps the idle sockets open. Every wait has a deadline: the test takes about 5 s.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import REPO, FreshDataDir, free_port

#: What the README's production paragraph says to run, after ``aimsgraph``.
PRODUCTION = ("serve", "--production")
IDLE_SOCKETS = 20
#: Seconds a probe may take while the idle sockets are open.
PROBE_SECONDS = 5.0
QUERY = "SELECT ?class WHERE { ?class a <http://www.w3.org/2002/07/owl#Class> } LIMIT 3"
#: A small body limit for the check that waitress refuses a chunked body over it.
BODY_LIMIT = 4096


@pytest.mark.parametrize("page", ["README.md", "docs/cli.md"])
def test_the_production_paragraph_gives_this_command(page: str):
    """The command started below is the one the production paragraph gives, in the README (the
    front door) and in the command-line reference (docs/cli.md), where the full paragraph lives."""
    text = (REPO / page).read_text(encoding="utf-8")
    paragraph = re.search(r"\*\*Production:\*\*(.+?)(?:\n\n|\Z)", text, re.S)  # to a blank line or the end
    assert paragraph, f"{page} has no **Production:** paragraph"
    assert "aimsgraph " + " ".join(PRODUCTION) in paragraph.group(1)


@pytest.fixture
def production(tmp_path: Path, fresh_data_dir: FreshDataDir):
    """``aimsgraph serve --production`` over an empty store (no demo, to start fast)."""
    port = free_port()
    env = {
        **os.environ,
        "AIMSGRAPH_DATA_DIR": str(fresh_data_dir(tmp_path / "db", demo=False)),
        "AIMSGRAPH_DEMO": "false",
        "AIMSGRAPH_MAX_BODY_BYTES": str(BODY_LIMIT),
        "AIMSGRAPH_MAX_UPLOAD_BYTES": str(BODY_LIMIT),
    }
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:  # a file, not a pipe: a full pipe would block the server
        process = subprocess.Popen(
            [sys.executable, "-m", "aimsgraph.cli", *PRODUCTION, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log_path)
        yield url, port, process, tmp_path / "db"
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(url: str, process: subprocess.Popen, log_path: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the production server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            if requests.get(url + "/api/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail(f"the production server did not answer /api/health within {seconds:g} s")


#: How the idle sockets' requests begin and stop: headers never finished, or a body never finished.
PARTIAL = (
    b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n",
    b"POST /sparql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/sparql-query\r\nContent-Length: 1000\r\n\r\nSELECT",
)


def idle_sockets(port: int, count: int) -> list[socket.socket]:
    """Connections that send part of a request (alternately of the headers and of the body),
    and then nothing."""
    opened = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=PROBE_SECONDS)
        sock.sendall(PARTIAL[i % 2])
        opened.append(sock)
    return opened


def still_open(sock: socket.socket) -> bool:
    """The server has neither answered nor closed this connection."""
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False  # EOF or an answer


def timed(call) -> tuple[requests.Response, float]:
    started = time.monotonic()
    return call(), time.monotonic() - started


@pytest.mark.slow
def test_idle_sockets_hold_no_thread_and_probes_answer(production):
    url, port, process, data_dir = production
    announced = json.loads((data_dir / "aimsgraph-service.json").read_text())
    assert announced["pid"] == process.pid  # the CLI's commands find it, as with plain serve
    held = idle_sockets(port, IDLE_SOCKETS)  # more than the 8 threads: each would hold one under gunicorn
    try:
        time.sleep(0.3)  # the server has accepted them
        for _ in range(3):
            health, seconds = timed(lambda: requests.get(url + "/api/health", timeout=PROBE_SECONDS))
            assert health.status_code == 200 and seconds < PROBE_SECONDS
            answer, seconds = timed(
                lambda: requests.post(
                    url + "/sparql",
                    data={"query": QUERY},
                    timeout=PROBE_SECONDS,
                    headers={"Accept": "application/sparql-results+json"},
                )
            )
            assert answer.status_code == 200 and seconds < PROBE_SECONDS
            assert len(answer.json()["results"]["bindings"]) == 3
        assert all(still_open(sock) for sock in held), "the server dropped idle sockets instead of holding them"
    finally:
        for sock in held:
            sock.close()
    process.terminate()  # SIGTERM stops it cleanly: store flushed, announcement withdrawn
    assert process.wait(timeout=15) == 0
    assert not (data_dir / "aimsgraph-service.json").exists()


@pytest.mark.slow
def test_a_chunked_body_over_the_limit_is_refused_while_it_arrives(production):
    """waitress counts a chunked body against the service's limit as it reads it: 413, and the
    handler never sees a body cut at the limit."""
    url = production[0]

    def chunks():
        for _ in range(4):
            yield b'<http://example.org/s> <http://example.org/p> "' + b"x" * BODY_LIMIT + b'" .\n'

    refused = requests.post(
        url + "/api/validate", data=chunks(), timeout=PROBE_SECONDS, headers={"Content-Type": "application/n-triples"}
    )
    assert refused.status_code == 413
    assert requests.get(url + "/api/health", timeout=PROBE_SECONDS).status_code == 200
