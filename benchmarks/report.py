"""The results of a harness run as Markdown: the machine description, a table per size, and the
README block between ``<!-- benchmarks:begin -->`` and ``<!-- benchmarks:end -->`` in the
"# Performance" page (the markers are added under the section's first paragraph when absent;
nothing outside them is touched)."""

from __future__ import annotations

import os
import platform
import statistics
import textwrap
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from benchmarks.harness import PHASES as ALL_PHASES
from benchmarks.harness import format_seconds

BEGIN, END = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"
SECTION = "# Performance"
#: The /sparql target of issue 9: every named query within this factor of bare pyoxigraph.
SPARQL_TARGET = 1.3
PACKAGES = ("pyoxigraph", "pyshacl", "owlrl", "rdflib", "flask")


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    return {
        "cpu": _cpuinfo("model name") or platform.processor() or platform.machine(),
        "cores": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "ram": _ram(),
        "os": f"{_os_name()} (kernel {platform.release()})",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": ", ".join(f"{name} {_version(name)}" for name in PACKAGES),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "load": f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown",
    }


def machine_line(info: dict[str, str]) -> str:
    return (
        f"Measured {info['date']} on {info['cpu']}, {info['cores']} cores, {info['ram']} RAM, {info['os']}, "
        f"{info['python']}; {info['packages']}; load average {info['load']}."
    )


