"""Validation reports: readiness per clause and per AI system, and the report formats
(SHACL Turtle, JSON, a readable table, JUnit XML for CI).

Readiness counts checks: a check is one shape applied to one of its focus nodes; it passes
when that shape found nothing on that node. A clause's readiness is the share of passing
checks among the shapes that cite the clause (``dct:source``); a system's is the share among
checks on the system and its record (risks, assessments, controls, documentation), as
``queries/system-record-nodes.rq`` defines it. A clause no check applies to has no readiness
("no checks", null in JSON), not 100 %: nothing was found because nothing was looked at.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox

from aimsgraph.namespaces import FINDING_BASE, PREFIXES, REFERENCE_DATE, SH, SKOS, TYPE, XSD_BOOLEAN, XSD_DATE
from aimsgraph.records import queries
from aimsgraph.records.positions import Position
from aimsgraph.semantics.validation import (
    Finding,
    checks_per_shape,
    compiled_checks,
    failed_per_shape,
    findings_as_triples,
    known_targets,
)
from aimsgraph.store import GraphStore
from aimsgraph.store.record import Record, node_text, term_text

FORMATS = ("table", "json", "turtle", "junit", "sarif", "github")
NO_CHECKS = "no checks"


@dataclass
class Readiness:
    """Passing and total checks for one clause or one system."""

    key: str
    label: str
    total: int = 0
    failed: int = 0

    @property
    def ratio(self) -> float | None:
        """Passing checks over all checks; None when no check applies, as readiness is then
        unknown rather than complete."""
        return (self.total - self.failed) / self.total if self.total else None

    def percent(self, decimals: int = 0) -> str:
        """Readiness as pages, reports and the table print it: "87 %", or "no checks"."""
        return NO_CHECKS if self.ratio is None else f"{self.ratio * 100:.{decimals}f} %"


@dataclass
class Report:
    findings: list[Finding]
    as_of: date | None = None  # the evaluation date the findings were computed for
    clauses: list[Readiness] = field(default_factory=list)
    systems: list[Readiness] = field(default_factory=list)
    checked_shapes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # shape -> its clauses
    #: focus -> where the files validated describe it (``records.files``); empty for a store
    positions: dict[str, Position | None] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return {severity: sum(f.severity == severity for f in self.findings) for severity in ("Violation", "Warning", "Info")}

    @property
    def conforms(self) -> bool:
        return self.counts["Violation"] == 0

    def fails(self, fail_on: str) -> bool:
        """True if the report has findings at or above ``fail_on`` (violation, warning, info)."""
        return severities_fail((f.severity for f in self.findings), fail_on)


def severities_fail(severities: Iterable[str], fail_on: str) -> bool:
    """True if one of the findings' ``severities`` is at or above ``fail_on`` (violation, warning, info)."""
    levels = {"violation": ("Violation",), "warning": ("Violation", "Warning"), "info": ("Violation", "Warning", "Info")}
    return any(severity in levels[fail_on] for severity in severities)


def build(
    store: GraphStore,
    findings: list[Finding],
    as_of: date,
    nodes: list[str] | None = None,
    positions: dict[str, Position | None] | None = None,
) -> Report:
    """A report with readiness per clause and per system for ``findings`` on ``store``,
    computed as of the evaluation date ``as_of``; with ``nodes``, of the checks on those focus
    nodes only (a re-validation of what a change affects reports on that, not on the record).
    ``positions`` place the findings in the files validated (``records.files``)."""
    targets = known_targets(store, as_of, nodes)
    failed = {(f.shape, f.focus) for f in findings}
    by_system: dict[str, Readiness] = {}
    record = _system_records(store)
    label = Record(store).label
    for shape, shape_nodes in targets.items():
        for node in shape_nodes:
            for system in record.get(node, ()):
                readiness = by_system.setdefault(system, Readiness(system, label(system)))
                readiness.total += 1
                readiness.failed += (shape, node) in failed
    shape_clauses = compiled_checks()[2]
    return Report(
        findings,
        as_of=as_of,
        clauses=clause_readiness(store, checks_per_shape(targets, failed_per_shape(findings))),
        systems=sorted(by_system.values(), key=lambda r: r.label),
        checked_shapes={shape: shape_clauses.get(shape, ()) for shape in targets},
        positions=positions or {},
    )


