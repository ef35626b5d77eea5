"""The auditor report: one self-contained HTML file (``aimsgraph report --html FILE``) with the
heat maps, readiness per framework (ISO/IEC 42001, NIST AI RMF, EU AI Act) and per clause, the Statement of Applicability, the top risks with their
explanation paths and the open findings.

Self-contained means no reference outside the file: styles are inline, charts are inline SVG
(:mod:`aimsgraph.http.web.charts`), there is no script, so it opens the same from a USB stick, an
e-mail attachment or an archive years later. It renders the web interface's templates with a
Jinja environment of its own, so no Flask application (and no running service) is needed.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import jinja2

from aimsgraph import clock
from aimsgraph.namespaces import AIMS, RDFS
from aimsgraph.records import soa
from aimsgraph.reporting import charts, frameworks, overview
from aimsgraph.risk.analysis import RiskModel
from aimsgraph.store import GraphStore
from aimsgraph.store.record import Record

TOP_RISKS = 15
SYSTEMS_EXPLAINED = 5
PATHS_PER_SYSTEM = 5
#: Open findings the report lists, most severe first: all 36,149 of 1,000 systems made a PDF that
#: WeasyPrint had not finished after 7 minutes and 3.6 GB (``aimsgraph validate`` lists them all).
MAX_FINDINGS = 1000


def render_html(store: GraphStore, findings: list[overview.Finding], as_of: date) -> str:
    """The report of ``store`` as it is now, with ``findings`` (its validation as of ``as_of``)."""
    model = RiskModel.build(store)
    record = Record(store)
    columns, soa_rows = soa.rows(store)
    systems = overview.system_rows(record, model)
    explained = [
        (row, overview.inherited_rows(record, model, model.propagation.inherited.get(row.iri, []))[:PATHS_PER_SYSTEM])
        for row in systems[:SYSTEMS_EXPLAINED]
    ]
    heat_maps = [overview.heat_map(record, model, view) for view in overview.VIEWS]
    summary = overview.validation.FindingsIndex(None, as_of, findings).summary(store)
    clauses = overview.readiness(store, summary)
    return (
        _environment()
        .get_template("report.html")
        .render(
            generated=clock.now().strftime("%Y-%m-%d %H:%M UTC"),
            as_of=as_of,
            title=_title(store),
            counts=overview.counts(store),
            heat_maps=[(data, charts.heat_map(data)) for data in heat_maps],
            readiness=clauses,
            frameworks=frameworks.readiness(store, clauses, summary.checks),
            columns=columns,
            soa_rows=soa_rows,
            top_risks=overview.risk_rows(record, model)[:TOP_RISKS],
            explained=explained,
            findings=overview.filter_findings(store, findings, overview.FindingFilter())[:MAX_FINDINGS],
            findings_total=len(findings),
            severities=overview.severity_counts(findings),
            appetite=model.criteria.appetite,
            label=record.label,
            charts=charts,
        )
    )


def _environment() -> jinja2.Environment:
    # a file loader, not PackageLoader: importing aimsgraph.http.web would import Flask
    loader = jinja2.FileSystemLoader(Path(__file__).parent / "templates")
    return jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)


def _title(store: GraphStore) -> str:
    rows = list(
        store.query(f"""PREFIX aims: <{AIMS}>
        PREFIX rdfs: <{RDFS}>
        SELECT ?label WHERE {{ ?aims a aims:AIManagementSystem ; rdfs:label ?label }} ORDER BY ?label LIMIT 1""")
    )
    return rows[0]["label"].value if rows else "AI management system"