def size_table(result: dict) -> str:
    """The table of one size, with a caption and the /sparql target line."""
    lines = [
        f"### {result['systems']:,} systems",
        "",
        _wrap(
            f"{result['generated_triples']:,} generated triples, {result['store_triples']:,} in the store with the "
            f"reference graphs, inferences and analysis; query parameters: system "
            f"<{result['parameters']['system']}>."
        ),
        "",
        "| metric | aimsgraph | anchor | ratio | note |",
        "|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        if _is_route(row):
            continue
        lines.append(
            f"| {row['metric']} | {_value(row['value'], row['unit'], row['value_note'] or 'failed')} | "
            f"{_value(row['anchor'], row['unit'], row['anchor_note'] or '–')} | "
            f"{_ratio(row['ratio'])} | {_cell(row['note'])} |"
        )
    if any(r["metric"].startswith("query `") for r in result["rows"]):
        lines += ["", _wrap(sparql_target(result))]
    routes = [row for row in result["rows"] if _is_route(row)]
    if routes:
        lines += ["", route_table(routes)]
    if result.get("phases") and len(result["phases"]) < len(ALL_PHASES):
        lines += ["", _wrap(f"Phases measured: {', '.join(result['phases'])} (of {', '.join(ALL_PHASES)}).")]
    return "\n".join(lines)


def _is_route(row: dict) -> bool:
    return row["metric"].startswith("route ")


def route_table(rows: list[dict]) -> str:
    """A row for every call of the route plan (``benchmarks.routes``): p50, p99 and size of the
    answer over sequential requests to the production server, and the goal of issue 18."""
    with_goal = [row for row in rows if row.get("goal_met") is not None]
    met = sum(1 for row in with_goal if row["goal_met"])
    lines = [
        _wrap(
            "Every route of the URL map (`benchmarks/routes.py`), against `aimsgraph serve --production` on a copy "
            "of the store: a warm-up, then sequential requests (up to the runs given, within about "
            "20 s), reads first, then writes with the editor token. Size is the answer's body. Goals (issue 18): "
            "pages p50 ≤ 300 ms and ≤ 1 MB, `/asset` p50 ≤ 200 ms, REST p50 ≤ 100 ms and p99 ≤ 1 s, "
            "`/api/impact` p50 ≤ 30 ms and p99 ≤ 300 ms; full validation, imports, exports and reports have none. "
            f"{met} of {len(with_goal)} calls with a goal meet it."
        ),
        "",
        "| route | p50 | p99 | size | goal | note |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        goal = row.get("goal") or "–"
        if row.get("goal_met") is not None:
            goal += ": met" if row["goal_met"] else ": **missed**"
        p99 = row.get("p99")
        lines.append(
            f"| {_cell(row['metric'].removeprefix('route '))} | "
            f"{_value(row['value'], 's', row['value_note'] or 'failed')} | "
            f"{format_seconds(p99) if p99 is not None else '–'} | {_size(row.get('size'))} | "
            f"{_cell(goal)} | {_cell(row['note'])} |"
        )
    return "\n".join(lines)


def _size(size: int | None) -> str:
    if size is None:
        return "–"
    if size < 10_000:
        return f"{size:,} B"
    return f"{size / 1000:,.0f} kB" if size < 1_000_000 else f"{size / 1_000_000:,.1f} MB"


def sparql_target(result: dict) -> str:
    """How many named queries over HTTP are within SPARQL_TARGET of bare pyoxigraph."""
    ratios = sorted(r["ratio"] for r in result["rows"] if r["metric"].startswith("query `") and r["ratio"] is not None)
    queries = sum(1 for r in result["rows"] if r["metric"].startswith("query `"))
    if not ratios:
        return "No named query was measured over HTTP."
    within = sum(1 for r in ratios if r <= SPARQL_TARGET)
    middle = statistics.median(ratios)
    return (
        f"Named queries over HTTP: {within} of {queries} within {SPARQL_TARGET}x of bare pyoxigraph "
        f"(median ratio {middle:.2f}x, range {ratios[0]:.2f}x-{ratios[-1]:.2f}x)."
    )


def markdown(info: dict[str, str], results: list[dict], command: str) -> str:
    """The README block's content."""
    parts = [
        "## Everything in one run (`python -m benchmarks`)",
        "",
        _wrap(
            f"`{command}` regenerates this block (between the `benchmarks:begin` and `benchmarks:end` "
            "markers) with every measurement of one run on the same generated organisation, each next to "
            "its anchor; the per-topic tables after it are earlier runs of the single modules. The ratio is "
            "aimsgraph's cost over the anchor's (time over time, or the anchor's throughput over ours): above "
            "1 is slower than the anchor. Queries are the p50 of several runs after a warm-up, the HTTP and "
            "bare runs alternating; the HTTP figures include the client (Python `requests`), which shares the "
            "cores with the service."
        ),
        "",
        _wrap(machine_line(info)),
    ]
    for result in results:
        parts += ["", size_table(result)]
    return "\n".join(parts) + "\n"


def replace_block(readme: Path, block: str) -> None:
    """Put ``block`` between the markers in ``readme``, adding the markers under the first
    paragraph of the Performance section when they are missing."""
    text = readme.read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        updated = f"{head}{BEGIN}\n{block}{END}{tail}"
    else:
        updated = _with_markers(text, block)
    temporary = readme.with_name(readme.name + ".benchmarks-tmp")
    temporary.write_text(updated, encoding="utf-8")
    temporary.replace(readme)  # whole or not at all


def _with_markers(text: str, block: str) -> str:
    lines = text.split("\n")
    try:
        start = lines.index(SECTION)
    except ValueError:
        raise SystemExit(f"no '{SECTION}' heading in the README to put the benchmark block under") from None
    at = start + 1
    while at < len(lines) and not lines[at].strip():  # blank lines after the heading
        at += 1
    while at < len(lines) and lines[at].strip():  # the intro paragraph
        at += 1
    return "\n".join([*lines[:at], "", BEGIN, block + END, *lines[at:]])


def _wrap(text: str) -> str:
    """Prose wrapped like the rest of the README."""
    return textwrap.fill(text, width=95, break_long_words=False, break_on_hyphens=False)


def _value(value: float | None, unit: str, otherwise: str) -> str:
    if value is None:
        return _cell(otherwise)
    return f"{value:,.0f} req/s" if unit == "req/s" else format_seconds(value)


def _ratio(ratio: float | None) -> str:
    if ratio is None:
        return "–"
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"  # 0.0043x, not 0.00x


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _cpuinfo(key: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "unknown"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"
