"""``python -m benchmarks.killwrites``: are acknowledged writes kept when the process is killed?

Each round starts the service over one store, has writers send SPARQL updates (one new triple
each) for a random time, kills the process with SIGKILL mid-stream, starts it again over the same
store and checks that every write that was answered 2xx is there. Bounded: ``--rounds`` rounds,
each with at most ``--seconds`` of writing; traffic only to the loopback server it starts.

    python -m benchmarks.killwrites [--rounds 5] [--writers 4] [--seconds 4] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from benchmarks.common import start_server

TOKEN = "killwrites-editor"
SUBJECT = "urn:killwrites:"


def write_until_killed(url: str, stop: threading.Event, acknowledged: list[str], prefix: str) -> None:
    """Send one-triple updates until ``stop``; keep the ids the service acknowledged."""
    number = 0
    while not stop.is_set():
        number += 1
        key = f"{prefix}-{number}"
        update = f"INSERT DATA {{ GRAPH <urn:killwrites> {{ <{SUBJECT}{key}> <urn:killwrites:p> {number} }} }}"
        try:
            answer = requests.post(
                url + "/update", data={"update": update}, timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}
            )
        except requests.RequestException:
            return  # the process is gone
        if answer.ok:
            acknowledged.append(key)


def stored(url: str) -> set[str]:
    query = "SELECT ?s WHERE { GRAPH <urn:killwrites> { ?s ?p ?o } }"
    answer = requests.post(
        url + "/sparql", data={"query": query}, headers={"Accept": "application/sparql-results+json"}, timeout=60
    )
    answer.raise_for_status()
    return {row["s"]["value"].removeprefix(SUBJECT) for row in answer.json()["results"]["bindings"]}


def one_round(data_dir: Path, writers: int, seconds: float, chosen: random.Random, number: int) -> dict:
    env = {"AIMSGRAPH_TOKENS": f"editor:killwrites:{TOKEN}"}
    server = start_server(data_dir, **env)
    acknowledged: list[str] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=write_until_killed, args=(server.url, stop, acknowledged, f"r{number}w{i}"))
        for i in range(writers)
    ]
    for thread in threads:
        thread.start()
    time.sleep(chosen.uniform(seconds / 4, seconds))
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    restarted = start_server(data_dir, **env)
    try:
        lost = sorted(set(acknowledged) - stored(restarted.url))
    finally:
        restarted.stop()
    return {"acknowledged": len(acknowledged), "lost": len(lost), "examples": lost[:5]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.killwrites", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    chosen = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        rounds = [one_round(Path(folder) / "db", args.writers, args.seconds, chosen, n) for n in range(args.rounds)]
    total = {"rounds": rounds, "acknowledged": sum(r["acknowledged"] for r in rounds), "lost": sum(r["lost"] for r in rounds)}
    print(json.dumps(total, indent=2))
    return 0 if total["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
