"""aimsgraph over a private Virtuoso 7 (``virtuoso-t`` from Debian's ``virtuoso-opensource``).

``python -m benchmarks.virtuoso --systems 1000 [10000]`` generates the organisation
(:func:`benchmarks.generate.generate`, fixed seed), loads it into a fresh Virtuoso with the bulk
loader (``ld_dir`` / ``rdf_loader_run`` through ``isql-vt``), starts ``aimsgraph serve`` in
remote mode against it, and measures every named query (p50 of a few runs, 30 s per query) and
``POST /api/impact`` on about 100 random systems, models and datasets (p50/p99). It prints a
Markdown table per size.

:class:`VirtuosoServer` is also what ``tests/test_external_virtuoso.py`` starts: its own
directory and ``virtuoso.ini``, free loopback ports for the SQL and HTTP listeners, the
``SPARQL_UPDATE`` grant for the endpoint's ``SPARQL`` user, killed when stopped. The Debian
package's system instance (ports 1111/8890) is never used.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from benchmarks.common import free_port, percentiles, start_server, stop_process

VIRTUOSO = shutil.which("virtuoso-t")
ISQL = shutil.which("isql-vt")
#: aimsgraph keeps the demo's ontology, shapes and data in named graphs.
DATA_GRAPH = "https://w3id.org/aimsgraph/graph/data"
RESULTS = "application/sparql-results+json"

INI = """\
[Database]
DatabaseFile       = {dir}/virtuoso.db
ErrorLogFile       = {dir}/virtuoso.log
LockFile           = {dir}/virtuoso.lck
TransactionFile    = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
MaxCheckpointRemap = 2000
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = {dir}/virtuoso-temp.db
TransactionFile    = {dir}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping           = 0

