"""The record as an Excel workbook (XLSX): the risk register, the Statement of Applicability,
the findings and readiness, one sheet per view.

This module owns the workbook's layout: which sheets it has, their columns, and how a value of
the graph is written in a cell. Two sheets can be edited and read back
(:mod:`aimsgraph.interop.importers.xlsx`):

- **Risk register**: exactly the columns of the CSV risk register
  (``spreadsheet.RISK_REGISTER``, ``data/templates/README.md``), so the sheet saved as CSV
  imports with ``aimsgraph import csv`` too. Each value is written in the friendliest spelling
  the CSV reader reads back as the *same* term (a level's label, else its IRI), and a cell is
  left empty where the sheet could not say what the graph says (two values in a one-value
  column, a value no spelling reads back as): an empty cell changes nothing on import. So
  importing the workbook unchanged changes nothing.
- **Statement of Applicability**: one row per entry; ``applicable``, ``status`` and
  ``justification`` are the editable decisions, the other columns are derived.

The findings, readiness and "About" sheets are derived and ignored on import. Every sheet has a
frozen, filtered header row; risk levels are filled with the heat map's colours
(:func:`aimsgraph.reporting.charts.level_colour`); dates are date cells. openpyxl is imported
when a workbook is written, not when the command line starts.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyoxigraph as ox

from aimsgraph.interop.importers import spreadsheet
from aimsgraph.interop.importers.spreadsheet import CellError, Column
from aimsgraph.interop.importers.xlsx import same_value
from aimsgraph.namespaces import AIMS, RDFS, SKOS, TYPE, XSD, Graphs
from aimsgraph.records import soa
from aimsgraph.reporting import charts, reports
from aimsgraph.risk.analysis import RiskModel
from aimsgraph.semantics.validation import Finding
from aimsgraph.store import GraphStore
from aimsgraph.store.record import Record, term_text

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Sheet titles. The importer finds the editable sheets by these names.
RISK_SHEET = "Risk register"
SOA_SHEET = "Statement of Applicability"
FINDINGS_SHEET = "Findings"
CLAUSES_SHEET = "Readiness per clause"
SYSTEMS_SHEET = "Readiness per system"
ABOUT_SHEET = "About"

#: The SoA sheet's columns: (header, editable). The editable ones are read back on import.
SOA_COLUMNS = (
    ("entry", False),
    ("control", False),
    ("title", False),
    ("applicable", True),
    ("status", True),
    ("justification", True),
    ("implemented by", False),
    ("risks", False),
    ("evidence", False),
)
FINDING_COLUMNS = ("severity", "focus", "focus label", "clauses", "message", "path", "value", "shape")
READINESS_COLUMNS = ("key", "label", "passing checks", "checks", "readiness")

#: Column widths in characters: at least, at most.
MIN_WIDTH, MAX_WIDTH = 8, 60
HEADER_FILL = "0D2B4E"
HEADER_FONT = "FFFFFF"

DATA = ox.NamedNode(Graphs.DATA)
RISK = ox.NamedNode(AIMS + "Risk")
IMPLEMENTED_CONTROL = ox.NamedNode(AIMS + "ImplementedControl")
EVIDENCE = ox.NamedNode(AIMS + "Evidence")
HAS_RISK, MITIGATES, DETECTS, HAS_EVIDENCE, LOCATION = (
    ox.NamedNode(AIMS + t) for t in ("hasRisk", "mitigates", "detects", "hasEvidence", "location")
)
PREF_LABEL = ox.NamedNode(SKOS + "prefLabel")
NOTATION = ox.NamedNode(SKOS + "notation")
LABEL = ox.NamedNode(RDFS + "label")
#: The SoA decisions: column -> property of the entry.
SOA_PROPERTIES = {
    "applicable": AIMS + "applicable",
    "status": AIMS + "implementationStatus",
    "justification": AIMS + "justification",
}

Cell = str | int | float | bool | date | None


@dataclass
class Sheet:
    """One sheet as the workbook gets it: a header, rows of cell values, and the fill colour
    of some cells ((row index, column index) -> RGB)."""

    title: str
    header: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    fills: dict[tuple[int, int], str] = field(default_factory=dict)
    number_formats: dict[str, str] = field(default_factory=dict)  # header -> Excel number format


def export_workbook(store: GraphStore, findings: list[Finding], as_of: date, base: str = spreadsheet.DEFAULT_BASE) -> bytes:
    """The workbook of ``store`` with ``findings`` (its validation as of ``as_of``). ``base``:
    the namespace the CSV reader mints local ids in; an evidence item is listed only where its
    IRI is the one the reader mints from its URL under ``base``, as then a re-import names the
    same item."""
    return write_workbook(sheets(store, findings, as_of, base))


def sheets(store: GraphStore, findings: list[Finding], as_of: date, base: str) -> list[Sheet]:
    """Every sheet of the workbook, as values (what the tests compare)."""
    report = reports.build(store, findings, as_of)
    label = Record(store).label
    return [
        risk_register(store, base),
        soa_sheet(store),
        findings_sheet(findings, label),
        readiness_sheet(CLAUSES_SHEET, report.clauses),
        readiness_sheet(SYSTEMS_SHEET, report.systems),
        about_sheet(as_of, base, len(findings)),
    ]


# -- risk register ------------------------------------------------------------------------


class _Spelling:
    """How a term is written in a cell of a column: the first of its labels, notations and
    IRI that the column's reader maps back to the same term."""

    def __init__(self, store: GraphStore, base: str) -> None:
        self.store = store
        self.base = base

    def __call__(self, column: Column, term: ox.NamedNode | ox.Literal | ox.BlankNode) -> str | None:
        for text in self._candidates(term):
            try:
                values = column.parse(text, self.base)
            except CellError:
                continue
            if len(values) == 1 and _reads_as(values[0].term, term) and not (column.declare and values[0].local_id):
                return text
        return None

    def _candidates(self, term: ox.NamedNode | ox.Literal | ox.BlankNode) -> Iterable[str]:
        if isinstance(term, ox.Literal):
            yield term.value
        elif isinstance(term, ox.NamedNode):
            for prop in (PREF_LABEL, NOTATION):
                yield from sorted({term_text(q.object) for q in self.store.quads(term, prop, None, None)})
            yield term.value


