"""A record kept as files: Turtle, N-Triples, N-Quads, TriG, JSON-LD and CSV sheets read into a
temporary in-memory store, reasoned over and validated as the service does, with the place
in the files where each node is first described.

:func:`open_files` is stateless validation (``aimsgraph validate FILE|DIR...``) and the loader
of each side of ``aimsgraph diff-record``. The store it builds is ``GraphStore(None)`` with the
shipped reference graphs (ontology, catalogue, frameworks and crosswalks, vocabularies; no
demo, no data directory); the files' triples go into the data graph, and the inferred and
applicability graphs are refreshed as at the service's first start
(``records.refresh.Refresher.catch_up``: ``refresh_inferences``, then
``refresh_applicability``), so the findings of ``validation.validate_store`` are those the
same files give once loaded into a store (``aimsgraph load``, then ``aimsgraph validate``).

CSV sheets are the two kinds of ``interop/importers/spreadsheet.py`` (a risk register, a
systems inventory), read as ``aimsgraph import csv`` reads them. The kind is recognised from
the header row: the kind whose columns the header names (required columns present, no
unknown column); a header that fits neither is refused with both reasons.

Positions (``records.positions``): an IRI is placed where the first statement (or sheet row)
describing it is, else where it is first mentioned; a blank node, and a node a sheet makes
from a cell (a document, an assessment), where the node referring to it is described. In
JSON-LD, a node is placed at the ``"@id"`` naming it in full, else at its file.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyoxigraph as ox

from aimsgraph import clock, limits
from aimsgraph.errors import InvalidInput
from aimsgraph.interop.importers import spreadsheet
from aimsgraph.namespaces import Graphs
from aimsgraph.records.positions import Cell, Position, csv_cells, json_ld_places, turtle_places
from aimsgraph.semantics.applicability import refresh_applicability
from aimsgraph.semantics.reasoning import refresh_inferences
from aimsgraph.semantics.validation import Finding, validate_store
from aimsgraph.store import GraphStore, named_graph, read_quads

#: The RDF files a record may be kept in, by suffix.
RDF_SUFFIXES = {
    ".ttl": ox.RdfFormat.TURTLE,
    ".nt": ox.RdfFormat.N_TRIPLES,
    ".nq": ox.RdfFormat.N_QUADS,
    ".trig": ox.RdfFormat.TRIG,
    ".jsonld": ox.RdfFormat.JSON_LD,
}
#: Formats read a second time by the Turtle tokenizer for positions (JSON-LD: its "@id" values).
TEXT_FORMATS = (ox.RdfFormat.TURTLE, ox.RdfFormat.N_TRIPLES, ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG)
SHEET_SUFFIX = ".csv"
RECORD_SUFFIXES = (*RDF_SUFFIXES, SHEET_SUFFIX)


@dataclass
class _Read:
    """One file read: its quads, and per IRI where it is described and mentioned."""

    path: Path
    quads: list[ox.Quad]
    described: dict[str, Position] = field(default_factory=dict)
    mentioned: dict[str, Position] = field(default_factory=dict)


@dataclass
class FileRecord:
    """The record the files hold, in a store of its own, with its findings and their places."""

    store: GraphStore
    as_of: date
    files: list[Path]
    quads: list[ox.Quad]  # the data-graph quads the files gave
    findings: list[Finding]
    positions: dict[str, Position | None]  # each finding's focus -> where it is first described
    _reads: list[_Read] = field(default_factory=list, repr=False)

    def position(self, node: str) -> Position | None:
        """Where a node (an IRI, or ``_:id`` as a finding's focus names a blank node) is first
        described in the files; None when the files never name it."""
        if node not in self.positions:
            self.positions[node] = _locate(node, self._reads)
        return self.positions[node]


def open_files(paths: Sequence[Path], as_of: date | None = None, base: str | None = None) -> FileRecord:
    """Read the files (and the record files under the directories) in ``paths``, reason and
    validate as of ``as_of`` (default: today, ``clock.as_of``). ``base`` is the namespace of
    local ids in CSV sheets (default ``spreadsheet.DEFAULT_BASE``). InvalidInput, one line
    naming the file (and the line), when a file cannot be read."""
    day = clock.as_of(as_of)
    files = record_files(paths)
    reads = [_read(path, base or spreadsheet.DEFAULT_BASE) for path in files]
    quads = [q for read in reads for q in read.quads]
    store = GraphStore(None)
    store.initialise(demo=False)
    store.extend(quads)
    with store.write_lock():  # as the service's first start (Refresher.catch_up) does
        refresh_inferences(store)
        refresh_applicability(store)
    findings = validate_store(store, day)
    record = FileRecord(store, day, files, quads, findings, {}, reads)
    for finding in findings:
        record.position(finding.focus)
    return record


def record_files(paths: Sequence[Path]) -> list[Path]:
    """The files named, and the record files (``RECORD_SUFFIXES``) under the directories named,
    sorted, hidden files and folders skipped. A named file must have a known suffix. Each must
    be a regular file (a FIFO or a device would block or never end), and a file found in a
    directory must stay in it: a symbolic link out of it (to ``/proc/self/environ``, say, which
    a pull request can add) is refused, not read. So is a name in the current directory that a
    link leads out of it (a pull request can turn the record's folder into such a link)."""
    if not paths:
        raise InvalidInput("name at least one file or directory to validate")
    found: list[Path] = []
    here = Path.cwd()
    for path in paths:
        if Path(os.path.abspath(path)).is_relative_to(here) and not path.resolve().is_relative_to(here.resolve()):
            raise InvalidInput(f"{path}: a link out of the current directory (to {path.resolve()}): refused")
        if path.is_dir():
            inside = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in RECORD_SUFFIXES and not _hidden(p.relative_to(path)) and not p.is_dir()
            )
            if not inside:
                raise InvalidInput(f"{path}: no record files in it ({', '.join(RECORD_SUFFIXES)})")
            found += [_regular(p, path) for p in inside]
        elif not path.exists():
            raise InvalidInput(f"{path}: no such file or directory")
        elif path.suffix.lower() not in RECORD_SUFFIXES:
            raise InvalidInput(f"{path}: not a record file (use one of {', '.join(RECORD_SUFFIXES)})")
        else:
            found.append(_regular(path, None))
    return list(dict.fromkeys(found))


def _regular(path: Path, folder: Path | None) -> Path:
    """``path`` if it is a regular file (within ``folder``, links followed); InvalidInput otherwise."""
    if folder is not None and not path.resolve().is_relative_to(folder.resolve()):
        raise InvalidInput(f"{path}: a link out of {folder} (to {path.resolve()}): refused, a record links within itself")
    if not path.is_file():
        raise InvalidInput(f"{path}: not a regular file (a FIFO, a device or a broken link): refused")
    return path


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def display_path(path: Path) -> str:
    """How findings name a file: relative to the current directory when under it (as a
    repository's tools show paths), else absolute; always with ``/``."""
    absolute = path.resolve()
    try:
        return absolute.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return absolute.as_posix()


def _read(path: Path, base: str) -> _Read:
    if path.suffix.lower() == SHEET_SUFFIX:
        return _read_sheet(path, base)
    fmt = RDF_SUFFIXES[path.suffix.lower()]
    if fmt == ox.RdfFormat.JSON_LD:  # pyoxigraph's JSON-LD parser recurses: 20,000 levels crashed the process
        limits.check_json(path.read_bytes(), str(path))
    try:
        quads = read_quads(path, fmt, named_graph(Graphs.DATA))[1]  # InvalidInput: "<path>: ... line 3 column 19 ..."
    except InvalidInput as error:
        if "LoadDocumentCallback" not in error.message:  # pyoxigraph's words for "I fetch no context"
            raise
        raise InvalidInput(f"{path}: a remote JSON-LD @context is never fetched; write the context into the file") from None
    read = _Read(path, quads)
    shown, text, base = display_path(path), path.read_text(encoding="utf-8"), path.resolve().as_uri()
    if fmt in TEXT_FORMATS:
        places = turtle_places(text, base)
        read.described = {iri: Position(shown, *place) for iri, place in places.described.items()}
        read.mentioned = {iri: Position(shown, *place) for iri, place in places.mentioned.items()}
    else:  # JSON-LD: where an "@id" names it
        places = json_ld_places(text, base)
        read.described = {iri: Position(shown, *place) for iri, place in places.described.items()}
        read.mentioned = {iri: Position(shown, *place) for iri, place in places.mentioned.items()}
    return read


# -- CSV sheets --------------------------------------------------------------------------------


def _read_sheet(path: Path, base: str) -> _Read:
    """A CSV sheet as ``aimsgraph import csv`` reads it, its kind recognised from the header,
    with the cell that names each record."""
    try:
        text = path.read_bytes().decode("utf-8-sig").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"{path}: not UTF-8 text (byte {error.start}); save it as CSV UTF-8") from None
    if not text.strip():
        raise InvalidInput(f"{path}: the sheet is empty")
    # the importer's rule: the commonest of , ; and tab in the header line, quoted names aside
    first_line = re.sub(r'"[^"]*"', "", text.splitlines()[0])
    rows = csv_cells(text, max((",", ";", "\t"), key=first_line.count))
    header = [cell.text for cell in rows[0]]
    kind = sheet_kind(path, header)
    try:
        sheet = spreadsheet.read_sheet(text, kind, base)
    except InvalidInput as error:
        first, *rest = error.message.splitlines()
        raise InvalidInput(f"{path}: {first} {'; '.join(rest)}".rstrip()) from None
    read = _Read(path, sheet.quads)
    columns = spreadsheet._header(header, spreadsheet.COLUMNS[kind], kind)
    shown = display_path(path)
    for row in rows[1:]:
        _place_row(read, row, columns, kind, base, shown)
    return read


