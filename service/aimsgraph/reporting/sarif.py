"""Validation findings where code review shows them: SARIF 2.1.0 (GitHub code scanning and
GitLab show it as annotations on the changed lines) and GitHub Actions workflow commands
(``::error file=...,line=...::message``).

A finding's place is that of its focus node in the files validated (``Report.positions``,
from ``records.files``); the findings of a store have no file, and are reported with their
focus node as a logical location only (SARIF) or without a file (workflow commands).

SARIF, one run: ``tool.driver`` is aimsgraph with one rule per shape that fired (id: the
shape's local name; help: its ``sh:message``; properties: the shape IRI and the ISO/IEC 42001
clauses or Annex A controls it checks). Levels: Violation -> error, Warning -> warning,
Info -> note. ``partialFingerprints`` hold the finding's stable identity (the hash in
``Finding.iri``: focus, shape, constraint, path and value), so a finding keeps its identity
when lines move. Columns count Unicode code points (``columnKind``), as positions do.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import orjson

from aimsgraph import __version__
from aimsgraph.namespaces import ISO
from aimsgraph.records.positions import Position
from aimsgraph.semantics.validation import Finding, compiled_checks

if TYPE_CHECKING:
    from aimsgraph.reporting.reports import Report

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_LEVELS = {"Violation": "error", "Warning": "warning", "Info": "note"}
GITHUB_COMMANDS = {"Violation": "error", "Warning": "warning", "Info": "notice"}
FINGERPRINT = "aimsgraphFinding/v1"


def render(report: Report, fmt: str) -> str:
    """The report as ``sarif`` or ``github`` workflow commands."""
    return sarif(report) if fmt == "sarif" else github(report)


# -- SARIF ------------------------------------------------------------------------------------


def sarif(report: Report) -> str:
    """The findings as a SARIF 2.1.0 log of one run."""
    shapes = sorted({f.shape for f in report.findings})
    index = {shape: number for number, shape in enumerate(shapes)}
    run: dict[str, object] = {
        "tool": {
            "driver": {
                "name": "aimsgraph",
                "version": __version__,
                "rules": [_rule(shape, report.findings) for shape in shapes],
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": [_result(f, index[f.shape], report.positions.get(f.focus)) for f in report.findings],
    }
    if report.as_of:
        run["properties"] = {"asOf": report.as_of.isoformat()}
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    # orjson: the standard library's indented encoder is pure Python (5 s of 7 for 36,000 findings)
    return orjson.dumps(log, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE).decode()


def rule_id(shape: str) -> str:
    """A rule's id: the shape's local name (``AISystemShape-scope``)."""
    return shape.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def clause_name(clause: str) -> str:
    """``ISO/IEC 42001 A.6.2.7`` for a catalogue IRI; other frameworks' by their local name."""
    local = clause.rsplit("/", 1)[-1]
    return f"ISO/IEC 42001 {local}" if clause.startswith(ISO) else local


def _rule(shape: str, findings: list[Finding]) -> dict[str, object]:
    found = next(f for f in findings if f.shape == shape)
    message = _messages().get(shape, found.message)
    clauses = [clause_name(c) for c in found.clauses]
    return {
        "id": rule_id(shape),
        "shortDescription": {"text": f"{rule_id(shape)} ({', '.join(clauses) or 'no clause'})"},
        "fullDescription": {"text": message},
        "help": {"text": message},
        "defaultConfiguration": {"level": SARIF_LEVELS[found.severity]},
        "properties": {"shape": shape, "clauses": list(found.clauses), "tags": clauses},
    }


def _messages() -> dict[str, str]:
    """Each shape's ``sh:message`` as written (its first, when it has several constraints)."""
    messages: dict[str, str] = {}
    for check in compiled_checks()[1]:
        messages.setdefault(check.shape, check.message)
    return messages


def _result(f: Finding, rule_index: int, position: Position | None) -> dict[str, object]:
    location: dict[str, object] = {"logicalLocations": [{"fullyQualifiedName": f.focus, "kind": "resource"}]}
    if position is not None:
        physical: dict[str, object] = {"artifactLocation": {"uri": _uri(position.file)}}
        if position.line is not None:
            physical["region"] = {"startLine": position.line, "startColumn": position.column or 1}
        location["physicalLocation"] = physical
    properties: dict[str, object] = {"focus": f.focus, "clauses": list(f.clauses), "component": f.component}
    if f.path:
        properties["path"] = f.path
    if f.value is not None:
        properties["value"] = f.value
    if position is not None and position.cell:
        properties["cell"] = position.cell
    return {
        "ruleId": rule_id(f.shape),
        "ruleIndex": rule_index,
        "level": SARIF_LEVELS[f.severity],
        "message": {"text": f"{f.message} ({f.focus})"},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT: f.iri.rsplit("/", 1)[-1]},
        "properties": properties,
    }


def _uri(file: str) -> str:
    """A relative path as a relative URI reference (code scanning resolves it against the
    repository root); an absolute one as a file: URI."""
    path = Path(file)
    return path.as_uri() if path.is_absolute() else quote(file)


# -- GitHub Actions workflow commands -------------------------------------------------------


def github(report: Report) -> str:
    """One ``::error``, ``::warning`` or ``::notice`` command a finding, then a summary line."""
    lines = [_command(f, report.positions.get(f.focus)) for f in report.findings]
    counts = report.counts
    lines.append(f"aimsgraph: {counts['Violation']} violations, {counts['Warning']} warnings, {counts['Info']} infos")
    return "\n".join(lines) + "\n"


def _command(f: Finding, position: Position | None) -> str:
    properties: list[tuple[str, object]] = []
    if position is not None:
        properties.append(("file", position.file))
        if position.line is not None:
            properties += [("line", position.line), ("col", position.column or 1)]
    clauses = ", ".join(clause_name(c) for c in f.clauses)
    properties.append(("title", f"{rule_id(f.shape)}" + (f" ({clauses})" if clauses else "")))
    written = ",".join(f"{name}={escape_property(str(value))}" for name, value in properties)
    return f"::{GITHUB_COMMANDS[f.severity]} {written}::{escape_data(f'{f.message} ({f.focus})')}"


def escape_data(text: str) -> str:
    """A command's message, escaped as GitHub's toolkit does (``%``, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A command's property value: as a message, and ``:`` and ``,`` too."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")
