"""The named-query registry: ``queries/*.rq`` files and their ``#+`` headers (grlc style).

A header line is ``#+ key: value``; ``summary`` and ``description`` are required. Parameters
follow grlc's naming: ``?_name_iri`` is a required IRI parameter ``name``, ``?__name_iri`` an
optional one; other suffixes give literal types (``_xsd_date``, ``_integer``, ``_number``,
``_literal``). Values are bound with pyoxigraph substitutions, never spliced into the text.

**Paging.** Every named query can be read a page at a time: ``page`` (1-based) and
``pageSize`` are reserved request parameters (no query may declare parameters of those names).
A query whose header has ``#+ pagination: N`` returns pages of N rows by default (GET
/api/queries/<name> without ``page`` gives page 1); the others are whole unless a page is asked
for. A page is the query's text with ``LIMIT pageSize+1 OFFSET (page-1)*pageSize`` appended
(:meth:`NamedQuery.paged_text`): the one row more tells whether a next page exists without a
second, counting query, and the API announces it with a ``Link: <...>; rel="next"`` header.

Why OFFSET and not keyset paging: the queries sort on labels, ranks and dates, not on one
unique key, and a keyset condition would have to be spliced into each query's own pattern;
OFFSET works on any query unchanged. Its price is that the engine evaluates and sorts the
whole result for every page (it only skips serialising the other rows), so a page bounds the
size of an answer, not the time to compute it: a query that is slow in full needs a bounding
parameter too (a node, an asset, a system, a date). Pages are stable, with no row missed or
repeated across them while the record does not change, because the ORDER BY of every named
query with a ``pagination`` header ends with the variables that identify a row (a total order of
its rows); ``tests/test_queries.py`` checks that walking the pages gives every row exactly once.
A write between two requests can shift rows across a page boundary, as with any OFFSET paging.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from aimsgraph import clock, resources
from aimsgraph.errors import InvalidInput
from aimsgraph.namespaces import XSD, is_absolute_iri

_HEADER = re.compile(r"^#\+\s*([\w-]+)\s*:\s*(.*)$")
_PARAMETER = re.compile(r"\?(__?)([A-Za-z][A-Za-z0-9]*)(_iri|_xsd_[A-Za-z]+|_integer|_number|_literal)?\b")
#: The parameter that names the evaluation date of a time-dependent query.
EVALUATION_DATE = "asOf"
#: Reserved request parameters of paging: the page number (from 1) and the rows per page.
PAGE, PAGE_SIZE = "page", "pageSize"
#: The page size when a page is asked for and neither the request nor the query's header gives one.
DEFAULT_PAGE_SIZE = 100
_TAIL = re.compile(r"\b(LIMIT|OFFSET)\s+\d+\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Page:
    """One page of a query's rows: ``number`` from 1, ``size`` rows."""

    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    def clause(self) -> str:
        """The solution modifiers that select this page, and one row more (is there a next page?)."""
        return f"\nLIMIT {self.size + 1}\nOFFSET {self.offset}\n"


@dataclass(frozen=True)
class Parameter:
    """A query parameter declared by a grlc-style variable name."""

    name: str
    variable: str  # without the question mark
    kind: str  # "iri", "literal" or an XSD datatype local name
    required: bool

    def term(self, value: str) -> ox.NamedNode | ox.Literal:
        """The RDF term for a value given as text; InvalidInput if it does not fit."""
        if self.kind == "iri":
            if not is_absolute_iri(value):
                raise InvalidInput(f"parameter '{self.name}' must be an absolute IRI, got {value!r}")
            return ox.NamedNode(value)
        if self.kind == "literal":
            return ox.Literal(value)
        return ox.Literal(value, datatype=ox.NamedNode(XSD + self.kind))


