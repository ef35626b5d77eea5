"""The named-query registry: ``queries/*.rq`` files and their ``#+`` headers (grlc style).

A header line is ``#+ key: value``; ``summary`` is required. Parameters follow grlc's naming:
a variable ``?_name_iri`` is the required IRI parameter ``name``, bound with pyoxigraph
substitutions, never spliced into the query text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from aimsgraph import resources
from aimsgraph.errors import InvalidInput

_HEADER = re.compile(r"^#\+\s*([\w-]+)\s*:\s*(.*)$")
_PARAMETER = re.compile(r"\?_([A-Za-z][A-Za-z0-9]*)_iri\b")


@dataclass(frozen=True)
class NamedQuery:
    name: str
    text: str
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        return self.metadata["summary"]

    @property
    def parameters(self) -> list[str]:
        """IRI parameter names, in order of first use."""
        return list(dict.fromkeys(_PARAMETER.findall(self.text)))

    def substitutions(self, values: dict[str, str]) -> dict[ox.Variable, ox.NamedNode]:
        """Bindings for pyoxigraph; InvalidInput names any missing parameter."""
        missing = [p for p in self.parameters if p not in values]
        if missing:
            raise InvalidInput(f"query '{self.name}' needs the parameter(s): {', '.join(missing)}")
        return {ox.Variable(f"_{p}_iri"): ox.NamedNode(values[p]) for p in self.parameters}


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
    if "summary" not in metadata:
        raise InvalidInput(f"{path.name}: the header has no '#+ summary:' line")
    return NamedQuery(path.stem, text, metadata)


def load_all() -> dict[str, NamedQuery]:
    """Every named query shipped in queries/, by name."""
    return {q.name: q for q in map(parse, sorted(resources.path("queries").glob("*.rq")))}