def clause_readiness(store: GraphStore, checks: dict[str, tuple[int, int]]) -> list[Readiness]:
    """Readiness per clause, in clause order, from the checks and failures of each shape that
    cites it (:func:`checks_per_shape`)."""
    clause_labels = _clause_labels(store)
    shape_clauses = compiled_checks()[2]
    by_clause: dict[str, Readiness] = {}
    for shape, (total, failed) in checks.items():
        for clause in shape_clauses.get(shape, ()):
            readiness = by_clause.setdefault(clause, Readiness(clause, clause_labels.get(clause, clause)))
            readiness.total += total
            readiness.failed += failed
    return sorted(by_clause.values(), key=lambda r: _clause_order(r.label))


def render(report: Report, fmt: str) -> str:
    """The report as table, json, turtle (a SHACL validation report), junit, sarif or github
    (workflow commands)."""
    if fmt in ("sarif", "github"):
        from aimsgraph.reporting import sarif

        return sarif.render(report, fmt)
    return {"table": _table, "json": _json, "turtle": _turtle, "junit": _junit}[fmt](report)


def as_dict(report: Report) -> dict:
    return {
        "asOf": report.as_of.isoformat() if report.as_of else None,
        "conforms": report.conforms,
        "counts": report.counts,
        "readiness": {
            "clauses": [_readiness(r) for r in report.clauses],
            "systems": [_readiness(r) for r in report.systems],
        },
        "findings": [finding_dict(f) | _location(report, f) for f in report.findings],
    }


def finding_dict(f: Finding) -> dict:
    return {
        "severity": f.severity,
        "focus": f.focus,
        "path": f.path,
        "value": f.value,
        "valueType": f.value_type,
        "message": f.message,
        "shape": f.shape,
        "component": f.component,
        "clauses": list(f.clauses),
    }


def _location(report: Report, f: Finding) -> dict:
    """Where the finding's focus is written, when the files validated say (JSON ``location``)."""
    position = report.positions.get(f.focus)
    return {"location": position.as_dict()} if position else {}


def _readiness(r: Readiness) -> dict:
    ratio = None if r.ratio is None else round(r.ratio, 4)
    return {"id": r.key, "label": r.label, "checks": r.total, "failed": r.failed, "readiness": ratio}


def _json(report: Report) -> str:
    return json.dumps(as_dict(report), indent=2, ensure_ascii=False) + "\n"


def _table(report: Report) -> str:
    counts = report.counts
    lines = [
        f"{counts['Violation']} violations, {counts['Warning']} warnings, {counts['Info']} infos"
        + (f" (as of {report.as_of.isoformat()})" if report.as_of else ""),
        "",
    ]
    where = f"{'file:line:column':<32} " if report.positions else ""
    lines.append(f"{'severity':<10} {'clause':<18} {where}{'focus':<48} message")
    for f in report.findings:
        clause = ",".join(c.rsplit("/", 1)[1] for c in f.clauses)
        if report.positions:
            where = f"{report.positions.get(f.focus) or '-'!s:<32} "
        lines.append(f"{f.severity:<10} {clause:<18} {where}{_short(f.focus):<48} {f.message}")
    lines += ["", "readiness per clause:"]
    lines += [_readiness_line(r) for r in report.clauses]
    lines += ["", "readiness per AI system:"]
    lines += [_readiness_line(r) for r in report.systems]
    return "\n".join(lines) + "\n"


def _readiness_line(r: Readiness) -> str:
    return f"  {r.percent(1):>9}  {r.label} ({r.total - r.failed}/{r.total})"


