"""What every benchmark module shares: timing a call, percentiles of samples, a bounded
concurrent load of calls, and a real ``aimsgraph serve`` process on loopback over a store
directory.

The server is started the way ``tests/conftest.py`` starts it (``python -m aimsgraph.cli serve``,
log to a file), but without importing the test suite, and with a start-up deadline a caller
sets: opening a store of 10k systems and building its risk model takes far longer than the
tests' 60 s allowance for the demo.
"""

from __future__ import annotations

import itertools
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests


def timed(function, *args, **kwargs):
    """``(result, seconds)`` of one call."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def percentiles(samples: list[float]) -> dict:
    """p50, p95, p99 and max of samples in seconds, in milliseconds (nearest rank below)."""
    ordered = sorted(samples)

    def rank(fraction: float) -> float:
        return 1000 * ordered[int(fraction * (len(ordered) - 1))]

    return {
        "p50_ms": 1000 * statistics.median(ordered),
        "p95_ms": rank(0.95),
        "p99_ms": rank(0.99),
        "max_ms": 1000 * ordered[-1],
        "n": len(ordered),
    }


def load_test(
    per_thread: Callable[[], Callable[[int], object]], concurrency: int, total: int, seconds: float | None = None
) -> dict:
    """``total`` calls (fewer if ``seconds`` pass first) spread over ``concurrency`` threads, each
    calling what its own ``per_thread()`` returns (an HTTP session, say) with the call's number:
    the throughput in calls/s, the latency percentiles, and the failures."""
    counter = itertools.count()  # next() on it is atomic under the GIL
    samples: list[float] = []
    errors: list[str] = []
    deadline = None if seconds is None else time.monotonic() + seconds

    def worker() -> None:
        call = per_thread()
        while (deadline is None or time.monotonic() < deadline) and (i := next(counter)) < total:
            try:
                samples.append(timed(call, i)[1])
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    result = {
        "throughput": len(samples) / elapsed,
        "answered": len(samples),
        "seconds": elapsed,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }
    return {**result, **percentiles(samples)} if samples else result


@dataclass
class Server:
    """A running ``aimsgraph serve``: its base URL, process and log file."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s (the service flushes the store when it stops)."""
        stop_process(self.process)


def stop_process(process: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; nothing if it has ended."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_command(port: int) -> list[str]:
    """``aimsgraph serve`` on a loopback port."""
    return [sys.executable, "-m", "aimsgraph.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]


def production_command(port: int) -> list[str]:
    """``aimsgraph serve --production`` (waitress, docs/production.md) on a loopback port."""
    return [sys.executable, "-m", "aimsgraph.cli", "serve", "--production", "--host", "127.0.0.1", "--port", str(port)]


def start_server(
    data_dir: Path, start_timeout: float = 600, command: Callable[[int], list[str]] = serve_command, **env_overrides: str
) -> Server:
    """Start the service (``command`` for a free loopback port) over ``data_dir`` (no demo) and
    wait until /api/health answers; RuntimeError with the log if it exits or misses the deadline."""
    port = free_port()
    env = {**os.environ, "AIMSGRAPH_DATA_DIR": str(data_dir), "AIMSGRAPH_DEMO": "false", **env_overrides}
    log_path = data_dir.with_name(data_dir.name + ".log")
    with log_path.open("wb") as log:  # a file, not a pipe: a full pipe would block the server
        process = subprocess.Popen(command(port), env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + start_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"aimsgraph serve exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            if requests.get(server.url + "/api/health", timeout=5).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"aimsgraph serve did not become healthy within {start_timeout:.0f} s")
