"""``python -m benchmarks``: every measurement in one run, for each size, on the same generated
organisation (fixed seed), each next to its anchor; prints Markdown tables and writes them into
docs/performance.md (``--no-readme`` to only print).

    python -m benchmarks [--systems 100 1000 10000] [--readme README.md | --no-readme] [--json FILE]
                         [--only PHASE,PHASE...] [--query-timeout S] [--owlrl-timeout S]
                         [--pyshacl-timeout S] [--requests N] [--concurrency C] [--runs R]
                         [--route-runs R] [--route-timeout S] [--mixed-clients C] [--mixed-seconds S]
    python -m benchmarks --render results.json [--readme README.md | --no-readme]

``--render`` writes the tables of an earlier ``--json`` file without measuring anything.
``--only`` measures some phases (load, analysis, start, queries, sparql, impact, mixed, routes,
validation, reasoning; docs/benchmarks.md): ``--only routes,sparql,mixed,start`` gives the rows
of every route, the /sparql load, the mixed load and the start in minutes at 1,000 systems.

On demand, not in CI (CI runs 100 systems as a smoke test, tests/test_benchmarks.py). On the
project's 2-core machine 100 systems take about five minutes (two of them the owlrl anchor),
1,000 systems about half an hour (ten minutes of it the owlrl anchor running into its time
limit), and 10,000 systems one to two hours, most of it the anchors and their time limits:
run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

from benchmarks import harness, report

REPO = Path(__file__).resolve().parents[1]
_DEFAULT_README = Path("<docs/performance.md>")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = harness.Options()
    parser.add_argument("--systems", type=int, nargs="+", default=[100, 1000, 10_000], help="sizes, in AI systems")
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--readme",
        type=Path,
        default=_DEFAULT_README,
        help="page to write the block into (default: docs/performance.md, unless --only picks a subset)",
    )
    target.add_argument("--no-readme", dest="readme", action="store_const", const=None, help="only print the tables")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results here (after each size)")
    parser.add_argument(
        "--query-timeout", type=float, default=defaults.query_timeout, help="seconds for one run of a named query, on both sides"
    )
    parser.add_argument("--owlrl-timeout", type=float, default=defaults.owlrl_timeout, help="seconds for the owlrl anchor")
    parser.add_argument(
        "--pyshacl-timeout", type=float, default=defaults.pyshacl_timeout, help="seconds for the whole-graph pyshacl anchor"
    )
    parser.add_argument("--requests", type=int, default=defaults.requests, help="requests per endpoint in the load test")
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency, help="client threads in the load test")
    parser.add_argument("--runs", type=int, default=defaults.runs, help="timed runs per query and in-process step")
    parser.add_argument(
        "--only",
        type=_phases,
        default=harness.PHASES,
        metavar="PHASE,...",
        help=f"measure only these phases (default all: {','.join(harness.PHASES)})",
    )
    parser.add_argument(
        "--route-runs",
        type=int,
        default=defaults.route_runs,
        help="timed requests per call of the route plan (fewer when a call is slow)",
    )
    parser.add_argument(
        "--route-timeout",
        type=float,
        default=defaults.route_timeout,
        help="seconds for one request of the route plan (past it: a row that says so)",
    )
    parser.add_argument("--mixed-clients", type=int, default=defaults.mixed_clients, help="client threads of the mixed load")
    parser.add_argument("--mixed-seconds", type=float, default=defaults.mixed_seconds, help="seconds the mixed load sends for")
    parser.add_argument("--workdir", type=Path, default=None, help="where stores go (default: a temporary directory)")
    parser.add_argument(
        "--render",
        type=Path,
        default=None,
        metavar="JSON",
        help="measure nothing: write the tables of an earlier run's --json file",
    )
    args = parser.parse_args(argv)
    if args.readme is _DEFAULT_README:  # a subset's rows must not replace the whole run's block unasked
        args.readme = REPO / "docs" / "performance.md" if args.render or tuple(args.only) == harness.PHASES else None
    return args


def _phases(text: str) -> tuple[str, ...]:
    wanted = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in wanted if p not in harness.PHASES]
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(
            f"unknown phase(s) {', '.join(unknown) or '(none given)'}; the phases are {', '.join(harness.PHASES)}"
        )
    return tuple(p for p in harness.PHASES if p in wanted)


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    if args.render:
        run = json.loads(args.render.read_text())
        for result in run["results"]:
            print(report.size_table(result) + "\n")
    else:
        run = measure(args, argv if argv is not None else sys.argv[1:])
    if args.readme is not None:
        report.replace_block(args.readme, report.markdown(run["machine"], run["results"], _command(run)))
        print(f"wrote the benchmark block into {args.readme}", file=sys.stderr)


def measure(args: argparse.Namespace, argv: list[str]) -> dict:
    """Every size in turn; the results so far go to --json after each size."""
    options = harness.Options(
        runs=args.runs,
        requests=args.requests,
        concurrency=args.concurrency,
        query_timeout=args.query_timeout,
        pyshacl_timeout=args.pyshacl_timeout,
        owlrl_timeout=args.owlrl_timeout,
        route_runs=args.route_runs,
        route_timeout=args.route_timeout,
        mixed_clients=args.mixed_clients,
        mixed_seconds=args.mixed_seconds,
        phases=args.only,
    )
    # described before the run: the load average says how quiet the machine was
    run: dict = {"machine": report.machine(), "argv": argv, "results": []}
    with tempfile.TemporaryDirectory(prefix="aimsgraph-bench-", dir=args.workdir) as tmp:
        for systems in args.systems:
            result = harness.measure(systems, options, Path(tmp) / str(systems))
            run["results"].append({**result, "rows": [row.as_dict() for row in result["rows"]]})
            if args.json:  # after each size: a long run that fails later keeps what it measured
                args.json.write_text(json.dumps(run, indent=2))
            print(report.size_table(run["results"][-1]) + "\n", flush=True)
    run["machine"]["load"] += f" at the start, {report.machine()['load']} at the end"
    if args.json:
        args.json.write_text(json.dumps(run, indent=2))
    return run


def _command(run: dict) -> str:
    """The command that measured ``run``, as the README shows it: without where the output
    went (--readme, --json, --no-readme) or where the stores were (--workdir)."""
    argv = run["argv"] if "argv" in run else shlex.split(run.get("command", ""))[3:]
    kept, skip = [], False
    for argument in argv:
        if skip:
            skip = False
        elif argument in ("--readme", "--json", "--workdir", "--render"):
            skip = True
        elif argument != "--no-readme" and not argument.startswith(("--readme=", "--json=", "--workdir=", "--render=")):
            kept.append(argument)
    return shlex.join(["python", "-m", "benchmarks", *kept])


if __name__ == "__main__":
    main()
