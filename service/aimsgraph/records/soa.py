"""The Statement of Applicability (ISO/IEC 42001 6.1.3): the table generated from the graph by
``queries/statement-of-applicability.rq``, written as CSV, HTML or JSON."""

from __future__ import annotations

import csv
import html
import io
import json

from aimsgraph.records import queries
from aimsgraph.store import GraphStore
from aimsgraph.store.record import term_text

FORMATS = {"csv": "text/csv", "html": "text/html", "json": "application/json"}


def rows(store: GraphStore) -> tuple[list[str], list[dict[str, str]]]:
    """The SoA columns and one row per Annex A control entry."""
    query = queries.load_all()["statement-of-applicability"]
    solutions = store.query(query.text)
    columns = [v.value for v in solutions.variables]
    return columns, [{c: term_text(row[c]) for c in columns if row[c] is not None} for row in solutions]


def render(store: GraphStore, fmt: str) -> str:
    """The SoA as csv, html or json."""
    columns, table = rows(store)
    if fmt == "json":
        return json.dumps({"columns": columns, "rows": table}, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, columns, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(table)
        return buffer.getvalue()
    head = "".join(f'<th scope="col">{html.escape(c)}</th>' for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(row.get(c, ''))}</td>" for c in columns) + "</tr>\n" for row in table)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Statement of Applicability</title>'
        "</head><body><h1>Statement of Applicability</h1>\n"
        f"<table><caption>{len(table)} Annex A controls</caption><thead><tr>{head}</tr></thead><tbody>\n{body}"
        "</tbody></table></body></html>\n"
    )