def _reads_as(read: object, term: object) -> bool:
    """Whether the value read from a cell is ``term``, as the importer judges it."""
    return read == term or (isinstance(read, ox.Literal) and same_value(read, term))


def risk_register(store: GraphStore, base: str) -> Sheet:
    """One row per risk and control that treats it (and evidence item of that control), with
    the columns of the CSV risk register."""
    columns = spreadsheet.RISK_REGISTER
    sheet = Sheet(RISK_SHEET, [c.name for c in columns], number_formats={"effectiveness": "0%"})
    spell = _Spelling(store, base)
    levels = RiskModel.build(store).criteria.matrix.levels
    level_column = sheet.header.index("risk level")
    kinds = _control_kinds(store)
    for risk in _risks(store):
        risk_cells = _record_cells(store, spell, columns, "risk", risk)
        if not risk_cells.get("system"):
            continue  # a risk of no asset: the sheet needs one (the About sheet says so)
        treated: list[ox.NamedNode | None] = [*_controls(store, risk, kinds)] or [None]
        for control in treated:
            control_cells = _control_cells(store, spell, columns, control, kinds) if control else {}
            for item_cells in _evidence_cells(store, spell, columns, control, base) if control else [{}]:
                cells = {**risk_cells, **control_cells, **item_cells}
                sheet.rows.append([_cell(column, cells.get(column.name)) for column in columns])
                level = levels.get(_one(store, risk, AIMS + "hasRiskLevel") or "")
                if level is not None and cells.get("risk level"):
                    sheet.fills[(len(sheet.rows) - 1, level_column)] = charts.level_colour(level.rank).lstrip("#")
    return sheet


def _risks(store: GraphStore) -> list[ox.NamedNode]:
    """The risks of the data graph, by their label."""
    risks = {q.subject for q in store.quads(None, TYPE, RISK, DATA) if isinstance(q.subject, ox.NamedNode)}
    return sorted(risks, key=lambda r: (_first_text(store, r, LABEL), r.value))


def _record_cells(
    store: GraphStore, spell: _Spelling, columns: Iterable[Column], record: str, subject: ox.NamedNode
) -> dict[str, str]:
    """The cells of one record's columns, each as the reader reads it back, or left out."""
    cells: dict[str, str] = {}
    for column in columns:
        if column.record != record:
            continue
        if spreadsheet.RECORDS["risk-register"][record][1] == column.name:
            cells[column.name] = subject.value  # the record's own IRI names it
            continue
        if column.property is None:
            continue
        prop = ox.NamedNode(column.property)
        if column.inverse:
            values = sorted({q.subject for q in store.quads(None, prop, subject, DATA)}, key=str)
            values = values[:1]  # links accumulate: one asset names the risk's row
        else:
            values = sorted({q.object for q in store.quads(subject, prop, None, DATA)}, key=str)  # type: ignore[misc]
        text = _spell_all(spell, column, values)
        if text:
            cells[column.name] = text
    return cells


def _spell_all(spell: _Spelling, column: Column, values: list[Any]) -> str | None:
    """A cell holding every value, or None when the column cannot say them all."""
    if not values or (len(values) > 1 and not column.multi):
        return None
    spelt = [spell(column, value) for value in values]
    if any(text is None or (column.multi and "|" in text) for text in spelt):
        return None
    return " | ".join(t for t in spelt if t is not None)


