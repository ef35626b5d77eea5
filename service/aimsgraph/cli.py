"""The ``aimsgraph`` command: serve, load, query, export, validate, soa, impact, concentration,
import (atlas, atlas-nexus, airo, csv), history and diff.

Every command takes the same ``--data-dir`` (env AIMSGRAPH_DATA_DIR). Exit codes: 0 success,
2 bad input or usage (one line on stderr saying why), 3 internal or store error.

While ``serve`` runs it holds the store (RocksDB allows one process), and says where it listens
in the data directory (:data:`SERVICE_FILE`); ``load``, ``import airo|atlas|csv``, ``query`` and
``validate`` then go through its HTTP API, and the other commands say why they cannot run
(``docs/importing.md``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar

import click
import pyoxigraph as ox

from aimsgraph import __version__, limits
from aimsgraph.auth import ROLES, SERVICE_GRAPHS, TokenRegistry, local_user
from aimsgraph.config import Settings
from aimsgraph.errors import AimsgraphError, InvalidInput, StoreUnavailable
from aimsgraph.namespaces import PREFIXES, Graphs
from aimsgraph.semantics.reasoning import refresh_inferences
from aimsgraph.sparql.executor import QueryJob
from aimsgraph.sparql.results import GRAPH_TYPES, TRIPLE_TYPES, write_graph
from aimsgraph.store import BULK_LOAD_BYTES, GraphStore, changes, guess_format, named_graph, read_quads, serialize_quads

# The commands import what they use inside them: a command (`aimsgraph validate` in a pre-commit
# hook, say) then starts without loading the service's risk model, importers and refresh code.
if TYPE_CHECKING:
    from aimsgraph.reporting.reports import Report

T = TypeVar("T")

#: --format names for query results and exports.
SOLUTION_FORMATS = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
}
GRAPH_FORMATS = {
    "turtle": "text/turtle",
    "ntriples": "application/n-triples",
    "jsonld": "application/ld+json",
    "rdfxml": "application/rdf+xml",
    "trig": "application/trig",
    "nquads": "application/n-quads",
}


def _rdf_format(name: str) -> ox.RdfFormat:
    return GRAPH_TYPES[GRAPH_FORMATS[name]]


as_of_option = click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="DATE",
    help="Evaluation date YYYY-MM-DD for time-dependent checks [env AIMSGRAPH_TODAY, else today, UTC].",
)


def _as_of(text: str | None):
    from aimsgraph import clock

    return clock.as_of_argument(text, "--as-of")


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Store directory [env AIMSGRAPH_DATA_DIR; default ~/.local/share/aimsgraph].",
)


def output_option(help_text: str = "Write to a file.") -> Callable[[Callable], Callable]:
    """``-o/--output FILE``, for commands that write to standard output otherwise."""
    return click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help=help_text)


rdf_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(GRAPH_FORMATS)),
    default=None,
    help="Override the format guessed from the extension.",
)


class _CommandGroup(click.Group):
    """The ``aimsgraph`` group. Its ``main`` turns errors into one line on stderr and an exit
    code (2 bad input or usage, 3 a file or socket failed, 130 interrupted), so that the console
    script and click's CliRunner (the tests) see the same behaviour."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.exceptions.Abort:
            sys.exit(130)
        except click.ClickException as exc:
            exc.show()
            sys.exit(2)
        except AimsgraphError as exc:
            click.echo(f"aimsgraph: {exc.message}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:
            click.echo(f"aimsgraph: {exc}", err=True)
            sys.exit(3)


@click.group(cls=_CommandGroup)
@click.version_option(__version__, prog_name="aimsgraph")
def cli() -> None:
    """aimsgraph: an ISO/IEC 42001 AI risk knowledge graph with a SPARQL endpoint."""


#: Worker threads of the production server (--threads).
PRODUCTION_THREADS = 8
#: Open connections the production server holds before it stops accepting (the rest wait in the
#: listen backlog); poll() is used, so this is not bound by select()'s 1,024 descriptors.
PRODUCTION_CONNECTIONS = 1000
#: Seconds a connection may stay silent without a request in progress (a half-sent request, an
#: idle keep-alive) before it is closed; checked every 30 s.
PRODUCTION_IDLE_TIMEOUT = 30


@cli.command()
@click.option("--host", default=None, help="Interface to bind [env AIMSGRAPH_HOST; default 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [env AIMSGRAPH_PORT; default 8042].")
@data_dir_option
@click.option("--demo/--no-demo", default=None, help="Load the demo organisation into an empty store [default on].")
@click.option(
    "--production",
    is_flag=True,
    help="Serve with waitress (pip install 'aimsgraph[prod]'): it reads each request whole before a "
    "worker thread sees it, so slow or idle clients hold no thread (docs/production.md).",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=PRODUCTION_THREADS,
    show_default=True,
    help="Worker threads with --production.",
)
def serve(host: str | None, port: int | None, data_dir: Path | None, demo: bool | None, production: bool, threads: int) -> None:
    """Run the service (SPARQL endpoint at /sparql, REST API at /api)."""
    from aimsgraph.http.app import create_app
    from aimsgraph.http.state import state

    make = _production_server(threads) if production else _development_server
    settings = Settings.from_env(host=host, port=port, data_dir=data_dir, demo=demo)
    started = time.perf_counter()
    app = create_app(settings)
    server = make(app, settings)
    url = f"http://{settings.host}:{server.port}"
    where = f"external store {settings.remote_query_url}" if settings.remote_query_url else f"store {settings.data_dir}"
    click.echo(f"aimsgraph {__version__}: {where} ready in {time.perf_counter() - started:.2f} s")
    click.echo(f"web interface {url}/  SPARQL endpoint {url}/sparql  ({server.name}; Ctrl-C stops)")
    announced = None if settings.remote_query_url else _announce(settings, server.port)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        state(app).store.flush()
        if announced is not None:
            announced.unlink(missing_ok=True)


# -- the HTTP servers of ``serve`` ----------------------------------------------------------------
#
# One process, many threads, whichever server: the process owns the store (RocksDB allows one)
# and queries already run in forked readers. werkzeug's threaded server (a thread per connection,
# no limit) is for development. With --production, waitress: its asyncore loop buffers every
# request whole (headers and body) before a worker thread takes it, and sends responses from
# buffers, so clients that send slowly, stall or read slowly hold a socket, not a thread.
# gunicorn's threaded worker hands a connection to a thread before the request arrives: eight
# idle sockets blocked every client for 90 s (issue 17). docs/production.md has the figures.


def _development_server(app, settings: Settings) -> SimpleNamespace:
    """werkzeug's threaded server: what ``serve`` without --production runs."""
    from werkzeug.serving import make_server

    server = make_server(settings.host, settings.port, app, threaded=True)
    return SimpleNamespace(
        name="development server", port=server.server_port, run=server.serve_forever, close=server.server_close
    )


def _production_server(threads: int):
    """A maker of the waitress server, imported first, so that a missing waitress is said before
    the store is opened. Bodies over the service's own limit are refused (413) by waitress while
    they arrive, chunked ones included, instead of being buffered to disk first."""
    try:
        from waitress import create_server
    except ImportError:
        raise click.UsageError("--production needs waitress: pip install 'aimsgraph[prod]'") from None

    def make(app, settings: Settings) -> SimpleNamespace:
        server = create_server(
            app,
            host=settings.host,
            port=settings.port,
            threads=threads,
            connection_limit=_connection_limit(),
            channel_timeout=PRODUCTION_IDLE_TIMEOUT,
            asyncore_use_poll=True,
            max_request_body_size=app.config["MAX_CONTENT_LENGTH"],
            ident="aimsgraph",
        )
        # a host name with IPv4 and IPv6 addresses gets one socket for each, and a server over both
        port = server.effective_listen[0][1] if hasattr(server, "effective_listen") else server.effective_port
        return SimpleNamespace(name=f"waitress, {threads} threads", port=port, run=server.run, close=server.close)

    return make


def _connection_limit() -> int:
    """PRODUCTION_CONNECTIONS, within half the file descriptors the process may open: the store's
    files and the readers' pipes need the rest, and a store that cannot open a file fails. The
    soft limit (often 1,024) is raised towards the hard one first, as far as that needs."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * PRODUCTION_CONNECTIONS
    if soft != resource.RLIM_INFINITY and soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return min(PRODUCTION_CONNECTIONS, soft // 2)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--graph", default=Graphs.DATA, show_default=True, help="Named graph to load the triples into.")
@rdf_format_option
@data_dir_option
def load(files: tuple[Path, ...], graph: str, fmt: str | None, data_dir: Path | None) -> None:
    """Load RDF files into the store as one change, recorded in the audit trail. All files are
    parsed before anything is written; files over 32 MiB go in with the bulk loader."""
    store = _open_store(data_dir)
    changes.initialise(store, demo=False)
    form = _rdf_format(fmt) if fmt else None
    started = time.perf_counter()
    target = named_graph(graph)
    if all(_file_size(path) <= BULK_LOAD_BYTES for path in files):
        quads = [q for path in files for q in read_quads(path, form or guess_format(path), target)[1]]
        refreshed: list[str] = []
        change = _writer(store, "load", refreshed)(changes.Delta(added=set(quads)))
        added = change.added if change else 0
        how = f" ({refreshed[0]})" if refreshed else ""
        click.echo(
            f"loaded {len(quads)} triples, {added} of them new, into <{graph}>{how} in {time.perf_counter() - started:.2f} s"
        )
        return
    from aimsgraph.records.refresh import mark_stale

    mark_stale(store)  # an interrupted bulk load is repaired by the next start
    reports = store.load_files(files, graph, form, _progress_printer())
    total = sum(r.quads for r in reports)
    changes.record(store, "bulk-load", local_user(), graph, total)
    for report in reports:
        how = " (bulk loader: if interrupted, load the file again)" if report.bulk else ""
        click.echo(f"{report.path}: {report.quads} triples into <{graph}>{how}")
    click.echo(f"loaded {total} triples in {time.perf_counter() - started:.2f} s")
    _refresh_derived(store)


def _file_size(path: Path) -> int:
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    return path.stat().st_size


@cli.command()
@click.argument("query", required=False)
@click.option(
    "-f",
    "--file",
    "query_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the query from a .rq file.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(SOLUTION_FORMATS) + sorted(GRAPH_FORMATS)),
    default=None,
    help="Output format [csv for SELECT/ASK, turtle for CONSTRUCT/DESCRIBE].",
)
@data_dir_option
def query(query: str | None, query_file: Path | None, fmt: str | None, data_dir: Path | None) -> None:
    """Run a SPARQL query over the union of all graphs and print the result."""
    if (query is None) == (query_file is None):
        raise InvalidInput("give a query inline or with -f FILE (exactly one)")
    text = query_file.read_text(encoding="utf-8") if query_file else query
    assert text is not None  # exactly one was given
    store = _open_store(data_dir)
    solution_type = SOLUTION_FORMATS.get(fmt or "csv")
    graph_type = GRAPH_FORMATS.get(fmt or "turtle")
    job = QueryJob(text, solution_type=solution_type, graph_type=graph_type, limit=sys.maxsize, prefixes=PREFIXES)
    outcome = job.run_here(store)
    sys.stdout.buffer.write(outcome.body)


@cli.group(invoke_without_command=True)
@click.option("--graph", "graphs", multiple=True, help="Named graph to export (repeatable) [all].")
@click.option("--format", "fmt", type=click.Choice(sorted(GRAPH_FORMATS)), default="trig", show_default=True)
@output_option("Write to a file instead of standard output.")
@click.option("--at", default=None, help="The graphs as they were at this ISO 8601 time (rebuilt from the audit trail).")
@data_dir_option
@click.pass_context
def export(
    context: click.Context, graphs: tuple[str, ...], fmt: str, output: Path | None, at: str | None, data_dir: Path | None
) -> None:
    """Export named graphs (triple formats merge them into one graph); `export dcat`: the AI
    system register as a DCAT catalogue."""
    if context.invoked_subcommand is not None:
        return
    store = _open_store(data_dir)
    if at is None:
        body = store.dump(graphs or None, _rdf_format(fmt))
    else:
        journalled = [g for g in store.named_graphs() if g not in SERVICE_GRAPHS]
        quads = changes.state_at(store, changes.parse_time(at), graphs or journalled)
        body = serialize_quads(quads, _rdf_format(fmt))
    _write_bytes(body, output)


TRIPLE_FORMATS = sorted(name for name, media in GRAPH_FORMATS.items() if media in TRIPLE_TYPES)


@export.command("dcat")
@click.option("--format", "fmt", type=click.Choice(TRIPLE_FORMATS), default="turtle", show_default=True)
@output_option("Write to a file instead of standard output.")
@data_dir_option
def export_dcat(fmt: str, output: Path | None, data_dir: Path | None) -> None:
    """The AI system register, its datasets and their provenance as a DCAT catalogue (DCAT 3,
    PROV-O), checked by the export shapes first: exit 1, with the findings, if it fails them."""
    from aimsgraph.interop.exporters import dcat

    store = _open_store(data_dir)
    triples = dcat.export_register(store)
    problems = [f for f in dcat.validate_export(triples) if f.severity == "Violation"]
    if problems:
        for finding in problems:
            click.echo(f"aimsgraph: export check: {finding.focus}: {finding.message}", err=True)
        sys.exit(1)
    _write_bytes(write_graph(triples, GRAPH_FORMATS[fmt], PREFIXES), output)


@export.command("oscal")
@click.argument("kind", type=click.Choice(["catalog", "profile", "component-definition", "assessment-results", "poam"]))
@click.option(
    "--framework",
    type=click.Choice(["iso42001", "nist-ai-rmf", "eu-ai-act"]),
    default="iso42001",
    show_default=True,
    help="The catalogue a `catalog` export is of.",
)
@as_of_option
@output_option("Write to a file instead of standard output.")
@data_dir_option
def export_oscal(kind: str, framework: str, as_of: str | None, output: Path | None, data_dir: Path | None) -> None:
    """The record as an OSCAL JSON document (docs/oscal.md): a framework's catalog, the SoA as a
    profile, the AI systems' component definition, the validation's assessment results or the
    nonconformities' POA&M, checked with compliance-trestle's models."""
    from aimsgraph.interop.exporters import oscal

    day = _as_of(as_of)
    store = _open_store(data_dir)
    if kind == "assessment-results":
        store = _derived_current(store)
    body = oscal.export(store, kind, day, framework)
    store.flush()  # findings validated for the day are stored, as `validate` stores them
    _write_bytes(body, output)


@export.command("xlsx")
@click.option("--base", default=None, help="Namespace of the sheet's local ids [https://data.example.org/aims/].")
@as_of_option
@output_option("Write to a file instead of standard output.")
@data_dir_option
def export_xlsx(base: str | None, as_of: str | None, output: Path | None, data_dir: Path | None) -> None:
    """The record as an Excel workbook (docs/spreadsheets.md): the risk register and the SoA,
    which `aimsgraph import xlsx` reads back, and the findings and readiness as of --as-of."""
    from aimsgraph.interop.exporters import xlsx
    from aimsgraph.interop.importers import spreadsheet
    from aimsgraph.semantics import validation

    day = _as_of(as_of)
    store = _derived_current(_open_store(data_dir))
    findings = validation.validate_store(store, day)
    _write_bytes(xlsx.export_workbook(store, findings, day, base or spreadsheet.DEFAULT_BASE), output)


def _write_bytes(body: bytes, output: Path | None) -> None:
    if output is None:
        sys.stdout.buffer.write(body)
    else:
        output.write_bytes(body)


@cli.command()
@click.argument("paths", metavar="[FILE|DIR]...", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--changed", multiple=True, metavar="IRI", help="Re-validate only what a change to this node can affect (repeatable)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "turtle", "junit", "sarif", "github"]),
    default="table",
    show_default=True,
    help="sarif: SARIF 2.1.0 for code scanning; github: GitHub Actions workflow commands.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["violation", "warning", "info", "none"]),
    default="violation",
    show_default=True,
    help="Exit with 1 when the findings include this severity or a worse one.",
)
@click.option("--base", default=None, help="Namespace for ids in CSV sheets that are not IRIs [https://data.example.org/aims/].")
@output_option("Write the report to a file.")
@as_of_option
@data_dir_option
def validate(
    paths: tuple[Path, ...],
    changed: tuple[str, ...],
    fmt: str,
    fail_on: str,
    base: str | None,
    output: Path | None,
    as_of: str | None,
    data_dir: Path | None,
) -> None:
    """Check the record against the completeness shapes (ISO/IEC 42001 clauses and Annex A).

    With FILE or DIR arguments, check a record kept as files (Turtle, N-Triples, N-Quads, TriG,
    JSON-LD, CSV sheets) without a store: each finding says the file and line where its focus
    node is first described. Otherwise check the store; the findings are stored in the
    validation graph, and with --changed only the affected focus nodes are checked and reported.
    Time-dependent checks are judged as of --as-of (default today). Exit codes: 0 nothing at
    --fail-on, 1 findings, 2 bad input.
    """
    from aimsgraph.reporting import reports
    from aimsgraph.semantics import validation

    day = _as_of(as_of)
    if paths:
        report = _files_report(paths, changed, fmt, base, day, data_dir)
    else:
        store = _derived_current(_open_store(data_dir))
        for iri in changed:
            named_graph(iri)  # the same absolute-IRI check, with the same one-line error
        if changed:
            plan = validation.revalidate_and_store(store, changed, day)
            findings, nodes = plan.findings, plan.affected
        else:
            findings, nodes = validation.validate_full(store, day), None
        store.flush()
        report = reports.build(store, findings, day, nodes)
    _write(reports.render(report, fmt), output)
    if fail_on != "none" and report.fails(fail_on):
        sys.exit(1)


def _files_report(
    paths: tuple[Path, ...], changed: tuple[str, ...], fmt: str, base: str | None, day: date, data_dir: Path | None
) -> Report:
    """``validate FILE|DIR...``: the report on the files, in a store of their own (``records.files``), nothing stored."""
    from aimsgraph.records.files import open_files
    from aimsgraph.reporting import reports

    if data_dir is not None:
        raise click.UsageError("give files to validate or --data-dir, not both")
    if changed:
        raise click.UsageError("--changed re-validates a store; files are validated whole")
    limits.configure(Settings.from_env())  # AIMSGRAPH_MAX_NESTING_DEPTH and the other parser limits
    record = open_files(paths, day, base)
    if fmt in ("sarif", "github"):  # no readiness in these: spare a hook its computation
        return reports.Report(record.findings, as_of=day, positions=record.positions)
    return reports.build(record.store, record.findings, day, positions=record.positions)


@cli.command()
@click.option(
    "--framework", type=click.Choice(["iso42001", "nist-ai-rmf", "eu-ai-act"]), default=None, help="Only this framework."
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@output_option("Write the readiness to a file.")
@as_of_option
@data_dir_option
def readiness(framework: str | None, fmt: str, output: Path | None, as_of: str | None, data_dir: Path | None) -> None:
    """Readiness of ISO/IEC 42001, the NIST AI RMF and the EU AI Act side by side.

    One validation as of --as-of (default today) decides all three: ISO/IEC 42001 by its checks,
    the others through the crosswalks, the weakest mapped item first (docs/frameworks.md). The
    table lists each framework's counts, then every requirement that is not met.
    """
    from aimsgraph.reporting import frameworks, overview
    from aimsgraph.semantics import validation

    day = _as_of(as_of)
    store = _derived_current(_open_store(data_dir))
    summary = validation.FindingsIndex(None, day, validation.validate_store(store, day)).summary(store)
    found = [f for f in overview.frameworks_of(store, summary) if framework in (None, f.key)]
    if fmt == "json":
        _write(json.dumps({"asOf": day.isoformat(), "frameworks": [frameworks.as_json(f) for f in found]}, indent=2), output)
        return
    lines = []
    for f in found:
        lines.append(f"{f.title}: " + ", ".join(f"{n} {status}" for status, n in f.counts.items()))
        lines += [f"  {r.status:<12} {r.label}" for r in f.requirements if r.status == "not met"]
    _write("\n".join(lines) + "\n", output)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "html", "json"]), default="csv", show_default=True)
@output_option()
@data_dir_option
def soa(fmt: str, output: Path | None, data_dir: Path | None) -> None:
    """The Statement of Applicability: one row per Annex A control."""
    from aimsgraph.records import soa as statement

    _write(statement.render(_open_store(data_dir), fmt), output)


@cli.command()
@click.option(
    "--html",
    "html_file",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file ('-' for standard output).",
)
@click.option(
    "--pdf",
    "pdf_file",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report as PDF to this file ('-' for standard output): numbered pages, a table of contents.",
)
@as_of_option
@data_dir_option
def report(html_file: Path | None, pdf_file: Path | None, as_of: str | None, data_dir: Path | None) -> None:
    """The auditor report: one self-contained HTML file (no external references, charts as
    inline SVG) with the heat maps, readiness per clause, the SoA, the top risks with their
    explanation paths and the open findings, or the same as PDF (--pdf). Validates the record
    first and stores the findings."""
    from aimsgraph.reporting import auditor_report
    from aimsgraph.semantics import validation

    if html_file is None and pdf_file is None:
        raise click.UsageError("say where to write the report: --html FILE, --pdf FILE or both")
    day = _as_of(as_of)
    store = _derived_current(_open_store(data_dir))
    findings = validation.validate_full(store, day)
    store.flush()
    html = auditor_report.render_html(store, findings, day)
    if html_file is not None:
        _write(html, None if str(html_file) == "-" else html_file)
    if pdf_file is not None:
        from aimsgraph.reporting import pdf

        _write_bytes(pdf.html_to_pdf(html), None if str(pdf_file) == "-" else pdf_file)


@cli.command()
@click.option(
    "--within",
    default="30d",
    show_default=True,
    help="Window after the reference date: 30d, 2w, 12m, 1y, or all. Overdue items are always listed.",
)
@as_of_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "ics"]), default="table", show_default=True)
@output_option()
@data_dir_option
def due(within: str, as_of: str | None, fmt: str, output: Path | None, data_dir: Path | None) -> None:
    """The review calendar: reviews, actions, expiring evidence and training, planned audits,
    management reviews and changes, and metric measurements due in the window, overdue ones
    included. --format ics writes an iCalendar file for calendar programs."""
    import json

    from aimsgraph import clock
    from aimsgraph.records import agenda

    day = _as_of(as_of)
    window = agenda.parse_within(within, day)
    items = agenda.due_items(_open_store(data_dir), day, window)
    if fmt == "json":
        text = json.dumps(agenda.as_dict(items, day, within), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "ics":
        text = agenda.to_ical(items, clock.now())
    else:
        text = agenda.render_table(items, day)
    if output is not None and fmt == "ics":
        output.write_bytes(text.encode("utf-8"))  # keep the CRLF line ends
    elif fmt == "ics":
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.flush()
    else:
        _write(text, output)


@cli.command("review-pack")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json", "pdf"]), default="md", show_default=True)
@as_of_option
@output_option()
@data_dir_option
def review_pack_command(fmt: str, as_of: str | None, output: Path | None, data_dir: Path | None) -> None:
    """The management review input (ISO/IEC 42001 9.3.2): actions from earlier reviews,
    changes, risk and readiness trends, nonconformities, monitoring results, incidents, audit
    results and opportunities for improvement, as Markdown, self-contained HTML, JSON or PDF."""
    from aimsgraph.reporting import review_pack
    from aimsgraph.risk.analysis import RiskModel
    from aimsgraph.semantics import validation

    day = _as_of(as_of)
    store = _open_store(data_dir)
    if not store.is_current(Graphs.INFERRED):
        refresh_inferences(store)
    findings = validation.validate_full(store, day)
    store.flush()
    pack = review_pack.build(store, RiskModel.build(store), findings, day)
    if fmt == "pdf":
        from aimsgraph.reporting import pdf

        _write_bytes(pdf.review_pack_pdf(pack), output)
        return
    _write(review_pack.render(pack, fmt), output)


@cli.command()
@click.argument("node")
@click.option(
    "--change",
    "change",
    default="modify",
    show_default=True,
    help="Change kind: modify, retrain, replace, retire, data-change or supplier-exit.",
)
@click.option(
    "--what-if",
    "what_if",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help='JSON file with a list of proposed modifications, e.g. [{"op": "remove-control", "control": "https://..."}].',
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@output_option()
@data_dir_option
def impact(node: str, change: str, what_if: Path | None, fmt: str, output: Path | None, data_dir: Path | None) -> None:
    """Impact analysis before changing NODE: affected systems, risks, assessments, controls,
    evidence, stakeholders and SoA rows to revisit. Reads the store; never writes it."""
    import json

    from aimsgraph.risk import impact as analysis
    from aimsgraph.risk.analysis import RiskModel
    from aimsgraph.store.record import Record

    modifications = None
    if what_if is not None:
        try:
            modifications = json.loads(what_if.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise InvalidInput(f"{what_if}: not JSON ({exc})") from None
        if not isinstance(modifications, list):
            raise InvalidInput(f"{what_if}: expected a JSON list of modifications")
    store = _open_store(data_dir)
    answer = analysis.analyse(Record(store), RiskModel.build(store), node, change, modifications)
    _write(json.dumps(answer, indent=2) + "\n" if fmt == "json" else analysis.render_text(answer), output)


@cli.command()
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(["Model", "Dataset", "Supplier", "InfrastructureService", "AISystem"]),
    help="Asset kinds to rank (repeatable) [models, datasets, suppliers, infrastructure].",
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@data_dir_option
def concentration(kinds: tuple[str, ...], limit: int, fmt: str, data_dir: Path | None) -> None:
    """Concentration risk (A.10): shared assets ranked by the high-risk AI systems depending on them."""
    import json

    from aimsgraph.risk import impact as analysis
    from aimsgraph.risk.analysis import RiskModel
    from aimsgraph.store.record import Record

    store = _open_store(data_dir)
    ranking = analysis.concentration(Record(store), RiskModel.build(store), kinds or analysis.SHARED_KINDS, limit)
    _write(json.dumps(ranking, indent=2) + "\n" if fmt == "json" else analysis.render_concentration_text(ranking), None)


@cli.command("diff-record")
@click.argument("base")
@click.argument("head")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
@click.option(
    "--fail-on",
    type=click.Choice(["violation", "warning", "info", "none"]),
    default="none",
    show_default=True,
    help="Exit with 1 when the change adds findings of this severity or a worse one.",
)
@output_option("Write the comparison to a file.")
@as_of_option
def diff_record(base: str, head: str, fmt: str, fail_on: str, output: Path | None, as_of: str | None) -> None:
    """What a change does to a record kept as files: BASE and HEAD are each a file or directory,
    or a git revision of one (REV:PATH, as git spells it).

    Lists the triples added and removed, the findings that appear and go away, readiness per
    clause, the risks whose level changes and the impact analysis of every changed component
    (docs/record-as-code.md). Needs no data directory. Exit codes: 0, 1 with --fail-on when the
    change adds such findings, 2 bad input.
    """
    import tempfile

    from aimsgraph.reporting import diff_record as diffing

    day = _as_of(as_of)
    with tempfile.TemporaryDirectory(prefix="aimsgraph-diff-") as work:
        before = diffing.open_version(base, day, Path(work) / "base")
        after = diffing.open_version(head, day, Path(work) / "head")
        answer = diffing.compare(before, after, day)
    _write(diffing.render(answer, fmt), output)
    if diffing.fails(answer, fail_on):
        sys.exit(1)


#: The port of ``aimsgraph mcp --transport http`` (beside serve's 8042).
MCP_PORT = 8043


@cli.command("mcp")
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    show_default=True,
    help="stdio: one client that starts this command (Claude Desktop ...); http: streamable HTTP at /mcp.",
)
@click.option("--host", default=None, help="Interface of --transport http [env AIMSGRAPH_HOST; default 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), default=MCP_PORT, show_default=True, help="Port of --transport http.")
@click.option(
    "--writes/--no-writes",
    default=None,
    help="Offer the write tools, within each caller's role [env AIMSGRAPH_MCP_WRITES; default off].",
)
@data_dir_option
def mcp_command(transport: str, host: str | None, port: int, writes: bool | None, data_dir: Path | None) -> None:
    """Serve aimsgraph to AI assistants over the Model Context Protocol (docs/mcp.md): tools
    for SPARQL, impact and what-if, findings, the "why" of a risk, due items and readiness,
    and the ontology, shapes and named queries as resources. Holds the store as serve does."""
    from aimsgraph.mcp import server
    from aimsgraph.runtime import Runtime

    settings = Settings.from_env(host=host, data_dir=data_dir, mcp_writes=writes)
    caller = server.stdio_caller(settings) if transport == "stdio" else None  # a wrong token stops here
    service = Runtime.open(settings)
    try:
        if transport == "stdio":  # standard output carries the protocol: say nothing there
            server.run_stdio(service, caller)
        else:
            click.echo(f"aimsgraph {__version__}: MCP server at {server.http_url(settings.host, port)} (Ctrl-C stops)", err=True)
            server.run_http(service, settings.host, port)
    finally:
        service.close()


@cli.group("import")
def import_() -> None:
    """Import records written in other vocabularies (MITRE ATLAS, AIRO, OSCAL, ...)."""


@import_.command("atlas")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option(
    "--report-format", "--report", "report_format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@data_dir_option
def import_atlas(file: Path | None, report_format: str, data_dir: Path | None) -> None:
    """Load MITRE ATLAS (FILE, or the copy shipped in data/atlas/) into the atlas graph:
    tactics and techniques as risk sources, mitigations as reference mitigations."""
    from aimsgraph.interop.importers import atlas

    store = _open_store(data_dir)
    changes.initialise(store, demo=False)
    _print_report(atlas.import_atlas(store, _atlas_file(file), _writer(store, "import-atlas")), report_format)


def _atlas_file(file: Path | None) -> Path:
    from aimsgraph import resources

    return file or resources.path("data", "atlas", "ATLAS.yaml")


@import_.command("atlas-nexus")
@click.argument("directory", metavar="[DIR]", required=False, type=click.Path(path_type=Path))
@click.option(
    "--release",
    default=None,
    help="The ai-atlas-nexus release DIR comes from, recorded as provenance [1.2.5, that of the shipped copy].",
)
@click.option(
    "--report-format", "--report", "report_format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@data_dir_option
def import_atlas_nexus(directory: Path | None, release: str | None, report_format: str, data_dir: Path | None) -> None:
    """Load IBM AI Atlas Nexus risk taxonomies (DIR, or the copy shipped in data/atlas-nexus/) into
    the taxonomies graph: NIST AI 600-1 risks and suggested actions, IBM AI Risk Atlas, MIT AI Risk
    Repository, OWASP Top 10 for LLM and for Agentic Applications."""
    from aimsgraph import resources
    from aimsgraph.interop.importers import atlas_nexus

    store = _open_store(data_dir)
    changes.initialise(store, demo=False)
    source = directory or resources.path("data", "atlas-nexus")
    write = _writer(store, "import-atlas-nexus")
    _print_report(atlas_nexus.import_atlas_nexus(store, source, write, release or atlas_nexus.RELEASE), report_format)


def _print_report(report, report_format: str) -> None:
    """An import's report as text or as the JSON that ``POST /api/import`` answers under "report"."""
    text = json.dumps(report.as_dict(), indent=2) + "\n" if report_format == "json" else report.summary()
    click.echo(text, nl=not text.endswith("\n"))


@import_.command("airo")
@click.argument("file", type=click.Path(path_type=Path))
@rdf_format_option
@click.option(
    "--report-format", "--report", "report_format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@data_dir_option
def import_airo(file: Path, fmt: str | None, report_format: str, data_dir: Path | None) -> None:
    """Map an AIRO description of AI systems and their risks onto aimsgraph terms and add it
    to the data graph; print what mapped and what did not. Exit 2, changing nothing, when the
    file uses no AIRO term (the message names namespaces that are near misses of AIRO's)."""
    from aimsgraph.interop.importers import airo

    store = _open_store(data_dir)
    changes.initialise(store, demo=False)
    report = airo.import_airo(store, file, _rdf_format(fmt) if fmt else None, _writer(store, "import-airo"))
    _print_report(report, report_format)


@import_.command("dcat")
@click.argument("file", type=click.Path(path_type=Path))
@rdf_format_option
@click.option("--report", "report_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@data_dir_option
def import_dcat(file: Path, fmt: str | None, report_format: str, data_dir: Path | None) -> None:
    """Bring an enterprise data catalogue (DCAT: Turtle, JSON-LD, RDF/XML) into the data-catalogs
    graph and link our datasets and models to its entries; print what matched, what did not and
    what matched ambiguously."""
    import json

    from aimsgraph.interop.importers import dcat

    if not file.is_file():
        raise InvalidInput(f"{file}: no such file")
    catalog = dcat.read_catalog(
        file.read_bytes(), _rdf_format(fmt) if fmt else guess_format(file), base_iri=file.resolve().as_uri()
    )
    store = _open_store(data_dir)
    changes.initialise(store, demo=False)
    delta, report = dcat.link(store, catalog)
    _writer(store, "import-dcat")(delta)
    click.echo(json.dumps(report.as_dict(), indent=2) if report_format == "json" else report.summary(), nl=False)


@import_.command("csv")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(["risk-register", "systems"]), required=True, help="What the sheet lists.")
@click.option("--base", default=None, help="Namespace for ids that are not IRIs [https://data.example.org/aims/].")
@data_dir_option
def import_csv(file: Path, kind: str, base: str | None, data_dir: Path | None) -> None:
    """Import a risk register or systems inventory spreadsheet (CSV; columns in
    data/templates/README.md). Every row is checked first; the import is all or nothing, and
    importing the same file again changes nothing."""
    from aimsgraph.interop.importers import spreadsheet

    if not file.is_file():
        raise InvalidInput(f"{file}: no such file")
    sheet = spreadsheet.read_sheet(file.read_bytes(), kind, base or spreadsheet.DEFAULT_BASE)
    store = _open_store(data_dir)
    changes.initialise(store, demo=False)
    change = _writer(store, f"import-csv {kind}")(changes.upsert(store, sheet.quads, sheet.replaced))
    _print_sheet(file, sheet.rows, change.as_dict() if change else None)


@import_.command("xlsx")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--base", default=None, help="Namespace for ids that are not IRIs [the workbook's About sheet's].")
@data_dir_option
def import_xlsx(file: Path, base: str | None, data_dir: Path | None) -> None:
    """Import the editable sheets of an Excel workbook written by `aimsgraph export xlsx`: the
    risk register (the CSV risk register's columns and rules) and the SoA decisions. All or
    nothing; a workbook imported as it was exported changes nothing."""
    from aimsgraph.interop.importers import xlsx

    if not file.is_file():
        raise InvalidInput(f"{file}: no such file")
    store = _open_store(data_dir)
    changes.initialise(store, demo=False)
    try:
        found = xlsx.import_workbook(store, file.read_bytes(), base)
    except InvalidInput as exc:
        raise InvalidInput(f"{file}: {exc.message}") from None
    change = _writer(store, "import-xlsx")(found.delta)
    rows = f"{found.risk_rows} risk register rows and {found.soa_rows} SoA entries"
    if change is None:
        click.echo(f"{file}: {rows}, nothing changed")
    else:
        click.echo(f"{file}: {rows}, {change.added} triples added, {change.removed} removed ({change.iri})")


@import_.command("oscal")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--report", "report_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@data_dir_option
def import_oscal(file: Path, report_format: str, data_dir: Path | None) -> None:
    """Import an OSCAL catalog or profile (JSON; its root key says which): a catalog as a
    framework in the data graph (one of the record's own catalogues, as `export oscal catalog`
    writes it, is matched and changes nothing), a profile as the Statement of Applicability's
    decisions. Checked with compliance-trestle first; all or nothing (docs/oscal.md)."""
    from aimsgraph.interop.importers import oscal

    kind, document = _oscal_document(file, data_dir)
    store = _open_store(data_dir)
    changes.initialise(store, demo=False)
    try:
        found = oscal.import_catalog(store, document) if kind == "catalog" else oscal.import_profile(store, document)
    except InvalidInput as exc:
        raise type(exc)(f"{file}: {exc.message}") from None
    _writer(store, f"import-oscal-{kind}")(found.delta)
    _print_report(found, report_format)


def _oscal_document(file: Path, data_dir: Path | None) -> tuple[str, dict]:
    """An OSCAL file's kind and document, read as an upload is: within AIMSGRAPH_MAX_UPLOAD_BYTES
    (no more is read) and the nesting limit, UTF-8, no key twice, valid for trestle."""
    from aimsgraph.interop.importers import oscal

    settings = Settings.from_env(data_dir=data_dir)
    limits.configure(settings)
    if not file.is_file():
        raise InvalidInput(f"{file}: no such file")
    with file.open("rb") as stream:
        data = stream.read(settings.max_upload_bytes + 1)
    try:
        return oscal.read(data, limit=settings.max_upload_bytes)
    except InvalidInput as exc:
        raise InvalidInput(f"{file}: {exc.message}") from None


def _print_sheet(file: Path, rows: int, change: dict | None) -> None:
    """What a spreadsheet import changed (``change`` as ``Change.as_dict`` or the API gives it)."""
    if change is None:
        click.echo(f"{file}: {rows} rows, nothing changed")
    else:
        click.echo(f"{file}: {rows} rows, {change['added']} triples added, {change['removed']} removed ({change['change']})")


@cli.command()
@click.option("--since", default=None, help="Only changes after this ISO 8601 date or time.")
@click.option("--until", default=None, help="Only changes up to this ISO 8601 date or time.")
@click.option("--resource", default=None, metavar="IRI", help="Only changes to triples about this resource.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@data_dir_option
def history(since: str | None, until: str | None, resource: str | None, fmt: str, data_dir: Path | None) -> None:
    """The audit trail: every committed write, who made it, when, and how many triples it changed."""
    import json

    store = _open_store(data_dir)
    found = changes.history(store, _when(since), _when(until), resource)
    if fmt == "json":
        click.echo(json.dumps([c.as_dict() for c in found], indent=2))
        return
    for c in found:
        graphs = " ".join(g.rsplit("/", 1)[-1] for g in c.graphs)
        click.echo(
            f"{c.sequence:>5}  {c.ended.isoformat(timespec='seconds')}  {c.agent} ({c.role})  "
            f"{c.operation}  +{c.added} -{c.removed}  {graphs}  {c.iri}"
        )


@cli.command()
@click.argument("since")
@click.argument("until", required=False)
@click.option("--graph", "graphs", multiple=True, help="Only this graph (repeatable) [all].")
@data_dir_option
def diff(since: str, until: str | None, graphs: tuple[str, ...], data_dir: Path | None) -> None:
    """What changed between two times (ISO 8601; UNTIL defaults to now), as N-Quads lines
    prefixed with - (removed) and + (added)."""
    store = _open_store(data_dir)
    delta = changes.diff(store, _when(since), _when(until), graphs or None)
    for sign, quads in (("-", delta.removed), ("+", delta.added)):
        for line in sorted(serialize_quads(quads, ox.RdfFormat.N_QUADS).decode().splitlines()):
            click.echo(f"{sign} {line}")


def _when(text: str | None):
    return changes.parse_time(text) if text else None


def _writer(store: GraphStore, operation: str, refreshed: list[str] | None = None):
    """Commit a change as the local user, then bring the derived graphs up to date and persist
    (saying how into ``refreshed``)."""
    from aimsgraph.records.refresh import mark_stale, refresh_after

    def write(delta: changes.Delta) -> changes.Change | None:
        was_current = store.is_current(Graphs.INFERRED)
        change = changes.commit(store, delta, operation, local_user(), before_commit=lambda: mark_stale(store))
        if change is not None:
            how = refresh_after(store, change.delta, was_current)
            if refreshed is not None:
                refreshed.append(how)
        store.flush()
        return change

    return write


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--report", "report_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@data_dir_option
def measure(file: Path, report_format: str, data_dir: Path | None) -> None:
    """Record measurements of metrics from a JSON file (a list of {"metric", "value",
    "measuredAt", "id"?, "note"?}, as POST /api/measurements takes): all or nothing; a breach of
    a metric's threshold is flagged and raised as a nonconformity. Sending a file again changes
    nothing."""
    import json

    from aimsgraph.records import operations
    from aimsgraph.records.payloads import parse_json

    if not file.is_file():
        raise InvalidInput(f"{file}: no such file")
    batch = operations.read_measurements(parse_json(file.read_bytes(), what=str(file)))
    store = _open_store(data_dir)
    changes.initialise(store, demo=False)
    delta, report = operations.measurement_delta(store, batch)
    change = _writer(store, "measurements")(delta)
    if report_format == "json":
        click.echo(
            json.dumps(
                {"changed": change is not None, "change": change.iri if change else None, "report": report.as_dict()}, indent=2
            )
        )
    else:
        click.echo(report.summary() + (f"change     {change.iri}" if change else "nothing changed"))


def _refresh_derived(store: GraphStore) -> None:
    """After a bulk load: recompute the inferred and analysis graphs and today's findings, and
    persist, with a saved copy of the risk model, so that the service starts from them instead of
    building them (the model takes 25 s at 10,000 systems, the findings minutes). A bulk load
    changes too much to be revalidated node by node."""
    from aimsgraph.risk.analysis import refresh_analysis, save_model
    from aimsgraph.semantics import validation

    def timed(step: str, run: Callable[[GraphStore], T]) -> T:
        started = time.perf_counter()
        result = run(store)
        click.echo(f"{step} in {time.perf_counter() - started:.2f} s", err=True)
        return result

    timed("inferences refreshed", refresh_inferences)
    model = timed("risk analysis refreshed", refresh_analysis)
    timed("findings validated and stored", validation.validate_full)
    store.flush()
    save_model(store, model, store.generation)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def _derived_current(store: GraphStore) -> GraphStore:
    """The store with the derived graphs validation reads brought up to date, when a store
    initialised but never served or written to lacks them (the findings of the EU AI Act and
    risk identification shapes read the applicability graph)."""
    from aimsgraph.semantics.applicability import refresh_applicability

    with store.write_lock():
        if not store.is_current(Graphs.INFERRED):
            refresh_inferences(store)
        if not store.is_current(Graphs.APPLICABILITY):
            refresh_applicability(store)
    return store


def _open_store(data_dir: Path | None) -> GraphStore:
    """The store, with writes a killed process left uncommitted undone. When a running
    ``aimsgraph serve`` holds it, this does not return: the command runs through the service
    (:func:`_through_service`) or stops with the reason it cannot."""
    settings = Settings.from_env(data_dir=data_dir)
    limits.configure(settings)
    try:
        store = GraphStore.open(settings)
    except StoreUnavailable as exc:
        if "LOCK" not in str(exc.__cause__):  # RocksDB: "While lock file: <dir>/LOCK: ..."
            raise
        _through_service(settings)
    changes.recover(store)
    return store


# -- while the service runs ---------------------------------------------------------------------
#
# RocksDB lets one process open the store, and ``serve`` keeps it open. Reading it from a second
# process (pyoxigraph's Store.read_only) is undefined behaviour while the first writes, and a
# write from here would bypass the service's write lock, refresher and validation gate. So
# ``serve`` writes SERVICE_FILE into the data directory (its URL and process id) and removes it
# when it stops, and a command that finds the store locked by that live process sends its work
# to the service's HTTP API, where it is journalled as any other request: load and the imports
# through POST /api/import, query through /sparql, validate through /api/validate.

#: Written into the data directory by ``serve`` while it runs.
SERVICE_FILE = "aimsgraph-service.json"
#: Seconds a command waits for the service's answer (validation of a large record is slow).
SERVICE_TIMEOUT = 3600


def _announce(settings: Settings, port: int) -> Path:
    """Say where this service listens, for the commands that find the store locked."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(settings.host, settings.host)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    path = settings.data_dir / SERVICE_FILE
    partial = path.with_name(SERVICE_FILE + ".partial")
    partial.write_text(json.dumps({"url": url, "pid": os.getpid(), "version": __version__}), encoding="utf-8")
    partial.replace(path)  # whole or absent: a reader never sees half of it
    return path


def _interrupt(*_: object) -> None:
    """A stop request (SIGTERM: systemd, docker stop) ends ``serve`` as Ctrl-C does: the store
    flushed and the announcement withdrawn, so no command later reads a stale one."""
    raise KeyboardInterrupt


class ServiceRefused(AimsgraphError):
    """The running service refused the command's request: its reason, with the exit code the
    command gives for that reason itself (2 bad input or not allowed, 4 refused by the
    validation gate, 3 otherwise)."""

    def __init__(self, message: str, status: int, exit_code: int) -> None:
        super().__init__(message)
        self.status, self.exit_code = status, exit_code


@dataclass(frozen=True)
class _Service:
    """A running ``aimsgraph serve`` over this data directory, and the token sent to it."""

    url: str
    token: str | None

    @classmethod
    def announced(cls, settings: Settings) -> _Service | None:
        """The service SERVICE_FILE names, if that process is alive."""
        try:
            announced = json.loads((settings.data_dir / SERVICE_FILE).read_text(encoding="utf-8"))
            url, pid = str(announced["url"]), int(announced["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return cls(url, _service_token(settings)) if _alive(pid) else None

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        accept: str | None = None,
        timeout: float = SERVICE_TIMEOUT,
    ):
        """(headers, body) of the service's answer; ServiceRefused when it refuses."""
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        request = urllib.request.Request(url, data=body, method=method)
        for name, value in (
            ("Content-Type", content_type),
            ("Accept", accept),
            ("Authorization", self.token and f"Bearer {self.token}"),
        ):
            if value:
                request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.headers, answer.read()
        except urllib.error.HTTPError as exc:
            raise _refusal(self.url, exc.code, exc.read()) from None
        except OSError as exc:  # URLError, refused, timed out
            raise StoreUnavailable(
                f"the service at {self.url} holds the store but does not answer: {getattr(exc, 'reason', exc)}"
            ) from None

    def post_json(self, path: str, **options) -> dict:
        return json.loads(self.call("POST", path, **options)[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _service_token(settings: Settings) -> str | None:
    """AIMSGRAPH_TOKEN, else the configured token (AIMSGRAPH_TOKENS, AIMSGRAPH_TOKEN_FILE) with
    the highest role: whoever can read the service's configuration administers it. The audit
    trail records that token's name, not the local user."""
    if os.environ.get("AIMSGRAPH_TOKEN", "").strip():
        return os.environ["AIMSGRAPH_TOKEN"].strip()
    registry = TokenRegistry.from_settings(settings)  # checks every entry: the fields below exist
    tokens = [entry.split(":", 2)[2] for entry in settings.tokens]
    if settings.token_file is not None:
        lines = (line.split("#", 1)[0].split() for line in settings.token_file.read_text(encoding="utf-8").splitlines())
        tokens += [fields[2] for fields in lines if fields]

    def rank(token: str) -> int:
        principal = registry.principal(f"Bearer {token}")
        assert principal is not None  # every configured token names someone (checked by from_settings)
        return ROLES.index(principal.role)

    return max(tokens, key=rank, default=None)


def _refusal(url: str, status: int, body: bytes) -> ServiceRefused:
    """The service's reason (problem+json ``detail``, or its text) as one line."""
    try:
        problem = json.loads(body)
    except ValueError:
        problem = {"detail": body.decode("utf-8", "replace")}
    detail = " ".join(str(problem.get("detail") or f"HTTP {status}").split())
    if status == 401:
        detail += " (this command sends AIMSGRAPH_TOKEN, else a token of AIMSGRAPH_TOKENS or AIMSGRAPH_TOKEN_FILE)"
    exit_code = 4 if status == 422 and "findings" in problem else 2 if status < 500 else 3
    return ServiceRefused(f"{detail} (the service at {url} answered {status})", status, exit_code)


def _through_service(settings: Settings) -> None:
    """Run the current command through the service holding the store, and exit; or say why not."""
    context = click.get_current_context()
    command = f"aimsgraph {context.command_path.partition(' ')[2]}"
    service = _Service.announced(settings)
    if service is None:
        raise StoreUnavailable(
            f"the store at {settings.data_dir} is in use by another process, not a running "
            f"`aimsgraph serve` ({SERVICE_FILE} names none): try `{command}` again when it has finished"
        )
    run = _THROUGH_SERVICE.get(context.command)
    if run is None:
        raise StoreUnavailable(
            f"`{command}` cannot run while the service at {service.url} holds the store: stop the service, or use its HTTP API"
        )
    service.call("GET", "/api/health", timeout=10)  # a clear error if it does not answer
    run(service, **context.params)
    sys.exit(0)


@contextmanager
def _about(file: Path):
    """Name the file in the service's refusal, as the command does for its own errors."""
    try:
        yield
    except ServiceRefused as exc:
        raise ServiceRefused(f"{file}: {exc.message}", exc.status, exc.exit_code) from None


def _import_rdf_through(service: _Service, kind: str, quads: list[ox.Quad], **params: str) -> dict:
    """Quads read here (relative IRIs resolved against the file, as a local import does), sent
    as N-Quads to ``POST /api/import``."""
    body = ox.serialize(quads, format=ox.RdfFormat.N_QUADS)
    return service.post_json("/api/import", params={"kind": kind, **params}, body=body, content_type="application/n-quads")


def _load_through(service: _Service, files: tuple[Path, ...], graph: str, fmt: str | None, **_: object) -> None:
    from aimsgraph.interop.importers import read_rdf

    started = time.perf_counter()
    form = _rdf_format(fmt) if fmt else None
    quads = [q for path in files for q in read_rdf(path, form, named_graph(graph).value)]
    report = _import_rdf_through(service, "rdf", quads, graph=graph)["report"]
    click.echo(
        f"loaded {report['triplesRead']} triples, {report['triplesWritten']} of them new, into <{graph}> "
        f"(through the service at {service.url}) in {time.perf_counter() - started:.2f} s"
    )


def _import_airo_through(service: _Service, file: Path, fmt: str | None, report_format: str, **_: object) -> None:
    from aimsgraph.interop.importers import airo, read_rdf

    quads = read_rdf(file, _rdf_format(fmt) if fmt else None)
    with _about(file):
        answer = _import_rdf_through(service, "airo", quads)
    _print_report(airo.AiroReport.from_dict({**answer["report"], "file": str(file)}), report_format)


def _import_atlas_through(service: _Service, file: Path | None, report_format: str, **_: object) -> None:
    from aimsgraph.interop.importers import atlas

    path = _atlas_file(file)
    if not path.is_file():
        raise InvalidInput(f"cannot read {path}: no such file")
    with _about(path):
        answer = service.post_json(
            "/api/import", params={"kind": "atlas"}, body=path.read_bytes(), content_type="application/yaml"
        )
    _print_report(atlas.AtlasReport.from_dict(answer["report"]), report_format)


def _import_csv_through(service: _Service, file: Path, kind: str, base: str | None, **_: object) -> None:
    if not file.is_file():
        raise InvalidInput(f"{file}: no such file")
    params = {"kind": kind, **({"base": base} if base else {})}
    with _about(file):
        answer = service.post_json("/api/import", params=params, body=file.read_bytes(), content_type="text/csv")
    _print_sheet(file, answer["rows"], answer if answer["changed"] else None)


def _import_oscal_through(service: _Service, file: Path, report_format: str, data_dir: Path | None = None, **_: object) -> None:
    from aimsgraph.interop.importers import oscal

    kind, _document = _oscal_document(file, data_dir)  # refused here as the command refuses it
    with _about(file):
        answer = service.post_json(
            "/api/import", params={"kind": f"oscal-{kind}"}, body=file.read_bytes(), content_type="application/json"
        )
    report = answer["report"]
    click.echo(json.dumps(report, indent=2) if report_format == "json" else oscal.summary(report), nl=report_format == "json")


def _query_through(service: _Service, query: str | None, query_file: Path | None, fmt: str | None, **_: object) -> None:
    """The query at /sparql, in the format the command would print (within the service's
    timeout and result limit: a cut result is announced on stderr)."""
    from aimsgraph.http.protocol import TRUNCATED_HEADER

    text = query_file.read_text(encoding="utf-8") if query_file else query
    accept = ", ".join(t for t in (SOLUTION_FORMATS.get(fmt or "csv"), GRAPH_FORMATS.get(fmt or "turtle")) if t)
    headers, body = service.call(
        "POST",
        "/sparql",
        body=urllib.parse.urlencode({"query": text}).encode(),
        content_type="application/x-www-form-urlencoded",
        accept=accept,
    )
    if headers.get(TRUNCATED_HEADER):
        click.echo(f"aimsgraph: the service cut the result at {headers[TRUNCATED_HEADER]} (AIMSGRAPH_RESULT_LIMIT)", err=True)
    sys.stdout.buffer.write(body)


def _validate_through(
    service: _Service,
    changed: tuple[str, ...],
    fmt: str,
    fail_on: str,
    output: Path | None,
    as_of: str | None = None,
    **_: object,
) -> None:
    """``POST /api/validate`` (which stores today's findings, as the command does) in the
    command's format (sarif and github written here from the JSON answer); the exit code from
    the findings' severities."""
    from aimsgraph.http.api.validation import REPORT_TYPES
    from aimsgraph.reporting.reports import severities_fail

    for iri in changed:
        named_graph(iri)
    params = {"asOf": as_of} if as_of else None
    media = {name: media for media, name in REPORT_TYPES.items()}.get(fmt, "application/json")
    body = json.dumps({"changed": list(changed)}).encode() if changed else None
    _, text = service.call("POST", "/api/validate", params=params, body=body, content_type="application/json", accept=media)
    if fmt in REPORT_TYPES.values():
        _write(text.decode("utf-8"), output)
    else:
        _write(_rendered_from_json(json.loads(text), fmt), output)
        fmt = "json"
    if fail_on == "none":
        return
    found = json.loads(text) if fmt == "json" else json.loads(service.call("GET", "/api/findings", params=params)[1])
    if severities_fail((f["severity"] for f in found["findings"]), fail_on):
        sys.exit(1)


def _rendered_from_json(answer: dict, fmt: str) -> str:
    """A report format the service does not serve (sarif, github), from its JSON report."""
    from aimsgraph.reporting import reports
    from aimsgraph.semantics.validation import Finding

    findings = [
        Finding(
            severity=f["severity"],
            focus=f["focus"],
            shape=f["shape"],
            path=f["path"],
            value=f["value"],
            message=f["message"],
            clauses=tuple(f["clauses"]),
            component=f["component"],
            value_type=f["valueType"],
        )
        for f in answer["findings"]
    ]
    as_of = date.fromisoformat(answer["asOf"]) if answer.get("asOf") else None
    return reports.render(reports.Report(findings, as_of=as_of), fmt)


#: The commands that can run through a running service, by click command.
_THROUGH_SERVICE: dict[click.Command, Callable[..., None]] = {
    load: _load_through,
    query: _query_through,
    validate: _validate_through,
    import_airo: _import_airo_through,
    import_atlas: _import_atlas_through,
    import_csv: _import_csv_through,
    import_oscal: _import_oscal_through,
}


def _progress_printer():
    """A progress callback that redraws one stderr line while big files load (terminal only)."""
    if not sys.stderr.isatty():
        return None
    last = [0.0]

    def show(phase: str, path: Path, done: int, total: int) -> None:
        now = time.monotonic()
        if total >= 5_000_000 and (now - last[0] >= 0.2 or done == total):
            last[0] = now
            end = "\n" if done == total else ""
            sys.stderr.write(f"\r{path.name}: {phase} {done / total:6.1%}{end}")
            sys.stderr.flush()

    return show


def main() -> None:
    """Entry point of the ``aimsgraph`` console script."""
    cli.main()


if __name__ == "__main__":
    main()
