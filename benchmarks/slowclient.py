"""Slow-client benchmark: does the production server keep answering while idle sockets hold
connections open (slowloris), and what does a small query cost through it?

    python -m benchmarks.slowclient [--server production|gunicorn|development] [--idle 20]
                                    [--clients 4] [--seconds 10] [--requests 5000] [--json FILE]

It starts one server on a free loopback port over a temporary store (no demo: the ontology and
catalogue only), then measures two phases with ``--clients`` threads sending a small SELECT to
``/sparql`` over keep-alive sessions: *quiet*, then *slowloris*, with ``--idle`` sockets that
never finish their request (half stop in the headers, half in the body, and each trickles a
little more every few seconds so that no idle timeout closes it). It prints, for each phase, the latency p50/p99/max, the
throughput and the errors (timeouts, refused connections, statuses other than 200), and how
many idle sockets the server had closed by the end.

``production`` is the README's production command (``aimsgraph serve --production``);
``gunicorn`` is the command the README documented before issue 17
(``gunicorn -w 1 --threads 8``, needs gunicorn installed); ``development`` is plain
``aimsgraph serve``. Every loop is bounded in count and time, every request has a timeout, and
the run stops by itself (under a minute with the defaults, plus start-up).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from benchmarks.common import Server, load_test, start_server

#: The small SELECT every client sends (the ontology is in every store, demo or not).
QUERY = "SELECT ?class WHERE { ?class a <http://www.w3.org/2002/07/owl#Class> } LIMIT 10"
#: Seconds one request may take before it counts as an error (connect, then each read).
REQUEST_TIMEOUT = 10.0
#: Seconds between the bits of its request an idle socket trickles, to stay under idle timeouts.
TRICKLE_SECONDS = 5.0
#: How the idle sockets' requests begin: headers never finished, or a body never finished.
PARTIAL_HEADERS = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
PARTIAL_BODY = (
    b"POST /sparql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/sparql-query\r\nContent-Length: 100000\r\n\r\nSELECT"
)


#: Each server as its documentation writes the command.
COMMANDS = {
    "production": "aimsgraph serve --production",
    "development": "aimsgraph serve",
    "gunicorn": "gunicorn -w 1 --threads 8 'aimsgraph.http.app:create_app()'",
}


def server_command(kind: str, port: int) -> list[str]:
    """The command line of each server this benchmark can compare."""
    if kind == "production":  # the README's production command
        return [sys.executable, "-m", "aimsgraph.cli", "serve", "--production", "--host", "127.0.0.1", "--port", str(port)]
    if kind == "gunicorn":  # the README's command before issue 17
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "1",
            "--threads",
            "8",
            "-b",
            f"127.0.0.1:{port}",
            "aimsgraph.http.app:create_app()",
        ]
    return [sys.executable, "-m", "aimsgraph.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]


def start(kind: str, data_dir: Path, start_timeout: float = 120) -> Server:
    """Start ``kind`` over ``data_dir`` (no demo) and wait for /api/health."""
    return start_server(data_dir, start_timeout, command=lambda port: server_command(kind, port))


class IdleSockets:
    """``count`` connections that never finish their request, the slowloris pattern: half have
    sent a request line and one header and trickle one more header line every TRICKLE_SECONDS;
    the other half have sent whole headers announcing a body and trickle one byte of it. Both
    include "send one request line and then nothing"; a server that gives a connection a
    thread before its request is whole loses a thread to each."""

    def __init__(self, url: str, count: int) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.open: list[tuple[socket.socket, bytes]] = []  # each socket and what it trickles
        self.closed_by_server = 0
        try:
            for i in range(count):
                sock = socket.create_connection((host, int(port)), timeout=REQUEST_TIMEOUT)
                self.open.append((sock, b"x" if i % 2 else b"X-Slow: 1\r\n"))
                sock.sendall(PARTIAL_BODY if i % 2 else PARTIAL_HEADERS)
        except OSError:
            self._close_all()
            raise
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, name="slowloris", daemon=True)
        self._thread.start()

    def _trickle(self) -> None:
        """A little more of each request every TRICKLE_SECONDS, so that no idle timeout closes
        it; a socket the server closed is counted and dropped."""
        while not self._stop.wait(TRICKLE_SECONDS):
            for entry in list(self.open):
                try:
                    entry[0].sendall(entry[1])
                except OSError:
                    self.open.remove(entry)
                    self.closed_by_server += 1
                    entry[0].close()

    def close(self) -> int:
        """Stop trickling and close every socket; how many the server had closed first."""
        self._stop.set()
        self._thread.join(timeout=TRICKLE_SECONDS + 1)
        self.closed_by_server += sum(_closed_by_peer(sock) for sock, _ in self.open)
        self._close_all()
        return self.closed_by_server

    def _close_all(self) -> None:
        for sock, _ in self.open:
            sock.close()
        self.open = []


def _closed_by_peer(sock: socket.socket) -> bool:
    """True if the server has closed this connection (a read returns EOF or an error)."""
    try:
        sock.setblocking(False)
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def query_load(url: str, clients: int, total: int, seconds: float) -> dict:
    """``clients`` threads sending QUERY until ``total`` requests are sent or ``seconds`` have
    passed: latency percentiles, throughput and errors (anything but a 200 within
    REQUEST_TIMEOUT)."""

    def per_thread():
        session = requests.Session()
        return lambda _: _ask(session, url)

    measured = load_test(per_thread, clients, total, seconds)
    result = {
        "answered": measured["answered"],
        "errors": measured["errors"],
        "first_error": measured["first_error"],
        "seconds": round(measured["seconds"], 1),
        "throughput": round(measured["throughput"], 1),
    }
    return {**result, **_rounded({k: v for k, v in measured.items() if k.endswith("_ms") or k == "n"})}


def _ask(session: requests.Session, url: str) -> None:
    response = session.post(
        url + "/sparql", data={"query": QUERY}, timeout=REQUEST_TIMEOUT, headers={"Accept": "application/sparql-results+json"}
    )
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}")


def _rounded(figures: dict) -> dict:
    return {key: round(value, 1) if isinstance(value, float) else value for key, value in figures.items()}


def measure(kind: str, idle: int, clients: int, seconds: float, total: int, workdir: Path) -> dict:
    """Both phases against one fresh server of ``kind``; the server and sockets are closed
    whatever happens."""
    server = start(kind, workdir / "store")
    try:
        quiet = query_load(server.url, clients, total, seconds)
        sockets = IdleSockets(server.url, idle)
        try:
            time.sleep(0.5)  # let the server accept them all before the clients start
            slow = query_load(server.url, clients, total, seconds)
        finally:
            closed = sockets.close()
        slow["idle_closed_by_server"] = closed
        health = _healthy(server.url)
    finally:
        server.stop()
    return {
        "server": kind,
        "command": COMMANDS[kind],
        "idle": idle,
        "clients": clients,
        "quiet": quiet,
        "slowloris": slow,
        "healthy_after": health,
    }


def _healthy(url: str) -> bool:
    try:
        return requests.get(url + "/api/health", timeout=REQUEST_TIMEOUT).status_code == 200
    except requests.RequestException:
        return False


def table(result: dict) -> str:
    """The two phases as a Markdown table."""
    lines = [
        f"{result['server']}: {result['clients']} clients, small SELECT; slowloris = {result['idle']} idle sockets",
        "",
        "| phase | answered | errors | req/s | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for phase in ("quiet", "slowloris"):
        row = result[phase]
        figures = [row.get(key, "-") for key in ("p50_ms", "p99_ms", "max_ms")]
        lines.append(
            f"| {phase} | {row['answered']} | {row['errors']} | {row['throughput']} | "
            + " | ".join(str(f) for f in figures)
            + " |"
        )
    slow = result["slowloris"]
    lines += [
        "",
        f"idle sockets closed by the server: {slow['idle_closed_by_server']} of {result['idle']}; "
        f"healthy afterwards: {result['healthy_after']}",
    ]
    if slow["first_error"] or result["quiet"]["first_error"]:
        lines.append(f"first error: {slow['first_error'] or result['quiet']['first_error']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.slowclient", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", choices=("production", "gunicorn", "development"), default="production")
    parser.add_argument("--idle", type=int, default=20, help="idle sockets during the slowloris phase")
    parser.add_argument("--clients", type=int, default=4, help="client threads querying /sparql")
    parser.add_argument("--seconds", type=float, default=10, help="at most this long per phase")
    parser.add_argument("--requests", type=int, default=5000, help="at most this many requests per phase")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aimsgraph-slowclient-") as tmp:
        result = measure(args.server, args.idle, args.clients, args.seconds, args.requests, Path(tmp))
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