def _control_kinds(store: GraphStore) -> dict[ox.NamedNode, str]:
    """Each control's control type cell. A control that only detects is "detective"; one that
    mitigates anything is "preventive" (the CSV reader's default), and is listed only with the
    risks it mitigates: the sheet has one type per control, and links are never removed."""
    kinds: dict[ox.NamedNode, str] = {}
    for q in store.quads(None, DETECTS, None, DATA):
        if isinstance(q.subject, ox.NamedNode):
            kinds[q.subject] = "detective"
    for q in store.quads(None, MITIGATES, None, DATA):
        if isinstance(q.subject, ox.NamedNode):
            kinds[q.subject] = "preventive"
    return kinds


def _controls(store: GraphStore, risk: ox.NamedNode, kinds: dict[ox.NamedNode, str]) -> list[ox.NamedNode]:
    """The implemented controls of the data graph that treat ``risk`` the way their type says."""
    found = set()
    for link, kind in ((MITIGATES, "preventive"), (DETECTS, "detective")):
        for q in store.quads(None, link, risk, DATA):
            control = q.subject
            if isinstance(control, ox.NamedNode) and kinds.get(control) == kind and _typed(store, control, IMPLEMENTED_CONTROL):
                found.add(control)
    return sorted(found, key=lambda c: (_first_text(store, c, LABEL), c.value))


def _control_cells(
    store: GraphStore, spell: _Spelling, columns: Iterable[Column], control: ox.NamedNode, kinds: dict[ox.NamedNode, str]
) -> dict[str, str]:
    cells = _record_cells(store, spell, columns, "control", control)
    cells["control type"] = kinds[control]
    return cells


def _evidence_cells(
    store: GraphStore, spell: _Spelling, columns: Iterable[Column], control: ox.NamedNode, base: str
) -> list[dict[str, str]]:
    """One set of evidence cells per evidence item of ``control`` that the reader would name
    the same from its URL (items recorded otherwise are not listed: a re-import would make a
    second item); one empty set when there is none."""
    found = []
    for q in sorted(store.quads(control, HAS_EVIDENCE, None, DATA), key=lambda q: str(q.object)):
        item = q.object
        urls = [u.object for u in store.quads(item, LOCATION, None, DATA)] if isinstance(item, ox.NamedNode) else []
        if len(urls) != 1 or not isinstance(item, ox.NamedNode) or not _typed(store, item, EVIDENCE):
            continue
        url = term_text(urls[0])
        if item.value != f"{base}evidence/{hashlib.sha256(url.encode()).hexdigest()[:16]}":
            continue
        cells = _record_cells(store, spell, columns, "evidence", item)
        if cells.get("evidence url") == url:
            found.append(cells)
    return found or [{}]


def _typed(store: GraphStore, subject: ox.NamedNode, cls: ox.NamedNode) -> bool:
    return store.contains(ox.Quad(subject, TYPE, cls, DATA))


def _one(store: GraphStore, subject: ox.NamedNode, prop: str) -> str | None:
    values = {term_text(q.object) for q in store.quads(subject, ox.NamedNode(prop), None, DATA)}
    return values.pop() if len(values) == 1 else None


def _first_text(store: GraphStore, subject: ox.NamedNode, prop: ox.NamedNode) -> str:
    return min((term_text(q.object) for q in store.quads(subject, prop, None, DATA)), default="")


def _cell(column: Column, text: str | None) -> Cell:
    """A cell value of the right kind: dates as dates, effectiveness as a number."""
    if text is None:
        return None
    if column.parse is spreadsheet.iso_date:
        return date.fromisoformat(text)
    if column.parse is spreadsheet.share:
        return float(text)
    return text


# -- Statement of Applicability -----------------------------------------------------------


def soa_sheet(store: GraphStore) -> Sheet:
    """One row per SoA entry: the decisions (applicable, status, justification) as the data
    graph holds them, beside the derived columns of the SoA table."""
    sheet = Sheet(SOA_SHEET, [name for name, _ in SOA_COLUMNS])
    _, table = soa.rows(store)
    for row in table:
        entry = ox.NamedNode(row["entry"])
        decisions = {name: _decision(store, entry, name) for name in SOA_PROPERTIES}
        sheet.rows.append(
            [
                row["entry"],
                row.get("id"),
                row.get("title"),
                decisions["applicable"],
                decisions["status"],
                decisions["justification"],
                _lines(row.get("implementedBy")),
                _lines(row.get("risks")),
                _lines(row.get("evidence")),
            ]
        )
    return sheet