@dataclass(frozen=True)
class NamedQuery:
    name: str
    text: str
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        return self.metadata["summary"]

    @property
    def page_size(self) -> int | None:
        """The default page size (``#+ pagination: N``), or None: the query is whole by default."""
        value = self.metadata.get("pagination")
        return int(value) if value else None

    def page(self, values: dict[str, str], max_size: int | None = None) -> tuple[Page | None, dict[str, str]]:
        """Take the paging parameters ``page`` and ``pageSize`` out of request ``values``: the
        page to answer (None: the whole result) and the remaining values. A query with a
        ``pagination`` header is paged even when neither is given. InvalidInput for a page or
        size that is not a positive integer, or a size above ``max_size``."""
        values = dict(values)
        number, size = values.pop(PAGE, None), values.pop(PAGE_SIZE, None)
        if number is None and size is None and self.page_size is None:
            return None, values
        page = Page(_positive(PAGE, number, 1), _positive(PAGE_SIZE, size, self.page_size or DEFAULT_PAGE_SIZE))
        if max_size is not None and page.size > max_size:
            raise InvalidInput(f"pageSize must be at most {max_size} (AIMSGRAPH_RESULT_LIMIT), not {page.size}")
        return page, values

    def paged_text(self, page: Page | None) -> str:
        """The query text for one page (the whole text for None); see the module docstring."""
        return self.text if page is None else self.text.rstrip() + page.clause()

    @property
    def parameters(self) -> list[Parameter]:
        """The parameters, in order of first use."""
        found: dict[str, Parameter] = {}
        for underscores, name, suffix in _PARAMETER.findall(self.text):
            kind = {"": "literal", "_iri": "iri", "_integer": "integer", "_number": "decimal", "_literal": "literal"}.get(
                suffix, suffix.removeprefix("_xsd_")
            )
            found.setdefault(name, Parameter(name, f"{underscores}{name}{suffix}", kind, underscores == "_"))
        return list(found.values())

    def substitutions(self, values: dict[str, str]) -> dict[ox.Variable, ox.NamedNode | ox.Literal]:
        """Bindings for pyoxigraph; InvalidInput names a missing or unknown parameter. The
        evaluation date ``asOf`` defaults to today: the queries never read the clock."""
        parameters = {p.name: p for p in self.parameters}
        if EVALUATION_DATE in parameters:
            values = {**values, EVALUATION_DATE: clock.as_of_argument(values.get(EVALUATION_DATE)).isoformat()}
        missing = [name for name, p in parameters.items() if p.required and name not in values]
        if missing:
            raise InvalidInput(f"query '{self.name}' needs the parameter(s): {', '.join(missing)}")
        unknown = sorted(set(values) - set(parameters))
        if unknown:
            raise InvalidInput(f"query '{self.name}' has no parameter(s): {', '.join(unknown)}")
        return {ox.Variable(parameters[n].variable): parameters[n].term(v) for n, v in values.items()}

    def bindings(self, values: dict[str, str]) -> tuple[tuple[str, str, str], ...]:
        """The substitutions as picklable (variable, "iri" or datatype IRI, value) triples."""
        return tuple(
            (var.value, "iri" if isinstance(term, ox.NamedNode) else term.datatype.value, term.value)
            for var, term in self.substitutions(values).items()
        )


def parse(path: Path) -> NamedQuery:
    """Read one ``.rq`` file; InvalidInput if its header has no summary."""
    text = path.read_text(encoding="utf-8")
    metadata = {}
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match:
            metadata[match.group(1)] = match.group(2).strip()
        elif line.strip() and not line.startswith("#"):
            break
    for key in ("summary", "description"):
        if key not in metadata:
            raise InvalidInput(f"{path.name}: the header has no '#+ {key}:' line")
    query = NamedQuery(path.stem, text, metadata)
    if "pagination" in metadata:
        _positive("pagination", metadata["pagination"], 1)
    if _TAIL.search(text.rstrip()):
        raise InvalidInput(f"{path.name}: a named query must not end with LIMIT or OFFSET (paging adds them)")
    reserved = {PAGE, PAGE_SIZE} & {p.name for p in query.parameters}
    if reserved:
        raise InvalidInput(f"{path.name}: {', '.join(sorted(reserved))} is reserved for paging")
    return query


def _positive(name: str, value: str | None, default: int) -> int:
    if value is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", value) or int(value) < 1:
        raise InvalidInput(f"{name} must be a positive integer, not {value!r}")
    return int(value)


def load_all() -> dict[str, NamedQuery]:
    """Every named query shipped in queries/, by name."""
    return {q.name: q for q in map(parse, sorted(resources.path("queries").glob("*.rq")))}
