"""The named-query registry: ``queries/*.rq`` files and their ``#+`` headers (grlc style).

A header line is ``#+ key: value``; ``summary`` and ``description`` are required. Parameters
follow grlc's naming: ``?_name_iri`` is a required IRI parameter ``name``, ``?__name_iri`` an
optional one; other suffixes give literal types (``_xsd_date``, ``_integer``, ``_number``,
``_literal``). Values are bound with pyoxigraph substitutions, never spliced into the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from aimsgraph import clock, resources
from aimsgraph.errors import InvalidInput
from aimsgraph.namespaces import is_absolute_iri

_HEADER = re.compile(r"^#\+\s*([\w-]+)\s*:\s*(.*)$")
_PARAMETER = re.compile(r"\?(__?)([A-Za-z][A-Za-z0-9]*)(_iri|_xsd_[A-Za-z]+|_integer|_number|_literal)?\b")
XSD = "http://www.w3.org/2001/XMLSchema#"
#: The parameter that names the evaluation date of a time-dependent query.
EVALUATION_DATE = "asOf"


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
    return NamedQuery(path.stem, text, metadata)


def load_all() -> dict[str, NamedQuery]:
    """Every named query shipped in queries/, by name."""
    return {q.name: q for q in map(parse, sorted(resources.path("queries").glob("*.rq")))}