def _decision(store: GraphStore, entry: ox.NamedNode, name: str) -> Cell:
    """The decision's one value in the data graph (None: none, or several)."""
    values = list({q.object for q in store.quads(entry, ox.NamedNode(SOA_PROPERTIES[name]), None, DATA)})
    if len(values) != 1:
        return None
    value = values[0]
    if name == "applicable":
        if isinstance(value, ox.Literal) and value.datatype == ox.NamedNode(XSD + "boolean") and value.value in ("true", "false"):
            return value.value == "true"
        return None
    if name == "status":
        labels = (
            sorted(term_text(q.object) for q in store.quads(value, PREF_LABEL, None, None))
            if isinstance(value, ox.NamedNode)
            else []
        )
        return labels[0] if labels else term_text(value)
    return value.value if isinstance(value, ox.Literal) else None


def _lines(text: str | None) -> str | None:
    """The SoA table's space-separated IRIs, one to a line."""
    return "\n".join(text.split()) if text else None


# -- derived sheets -----------------------------------------------------------------------


def findings_sheet(findings: list[Finding], label: Any) -> Sheet:
    sheet = Sheet(FINDINGS_SHEET, list(FINDING_COLUMNS))
    order = {"Violation": 0, "Warning": 1, "Info": 2}
    for f in sorted(findings, key=lambda f: (order.get(f.severity, 3), f.focus, f.shape, f.path or "", f.value or "")):
        clauses = " ".join(c.rsplit("/", 1)[-1] for c in f.clauses)
        sheet.rows.append([f.severity, f.focus, label(f.focus), clauses, f.message, f.path, f.value, f.shape])
    return sheet


def readiness_sheet(title: str, items: list[reports.Readiness]) -> Sheet:
    sheet = Sheet(title, list(READINESS_COLUMNS), number_formats={"readiness": "0%"})
    for item in items:
        sheet.rows.append([item.key, item.label, item.total - item.failed, item.total, item.ratio])
    return sheet


def about_sheet(as_of: date, base: str, findings: int) -> Sheet:
    sheet = Sheet(ABOUT_SHEET, ["item", "value"])
    sheet.rows += [
        ["evaluation date", as_of],
        ["base IRI", base],
        ["findings", findings],
        ["editable sheets", f"{RISK_SHEET}; {SOA_SHEET} (applicable, status, justification)"],
        [
            "import",
            "aimsgraph import xlsx FILE, or POST /api/import?kind=xlsx: the editable sheets are read back with the "
            "rules of the CSV risk register (docs/spreadsheets.md); the other sheets are derived and ignored",
        ],
        ["not listed", "risks attached to no asset; evidence items not named after their URL (see docs/spreadsheets.md)"],
    ]
    return sheet


# -- writing --------------------------------------------------------------------------------


def write_workbook(parts: list[Sheet]) -> bytes:
    """The sheets as an XLSX file: a frozen, filtered header row, widths fitted to the text.
    openpyxl's write-only mode streams each row as it comes, without a cell object for every
    cell of the grid kept to the end (a third of the time at 1,000 systems)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    header_font, header_fill = Font(bold=True, color=HEADER_FONT), PatternFill("solid", fgColor=HEADER_FILL)
    wrapped = Alignment(wrap_text=True, vertical="top")
    for part in parts:
        ws = workbook.create_sheet(part.title)
        # a write-only sheet takes its layout before its first row
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(part.header))}{len(part.rows) + 1}"
        for c, name in enumerate(part.header, start=1):
            ws.column_dimensions[get_column_letter(c)].width = _width(name, (row[c - 1] for row in part.rows))
        ws.append([_styled(WriteOnlyCell(ws, value=name), font=header_font, fill=header_fill) for name in part.header])
        formats = {part.header.index(name): number_format for name, number_format in part.number_formats.items()}
        for r, row in enumerate(part.rows):
            cells = []
            for c, value in enumerate(row):
                cell = WriteOnlyCell(ws, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # text that starts with "=" stays text, never a formula
                    if "\n" in value:
                        cell.alignment = wrapped
                elif isinstance(value, date):
                    cell.number_format = "yyyy-mm-dd"
                if c in formats:
                    cell.number_format = formats[c]
                if (r, c) in part.fills:
                    cell.fill = PatternFill("solid", fgColor=part.fills[(r, c)])
                cells.append(cell)
            ws.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _styled(cell: Any, **styles: Any) -> Any:
    for name, style in styles.items():
        setattr(cell, name, style)
    return cell


def _width(header: str, values: Iterable[Cell]) -> float:
    longest = max((len(line) for v in values if v is not None for line in _text(v).splitlines() or [""]), default=0)
    return float(min(MAX_WIDTH, max(MIN_WIDTH, len(header) + 2, longest + 2)))


def _text(value: Cell) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
