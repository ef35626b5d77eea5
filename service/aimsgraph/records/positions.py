"""Where things are written: the file, line and column at which each node of a record kept as
files is first described, so that a finding can point at the line that needs fixing.

pyoxigraph's and rdflib's parsers give no positions, so this module reads the text a second
time, after the parser has accepted it (a file that does not parse never gets here):

- Turtle, TriG, N-Triples and N-Quads: one regular-expression tokenizer over the whole text
  (comments, short and long strings, IRIs, prefixed names, blank nodes, triple terms) and a
  small state machine that knows where a statement starts (after ``.``, at a graph block's
  ``{`` or ``}``), so ``;`` and ``,`` continuations, ``[ ]`` property lists, collections and
  triple-quoted literals spanning lines never pass for subjects. It keeps, for every IRI, the first
  statement that has it as subject ("described") and its first occurrence anywhere
  ("mentioned"). Prefixes (``@prefix`` and ``PREFIX``) and the base (``@base``, ``BASE``, else
  the file's own URI, as the loader uses) are followed, so keys are full IRIs.
- CSV sheets: a scanner that gives every cell's line and column in the file (quoted cells may
  span lines, so a spreadsheet row is not a file line) and its spreadsheet reference (``B3``).
  What a cell names is left to the caller (``records.files``), which knows the sheet kinds.
- JSON-LD: the ``"@id"`` values that name IRIs in full (a node object, or a bare reference).

Blank nodes get no position here: the parser renames them apart, so they are placed where the
node that refers to them is (``records.files``).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from urllib.parse import urljoin


@dataclass(frozen=True)
class Position:
    """A place in a file: ``line`` and ``column`` start at 1 (columns count characters);
    ``line`` is None when only the file is known (a node of a JSON-LD file under a compact IRI). ``cell`` is the spreadsheet
    reference of a CSV cell (``B3``)."""

    file: str
    line: int | None = None
    column: int | None = None
    cell: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}:{self.column or 1}"
        return f"{where} ({self.cell})" if self.cell else where

    def as_dict(self) -> dict[str, object]:
        found: dict[str, object] = {"file": self.file, "line": self.line, "column": self.column}
        if self.cell:
            found["cell"] = self.cell
        return found


#: (line, column) of a token, both from 1.
Place = tuple[int, int]

_NAME_CHARS = r"""[^\s;,\[\](){}<>"'#^\\.@]|\\.|%[0-9A-Fa-f]{2}"""
_TOKEN = re.compile(
    rf"""
    (?P<space>\s+)
  | (?P<comment>\#[^\r\n]*)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''
      |"(?:[^"\\\r\n]|\\.)*"|'(?:[^'\\\r\n]|\\.)*')
  | (?P<open><<\(?)
  | (?P<close>\)?>>)
  | (?P<iri><(?:[^\x00-\x20<>"{{}}|^`\\]|\\u[0-9A-Fa-f]{{4}}|\\U[0-9A-Fa-f]{{8}})*>)
  | (?P<directive>@(?:prefix|base)(?![A-Za-z0-9-]))
  | (?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
  | (?P<number>[+-]?(?:[0-9]*\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?(?![A-Za-z0-9_:]))
  | (?P<name>(?:{_NAME_CHARS})(?:{_NAME_CHARS}|\.(?=(?:{_NAME_CHARS})))*)
  | (?P<punct>\^\^|[.;,\[\](){{}}])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_UCHAR = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_LOCAL_ESCAPE = re.compile(r"\\(.)")


@dataclass
class TextPlaces:
    """What :func:`turtle_places` found: per IRI, where it is first a subject and where it first occurs."""

    described: dict[str, Place]
    mentioned: dict[str, Place]


class _Lines:
    """Offsets to (line, column), both from 1."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]

    def place(self, offset: int) -> Place:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


def turtle_places(text: str, base: str) -> TextPlaces:
    """The places of the IRIs in a Turtle, TriG, N-Triples or N-Quads document that parsed.
    Relative IRIs are resolved against ``base`` (and ``@base``), as the parser did."""
    tokens = [(m.lastgroup, m.group(), m.start()) for m in _TOKEN.finditer(text) if m.lastgroup not in ("space", "comment")]
    lines = _Lines(text)
    places = TextPlaces({}, {})
    prefixes: dict[str, str] = {}
    depth = 0  # inside [ ], ( ) or << >>
    at_start = True  # the next term starts a statement (or names a graph)
    index = 0
    while index < len(tokens):
        kind, value, offset = tokens[index]
        index += 1
        if at_start and depth == 0 and _is_directive(kind, value):
            index, base = _directive(tokens, index, value, prefixes, base)
            continue
        if kind in ("iri", "name"):
            iri = _iri(kind, value, prefixes, base)
            if iri is not None:
                place = lines.place(offset)
                places.mentioned.setdefault(iri, place)
                following = tokens[index][1] if index < len(tokens) else ""
                if at_start and depth == 0 and following != "{":  # before "{" it names a graph
                    places.described.setdefault(iri, place)
            elif at_start and depth == 0 and value.upper() == "GRAPH":
                continue  # TriG: GRAPH <g> { ... }
        if kind == "open" or value in ("[", "("):
            depth += 1
            at_start = False
        elif kind == "close" or value in ("]", ")"):
            depth = max(depth - 1, 0)
        elif depth == 0 and value in (".", "{", "}"):
            at_start = True  # a statement ends, or a graph block opens or closes
        else:
            at_start = False  # a term or a continuation: the statement has begun
    return places


def _is_directive(kind: str | None, value: str) -> bool:
    return kind == "directive" or (kind == "name" and value.upper() in ("PREFIX", "BASE"))


def _directive(tokens: list, index: int, value: str, prefixes: dict[str, str], base: str) -> tuple[int, str]:
    """Read ``@prefix p: <iri>``, ``PREFIX``, ``@base <iri>`` or ``BASE``; returns where reading
    goes on and the base now in force."""
    if value.lower().lstrip("@") == "prefix":
        if index + 1 < len(tokens):
            name, iri = tokens[index][1], tokens[index + 1][1]
            prefixes[name[:-1] if name.endswith(":") else name] = _resolve(_unescape_iri(iri[1:-1]), base)
        return index + 2, base
    if index < len(tokens) and tokens[index][0] == "iri":
        return index + 1, _resolve(_unescape_iri(tokens[index][1][1:-1]), base)
    return index + 1, base


def _iri(kind: str | None, value: str, prefixes: dict[str, str], base: str) -> str | None:
    """The full IRI of an IRI token or a prefixed name; None for keywords and unknown prefixes."""
    if kind == "iri":
        return _resolve(_unescape_iri(value[1:-1]), base)
    prefix, colon, local = value.partition(":")
    if not colon or prefix.startswith("_") or prefix not in prefixes:
        return None
    return prefixes[prefix] + _LOCAL_ESCAPE.sub(r"\1", local)


def _unescape_iri(text: str) -> str:
    return _UCHAR.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text) if "\\" in text else text


def _resolve(iri: str, base: str) -> str:
    return iri if _SCHEME.match(iri) else urljoin(base, iri)


_JSON_ID = re.compile(r'"@id"\s*:\s*"((?:[^"\\]|\\.)*)"')


def json_ld_places(text: str, base: str) -> TextPlaces:
    """The places of the IRIs written in full as ``"@id"`` values in a JSON-LD text: described
    where the object holding the ``"@id"`` has other keys, mentioned where it is a bare
    reference (``{"@id": ...}``). A compact IRI, expanded through a context, is not found."""
    lines = _Lines(text)
    places = TextPlaces({}, {})
    for match in _JSON_ID.finditer(text):
        if match.group(1).startswith("_:"):
            continue
        iri, place = _resolve(match.group(1), base), lines.place(match.start())
        places.mentioned.setdefault(iri, place)
        if not (_neighbour(text, match.start(), -1) == "{" and _neighbour(text, match.end(), 1) == "}"):
            places.described.setdefault(iri, place)
    return places


def _neighbour(text: str, index: int, step: int) -> str:
    """The first character that is not white space from ``index`` on (``step`` 1) or before it (-1)."""
    index = index if step > 0 else index - 1
    while 0 <= index < len(text) and text[index].isspace():
        index += step
    return text[index] if 0 <= index < len(text) else ""


# -- CSV ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One cell of a CSV file: its text, its place in the file, and its spreadsheet reference."""

    text: str
    line: int
    column: int
    reference: str  # B3: column letters, then the row number (the header is row 1)


def csv_cells(text: str, delimiter: str) -> list[list[Cell]]:
    """The rows of a CSV text, each cell with where it starts. Quoted cells may hold delimiters,
    doubled quotes and line breaks; this follows the same rules as Python's csv module, which
    the importer reads the sheet with."""
    lines = _Lines(text)
    rows: list[list[Cell]] = []
    row: list[Cell] = []
    index, size = 0, len(text)
    while index <= size:
        start = index
        value, index = _field(text, index, delimiter)
        line, column = lines.place(start)
        row.append(Cell(value, line, column, f"{_letters(len(row))}{len(rows) + 1}"))
        if index < size and text[index] == delimiter:
            index += 1
            continue
        rows.append(row)
        row = []
        if index >= size:
            break
        index += 2 if text.startswith("\r\n", index) else 1  # the line break ending the row
        if index >= size:
            break
    return rows


def _field(text: str, index: int, delimiter: str) -> tuple[str, int]:
    """One field from ``index``: its value and where it ends (at a delimiter, a line break or the end)."""
    if index < len(text) and text[index] == '"':
        parts, index = [], index + 1
        while index < len(text):
            end = text.find('"', index)
            if end < 0:
                parts.append(text[index:])
                index = len(text)
                break
            parts.append(text[index:end])
            if text.startswith('""', end):
                parts.append('"')
                index = end + 2
                continue
            index = end + 1
            break
        rest = re.compile(rf"[^{re.escape(delimiter)}\r\n]*").match(text, index)
        assert rest is not None  # the pattern matches the empty string
        return "".join(parts) + rest.group(), rest.end()
    found = re.compile(rf"[^{re.escape(delimiter)}\r\n]*").match(text, index)
    assert found is not None
    return found.group(), found.end()


def _letters(index: int) -> str:
    """Spreadsheet column letters of a 0-based column: A, B, ..., Z, AA, ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