def _turtle(report: Report) -> str:
    node = ox.NamedNode(FINDING_BASE + "report")
    triples = [
        ox.Triple(node, TYPE, ox.NamedNode(SH + "ValidationReport")),
        ox.Triple(
            node,
            ox.NamedNode(SH + "conforms"),
            ox.Literal("true" if report.conforms else "false", datatype=ox.NamedNode(XSD_BOOLEAN)),
        ),
    ]
    if report.as_of:
        triples.append(
            ox.Triple(node, ox.NamedNode(REFERENCE_DATE), ox.Literal(report.as_of.isoformat(), datatype=ox.NamedNode(XSD_DATE)))
        )
    triples += [ox.Triple(node, ox.NamedNode(SH + "result"), ox.NamedNode(f.iri)) for f in report.findings]
    triples += findings_as_triples(report.findings)
    data = ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=PREFIXES)
    assert data is not None  # given no output, pyoxigraph returns the bytes
    return data.decode()


def _junit(report: Report) -> str:
    """One test suite per clause, one test case per shape citing it; a failure lists its findings."""
    by_clause: dict[str, dict[str, list[Finding]]] = defaultdict(lambda: defaultdict(list))
    for shape, clauses in report.checked_shapes.items():
        for clause in clauses:
            by_clause[clause][shape]  # every shape is a test case, passing or not
    for f in report.findings:
        for clause in f.clauses:
            by_clause[clause][f.shape].append(f)
    labels = {r.key: r.label for r in report.clauses}

    def clause_order(clause: str) -> tuple:
        return _clause_order(labels.get(clause, clause))

    suites = []
    for clause in sorted(by_clause, key=clause_order):
        cases = []
        failures = 0
        for shape, found in sorted(by_clause[clause].items()):
            name = quoteattr(shape.rsplit("#", 1)[-1])
            if not found:
                cases.append(f"    <testcase classname={quoteattr(clause)} name={name}/>")
                continue
            failures += 1
            kind = "Violation" if any(f.severity == "Violation" for f in found) else found[0].severity
            detail = escape("\n".join(f"{f.severity}: {f.focus}: {f.message}" for f in found))
            cases.append(
                f"    <testcase classname={quoteattr(clause)} name={name}>"
                f'<failure type="{kind}" message={quoteattr(f"{len(found)} finding(s)")}>{detail}</failure></testcase>'
            )
        suites.append(
            f'  <testsuite name={quoteattr(labels.get(clause, clause))} tests="{len(cases)}" failures="{failures}">\n'
            + "\n".join(cases)
            + "\n  </testsuite>"
        )
    total = sum(len(shapes) for shapes in by_clause.values())
    failed = sum(1 for shapes in by_clause.values() for found in shapes.values() if found)
    name = "aimsgraph validation" + (f" as of {report.as_of.isoformat()}" if report.as_of else "")
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name={quoteattr(name)} tests="{total}" '
        f'failures="{failed}">\n' + "\n".join(suites) + "\n</testsuites>\n"
    )


def _clause_labels(store: GraphStore) -> dict[str, str]:
    rows = store.query(f"""PREFIX skos: <{SKOS}>
        SELECT ?c ?id ?title WHERE {{ ?c skos:notation ?id ; skos:prefLabel ?title }}""")
    return {term_text(row["c"]): f"{term_text(row['id'])} {term_text(row['title'])}" for row in rows}


def _system_records(store: GraphStore) -> dict[str, set[str]]:
    """The AI systems whose record holds each node, labelled or not (a set: a system with
    several labels has several rows, and counts once)."""
    query = queries.load_all()["system-record-nodes"]
    records: dict[str, set[str]] = defaultdict(set)
    for row in store.query(query.text):
        if (node := node_text(row["node"])) and (system := node_text(row["system"])):
            records[node].add(system)
    return records


def _clause_order(label: str) -> tuple:
    ident = label.split(" ", 1)[0]
    parts = ident.removeprefix("A.").split(".")
    return (ident.startswith("A."), *[int(p) if p.isdecimal() else 0 for p in parts])


def _short(iri: str) -> str:
    return iri if len(iri) <= 48 else "..." + iri[-45:]
