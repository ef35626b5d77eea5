"""Excel workbooks (XLSX) into the data graph: the editable sheets of the workbook that
:mod:`aimsgraph.interop.exporters.xlsx` writes, read back.

This module owns reading a workbook: refusing what is not a safe XLSX file, turning the cells of
the "Risk register" sheet into the CSV text the spreadsheet reader takes (so its columns,
checks, error messages and merge rule are those of ``aimsgraph import csv``, rows numbered as
the spreadsheet shows them), reading the decisions of the "Statement of Applicability" sheet
(applicable, status, justification of entries that exist), and one rule a spreadsheet needs
that a CSV file does not: **a cell that reads as the value stored says nothing new**. A sheet
has no language tags and no lexical forms, so an unchanged label reads back as a plain string
and "0.80" as 0.8; such a value keeps the stored literal (its language tag, its spelling)
instead of replacing it. Importing a workbook as it was exported therefore changes nothing.

The findings and readiness sheets are derived and ignored. Nothing is written here: the caller
commits the returned :class:`~aimsgraph.store.changes.Delta`, all or nothing. openpyxl is
imported when a workbook is read.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

import pyoxigraph as ox

from aimsgraph.errors import InvalidInput
from aimsgraph.interop.importers import spreadsheet
from aimsgraph.namespaces import AIMS, SKOS, TYPE, XSD, Graphs, is_absolute_iri
from aimsgraph.store import GraphStore, changes
from aimsgraph.store.record import term_text

#: Sheet titles and columns: the exporter's (a workbook saved by another program keeps them).
RISK_SHEET = "Risk register"
SOA_SHEET = "Statement of Applicability"
ABOUT_SHEET = "About"
SOA_EDITABLE = {
    "applicable": AIMS + "applicable",
    "status": AIMS + "implementationStatus",
    "justification": AIMS + "justification",
}
SOA_DERIVED = ("control", "title", "implemented by", "risks", "evidence")

#: An XLSX file is a ZIP of XML parts: at most this many bytes unpacked, and no part may
#: unpack to more than this many times its packed size (a ZIP bomb).
MAX_UNPACKED = 512 * 1_048_576
MAX_RATIO = 200
#: Cells read from all sheets, empty ones included: a sheet's declared dimension (or one cell far
#: away) pads every row, and a 5 KB workbook spanning A1:XFD1048576 stood for 17 billion cells.
#: The risk register of 10,000 generated systems is 2.2 million cells.
MAX_CELLS = 4_000_000
_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)

DATA = ox.NamedNode(Graphs.DATA)
STRING, BOOLEAN = ox.NamedNode(XSD + "string"), ox.NamedNode(XSD + "boolean")
NUMERIC = {ox.NamedNode(XSD + t) for t in ("decimal", "integer", "double", "float")}
YES, NO = ("yes", "y", "true", "1", "x"), ("no", "n", "false", "0")

Cell = Any  # what openpyxl gives: str, int, float, bool, datetime, date, time or None


@dataclass(frozen=True)
class WorkbookImport:
    """What a workbook says, read against a store: the change it makes and what was read."""

    delta: changes.Delta
    risk_rows: int  # data rows of the risk register sheet (0: no such sheet, or empty)
    soa_rows: int  # entries of the SoA sheet

    def as_dict(self) -> dict[str, int]:
        return {"riskRegisterRows": self.risk_rows, "soaRows": self.soa_rows}


def import_workbook(store: GraphStore, data: bytes, base: str | None = None) -> WorkbookImport:
    """The change that importing the workbook ``data`` into ``store`` makes. ``base``: the
    namespace of local ids (default: the workbook's About sheet's "base IRI", else the CSV
    reader's default). InvalidInput, listing the problems, when anything cannot be read."""
    sheets = read_sheets(data)
    if RISK_SHEET not in sheets and SOA_SHEET not in sheets:
        raise InvalidInput(f"the workbook has neither a {RISK_SHEET!r} nor a {SOA_SHEET!r} sheet: nothing to import")
    base = base or _about(sheets.get(ABOUT_SHEET, []), "base IRI") or spreadsheet.DEFAULT_BASE
    quads: list[ox.Quad] = []
    replaced: set[tuple[ox.NamedNode, ox.NamedNode]] = set()
    risk_rows = 0
    register = sheets.get(RISK_SHEET, [])
    if any(_filled(row) for row in register[1:]):
        sheet = spreadsheet.read_sheet(_csv(register), "risk-register", base)
        quads += sheet.quads
        replaced |= sheet.replaced
        risk_rows = sheet.rows
    soa_quads, soa_replaced, soa_rows = read_soa(store, sheets.get(SOA_SHEET, []))
    quads += soa_quads
    replaced |= soa_replaced
    return WorkbookImport(changes.upsert(store, keep_stored(store, quads), replaced), risk_rows, soa_rows)


# -- the file ---------------------------------------------------------------------------------


def read_sheets(data: bytes) -> dict[str, list[tuple[Cell, ...]]]:
    """Every sheet's rows of cell values, by sheet title (formulas as their text, never run)."""
    _check_archive(data)
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises KeyError, ValueError, its own errors ... on a damaged file
        raise InvalidInput(f"the file is not an XLSX workbook that can be read: {exc}") from None
    try:
        sheets: dict[str, list[tuple[Cell, ...]]] = {}
        cells = 0
        for ws in workbook.worksheets:
            rows: list[tuple[Cell, ...]] = []
            sheets[ws.title] = rows
            for row in ws.iter_rows(values_only=True):
                cells += len(row)
                if cells > MAX_CELLS:
                    raise InvalidInput(
                        f"the workbook has more than {MAX_CELLS} cells (sheet {ws.title!r} reaches row {len(rows) + 1}, "
                        f"{len(row)} columns wide): refused; delete the rows and columns past the data"
                    )
                rows.append(tuple(row))
        return sheets
    finally:
        workbook.close()


def _check_archive(data: bytes) -> None:
    """Refuse what is not a ZIP, a ZIP bomb, and XML parts declaring a DOCTYPE or entities
    (which expand without bound) before openpyxl's XML parser sees them."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InvalidInput("the file is not an XLSX workbook (not a ZIP archive); save it as Excel Workbook (.xlsx)") from None
    with archive:
        parts = archive.infolist()
        if sum(p.file_size for p in parts) > MAX_UNPACKED:
            raise InvalidInput(f"the workbook unpacks to more than {MAX_UNPACKED // 1_048_576} MiB")
        for part in parts:
            if part.file_size > MAX_RATIO * max(part.compress_size, 1024):
                raise InvalidInput(f"the workbook's part {part.filename!r} unpacks to {part.file_size} bytes: refused")
            if part.filename.endswith((".xml", ".rels", ".vml")):
                try:
                    text = archive.read(part)
                except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
                    raise InvalidInput(f"the workbook's part {part.filename!r} cannot be read: {exc}") from None
                if _DECLARATION.search(text.replace(b"\0", b"")):
                    raise InvalidInput(f"the workbook's part {part.filename!r} declares a DOCTYPE or entities: refused")


def _filled(row: tuple[Cell, ...]) -> bool:
    return any(_text(cell) for cell in row)


def _text(cell: Cell) -> str:
    """A cell as the CSV reader reads text: dates YYYY-MM-DD, numbers in their shortest form."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "yes" if cell else "no"
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == time() else cell.isoformat()
    if isinstance(cell, date | time):
        return cell.isoformat()
    if isinstance(cell, float):
        return str(int(cell)) if cell.is_integer() else repr(cell)
    return str(cell)


def _csv(rows: list[tuple[Cell, ...]]) -> str:
    """The sheet as CSV, row for row, so that the reader's row numbers are the sheet's."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_text(cell) for cell in row])
    return buffer.getvalue()


def _about(rows: list[tuple[Cell, ...]], item: str) -> str | None:
    for row in rows[1:]:
        if len(row) >= 2 and _text(row[0]).strip().lower() == item.lower() and _text(row[1]).strip():
            return _text(row[1]).strip()
    return None


# -- the Statement of Applicability -------------------------------------------------------------


def read_soa(
    store: GraphStore, rows: list[tuple[Cell, ...]]
) -> tuple[list[ox.Quad], set[tuple[ox.NamedNode, ox.NamedNode]], int]:
    """The decisions of the SoA sheet: (quads, replaced pairs, entries read). Each row names
    an entry of the data graph's SoA; a filled decision replaces the entry's value, an empty one
    leaves it alone. The derived columns are not read."""
    if not any(_filled(row) for row in rows[1:]):
        return [], set(), 0
    columns = _soa_header(rows[0])
    statuses = _statuses(store)
    quads: list[ox.Quad] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not _filled(row):
            continue
        cells = {name: _text(row[i]).strip() if i < len(row) else "" for name, i in columns.items()}
        entry = _entry(store, cells["entry"], number, seen, errors)
        if entry is None:
            continue
        for name, prop in SOA_EDITABLE.items():
            text = cells.get(name, "")
            if not text:
                continue
            value = _decision(name, text, statuses, number, errors)
            if value is not None:
                quads.append(ox.Quad(entry, ox.NamedNode(prop), value, DATA))
    if errors:
        raise InvalidInput(_summary(errors))
    replaced = {(q.subject, q.predicate) for q in quads if isinstance(q.subject, ox.NamedNode)}
    return quads, replaced, len(seen)


def _soa_header(header: tuple[Cell, ...]) -> dict[str, int]:
    """Column name -> position; InvalidInput for unknown, repeated or missing columns."""
    known = ("entry", *SOA_EDITABLE, *SOA_DERIVED)
    found: dict[str, int] = {}
    problems = []
    for position, cell in enumerate(header):
        name = re.sub(r"[\s_\-]+", " ", _text(cell).strip().lower())
        if not name:
            continue
        if name not in known:
            problems.append(f"unknown column {_text(cell).strip()!r} (the sheet has: {', '.join(known)})")
        elif name in found:
            problems.append(f"column {name!r} given twice")
        else:
            found[name] = position
    if "entry" not in found:
        problems.append("missing column 'entry' (the IRI of the SoA entry each row decides)")
    if problems:
        raise InvalidInput(f"the header (row 1) of the {SOA_SHEET!r} sheet is not usable:\n" + "\n".join(problems))
    return found


def _entry(store: GraphStore, text: str, number: int, seen: dict[str, int], errors: list[str]) -> ox.NamedNode | None:
    if not text:
        errors.append(f"row {number}, column 'entry': empty; every row needs the IRI of its SoA entry")
        return None
    if not is_absolute_iri(text) or not store.contains(
        ox.Quad(ox.NamedNode(text), TYPE, ox.NamedNode(AIMS + "ApplicabilityEntry"), DATA)
    ):
        errors.append(f"row {number}, column 'entry': {text!r} is no entry of the Statement of Applicability in the record")
        return None
    if text in seen:
        errors.append(f"row {number}, column 'entry': {text!r} is decided in row {seen[text]} already")
        return None
    seen[text] = number
    return ox.NamedNode(text)


def _decision(name: str, text: str, statuses: dict[str, str], number: int, errors: list[str]) -> ox.Literal | ox.NamedNode | None:
    if name == "applicable":
        answer = text.lower()
        if answer in YES or answer in NO:
            return ox.Literal("true" if answer in YES else "false", datatype=BOOLEAN)
        errors.append(f"row {number}, column 'applicable': {text!r} is not yes or no")
        return None
    if name == "status":
        iri = statuses.get(_key(text))
        if iri is None:
            errors.append(f"row {number}, column 'status': {text!r} is not an implementation status ({statuses['']})")
            return None
        return ox.NamedNode(iri)
    return ox.Literal(text)


def _statuses(store: GraphStore) -> dict[str, str]:
    """The implementation statuses by every spelling: label, local name, IRI."""
    found: dict[str, str] = {}
    labels: set[str] = set()
    cls = ox.NamedNode(AIMS + "ImplementationStatus")
    for q in store.quads(None, TYPE, cls, None):
        concept = q.subject
        if not isinstance(concept, ox.NamedNode):
            continue
        found[concept.value] = found[_key(concept.value.removeprefix(AIMS))] = concept.value
        for label in store.quads(concept, ox.NamedNode(SKOS + "prefLabel"), None, None):
            found[_key(term_text(label.object))] = concept.value
            labels.add(term_text(label.object))
    found[""] = "use one of: " + ", ".join(sorted(labels))  # the hint of the error message; "" is no spelling
    return found


def _key(text: str) -> str:
    return text if text.startswith(("http://", "https://")) else re.sub(r"[^a-z0-9]", "", text.lower())


def _summary(errors: list[str]) -> str:
    shown = errors[: spreadsheet.MAX_ERRORS]
    more = [f"... and {len(errors) - len(shown)} more"] if len(errors) > len(shown) else []
    return "\n".join([f"the {SOA_SHEET!r} sheet has {len(errors)} error{'s' if len(errors) > 1 else ''}:", *shown, *more])


# -- values that say nothing new ------------------------------------------------------------


def same_value(read: ox.Literal, stored: object) -> bool:
    """Whether a literal read from a cell stands for the stored term: equal, the same text
    where the stored one has a language tag (a cell has none), or the same number."""
    if not isinstance(stored, ox.Literal):
        return False
    if read == stored:
        return True
    if read.datatype == STRING and stored.language is not None:
        return read.value == stored.value
    if read.datatype == stored.datatype and read.datatype in NUMERIC:
        try:
            return Decimal(read.value) == Decimal(stored.value)
        except InvalidOperation:
            return False
    return False


def keep_stored(store: GraphStore, quads: list[ox.Quad]) -> list[ox.Quad]:
    """``quads`` with each literal that :func:`same_value` matches to a stored value of its
    subject and property (in the data graph) replaced by that stored literal."""
    out = []
    for quad in quads:
        if isinstance(quad.object, ox.Literal) and not store.contains(quad):
            stored = [
                q.object for q in store.quads(quad.subject, quad.predicate, None, DATA) if same_value(quad.object, q.object)
            ]
            if stored:
                quad = ox.Quad(quad.subject, quad.predicate, min(stored, key=str), DATA)
        out.append(quad)
    return out