[Parameters]
ServerPort           = 127.0.0.1:{sql_port}
DisableUnixSocket    = 1
MaxClientConnections = 100
CheckpointInterval   = 60
CaseMode             = 2
DirsAllowed          = ., {dir}
; about 1.3 GB of buffers (Virtuoso's guide: 85,000 per GB of RAM to give it)
NumberOfBuffers      = {buffers}
MaxDirtyBuffers      = {dirty}
ThreadsPerQuery      = {threads}
MaxQueryMem          = 1G

[HTTPServer]
ServerPort           = 127.0.0.1:{http_port}
ServerRoot           = {dir}
MaxClientConnections = 100
ServerThreads        = 100
Charset              = UTF-8
EnabledGzipContent   = 0

[SPARQL]
; the default, 10,000, silently cuts every larger answer: aimsgraph reads whole answers
ResultSetMaxRows           = 100000000
; 0: no "anytime" partial answers and no cost-estimate refusals; aimsgraph times out itself
MaxQueryExecutionTime      = 0
MaxQueryCostEstimationTime = 0
MaxSortedTopRows           = 100000000
"""


class VirtuosoServer:
    """A private ``virtuoso-t`` on free loopback ports, in ``directory``, SPARQL update allowed
    to the ``/sparql`` endpoint's user (the database's ``dba`` password stays the default
    ``dba``: the SQL port listens on loopback only)."""

    def __init__(self, directory: Path, buffers: int = 110_000, start_timeout: float = 120, threads_per_query: int = 2) -> None:
        if not VIRTUOSO or not ISQL:
            raise RuntimeError("virtuoso-t / isql-vt are missing: run .ci/install-virtuoso (Debian virtuoso-opensource)")
        self.directory = Path(directory).resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.sql_port, self.http_port = free_port(), free_port()
        while self.http_port == self.sql_port:
            self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.sparql = self.url + "/sparql"
        (self.directory / "virtuoso.ini").write_text(
            INI.format(
                dir=self.directory,
                sql_port=self.sql_port,
                http_port=self.http_port,
                buffers=buffers,
                dirty=buffers * 3 // 4,
                threads=threads_per_query,
            )
        )
        self.log_path = self.directory / "virtuoso-t.out"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [VIRTUOSO, "+foreground", "+configfile", str(self.directory / "virtuoso.ini")],
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait(start_timeout)
            try:
                self.isql('GRANT SPARQL_UPDATE TO "SPARQL";')
            except RuntimeError as exc:  # a database opened again keeps its grant
                if "already have role" not in str(exc):
                    raise
        except BaseException:
            self.stop()
            raise

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"virtuoso-t exited with {self.process.returncode}:\n" + self.log_path.read_text(errors="replace")[-3000:]
                )
            try:
                if requests.get(self.sparql, params={"query": "ASK {}"}, timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"virtuoso-t did not answer within {timeout:.0f} s")

    def isql(self, *statements: str, timeout: float = 3600) -> str:
        """Run SQL statements through ``isql-vt`` as ``dba``; its output, RuntimeError on an error."""
        done = subprocess.run(
            [ISQL, f"127.0.0.1:{self.sql_port}", "dba", "dba", "VERBOSE=OFF", "BANNER=OFF", "ERRORS=STDOUT"],
            check=False,
            input="\n".join(statements) + "\n",
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = done.stdout + done.stderr
        if done.returncode != 0 or "*** Error" in output:
            raise RuntimeError(f"isql-vt failed: {output.strip()[-2000:]}")
        return output

    def env(self) -> dict[str, str]:
        """aimsgraph's settings for this store: one endpoint for queries and updates."""
        return {"AIMSGRAPH_REMOTE_QUERY_URL": self.sparql, "AIMSGRAPH_REMOTE_UPDATE_URL": self.sparql}

    @property
    def query_url(self) -> str:
        return self.sparql

    def select(self, query: str) -> list[dict]:
        answer = requests.post(self.sparql, data={"query": query}, headers={"Accept": RESULTS}, timeout=60)
        answer.raise_for_status()
        return answer.json()["results"]["bindings"]

    def ask(self, query: str) -> bool:
        answer = requests.post(self.sparql, data={"query": query}, headers={"Accept": RESULTS}, timeout=60)
        answer.raise_for_status()
        return bool(answer.json()["boolean"])

    def count(self, graph: str) -> int:
        rows = self.select(f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
        return int(rows[0]["n"]["value"])

    def bulk_load(self, file: Path, graph: str) -> float:
        """Load an N-Triples/Turtle file into ``graph`` with Virtuoso's bulk loader (the file is
        linked into the server's directory, which ``DirsAllowed`` lists); the seconds it took."""
        file = Path(file).resolve()
        inbox = self.directory / "load"
        inbox.mkdir(exist_ok=True)
        target = inbox / file.name
        if not target.exists():
            try:
                target.hardlink_to(file)
            except OSError:
                shutil.copyfile(file, target)
        started = time.perf_counter()
        self.isql(f"ld_dir('{inbox}', '{file.name}', '{graph}');", "rdf_loader_run();", "checkpoint;")
        failed = self.isql("SELECT 'LOADERR', ll_file, ll_error FROM DB.DBA.LOAD_LIST WHERE ll_error IS NOT NULL;")
        if "LOADERR" in failed:
            raise RuntimeError(f"the bulk loader failed: {failed.strip()}")
        return time.perf_counter() - started

    def stop(self) -> None:
        """SIGTERM (Virtuoso checkpoints and exits), SIGKILL after 30 s."""
        stop_process(self.process)


# -- the benchmark -------------------------------------------------------------------------------

AIMS = "https://w3id.org/aimsgraph/ontology#"


def organisation(systems: int, workdir: Path) -> Path:
    """The generated organisation as N-Triples: an existing ``/tmp/b/org-N.nt`` or ``workdir``'s,
    else generated now (fixed seed, so the same data either way)."""
    from benchmarks.generate import generate

    for candidate in (workdir / f"org-{systems}.nt", Path("/tmp/b") / f"org-{systems}.nt"):
        if candidate.exists() and candidate.stat().st_size:
            return candidate
    target = workdir / f"org-{systems}.nt"
    target.write_text(generate(systems))
    return target


def impact_nodes(store: VirtuosoServer, count: int, seed: int = 7) -> list[str]:
    """``count`` random systems, models and datasets of the loaded organisation."""
    rows = store.select(f"""SELECT DISTINCT ?n WHERE {{ GRAPH <{DATA_GRAPH}> {{
        VALUES ?type {{ <{AIMS}AISystem> <{AIMS}Model> <{AIMS}Dataset> }} ?n a ?type }} }}""")
    nodes = sorted(row["n"]["value"] for row in rows)
    return random.Random(seed).sample(nodes, min(count, len(nodes)))


def measure(systems: int, workdir: Path, runs: int, impacts: int, query_timeout: float) -> dict:
    from benchmarks.generate import BASE
    from benchmarks.harness import http_call, named_queries

    data = organisation(systems, workdir)
    store = VirtuosoServer(workdir / f"virtuoso-{systems}", buffers=170_000)
    server = None
    try:
        load_s = store.bulk_load(data, DATA_GRAPH)
        quads = store.count(DATA_GRAPH)
        started = time.perf_counter()
        server = start_server(
            workdir / f"unused-{systems}",
            1800,
            **store.env(),
            AIMSGRAPH_QUERY_TIMEOUT=f"{query_timeout:g}",
            AIMSGRAPH_RESULT_LIMIT="100000000",
        )
        session = requests.Session()
        nodes = impact_nodes(store, impacts)
        session.post(server.url + "/api/impact", json={"node": nodes[0]}, timeout=1800).raise_for_status()
        start_s = time.perf_counter() - started
        system = f"{BASE}system/{systems // 2}"
        values = {"system": system, "node": system, "asset": system}
        queries = []
        for name, named in named_queries().items():
            missing = [p.name for p in named.parameters if p.required and p.name not in values]
            if missing:
                queries.append((name, None, f"no value for {', '.join(missing)}"))
                continue
            bound = {p.name: values[p.name] for p in named.parameters if p.required}
            samples, note = [], ""
            for _ in range(runs + 1):  # the first run warms up and is not counted
                try:
                    _, seconds = _timed(
                        lambda named=named, bound=bound: http_call(session, server.url, named, bound, query_timeout + 5)
                    )
                except requests.RequestException as exc:
                    status = getattr(getattr(exc, "response", None), "status_code", None)
                    note = (
                        f"timed out ({query_timeout:g} s)"
                        if status == 503 or isinstance(exc, requests.Timeout)
                        else f"failed: {str(exc)[:80]}"
                    )
                    break
                samples.append(seconds)
                if seconds > query_timeout / 2:  # slow: one counted run is enough
                    break
            counted = samples[1:] or samples
            queries.append((name, statistics.median(counted) if counted and not note else None, note))
        impact_samples, failures = [], 0
        for node in nodes:
            try:
                _, seconds = _timed(
                    lambda node=node: session.post(
                        server.url + "/api/impact", json={"node": node}, timeout=query_timeout + 30
                    ).raise_for_status()
                )
                impact_samples.append(seconds)
            except requests.RequestException:
                failures += 1
        return {
            "systems": systems,
            "quads": quads,
            "load_s": load_s,
            "start_s": start_s,
            "queries": queries,
            "impact": percentiles(impact_samples) if impact_samples else None,
            "impact_failures": failures,
            "impact_nodes": len(nodes),
        }
    finally:
        if server is not None:
            server.stop()
        store.stop()


def _timed(call):
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def report(result: dict) -> str:
    lines = [
        f"### {result['systems']:,} systems ({result['quads']:,} quads in the data graph)",
        "",
        "| what | p50 | note |",
        "|---|---:|---|",
        f"| bulk load (`ld_dir` + `rdf_loader_run` + checkpoint) | {_ms(result['load_s'])} | one run |",
        f"| `aimsgraph serve` start to first impact answer | {_ms(result['start_s'])} | loads ontology, shapes, "
        "vocabularies; builds the risk model |",
    ]
    for name, p50, note in result["queries"]:
        lines.append(f"| query `{name}` | {_ms(p50)} | {note} |")
    impact = result["impact"]
    if impact:
        lines.append(
            f"| POST /api/impact | {impact['p50_ms']:,.0f} ms | p99 {impact['p99_ms']:,.0f} ms over "
            f"{impact['n']} random systems/models/datasets, one client"
            + (f"; {result['impact_failures']} failed" if result["impact_failures"] else "")
            + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.virtuoso", description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", type=int, nargs="+", default=[1000])
    parser.add_argument("--runs", type=int, default=3, help="counted runs per named query (p50)")
    parser.add_argument("--impacts", type=int, default=100, help="random nodes for POST /api/impact")
    parser.add_argument("--query-timeout", type=float, default=30.0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="aimsgraph-virtuoso-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for systems in args.systems:
        result = measure(systems, workdir, args.runs, args.impacts, args.query_timeout)
        print(report(result), flush=True)
        print(flush=True)
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