def sheet_kind(path: Path, header: list[str]) -> str:
    """The kind of sheet (risk-register or systems) whose columns the header row names."""
    problems = {}
    for kind in spreadsheet.KINDS:
        try:
            spreadsheet._header(header, spreadsheet.COLUMNS[kind], kind)
        except InvalidInput as error:
            problems[kind] = error.message.splitlines()[1:]
            continue
        return kind
    reasons = "; ".join(f"as a {kind} sheet: {', '.join(lines)}" for kind, lines in problems.items())
    raise InvalidInput(
        f"{path}: row 1 is not the header of a risk register or systems sheet (data/templates/README.md): {reasons}"
    )


def _place_row(read: _Read, row: list[Cell], columns: dict, kind: str, base: str, shown: str) -> None:
    """Where the records of one row are named, and what its cells mention."""
    if not any(cell.text.strip() for cell in row):
        return
    values: dict[str, list[spreadsheet.Value]] = {}
    cells: dict[str, Cell] = {}
    for index, column in columns.items():
        if index >= len(row) or not row[index].text.strip():
            continue
        text = row[index].text.strip()
        parts = [p.strip() for p in text.split("|") if p.strip()] if column.multi else [text]
        try:
            values[column.name] = [v for part in parts for v in column.parse(part, base)]
        except spreadsheet.CellError:  # the sheet was read, so this does not happen
            continue
        cells[column.name] = row[index]
        for value in values[column.name]:
            if isinstance(value.term, ox.NamedNode):
                read.mentioned.setdefault(value.term.value, _at(shown, row[index]))
    # the importer's own rule for which records a row names (an evidence item by its URL)
    subjects = spreadsheet._Sheet(kind, base)._subjects(values)
    for record, subject in subjects.items():
        naming = spreadsheet.RECORDS[kind][record][1] or "evidence url"
        read.described.setdefault(subject.term.value, _at(shown, cells[naming]))
    for name, found in values.items():
        column = spreadsheet._column(kind, name)
        if column.build is None or column.record not in subjects:
            continue
        owner = spreadsheet.Record(column.record, subjects[column.record], 0)
        for value in found:  # a document or an assessment the cell makes: placed at the cell
            for statement in column.build(owner, value, base):
                read.described.setdefault(statement.subject.value, _at(shown, cells[name]))


def _at(shown: str, cell: Cell) -> Position:
    return Position(shown, cell.line, cell.column, cell.reference)


# -- placing a node ---------------------------------------------------------------------------


def _locate(node: str, reads: list[_Read]) -> Position | None:
    """An IRI where it is first described, else first mentioned; a blank node (or a node with
    no place of its own) where the nearest described node referring to it is; else the file of
    its first triple."""
    for places in ("described", "mentioned"):
        for read in reads:
            if node in getattr(read, places):
                return getattr(read, places)[node]
    for read in reads:
        term = _term(node)
        if term is not None and any(True for q in read.quads if q.subject == term or q.object == term):
            return _referrer(term, read) or Position(display_path(read.path))
    return None


def _term(node: str) -> ox.NamedNode | ox.BlankNode | None:
    if node.startswith("_:"):
        return ox.BlankNode(node[2:])
    if node.startswith("<<("):
        return None
    return ox.NamedNode(node)


def _referrer(term: ox.NamedNode | ox.BlankNode, read: _Read) -> Position | None:
    """The place of the nearest described node with a path of links to ``term`` (breadth first)."""
    pointing: dict[object, list[ox.NamedNode | ox.BlankNode | ox.Triple]] = {}
    for quad in read.quads:
        pointing.setdefault(quad.object, []).append(quad.subject)
    seen: set[object] = {term}
    queue: deque[object] = deque([term])
    while queue:
        current = queue.popleft()
        for subject in pointing.get(current, ()):
            if subject in seen:
                continue
            seen.add(subject)
            if isinstance(subject, ox.NamedNode) and subject.value in read.described:
                return read.described[subject.value]
            queue.append(subject)
    return None
